"""Every CLI command, driven with hostile arguments: never a traceback, always exit 0–4.

The Typer app is walked, so a new command is covered the day it is added. Each command gets
odd dates (2026-13-01, 'tomorrow'), huge, negative and NaN numbers, paths to folders, FIFOs,
missing files and ``..``, long strings and unicode. ``CLAIMS_HOSTILE_EXAMPLES`` sets the
examples per command (default 3, bounded for CI; e.g. 200 for a long hunt). Not driven:
``portal sandbox``, ``serve`` and ``evidence witness serve``: they serve until stopped (their
own tests drive them). The portal is pointed at a closed local port and nothing leaves
127.0.0.1.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
import typer.main
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from claims.cli import app

EXAMPLES = int(os.environ.get("CLAIMS_HOSTILE_EXAMPLES", "3"))
NOT_DRIVEN = {"portal sandbox", "serve", "evidence witness serve"}  # they serve until stopped
EXIT_CODES = {0, 1, 2, 3, 4}
#: A command that blocks (a FIFO opened for reading waits for a writer forever) fails here.
HANG_SECONDS = 30


class Hung(BaseException):
    """Raised into a command that blocks; a BaseException, so no ``except OSError`` (or
    ``except Exception``) in the code under test can take it for an ordinary failure."""


def _hung(_signum: int, _frame: object) -> None:
    raise Hung(f"no answer within {HANG_SECONDS} s")


def _commands() -> dict[str, object]:
    found: dict[str, object] = {}

    def walk(cmd: object, path: list[str]) -> None:
        subs = getattr(cmd, "commands", None)
        if subs:
            for name, sub in subs.items():
                walk(sub, [*path, name])
        elif " ".join(path) not in NOT_DRIVEN:
            found[" ".join(path)] = cmd

    walk(typer.main.get_command(app), [])
    return found


COMMANDS = _commands()

DATES = ["2026-13-01", "tomorrow", "2026-02-30", "0001-01-01", "9999-12-31", "26-1-1",
         "01/12/2027", "", " "]
NUMBERS = ["0", "-1", "-0", "1e20", "1e15", "1" * 30, "NaN", "inf", "-inf", "0.00001",
           "9,5", "1.100,00", "1_000", "0x10", "2147483648", "-9223372036854775809"]
WORDS = ["x" * 5000, "Ünïcødé ☃ \u202e", "C-2026-014", "INV-2026-0101", "1", "READY",
         "bogus", "--json", "-", "../../escape", "a/b", "'; DROP TABLE claims; --"]
PATH_NAMES = ["folder", "fifo", "missing.pdf", "..", "../..", "empty.pdf", "garbage.pdf",
              "sample.pdf", "contract.yaml", "ünï cödé.pdf", "a/b/../../garbage.pdf",
              "folder/../../escape", "/proc/claimwright-unwritable"]

TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
               max_size=40)


def hostile_value(paths: Path) -> st.SearchStrategy[str]:
    """A value for any option or argument: dates, numbers, words, paths or TYPE=VALUE."""
    simple = st.one_of(st.sampled_from(DATES), st.sampled_from(NUMBERS),
                       st.sampled_from(WORDS), TEXT, st.integers().map(str),
                       st.sampled_from(PATH_NAMES),
                       st.sampled_from(PATH_NAMES).map(lambda n: str(paths / n)))
    pairs = st.tuples(st.sampled_from(["invoice", "tax-certificate", "x", ""]), simple)
    return st.one_of(simple, pairs.map(lambda kv: f"{kv[0]}={kv[1]}"))


def arguments(command: object, paths: Path) -> st.SearchStrategy[list[str]]:
    """argv for ``command``: each parameter present or not, with hostile values."""
    parts = []
    for param in command.params:  # type: ignore[attr-defined]
        value = hostile_value(paths)
        if getattr(param, "is_flag", False):
            parts.append(st.sampled_from([[], [param.opts[0]]]))
        elif param.param_type_name == "argument":
            count = st.integers(1, 2) if param.nargs == -1 else st.just(1)
            parts.append(count.flatmap(lambda n, v=value: st.lists(v, min_size=n,
                                                                   max_size=n)))
        else:
            opt = param.opts[0]
            times = st.integers(0, 2) if param.multiple else st.integers(0, 1)
            parts.append(times.flatmap(lambda n, o=opt, v=value: st.lists(
                v.map(lambda x, o=o: [o, x]), min_size=n, max_size=n)
                .map(lambda pairs: [a for pair in pairs for a in pair])))
    return st.tuples(*parts).map(lambda groups: [a for g in groups for a in g])


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A sample workspace and a folder of hostile paths; the cwd is two levels inside it."""
    base = tmp_path_factory.mktemp("hostile")
    runner = CliRunner()
    ws = base / "ws"
    result = runner.invoke(app, ["init", "--with-samples", str(ws)])
    assert result.exit_code == 0, result.output
    toml = ws / "claims.toml"
    toml.write_text(toml.read_text().replace("http://127.0.0.1:8765", "http://127.0.0.1:9"))
    paths = base / "paths"
    (paths / "folder").mkdir(parents=True)
    os.mkfifo(paths / "fifo")
    (paths / "empty.pdf").write_bytes(b"")
    (paths / "garbage.pdf").write_bytes(os.urandom(2048))
    (paths / "sample.pdf").write_bytes((ws / "samples" / "INV-2026-0101.pdf").read_bytes())
    (paths / "contract.yaml").write_text((ws / "samples" / "contract.yaml").read_text())
    (paths / "ünï cödé.pdf").write_bytes(b"%PDF-1.7\n%%EOF\n")
    (paths / "a" / "b").mkdir(parents=True)
    return base


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_no_command_answers_hostile_arguments_with_a_traceback(name: str, sandbox: Path,
                                                               monkeypatch) -> None:
    monkeypatch.chdir(sandbox / "paths" / "a" / "b")  # relative paths stay in the sandbox
    monkeypatch.setenv("CLAIMS_WORKSPACE", str(sandbox / "ws"))
    monkeypatch.setenv("CLAIMS_LOG_LEVEL", "error")
    command = COMMANDS[name]
    runner = CliRunner()

    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(argv=arguments(command, sandbox / "paths"))
    def check(argv: list[str]) -> None:
        if name == "claim submit":
            argv = [*argv, "--dry-run"]  # never a browser against a portal in a unit run
        previous = signal.signal(signal.SIGALRM, _hung)
        signal.alarm(HANG_SECONDS)
        try:
            result = runner.invoke(app, [*name.split(), *argv])
        finally:
            signal.alarm(0)
            signal.signal(signal.SIGALRM, previous)
        shown = f"claims {name} {argv!r}\n{result.output}"
        assert not isinstance(result.exception, Hung), f"{shown}\n{result.exception}"
        assert "Traceback" not in result.output, shown
        assert result.exception is None or isinstance(result.exception, SystemExit), (
            f"{shown}\n{type(result.exception).__name__}: {result.exception}")
        assert result.exit_code in EXIT_CODES, shown

    check()


