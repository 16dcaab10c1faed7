"""The adapter kit on a fake in-memory portal: the base class runs never-twice, the adapter
writes steps only; TOTP variants (RFC 6238 vectors); the evidence mask and redaction."""

from __future__ import annotations

import datetime as dt
import json
import threading
from decimal import Decimal
from pathlib import Path
from typing import ClassVar

import pytest
from pydantic import BaseModel

from portals.base import (
    BrowserOptions,
    Capability,
    ExistingClaim,
    PortalCredentials,
    PortalLimits,
    PortalStatus,
    Receipt,
    StatusReport,
    SubmissionPackage,
)
from portals.errors import (
    AuthenticationFailed,
    NotSupported,
    OutcomeUnknown,
    PortalError,
    PortalRejected,
    PortalUnavailable,
)
from portals.kit import StepAdapter
from portals.recording import SECRET_FIELDS, EvidenceRecorder, redact
from portals.totp import TotpSpec, fresh_code, one_time_code

LIMITS = PortalLimits(
    max_files=2,
    max_file_bytes=1000,
    allowed_extensions=(".pdf",),
    max_name_length=50,
    lowercase_extensions=True,
    unique_names=True,
)


class Fake(StepAdapter):
    """A portal in a dict; ``fail`` lists the failures to raise, step by step."""

    name: ClassVar[str] = "fake"
    status_map: ClassVar[dict[str, PortalStatus]] = {
        "OPEN": PortalStatus.SUBMITTED,
        "BACK": PortalStatus.RETURNED,
    }

    def __init__(self, tmp: Path, **fail: Exception) -> None:
        super().__init__(
            "http://127.0.0.1:1",
            PortalCredentials(username="u", password="p"),
            browser=BrowserOptions(max_attempts=3, backoff_s=0),
            state_file=tmp / "s.json",
            evidence_dir=tmp,
        )
        self.fail, self.calls, self.filed = dict(fail), [], {}

    @property
    def limits(self) -> PortalLimits:
        """Two PDFs at most."""
        return LIMITS

    def _step(self, name: str) -> None:
        self.calls.append(name)
        err = self.fail.pop(name, None)
        if err is not None:
            raise err

    def sign_in(self) -> None:
        self._step("sign_in")

    def fill(self, package: SubmissionPackage, resubmit_of: str | None) -> None:
        self._step("fill")

    def final_click(self, package: SubmissionPackage) -> None:
        self._step("click")
        self.filed[package.invoice_number] = f"R-{len(self.filed) + 1}"
        self._step("after_click")

    def read_receipt(self, package: SubmissionPackage) -> Receipt:
        return Receipt(
            reference=self.filed[package.invoice_number],
            submitted_at=dt.datetime.now(dt.UTC),
            receipt_pdf=None,
        )

    def find_claim(self, contract_number: str, invoice_number: str) -> ExistingClaim | None:
        ref = self.filed.get(invoice_number)
        return (
            ExistingClaim(
                reference=ref,
                contract_number=contract_number,
                invoice_number=invoice_number,
                status=self.portal_status("OPEN"),
                portal_status="OPEN",
            )
            if ref
            else None
        )

    def list_statuses(self) -> list[StatusReport]:
        return [
            StatusReport(
                reference=r,
                invoice_number=i,
                contract_number="C",
                status=self.portal_status("BACK"),
                portal_status="BACK",
            )
            for i, r in self.filed.items()
        ]

    def close(self) -> None:
        """Nothing to close."""


def _package(invoice: str = "INV-1") -> SubmissionPackage:
    return SubmissionPackage(
        claim_key="k",
        contract_number="C",
        invoice_number=invoice,
        invoice_date=dt.date(2026, 1, 31),
        period_start=dt.date(2026, 1, 1),
        period_end=dt.date(2026, 1, 31),
        currency="EUR",
        net=Decimal("10"),
        vat=Decimal("2"),
        total=Decimal("12"),
        files=[],
    )


