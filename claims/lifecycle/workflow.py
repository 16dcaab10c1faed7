"""A claim's life before the portal: contracts and invoices in, a claim made from them and
its documents, validated, bundled, corrected after a return, or withdrawn.

Every function takes the workspace first; :mod:`claims.api` hands them to users.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import calendar
import re
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import structlog
from evidence import BlobBatch, EvidenceError, Staged, flush_batches

import schemas
from claims.lifecycle.bagcheck import bundle_problems
from claims.lifecycle.bundle import (
    Bundle, StagedBundle, claim_document, place_bundle, stage_bundle,
)
from claims.errors import (
    BundleError, ClaimsError, ConflictError, EvidenceFailed, InputError, NotFound,
    StoredCopyChanged, UnknownName, ValidationFailed,
)
from claims.lifecycle.documents.door import accept_documents
from claims.lifecycle.documents.stored import from_json
from claims.lifecycle.intake import load_contract, load_invoices, schema_findings
from claims.core.models import (
    DEAD, FROZEN, Claim, ClaimStatus, Contract, ceiling_problem, stored_contract,
)
from claims.store import ImportResult
from claims.lifecycle.validation.findings import Finding, error, has_errors
from claims.lifecycle.validation.rules import (
    Context, copy_changed_finding, run_rules, stored_copy_finding,
)

if TYPE_CHECKING:  # only a type here: the workspace composes this slice
    from claims.workspace import Workspace

log = structlog.get_logger("claims")

#: Claims whose bundle is (or was) what the portal gets: it must stay as built.
BUILT = FROZEN | {ClaimStatus.READY}

_PERIOD = re.compile(r"^(\d{4})-(\d{2})$")


def add_contract(ws: Workspace, path: Path, *, replace: bool = False) -> tuple[Contract, bool]:
    """Load, check and store a contract file; returns (contract, was it new)."""
    contract = load_contract(path)
    new = ws.store.put_contract(contract, source_file=str(path), replace=replace)
    log.info("contract.added", contract=contract.number, new=new)
    return contract, new


def add_invoices(ws: Workspace, path: Path) -> ImportResult:
    """Load invoices from a JSON / YAML / CSV file and store them all, or none."""
    result = ws.store.put_invoices(load_invoices(path))
    log.info("invoices.added", file=str(path), added=len(result.added),
             unchanged=len(result.unchanged), changed=len(result.changed),
             conflicts=len(result.conflicts))
    return result


def parse_period(text: str) -> tuple[date, date]:
    """``2026-03`` → (2026-03-01, 2026-03-31)."""
    match = _PERIOD.match(text.strip())
    if not match or not 1 <= int(match[2]) <= 12:
        raise InputError(f"{text!r} is not a month like 2026-03", field="--period",
                         rule="period-format")
    year, month = int(match[1]), int(match[2])
    return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])


def new_claim(ws: Workspace, contract_number: str, invoice_number: str,
              documents: Sequence[tuple[str, str]], *, claim_type: str | None = None,
              period: str | None = None, milestone: str | None = None,
              expiry: dict[str, date] | None = None,
              issued: dict[str, date] | None = None) -> Claim:
    """Create a DRAFT claim from stored contract and invoice and the given document files.

    ``documents`` are (type, path) pairs. Each file is checked (path, type name, size) and copied
    into the workspace's content-addressed store; on any error nothing is stored.
    """
    contract = ws.store.get_contract(contract_number)
    ws.store.get_invoice(invoice_number)
    if claim_type is None:
        if len(contract.claim_types) != 1:
            raise InputError(f"contract {contract.number} allows several claim types "
                             f"({', '.join(contract.claim_types)}); choose one with --type",
                             field="--type", rule="claim-type-required")
        claim_type = contract.claim_types[0]
    start = end = None
    if period:
        start, end = parse_period(period)
    with accept_documents(ws, contract, claim_type, documents, expiry, issued) as docs:
        claim = ws.store.create_claim(contract_number=contract.number,
                                      invoice_number=invoice_number, claim_type=claim_type,
                                      documents=docs, period_start=start, period_end=end,
                                      milestone=milestone, actor=ws.actor)
    log.info("claim.created", claim=claim.id, contract=contract.number, invoice=invoice_number)
    return claim


def correct_claim(ws: Workspace, claim_id: int, documents: Sequence[tuple[str, str]], *,
                  expiry: dict[str, date] | None = None,
                  issued: dict[str, date] | None = None) -> Claim:
    """Correct a claim the agency RETURNED: replace the documents of the given types.

    The claim goes back to DRAFT keeping its portal reference; once validated and rebuilt (a
    new bundle revision), ``submit`` resubmits it under that same reference.
    """
    claim = ws.store.get_claim(claim_id)
    if claim.status is not ClaimStatus.RETURNED:
        raise ConflictError(f"claim {claim_id} is {claim.status.value}; only a claim the "
                            "agency RETURNED is corrected")
    if not documents:
        raise InputError("give at least one --doc TYPE=FILE to replace", field="--doc",
                         rule="correction-documents")
    contract = ws.store.get_contract(claim.contract_number)
    with accept_documents(ws, contract, claim.claim_type, documents, expiry, issued) as docs:
        ws.store.replace_claim_documents(claim_id, docs, actor=ws.actor)
    log.info("claim.corrected", claim=claim_id, replaced=[t for t, _ in documents])
    return ws.store.get_claim(claim_id)


def today_utc() -> date:
    """Today in UTC: the one clock of ``--as-of`` (its default) and a bag's Bagging-Date (the
    UTC day the claim was made), whatever the machine's time zone."""
    return datetime.now(UTC).date()


