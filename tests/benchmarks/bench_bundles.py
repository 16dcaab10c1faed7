"""Benchmark: validate + build claims, beside bagit.make_bag and SHA-256 of the same bytes.

    python tests/benchmarks/bench_bundles.py [--claims N] [--quick] [--big]

Each claim has a 2-page invoice and five supporting PDFs, about 4.6 MB in all (the two large
attachments are random bytes, so no two claims share them). 2N claims a round are taken in
first (intake: copy + hash + inspect each PDF into the workspace, timed on its own and left out
of the build figures); then, in ``--rounds`` rounds whose order of parts turns each round
(each part starts after ``os.sync()``, so none pays for another's dirty pages), printed side by
side as totals over the rounds:

- validate + build one claim at a time (``api.build_claim``, as ``claims claim build ID``):
  one flush per claim, on the first N claims;
- validate + build as ``claims claim build --all`` does (``api.build_claims``): one flush per
  group of up to 16 claims, on the other N;
- bagit.make_bag (sha256 only, ``processes=1``) over copies of the same 2N claims' files
  (halved, per side);
  our builds run in one process too (one process each side, stated in the table);
- SHA-256 alone of the same bytes (the hashing limit);
- the floor our guarantees set: for the same files, the one read that checks SHA-256 (and
  takes the zip's CRC-32), the three kernel copies (zip, bag folder, evidence blob: real
  copies, no links; ext4 has no reflinks) and one flush per 16 claims, with no database, no
  validation and no evidence ledger -- what any build keeping these guarantees must spend;
- every figure also in CPU time of the process (user + system: the kernel's copies count,
  waiting for the disk or for other processes does not), steadier than wall time when other
  work shares the machine;
- with ``--big``: peak RSS of a fresh process that makes, takes in, validates and builds a claim
  whose site-photos attachment is a real 1 GB PDF (one page of text and a 1 GB stream). The
  claim type allows 10 MB per document; the bench contract raises its ``site-photos`` and
  ``bill-of-quantities`` limits (``extra_documents``, ``max_bytes`` 2 GiB) so the door takes it.

The durability each side keeps is printed beside the figures (``DURABILITY``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from claims import api  # noqa: E402
from claims.samples.pdfs import make_certificate_pdf, make_invoice_pdf, make_padded_pdf  # noqa: E402
from claims.workspace import init_workspace  # noqa: E402

TODAY = date(2026, 11, 23)
DURABILITY = (
    "durability kept (ours): the zips and the claims' new evidence blobs (tag files, claim.json,\n"
    "each payload PDF not stored already) are made durable by ONE flush per group -- one claim\n"
    "for build_claim, up to 16 claims / 256 MiB for build_claims (build --all) -- one syncfs(2)\n"
    "on Linux when 3 or more files are due (else one fsync per file), BEFORE any zip of the\n"
    "group is moved into place; each claim's bundle.built ledger entry is committed after that\n"
    "flush and the claim goes READY only after its entry (a failed flush fails the group: nothing\n"
    "placed, no entry, not READY). Bag folders and evidence blobs are real copies, never links,\n"
    "checked byte for byte on every reuse and by `claims evidence verify`.\n"
    "bagit.make_bag moves the files into data/ (no copy), writes the manifests and fsyncs\n"
    "nothing; the floor row keeps our copies and flushes and nothing else.")
MB = 1024 * 1024
EXTRA = [{"type": "site-photos", "max_bytes": 2048 * MB},
         {"type": "bill-of-quantities", "max_bytes": 2048 * MB}]


def contract(folder: Path, n: int) -> Path:
    import yaml

    data = {"number": "C-BENCH", "agency": "Ministry", "portal": "sandbox", "currency": "SAR",
            "supplier": "Bench Co", "ceiling": str(10**11 - 1),
            "period": {"start": "2026-01-01", "end": "2026-12-31"}, "vat_percent": "15",
            "claim_types": ["services-milestone"], "extra_documents": EXTRA}
    path = folder / "contract.yaml"
    path.write_text(yaml.safe_dump(data))
    invoices = [{"number": f"INV-{i:05d}", "issue_date": "2026-11-01", "currency": "SAR",
                 "customer": "Ministry", "contract_number": "C-BENCH",
                 "lines": [{"description": "Works", "quantity": "1", "unit_price": "1000.00",
                            "net": "1000.00", "vat": "150.00"}],
                 "net": "1000.00", "vat": "150.00", "total": "1150.00"} for i in range(n)]
    (folder / "invoices.json").write_text(json.dumps(invoices))
    return path


def make_docs(folder: Path, number: str, photo_bytes: int = int(2.2 * MB)) -> list[tuple[str, str]]:
    folder.mkdir(parents=True, exist_ok=True)
    docs = {t: folder / f"{t}.pdf" for t in ("invoice", "completion-certificate",
                                              "tax-certificate", "registration-certificate",
                                              "site-photos", "bill-of-quantities")}
    make_invoice_pdf(docs["invoice"], supplier="Bench Co", customer="Ministry", number=number,
                     issue_date=date(2026, 11, 1), currency="SAR",
                     lines=[("Works", Decimal(1), Decimal("1000.00"))], vat_percent=Decimal(15),
                     pages=2)
    make_certificate_pdf(docs["completion-certificate"], kind="completion-certificate",
                         title="Certificate of Completion", holder="Bench Co",
                         number_reference=number, issue_date=date(2026, 11, 1))
    for kind in ("tax-certificate", "registration-certificate"):
        make_certificate_pdf(docs[kind], kind=kind, title=kind.title(), holder="Bench Co",
                             number_reference=None, issue_date=date(2026, 1, 1),
                             expiry_date=date(2027, 6, 30))
    make_padded_pdf(docs["site-photos"], photo_bytes)
    make_padded_pdf(docs["bill-of-quantities"], int(2.4 * MB))
    return [(t, str(p)) for t, p in docs.items()]


def sha256_alone(paths: list[Path]) -> tuple[float, float]:
    """(wall, CPU) seconds to hash ``paths``."""
    start, cpu = time.perf_counter(), time.process_time()
    for p in paths:
        digest = hashlib.sha256()
        with p.open("rb") as fh:
            while chunk := fh.read(MB):
                digest.update(chunk)
    return time.perf_counter() - start, time.process_time() - cpu


def floor(per_claim: list[list[tuple[str, str]]], out: Path) -> tuple[float, float]:
    """(wall, CPU) seconds of what our guarantees require for these claims' files and nothing
    else: one read checking SHA-256 (with the zip's CRC-32), three kernel copies (zip, bag
    folder, evidence blob, each with the same early-writeback hint the build gives) and one
    flush per 16 claims."""
    from claims.lifecycle.bundle import _sha256_crc32
    from claims.lifecycle.storedzip import copy_range, start_writeback
    from evidence import flush_files

    start, cpu = time.perf_counter(), time.process_time()
    for g in range(0, len(per_claim), 16):
        due = []
        for i, docs in enumerate(per_claim[g:g + 16], start=g):
            folder = out / f"c{i}"
            folder.mkdir(parents=True)
            with (folder / "zip").open("xb") as zf:
                for t, p in docs:
                    with open(p, "rb", buffering=0) as fin:
                        _, _, size = _sha256_crc32(fin.fileno())
                        copy_range(fin.fileno(), zf.fileno(), size)
                        start_writeback(zf.fileno())
                        for name in (f"{t}.pdf", f"{t}.blob"):
                            with (folder / name).open("xb") as copy:
                                copy_range(fin.fileno(), copy.fileno(), size)
                                start_writeback(copy.fileno())
                        due.append(folder / f"{t}.blob")
            due.append(folder / "zip")
        flush_files(due)
    return time.perf_counter() - start, time.process_time() - cpu


def timed(fn: Any) -> tuple[float, float]:
    """(wall, CPU) seconds of ``fn()``, started after ``os.sync()`` so that no part pays for
    another's dirty pages."""
    os.sync()
    start, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - start, time.process_time() - cpu


