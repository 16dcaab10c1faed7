"""The validation rules: everything a portal would reject a claim for, found before it does.

:func:`validate_claim` returns every finding at once. The rules are plain functions of the
domain models (and the stored files), so each one is tested on its own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from claims.core.claimtypes import claim_type, document_rules
from claims.lifecycle.documents.pdf import PdfInspection
from claims.lifecycle.documents.text import (
    amount_spellings, find_ambiguous_dates, find_labelled_dates,
)
from claims.lifecycle.documents.stored import (copy_changed, inspect_for_store, search,
                                              stored_sha256)
from claims.core.models import Claim, Contract, Document, DocumentRule, Invoice
from claims.core.money import fmt, quantize
from claims.lifecycle.validation.findings import Finding, error, info, warning

#: A certificate that expires within this many days of the submission date gets a warning.
EXPIRY_WARNING_DAYS = 14


@dataclass(frozen=True)
class Context:
    """Everything the rules look at for one claim."""

    claim: Claim
    contract: Contract
    invoice: Invoice
    root: Path                      # the workspace: stored document paths are relative to it
    as_of: date                     # the submission date the rules check against
    earlier: list[tuple[int, str, str, Decimal]]   # other live claims: (id, invoice, status, total)
    invoice_changed: bool = False
    inspections: dict[str, PdfInspection] = field(default_factory=dict)  # by sha256
    hashes: dict[Path, str] = field(default_factory=dict)  # stored copies hashed, by path
    #: the caller (``claim build``) checks each stored copy's SHA-256 on the very bytes it
    #: copies, so the rules check its size only and do not read it a second time
    copies_hashed_later: bool = False


def _rounded(ctx: Context, amount: Decimal) -> Decimal:
    r = ctx.contract.rounding
    return quantize(amount, r.places, r.mode)


def check_arithmetic(ctx: Context) -> list[Finding]:
    """Each line's net and VAT, then the invoice's totals, with the contract's rounding."""
    inv, contract, out = ctx.invoice, ctx.contract, []
    rate = contract.vat_percent
    if not inv.lines:
        out.append(error("E-INV-004", "the invoice has no lines", file="invoice",
                         pointer="/invoice/lines"))
    for i, line in enumerate(inv.lines):
        where = {"file": "invoice", "pointer": f"/invoice/lines/{i}"}
        expected_net = _rounded(ctx, line.quantity * line.unit_price)
        if line.net != expected_net:
            out.append(error("E-INV-001", f"line {i + 1}: net {fmt(line.net)} is not "
                             f"{line.quantity} × {fmt(line.unit_price)} (expected "
                             f"{fmt(expected_net)})", **where))
        line_rate = line.vat_percent if line.vat_percent is not None else rate
        if line_rate != rate:
            out.append(error("E-VAT-001", f"line {i + 1}: VAT rate {line_rate}% is not the "
                             f"contract's {rate}%", **where))
        if contract.rounding.per == "line":
            expected_vat = _rounded(ctx, line.net * line_rate / 100)
            if line.vat != expected_vat:
                out.append(error("E-VAT-003", f"line {i + 1}: VAT {fmt(line.vat)} is not "
                                 f"{line_rate}% of {fmt(line.net)} (expected "
                                 f"{fmt(expected_vat)})", **where))
    net_sum = sum((ln.net for ln in inv.lines), Decimal(0))
    if inv.lines and inv.net != net_sum:
        out.append(error("E-INV-002", f"net {fmt(inv.net)} is not the sum of the lines "
                         f"(expected {fmt(net_sum)})", file="invoice", pointer="/invoice/net"))
    if contract.rounding.per == "line" and inv.lines:
        expected_vat = sum((ln.vat for ln in inv.lines), Decimal(0))
    else:
        expected_vat = _rounded(ctx, inv.net * rate / 100)
    if inv.vat != expected_vat:
        out.append(error("E-VAT-002", f"VAT {fmt(inv.vat)} is not {rate}% of net "
                         f"{fmt(inv.net)} (expected {fmt(expected_vat)})", file="invoice",
                         pointer="/invoice/vat"))
    if inv.total != inv.net + inv.vat:
        out.append(error("E-INV-003", f"total {fmt(inv.total)} is not net + VAT (expected "
                         f"{fmt(inv.net + inv.vat)})", file="invoice", pointer="/invoice/total"))
    return out


