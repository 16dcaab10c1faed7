"""Benchmark: the 13-week forecast on many open invoices, and the backtest over 52 weeks.

    python tests/benchmarks/bench_forecast.py              # full: 100,000 open, 1,000,000 history
    python tests/benchmarks/bench_forecast.py --quick      # quick: 20,000 open, 20,000 history
    python tests/benchmarks/bench_forecast.py --part open  # part 1 only (100,000 open)
    python tests/benchmarks/bench_forecast.py --part backtest --history 200000  # part 2 only

Part 1 generates a history (claims.forecast.synthetic) with enough invoices that ``--open`` of
them are still open at the as-of date (it counts, and generates more when short; the count
actually open is printed), loads it into a real SQLite workspace in a few transactions, then
times ``api.cash_forecast`` (load from the store + learn + forecast) and the pure model alone,
beside a reference: the naive forecast (one pass over the same open items). Each figure is
wall time with the process's CPU time beside it, and the load average is printed: on a
machine shared with others the wall time counts their work too.
Part 2 replays 52 weekly as-of dates on a generated history held in memory, printing
WAPE and bias by horizon for naive, lag and the model, and the time per as-of date as it goes,
beside a reference: the first ``--reference-dates`` dates replayed with ``learn()`` from scratch
for each date (the backtest learns once through ``claims.forecast.learner.Learner``; the same
scores, tests/forecast/test_learner.py).
Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from claims import api  # noqa: E402
from claims.forecast.backtest import baselines, run_backtest  # noqa: E402
from claims.forecast.bulk import load_history  # noqa: E402
from claims.forecast.history import learn  # noqa: E402
from claims.forecast.ledger import Ledger  # noqa: E402
from claims.forecast.model import Options, forecast  # noqa: E402
from claims.forecast.synthetic import History, generate  # noqa: E402
from claims.workspace import init_workspace  # noqa: E402


def open_history(count: int, end: date) -> tuple[History, Ledger, int]:
    """A generated history over the 200 days before ``end`` with at least ``count`` invoices
    open at the end of ``end`` (about 40 % of them are: generate, count, scale up, again)."""
    invoices = int(count * 2.5)
    while True:
        history = generate(invoices, max(count // 20, 50), start=end - timedelta(days=200),
                           end=end)
        ledger = history.to_ledger()
        open_now = len({item.invoice_id for item, _ in ledger.open_items(end)})
        if open_now >= count:
            return history, ledger, open_now
        invoices = int(invoices * count / max(open_now, 1) * 1.005) + 1


def open_invoices(count: int) -> None:
    """``count`` open invoices (or a few more): a history whose last 120 days are mostly
    unpaid."""
    end = date(2026, 6, 30)
    history, ledger, open_now = open_history(count, end)
    invoices = len(history.items)
    with tempfile.TemporaryDirectory() as tmp:
        ws = init_workspace(Path(tmp) / "ws")
        with _timed() as loaded:
            load_history(ws.store, history, known_by=end)
        with _timed() as full:
            fc = api.cash_forecast(ws, end)
        ws.close()
    with _timed() as learned:
        behaviour = learn(ledger, end)
    with _timed() as model:
        forecast(ledger, behaviour, end, Options())
    with _timed() as reference:
        baselines(ledger, behaviour, end, 13)
    print(f"open invoices {open_now:,} of {invoices:,} generated; {len(fc.lines):,} lines "
          f"(wall and this process's CPU time; load average {_load()})")
    print(f"  load history into SQLite (bulk)       {loaded}")
    print(f"  api.cash_forecast (store+learn+model) {full}   aim < 5 s")
    print(f"  learn (pure)                          {learned}")
    print(f"  forecast model (pure)                 {model}")
    print(f"  reference: naive + lag pass           {reference}")


class _Span:
    """Wall and CPU seconds of a block: on a shared machine the wall time also counts the
    neighbours' work, the process's CPU time does not (read both)."""

    def __init__(self) -> None:
        self.wall = self.cpu = 0.0

    def __str__(self) -> str:
        return f"{self.wall:8.2f} s (cpu {self.cpu:6.2f} s)"


@contextmanager
def _timed() -> Iterator[_Span]:
    span = _Span()
    wall, cpu = time.perf_counter(), time.process_time()
    try:
        yield span
    finally:
        span.wall, span.cpu = time.perf_counter() - wall, time.process_time() - cpu


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())

def backtest(history_size: int, dates: int, reference_dates: int) -> None:
    start = date(2024, 1, 1)
    end = date(2026, 12, 31)
    began = time.perf_counter()
    history = generate(history_size, max(history_size // 100, 100), start=start, end=end)
    ledger = history.to_ledger()
    print(f"\nbacktest: generated {history_size:,} invoices in "
          f"{time.perf_counter() - began:.1f} s", flush=True)
    first = date(2025, 6, 2)
    last = first + timedelta(days=7 * (dates - 1))
    ref: dict = {}
    if reference_dates:  # the reference: learn() from scratch for the first few dates
        ref_last = first + timedelta(days=7 * (reference_dates - 1))
        ref = run_backtest(ledger, first, ref_last, incremental=False).to_json()
        print(f"  reference, learn() per date, {ref['as_of_dates']} dates: "
              f"{ref['seconds_per_as_of']['mean']} s per as-of date", flush=True)
    began = time.perf_counter()
    result = run_backtest(ledger, first, last, progress=lambda day, s: print(
        f"    as of {day}: {s:.2f} s", flush=True)).to_json()
    took = time.perf_counter() - began
    print(f"backtest: {history_size:,} invoices, {result['as_of_dates']} weekly as-of dates "
          f"{result['from']} … {result['to']}: {took:.1f} s, learning set up once in "
          f"{result['setup_seconds']} s, then {result['seconds_per_as_of']['mean']} s per "
          f"as-of date (max {result['seconds_per_as_of']['max']})")
    if reference_dates:
        mean = result["seconds_per_as_of"]["mean"]
        print(f"  per as-of date: learn() each date {ref['seconds_per_as_of']['mean']} s, "
              f"learner {mean} s: {ref['seconds_per_as_of']['mean'] / mean:.1f}× "
              f"(the learner's set-up, once: {result['setup_seconds']} s)")
    for horizon, methods in result["scores"]["EUR"].items():
        print(f"  {horizon}:")
        for method in ("naive", "lag", "model"):
            s = methods[method]
            extra = (f"  P10-P90 coverage {s['p10_p90_coverage_percent']} %"
                     if method == "model" else "")
            print(f"    {method:<6} WAPE {s['wape_percent']:>6} %   bias {s['bias_percent']:>6} %"
                  + extra)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--open", type=int, default=None,
                        help="invoices open at the as-of date (default 100000; --quick 20000)")
    parser.add_argument("--history", type=int, default=None,
                        help="invoices in the backtest history (default 1000000; --quick 20000)")
    parser.add_argument("--quick", action="store_true",
                        help="small sizes: 20,000 open invoices, a 20,000-invoice backtest")
    parser.add_argument("--dates", type=int, default=52, help="weekly as-of dates")
    parser.add_argument("--reference-dates", type=int, default=3,
                        help="as-of dates replayed first with learn() from scratch (0: none)")
    parser.add_argument("--part", choices=("all", "open", "backtest"), default="all",
                        help="run part 1 (open invoices), part 2 (backtest) or both")
    args = parser.parse_args()
    if args.open is None:
        args.open = 20_000 if args.quick else 100_000
    if args.history is None:
        args.history = 20_000 if args.quick else 1_000_000
    if args.part in ("all", "open"):
        open_invoices(args.open)
    if args.part in ("all", "backtest"):
        backtest(args.history, args.dates, args.reference_dates)


if __name__ == "__main__":
    main()
