"""Benchmark: invoice imports per second, from CSV, UBL files and the fake Zoho Books server.

    python tests/benchmarks/bench_sources.py [--invoices N] [--quick]

Each source imports N invoices (default 10,000) into a fresh SQLite workspace. Printed side by
side, from one run:

- invoices/s for a CSV export (QuickBooks mapping, two lines per invoice);
- invoices/s for N UBL files (PEPPOL BIS 3, from OpenPEPPOL's base example);
- invoices/s for Zoho Books (fake server in its own process, 200 per page, with PDFs, contacts
  and payments), and its HTTP request count against the least the API allows;
- the reference: ``Store.put_invoices`` of the same N invoices already parsed (the storing
  floor every source pays), and each source's ratio to it;
- a corpus run (``--corpus-only`` for it alone): files per second reading and checking every
  file of the XRechnung test suite (UBL and CII, 81 files) with the importers, beside parsing
  the same bytes with ``lxml`` alone (the floor: no rules, no model).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from datetime import date
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from lxml import etree  # noqa: E402

from claims.core.importers import INVOICE_SOURCES  # noqa: E402
from claims.core.models import Invoice, InvoiceLine  # noqa: E402
from claims.sources.api import import_tabular, import_xml_files, import_zoho  # noqa: E402
from claims.workspace import init_workspace  # noqa: E402

SAMPLES = ROOT / "tests" / "fixtures" / "samples"


def fresh(tmp: Path, name: str):
    return init_workspace(tmp / name)


def bench_reference(tmp: Path, n: int) -> float:
    ws = fresh(tmp, "ref")
    invoices = [Invoice(number=f"R-{i}", issue_date=date(2026, 3, 1), currency="USD",
                        customer=f"Agency {i % 50}", net=Decimal("1350.50"), vat=Decimal("202.58"),
                        total=Decimal("1553.08"),
                        lines=(InvoiceLine(description="Consulting", quantity=Decimal(10),
                                           unit_price=Decimal(100), net=Decimal(1000),
                                           vat=Decimal(150)),
                               InvoiceLine(description="Travel", quantity=Decimal(1),
                                           unit_price=Decimal("350.50"), net=Decimal("350.50"),
                                           vat=Decimal("52.58"))))
                for i in range(n)]
    start = time.perf_counter()
    ws.store.put_invoices(invoices)
    elapsed = time.perf_counter() - start
    ws.close()
    return n / elapsed


def bench_csv(tmp: Path, n: int) -> float:
    path = tmp / "qb.csv"
    with path.open("w", encoding="utf-8") as f:
        f.write("Date,Num,Customer,Email,Due Date,Currency,Memo/Description,Qty,Sales Price,"
                "Amount,Tax Amount\n")
        for i in range(n):
            cust = f"Agency {i % 50}"
            f.write(f"03/01/2026,{i},{cust},ap{i % 50}@x.gov,03/31/2026,USD,Consulting,10,"
                    f"100.00,\"1,000.00\",150.00\n")
            f.write(f"03/01/2026,{i},{cust},ap{i % 50}@x.gov,03/31/2026,USD,Travel,1,350.50,"
                    f"350.50,52.58\n")
    ws = fresh(tmp, "csv")
    start = time.perf_counter()
    batch = import_tabular(ws, path, "quickbooks")
    elapsed = time.perf_counter() - start
    assert len(batch.added) == n
    ws.close()
    return n / elapsed


def bench_ubl(tmp: Path, n: int) -> float:
    template = (SAMPLES / "peppol-bis3" / "base-example.xml").read_bytes()
    folder = tmp / "ubl"
    folder.mkdir()
    files = []
    for i in range(n):
        path = folder / f"{i}.xml"
        path.write_bytes(template.replace(b"<cbc:ID>Snippet1</cbc:ID>",
                                          f"<cbc:ID>UBL-{i}</cbc:ID>".encode(), 1))
        files.append(path)
    ws = fresh(tmp, "ubl-ws")
    start = time.perf_counter()
    batch = import_xml_files(ws, "ubl", files)
    elapsed = time.perf_counter() - start
    assert len(batch.added) == n
    ws.close()
    return n / elapsed


def bench_zoho(tmp: Path, n: int) -> tuple[float, int, int, int]:
    import httpx

    proc = subprocess.Popen([sys.executable, "-m", "tests.sources.fake_zoho", str(n), "50"],
                            cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()       # printed once the port is bound
        from tests.sources.fake_zoho import CLIENT_SECRET, REFRESH_TOKEN, settings_toml

        os.environ["TEST_ZOHO_CLIENT_SECRET"] = CLIENT_SECRET
        os.environ["TEST_ZOHO_REFRESH_TOKEN"] = REFRESH_TOKEN
        ws = fresh(tmp, "zoho")
        with ws.config_path.open("a", encoding="utf-8") as f:
            # a throughput run: no daily request budget (a real Free plan stops near 450)
            f.write(settings_toml(url, daily_request_budget=0))
        ws.__dict__.pop("settings", None)
        start = time.perf_counter()
        batch = import_zoho(ws)
        elapsed = time.perf_counter() - start
        served = httpx.get(f"{url}/_stats").json()["requests"]
        assert len(batch.added) == n and served == batch.requests
        ws.close()
        return n / elapsed, batch.requests, int(batch.detail["minimum_requests"]), served
    finally:
        proc.terminate()
        proc.wait()


def bench_corpus(rounds: int = 5) -> tuple[int, float, float]:
    """(files, files/s through the importers, files/s with lxml parsing alone) over the
    XRechnung folder, each the best of ``rounds``."""
    files = sorted((SAMPLES / "xrechnung-testsuite").glob("*.xml"))
    blobs = [(f, f.read_bytes()) for f in files]
    importers = [INVOICE_SOURCES.detect(f) for f in files]
    ours, floor = [], []
    for _ in range(rounds):
        start = time.perf_counter()
        for imp, (f, _data) in zip(importers, blobs, strict=True):
            imp.extract(f, {})
        ours.append(time.perf_counter() - start)
        start = time.perf_counter()
        for _f, data in blobs:
            etree.fromstring(data)
        floor.append(time.perf_counter() - start)
    return len(files), len(files) / min(ours), len(files) / min(floor)


def print_corpus() -> None:
    """Print the corpus figures."""
    count, ours, floor = bench_corpus()
    print(f"\nXRechnung corpus: {count} files (UBL and CII), best of 5 rounds")
    print(f"{'reader':<34}{'files/s':>12}{'× lxml':>14}")
    print(f"{'reference: lxml parse only':<34}{floor:>12,.0f}{1:>14.2f}")
    print(f"{'importers (parse + EN 16931)':<34}{ours:>12,.0f}{ours / floor:>14.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invoices", type=int, default=10_000)
    parser.add_argument("--quick", action="store_true", help="a small run (500 invoices)")
    parser.add_argument("--corpus-only", action="store_true",
                        help="only the XRechnung corpus run")
    args = parser.parse_args()
    if args.corpus_only:
        print_corpus()
        return
    n = 500 if args.quick else args.invoices
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        ref = bench_reference(tmp, n)
        csv_rate = bench_csv(tmp, n)
        ubl_rate = bench_ubl(tmp, n)
        zoho_rate, requests, minimum, served = bench_zoho(tmp, n)
    print(f"\ninvoice imports, {n:,} invoices each, SQLite, one process\n")
    print(f"{'source':<34}{'invoices/s':>12}{'× reference':>14}")
    print(f"{'reference: Store.put_invoices':<34}{ref:>12,.0f}{1:>14.2f}")
    for name, rate in (("CSV (quickbooks mapping, 2 lines)", csv_rate),
                       ("UBL files (PEPPOL BIS 3)", ubl_rate),
                       ("Zoho Books (fake, 200 per page)", zoho_rate)):
        print(f"{name:<34}{rate:>12,.0f}{rate / ref:>14.2f}")
    print(f"\nZoho requests: {requests:,} made (server counted {served:,}); the API's minimum "
          f"for this data: {minimum:,} (ratio {requests / minimum:.3f})")
    print("  minimum = 1 token + ⌈N/200⌉ invoice pages + N details + N PDFs + customers "
          "+ ⌈payments/200⌉ payment pages")
    print_corpus()


if __name__ == "__main__":
    main()