def test_the_kit_retries_before_the_click_and_records_every_step(tmp_path: Path) -> None:
    adapter = Fake(tmp_path, fill=PortalUnavailable("HTTP 503"))
    hooks: list[list[str]] = []
    receipt = adapter.submit(_package(), tmp_path / "ev", lambda: hooks.append(list(adapter.calls)))
    assert receipt.reference == "R-1"
    assert adapter.calls == ["sign_in", "fill", "sign_in", "fill", "click", "after_click"]
    assert hooks == [["sign_in", "fill", "sign_in", "fill"]]  # intent right before the click
    manifest = json.loads((tmp_path / "ev" / "manifest.json").read_text())
    assert [s["step"] for s in manifest["steps"]] == ["retry", "on_final_submit"]
    assert manifest["outcome"]["result"] == "accepted"


def test_a_refused_password_is_tried_once(tmp_path: Path) -> None:
    adapter = Fake(tmp_path, sign_in=AuthenticationFailed("wrong password"))
    with pytest.raises(AuthenticationFailed):
        adapter.submit(_package(), tmp_path / "ev", lambda: None)
    assert adapter.calls == ["sign_in"]


def test_when_the_intent_cannot_be_persisted_nothing_is_clicked(tmp_path: Path) -> None:
    adapter = Fake(tmp_path)

    def refuse() -> None:
        raise RuntimeError("database gone")

    with pytest.raises(RuntimeError):
        adapter.submit(_package(), tmp_path / "ev", refuse)
    assert "click" not in adapter.calls and adapter.filed == {}


@pytest.mark.parametrize(
    "err",
    [
        PortalUnavailable("HTTP 502"),
        ConnectionResetError("reset"),
        KeyError("no reference on the page"),
    ],
)
def test_any_failure_after_the_click_is_outcome_unknown(tmp_path: Path, err: Exception) -> None:
    adapter = Fake(tmp_path, after_click=err)
    with pytest.raises(OutcomeUnknown) as info:
        adapter.submit(_package(), tmp_path / "ev", lambda: None)
    assert info.value.step == "final_submit" and "after the final click" in str(info.value)
    assert adapter.calls.count("click") == 1  # never retried
    assert adapter.find_claim("C", "INV-1") is not None  # and the lookup tells


def test_a_clear_refusal_after_the_click_stays_a_refusal(tmp_path: Path) -> None:
    adapter = Fake(tmp_path, after_click=PortalRejected(["Total: does not add up"]))
    with pytest.raises(PortalRejected):
        adapter.submit(_package(), tmp_path / "ev", lambda: None)


def test_a_package_breaking_the_limits_is_refused_before_anything(tmp_path: Path) -> None:
    from portals.base import PackageFile

    pdf = tmp_path / "a.txt"
    pdf.write_bytes(b"x")
    bad = _package().model_copy(
        update={
            "files": [PackageFile(document_type="invoice", path=pdf, filename="a.txt", sha256="0")]
        }
    )
    adapter = Fake(tmp_path)
    with pytest.raises(PortalRejected) as info:
        adapter.submit(bad, tmp_path / "ev", lambda: None)
    assert info.value.step == "check" and adapter.calls == []


def test_resubmission_without_the_capability_is_not_supported(tmp_path: Path) -> None:
    adapter = Fake(tmp_path)
    assert Capability.RESUBMISSION not in adapter.capabilities
    with pytest.raises(NotSupported) as info:
        adapter.resubmit("R-1", _package(), tmp_path / "ev", lambda: None)
    assert info.value.capability == "resubmission" and adapter.calls == []
    with pytest.raises(NotSupported):
        adapter.download_documents("R-1", tmp_path / "docs")


def test_statuses_are_the_vocabulary_with_the_portals_word_beside(tmp_path: Path) -> None:
    adapter = Fake(tmp_path)
    adapter.submit(_package(), tmp_path / "ev", lambda: None)
    [report] = adapter.fetch_statuses()
    assert (report.status, report.portal_status) == (PortalStatus.RETURNED, "BACK")
    assert report.status == "returned"
    with pytest.raises(PortalError, match="unknown portal status 'LOST'"):
        adapter.portal_status("LOST")


