"""What UBL and CII (Factur-X) share under EN 16931: the draft an e-invoice is read into.

A :class:`Draft` collects the invoice lines, the document-level allowances and charges (which
become extra lines, so that net = sum of lines holds for the core validation), the net per VAT
category and percent (to check the VAT breakdown against), and the findings.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from claims.core.models import Invoice, InvoiceLine
from claims.sources.common import ImportFinding, Severity, money2

ZERO = Decimal(0)


@dataclass(frozen=True)
class AllowanceCharge:
    """A document-level allowance (``charge`` False) or charge, with its VAT category."""

    charge: bool
    amount: Decimal
    reason: str
    code: str | None
    category: str
    percent: Decimal

    def to_json(self) -> dict[str, Any]:
        return {"charge": self.charge, "amount": str(self.amount), "reason": self.reason,
                "code": self.code, "category": self.category, "percent": str(self.percent)}


def _by_category() -> defaultdict[tuple[str, Decimal], Decimal]:
    return defaultdict(lambda: ZERO)


@dataclass
class Draft:
    """An e-invoice being read: its lines, adjustments, net per VAT category, findings."""

    file: str
    lines: list[InvoiceLine] = field(default_factory=list)
    by_category: defaultdict[tuple[str, Decimal], Decimal] = field(default_factory=_by_category)
    line_sum: Decimal = ZERO
    adjustments: list[AllowanceCharge] = field(default_factory=list)
    findings: list[ImportFinding] = field(default_factory=list)

    def finding(self, code: str, message: str, where: str,
                severity: Severity = "error") -> None:
        """Record a finding on ``where`` (a field path) of this file."""
        self.findings.append(ImportFinding(code, severity, message, self.file, where))

    def add_line(self, line: InvoiceLine, category: str, percent: Decimal) -> None:
        """An invoice line of VAT ``category`` / ``percent``."""
        self.by_category[(category, percent)] += line.net
        self.line_sum += line.net
        self.lines.append(line)

    def add_adjustment(self, item: AllowanceCharge, description: str) -> None:
        """A document-level allowance or charge; it becomes a line of quantity 1 (negative for
        an allowance)."""
        self.adjustments.append(item)
        signed = item.amount if item.charge else -item.amount
        self.by_category[(item.category, item.percent)] += signed
        self.lines.append(InvoiceLine(description=description, quantity=Decimal(1),
                                      unit_price=signed, net=signed, vat_percent=item.percent,
                                      vat=money2(signed * item.percent / 100)))

    @property
    def allowances(self) -> Decimal:
        """The sum of the document-level allowances."""
        return sum((a.amount for a in self.adjustments if not a.charge), ZERO)

    @property
    def charges(self) -> Decimal:
        """The sum of the document-level charges."""
        return sum((a.amount for a in self.adjustments if a.charge), ZERO)

    def adjustments_json(self) -> dict[str, list[dict[str, Any]]]:
        """``{"allowances": [...], "charges": [...]}`` for the origin record."""
        return {"allowances": [a.to_json() for a in self.adjustments if not a.charge],
                "charges": [a.to_json() for a in self.adjustments if a.charge]}

    def check(self, checks: Iterable[tuple[str, str, Decimal, Decimal, str]],
              prefix: str) -> None:
        """A finding ``E-<rule>`` for each (rule, name, printed, expected, message) whose
        printed amount is not the expected one; the field is ``prefix/name``."""
        for rule, name, printed, expected, message in checks:
            if printed != expected:
                self.finding(f"E-{rule}", message, f"{prefix}/{name}")


def negate(invoice: Invoice) -> Invoice:
    """The invoice with every amount negated (a credit note owes the other way)."""
    lines = tuple(ln.model_copy(update={"quantity": -ln.quantity, "net": -ln.net,
                                        "vat": -ln.vat}) for ln in invoice.lines)
    return invoice.model_copy(update={"lines": lines, "net": -invoice.net,
                                      "vat": -invoice.vat, "total": -invoice.total})
