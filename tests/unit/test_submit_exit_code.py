"""`claims claim submit` exit codes (README): 0 all submitted, 3 the portal could not be reached
for any claim tried, 1 anything else not submitted (a mix included, as a batch's failures)."""

from __future__ import annotations

import pytest

from claims.lifecycle.submission import Outcome, SubmitSummary

DONE = Outcome(1, "SUBMITTED", "CLM-1")
UNREACHABLE = Outcome(2, "READY", message="sandbox: cannot reach …", unreachable=True)
REJECTED = Outcome(3, "REJECTED_BY_PORTAL", message="bad VAT")


@pytest.mark.parametrize("outcomes,stopped,code", [
    ([DONE], None, 0),
    ([UNREACHABLE], None, 3),
    ([UNREACHABLE, UNREACHABLE], None, 3),
    ([DONE, UNREACHABLE], None, 1),
    ([UNREACHABLE, REJECTED], None, 1),
    ([REJECTED], None, 1),
    ([UNREACHABLE], "the portal refused the credentials", 1),
])
def test_the_exit_code_of_a_submit_run(outcomes: list[Outcome], stopped: str | None,
                                       code: int) -> None:
    summary = SubmitSummary(outcomes=list(outcomes), stopped=stopped)
    assert summary.exit_code == code
    assert summary.to_json()["exit_code"] == code