def round_parts(ws: Any, one: list[int], every: list[int], bag_dirs: list[Path],
                docs: list[list[tuple[str, str]]], n: int, floor_dir: Path) -> dict[str, Any]:
    """One round's timed parts: build ``one`` one at a time, ``every`` as build --all, bagit
    over ``bag_dirs``, SHA-256 of ``docs``, and the floor over the --all claims' files."""
    import bagit

    files = [Path(path) for claim_docs in docs for _, path in claim_docs]
    return {
        "one": lambda: [api.build_claim(ws, i, as_of=TODAY) for i in one],
        "all": lambda: api.build_claims(ws, every, as_of=TODAY),   # as `claim build --all`
        "bagit": lambda: [bagit.make_bag(str(d), checksums=["sha256"], processes=1)
                          for d in bag_dirs],
        "sha256": lambda: sha256_alone(files),
        "floor": lambda: floor(docs[n:], floor_dir),
    }


def run(n: int, work: Path, rounds: int) -> dict[str, float]:
    """Per round: N claims built one at a time, N others as build --all, bagit over copies of
    both sets' files, SHA-256 and the floor over them; the order turned each round. Returns
    totals over the rounds (bagit and SHA-256 halved: they see both sets)."""
    ws = init_workspace(work / "ws")
    inputs = work / "inputs"
    inputs.mkdir()
    total = 2 * n * rounds
    api.add_contract(ws, contract(inputs, total))
    api.add_invoices(ws, inputs / "invoices.json")
    per_claim = [make_docs(inputs / f"c{i}", f"INV-{i:05d}") for i in range(total)]
    total_bytes = sum(Path(p).stat().st_size for docs in per_claim for _, p in docs)
    ids: list[int] = []
    out = dict.fromkeys(["one", "all", "bagit", "sha256", "floor"], 0.0)
    out |= {k + "_cpu": 0.0 for k in list(out)}
    out["intake"], out["intake_cpu"] = timed(lambda: ids.extend(
        api.new_claim(ws, "C-BENCH", f"INV-{i:05d}", docs, milestone="M1").id
        for i, docs in enumerate(per_claim)))
    for r in range(rounds):
        one, every = ids[2 * n * r:2 * n * r + n], ids[2 * n * r + n:2 * n * (r + 1)]
        docs = per_claim[2 * n * r:2 * n * (r + 1)]
        bag_dirs = []
        for i, claim_docs in enumerate(docs):
            d = work / "bagit" / f"r{r}c{i}"
            d.mkdir(parents=True)
            for t, path in claim_docs:
                shutil.copyfile(path, d / f"{t}.pdf")
            bag_dirs.append(d)
        parts = round_parts(ws, one, every, bag_dirs, docs, n, work / f"floor{r}")
        for key in (list(parts) if r % 2 == 0 else list(reversed(parts))):
            wall, cpu = timed(parts[key])
            halve = 2 if key in ("bagit", "sha256") else 1
            out[key] += wall / halve
            out[key + "_cpu"] += cpu / halve
    built = ws.store.list_claims(status="READY")
    assert len(built) == 2 * n * rounds, f"{len(built)} READY of {2 * n * rounds}"
    ws.close()
    out |= {"claims": n * rounds, "mb": total_bytes / MB / 2,
            "intake": out["intake"] / 2, "intake_cpu": out["intake_cpu"] / 2}
    return out


