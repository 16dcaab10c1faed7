"""Benchmark: ``claims followup run`` and ``claims worklist`` over many open invoices.

    python tests/benchmarks/bench_collections.py            # 100,000 invoices, 5,000 customers
    python tests/benchmarks/bench_collections.py --quick    # 5,000 invoices, 250 customers
    python tests/benchmarks/bench_collections.py --database-url postgresql+psycopg://…
    python tests/benchmarks/bench_collections.py --invoices 20000 --customers 1000

Currency conversion is on: the base currency is SAR, invoices are in USD, SAR, EUR and JPY
(dated rates imported through ``claims rates import``, one currency, CHF, left without a rate
so the unconverted path is exercised too); ``--face-value`` runs without a base currency.

Each figure is a real CLI invocation (in-process, Typer's runner) on a real database; the
SMTP server is a real aiosmtpd on a free port. The reference is one SQL pass that sums every
invoice's open balance (invoices LEFT JOIN its applications) — the least any approach must
read — measured in the same run, so the ratio says how far each command is from a bare scan.
"""

from __future__ import annotations

import argparse
import random
import socket
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

AS_OF = date(2026, 6, 30)
#: invoice currencies, in turn (CHF is 1 in 50: it has no rate and is listed apart)
CURRENCIES = ("USD", "SAR", "EUR", "JPY", "USD") * 9 + ("SAR", "USD", "EUR", "SAR", "CHF")
RATES = ("date,currency,rate\n2026-01-01,USD,3.75\n2026-01-01,EUR,4.05\n"
         "2026-01-01,JPY,0.0260\n2026-06-01,EUR,4.10\n2026-06-01,JPY,0.0250\n")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def seed(ws: Any, invoices: int, customers: int) -> None:
    """Customers with finance contacts, open invoices spread over 150 days of due dates,
    a fifth partly paid, and some disputes, promises and plans."""
    from sqlalchemy import insert

    from claims.store.tables.collections import DisputeRow, PlanInvoiceRow, PlanRow, PromiseRow
    from claims.store.tables import ContactRow, CustomerRow, InvoiceRow, PaymentApplicationRow

    rng = random.Random(7)
    now = datetime(2026, 6, 1, tzinfo=UTC)
    with ws.store.engine.begin() as conn:
        conn.execute(insert(CustomerRow), [
            {"id": c, "name": f"Customer {c:05d}", "kind": "private" if c % 3 else "agency",
             "collector": f"collector{c % 7}", "created_at": now}
            for c in range(1, customers + 1)])
        conn.execute(insert(ContactRow), [
            {"customer_id": c, "name": f"AP {c}", "email": f"ap{c}@customer{c}.test",
             "role": "finance", "language": "ar" if c % 2 else "en"}
            for c in range(1, customers + 1)])
        rows = []
        for n in range(1, invoices + 1):
            due = AS_OF + timedelta(days=rng.randint(-150, 10))
            total = Decimal(rng.randint(10_000, 5_000_000)) / 100
            rows.append({"id": n, "number": f"INV-{n:07d}",
                         "customer_id": rng.randint(1, customers),
                         "currency": CURRENCIES[n % len(CURRENCIES)],
                         "issue_date": due - timedelta(days=30), "due_date": due,
                         "net": total, "vat": Decimal(0), "total": total, "data": {},
                         "source": "bench", "content_hash": f"{n:064d}",
                         "created_at": now, "updated_at": now})
        conn.execute(insert(InvoiceRow), rows)
        conn.execute(insert(PaymentApplicationRow), [
            {"invoice_id": r["id"], "amount": (r["total"] / 3).quantize(Decimal("0.01")),
             "kind": "payment", "confidence": 100, "reason": "", "actor": "bench",
             "applied_at": now}
            for r in rows[::5]])
        conn.execute(insert(DisputeRow), [
            {"customer_id": r["customer_id"], "invoice_id": r["id"], "reason": "pricing",
             "team": "Sales", "status": "open", "opened_at": now, "opened_by": "bench",
             "resolution_note": ""} for r in rows[::97]])
        conn.execute(insert(PromiseRow), [
            {"customer_id": c, "amount": Decimal("1000"), "currency": "USD",
             "promised_date": AS_OF + timedelta(days=(c % 20) - 10), "promised_by": "AP",
             "channel": "call", "made_at": now, "actor": "bench"}
            for c in range(1, customers + 1, 50)])
        plans = list(range(1, customers + 1, 100))
        conn.execute(insert(PlanRow), [
            {"id": i, "customer_id": c, "currency": "USD", "total": Decimal("1"),
             "agreed_at": now, "note": "", "actor": "bench"} for i, c in enumerate(plans, 1)])
        by_customer: dict[int, int] = {}
        for r in rows:
            by_customer.setdefault(r["customer_id"], r["id"])
        conn.execute(insert(PlanInvoiceRow), [
            {"plan_id": i, "invoice_id": by_customer[c]} for i, c in enumerate(plans, 1)
            if c in by_customer])