def bundles_folder(ws: Workspace, contract_number: str) -> Path:
    """``bundles/<contract number>``, refused unless it is one plain folder name that stays
    inside the workspace's ``bundles/`` (the schema constrains numbers; this is the guard)."""
    base = ws.bundles_dir.resolve()
    folder = (base / contract_number).resolve()
    if (contract_number in ("", ".", "..") or contract_number.startswith(".")
            or Path(contract_number).name != contract_number or folder.parent != base):
        raise InputError(f"contract number {contract_number!r} cannot name a folder inside "
                         f"{base}", field="number", rule="contract-number-path")
    return folder


def _context(ws: Workspace, claim_id: int, as_of: date | None, *,
             copies_hashed_later: bool = False, data: dict[str, Any] | None = None) -> Context:
    """The rules' context of a claim, from ``data`` (its :meth:`Store.claim_context`, read
    with a group's) or read now."""
    data = data if data is not None else ws.store.claim_context(claim_id)
    return Context(claim=data["claim"], contract=data["contract"], invoice=data["invoice"],
                   root=ws.root, as_of=as_of or today_utc(), earlier=data["earlier"],
                   invoice_changed=data["invoice_changed"],
                   inspections={sha: from_json(i) for sha, i in data["inspections"].items()},
                   copies_hashed_later=copies_hashed_later)


def _findings(ctx: Context) -> list[Finding]:
    findings = run_rules(ctx)
    if not has_errors(findings):
        findings += schema_findings(claim_document(ctx.claim, ctx.contract, ctx.invoice),
                                    schemas.load(f"claim-types/{ctx.claim.claim_type}"),
                                    file="claim.json", code="E-SCHEMA-002")
    return findings


def findings_for(ws: Workspace, claim: Claim, *, as_of: date | None = None) -> list[Finding]:
    """Every finding for ``claim`` as of ``as_of`` (default today), without recording anything."""
    ctx = _context(ws, claim.id, as_of)
    return _findings(ctx) + _bundle_findings(ctx.claim)


