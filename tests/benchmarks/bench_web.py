"""Benchmark: the web workspace's board and worklist pages on a large workspace, beside the CLI
commands that read the same data.

    python tests/benchmarks/bench_web.py       # 10,000 claims, 100,000 invoices
    python tests/benchmarks/bench_web.py --claims 1000 --invoices 10000  # quicker

The server is the real ``python -m claims.web`` in a subprocess on a free port; each page is
fetched signed in (a real session) and timed at the client (so the figure includes HTTP and
rendering). The references are ``claims claim list --json`` and ``claims worklist --json``
(in-process, Typer's runner) on the same database. Aim: under 300 ms per page.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.benchmarks.bench_collections import seed, timed  # noqa: E402

STATUSES = ["DRAFT", "VALID", "READY", "SUBMITTED", "UNDER_REVIEW", "APPROVED", "PAID",
            "RETURNED", "NEEDS_ATTENTION", "REJECTED_BY_PORTAL"]
PASSWORD = "benchmark password"


def seed_claims(ws: Any, claims: int) -> None:
    """One contract and ``claims`` claims on the first invoices, statuses spread out."""
    from sqlalchemy import insert

    from claims.store.tables import ClaimRow, ContractRow

    rng = random.Random(11)
    now = datetime(2026, 6, 1, tzinfo=UTC)
    with ws.store.engine.begin() as conn:
        conn.execute(insert(ContractRow), [{
            "id": 1, "number": "C-BENCH", "agency": "Customer 00001", "portal": "sandbox",
            "currency": "USD", "ceiling": 10**9, "period_start": date(2026, 1, 1),
            "period_end": date(2027, 12, 31), "data": {}, "created_at": now}])
        conn.execute(insert(ClaimRow), [
            {"id": n, "contract_id": 1, "invoice_id": n, "claim_type": "services-milestone",
             "status": rng.choice(STATUSES), "attempts": 0,
             "created_at": now - timedelta(days=rng.randint(0, 200)), "updated_at": now}
            for n in range(1, claims + 1)])


def page_times(url: str, path: str, runs: int) -> tuple[list[float], list[float]]:
    """Seconds per GET of ``path``, signed in as the benchmark's specialist, at the client
    (HTTP included) and as the server reports it (its ``Server-Timing: page;dur=`` header:
    reading and rendering the page)."""
    import httpx

    with httpx.Client(base_url=url, timeout=120) as client:
        token = re.search(r'name="csrf_token" value="([^"]+)"',
                          client.get("/login").text).group(1)  # type: ignore[union-attr]
        client.post("/login", data={"csrf_token": token, "name": "bench",
                                    "password": PASSWORD, "next": "/"})
        times, server = [], []
        for _ in range(runs + 1):
            start = time.perf_counter()
            response = client.get(path)
            times.append(time.perf_counter() - start)
            assert response.status_code == 200, (path, response.status_code)
            timing = re.fullmatch(r"page;dur=([0-9.]+)", response.headers["server-timing"])
            server.append(float(timing.group(1)) / 1000)  # type: ignore[union-attr]
    return times[1:], server[1:]  # the first warms the caches


def main() -> None:
    """Seed, serve, time, print."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--claims", type=int, default=10_000)
    parser.add_argument("--invoices", type=int, default=100_000)
    parser.add_argument("--customers", type=int, default=5_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    if args.claims > args.invoices:
        parser.error("--claims must not exceed --invoices (one claim per invoice)")

    from typer.testing import CliRunner

    from claims import api
    from claims.cli import app
    from claims.web.testing import running_web

    with tempfile.TemporaryDirectory() as tmp:
        ws, _ = api.init_workspace(Path(tmp) / "ws")
        _, seconds, _ = timed("seed", lambda: (seed(ws, args.invoices, args.customers),
                                               seed_claims(ws, args.claims)))
        api.add_user(ws, "bench", role="specialist", password=PASSWORD)
        print(f"seeded {args.claims:,} claims, {args.invoices:,} invoices, "
              f"{args.customers:,} customers in {seconds:.1f} s")
        runner = CliRunner()

        def cli(*argv: str) -> None:
            result = runner.invoke(app, ["--workspace", str(ws.root), *argv],
                                   catch_exceptions=False)
            assert result.exit_code == 0, result.output

        rows = []
        with running_web(ws.root) as url:
            for label, path in (("web board  GET /", "/"), ("web worklist GET /worklist",
                                                             "/worklist")):
                times, server = page_times(url, path, args.runs)
                rows.append((label, statistics.median(times), min(times)))
                rows.append(("  of which server (Server-Timing)", statistics.median(server),
                             min(server)))
        for label, argv in (("claims claim list --json", ("claim", "list", "--json")),
                            ("claims worklist --json", ("worklist", "--json"))):
            times = [timed(label, lambda a=argv: cli(*a))[1] for _ in range(2)]
            rows.append((label, statistics.median(times), min(times)))
        ws.close()
    print(f"{'what':<30} {'median ms':>10} {'best ms':>10}")
    for label, median, best in rows:
        print(f"{label:<30} {median * 1000:>10.0f} {best * 1000:>10.0f}")
    print("aim: under 300 ms per page")
    # the machine's load beside the figures: wall-clock times on a shared machine stretch
    print("load average (1, 5, 15 min) at the end: "
          + ", ".join(f"{x:.1f}" for x in os.getloadavg()))


if __name__ == "__main__":
    main()