def check_contract_terms(ctx: Context) -> list[Finding]:
    """Currency, contract period, claim period, claim type, ceiling, duplicates, retention."""
    inv, contract, claim, out = ctx.invoice, ctx.contract, ctx.claim, []
    if inv.currency != contract.currency:
        out.append(error("E-CUR-001", f"invoice is in {inv.currency}, the contract in "
                         f"{contract.currency}", file="invoice", pointer="/invoice/currency"))
    if not contract.period_start <= inv.issue_date <= contract.period_end:
        out.append(error("E-PER-001", f"invoice date {inv.issue_date} is outside the contract "
                         f"period {contract.period_start} to {contract.period_end}",
                         file="invoice", pointer="/invoice/issue_date"))
    if inv.contract_number and (inv.contract_number.strip().casefold()
                                != contract.number.strip().casefold()):
        out.append(error("E-CON-003", f"invoice {inv.number} states contract "
                         f"{inv.contract_number}, but the claim is on contract "
                         f"{contract.number}", file="invoice",
                         pointer="/invoice/contract_number"))
    if claim.claim_type not in contract.claim_types:
        out.append(error("E-CON-002", f"claim type {claim.claim_type} is not allowed on "
                         f"contract {contract.number} (allowed: "
                         f"{', '.join(contract.claim_types)})", pointer="/claim_type"))
    ctype = claim_type(claim.claim_type)
    if ctype.needs_period:
        if claim.period_start is None or claim.period_end is None:
            out.append(error("E-PER-002", f"a {claim.claim_type} claim needs its service "
                             "period (--period YYYY-MM)", pointer="/period"))
        else:
            if not (contract.period_start <= claim.period_start
                    and claim.period_end <= contract.period_end):
                out.append(error("E-PER-003", f"service period {claim.period_start} to "
                                 f"{claim.period_end} is outside the contract period",
                                 pointer="/period"))
            if claim.period_end > ctx.as_of:
                out.append(error("E-PER-004", f"service period ends {claim.period_end}, after "
                                 f"the submission date {ctx.as_of}", pointer="/period/end"))
    if ctype.needs_milestone and not claim.milestone:
        out.append(error("E-MIL-001", f"a {claim.claim_type} claim names its milestone "
                         "(--milestone)", pointer="/milestone"))
    for other_id, number, status, _total in ctx.earlier:
        if number == inv.number:
            out.append(error("E-DUP-001", f"invoice {inv.number} is already claimed on contract "
                             f"{contract.number} by claim {other_id} ({status})",
                             file="invoice", pointer="/invoice/number"))
    claimed_before = sum((t for _i, _n, _s, t in ctx.earlier), Decimal(0))
    after = claimed_before + inv.total
    if after > contract.ceiling:
        out.append(error("E-CEIL-001", f"claims would total {fmt(after)}, over the contract "
                         f"ceiling {fmt(contract.ceiling)} by {fmt(after - contract.ceiling)} "
                         f"({fmt(claimed_before)} claimed before)", pointer="/amounts/claimed"))
    elif contract.ceiling and after > contract.ceiling * Decimal("0.9"):
        out.append(warning("W-CEIL-002", f"claims will total {fmt(after)}, over 90% of the "
                           f"ceiling {fmt(contract.ceiling)}", pointer="/amounts/claimed"))
    if contract.retention_percent:
        retention = _rounded(ctx, inv.total * contract.retention_percent / 100)
        out.append(info("I-RET-001", f"{contract.retention_percent}% retention: "
                        f"{fmt(retention)} withheld, {fmt(inv.total - retention)} payable now",
                        pointer="/amounts/retention"))
    if ctx.invoice_changed:
        out.append(warning("W-SRC-001", f"invoice {inv.number} changed since this claim was "
                           "made; check the documents still match it", file="invoice"))
    return out