def validate_claim(ws: Workspace, claim_id: int, *, as_of: date | None = None) -> list[Finding]:
    """Validate and record the outcome (status VALID or INVALID, unless already submitted)."""
    ctx = _context(ws, claim_id, as_of)
    claim = ctx.claim
    findings = _findings(ctx) + _bundle_findings(claim)
    errors = [f for f in findings if f.is_error]
    if claim.status not in FROZEN | DEAD and claim.status is not ClaimStatus.READY:
        status = ClaimStatus.INVALID if errors else ClaimStatus.VALID
        ws.store.record_event(claim_id, "validated", status=status, actor=ws.actor,
                              detail={"errors": len(errors),
                                      "codes": sorted({f.code for f in errors})})
    log.info("claim.validated", claim=claim_id, errors=len(errors), findings=len(findings))
    return findings


def _bundle_findings(claim: Claim) -> list[Finding]:
    """A READY or submitted claim's bundle, re-read against its recorded bag digest."""
    if not (claim.bundle_path and claim.bundle_sha256) or claim.status not in BUILT:
        return []
    return [error("E-BAG-001", f"the built bundle changed: {problem}",
                  file=Path(claim.bundle_path).name)
            for problem in bundle_problems(Path(claim.bundle_path), claim.bundle_sha256)]


def _has_bundle_evidence(ws: Workspace, claim_id: int, bag_digest: str) -> bool:
    try:
        entries = ws.evidence.entries(str(claim_id))
    except EvidenceError as err:
        raise EvidenceFailed(str(err)) from err
    return any(e.kind == "bundle.built" and e.metadata.get("bag_digest") == bag_digest
               for e in entries)


def _built_event(p: _Pending, bundle: Bundle) -> tuple[
        str, str, dict[str, Any], dict[str, Path | Staged], BlobBatch]:
    """The ``bundle.built`` evidence of a placed bundle, as :meth:`Workspace.record_evidence_many`
    takes it: the tag files, claim.json and the payload PDFs byte for byte (staged while the
    bag was built, or read back from a reused bag)."""
    files: dict[str, Path | Staged] = {name: bundle.directory / name for name in (
        "bag-info.txt", "manifest-sha256.txt", "tagmanifest-sha256.txt")}
    files["claim.json"] = bundle.directory / "data" / "claim.json"
    files |= {pdf.name: pdf for pdf in sorted((bundle.directory / "data" / "documents").iterdir())}
    files |= bundle.staged  # what was staged as the bag was built is not read again
    return ("bundle.built", str(p.claim.id),
            {"bag_digest": bundle.bag_digest, "zip": bundle.zip_path.name,
             "contract": p.contract, "invoice": p.invoice,
             "payload_bytes": bundle.payload_bytes, "files": bundle.files}, files, p.batch)


#: :func:`build_claims` flushes once per this many claims, or sooner when this many payload
#: bytes wait (bounds what is staged and not yet durable)
FLUSH_CLAIMS = 16
FLUSH_BYTES = 256 * 1024 * 1024


@dataclass
class _Pending:
    """A claim validated and its bundle staged (or found intact), waiting for the flush."""

    claim: Claim
    contract: str
    invoice: str
    batch: BlobBatch
    bundle: Bundle | StagedBundle


def build_claim(ws: Workspace, claim_id: int, *, out_dir: Path | None = None,
                as_of: date | None = None) -> Bundle:
    """Validate, then build the bundle; raises :class:`ValidationFailed` on error findings.

    The ``bundle.built`` evidence is recorded before the claim goes READY, so the two succeed
    or fail together: a build that fails between them leaves the claim as it was, and the
    next build (reusing the intact bundle) writes the evidence that is missing.
    """
    done, failed = build_claims(ws, [claim_id], out_dir=out_dir, as_of=as_of)
    if failed:
        raise failed[claim_id]
    return done[claim_id]


