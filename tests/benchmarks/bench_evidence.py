"""Benchmark the evidence archive (not collected by pytest).

1. `verify` throughput over blobs (default 2 GB) beside `sha256sum` of the same files, in one run
   (warm page cache for both; best of a few rounds each). Aim: verify within 1.5x of sha256sum.
2. Inclusion proofs in a 1,000,000-entry log: size (hashes, bytes) against log2(n), time to verify
   (aim: under 5 ms), time to make one from an in-memory tree, and from the SQL ledger.
3. In that log: `verify --claim` (the claim's ~200 entries by inclusion proofs against the signed
   checkpoint; aim under 2 s at 1,000,000) beside the full `verify` (every leaf).
4. Witnesses: the round trip per checkpoint to a real witness process (`claims evidence witness
   serve` on 127.0.0.1), beside signing without one.

    python tests/benchmarks/bench_evidence.py            # full: 2 GB, 1,000,000 entries
    python tests/benchmarks/bench_evidence.py --quick    # 64 MB, 20,000 entries
    python tests/benchmarks/bench_evidence.py --entries 200000 --verify-mb 256
"""

from __future__ import annotations

import argparse
import math
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import create_engine, insert, update

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from evidence import EvidenceArchive, auditing, init_keys, ledger, merkle  # noqa: E402
from evidence.canonical import canonical_json  # noqa: E402
from evidence.witness import WitnessEndpoint  # noqa: E402

MB = 1 << 20


def row(name: str, value: str, note: str = "") -> None:
    print(f"  {name:<46} {value:>16}  {note}")


def best_of(rounds: int, fn) -> tuple[float, float]:  # noqa: ANN001
    """(best wall-clock seconds, CPU seconds of that round: this process's threads + children)."""
    results = []
    for _ in range(rounds):
        before = os.times()
        start = time.perf_counter()
        fn()
        wall = time.perf_counter() - start
        after = os.times()
        cpu = sum(after[i] - before[i] for i in range(4))
        results.append((wall, cpu))
    return min(results)