def _needles(rule: DocumentRule, ctx: Context) -> dict[str, list[str]]:
    wanted: dict[str, list[str]] = {}
    for fact in rule.must_mention:
        if fact == "invoice_number":
            wanted[fact] = [ctx.invoice.number]
        elif fact == "total":
            wanted[fact] = amount_spellings(ctx.invoice.total)
        elif fact == "contract_number":
            wanted[fact] = [ctx.contract.number]
    return wanted


def copy_changed_finding(filename: str, changed: str) -> Finding:
    """The finding for the stored copy of ``filename`` that is not the bytes recorded at
    intake (``changed``: :func:`copy_changed`'s words)."""
    return error("E-DOC-009", f"the {changed}", file=filename)


def stored_copy_finding(ctx: Context, doc: Document, *, hash_it: bool = True) -> Finding | None:
    """A stored copy missing, of another size or (``hash_it``) not of its recorded SHA-256."""
    path = ctx.root / doc.stored_path
    try:
        on_disk = path.stat().st_size
    except OSError:
        return error("E-DOC-009", "the stored copy is missing from the workspace",
                     file=doc.filename)
    if on_disk != doc.size:
        return error("E-DOC-009", f"the stored copy changed size ({on_disk:,} bytes, not "
                     f"{doc.size:,})", file=doc.filename)
    if not hash_it:
        return None
    try:
        changed = copy_changed(doc.sha256, stored_sha256(path, ctx.hashes))
    except OSError as err:
        changed = f"stored copy cannot be read ({err.strerror or err})"
    return copy_changed_finding(doc.filename, changed) if changed else None


def check_document(ctx: Context, doc: Document, rule: DocumentRule) -> list[Finding]:
    """One document against its rule: type by content, size, PDF health, text, dates."""
    out: list[Finding] = []
    name = doc.filename
    path = ctx.root / doc.stored_path
    if problem := stored_copy_finding(ctx, doc, hash_it=not ctx.copies_hashed_later):
        return [problem]
    wanted = _needles(rule, ctx)
    spellings = [s for group in wanted.values() for s in group]
    report = ctx.inspections.get(doc.sha256) or inspect_for_store(path)
    found = search(report, spellings)
    if report.media_type not in rule.media_types:
        out.append(error("E-DOC-003", f"is {report.media_type} by its content, not "
                         f"{' or '.join(rule.media_types)}", file=name))
        return out
    if doc.size > rule.max_bytes:
        out.append(error("E-DOC-004", f"{doc.size:,} bytes is over the {rule.max_bytes:,}-byte "
                         f"limit for {rule.type}", file=name))
    stored_name = Path(doc.stored_path).name
    for problem in report.problems:  # named by the user's file, not the stored copy's hash
        out.append(error(f"E-PDF-{problem.code.upper()}",
                         problem.message.removeprefix(f"{stored_name}: "), file=name,
                         page=problem.page))
    if report.problems:
        return out
    unread = f" in the pages read ({report.budget_note})" if report.budget_note else ""
    if report.budget_note:
        out.append(warning("W-DOC-011", f"not every page was read: {report.budget_note}; "
                           "what stands after that was not checked", file=name))
    for fact, options in wanted.items():
        if not any(found.get(s) for s in options):
            shown = options[0]
            out.append(error("E-DOC-005", f"does not mention the {fact.replace('_', ' ')} "
                             f"{shown}{unread}", file=name))
    out += _dated_findings(ctx, doc, rule, report)
    return out