def build_claims(ws: Workspace, claim_ids: Sequence[int], *, out_dir: Path | None = None,
                 as_of: date | None = None, fail_fast: bool = False,
                 on_each: Callable[[int], None] | None = None
                 ) -> tuple[dict[int, Bundle], dict[int, ClaimsError]]:
    """:func:`build_claim` for each of ``claim_ids``; returns (bundles, failures) by id.

    Claims are validated and their bundles staged (zip, bag folder, evidence blobs) a group
    at a time (:data:`FLUSH_CLAIMS` claims or :data:`FLUSH_BYTES` payload bytes), then one
    flush makes every staged zip and blob of the group durable; only after it is each bundle
    moved into place, its ``bundle.built`` evidence committed and the claim marked READY, so
    nothing is READY before its bytes and evidence are on disk. A failing claim fails alone
    (a failed flush fails its whole group, leaving those claims as they were); with
    ``fail_fast`` no claim is placed or started after the first failure. ``on_each`` is
    called with each id once it is done or failed.
    """
    if out_dir is not None and out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"{out_dir} is a file, not a folder for bundles", field="--out",
                         rule="out-is-folder")
    done: dict[int, Bundle] = {}
    failed: dict[int, ClaimsError] = {}
    todo = list(claim_ids)
    while todo and not (fail_fast and failed):
        # the group's claims read together, as they stand when it starts (none of them
        # changes before the flush); one left for the next group is read again then
        contexts = ws.store.claim_contexts(todo[:FLUSH_CLAIMS])
        with ExitStack() as stack:
            group: list[_Pending] = []
            waiting = 0
            while todo and len(group) < FLUSH_CLAIMS and waiting < FLUSH_BYTES:
                claim_id = todo.pop(0)
                try:
                    if claim_id not in contexts:
                        raise NotFound("claim", claim_id)
                    pending = _stage_claim(ws, contexts[claim_id], out_dir, as_of, stack)
                except ClaimsError as err:
                    failed[claim_id] = err
                    if on_each:
                        on_each(claim_id)
                    if fail_fast:
                        break
                    continue
                group.append(pending)
                if isinstance(pending.bundle, StagedBundle):
                    waiting += pending.bundle.plan.payload_bytes
            _flush_and_finish(ws, group, done, failed, on_each, fail_fast)
    return done, failed


def _stage_claim(ws: Workspace, data: dict[str, Any], out_dir: Path | None,
                 as_of: date | None, stack: ExitStack) -> _Pending:
    claim_id = data["claim"].id
    # each stored copy is hashed once, as it is copied: validation checks its size only
    ctx = _context(ws, claim_id, as_of, copies_hashed_later=True, data=data)
    claim, contract, invoice = ctx.claim, ctx.contract, ctx.invoice
    if claim.status in FROZEN and claim.bundle_path is None or claim.status in DEAD:
        raise ConflictError(f"claim {claim_id} is {claim.status.value}; it cannot be rebuilt")
    findings = _findings(ctx)
    if has_errors(findings):
        raise ValidationFailed(claim_id, findings)
    # the bag's files become evidence blobs as it is built; what is not committed is dropped
    batch = stack.enter_context(ws.evidence_batch())
    try:
        bundle = stage_bundle(claim, contract, invoice, root=ws.root,
                              out_dir=out_dir or bundles_folder(ws, contract.number),
                              bagging_date=claim.created_at.date(), blobs=batch)
    except StoredCopyChanged as err:  # the bytes read to be copied are not the recorded ones
        raise ValidationFailed(claim_id, [copy_changed_finding(err.filename, err.changed)]
                               + findings) from err
    if isinstance(bundle, Bundle):  # reused: no stored copy was read, so hash them now
        if changed := [f for d in claim.documents if (f := stored_copy_finding(ctx, d))]:
            raise ValidationFailed(claim_id, changed + findings)
    if isinstance(bundle, StagedBundle):
        stack.callback(bundle.discard)
    return _Pending(claim, contract.number, invoice.number, batch, bundle)


