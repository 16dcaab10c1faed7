"""The portal adapter contract: the small typed package an adapter receives, what it returns,
and the one base class every adapter (the sandbox's and third parties') subclasses.

An adapter drives one portal account. The caller (``claims.lifecycle.submission``) owns never-twice
rules; the adapter's part of them is:

* everything up to the final click may be retried (the adapter does so itself, with backoff,
  for :class:`~portals.errors.PortalUnavailable`, :class:`~portals.errors.PortalTimeout` and
  :class:`~portals.errors.SessionExpired`);
* right before the final click it calls the caller's ``on_final_submit()`` so the caller can
  persist its intent; if that callback raises, nothing is clicked;
* any failure after the final click is :class:`~portals.errors.OutcomeUnknown`; the caller then
  reconciles with :meth:`PortalAdapter.find_claim`.
"""

from __future__ import annotations

import datetime as dt
from abc import ABC, abstractmethod
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from types import TracebackType
from enum import StrEnum
from typing import ClassVar, Self

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from portals.totp import TotpSpec


class PortalStatus(StrEnum):
    """The fixed status vocabulary every adapter maps its portal's own words to.

    The portal's word is kept beside it (``portal_status``) for the record.
    """

    SUBMITTED = "submitted"  #: received, nobody has looked at it yet
    UNDER_REVIEW = "under_review"  #: a reviewer is on it
    RETURNED = "returned"  #: sent back for correction (resubmission possible)
    APPROVED = "approved"  #: accepted for payment
    PAYMENT_ORDERED = "payment_ordered"  #: payment is on its way
    PAID = "paid"  #: paid in full or in part (see ``paid_amount``)
    REJECTED = "rejected"  #: refused for good


class Capability(StrEnum):
    """What an adapter can do beyond filing and finding a claim (``PortalAdapter.capabilities``).

    Asking an adapter for something it lacks raises :class:`~portals.errors.NotSupported`.
    """

    RESUBMISSION = "resubmission"  #: correct a returned claim under the same reference
    RECEIPT_DOWNLOAD = "receipt_download"  #: a receipt document after filing
    BULK_STATUS_EXPORT = "bulk_status_export"  #: every claim's status in one call
    PAYMENT_ADVICE = "payment_advice"  #: the claim's documents / payment advice as files


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PortalCredentials(_Frozen):
    """One portal account. Secrets are :class:`~pydantic.SecretStr` (printed as ``**********``)."""

    username: str = Field(description="the portal user name (not secret)")
    password: SecretStr = Field(description="the account password")
    totp_secret: SecretStr | None = Field(
        default=None, description="seed of the account's one-time codes (TOTP), if any"
    )
    totp: TotpSpec = Field(
        default_factory=TotpSpec, description="algorithm, digits, period, seed encoding"
    )


class BrowserOptions(_Frozen):
    """How the adapter gets its Chromium."""

    executable: str | None = Field(default=None, description="explicit Chromium path")
    headless: bool = Field(default=True, description="run without a window")

    @field_validator("executable", "ws_endpoint", mode="before")
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        """``executable = ""`` in claims.toml means "not set", as does an empty endpoint."""
        return None if isinstance(value, str) and not value.strip() else value

    ws_endpoint: str | None = Field(
        default=None,
        description="connect to a Playwright browser server (ws://...) instead of launching",
    )
    timeout_ms: int = Field(default=15_000, ge=100, description="per-action and navigation timeout")
    max_attempts: int = Field(default=3, ge=1, description="tries before the final click")
    backoff_s: float = Field(
        default=0.5, ge=0, description="first backoff; doubles each try"
    )  # ok: seconds, not money


class PortalLimits(_Frozen):
    """The portal's attachment rules, so callers can check a package before submitting."""

    max_files: int = Field(description="most files one claim may carry")
    max_file_bytes: int = Field(description="largest single file, in bytes")
    allowed_extensions: tuple[str, ...] = Field(description="e.g. ('.pdf',)")
    max_name_length: int = Field(description="longest file name, in characters")
    lowercase_extensions: bool = Field(description="extensions must be lower case")
    unique_names: bool = Field(description="file names must be unique within a claim")


class PackageFile(_Frozen):
    """One file to upload, tagged with the document type the portal asks it for."""

    document_type: str = Field(description="portal document type, e.g. 'invoice', 'timesheet'")
    path: Path = Field(description="the file on disk")
    filename: str = Field(description="the name the portal will see")
    sha256: str = Field(description="hex SHA-256 of the file's bytes")


class SubmissionPackage(_Frozen):
    """Everything a portal claim form needs. Money is Decimal in ``currency``."""

    claim_key: str = Field(description="the caller's own id for this claim (idempotency key)")
    contract_number: str
    invoice_number: str
    invoice_date: dt.date
    period_start: dt.date
    period_end: dt.date
    currency: str = Field(min_length=3, max_length=3)
    net: Decimal
    vat: Decimal
    total: Decimal
    files: list[PackageFile]


