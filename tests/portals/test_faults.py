"""The fault spec: parsed strictly, counted faults clear themselves."""

from __future__ import annotations

import pytest

from portals.sandbox.cli import main as sandbox_cli
from portals.sandbox.faults import Faults, FaultSpecError


def test_a_full_spec_parses() -> None:
    faults = Faults.parse(
        "latency=0.5;http500=upload;lost_response=final_submit;expire_session=review;"
        "fail_upload=completion-certificate"
    )
    assert faults.delay_for("invoice") == 0.5
    assert faults.fire("http500", "upload") and faults.fire("http500", "upload")  # unlimited
    assert not faults.fire("http500", "invoice")
    assert faults.fire("fail_upload", "completion-certificate")
    assert not faults.maintenance


def test_counted_faults_fire_that_many_times() -> None:
    faults = Faults.parse("http500=upload*2;latency=1@final_submit;maintenance")
    assert [faults.fire("http500", "upload") for _ in range(3)] == [True, True, False]
    assert faults.delay_for("upload") == 0 and faults.delay_for("final_submit") == 1
    assert faults.maintenance


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("explode=upload", "unknown kind 'explode'"),
        ("http500=uplaod", "unknown step 'uplaod'"),
        ("http500=upload*x", r"count after \* must be an integer"),
        ("latency=soon", "latency must be seconds"),
        ("http500=", "needs a value"),
    ],
)
def test_a_bad_spec_names_the_item(spec: str, message: str) -> None:
    with pytest.raises(FaultSpecError, match=message) as info:
        Faults.parse(spec)
    assert info.value.item == spec


def test_serve_refuses_a_bad_fault_spec_before_starting(capsys: pytest.CaptureFixture[str]) -> None:
    assert sandbox_cli(["serve", "--faults", "http500=nowhere", "--port", "1"]) == 2
    assert "unknown step 'nowhere'" in capsys.readouterr().err


def test_no_duplicate_switches_the_portals_duplicate_check_off() -> None:
    assert Faults.parse("").duplicate_check
    faults = Faults.parse("no_duplicate;latency=0.5")
    assert not faults.duplicate_check and faults.describe()["duplicate_check"] is False
    assert Faults.parse("no_duplicate=off").duplicate_check
