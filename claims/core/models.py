"""The domain: pydantic models, immutable, with ``Decimal`` money, kept apart from the tables.

The store (:mod:`claims.store`) maps these to and from SQLAlchemy rows; nothing here does I/O.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from claims.core.money import (
    CURRENCIES, AmountOutOfRange, RoundingMode, check_amount, check_range, read_amount,
    to_decimal,
)
from claims.errors import InputError


def _amount(value: Any) -> Decimal:
    return to_decimal(value)


#: A money amount: a ``Decimal`` given as a string, int or Decimal, never a binary float.
Amount = Annotated[Decimal, BeforeValidator(_amount)]


class Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def _currency(code: str) -> str:
    if code not in CURRENCIES:
        raise ValueError(f"unknown currency {code!r} (ISO 4217 code expected)")
    return code


Currency = Annotated[str, BeforeValidator(lambda v: _currency(str(v).upper()))]


class Rounding(Model):
    """How amounts are rounded: the contract says; default half-up to 2 places per line."""

    mode: RoundingMode = Field("half-up", description="half-up, half-even, down or up")
    places: int = Field(2, ge=0, le=4, description="decimal places")
    per: Literal["line", "total"] = Field(
        "line", description="round each line's VAT (line) or only the invoice total (total)")


class PaymentTerms(Model):
    """When an invoice falls due: net N days, or end of month + N days."""

    kind: Literal["net", "eom"] = Field("net",
                                        description="net: issue + days; eom: month end + days")
    days: int = Field(30, ge=0, le=365, description="days after the invoice date / month end")


class DocumentRule(Model):
    """What a claim type requires of one kind of supporting document."""

    type: str = Field(description="document type, e.g. completion-certificate")
    required: bool = Field(True, description="must be attached to every claim of this type")
    media_types: tuple[str, ...] = Field(("application/pdf",), description="allowed, by content")
    max_bytes: int = Field(10 * 1024 * 1024, gt=0, description="largest file the portal takes")
    must_mention: tuple[Literal["invoice_number", "total", "contract_number"], ...] = Field(
        (), description="facts the document's text must carry")
    check_expiry: bool = Field(False, description="must not be expired on the submission date")
    max_age_days: int | None = Field(None, ge=0, description="issued at most this many days ago")


class ClaimType(Model):
    """A kind of claim (services milestone, monthly services, goods delivery, …)."""

    name: str
    title: str
    schema_id: str = Field(description="the JSON Schema its claim.json must satisfy")
    needs_period: bool = Field(False, description="the claim covers a service period (month)")
    needs_milestone: bool = Field(False, description="the claim is for a named milestone")
    documents: tuple[DocumentRule, ...]


class Contract(Model):
    """A government contract, described once and validated against schemas/contract."""

    number: str = Field(description="the agency's contract number, e.g. C-123")
    title: str = ""
    agency: str = Field(description="the contracting agency")
    portal: str = Field("sandbox", description="portal adapter name (entry point claims.portals)")
    supplier: str = Field("", description="our legal name as the agency knows it")
    currency: Currency
    ceiling: Amount = Field(description="total value the claims may not exceed")
    period_start: date
    period_end: date
    vat_percent: Amount = Field(description="VAT rate in percent, e.g. 15")
    retention_percent: Amount = Field(Decimal(0), description="withheld from each claim, %")
    payment_terms: PaymentTerms = PaymentTerms()
    rounding: Rounding = Rounding()
    date_order: Literal["DMY", "MDY"] | None = Field(
        None, description="how numeric dates are written in its documents (none: an "
                          "ambiguous one like 01/12/2027 is refused, not guessed)")
    claim_types: tuple[str, ...] = Field(description="claim types allowed on this contract")
    extra_documents: tuple[DocumentRule, ...] = Field(
        (), description="documents this contract requires on top of its claim types'")

    @model_validator(mode="after")
    def _ceiling_in_range(self) -> Contract:
        """The ceiling passes the one money check of its currency (minor unit, limit)."""
        check_amount(self.ceiling, self.currency, field="ceiling")
        return self


def ceiling_problem(data: dict[str, Any]) -> InputError | None:
    """The rule a stored contract's ceiling breaks (``data`` as stored: JSON), as the
    :class:`InputError` naming the contract, ``/ceiling`` and the rule (``amount-range``: above
    the largest amount, written into the database directly or by an older version), or None.
    The check is the contract file's own (:func:`claims.core.money.read_amount`)."""
    currency = data.get("currency")
    if currency not in CURRENCIES:  # not this rule: the model names an unknown currency
        return None
    try:
        read_amount(data.get("ceiling"), currency, file=f"contract {data.get('number')}",
                    field="/ceiling")
    except InputError as err:
        return err
    return None


def stored_contract(data: dict[str, Any]) -> Contract:
    """A contract as stored (JSON), read back; :func:`ceiling_problem`'s error when its ceiling
    breaks a rule (one line, never a pydantic traceback)."""
    if (problem := ceiling_problem(data)) is not None:
        raise problem
    return Contract.model_validate(data)


#: the money of an invoice line, each within its invoice currency's limit
LINE_AMOUNTS = ("net", "vat", "unit_price")


