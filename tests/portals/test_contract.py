"""The adapter contract: registry by entry point, secrets kept secret, package checks."""

from __future__ import annotations

import datetime as dt
import hashlib
from decimal import Decimal
from pathlib import Path

import pytest

from portals.base import (
    PackageFile,
    PortalAdapter,
    PortalCredentials,
    SubmissionPackage,
    check_package,
)
from portals.errors import (
    AccountLocked,
    AlreadySubmitted,
    AuthenticationFailed,
    PortalError,
    PortalRejected,
)
from portals.registry import UnknownAdapter, available_adapters, load_adapter
from portals.sandbox.rules import LIMITS
from portals.sandbox.testing import make_pdf


def test_the_sandbox_registers_through_the_entry_point_group() -> None:
    from portals.sandbox.adapter import SandboxAdapter

    assert "sandbox" in available_adapters()
    assert load_adapter("sandbox") is SandboxAdapter
    assert issubclass(SandboxAdapter, PortalAdapter)


def test_an_adapter_class_is_found_once_per_process(monkeypatch: pytest.MonkeyPatch) -> None:
    from portals import registry
    from portals.sandbox.adapter import SandboxAdapter

    monkeypatch.setattr(registry, "_LOADED", {})
    reads: list[int] = []
    real = registry._entry_points

    def counting() -> dict:
        reads.append(1)
        return real()

    monkeypatch.setattr(registry, "_entry_points", counting)
    assert load_adapter("sandbox") is SandboxAdapter
    assert load_adapter("sandbox") is SandboxAdapter
    assert load_adapter("sandbox") is SandboxAdapter
    assert len(reads) == 1
    # a failure is not kept: an unknown name is looked up afresh each time
    for _ in range(2):
        with pytest.raises(UnknownAdapter):
            load_adapter("sandbx")
    assert len(reads) == 3


def test_an_unknown_adapter_name_suggests_the_closest() -> None:
    with pytest.raises(UnknownAdapter) as info:
        load_adapter("sandbx")
    assert info.value.suggestion == "sandbox"
    assert "did you mean 'sandbox'?" in str(info.value)
    assert isinstance(info.value, PortalError)


def test_credentials_never_print_their_secrets() -> None:
    creds = PortalCredentials.model_validate(
        {"username": "acme", "password": "hunter2-secret", "totp_secret": "JBSWY3DPEHPK3PXP"}
    )
    for text in (repr(creds), str(creds), creds.model_dump_json()):
        assert "hunter2-secret" not in text and "JBSWY3DPEHPK3PXP" not in text
    assert creds.password.get_secret_value() == "hunter2-secret"


def test_errors_carry_their_data() -> None:
    err = AlreadySubmitted(
        "CLM-2026-000001",
        contract_number="C-1",
        invoice_number="INV-1",
        portal="sandbox",
        step="invoice",
    )
    assert err.reference == "CLM-2026-000001" and "INV-1" in str(err) and "invoice" in str(err)
    rejected = PortalRejected(["a", "b"], step="upload")
    assert rejected.messages == ["a", "b"] and "a; b" in str(rejected)
    assert issubclass(AccountLocked, AuthenticationFailed)


def _package(files: list[PackageFile]) -> SubmissionPackage:
    return SubmissionPackage(
        claim_key="k1",
        contract_number="C-1",
        invoice_number="INV-1",
        invoice_date=dt.date(2026, 2, 1),
        period_start=dt.date(2026, 1, 1),
        period_end=dt.date(2026, 1, 31),
        currency="EUR",
        net=Decimal("10.00"),
        vat=Decimal("2.00"),
        total=Decimal("12.00"),
        files=files,
    )


def _file(path: Path, name: str, doc_type: str = "invoice") -> PackageFile:
    return PackageFile(
        document_type=doc_type,
        path=path,
        filename=name,
        sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
    )


def test_check_package_names_every_broken_rule(tmp_path: Path) -> None:
    pdf = make_pdf(tmp_path / "a.pdf")
    files = [
        _file(pdf, "A.PDF"),
        _file(pdf, "a.pdf"),
        _file(pdf, "a.pdf"),
        _file(pdf, "notes.txt"),
        _file(pdf, "y" * 140 + ".pdf"),
        _file(pdf, "b.pdf"),
    ]
    problems = check_package(_package(files), LIMITS)
    assert problems == [
        "6 files: at most 5 are allowed",
        "A.PDF: extension must be lower case",
        "a.pdf: the same name is used twice",
        "notes.txt: extension .txt is not allowed",
        f"{'y' * 40}...: name longer than 132",
    ]
    assert check_package(_package([_file(pdf, "a.pdf")]), LIMITS) == []


def test_money_in_a_package_is_decimal() -> None:
    package = _package([])
    assert isinstance(package.total, Decimal)
    with pytest.raises(ValueError):
        SubmissionPackage.model_validate({**package.model_dump(), "currency": "EURO"})


def test_every_part_of_the_adapter_contract_is_documented() -> None:
    import inspect

    public = [n for n, _ in inspect.getmembers(PortalAdapter) if not n.startswith("_")]
    assert {
        "limits",
        "login",
        "find_claim",
        "submit",
        "resubmit",
        "fetch_statuses",
        "download_documents",
        "close",
    } <= set(public)
    for name in public:
        member = getattr(PortalAdapter, name)
        if not (callable(member) or isinstance(member, property)):
            continue  # class data (name, capabilities, settings_model), documented by #: comments
        doc = member.__doc__ if not isinstance(member, property) else member.fget.__doc__  # type: ignore[union-attr]
        assert doc and doc.strip(), f"PortalAdapter.{name} has no docstring"
