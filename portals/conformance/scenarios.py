"""The conformance scenarios: what every adapter must survive, checked on the fake portal's own
records. Each scenario takes a running :class:`~portals.conformance.target.PortalUnderTest` and
a folder, and raises :class:`ConformanceFailure` naming what went wrong.

Never twice is checked the way Claimwright files: :func:`file_once` looks the invoice up before
filing (a run after a crash), persists its intent right before the final click, and after an
unknown outcome looks up again instead of filing again.
"""

from __future__ import annotations

import json
import os
import random
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from portals.base import PortalAdapter, SubmissionPackage
from portals.conformance.target import PortalUnderTest
from portals.errors import (
    AlreadySubmitted,
    AuthenticationFailed,
    OutcomeUnknown,
    PortalUnavailable,
)

#: seconds to let a killed worker's last request land on the portal before looking it up
SETTLE_S = 2.0


class ConformanceFailure(AssertionError):
    """A scenario's check failed; the message says which and what was seen."""


class NotApplicable(Exception):
    """The scenario means nothing for this portal (``PortalUnderTest.not_applicable``); the
    message says why. Not a pass and not a failure."""


@dataclass
class Result:
    """One scenario's outcome: passed (``ok``), failed, or not applicable (``applicable``
    False, ``ok`` False, ``detail`` the reason)."""

    scenario: str
    ok: bool
    detail: str
    seconds: float
    applicable: bool = True

    @property
    def failed(self) -> bool:
        """True when the scenario applied and did not pass."""
        return self.applicable and not self.ok


def expect(condition: bool, message: str) -> None:
    """Raise ConformanceFailure(message) unless ``condition``."""
    if not condition:
        raise ConformanceFailure(message)


def fresh(folder: Path) -> Path:
    """A new evidence folder for one filing (the recorder never overwrites one)."""
    return folder / "evidence" / secrets.token_hex(6)


def invoice_no(tag: str) -> str:
    """A new invoice number for one scenario."""
    return f"CK-{tag}-{secrets.token_hex(3).upper()}"


class Intent:
    """The on_final_submit hook: counts calls and writes the intent (as Claimwright does)."""

    def __init__(self, path: Path | None = None):
        self.calls, self.path = 0, path

    def __call__(self) -> None:
        self.calls += 1
        if self.path is not None:
            self.path.write_text("clicking", encoding="utf-8")


def file_once(adapter: PortalAdapter, package: SubmissionPackage, evidence: Path,
              intent: Intent) -> str:
    """File ``package`` unless the portal has it: look up first, file, and after an unknown
    outcome look up again (never file a second time). Returns the portal's reference."""
    found = adapter.find_claim(package.contract_number, package.invoice_number)
    if found is not None:
        return found.reference
    try:
        return adapter.submit(package, evidence, intent).reference
    except OutcomeUnknown:
        found = adapter.find_claim(package.contract_number, package.invoice_number)
        if found is None:
            raise
        return found.reference


def _with_adapter(target: PortalUnderTest, folder: Path, name: str,
                  work: Callable[[PortalAdapter], None], *, wrong_password: bool = False) -> None:
    make = target.wrong_password_adapter if wrong_password else target.adapter
    adapter = make(folder / f"{name}.state.json", folder / "evidence")  # base folder
    try:
        work(adapter)
    finally:
        adapter.close()


def happy_path(target: PortalUnderTest, folder: Path) -> str:
    """A claim is filed once, the hook runs once, and find_claim finds it."""
    inv = invoice_no("HAPPY")
    pkg, intent = target.package(inv, folder), Intent()
    got: dict[str, str] = {}

    def work(a: PortalAdapter) -> None:
        got["ref"] = a.submit(pkg, fresh(folder), intent).reference
        found = a.find_claim(pkg.contract_number, inv)
        expect(found is not None and found.reference == got["ref"],
               f"find_claim did not find {got['ref']}: {found}")

    _with_adapter(target, folder, "happy", work)
    expect(intent.calls == 1, f"on_final_submit ran {intent.calls} times")
    expect(target.filed(inv) == [got["ref"]], f"the portal holds {target.filed(inv)}")
    return f"filed {got['ref']}"


