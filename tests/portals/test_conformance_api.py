"""The conformance kit against the API channel (``ChorusProAdapter``) and the sandbox's Chorus
Pro-shaped API (``portals.conformance.chorus``): every scenario that applies to an API passes,
checked on the portal's own records; the one that does not (single-use TOTP codes) is reported
not applicable with its reason, never as a pass. ``kill -9`` runs: 2 here.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from portals.api_channel import ChorusProAdapter
from portals.conformance import (
    SCENARIOS,
    ConformanceFailure,
    NotApplicable,
    kill9,
    run_all,
    run_scenario,
)
from portals.conformance.chorus import ChorusUnderTest

APPLIES = [n for n in SCENARIOS if n not in ChorusUnderTest.not_applicable and n != "kill9"]


@pytest.fixture(scope="module")
def under_test(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChorusUnderTest]:
    with ChorusUnderTest.started(tmp_path_factory.mktemp("kit-api")) as target:
        yield target


@pytest.mark.parametrize("name", APPLIES)
def test_the_api_channel_passes(name: str, under_test: ChorusUnderTest, tmp_path: Path) -> None:
    assert run_scenario(name, under_test, tmp_path)


def test_kill_9_at_random_moments_files_each_invoice_once(
    under_test: ChorusUnderTest, tmp_path: Path
) -> None:
    assert "2 kills" in kill9(under_test, tmp_path, kills=2)


def test_totp_is_reported_not_applicable_with_the_reason(
    under_test: ChorusUnderTest, tmp_path: Path
) -> None:
    with pytest.raises(NotApplicable, match="client credentials"):
        run_scenario("totp_workers", under_test, tmp_path)
    results = run_all(under_test, tmp_path, only=["totp_workers"])
    assert [(r.scenario, r.ok, r.applicable, r.failed) for r in results] == [
        ("totp_workers", False, False, False)]  # fmt: skip
    assert "one-time code" in results[0].detail


def test_the_kit_catches_an_api_adapter_that_deposits_twice(
    under_test: ChorusUnderTest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The kit can fail here too: an adapter that sends the deposit again after a lost answer."""
    real = ChorusProAdapter.submit

    def deposits_again(self, package, evidence_dir, hook):  # type: ignore[no-untyped-def]
        try:
            return real(self, package, evidence_dir, hook)
        except Exception:  # noqa: BLE001 - the bug under test: retrying the final call
            return real(self, package, evidence_dir.with_name(evidence_dir.name + "-2"), hook)

    monkeypatch.setattr(ChorusProAdapter, "submit", deposits_again)
    with pytest.raises(ConformanceFailure, match="reported as a success|clicked 2 times"):
        run_scenario("lost_response", under_test, tmp_path)


def test_claims_portal_conformance_chorus_from_the_command_line(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result = cli("portal", "conformance", "chorus", "--only", "maintenance", "--only",
                 "totp_workers", "--dir", str(tmp_path / "kit"))  # fmt: skip
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert any(ln.startswith("PASS maintenance") for ln in lines), result.output
    na = [ln for ln in lines if ln.startswith("N/A  totp_workers")]
    assert na and "one-time code" in na[0], result.output
    assert "1 of 1 passed, 1 not applicable" in result.output