def _flush_and_finish(ws: Workspace, group: list[_Pending], done: dict[int, Bundle],
                      failed: dict[int, ClaimsError], on_each: Callable[[int], None] | None,
                      fail_fast: bool) -> None:
    """One flush for the group's staged zips and blobs, then each claim placed (one that
    fails there fails alone; with ``fail_fast`` the rest of the group is left as it was, its
    staged bundles dropped), the placed claims' evidence recorded in one ledger transaction
    (failing, it fails them all, none READY), then each marked READY."""
    try:
        flush_batches([p.batch for p in group], also=[
            path for p in group if isinstance(p.bundle, StagedBundle) for path in p.bundle.due])
    except OSError as err:
        for p in group:
            failed[p.claim.id] = BundleError(f"cannot make the bundle durable: "
                                             f"{err.strerror or err}", claim_id=p.claim.id)
            if on_each:
                on_each(p.claim.id)
        return
    placed: list[tuple[_Pending, Bundle, bool]] = []
    for p in group:
        if fail_fast and failed:
            break   # the rest is left as it was: its staged bundles are dropped
        try:
            placed.append((p, *_place(ws, p)))
        except ClaimsError as err:
            failed[p.claim.id] = err
            if on_each:
                on_each(p.claim.id)
    events = [_built_event(p, bundle) for p, bundle, new in placed if new]
    try:   # the group's evidence in one ledger transaction: all or none
        if events:
            ws.record_evidence_many(events)
    except ClaimsError as err:
        for p, _, _ in placed:
            failed[p.claim.id] = err
            if on_each:
                on_each(p.claim.id)
        return
    for p, bundle, _ in placed:   # READY only once its evidence is committed
        try:
            done[p.claim.id] = _mark_ready(ws, p.claim, bundle)
        except ClaimsError as err:
            failed[p.claim.id] = err
        if on_each:
            on_each(p.claim.id)


def _place(ws: Workspace, p: _Pending) -> tuple[Bundle, bool]:
    """Move a staged bundle into place (a reused one is there); returns it and whether its
    ``bundle.built`` evidence is still to be recorded."""
    bundle = place_bundle(p.bundle) if isinstance(p.bundle, StagedBundle) else p.bundle
    return bundle, not (bundle.reused and _has_bundle_evidence(ws, p.claim.id,
                                                                bundle.bag_digest))


def _mark_ready(ws: Workspace, claim: Claim, bundle: Bundle) -> Bundle:
    if claim.status not in FROZEN:
        ws.store.record_event(claim.id, "bundle.built", status=ClaimStatus.READY,
                              actor=ws.actor, detail={"zip": str(bundle.zip_path),
                                                      "bag_digest": bundle.bag_digest,
                                                      "reused": bundle.reused},
                              bundle_path=str(bundle.zip_path),
                              bundle_sha256=bundle.bag_digest)
    log.info("claim.built", claim=claim.id, zip=str(bundle.zip_path), reused=bundle.reused)
    return bundle


def list_contracts(ws: Workspace) -> tuple[list[Contract], list[InputError]]:
    """Every stored contract that reads, by number, and the error of each one left out
    because its stored ceiling breaks a rule (:func:`ceiling_problem`, e.g. above the largest
    amount: written into the database directly or by an older version)."""
    contracts: list[Contract] = []
    problems: list[InputError] = []
    for data in ws.store.contract_data():
        problem = ceiling_problem(data)
        if problem is None:
            contracts.append(stored_contract(data))
        else:
            problems.append(problem)
    return contracts, problems


def list_claims(ws: Workspace, status: str | None = None) -> list[Claim]:
    """Claims (with this status, case-insensitive), by id; an unknown status word is an
    error with a suggestion, not an empty list."""
    if status:
        words = [s.value for s in ClaimStatus]
        if status.upper() not in words:
            raise UnknownName("status", status.upper(), words, field="--status")
    return ws.store.list_claims(status=status.upper() if status else None)