def test_an_empty_executable_means_none() -> None:
    assert BrowserOptions(executable="", ws_endpoint="").executable is None
    assert BrowserOptions(executable="  ").ws_endpoint is None


# -- TOTP: the RFC 6238 test vectors (8 digits, at T=59 s) -----------------------------------
@pytest.mark.parametrize(
    ("algorithm", "seed", "code"),
    [
        ("sha1", "12345678901234567890", "94287082"),
        ("sha256", "12345678901234567890123456789012", "46119246"),
        ("sha512", "1234567890123456789012345678901234567890123456789012345678901234", "90693936"),
    ],
)
def test_totp_follows_rfc_6238(algorithm: str, seed: str, code: str) -> None:
    spec = TotpSpec(algorithm=algorithm, digits=8, encoding="ascii")  # type: ignore[arg-type]
    assert one_time_code(seed, spec, at=59) == code
    hex_spec = spec.model_copy(update={"encoding": "hex"})
    assert one_time_code(seed.encode().hex(), hex_spec, at=59) == code


def test_a_bad_seed_is_an_authentication_error() -> None:
    with pytest.raises(AuthenticationFailed, match="not valid hex"):
        one_time_code("zz", TotpSpec(encoding="hex"))


def test_workers_of_one_process_never_get_the_same_code() -> None:
    spec = TotpSpec(period=1)
    codes: list[str] = []
    threads = [
        threading.Thread(
            target=lambda: codes.append(fresh_code("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP", spec))
        )
        for _ in range(3)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(codes) == 3 and len(set(codes)) == 3


def test_the_evidence_mask_covers_secret_fields_and_what_the_adapter_adds(tmp_path: Path) -> None:
    rec = EvidenceRecorder(
        tmp_path / "e", adapter="x", operation="submit", base_url="u", mask=("input[name=code]",)
    )
    for selector in (*SECRET_FIELDS, "input[name=code]"):
        assert selector in rec.mask_selector
    assert "input[autocomplete=one-time-code]" in rec.mask_selector
    rec.exchange(
        "deposit",
        request={
            "password": "hunter2",
            "invoice": "INV-1",
            "nested": [{"access_token": "sekret-9"}],
        },
        response={"id": 7},
    )
    text = (tmp_path / "e" / "manifest.json").read_text()
    assert "hunter2" not in text and "sekret-9" not in text and "INV-1" in text


def test_redact_is_deep_and_takes_extra_keys() -> None:
    assert redact({"a": {"PIN": "1"}}, ["pin"]) == {"a": {"PIN": "**********"}}


def test_redact_catches_secret_names_it_was_not_told() -> None:
    """An OpenID token reply, a gateway's own header names: secret by what their name holds."""
    body = {"access_token": "a", "id_token": "eyJ", "token_type": "Bearer", "expires_in": 3600,
            "headers": {"X-Auth-Token": "t", "Set-Cookie": "sid=1", "x-api-key": "k",
                        "Content-Type": "application/json"},
            "apiSecret": "s", "statusCode": 200, "invoiceCode": "INV-1"}
    out = redact(body)
    assert out["id_token"] == out["access_token"] == out["apiSecret"] == "**********"
    assert all(v == "**********" for k, v in out["headers"].items() if k != "Content-Type")
    assert out["headers"]["Content-Type"] == "application/json"
    assert (out["expires_in"], out["statusCode"], out["invoiceCode"]) == (3600, 200, "INV-1")


class _Settings(BaseModel):
    model_config = {"extra": "forbid"}
    tenant: str


def test_an_adapter_declares_its_settings_model(tmp_path: Path) -> None:
    class WithSettings(Fake):
        settings_model: ClassVar[type[BaseModel] | None] = _Settings

    adapter = WithSettings(tmp_path)
    assert adapter.settings is None  # given by the caller, validated by the model
    assert WithSettings.settings_model.model_validate({"tenant": "t1"}).tenant == "t1"