def bench_verify(base: Path, total_mb: int, file_mb: int, rounds: int) -> None:
    engine = create_engine(f"sqlite:///{base / 'claims.db'}")
    init_keys(base / "evidence")
    archive = EvidenceArchive.open(base / "evidence", engine)
    count = max(1, total_mb // file_mb)
    print(f"\nverify vs sha256sum: {count} blobs x {file_mb} MiB = {count * file_mb} MiB")
    chunk = os.urandom(MB)
    for i in range(count):
        # distinct files: a random prefix per MiB keeps every blob unique without 2 GB of urandom
        data = b"".join(i.to_bytes(8, "big") + j.to_bytes(8, "big") + chunk[16:]
                        for j in range(file_mb))
        archive.record("portal.screenshot", f"CLM-{i % 50}", "bench", {"n": i},
                       files={f"file-{i}.bin": data})
    archive.checkpoint()
    paths = [str(p) for d, p in archive.blobs.files() if d is not None]
    total_bytes = sum(os.path.getsize(p) for p in paths)

    def sha256sum() -> None:
        subprocess.run(["sha256sum", *paths], check=True, stdout=subprocess.DEVNULL)

    def openssl() -> None:
        subprocess.run(["openssl", "dgst", "-sha256", *paths], check=True,
                       stdout=subprocess.DEVNULL)

    def verify() -> None:
        report = archive.verify()
        if not report.ok:
            raise SystemExit(report.summary())

    def verify_one_thread() -> None:
        saved = auditing.os.cpu_count
        auditing.os.cpu_count = lambda: 1  # type: ignore[assignment]
        try:
            verify()
        finally:
            auditing.os.cpu_count = saved  # type: ignore[assignment]

    sha256sum()  # warm the page cache for all
    mb = total_bytes / MB
    t_sum, c_sum = best_of(rounds, sha256sum)
    print(f"  {'':<46} {'throughput':>16}  wall s / CPU s (best of {rounds})")
    row("sha256sum (GNU coreutils, reference)", f"{mb / t_sum:,.0f} MB/s",
        f"{t_sum:.2f} / {c_sum:.2f}")
    t_ssl, c_ssl = best_of(rounds, openssl)
    row("openssl dgst -sha256 (for context)", f"{mb / t_ssl:,.0f} MB/s",
        f"{t_ssl:.2f} / {c_ssl:.2f}")
    t_one, c_one = best_of(rounds, verify_one_thread)
    row("evidence verify, 1 hashing thread", f"{mb / t_one:,.0f} MB/s",
        f"{t_one:.2f} / {c_one:.2f}")
    t_verify, c_verify = best_of(rounds, verify)
    row(f"claims evidence verify ({min(8, os.cpu_count() or 2)} threads)",
        f"{mb / t_verify:,.0f} MB/s", f"{t_verify:.2f} / {c_verify:.2f}")
    row("ratio verify / sha256sum, wall time", f"{t_verify / t_sum:.2f}x", "aim: <= 1.5x")
    row("ratio verify (1 thread) / sha256sum, CPU time", f"{c_one / c_sum:.2f}x",
        "load-independent")
    engine.dispose()


def bench_proofs(base: Path, n: int, samples: int, with_sql: bool,
                 with_full_verify: bool = True) -> None:
    print(f"\ninclusion proofs in a {n:,}-entry log")
    leaves = [canonical_json({"v": 1, "index": i, "kind": "status.changed",
                              "claim": f"CLM-{i % 5000}", "time": "2026-01-01T00:00:00.000000Z",
                              "actor": "bench", "metadata": {"to": "approved"}, "blobs": {}})
              for i in range(n)]
    hashes = [merkle.leaf_hash(leaf) for leaf in leaves]
    start = time.perf_counter()
    tree = merkle.MerkleTree.from_leaf_hashes(hashes)
    t_build = time.perf_counter() - start
    root = tree.root()
    rng = random.Random(7)
    indexes = [rng.randrange(n) for _ in range(samples)]
    start = time.perf_counter()
    proofs = [tree.inclusion_proof(i) for i in indexes]
    t_make = (time.perf_counter() - start) / samples
    start = time.perf_counter()
    for i, proof in zip(indexes, proofs, strict=True):
        if not merkle.verify_inclusion(hashes[i], i, n, proof, root):
            raise SystemExit(f"proof for {i} does not verify")
    t_verify = (time.perf_counter() - start) / samples
    # the full check an auditor does for one exported entry: hash the leaf, walk the proof
    start = time.perf_counter()
    for i, proof in zip(indexes, proofs, strict=True):
        merkle.verify_inclusion(merkle.leaf_hash(leaves[i]), i, n, proof, root)
    t_full = (time.perf_counter() - start) / samples
    lengths = [len(p) for p in proofs]
    row("proof length (hashes), max / mean", f"{max(lengths)} / {sum(lengths) / samples:.1f}",
        f"ceil(log2 n) = {math.ceil(math.log2(n))}")
    row("proof size (bytes), max", f"{max(lengths) * 32:,}", "32 bytes per hash")
    row("verify one inclusion proof", f"{t_verify * 1e3:.4f} ms", "aim: < 5 ms")
    row("hash leaf + verify proof", f"{t_full * 1e3:.4f} ms")
    row("make one proof (in-memory tree)", f"{t_make * 1e3:.4f} ms")
    row("build in-memory tree (all 2n-1 hashes)", f"{t_build:.2f} s", f"{n:,} leaves")
    if not with_sql:
        return
    engine = create_engine(f"sqlite:///{base / 'big.db'}")
    ledger.create_schema(engine)
    start = time.perf_counter()
    compact: list[bytes] = []
    for i, lh in enumerate(hashes):
        compact = merkle.compact_append(compact, i, lh)
    with engine.begin() as conn:
        # the driver's executemany: this is set-up, not what is measured
        conn.connection.driver_connection.executemany(
            "INSERT INTO evidence_entries (idx, leaf, leaf_hash, kind, claim, recorded_at) "
            "VALUES (?, ?, ?, 'status.changed', ?, '2026-01-01T00:00:00.000000Z')",
            ((i, leaf, lh, f"CLM-{i % 5000}")
             for i, (leaf, lh) in enumerate(zip(leaves, hashes, strict=True))))
        conn.execute(update(ledger.state_table).values(size=n, compact=b"".join(compact)))
        conn.execute(insert(ledger.nodes_table), [
            {"height": height, "idx": index, "hash": node}
            for height in range(ledger.NODE_MIN_HEIGHT, n.bit_length())
            for index in range(n >> height)
            if (node := tree.node(height, index)) is not None])
    t_load = time.perf_counter() - start
    init_keys(base / "big-evidence")
    archive = EvidenceArchive.open(base / "big-evidence", engine)
    start = time.perf_counter()
    cp = archive.checkpoint()
    t_cp = time.perf_counter() - start
    start = time.perf_counter()
    for i in indexes[:100]:
        proof = archive.inclusion_proof(i, cp.tree_size)
        if not merkle.verify_inclusion(hashes[i], i, n, proof, cp.root_hash):
            raise SystemExit(f"SQL proof for {i} does not verify")
    t_sql = (time.perf_counter() - start) / 100
    start = time.perf_counter()
    archive.tree(cp.tree_size)
    t_sql_tree = time.perf_counter() - start
    row("bulk-load the SQL ledger (SQLite)", f"{t_load:.1f} s", "setup only")
    row("sign a checkpoint (compact range, no leaf read)", f"{t_cp * 1e3:.1f} ms")
    row("make one proof from the SQL ledger", f"{t_sql * 1e3:.1f} ms",
        f"node cache (>= 2^{ledger.NODE_MIN_HEIGHT} leaves) + <= 256 leaf hashes")
    row("read all leaf hashes + build tree (verify/export)", f"{t_sql_tree:.2f} s")
    bench_claim_verify(archive, n, full=with_full_verify)
    engine.dispose()


def bench_claim_verify(archive: EvidenceArchive, n: int, *, full: bool) -> None:
    claim = "CLM-7"
    start = time.perf_counter()
    report = archive.verify(claim=claim)
    t_claim = time.perf_counter() - start
    if not report.ok:
        raise SystemExit(report.summary())
    proofs = report.checked.get("inclusion proofs", 0)
    row(f"verify --claim {claim} ({proofs} entries, proofs)", f"{t_claim:.2f} s",
        f"{n:,} entries; aim: < 2 s at 1,000,000")
    if not full:
        return
    start = time.perf_counter()
    report = archive.verify()
    t_full = time.perf_counter() - start
    if not report.ok:
        raise SystemExit(report.summary())
    row("full verify (every leaf, tree, nodes)", f"{t_full:.2f} s",
        f"{t_full / t_claim:.0f}x the claim's")


def bench_witness(base: Path, checkpoints: int) -> None:
    print(f"\nwitness round trip: {checkpoints} checkpoints, one new entry each")
    engine = create_engine(f"sqlite:///{base / 'witnessed.db'}")
    init_keys(base / "witnessed")
    plain = EvidenceArchive.open(base / "witnessed", engine)
    vkey = plain.verifier_key()
    proc = subprocess.Popen([sys.executable, "-m", "claims", "evidence", "witness", "serve",
                             "--state", str(base / "witness"), "--port", "0", "--log", vkey],
                            stdout=subprocess.PIPE, text=True,
                            cwd=Path(__file__).resolve().parents[2])
    try:
        url = proc.stdout.readline().split()[-1]  # type: ignore[union-attr]
        witness_vkey = proc.stdout.readline().split()[-1]  # type: ignore[union-attr]
        witnessed = EvidenceArchive.open(base / "witnessed", engine,
                                         witnesses=[WitnessEndpoint(url, witness_vkey)])

        def run(archive: EvidenceArchive) -> float:
            start = time.perf_counter()
            for i in range(checkpoints):
                archive.record("status.changed", "CLM-1", "bench", {"n": i})
                cp = archive.checkpoint()
            elapsed = (time.perf_counter() - start) / checkpoints
            if archive is witnessed and (archive.witness_problems or not cp.cosignatures):
                raise SystemExit(f"witness failed: {archive.witness_problems}")
            return elapsed

        t_plain, t_witnessed = run(plain), run(witnessed)
    finally:
        proc.terminate()
        proc.wait()
    row("record + checkpoint, no witness", f"{t_plain * 1e3:.1f} ms")
    row("record + checkpoint + witness cosignature", f"{t_witnessed * 1e3:.1f} ms")
    row("witness round trip per checkpoint", f"{(t_witnessed - t_plain) * 1e3:.1f} ms",
        "HTTP POST, consistency proof, fsync, cosignature stored")
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--entries", type=int, default=None,
                        help="log size for the proofs and verify --claim (default 1,000,000)")
    parser.add_argument("--verify-mb", type=int, default=None,
                        help="blob bytes for verify vs sha256sum (default 2048)")
    parser.add_argument("--no-full-verify", action="store_true",
                        help="skip the full verify of the big log (minutes at 1,000,000)")
    parser.add_argument("--checkpoints", type=int, default=None,
                        help="checkpoints sent to the witness (default 200)")
    parser.add_argument("--dir", type=Path, default=None, help="scratch folder (default: temp)")
    args = parser.parse_args()
    total_mb, file_mb, n, samples, rounds, cps = ((64, 4, 20_000, 500, 2, 30) if args.quick
                                                  else (2048, 32, 1_000_000, 2000, 3, 200))
    total_mb, n = args.verify_mb or total_mb, args.entries or n
    cps = args.checkpoints or cps
    base = Path(tempfile.mkdtemp(prefix="bench-evidence-", dir=args.dir))
    load = os.getloadavg()[0]
    print(f"evidence benchmark ({'quick' if args.quick else 'full'}), load average {load:.1f}, "
          f"{os.cpu_count()} CPUs, scratch {base}")
    try:
        bench_verify(base, total_mb, file_mb, rounds)
        bench_proofs(base, n, samples, with_sql=True, with_full_verify=not args.no_full_verify)
        bench_witness(base, cps)
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