def _document_dates(report: PdfInspection, date_order: str | None
                    ) -> tuple[dict[str, tuple[date, int]], dict[str, tuple[str, int]]]:
    """The dates a document states, by label: the earliest expiry and the last issue date
    (with their pages), and the first ambiguous numeric date of each label."""
    dates, ambiguous = list(report.dates), []
    if report.texts:  # read again with the contract's date order
        dates = [(label, d, page) for page, text in enumerate(report.texts, start=1)
                 for label, d in find_labelled_dates(text, date_order)]
        ambiguous = [(label, raw, page) for page, text in enumerate(report.texts, start=1)
                     for label, raw in find_ambiguous_dates(text, date_order)]
    found = {label: (d, page) for label, d, page in dates if label == "issue"}
    expiries = [(d, page) for label, d, page in dates if label == "expiry"]
    if expiries:
        found["expiry"] = min(expiries)  # a certificate is good until its earliest expiry
    unclear: dict[str, tuple[str, int]] = {}
    for label, raw, page in ambiguous:
        unclear.setdefault(label, (raw, page))
    return found, unclear


def _ambiguous(label: str, raw: str, page: int, flag: str, name: str) -> Finding:
    return error("E-DOC-010", f"its {label} date {raw} is ambiguous (day and month could be "
                 f"swapped): give {flag} TYPE=YYYY-MM-DD or set the contract's date_order "
                 "(DMY or MDY)", file=name, page=page)


def _dated_findings(ctx: Context, doc: Document, rule: DocumentRule,
                    report: PdfInspection) -> list[Finding]:
    """Expiry (the earliest stated) and age (the issue date) against the submission date."""
    out: list[Finding] = []
    name = doc.filename
    found_dates, unclear = _document_dates(report, ctx.contract.date_order)
    if rule.check_expiry:
        expiry, page = doc.expiry_date, None
        if expiry is None and "expiry" in found_dates:
            expiry, page = found_dates["expiry"]
        if doc.expiry_date is None and "expiry" in unclear:
            out.append(_ambiguous("expiry", *unclear["expiry"], "--expiry", name))
        elif expiry is None:
            out.append(error("E-DOC-007", "cannot tell when it expires: the text states no "
                             "expiry date and none was given (--expiry)", file=name))
        elif expiry < ctx.as_of:
            out.append(error("E-DOC-006", f"expired on {expiry}, before the submission date "
                             f"{ctx.as_of}", file=name, page=page))
        elif expiry < ctx.as_of + timedelta(days=EXPIRY_WARNING_DAYS):
            out.append(warning("W-DOC-006", f"expires on {expiry}, within "
                               f"{EXPIRY_WARNING_DAYS} days", file=name, page=page))
    if rule.max_age_days is not None:
        issued, page = doc.issue_date, None
        if issued is None and "issue" in unclear:
            out.append(_ambiguous("issue", *unclear["issue"], "--issued", name))
        elif issued is None and "issue" in found_dates:
            issued, page = found_dates["issue"]
        if issued is not None and (ctx.as_of - issued).days > rule.max_age_days:
            out.append(error("E-DOC-008", f"issued {issued}, more than {rule.max_age_days} "
                             f"days before the submission date {ctx.as_of}", file=name,
                             page=page))
    return out


def check_documents(ctx: Context) -> list[Finding]:
    """Each required document present, nothing unexpected, each document on its own rule."""
    rules = document_rules(ctx.contract, ctx.claim.claim_type)
    out: list[Finding] = []
    present = {d.type for d in ctx.claim.documents}
    for doc_type, rule in rules.items():
        if rule.required and doc_type not in present:
            out.append(error("E-DOC-001", f"the required {doc_type} is missing",
                             pointer="/documents"))
    for doc in ctx.claim.documents:
        rule = rules.get(doc.type)
        if rule is None:
            out.append(warning("W-DOC-002", f"{doc.type} is not asked for by a "
                               f"{ctx.claim.claim_type} claim; it will be sent anyway",
                               file=doc.filename))
            rule = DocumentRule(type=doc.type)
        out.extend(check_document(ctx, doc, rule))
    return out


RULES: tuple[Callable[[Context], list[Finding]], ...] = (
    check_arithmetic, check_contract_terms, check_documents,
)


def run_rules(ctx: Context) -> list[Finding]:
    """All rules, all findings: errors first, then warnings, then notes."""
    findings = [f for rule in RULES for f in rule(ctx)]
    order = {"error": 0, "warning": 1, "info": 2}
    return sorted(findings, key=lambda f: order[f.severity])
