"""The conformance kit, as a third party runs it, against the sandbox adapter and the sandbox
portal (its duplicate check off, single-use codes): every scenario passes, checked on the
portal's own records. ``kill -9`` runs: 2 in CI, ``CLAIMS_KIT_KILLS`` (default 12) in the
``soak`` test (``make soak``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from portals.conformance import SCENARIOS, ConformanceFailure, kill9, run_scenario
from portals.conformance.sandbox import SandboxUnderTest
from portals.errors import AlreadySubmitted
from portals.sandbox.adapter import SandboxAdapter

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def under_test(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxUnderTest]:
    with SandboxUnderTest.started(tmp_path_factory.mktemp("kit")) as target:
        yield target


@pytest.mark.parametrize("name", [n for n in SCENARIOS if n != "kill9"])
def test_the_sandbox_adapter_passes(name: str, under_test: SandboxUnderTest,
                                    tmp_path: Path) -> None:  # fmt: skip
    assert run_scenario(name, under_test, tmp_path)


def test_kill_9_at_random_moments_files_each_invoice_once(
    under_test: SandboxUnderTest, tmp_path: Path
) -> None:
    assert "2 kills" in kill9(under_test, tmp_path, kills=2)


@pytest.mark.soak
def test_many_kills(under_test: SandboxUnderTest, tmp_path: Path) -> None:
    kill9(under_test, tmp_path, kills=int(os.environ.get("CLAIMS_KIT_KILLS", "12")))


def test_the_kit_catches_an_adapter_that_files_twice(
    under_test: SandboxUnderTest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The kit can fail: an adapter that re-clicks after a lost answer is caught."""
    real = SandboxAdapter.submit

    def clicks_again(self, package, evidence_dir, hook):  # type: ignore[no-untyped-def]
        try:
            return real(self, package, evidence_dir, hook)
        except Exception:  # noqa: BLE001 - the bug under test: retrying the final click
            return real(self, package, evidence_dir.with_name(evidence_dir.name + "-2"), hook)

    monkeypatch.setattr(SandboxAdapter, "submit", clicks_again)
    with pytest.raises(ConformanceFailure, match="reported as a success|clicked 2 times"):
        run_scenario("lost_response", under_test, tmp_path)


def test_the_portal_duplicate_check_is_off_during_the_kit(
    under_test: SandboxUnderTest, tmp_path: Path
) -> None:
    pkg = under_test.package("CK-DUPOFF-1", tmp_path)
    for n in range(2):  # straight submits, no lookup: the portal takes both
        adapter = under_test.adapter(tmp_path / f"s{n}.json", tmp_path / "ev")
        try:
            adapter.submit(pkg, tmp_path / "ev" / str(n), lambda: None)
        except AlreadySubmitted:  # pragma: no cover - the failure this test is about
            pytest.fail("the portal's own duplicate check was on")
        finally:
            adapter.close()
    assert len(under_test.filed("CK-DUPOFF-1")) == 2


def test_claims_portal_conformance_runs_the_kit_from_the_command_line(
    cli, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    result = cli("portal", "conformance", "sandbox", "--only", "maintenance", "--dir",
                 str(tmp_path / "kit"), "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["ok"] and [s["scenario"] for s in report["scenarios"]] == ["maintenance"]
    bad = cli("portal", "conformance", "nosuch")
    assert bad.exit_code != 0 and "no portal adapter named 'nosuch'" in bad.output
    assert "Traceback" not in bad.output