def lost_response(target: PortalUnderTest, folder: Path) -> str:
    """The answer to the final click is lost: OutcomeUnknown, then a lookup, never a refile."""
    inv = invoice_no("LOST")
    pkg, intent = target.package(inv, folder), Intent()
    target.fault("lost_response")

    def work(a: PortalAdapter) -> None:
        try:
            a.submit(pkg, fresh(folder), intent)
            raise ConformanceFailure("a lost answer was reported as a success")
        except OutcomeUnknown:
            pass
        target.fault("")
        file_once(a, pkg, fresh(folder), intent)

    try:
        _with_adapter(target, folder, "lost", work)
    finally:
        target.fault("")
    expect(intent.calls == 1, f"clicked {intent.calls} times")
    expect(len(target.filed(inv)) == 1, f"the portal holds {target.filed(inv)}")
    return "OutcomeUnknown, found by lookup, filed once"


def duplicate_refused(target: PortalUnderTest, folder: Path) -> str:
    """A second filing the portal itself refuses is AlreadySubmitted with its reference."""
    inv = invoice_no("DUP")
    pkg = target.package(inv, folder)
    _with_adapter(target, folder, "dup-1",
                  lambda a: a.submit(pkg, fresh(folder), Intent()))  # fmt: skip
    first = target.filed(inv)
    target.fault("duplicate_check")
    seen: dict[str, object] = {}

    def work(a: PortalAdapter) -> None:
        try:
            a.submit(pkg, fresh(folder), Intent())
        except AlreadySubmitted as err:
            seen["ref"] = err.reference
        except Exception as err:  # noqa: BLE001 - reported as the failure it is
            seen["other"] = err

    try:
        _with_adapter(target, folder, "dup-2", work)
    finally:
        target.fault("")
    expect("ref" in seen, f"not AlreadySubmitted but {seen.get('other')!r}")
    expect(target.filed(inv) == first, f"the portal holds {target.filed(inv)}")
    return f"AlreadySubmitted({seen['ref']})"


def wrong_password(target: PortalUnderTest, folder: Path) -> str:
    """A wrong password is tried once: AuthenticationFailed, one refused sign-in, no retry."""
    inv = invoice_no("PW")
    before = target.failed_sign_ins()
    seen: dict[str, object] = {}

    def work(a: PortalAdapter) -> None:
        try:
            a.submit(target.package(inv, folder), fresh(folder), Intent())
        except AuthenticationFailed as err:
            seen["err"] = err

    _with_adapter(target, folder, "pw", work, wrong_password=True)
    tried = target.failed_sign_ins() - before
    expect("err" in seen, "a wrong password did not raise AuthenticationFailed")
    expect(tried == 1, f"the wrong password was tried {tried} times")
    expect(target.filed(inv) == [], "something was filed with a wrong password")
    return "AuthenticationFailed after one try"


def _retried(target: PortalUnderTest, folder: Path, fault: str, tag: str) -> str:
    inv = invoice_no(tag)
    pkg, intent = target.package(inv, folder), Intent()
    target.fault(fault)
    try:
        _with_adapter(target, folder, tag.lower(),
                      lambda a: a.submit(pkg, fresh(folder), intent))  # fmt: skip
    finally:
        target.fault("")
    expect(intent.calls == 1, f"on_final_submit ran {intent.calls} times")
    expect(len(target.filed(inv)) == 1, f"the portal holds {target.filed(inv)}")
    return "retried before the final click, filed once"


def session_expiry(target: PortalUnderTest, folder: Path) -> str:
    """The session ends mid-form: sign in again, start over, file once."""
    return _retried(target, folder, "expire_mid_wizard", "EXPIRE")


def http5xx_before_final(target: PortalUnderTest, folder: Path) -> str:
    """A 5xx before the final click is retried; the claim is filed once."""
    return _retried(target, folder, "http5xx_before_final", "5XX")


def maintenance(target: PortalUnderTest, folder: Path) -> str:
    """Maintenance: PortalUnavailable with nothing clicked; filed once it is over."""
    inv = invoice_no("MAINT")
    pkg, intent = target.package(inv, folder), Intent()
    seen: dict[str, object] = {}

    def work(a: PortalAdapter) -> None:
        target.fault("maintenance")
        try:
            a.submit(pkg, fresh(folder), intent)
        except PortalUnavailable as err:
            seen["err"] = err
        finally:
            target.fault("")
        expect("err" in seen and intent.calls == 0,
               f"maintenance gave {seen.get('err')!r}, on_final_submit ran {intent.calls}")
        file_once(a, pkg, fresh(folder), intent)

    _with_adapter(target, folder, "maint", work)
    expect(len(target.filed(inv)) == 1, f"the portal holds {target.filed(inv)}")
    return "PortalUnavailable, then filed once"


