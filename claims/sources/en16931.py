"""What UBL and CII (Factur-X) share under EN 16931: the draft an e-invoice is read into.

A :class:`Draft` collects the invoice lines, the document-level allowances and charges (which
become extra lines, so that net = sum of lines holds for the core validation), the net per VAT
category and percent (to check the VAT breakdown against), and the findings.

The business rules are checked at the tolerance their publisher gives them, and every finding
carries the rule's id in its code (``E-<rule>`` refuses, ``W-<rule>`` is kept with the invoice):

* line net = quantity × (price / base quantity) − allowances + charges: EN 16931 has no such
  rule; PEPPOL-EN16931-R120 allows 0.02. Beyond that it is a warning (the document's totals
  are what it states), never a refusal.
* VAT of a category = taxable × rate (BR-CO-17 and BR-S-09, BR-Z-09 … per category): the CEN
  schematron allows less than one unit of rounding either way; within it, a warning.
* the taxable amount of a category (BR-S-08 …) and the document totals (BR-CO-10 … BR-CO-16):
  exact.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from claims.core.models import Invoice, InvoiceLine
from claims.sources.common import ImportFinding, Severity, money2, plain

ZERO = Decimal(0)

#: PEPPOL-EN16931-R120: how far a line net may be from quantity × net price.
LINE_TOLERANCE = Decimal("0.02")
#: BR-CO-17 / BR-S-09 (CEN schematron): a category's VAT within less than one unit either way.
VAT_TOLERANCE = Decimal(1)
#: The EN 16931 rule family of each VAT category code (BR-S-…, BR-Z-…, BR-IC-… for K, …).
CATEGORY_RULES = {"S": "S", "Z": "Z", "E": "E", "AE": "AE", "K": "IC", "G": "G", "O": "O",
                  "L": "AF", "M": "AG"}


def category_rule(category: str, number: int) -> str:
    """The rule id of ``category``'s rule ``number``: ``category_rule("S", 9)`` → BR-S-09."""
    return f"BR-{CATEGORY_RULES.get(category, category)}-{number:02d}"


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

    def check_line(self, where: str, net: Decimal, qty: Decimal, unit: Decimal,
                   allowances: Decimal = ZERO, charges: Decimal = ZERO) -> None:
        """A warning (PEPPOL-EN16931-R120, 0.02 allowed) if the line net is not quantity ×
        unit price − allowances + charges; EN 16931 itself has no such rule."""
        expected = qty * unit - allowances + charges
        if abs(net - expected) > LINE_TOLERANCE:
            self.finding("W-PEPPOL-EN16931-R120",
                         f"line net {plain(net)} is not {plain(qty)} × {plain(unit.normalize())} − "
                         f"{plain(allowances)} + {plain(charges)} = {plain(money2(expected))} "
                         f"(PEPPOL allows {LINE_TOLERANCE}; EN 16931 has no such rule)",
                         where, "warning")

    def check_category(self, where: str, category: str, percent: Decimal, taxable: Decimal,
                       tax: Decimal) -> None:
        """The taxable amount (BR-x-08, exact) and VAT (BR-x-09 / BR-CO-17, less than one unit
        of rounding is a warning) of one VAT breakdown entry against the lines."""
        label = f"VAT {category} {plain(percent)}%"
        expected_taxable = self.by_category.get((category, percent), ZERO)
        if taxable != expected_taxable:
            self.finding(f"E-{category_rule(category, 8)}",
                         f"{label}: taxable {plain(taxable)} is not the lines, allowances and "
                         f"charges of that category ({plain(expected_taxable)})",
                         f"{where}/taxable")
        expected = money2(taxable * percent / 100)
        diff = abs(tax - expected)
        if diff:
            severity: Severity = "warning" if diff < VAT_TOLERANCE else "error"
            self.finding(f"{severity[0].upper()}-{category_rule(category, 9)}",
                         f"{label}: {plain(tax)} is not {plain(percent)}% of {plain(taxable)} "
                         f"({plain(expected)}; BR-CO-17 allows less than one unit)",
                         f"{where}/tax", severity)

    def check_categories_present(self, seen: set[tuple[str, Decimal]], where: str) -> None:
        """An error (BR-x-01) for each category the lines use that has no breakdown entry;
        a category whose lines sum to 0.00 (a settled prepayment line) needs none."""
        for key in sorted(set(self.by_category) - seen):
            if self.by_category[key] != ZERO:
                self.finding(f"E-{category_rule(key[0], 1)}",
                             f"lines of VAT category {key[0]} {plain(key[1])}% have no VAT "
                             "breakdown entry", where)

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


def normalise_name(text: str | None) -> str | None:
    """A party name with its runs of whitespace (newlines, tabs) made one space."""
    return " ".join(text.split()) if text is not None else None


def negate(invoice: Invoice) -> Invoice:
    """The invoice with every amount negated (a credit note owes the other way)."""
    lines = tuple(ln.model_copy(update={"quantity": -ln.quantity, "net": -ln.net,
                                        "vat": -ln.vat}) for ln in invoice.lines)
    return invoice.model_copy(update={"lines": lines, "net": -invoice.net,
                                      "vat": -invoice.vat, "total": -invoice.total})
