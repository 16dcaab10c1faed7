"""Benchmark claims.lifecycle.documents.pdf: PDF inspection time and peak memory against
reading the file.

Prints a table. The reference in the same run is hash_file (a streamed read of every byte):
inspecting should cost a small, size-independent fraction of it. Peak RSS is measured in a
fresh subprocess per row, next to pypdf given the *path* (which reads the file whole).

    python tests/benchmarks/bench_documents.py            # 1 MB and 1 GB files
    python tests/benchmarks/bench_documents.py --quick    # 1 MB and 100 MB
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from claims.lifecycle.documents.pdf import hash_file, inspect_pdf
from claims.samples.pdfs import make_padded_pdf

MEASURE = """
import json, sys, time
sys.path.insert(0, {root!r})
from tests.memory import peak_rss_mb
start = time.perf_counter()
{body}
print(json.dumps({{"seconds": time.perf_counter() - start,
                  "peak_rss_mb": peak_rss_mb()}}))
"""


def _in_subprocess(body: str) -> dict[str, float]:
    code = MEASURE.format(body=body, root=str(Path(__file__).resolve().parents[2]))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small run (1 MB and 100 MB)")
    args = parser.parse_args()
    sizes = [1_000_000, 100_000_000] if args.quick else [1_000_000, 1_000_000_000]
    print(f"{'file':>10} {'inspect ms':>11} {'hash ms':>9} {'ratio':>7} "
          f"{'inspect RSS MB':>15} {'pypdf(path) RSS MB':>19}")
    with tempfile.TemporaryDirectory() as tmp:
        for size in sizes:
            path = Path(tmp) / f"padded-{size}.pdf"
            make_padded_pdf(path, size)
            runs = 5 if size <= 10_000_000 else 1
            inspect_pdf(path)  # warm: the first call imports pypdf
            t0 = time.perf_counter()
            for _ in range(runs):
                result = inspect_pdf(path, needles=["one page of text"])
            inspect_s = (time.perf_counter() - t0) / runs
            assert result.ok and result.found["one page of text"] == [1], result
            t0 = time.perf_counter()
            hash_file(path)
            hash_s = time.perf_counter() - t0
            ours = _in_subprocess(
                "from claims.lifecycle.documents.pdf import inspect_pdf\n"
                f"inspect_pdf({str(path)!r}, "
                "needles=['one page of text'])")
            naive = _in_subprocess(
                f"from pypdf import PdfReader\nPdfReader({str(path)!r}).pages[0].extract_text()")
            print(f"{size / 1e6:>8.0f}MB {inspect_s * 1000:>11.1f} {hash_s * 1000:>9.1f} "
                  f"{inspect_s / hash_s:>7.3f} {ours['peak_rss_mb']:>15.1f} "
                  f"{naive['peak_rss_mb']:>19.1f}")
            path.unlink()


if __name__ == "__main__":
    main()