@pytest.mark.parametrize("argv", [
    ["contract", "add", "{fifo}"], ["invoice", "add", "{fifo}"],
    ["payments", "import", "{fifo}"], ["payments", "mapping", "set", "bank", "{fifo}"],
    ["invoice", "import", "ubl", "{fifo}"], ["evidence", "verify", "--checkpoint", "{fifo}"],
    ["kpi", "--as-of", "0001-01-01"], ["claim", "validate", "1", "--as-of", "2026-13-01"],
    ["report", "weekly", "--out", "{folder}"], ["init", "{fifo}"],
    ["init", "{new}", "--database-url", "5819"],
])
def test_known_hostile_inputs_are_one_line_each(argv, sandbox: Path, monkeypatch) -> None:
    monkeypatch.setenv("CLAIMS_WORKSPACE", str(sandbox / "ws"))
    monkeypatch.setenv("CLAIMS_LOG_LEVEL", "error")
    paths = sandbox / "paths"
    argv = [a.format(fifo=paths / "fifo", folder=paths / "folder", new=paths / "new-ws")
            for a in argv]
    signal.signal(signal.SIGALRM, _hung)
    signal.alarm(HANG_SECONDS)
    try:
        result = CliRunner().invoke(app, argv)
    finally:
        signal.alarm(0)
    # an option's file that can never do (a FIFO given to --checkpoint) is a usage error, as
    # the README's exit-code table and docs/evidence-format.md say; the rest is bad input
    assert result.exit_code == (2 if "--checkpoint" in argv else 1), result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), result.output
    assert not (paths / "new-ws").exists()  # a refused init makes nothing


@pytest.mark.parametrize("argv", [["init", "x" * 5000], ["evidence", "verify-export", "x" * 5000]])
def test_a_name_too_long_for_the_system_is_one_line(argv, sandbox: Path, monkeypatch) -> None:
    monkeypatch.chdir(sandbox / "paths" / "a" / "b")
    monkeypatch.setenv("CLAIMS_WORKSPACE", str(sandbox / "ws"))
    result = CliRunner().invoke(app, argv)
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert "Traceback" not in result.output and "error:" in result.output
