"""docs/evidence-format.md is what an auditor writes their own verifier from: every finding code
the verifiers can emit is in its table of codes (§8), and the table lists no code that none
emits."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "evidence-format.md"
#: where findings are made: the verifiers (workspace and export), the checkpoint file's rules,
#: the ledger (the one-line state-missing error) and the claims' bundle check
SOURCES = [*sorted((REPO / "evidence").glob("*.py")), REPO / "claims/lifecycle/workflow.py"]
EMITTED = [
    re.compile(r"\b(?:fail|warn|Problem)\(\s*\"([a-z][a-z0-9-]+)\""),  # report.fail("code", ...)
    re.compile(r"\[rule: ([a-z][a-z0-9-]+)\]"),  # an error line naming its rule
    re.compile(r"\(\"(claim-bundle-[a-z-]+)\""),  # ("code", where, message) of the bundle check
    re.compile(r"return (?:None|cp), \"([a-z][a-z0-9-]+)\""),  # a checkpoint file line's finding
]


def emitted_codes() -> dict[str, str]:
    """Every finding code in the sources, with the file that emits it."""
    found: dict[str, str] = {}
    for path in SOURCES:
        text = path.read_text(encoding="utf-8")
        for pattern in EMITTED:
            for code in pattern.findall(text):
                found.setdefault(code, path.name)
    return found


def documented_codes() -> set[str]:
    """The codes of the table in §8 (each row starts with the code in backticks)."""
    table = DOC.read_text(encoding="utf-8").split("\n## 8. Finding codes\n", 1)[1]
    return set(re.findall(r"^\| `([a-z][a-z0-9-]+)` \|", table, re.MULTILINE))


def test_every_finding_code_emitted_is_documented() -> None:
    emitted = emitted_codes()
    assert len(emitted) > 60 and {"cosignature-invalid", "state-missing", "entry-index",
                                  "checkpoint-file-order", "claim-bundle-changed"} <= set(emitted)
    missing = {code: where for code, where in emitted.items() if code not in documented_codes()}
    assert not missing, f"not in docs/evidence-format.md §8: {missing}"


def test_the_table_lists_no_code_that_is_never_emitted() -> None:
    stale = documented_codes() - set(emitted_codes())
    assert not stale, f"documented but emitted nowhere: {sorted(stale)}"
