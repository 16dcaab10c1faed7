"""Benchmark: validate + build claims, beside bagit.make_bag and SHA-256 of the same bytes.

    python tests/benchmarks/bench_bundles.py [--claims N] [--quick] [--big]

Each claim has a 2-page invoice and five supporting PDFs, about 4.6 MB in all (the two large
attachments are random bytes, so no two claims share them). Printed side by side, from one run
on the same files:

- claims/s for intake (copy + hash into the workspace) + validate + build (bag + zip);
- claims/s for validate + build alone;
- bagit.make_bag (sha256 only) over copies of the same files, and the ratio;
- SHA-256 of the same bytes alone (the hashing limit), and the ratio;
- the same two comparisons in CPU time of the process (user + system: the kernel's copies
  count, waiting for the disk or for other processes does not), steadier than wall time when
  other work shares the machine;
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
    "durability kept (ours): per claim ONE flush -- one syncfs(2) on Linux when 3 or more files\n"
    "are due (else, and off Linux, one fsync per file) -- makes the zip and the claim's new\n"
    "evidence blobs (tag files, claim.json, each payload PDF not stored already) durable before\n"
    "the zip is moved into place; the bundle.built ledger entry is committed after that flush\n"
    "and the claim goes READY only after the entry (before: one fsync per blob, ten per claim,\n"
    "plus the zip's). Bag folders are real copies, checked byte for byte on every reuse and by\n"
    "`claims evidence verify`. bagit.make_bag moves files in place and fsyncs nothing.")
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


def run(n: int, work: Path) -> dict[str, float]:
    import bagit

    ws = init_workspace(work / "ws")
    inputs = work / "inputs"
    inputs.mkdir()
    api.add_contract(ws, contract(inputs, n))
    api.add_invoices(ws, inputs / "invoices.json")
    per_claim = [make_docs(inputs / f"c{i}", f"INV-{i:05d}") for i in range(n)]
    all_files = [Path(p) for docs in per_claim for _, p in docs]
    total_bytes = sum(p.stat().st_size for p in all_files)

    t0 = time.perf_counter()
    ids = [api.new_claim(ws, "C-BENCH", f"INV-{i:05d}", docs, milestone="M1").id
           for i, docs in enumerate(per_claim)]
    t1, c1 = time.perf_counter(), time.process_time()
    for claim_id in ids:
        api.build_claim(ws, claim_id, as_of=TODAY)   # validates, then builds bag + zip
    t2, c2 = time.perf_counter(), time.process_time()

    bag_dirs = []
    for i, docs in enumerate(per_claim):
        d = work / "bagit" / f"c{i}"
        d.mkdir(parents=True)
        for t, p in docs:
            shutil.copyfile(p, d / f"{t}.pdf")
        bag_dirs.append(d)
    t3, c3 = time.perf_counter(), time.process_time()
    for d in bag_dirs:
        bagit.make_bag(str(d), checksums=["sha256"])
    t4, c4 = time.perf_counter(), time.process_time()
    hashing, hashing_cpu = sha256_alone(all_files)
    ws.close()
    return {"claims": n, "mb": total_bytes / MB, "intake": t1 - t0, "validate_build": t2 - t1,
            "bagit": t4 - t3, "sha256": hashing, "validate_build_cpu": c2 - c1,
            "bagit_cpu": c4 - c3, "sha256_cpu": hashing_cpu}


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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--claims", type=int, default=40)
    parser.add_argument("--quick", action="store_true", help="3 claims")
    parser.add_argument("--big", action="store_true",
                        help="also the peak-RSS run with one 1 GB attachment (minutes, ~5 GB "
                             "of disk writes)")
    parser.add_argument("--skip-1gb", action="store_true", help=argparse.SUPPRESS)  # the default
    args = parser.parse_args()
    n = 3 if args.quick else args.claims
    with tempfile.TemporaryDirectory(prefix="claimwright-bench-") as tmp:
        r = run(n, Path(tmp))
        full = r["intake"] + r["validate_build"]
        rows = [
            ("claims", f"{r['claims']}", ""),
            ("payload", f"{r['mb']:.1f} MB", f"{r['mb'] / r['claims']:.2f} MB/claim"),
            ("intake + validate + build", f"{r['claims'] / full:.1f} claims/s",
             f"{r['mb'] / full:.0f} MB/s"),
            ("validate + build", f"{r['claims'] / r['validate_build']:.1f} claims/s",
             f"{r['mb'] / r['validate_build']:.0f} MB/s"),
            ("bagit.make_bag (sha256)", f"{r['claims'] / r['bagit']:.1f} claims/s",
             f"ours is {r['bagit'] / r['validate_build']:.2f}x its speed (validate+build)"),
            ("sha256 of the same bytes", f"{r['mb'] / r['sha256']:.0f} MB/s",
             f"validate+build takes {r['validate_build'] / r['sha256']:.2f}x hashing alone"),
            # CPU time of this process (user + system, kernel copies included; waits for the
            # disk or for other processes not): steadier than wall time on a shared machine
            ("CPU: validate + build", f"{r['validate_build_cpu'] / r['claims'] * 1000:.1f} "
             "ms/claim", f"bagit.make_bag {r['bagit_cpu'] / r['claims'] * 1000:.1f} ms/claim: "
             f"ours is {r['bagit_cpu'] / r['validate_build_cpu']:.2f}x its speed"),
            ("CPU: sha256 alone", f"{r['sha256_cpu'] / r['claims'] * 1000:.1f} ms/claim",
             f"validate+build takes {r['validate_build_cpu'] / r['sha256_cpu']:.2f}x "
             "hashing alone"),
        ]
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