def timed(label: str, fn: Any) -> tuple[str, float, Any]:
    start = time.perf_counter()
    value = fn()
    return label, time.perf_counter() - start, value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="5,000 invoices, 250 customers")
    parser.add_argument("--invoices", type=int, default=0, help="number of invoices")
    parser.add_argument("--customers", type=int, default=0, help="number of customers")
    parser.add_argument("--face-value", action="store_true",
                        help="no base currency (amounts added at face value)")
    parser.add_argument("--database-url", default="", help="default: SQLite in a temp folder")
    parser.add_argument("--skip-send", action="store_true",
                        help="time only the SQL side (worklist, dry run), not the SMTP sending")
    args = parser.parse_args()
    invoices, customers = (5_000, 250) if args.quick else (100_000, 5_000)
    invoices, customers = args.invoices or invoices, args.customers or customers

    import json

    import subprocess
    from sqlalchemy import text
    from typer.testing import CliRunner

    from claims.cli import app
    from claims.workspace import init_workspace

    tmp = Path(tempfile.mkdtemp(prefix="bench-collections-"))
    url, drop_schema = own_schema(args.database_url)
    ws = init_workspace(tmp / "ws", database_url=url or None)
    # the SMTP server in its own process, as a real one would be (aiosmtpd's Sink handler)
    port = free_port()
    server = subprocess.Popen([sys.executable, "-W", "ignore", "-m", "aiosmtpd", "-n", "-l",
                               f"127.0.0.1:{port}", "-c", "aiosmtpd.handlers.Sink"])
    deadline = time.monotonic() + 30
    while True:  # wait until it answers
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if time.monotonic() > deadline:
                raise SystemExit("the SMTP server did not start") from None
            time.sleep(0.05)  # ok: polling a subprocess that is starting
    ws.config_path.write_text(ws.config_path.read_text() + (
        f'\n[followup.smtp]\nhost = "127.0.0.1"\nport = {port}\n'), encoding="utf-8")
    if not args.face_value:  # currency conversion on: base SAR, rates imported by the CLI
        import tomllib

        import tomli_w

        data = tomllib.loads(ws.config_path.read_text(encoding="utf-8"))
        data.setdefault("followup", {})["base_currency"] = "SAR"
        ws.config_path.write_text(tomli_w.dumps(data), encoding="utf-8")
        ws.reload_settings()
        (tmp / "rates.csv").write_text(RATES, encoding="utf-8")
    t0 = time.perf_counter()
    seed(ws, invoices, customers)
    seeded = time.perf_counter() - t0
    runner = CliRunner()
    if not args.face_value:
        imported = runner.invoke(app, ["--workspace", str(ws.root), "rates", "import",
                                       str(tmp / "rates.csv")])
        if imported.exit_code:
            raise SystemExit(imported.output)

    def cli(*argv: str) -> Any:
        result = runner.invoke(app, ["--workspace", str(ws.root), *argv], catch_exceptions=False)
        if result.exit_code not in (0, 1):
            raise SystemExit(result.output)
        return json.loads(result.stdout)

    def reference() -> Any:
        with ws.store.engine.connect() as conn:
            return conn.execute(text(
                "SELECT COUNT(*), SUM(i.total - COALESCE(p.paid, 0)) FROM invoices i LEFT JOIN "
                "(SELECT invoice_id, SUM(amount) AS paid FROM payment_applications "
                "WHERE undone_at IS NULL GROUP BY invoice_id) p ON p.invoice_id = i.id")).one()

    iso = AS_OF.isoformat()
    results = [timed("reference: one SQL pass over open balances", reference)]
    results.append(timed("claims worklist --json", lambda: cli("worklist", "--as-of", iso,
                                                                 "--json")))
    results.append(timed("claims followup run --dry-run --json",
                         lambda: cli("followup", "run", "--as-of", iso, "--dry-run", "--json")))
    if not args.skip_send:
        results.append(timed("claims followup run --json (real SMTP)",
                             lambda: cli("followup", "run", "--as-of", iso, "--json")))
        results.append(timed("claims followup run again (nothing due)",
                             lambda: cli("followup", "run", "--as-of", iso, "--json")))
    server.terminate()
    server.wait(timeout=10)

    ref = results[0][1]
    backend = ws.store.engine.dialect.name
    print(f"\ncollections benchmark: {invoices:,} invoices, {customers:,} customers, "
          f"{backend}, as of {iso} (seeded in {seeded:.1f} s), "
          + ("face value (no base currency)" if args.face_value else
             "currency conversion on (base SAR; USD, SAR, EUR, JPY, CHF)") + "\n")
    print(f"{'what':<44} {'seconds':>8} {'× ref':>8}  result")
    for label, seconds, value in results:
        if isinstance(value, dict) and "accounts" in value:
            apart = sum(1 for a in value["accounts"] if a.get("unconverted"))
            what = (f"{len(value['accounts']):,} accounts ranked"
                    + ("" if args.face_value else
                       f" in SAR ({apart:,} with CHF listed apart, no rate)"))
        elif isinstance(value, dict) and "sent" in value:
            what = (f"{len(value['sent']):,} messages, {len(value['tasks']):,} tasks, "
                    f"{len(value['failed']):,} failed")
        else:
            what = f"{value[0]:,} invoices"
        print(f"{label:<44} {seconds:>8.2f} {seconds / ref:>8.1f}  {what}")
    ws.close()
    drop_schema()
    import shutil

    shutil.rmtree(tmp, ignore_errors=True)  # the workspace folder of this run


def own_schema(url: str) -> tuple[str, Any]:
    """On PostgreSQL, a schema of this run's own (dropped at the end), so a benchmark never
    meets another run's tables in a shared database; SQLite needs none."""
    if not url.startswith("postgresql"):
        return url, lambda: None
    import os

    from sqlalchemy import create_engine, text

    schema = f"bench_collections_{os.getpid()}"
    admin = create_engine(url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))

    def drop() -> None:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()

    sep = "&" if "?" in url else "?"
    return f"{url}{sep}options=-csearch_path%3D{schema}", drop


if __name__ == "__main__":
    main()