def _child(target: PortalUnderTest, folder: Path, invoice: str, name: str) -> subprocess.Popen:
    cls = type(target)
    spec = {"target": f"{cls.__module__}:{cls.__qualname__}", "connection": target.connection(),
            "invoice": invoice, "folder": str(folder), "name": name}
    return subprocess.Popen([sys.executable, "-m", "portals.conformance.child", json.dumps(spec)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)  # its own group: it and its browser


def kill9(target: PortalUnderTest, folder: Path, kills: int = 3, seed: int | None = None) -> str:
    """``kill -9`` of a worker (and its browser) at a random moment, then a run that looks up
    before filing: every invoice on the portal exactly once."""
    rng = random.Random(seed)
    done = []
    for n in range(kills):
        inv = invoice_no(f"KILL{n}")
        target.package(inv, folder)  # the files, written before the clock starts
        proc = _child(target, folder, inv, f"kill-{n}")
        at = rng.uniform(0.5, 8.0)
        try:
            proc.wait(timeout=at)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        time.sleep(SETTLE_S)  # ok: the killed worker's last request lands first
        _with_adapter(target, folder, f"rerun-{n}",
                      lambda a, i=inv: file_once(a, target.package(i, folder),
                                                 fresh(folder), Intent()))  # fmt: skip
        expect(len(target.filed(inv)) == 1,
               f"kill at {at:.1f} s: the portal holds {target.filed(inv)}")
        done.append(f"{at:.1f}s")
    return f"{kills} kills at {', '.join(done)}: each invoice filed once"


def totp_workers(target: PortalUnderTest, folder: Path, workers: int = 3) -> str:
    """Several worker processes sign in at once with single-use codes: all file, none locks
    the account."""
    invoices = [invoice_no(f"TOTP{n}") for n in range(workers)]
    for inv in invoices:
        target.package(inv, folder)
    procs = [_child(target, folder, inv, f"totp-{n}") for n, inv in enumerate(invoices)]
    errors = []
    for p in procs:
        _, err = p.communicate(timeout=600)
        if p.returncode != 0:
            errors.append(err.decode(errors="replace").strip().splitlines()[-1:])
    expect(not errors, f"workers failed: {errors}")
    held = {inv: target.filed(inv) for inv in invoices}
    expect(all(len(r) == 1 for r in held.values()), f"the portal holds {held}")
    expect(target.failed_sign_ins() == 0, "replayed codes counted as wrong ones")
    return f"{workers} processes signed in and filed"


SCENARIOS: dict[str, Callable[[PortalUnderTest, Path], str]] = {
    "happy_path": happy_path,
    "lost_response": lost_response,
    "duplicate_refused": duplicate_refused,
    "wrong_password": wrong_password,
    "session_expiry": session_expiry,
    "maintenance": maintenance,
    "http5xx_before_final": http5xx_before_final,
    "totp_workers": totp_workers,
    "kill9": kill9,
}


def run_scenario(name: str, target: PortalUnderTest, folder: Path) -> str:
    """Run one scenario; raises ConformanceFailure, or NotApplicable (with the reason) for a
    scenario the portal declares not applicable. For pytest:
    ``@pytest.mark.parametrize("name", SCENARIOS)``."""
    if name in target.not_applicable:
        raise NotApplicable(target.not_applicable[name])
    folder.mkdir(parents=True, exist_ok=True)
    return SCENARIOS[name](target, folder)


def run_all(target: PortalUnderTest, folder: Path, *, kills: int = 3,
            only: list[str] | None = None) -> list[Result]:
    """Every scenario (or ``only`` those) against ``target``; a failure does not stop the run;
    a scenario the target declares not applicable is reported as such with the reason."""
    results = []
    for name, scenario in SCENARIOS.items():
        if only and name not in only:
            continue
        if name in target.not_applicable:
            results.append(Result(name, False, target.not_applicable[name], 0.0,
                                  applicable=False))  # fmt: skip
            continue
        started = time.monotonic()
        sub = folder / name
        sub.mkdir(parents=True, exist_ok=True)
        try:
            detail = kill9(target, sub, kills) if name == "kill9" else scenario(target, sub)
            ok = True
        except Exception as err:  # noqa: BLE001 - every failure is a scenario's result
            ok, detail = False, f"{type(err).__name__}: {err}"
        finally:
            target.fault("")
        results.append(Result(name, ok, detail, time.monotonic() - started))
    return results

