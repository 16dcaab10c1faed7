"""The house rules hold: the import contracts, the optional sandbox, the CLI's one door."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from importlib.metadata import requires
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SANDBOX_STACK = {"starlette", "uvicorn", "python-multipart", "itsdangerous"}


def test_the_import_contracts_are_kept() -> None:
    """pyproject's [tool.importlinter] contracts: cli → api only, evidence and portals never
    import claims, a pure core, nothing imports the sandbox, no cycles."""
    lint = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert lint, "import-linter is a dev dependency"
    run = subprocess.run([lint, "--no-cache"], cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "broken" not in run.stdout.split("Contracts:")[-1].splitlines()[0]


def test_a_plain_install_has_no_sandbox_web_stack() -> None:
    """`pip install .` pulls only the core: the sandbox's web stack comes with the extra."""
    core, sandbox = set(), set()
    for req in requires("claimwright") or []:
        name = re.split(r"[\s\[<>=!~;]", req, maxsplit=1)[0].lower()
        if "extra ==" not in req:
            core.add(name)
        elif 'extra == "sandbox"' in req:
            sandbox.add(name)
    assert not core & SANDBOX_STACK
    assert sandbox == SANDBOX_STACK


def test_the_sandbox_command_without_the_extra_says_how_to_install_it(tmp_path: Path) -> None:
    code = ("import sys; sys.modules['uvicorn'] = None; sys.modules['starlette'] = None\n"
            "from claims.cli import main; sys.argv = ['claims', 'portal', 'sandbox']; main()")
    run = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                         text=True)
    assert run.returncode == 1
    assert "pip install 'claimwright[sandbox]'" in run.stderr
    assert "starlette" in run.stderr and "Traceback" not in run.stderr


def test_the_product_never_imports_the_sandbox_or_the_demo() -> None:
    for path in (ROOT / "claims").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"^\s*(from|import) (portals\.sandbox|demo)\b", text, re.M), path