class Receipt(_Frozen):
    """What the portal gave back for an accepted claim."""

    reference: str = Field(description="the portal's claim reference, e.g. CLM-2026-000123")
    submitted_at: dt.datetime = Field(description="when the portal says it received it (UTC)")
    receipt_pdf: Path | None = Field(description="the downloaded receipt, if the portal has one")
    screenshots: list[Path] = Field(default_factory=list,
                                    description="the screenshots taken while filing, in order")
    portal_message: str = Field(default="", description="the portal's confirmation text")


class ExistingClaim(_Frozen):
    """A claim found on the portal by contract and invoice number."""

    reference: str
    invoice_number: str
    contract_number: str
    status: PortalStatus = Field(description="the status in the fixed vocabulary")
    portal_status: str = Field(default="", description="the portal's own word for it")


class StatusReport(_Frozen):
    """One claim's status as the portal reports it (from its bulk export)."""

    reference: str
    invoice_number: str
    contract_number: str
    status: PortalStatus = Field(description="the status in the fixed vocabulary")
    portal_status: str = Field(default="", description="the portal's own word for it")
    status_at: dt.datetime | None = None
    comments: list[str] = Field(default_factory=list, description="reviewer comments, oldest first")
    paid_amount: Decimal | None = Field(default=None, description="total paid so far")
    paid_date: dt.date | None = Field(default=None, description="date of the latest payment")
    payment_reference: str | None = None


FinalSubmitHook = Callable[[], None]
"""Called by ``submit``/``resubmit`` right before the final click; raising aborts the click."""


def check_package(package: SubmissionPackage, limits: PortalLimits) -> list[str]:
    """All the ways ``package`` breaks ``limits`` (empty when it is fine), each naming the file."""
    problems: list[str] = []
    if len(package.files) > limits.max_files:
        problems.append(f"{len(package.files)} files: at most {limits.max_files} are allowed")
    seen: set[str] = set()
    for f in package.files:
        suffix = Path(f.filename).suffix
        if suffix.lower() not in limits.allowed_extensions:
            problems.append(f"{f.filename}: extension {suffix or '(none)'} is not allowed")
        elif limits.lowercase_extensions and suffix != suffix.lower():
            problems.append(f"{f.filename}: extension must be lower case")
        if len(f.filename) > limits.max_name_length:
            problems.append(f"{f.filename[:40]}...: name longer than {limits.max_name_length}")
        if limits.unique_names:
            if f.filename in seen:
                problems.append(f"{f.filename}: the same name is used twice")
            seen.add(f.filename)
        try:
            size = f.path.stat().st_size
        except OSError:
            problems.append(f"{f.filename}: file {f.path} cannot be read")
            continue
        if size > limits.max_file_bytes:
            problems.append(f"{f.filename}: {size} bytes, more than {limits.max_file_bytes}")
    return problems


class PortalAdapter(ABC):
    """Drives one account on one portal. Subclass it and register under ``claims.portals``.

    Not thread-safe: one adapter per worker thread, created, used and closed in that thread.
    Usable as a context manager (``close()`` on exit).
    """

    #: The registry name; set by subclasses.
    name: ClassVar[str] = "portal"
    #: What this adapter can do beyond filing and finding (see :class:`Capability`).
    capabilities: ClassVar[frozenset[Capability]] = frozenset()
    #: The pydantic model of this adapter's own keys in ``[portals.<name>]`` (None: none).
    settings_model: ClassVar[type[BaseModel] | None] = None

    def __init__(
        self,
        base_url: str,
        credentials: PortalCredentials,
        *,
        browser: BrowserOptions | None = None,
        state_file: Path,
        evidence_dir: Path,
        settings: BaseModel | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        #: the validated ``settings_model`` of this adapter's extra keys, if it declares one
        self.settings = settings
        self.credentials = credentials
        self.browser_options = browser or BrowserOptions()
        self.state_file = Path(state_file)
        self.evidence_dir = Path(evidence_dir)

    @property
    @abstractmethod
    def limits(self) -> PortalLimits:
        """The portal's attachment rules."""

    @abstractmethod
    def login(self) -> None:
        """Make sure there is a live session (reusing the stored one when it still works)."""

    @abstractmethod
    def find_claim(self, contract_number: str, invoice_number: str) -> ExistingClaim | None:
        """The portal's claim for this invoice on this contract, or None."""

    @abstractmethod
    def submit(
        self,
        package: SubmissionPackage,
        evidence_dir: Path,
        on_final_submit: FinalSubmitHook,
    ) -> Receipt:
        """File a new claim; call ``on_final_submit()`` right before the final click.

        Raises PortalRejected, AlreadySubmitted, AuthenticationFailed, PortalUnavailable,
        PortalTimeout (all before the click: nothing was filed) or OutcomeUnknown (after it).
        """

    @abstractmethod
    def resubmit(
        self,
        reference: str,
        package: SubmissionPackage,
        evidence_dir: Path,
        on_final_submit: FinalSubmitHook,
    ) -> Receipt:
        """Correct a *returned* claim and send it again under the same reference."""

    @abstractmethod
    def fetch_statuses(self) -> list[StatusReport]:
        """Every claim of the account with its status, in one bulk export."""

    @abstractmethod
    def download_documents(self, reference: str, dest: Path) -> list[Path]:
        """Download the claim's documents as the portal holds them into ``dest``."""

    @abstractmethod
    def close(self) -> None:
        """Release the browser; safe to call twice."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
