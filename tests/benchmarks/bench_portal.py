"""Benchmark portal work against one real sandbox portal in real Chromium (not collected by pytest).

1. Submission: seconds per claim for ``submit_claims`` (what ``claims claim submit --all`` runs:
   leases, intent events, screenshots, receipt PDF, evidence archive records) over N READY claims,
   beside a bare Playwright script doing the same wizard clicks with role/label locators and no
   bookkeeping (sign in with password + TOTP once; per claim: contract/period, invoice fields,
   one upload per document type, declaration, final submit, read the reference). Both upload the
   very same PDF files; the bare script files them under its own supplier and contract. Both
   figures include starting Chromium and signing in once. Aim: within 1.3x.
2. Status sync of 1,000 SUBMITTED claims after the back office moved 300 of them: one
   ``sync_statuses`` run (bulk CSV export; starts Chromium and signs in) beside one page visit
   per claim (the adapter's ``find_claim``) timed over a sample of 50 claims and extrapolated to
   1,000. Aim: under 30 s.
3. The API channel (``chorus``: Chorus Pro's shape over httpx, against the sandbox's JSON API):
   seconds per claim for ``submit_claims`` over N READY claims of a ``chorus`` contract, and for
   the bare adapter (``ChorusProAdapter.submit`` per package: the kit, redacted evidence, no
   workspace), beside a bare ``httpx`` script making the same calls (one token; per claim one
   ``ajouter/fichier`` per file and one ``soumettre``; no evidence, no DB). Aim: within 1.2x.
   Each side has its own PISTE application, so the gateway's per-application rate limit never
   makes one side wait for calls another made.
   Then its status sync over the same counts as 2 (paged search, 500 a page) beside one search
   per claim.

Submission figures come from ``--rounds`` (default 3) alternating rounds: ours and the bare
script run back to back on fresh claims, the order turned each round; the table shows each
side's median s/claim with the rounds' spread, and the median of the per-round ratios (each
from two runs a few seconds apart, so a load swing on the shared machine hits both sides).

    python tests/benchmarks/bench_portal.py            # 3 x 10 claims; sync of 1,000 (300 moved)
    python tests/benchmarks/bench_portal.py --quick    # 3 x 3 claims; sync of 200 (60 moved)
    python tests/benchmarks/bench_portal.py --only api --api-claims 20 --rounds 5   # API only
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from playwright.sync_api import sync_playwright  # noqa: E402
from sqlalchemy import insert, select  # noqa: E402

from claims import api
from claims.workspace import Workspace
from claims.lifecycle import status_sync as tracking  # noqa: E402
from claims.lifecycle import submission as submitting  # noqa: E402
from claims.store import Store  # noqa: E402
from claims.core.models import ClaimStatus, Invoice  # noqa: E402
from claims.samples.workspace import AGENCY, SUPPLIER  # noqa: E402
from claims.store.tables import ClaimRow, ContractRow, InvoiceRow  # noqa: E402
from claims.lifecycle.submission import default_adapter_factory, package_for, submit_claims  # noqa: E402
from claims.lifecycle.status_sync import sync_statuses  # noqa: E402
from claims.workspace import init_workspace  # noqa: E402
from portals.base import SubmissionPackage  # noqa: E402
from portals.browser import launch_options  # noqa: E402
from portals.api_channel import ChorusProAdapter  # noqa: E402
from portals.sandbox.adapter import SandboxAdapter  # noqa: E402
from portals.sandbox.api_testing import chorus_adapter, seed_api_client  # noqa: E402
from portals.recording import EvidenceRecorder  # noqa: E402
from portals.sandbox.testing import (  # noqa: E402
    SandboxServer,
    Supplier,
    running_sandbox,
    seed_supplier,
)
from tests.benchmarks.bench_api_channel import bare_api_submit, relabel  # noqa: E402
from tests.claims.helpers import TODAY  # noqa: E402
from tests.claims.portal_helpers import (  # noqa: E402
    DOC_TYPES,
    point_at_api_portal,
    point_at_portal,
    ready_claims,
)

REFERENCE = re.compile(r"CLM-\d{4}-\d{6}")
ROWS: list[tuple[str, str, str, str]] = []


class Timers:
    """Wall-clock seconds spent inside chosen functions (wrapped in place for one phase)."""

    def __init__(self) -> None:
        self.spent: dict[str, float] = {}
        self._undo: list[tuple[object, str, object]] = []

    def wrap(self, owner: object, name: str, label: str) -> None:
        original = getattr(owner, name)

        def timed(*args: object, **kwargs: object) -> object:
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.spent[label] = self.spent.get(label, 0.0) + time.perf_counter() - start

        self._undo.append((owner, name, original))
        setattr(owner, name, timed)

    def restore(self) -> None:
        for owner, name, original in reversed(self._undo):
            setattr(owner, name, original)
        self._undo.clear()


class EnvPatch:
    """What ``point_at_portal`` needs of pytest's monkeypatch: ``setenv``."""

    def setenv(self, name: str, value: str) -> None:
        os.environ[name] = value