def get_claim(ws: Workspace, claim_id: int) -> Claim:
    """One claim with its documents and history; :class:`NotFound` if there is none."""
    return ws.store.get_claim(claim_id)


def target_claims(ws: Workspace, claim_id: int | None, all_: bool, *,
                  unfrozen: bool = False) -> list[int]:
    """The claims a command acts on: one id, or every claim with ``all_`` (leaving out those
    the portal has or may have when ``unfrozen``)."""
    if claim_id is None and not all_:
        raise InputError("give a claim ID or --all", field="ID", rule="target-required")
    if claim_id is not None and all_:
        raise InputError("give a claim ID or --all, not both", field="ID", rule="one-target")
    if claim_id is not None:
        return [claim_id]
    ids = ws.store.claim_ids()
    if unfrozen:
        ids = [i for i in ids if ws.store.get_claim(i).status not in FROZEN | DEAD]
    return ids


def withdraw_claim(ws: Workspace, claim_id: int, *, reason: str) -> Claim:
    """Withdraw a claim the portal never had (DRAFT … READY, or refused by the portal): it
    counts no more toward the ceiling or as a duplicate, and stays in history and evidence."""
    if not reason.strip():
        raise InputError("a withdrawal needs a reason", field="--reason", rule="non-empty")
    was = ws.store.withdraw_claim(claim_id, reason=reason.strip(), actor=ws.actor)
    ws.record_evidence(kind="claim.withdrawn", claim=str(claim_id),
                       metadata={"reason": reason.strip(), "from": was.value})
    log.info("claim.withdrawn", claim=claim_id, was=was.value)
    return ws.store.get_claim(claim_id)


def check_buildable(ws: Workspace, claim_id: int, *, as_of: date | None = None) -> None:
    """Validate as ``build`` would, building nothing; :class:`ValidationFailed` on errors."""
    findings = findings_for(ws, ws.store.get_claim(claim_id), as_of=as_of)
    if has_errors(findings):
        raise ValidationFailed(claim_id, findings)


def built_bundle_problems(ws: Workspace, claim: str | None = None
                          ) -> tuple[int, list[tuple[str, str, str]]]:
    """READY and submitted claims (or only ``claim``) against their bundles and evidence:
    a claim with no ``bundle.built`` evidence of its bag, and a bundle whose bytes changed.
    Returns (claims checked, problems as (code, where, message)). A malformed ledger row is
    left out here: the archive's own check reports it (``entry-malformed``)."""
    claims = ws.store.claims_with_status([s.value for s in BUILT])
    if claim is not None:
        claims = [c for c in claims if str(c.id) == claim.strip()]
    recorded: dict[str, set[str]] = {}
    try:
        for entry in ws.evidence.entries(claim, skip_malformed=True):
            if entry.kind == "bundle.built" and entry.claim is not None:
                recorded.setdefault(entry.claim, set()).add(
                    str(entry.metadata.get("bag_digest")))
    except EvidenceError as err:
        raise EvidenceFailed(str(err)) from err
    problems = []
    for c in claims:
        where = f"claim {c.id}"
        if not (c.bundle_path and c.bundle_sha256):
            problems.append(("claim-bundle-missing", where,
                             f"{c.status.value} but no bundle is recorded"))
            continue
        if c.bundle_sha256 not in recorded.get(str(c.id), set()):
            problems.append(("claim-bundle-evidence-missing", where,
                             f"{c.status.value} with no bundle.built evidence of its bag "
                             f"{c.bundle_sha256[:16]}… (run `claims claim build {c.id}` to "
                             "record it, if the claim is not yet submitted)"))
        problems += [("claim-bundle-changed", where, p)
                     for p in bundle_problems(Path(c.bundle_path), c.bundle_sha256)]
    return len(claims), problems
