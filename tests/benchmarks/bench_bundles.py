"""Benchmark: validate + build claims, beside bagit.make_bag and SHA-256 of the same bytes.

    python tests/benchmarks/bench_bundles.py [--claims N] [--quick] [--big]

Each claim has a 2-page invoice and five supporting PDFs, about 4.6 MB in all (the two large
attachments are random bytes, so no two claims share them). 2N claims are taken in (intake:
copy + hash + inspect each PDF into the workspace, timed on its own and left out of the build
figures); then, in one run, printed side by side:

- validate + build one claim at a time (``api.build_claim``, as ``claims claim build ID``):
  one flush per claim, on the first N claims;
- validate + build as ``claims claim build --all`` does (``api.build_claims``): one flush per
  group of up to 16 claims, on the other N;
- bagit.make_bag (sha256 only, ``processes=1``) over copies of the same 2N claims' files;
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
            "supplier": "Bench Co", "ceiling": str(10**12),
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


def run(n: int, work: Path) -> dict[str, float]:
    import bagit

    ws = init_workspace(work / "ws")
    inputs = work / "inputs"
    inputs.mkdir()
    api.add_contract(ws, contract(inputs, 2 * n))
    api.add_invoices(ws, inputs / "invoices.json")
    per_claim = [make_docs(inputs / f"c{i}", f"INV-{i:05d}") for i in range(2 * n)]
    all_files = [Path(p) for docs in per_claim for _, p in docs]
    total_bytes = sum(p.stat().st_size for p in all_files)

    os.sync()   # each timed part starts with nothing else waiting to be written
    t0, c0 = time.perf_counter(), time.process_time()
    ids = [api.new_claim(ws, "C-BENCH", f"INV-{i:05d}", docs, milestone="M1").id
           for i, docs in enumerate(per_claim)]
    t_in, c_in = time.perf_counter(), time.process_time()
    os.sync()
    t1, c1 = time.perf_counter(), time.process_time()
    for claim_id in ids[:n]:
        api.build_claim(ws, claim_id, as_of=TODAY)   # validates, then builds bag + zip
    t2, c2 = time.perf_counter(), time.process_time()
    os.sync()
    t2s, c2s = time.perf_counter(), time.process_time()
    done, failed = api.build_claims(ws, ids[n:], as_of=TODAY)   # as `claim build --all`
    t3, c3 = time.perf_counter(), time.process_time()
    assert not failed and len(done) == n, failed

    bag_dirs = []
    for i, docs in enumerate(per_claim):
        d = work / "bagit" / f"c{i}"
        d.mkdir(parents=True)
        for t, p in docs:
            shutil.copyfile(p, d / f"{t}.pdf")
        bag_dirs.append(d)
    os.sync()
    t4, c4 = time.perf_counter(), time.process_time()
    for d in bag_dirs:
        bagit.make_bag(str(d), checksums=["sha256"], processes=1)
    t5, c5 = time.perf_counter(), time.process_time()
    hashing, hashing_cpu = sha256_alone(all_files)
    os.sync()
    floor_wall, floor_cpu = floor(per_claim[n:], work / "floor")
    ws.close()
    return {"claims": n, "mb": total_bytes / MB / 2, "intake": (t_in - t0) / 2,
            "intake_cpu": (c_in - c0) / 2,
            "one": t2 - t1, "one_cpu": c2 - c1, "all": t3 - t2s, "all_cpu": c3 - c2s,
            "bagit": (t5 - t4) / 2, "bagit_cpu": (c5 - c4) / 2,
            "sha256": hashing / 2, "sha256_cpu": hashing_cpu / 2,
            "floor": floor_wall, "floor_cpu": floor_cpu}


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
    """The printed rows: per-claim figures (each side over its own N claims of the same shape;
    bagit and SHA-256 over all 2N, halved), ratios against bagit, SHA-256 and the floor."""
    n = r["claims"]
    rows = [("claims per side", f"{n}", "one process each side (bagit: processes=1)"),
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
    parser.add_argument("--claims", type=int, default=20,
                        help="claims per side (2N are taken in; default 20)")
    parser.add_argument("--quick", action="store_true", help="3 claims per side")
    parser.add_argument("--big", action="store_true",
                        help="also the peak-RSS run with one 1 GB attachment (minutes, ~5 GB "
                             "of disk writes)")
    parser.add_argument("--skip-1gb", action="store_true", help=argparse.SUPPRESS)  # the default
    args = parser.parse_args()
    n = 3 if args.quick else args.claims
    with tempfile.TemporaryDirectory(prefix="claimwright-bench-") as tmp:
        r = run(n, Path(tmp))
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
