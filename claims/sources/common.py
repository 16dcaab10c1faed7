"""What every invoice source shares: the parsed record, findings, and the :class:`ImportBatch`.

A source module only *reads* (a file, an API) and returns :class:`SourceInvoice` records; storing
them — customers and contacts matched or created, invoices added / unchanged / changed /
conflicting, the import recorded — is :func:`claims.sources.store.store_batch`, the same for all.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, Literal

from pydantic import ValidationError

from claims.errors import InputError
from claims.core.models import Invoice
from claims.core.moments import check_date
from claims.core.money import CURRENCIES, quantize

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class ImportFinding:
    """A problem found in a source invoice: a recomputed total that disagrees, a bad QR code…

    Errors stop the whole import (nothing is stored); warnings are stored with the invoice.
    """

    code: str
    severity: Severity
    message: str
    file: str = ""
    field: str = ""

    def __str__(self) -> str:
        where = ": ".join(p for p in (self.file, self.field) if p)
        return f"{self.code} {where}: {self.message}" if where else f"{self.code} {self.message}"

    def to_json(self) -> dict[str, str]:
        return {"code": self.code, "severity": self.severity, "message": self.message,
                "file": self.file, "field": self.field}


@dataclass(frozen=True)
class ContactRef:
    """A person at a customer, as the source knows them (finance contacts get reminders)."""

    name: str
    email: str | None = None
    phone: str | None = None
    role: str = "finance"
    external_id: str | None = None


@dataclass(frozen=True)
class CustomerRef:
    """Who is billed, as the source knows them; matched by external id, then tax id, then name."""

    name: str
    external_id: str | None = None
    tax_id: str | None = None
    email: str | None = None
    contacts: tuple[ContactRef, ...] = ()


@dataclass
class SourceInvoice:
    """One invoice read from a source, before it is stored."""

    invoice: Invoice
    origin: str                                 # the file (and row) or API id it came from
    kind: Literal["invoice", "credit-note"] = "invoice"
    external_id: str | None = None
    customer: CustomerRef | None = None
    document: bytes | None = None               # the invoice PDF, if the source has one
    document_name: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    findings: list[ImportFinding] = field(default_factory=list)


@dataclass
class InvoiceChange:
    """An invoice whose source content differs from what we stored: field → (old, new)."""

    number: str
    conflict: bool                              # kept as it was: the old content is relied on
    fields: dict[str, tuple[Any, Any]]
    reason: str = ""                            # a conflict's why, in words

    def to_json(self) -> dict[str, Any]:
        out = {"number": self.number, "conflict": self.conflict,
               "fields": {k: {"old": o, "new": n} for k, (o, n) in self.fields.items()}}
        return out | ({"reason": self.reason} if self.conflict else {})


@dataclass
class ImportBatch:
    """What one import did (or, with ``dry_run``, would do). Its ``to_json`` is the CLI's
    ``--json`` output."""

    source: str
    target: str
    input_sha256: str
    dry_run: bool = False
    import_id: int | None = None
    invoices: int = 0
    added: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    changed: list[InvoiceChange] = field(default_factory=list)
    conflicts: list[InvoiceChange] = field(default_factory=list)
    #: updated invoices whose explicit payment terms no longer fit them and were removed
    terms_removed: list[str] = field(default_factory=list)
    customers_added: int = 0
    contacts_added: int = 0
    findings: list[ImportFinding] = field(default_factory=list)
    requests: int = 0
    cursor: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"source": self.source, "target": self.target, "input_sha256": self.input_sha256,
                "dry_run": self.dry_run, "import_id": self.import_id, "invoices": self.invoices,
                "added": self.added, "unchanged": self.unchanged,
                "changed": [c.to_json() for c in self.changed],
                "conflicts": [c.to_json() for c in self.conflicts],
                "terms_removed": self.terms_removed,
                "customers_added": self.customers_added, "contacts_added": self.contacts_added,
                "findings": [f.to_json() for f in self.findings], "requests": self.requests,
                "cursor": self.cursor, **({"detail": self.detail} if self.detail else {})}


class ImportRejected(InputError):
    """The input has error findings; nothing was imported. ``findings`` holds all of them."""

    def __init__(self, findings: Iterable[ImportFinding], *, file: str | None = None) -> None:
        self.findings = list(findings)
        errors = [f for f in self.findings if f.severity == "error"]
        lines = "\n".join(f"  {f}" for f in errors[:50])
        more = f"\n  … and {len(errors) - 50} more" if len(errors) > 50 else ""
        super().__init__(f"{len(errors)} error finding(s), nothing imported\n{lines}{more}",
                         file=file, rule="import-findings")


def sha256_of(chunks: Iterable[bytes]) -> str:
    """The sha256 of the concatenated input, to record exactly what was imported."""
    digest = hashlib.sha256()
    for chunk in chunks:
        digest.update(chunk)
    return digest.hexdigest()


def check_currency(code: str, *, file: str, field: str) -> str:
    """``code`` upper-cased if it is a known ISO 4217 currency, else an :class:`InputError`."""
    value = (code or "").strip().upper()
    if value not in CURRENCIES:
        raise InputError(f"unknown currency {code!r} (ISO 4217 code expected)", file=file,
                         field=field, rule="known-currency")
    return value


def make_invoice(data: dict[str, Any], *, file: str, where: str = "") -> Invoice:
    """An :class:`Invoice` from ``data``, or an :class:`InputError` naming file and field."""
    try:
        invoice = Invoice.model_validate(data)
    except ValidationError as err:
        first = err.errors()[0]
        loc = "/".join(str(p) for p in first["loc"])
        raise InputError(first["msg"], file=file, field=f"{where}/{loc}" if where else loc,
                         rule="invoice-model") from None
    return check_invoice(invoice, file=file, where=where)


#: The longest invoice or contract number a door takes: the store's column (String(64)).
MAX_NUMBER_LENGTH = 64
#: The longest customer name a door takes: the store's column (String(200)).
MAX_CUSTOMER_LENGTH = 200


def check_invoice(invoice: Invoice, *, file: str, where: str = "") -> Invoice:
    """``invoice`` if it may come in, the rule of every invoice door (an invoice file, an
    import); else an :class:`InputError` naming file and field. Its number (and contract
    number) is 1 to :data:`MAX_NUMBER_LENGTH` characters without control characters and not
    blank (rule ``invoice-number``); its customer at most :data:`MAX_CUSTOMER_LENGTH`
    characters without control characters (rule ``customer-name``); its dates pass
    :func:`check_invoice_dates`. Stored invoices are read without it: the rule is the door's,
    not the model's."""
    prefix = f"{where}/" if where else ""
    for name in ("number", "contract_number"):
        value = getattr(invoice, name)
        if value is None:
            continue
        if not value.strip() or len(value) > MAX_NUMBER_LENGTH or any(
                ord(c) < 32 or ord(c) == 127 for c in value):
            raise InputError(f"{value[:80]!r}: an invoice's {name.replace('_', ' ')} is 1 to "
                             f"{MAX_NUMBER_LENGTH} characters, not blank, without control "
                             "characters", file=file, field=f"{prefix}{name}",
                             rule="invoice-number")
    if len(invoice.customer) > MAX_CUSTOMER_LENGTH or any(
            ord(c) < 32 or ord(c) == 127 for c in invoice.customer):
        raise InputError(f"{invoice.customer[:80]!r}: a customer's name is at most "
                         f"{MAX_CUSTOMER_LENGTH} characters, without control characters",
                         file=file, field=f"{prefix}customer", rule="customer-name")
    return check_invoice_dates(invoice, file=file, where=where)