def add_row(measure: str, figure: str, reference: str = "", ratio: str = "") -> None:
    ROWS.append((measure, figure, reference, ratio))
    print(f"  .. {measure}: {figure}  {reference}  {ratio}", flush=True)


# -- 1. submission ------------------------------------------------------------------------------


def bare_submit(server: SandboxServer, supplier: Supplier,
                packages: list[SubmissionPackage], prefix: str) -> tuple[list[str], float]:
    """The same clicks as the adapter, no screenshots, no evidence, no receipt PDF, no DB.
    Returns the references and the seconds spent starting Chromium and signing in."""
    refs: list[str] = []
    start = time.perf_counter()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(**launch_options())  # type: ignore[arg-type]
        page = browser.new_context().new_page()
        page.goto(server.url + "/login")
        page.get_by_label("Username", exact=True).fill(supplier.username)
        page.get_by_label("Password", exact=True).fill(supplier.password)
        with page.expect_navigation():
            page.get_by_role("button", name="Sign in").click()
        page.get_by_label("One-time code", exact=True).fill(supplier.totp_fresh())
        with page.expect_navigation():
            page.get_by_role("button", name="Verify").click()
        setup_s = time.perf_counter() - start
        for i, pkg in enumerate(packages, start=1):
            page.goto(server.url + "/claims/new")
            page.get_by_label("Contract", exact=True).select_option(
                value=supplier.contract_number)
            page.get_by_label("Period start", exact=True).fill(pkg.period_start.isoformat())
            page.get_by_label("Period end", exact=True).fill(pkg.period_end.isoformat())
            with page.expect_navigation():
                page.get_by_role("button", name="Continue").click()
            page.get_by_label("Invoice number", exact=True).fill(f"{prefix}{i:03d}")
            page.get_by_label("Invoice date", exact=True).fill(pkg.invoice_date.isoformat())
            page.get_by_label("Currency", exact=True).fill(pkg.currency)
            page.get_by_label("Net amount", exact=True).fill(f"{pkg.net:.2f}")
            page.get_by_label("VAT amount", exact=True).fill(f"{pkg.vat:.2f}")
            page.get_by_label("Total amount", exact=True).fill(f"{pkg.total:.2f}")
            with page.expect_navigation():
                page.get_by_role("button", name="Continue").click()
            for f in pkg.files:
                page.get_by_label(re.compile(rf"\({re.escape(f.document_type)}\)$")
                                  ).set_input_files(f.path)
            with page.expect_navigation():
                page.get_by_role("button", name="Upload and continue").click()
            page.get_by_label("I declare that the information in this claim is true and complete",
                              exact=True).check()
            with page.expect_navigation():
                page.get_by_role("button", name="Submit claim").click()
            ref = page.get_by_label("Reference number", exact=True).inner_text().strip()
            if not REFERENCE.fullmatch(ref):
                raise RuntimeError(f"bare script: no reference after submit (page shows {ref!r})")
            refs.append(ref)
        browser.close()
    return refs, setup_s