def peak_rss_1gb(work: Path) -> float:
    """Peak RSS (MB) of a fresh process that makes, validates and builds a claim with 1 GB."""
    code = f"""
import sys, json
sys.path.insert(0, {str(ROOT)!r})
from pathlib import Path
from datetime import date
from tests.benchmarks.bench_bundles import contract, make_docs, TODAY
from claims import api
from claims.workspace import init_workspace
work = Path({str(work)!r})
ws = init_workspace(work / "ws1g")
(work / "in1g").mkdir()
api.add_contract(ws, contract(work / "in1g", 1))
api.add_invoices(ws, work / "in1g" / "invoices.json")
docs = make_docs(work / "in1g" / "docs", "INV-00000", photo_bytes=1024 ** 3)
from tests.memory import peak_rss_mb
base = peak_rss_mb()
claim = api.new_claim(ws, "C-BENCH", "INV-00000", docs, milestone="M1")
bundle = api.build_claim(ws, claim.id, as_of=TODAY)
print(json.dumps({{"peak_mb": peak_rss_mb(),
                  "before_mb": base, "zip_mb": bundle.zip_path.stat().st_size / 2**20}}))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def table(r: dict[str, float]) -> list[tuple[str, str, str]]:
    """The printed rows: per-claim figures (each side over its own claims of the same shape;
    bagit and SHA-256 over both sides' claims, halved), ratios against bagit, SHA-256 and
    the floor."""
    n = r["claims"]
    rows = [("claims per side", f"{n}", "one process each side (bagit: processes=1); "
             "rounds alternate the order of the parts"),
            ("payload", f"{r['mb']:.1f} MB", f"{r['mb'] / n:.2f} MB/claim")]
    sides = [("validate + build, one at a time", "one"),
             ("validate + build, --all", "all")]
    refs = [("bagit.make_bag (sha256)", "bagit"), ("sha256 of the same bytes", "sha256"),
            ("floor: check + 3 copies + flush", "floor")]
    rows.append(("intake (measured apart)", f"{n / r['intake']:.1f} claims/s",
                 f"CPU {r['intake_cpu'] / n * 1000:.1f} ms/claim; not in the figures below"))
    for label, key in sides + refs:
        rows.append((label, f"{n / r[key]:.1f} claims/s",
                     f"{r['mb'] / r[key]:.0f} MB/s; CPU {r[key + '_cpu'] / n * 1000:.1f} "
                     "ms/claim"))
    for label, key in sides:
        rows.append((f"{label}: wall", f"{r['bagit'] / r[key]:.2f}x bagit",
                     f"{r[key] / r['sha256']:.2f}x sha256's time; "
                     f"{r[key] / r['floor']:.2f}x the floor's"))
        # CPU time of this process (user + system, kernel copies included; waits for the
        # disk or for other processes not): steadier than wall time on a shared machine
        rows.append((f"{label}: CPU", f"{r['bagit_cpu'] / r[key + '_cpu']:.2f}x bagit",
                     f"{r[key + '_cpu'] / r['sha256_cpu']:.2f}x sha256's CPU; "
                     f"{r[key + '_cpu'] / r['floor_cpu']:.2f}x the floor's"))
    rows.append(("floor: CPU", f"{r['bagit_cpu'] / r['floor_cpu']:.2f}x bagit",
                 f"{r['floor_cpu'] / r['sha256_cpu']:.2f}x sha256's CPU"))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--claims", type=int, default=10,
                        help="claims per side and round (default 10)")
    parser.add_argument("--rounds", type=int, default=2,
                        help="rounds, the order of the parts turned each round (default 2)")
    parser.add_argument("--quick", action="store_true", help="3 claims per side, 1 round")
    parser.add_argument("--big", action="store_true",
                        help="also the peak-RSS run with one 1 GB attachment (minutes, ~5 GB "
                             "of disk writes)")
    parser.add_argument("--skip-1gb", action="store_true", help=argparse.SUPPRESS)  # the default
    args = parser.parse_args()
    n, rounds = (3, 1) if args.quick else (args.claims, args.rounds)
    with tempfile.TemporaryDirectory(prefix="claimwright-bench-") as tmp:
        r = run(n, Path(tmp), rounds)
        rows = table(r)
        if args.big:
            mem = peak_rss_1gb(Path(tmp))
            rows.append(("peak RSS, one 1 GB attachment", f"{mem['peak_mb']:.0f} MB",
                         f"(process before the claim: {mem['before_mb']:.0f} MB; zip "
                         f"{mem['zip_mb']:.0f} MB; limit raised to 2 GiB in the bench "
                         "contract)"))
    width = max(len(r[0]) for r in rows)
    print(f"{'measure':<{width}}  {'figure':>16}  reference / ratio")
    for name, figure, note in rows:
        print(f"{name:<{width}}  {figure:>16}  {note}")
    print(DURABILITY)
    return 0


if __name__ == "__main__":
    sys.exit(main())