def check_invoice_dates(invoice: Invoice, *, file: str, where: str = "") -> Invoice:
    """``invoice`` if its dates are ones an invoice can have, the rule of every invoice door
    (an invoice file, an import); else an :class:`InputError` naming file and field: each date
    within the one range of dates (:func:`claims.core.moments.check_date`, rule
    ``date-range``), the due date not before the issue date (rule ``due-after-issue``).
    Stored invoices are read without it: the rule is the door's, not the model's."""
    prefix = f"{where}/" if where else ""
    for name in ("issue_date", "due_date", "period_start", "period_end"):
        if getattr(invoice, name) is not None:
            check_date(getattr(invoice, name), f"{prefix}{name}", file=file)
    if invoice.due_date is not None and invoice.due_date < invoice.issue_date:
        raise InputError(f"due date {invoice.due_date} is before the issue date "
                         f"{invoice.issue_date}", file=file, field=f"{prefix}due_date",
                         rule="due-after-issue")
    return invoice


def money2(amount: Decimal, places: int = 2) -> Decimal:
    """Half-up to the currency's places, the rounding e-invoicing rules (EN 16931) use."""
    return quantize(amount, places, "half-up")


def plain(amount: Decimal) -> str:
    """``amount`` as a plain decimal for a message, never with an exponent: ``1E+3`` →
    ``1000``; its places kept (``0.30`` stays ``0.30``)."""
    return format(amount, "f")


def parse_iso_date(text: str | None, *, file: str, field: str) -> date:
    """A ``YYYY-MM-DD`` date or a clear error."""
    try:
        return date.fromisoformat((text or "").strip()[:10])
    except ValueError:
        raise InputError(f"{text!r} is not a date (YYYY-MM-DD expected)", file=file,
                         field=field, rule="date-format") from None