def bench_submit(server: SandboxServer, base: Path, n: int, rounds: int) -> None:
    print(f"\nsubmission: {rounds} alternating rounds of {n} claims, 4 PDFs each", flush=True)
    env = EnvPatch()
    ws = init_workspace(base / "submit-ws")
    ready_claims(ws, server, env, n=n * rounds)  # type: ignore[arg-type]
    claims = sorted(ws.store.list_claims(ClaimStatus.READY.value), key=lambda c: c.id)
    assert len(claims) == n * rounds, f"expected {n * rounds} READY claims, got {len(claims)}"
    packages = [package_for(ws, c) for c in claims]
    bare = seed_supplier(server, contract_number=f"B-{secrets.token_hex(3).upper()}",
                         document_types=DOC_TYPES, currency="SAR")
    warm = seed_supplier(server, contract_number=f"W-{secrets.token_hex(3).upper()}",
                         document_types=DOC_TYPES, currency="SAR")
    # untimed: warms the portal and the OS cache
    bare_submit(server, warm, packages[:1], f"{warm.contract_number}-WARM-")

    timers = Timers()
    timers.wrap(EvidenceRecorder, "snap", "screenshots (EvidenceRecorder.snap)")
    timers.wrap(SandboxAdapter, "_download_receipt", "receipt PDF download")
    timers.wrap(Workspace, "record_evidence", "evidence archive records")
    timers.wrap(SandboxAdapter, "_start", "Chromium start (adapter)")
    timers.wrap(SandboxAdapter, "login", "Chromium start + sign-in (adapter)")
    login = "Chromium start + sign-in (adapter)"
    per: dict[str, list[float]] = {"bare": [], "submit_claims": []}
    steady: dict[str, list[float]] = {"bare": [], "submit_claims": []}
    try:
        for r in range(rounds):  # ours and bare back to back, the order turned each round
            pkgs, ids = packages[r * n:(r + 1) * n], [c.id for c in claims[r * n:(r + 1) * n]]
            for side in (("bare", "ours") if r % 2 == 0 else ("ours", "bare")):
                start = time.perf_counter()
                if side == "bare":
                    refs, setup_s = bare_submit(server, bare, pkgs,
                                                f"{bare.contract_number}-R{r}-")
                    assert len(set(refs)) == n
                    took = time.perf_counter() - start
                    per["bare"].append(took / n)
                    steady["bare"].append((took - setup_s) / n)
                    continue
                before = timers.spent.get(login, 0.0)
                summary = submit_claims(ws, ids=ids)
                took = time.perf_counter() - start
                if not summary.ok or len(summary.outcomes) != n:
                    raise RuntimeError(f"submit_claims did not file {n}: {summary.to_json()}")
                per["submit_claims"].append(took / n)
                steady["submit_claims"].append((took - timers.spent[login] + before) / n)
    finally:
        timers.restore()
    ws.close()
    shots = len(list((ws.evidence_dir / "portal").rglob("*.png")))
    rounds_rows(f"browser n={n} x{rounds}", per, "1.3x")
    rounds_rows("  without Chromium start + sign-in", steady, "1.3x")
    add_row("  screenshots recorded (all claims)", f"{shots}", "", "")
    for label, spent in timers.spent.items():
        add_row(f"  of which {label}, s/claim", f"{spent / (n * rounds):.2f} s", "", "")


# -- 2. status sync -----------------------------------------------------------------------------


def sync_workspace(server: SandboxServer, base: Path, count: int,
                   portal: str = "sandbox") -> tuple[Workspace, list[str]]:
    """A supplier with ``count`` seeded portal claims, and a workspace holding the same claims
    as SUBMITTED with their references (rows written in bulk, no bundles)."""
    number = f"S-{secrets.token_hex(3).upper()}"
    supplier = seed_supplier(server, contract_number=number, document_types=DOC_TYPES,
                             currency="SAR")
    prefix = f"{number}-"
    server.backoffice.seed_claims(number, count, prefix=prefix)
    on_portal = {c["invoice_number"]: c["reference"] for c in server.backoffice.claims()
                 if c.get("contract_number") == number}
    assert len(on_portal) == count, f"portal has {len(on_portal)} claims, expected {count}"

    ws = init_workspace(base / f"sync-ws-{portal}")
    if portal == "chorus":
        point_at_api_portal(ws.root, server, supplier, seed_api_client(server, set_env=False),
                            EnvPatch())
    else:
        point_at_portal(ws.root, server, supplier, EnvPatch())  # type: ignore[arg-type]
    ws.__dict__.pop("settings", None)
    contract = {"number": number, "agency": AGENCY, "portal": portal, "supplier": SUPPLIER,
                "currency": "SAR", "ceiling": "100000000.00",
                "period": {"start": str(TODAY - timedelta(days=300)),
                           "end": str(TODAY + timedelta(days=300))},
                "vat_percent": "15", "claim_types": ["services-milestone"]}
    (ws.root / "contract.yaml").write_text(yaml.safe_dump(contract))
    api.add_contract(ws, ws.root / "contract.yaml")
    invoices = [Invoice.model_validate(
        {"number": inv, "issue_date": str(TODAY), "currency": "SAR", "customer": AGENCY,
         "contract_number": number, "net": "100.00", "vat": "15.00", "total": "115.00"})
        for inv in sorted(on_portal)]
    ws.store.put_invoices(invoices)
    now = datetime.now(UTC)
    with ws.store.engine.begin() as conn:
        contract_id = conn.scalar(select(ContractRow.id).where(ContractRow.number == number))
        inv_ids = dict(conn.execute(select(InvoiceRow.number, InvoiceRow.id)
                                    .where(InvoiceRow.contract_number == number)).all())
        conn.execute(insert(ClaimRow), [
            {"contract_id": contract_id, "invoice_id": inv_ids[inv],
             "claim_type": "services-milestone", "status": ClaimStatus.SUBMITTED.value,
             "portal_reference": ref, "attempts": 1, "created_at": now, "updated_at": now}
            for inv, ref in sorted(on_portal.items())])
    refs = [on_portal[inv] for inv in sorted(on_portal)]
    return ws, refs