class InvoiceLine(Model):
    description: str
    quantity: Amount
    unit_price: Amount
    net: Amount = Field(description="quantity × unit price as printed on the invoice")
    vat_percent: Amount | None = Field(None,
                                       description="the line's VAT rate, % (else the contract's)")
    vat: Amount = Field(description="the line's VAT as printed")


class Invoice(Model):
    number: str
    issue_date: date
    due_date: date | None = None
    currency: Currency
    customer: str = Field("", description="who is billed: the agency or a private client")
    contract_number: str | None = Field(None, description="the contract it bills, if any")
    period_start: date | None = None
    period_end: date | None = None
    lines: tuple[InvoiceLine, ...] = ()
    net: Amount
    vat: Amount
    total: Amount
    source: str = Field("manual", description="where it came from: manual, csv, ubl, zoho, …")

    @model_validator(mode="before")
    @classmethod
    def _amounts_in_range(cls, data: Any) -> Any:
        """net, VAT and total within their currency's limit, read with the currency (before
        the currency-blind reading of each field), so a refusal names the currency."""
        currency = str(data.get("currency", "")).upper() if isinstance(data, dict) else ""
        if currency not in CURRENCIES:
            return data
        lines = data.get("lines")
        for field, value in [(name, data.get(name, 0)) for name in ("net", "vat", "total")] + [
                (f"lines/{i}/{name}", line.get(name, 0))
                for i, line in enumerate(lines if isinstance(lines, (list, tuple)) else ())
                if isinstance(line, dict) for name in LINE_AMOUNTS]:
            try:
                to_decimal(value, field=field, currency=currency)
            except AmountOutOfRange:
                raise
            except ValueError:
                continue  # not an amount: the field's own reading names it
        return data

    @model_validator(mode="after")
    def _amounts_in_minor_units(self) -> Invoice:
        """net, VAT and total, and each line's net, VAT and unit price, pass the one money
        check of the invoice's currency: its maximum magnitude, and (all but a unit price,
        which may be finer) its minor unit."""
        for name in ("net", "vat", "total"):
            check_amount(getattr(self, name), self.currency, field=name)
        for i, line in enumerate(self.lines):
            check_amount(line.net, self.currency, field=f"lines/{i}/net")
            check_amount(line.vat, self.currency, field=f"lines/{i}/vat")
            check_range(line.unit_price, self.currency, field=f"lines/{i}/unit_price")
        return self


class Document(Model):
    """A supporting file as stored in the workspace (content-addressed, read-only)."""

    type: str
    filename: str = Field(description="the name the user gave it")
    stored_path: str = Field(description="path inside the workspace")
    size: int
    sha256: str
    media_type: str
    pages: int | None = None
    issue_date: date | None = None
    expiry_date: date | None = None


class ClaimStatus(str, enum.Enum):
    DRAFT = "DRAFT"                    # created, not validated since its last change
    INVALID = "INVALID"                # validation found errors
    VALID = "VALID"                    # validation passed
    READY = "READY"                    # bundle built from a valid claim
    SUBMITTING = "SUBMITTING"          # intent persisted, final click may have happened
    UNKNOWN = "UNKNOWN"                # outcome unknown: reconcile on the portal before retrying
    SUBMITTED = "SUBMITTED"            # the portal gave a reference
    REJECTED_BY_PORTAL = "REJECTED_BY_PORTAL"
    NEEDS_ATTENTION = "NEEDS_ATTENTION"
    UNDER_REVIEW = "UNDER_REVIEW"
    RETURNED = "RETURNED"              # returned for correction by the agency
    APPROVED = "APPROVED"
    PAYMENT_ORDERED = "PAYMENT_ORDERED"
    PAID = "PAID"
    REJECTED = "REJECTED"
    WITHDRAWN = "WITHDRAWN"            # withdrawn by the supplier before submission


#: Statuses after which a claim's content is frozen: the portal has (or may have) it.
FROZEN = frozenset({ClaimStatus.SUBMITTING, ClaimStatus.UNKNOWN, ClaimStatus.SUBMITTED,
                    ClaimStatus.UNDER_REVIEW, ClaimStatus.APPROVED,
                    ClaimStatus.PAYMENT_ORDERED, ClaimStatus.PAID})

#: Statuses of claims that count for nothing: not toward the ceiling, not as a duplicate,
#: not as a receivable claimed.
DEAD = frozenset({ClaimStatus.REJECTED, ClaimStatus.REJECTED_BY_PORTAL, ClaimStatus.WITHDRAWN})

#: Statuses from which a claim may be withdrawn: the portal has never had it.
WITHDRAWABLE = frozenset({ClaimStatus.DRAFT, ClaimStatus.INVALID, ClaimStatus.VALID,
                          ClaimStatus.READY, ClaimStatus.NEEDS_ATTENTION,
                          ClaimStatus.REJECTED_BY_PORTAL})


class ClaimEvent(Model):
    at: datetime
    kind: str
    status: ClaimStatus | None = None
    actor: str = ""
    detail: dict[str, Any] = Field(default_factory=dict)


class Claim(Model):
    id: int
    contract_number: str
    invoice_number: str
    claim_type: str
    period_start: date | None = None
    period_end: date | None = None
    milestone: str | None = None
    status: ClaimStatus
    documents: tuple[Document, ...] = ()
    created_at: datetime
    portal_reference: str | None = None
    bundle_path: str | None = None
    bundle_sha256: str | None = None
    events: tuple[ClaimEvent, ...] = ()