def bench_sync(server: SandboxServer, base: Path, count: int, moved: int, sample: int) -> None:
    print(f"\nstatus sync: {count} claims, {moved} moved by the back office", flush=True)
    start = time.perf_counter()
    ws, refs = sync_workspace(server, base, count)
    print(f"  (setup: {time.perf_counter() - start:.1f} s)", flush=True)
    # the back office moves `moved` claims: 2/3 under review, 1/6 rejected, 1/6 approved
    third, sixth = moved * 2 // 3, moved // 6
    for ref in refs[:third]:
        server.backoffice.move(ref, "under_review")
    for ref in refs[third:third + sixth]:
        server.backoffice.move(ref, "rejected")
    for ref in refs[third + sixth:moved]:
        server.backoffice.move(ref, "under_review")
        server.backoffice.move(ref, "approved")

    timers = Timers()
    timers.wrap(SandboxAdapter, "_start", "Chromium start")
    timers.wrap(SandboxAdapter, "_sign_in", "sign-in")
    timers.wrap(SandboxAdapter, "list_statuses", "CSV export (list_statuses)")
    timers.wrap(tracking, "apply_reports", "apply_reports (DB + evidence)")
    timers.wrap(Workspace, "record_evidence", "evidence archive records")
    start = time.perf_counter()
    adapter = default_adapter_factory(ws, "sandbox")
    try:
        try:
            result = sync_statuses(ws, adapter)
        finally:
            timers.restore()
        sync_s = time.perf_counter() - start
        start = time.perf_counter()
        again = sync_statuses(ws, adapter)
        again_s = time.perf_counter() - start
    finally:
        adapter.close()
    if result.seen != count or len(result.changed) != moved or result.failed:
        raise RuntimeError(f"sync saw {result.seen}, changed {len(result.changed)} "
                           f"(expected {count}, {moved}), failed {result.failed}")
    if again.changed or again.failed:
        raise RuntimeError(f"a second sync changed {len(again.changed)} claims")

    adapter = default_adapter_factory(ws, "sandbox")
    try:
        adapter.login()  # untimed: the reference is per-claim page visits on a live session
        contract = ws.store.get_contract(ws.store.get_claim(1).contract_number).number
        inv_by_ref = {c.portal_reference: c.invoice_number for c in ws.store.list_claims()}
        picked = refs[::max(1, count // sample)][:sample]
        start = time.perf_counter()
        for ref in picked:
            found = adapter.find_claim(contract, inv_by_ref[ref])
            if found is None or found.reference != ref:
                raise RuntimeError(f"find_claim did not find {ref}")
        visit_s = (time.perf_counter() - start) / len(picked)
    finally:
        adapter.close()
    ws.close()
    projected = visit_s * count
    add_row(f"status sync, {count} claims ({moved} changed), s", f"{sync_s:.2f} s",
            f"{projected:.1f} s visits", f"{sync_s / projected:.3f}x (aim <30 s)")
    for label, spent in timers.spent.items():
        add_row(f"  of which {label}", f"{spent:.2f} s", "", "")
    add_row("  repeat sync, same session (0 changed)", f"{again_s:.2f} s", "", "")
    add_row(f"one page visit per claim (find_claim), n={len(picked)}", f"{visit_s * 1000:.0f} ms",
            "", "")
    add_row(f"  extrapolated to {count} claims (x{count / len(picked):.0f})",
            f"{projected:.1f} s", "", "1.00x")


# -- 3. the API channel ---------------------------------------------------------------------------


def rounds_rows(label: str, per_claim: dict[str, list[float]], aim: str,
                unit_ms: bool = False) -> None:
    """Rows for repeated alternating runs: each side's median s/claim (with min-max), and the
    median of the per-round ratios against ``bare`` (each ratio from runs made back to back)."""
    fmt = (lambda x: f"{x * 1000:.0f} ms") if unit_ms else (lambda x: f"{x:.2f} s")
    bare = per_claim["bare"]
    for side, samples in per_claim.items():
        spread = f"{fmt(min(samples))}-{fmt(max(samples))}"
        if side == "bare":
            add_row(f"{label}: bare, median s/claim", fmt(statistics.median(samples)),
                    f"rounds {spread}", "1.00x")
            continue
        ratios = [o / b for o, b in zip(samples, bare, strict=True)]
        add_row(f"{label}: {side}, median s/claim", fmt(statistics.median(samples)),
                f"{fmt(statistics.median(bare))} bare; rounds {spread}",
                f"{statistics.median(ratios):.2f}x median of rounds "
                f"({min(ratios):.2f}-{max(ratios):.2f}; aim <={aim})")


def bench_api(server: SandboxServer, base: Path, n: int, rounds: int) -> None:
    print(f"\nAPI channel: {rounds} alternating rounds of {n} claims, 4 PDFs each", flush=True)
    env = EnvPatch()
    ws = init_workspace(base / "api-ws")
    ready_claims(ws, server, env, n=n * rounds, portal="chorus")  # type: ignore[arg-type]
    claims = sorted(ws.store.list_claims(ClaimStatus.READY.value), key=lambda c: c.id)
    assert len(claims) == n * rounds, f"expected {n * rounds} READY claims, got {len(claims)}"
    packages = [package_for(ws, c) for c in claims]
    others = {}
    for side in ("warm", "bare", "kit"):
        others[side] = seed_supplier(server, contract_number=f"A-{secrets.token_hex(3).upper()}",
                                     document_types=DOC_TYPES, currency="SAR")
    # each side its own PISTE application (ours has the workspace's, made by ready_claims):
    # the gateway's rate limit (200 calls/s) is per application, so no side waits for another
    clients = {side: seed_api_client(server) for side in ("warm", "bare", "kit")}
    warm = others["warm"]
    bare_api_submit(server, warm, clients["warm"],
                    relabel(packages[:2], warm.contract_number, "WARM-"))

    timers = Timers()
    timers.wrap(Workspace, "record_evidence", "evidence archive records")
    timers.wrap(ChorusProAdapter, "sign_in", "token (adapter)")
    timers.wrap(ChorusProAdapter, "final_click", "soumettre (adapter)")
    timers.wrap(ChorusProAdapter, "attach", "ajouter/fichier uploads (adapter)")
    timers.wrap(submitting, "take_lease", "take_lease")
    timers.wrap(submitting, "package_for", "package_for (claim.json from the bag)")
    timers.wrap(Store, "record_event", "claim events (Store.record_event)")
    timers.wrap(Store, "get_claim", "claim reads (Store.get_claim)")
    per: dict[str, list[float]] = {"bare": [], "ChorusProAdapter.submit": [],
                                   "submit_claims": []}
    cpu: dict[str, list[float]] = {side: [] for side in per}  # this process, not the portal

    def run_bare(r: int, pkgs: list[SubmissionPackage], ids: list[int]) -> float:
        start = time.perf_counter()
        refs, _ = bare_api_submit(server, others["bare"], clients["bare"],
                                  relabel(pkgs, others["bare"].contract_number, f"B{r}-"))
        assert len(set(refs)) == n
        return time.perf_counter() - start

    def run_kit(r: int, pkgs: list[SubmissionPackage], ids: list[int]) -> float:
        start = time.perf_counter()
        with chorus_adapter(server, others["kit"], clients["kit"], base / f"kit{r}") as adapter:
            for i, pkg in enumerate(relabel(pkgs, others["kit"].contract_number, f"K{r}-")):
                adapter.submit(pkg, base / f"kit{r}" / f"ev-{i:04d}", lambda: None)
        return time.perf_counter() - start

    def run_ours(r: int, pkgs: list[SubmissionPackage], ids: list[int]) -> float:
        start = time.perf_counter()
        summary = submit_claims(ws, ids=ids)
        if not summary.ok or len(summary.outcomes) != n:
            raise RuntimeError(f"submit_claims did not file {n} claims: {summary.to_json()}")
        return time.perf_counter() - start

    sides = [("bare", run_bare), ("ChorusProAdapter.submit", run_kit),
             ("submit_claims", run_ours)]
    try:
        for r in range(rounds):  # ours and bare interleaved, the order turned each round
            pkgs, ids = packages[r * n:(r + 1) * n], [c.id for c in claims[r * n:(r + 1) * n]]
            for name, fn in sides[r % 3:] + sides[:r % 3]:
                used = time.process_time()
                per[name].append(fn(r, pkgs, ids) / n)
                cpu[name].append((time.process_time() - used) / n)
    finally:
        timers.restore()
    ws.close()
    on_portal = [c for c in server.backoffice.claims() if c["invoice_number"].startswith(
        tuple(p.invoice_number for p in packages))]
    assert len(on_portal) == n * rounds, f"{len(on_portal)} of the workspace's claims on portal"
    rounds_rows(f"API n={n} x{rounds}", per, "1.2x", unit_ms=True)
    # steadier on a shared machine than wall time: the client's CPU per claim, same rounds
    rounds_rows(f"API n={n} x{rounds} client CPU", cpu, "-", unit_ms=True)
    for label, spent in timers.spent.items():
        add_row(f"  of which {label}, per claim", f"{spent / (n * rounds) * 1000:.0f} ms", "",
                "")


def bench_api_sync(server: SandboxServer, base: Path, count: int, moved: int,
                   sample: int) -> None:
    print(f"\nAPI channel status sync: {count} claims, {moved} moved", flush=True)
    ws, refs = sync_workspace(server, base, count, portal="chorus")
    for ref in refs[:moved]:
        server.backoffice.move(ref, "under_review")
    adapter = default_adapter_factory(ws, "chorus")
    try:
        start = time.perf_counter()
        result = sync_statuses(ws, adapter)
        sync_s = time.perf_counter() - start
        if result.seen != count or len(result.changed) != moved or result.failed:
            raise RuntimeError(f"sync saw {result.seen}, changed {len(result.changed)}")
        contract = ws.store.get_contract(ws.store.get_claim(1).contract_number).number
        inv_by_ref = {c.portal_reference: c.invoice_number for c in ws.store.list_claims()}
        picked = refs[::max(1, count // sample)][:sample]
        start = time.perf_counter()
        for ref in picked:
            found = adapter.find_claim(contract, inv_by_ref[ref])
            if found is None or found.reference != ref:
                raise RuntimeError(f"find_claim did not find {ref}")
        lookup_s = (time.perf_counter() - start) / len(picked)
    finally:
        adapter.close()
    ws.close()
    projected = lookup_s * count
    add_row(f"API status sync, {count} claims ({moved} changed), s", f"{sync_s:.2f} s",
            f"{projected:.1f} s lookups", f"{sync_s / projected:.3f}x (aim <30 s)")
    add_row(f"  one search per claim (find_claim), n={len(picked)}",
            f"{lookup_s * 1000:.0f} ms", "", "")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="3 claims; sync of 200")
    parser.add_argument("--claims", type=int, default=None, help="claims to submit (default 10)")
    parser.add_argument("--api-claims", type=int, default=None,
                        help="claims per round through the API channel (default 20; --quick 10)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="alternating rounds (ours and bare back to back; medians reported)")
    parser.add_argument("--only", choices=("all", "browser", "submit", "sync", "api"),
                        default="all", help="browser: submit + sync; api: the API channel")
    args = parser.parse_args(argv)
    api_n = args.api_claims or (10 if args.quick else 20)
    n = args.claims or (3 if args.quick else 10)
    count, moved, sample = (200, 60, 10) if args.quick else (1000, 300, 50)
    with tempfile.TemporaryDirectory(prefix="bench-portal-") as tmp:
        base = Path(tmp)
        with running_sandbox(base / "portal") as server:
            if args.only in ("all", "browser", "submit"):
                bench_submit(server, base, n, args.rounds)
            if args.only in ("all", "browser", "sync"):
                bench_sync(server, base, count, moved, sample)
            if args.only in ("all", "api"):
                bench_api(server, base, api_n, args.rounds)
                bench_api_sync(server, base, count, moved, sample)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())  # ok: load average, not money
    print(f"\nbench_portal ({'quick' if args.quick else 'full'}, {args.only}; one sandbox, "
          "headless Chromium; "
          f"{os.cpu_count()} CPUs, load {load} - figures swing with other load on the machine)")
    widths = [max(len(r[i]) for r in [("measure", "figure", "reference", "ratio"), *ROWS])
              for i in range(4)]
    for r in [("measure", "figure", "reference", "ratio"), *ROWS]:
        print("  " + "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
