"""Exports for auditors: a self-contained BagIt bag (RFC 8493) that verifies offline.

Bag layout (specified in docs/evidence-format.md)::

    bagit.txt  bag-info.txt  manifest-sha256.txt  tagmanifest-sha256.txt
    verify.py                    the standalone verifier (stdlib + cryptography)
    data/index.html              the readable timeline per claim
    data/README.txt              how to verify
    data/blobs/<sha256>          every file the exported events refer to
    data/keys/signing.pub        the archive's Ed25519 public key
    data/ledger/checkpoint.json  the signed checkpoint note (with witness cosignatures)
    data/ledger/entries.jsonl    per event: index, exact leaf, leaf hash, inclusion proof
    data/ledger/checkpoints.json earlier signed checkpoint notes, each with a consistency proof
    data/ledger/export.json      signed statement: scope, exactly which entries, derived files

BagIt manifests catch accidental damage; they can be recomputed by whoever tampers, so
verification (:mod:`evidence.verifier`) also checks every blob against its leaf, every leaf
against the signed root, the chain of each claim's events, and the signed export statement.
"""

from __future__ import annotations

import ast
import binascii
import json
import os
import shutil
import uuid
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime
from pathlib import Path
from typing import Any, Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from evidence import verifier, verifier_core
from evidence.blobs import CHUNK, BlobStore, hash_file
from evidence.canonical import canonical_json
from evidence.errors import ExportError, ExportExists
from evidence.html import render_index
from evidence.keys import load_private_key, public_pem
from evidence.model import (Checkpoint, Entry, EventKind, Problem, VerificationReport,
                            as_utc_bound, format_time)

BAGIT_TXT = verifier_core.BAGIT_TXT
#: the modules of the standalone verifier, in the order ``verify.py`` holds them (the last has
#: the verify.py docstring and ``main``)
VERIFIER_PARTS = (verifier_core, verifier)
TAG_FILES = verifier_core.TAG_FILES
README = """Claimwright evidence export
===========================

This folder is a BagIt bag (RFC 8493). It holds events from a Claimwright evidence log, the files
they refer to, and the proofs that tie them to a checkpoint signed with the archive's Ed25519 key
and, when the log has witnesses, cosigned by them.

Open index.html in a browser for the timeline of each claim.

To verify, with no database and no Claimwright (Python 3 and the `cryptography` package):

    python3 verify.py <this bag> --trusted-key <the public key you were given>
    python3 verify.py <this bag> --witness-key <a witness's verifier key you trust>

or `claims evidence verify-export <this bag> --trusted-key ...` (the same checks). Without a
pinned key or witness the verdict is "unpinned": a bag re-signed with another key is
self-consistent. The formats are specified in docs/evidence-format.md of Claimwright.
"""


def _scope(claim: str | None, since: datetime | None, until: datetime | None) -> dict[str, Any]:
    return {"claim": claim, "since": format_time(since) if since else None,
            "until": format_time(until) if until else None}


class ExportSource(Protocol):
    """What an export reads from the archive (:class:`evidence.archive.EvidenceArchive` is one).

    Declared here so that the archive depends on the export and not the other way round.
    """

    evidence_dir: Path
    blobs: BlobStore
    key_file: Path

    def record(self, kind: str, claim: str | None, actor: str,
               metadata: dict[str, Any], *, seal: bool = False) -> Entry: ...

    def checkpoint(self) -> Checkpoint: ...

    def checkpoints(self) -> list[Checkpoint]: ...

    def entries(self, claim: str | None, since: datetime | None,
                until: datetime | None) -> Iterable[Entry]: ...

    def root(self, size: int) -> bytes: ...

    def inclusion_proof(self, index: int, size: int) -> list[bytes]: ...

    def consistency_proof(self, old_size: int, new_size: int) -> list[bytes]: ...


def build_export(archive: ExportSource, out: Path, *, claim: str | None,
                 since: date | datetime | None, until: date | datetime | None, actor: str) -> Path:
    """Build the bag for :meth:`EvidenceArchive.export` (see there); returns ``out``."""
    if out.exists():
        raise ExportExists(out)
    if out.suffix.lower() == ".zip":
        raise ExportError(f"{out}: an export is a bag folder, not a zip; name the folder "
                          "without .zip (and zip it afterwards if you need one)", path=out)
    if not out.parent.is_dir():
        raise ExportError(f"{out.parent} is not a folder", path=out)
    lo, hi = as_utc_bound(since, end=False), as_utc_bound(until, end=True)
    if lo and hi and lo > hi:
        raise ExportError(f"the range starts ({lo:%Y-%m-%d}) after it ends ({hi:%Y-%m-%d})",
                          path=out)
    scope = _scope(claim, lo, hi)
    tmp = out.parent / f".{out.name}.partial-{uuid.uuid4().hex[:8]}"
    try:  # before the export's event: a folder it cannot write into leaves the log as it was
        tmp.mkdir()
    except OSError as err:
        raise ExportError(f"cannot write into {out.parent}: {err.strerror or err}",
                          path=out) from None
    try:
        return _fill_export(archive, tmp, out, claim=claim, lo=lo, hi=hi, scope=scope,
                            actor=actor)
    except OSError as err:  # e.g. the disk filled up: nothing half-written is left behind
        shutil.rmtree(tmp, ignore_errors=True)
        raise ExportError(f"could not write the export {out}: {err.strerror or err}",
                          path=out) from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _fill_export(archive: ExportSource, tmp: Path, out: Path, *, claim: str | None,
                 lo: datetime | None, hi: datetime | None, scope: dict[str, Any],
                 actor: str) -> Path:
    """Record the export's event, write the bag into ``tmp``, then rename it to ``out``."""
    key = load_private_key(archive.evidence_dir, archive.key_file)
    # the export's own event closes the export: a checkpoint ending with it is signed with it
    mark = archive.record(EventKind.EVIDENCE_EXPORTED, claim, actor,
                          {"scope": scope, "bag": out.name}, seal=True)
    cp = [c for c in archive.checkpoints() if c.tree_size == mark.index + 1][-1]
    entries = [e for e in archive.entries(claim, lo, hi) if e.index < cp.tree_size]
    if archive.root(cp.tree_size) != cp.root_hash:
        raise ExportError("the ledger does not match its latest signed checkpoint; run "
                          "`claims evidence verify`", path=out)
    earlier = list({c.tree_size: c for c in sorted(
        archive.checkpoints(), key=lambda c: c.tree_size)
        if c.tree_size < cp.tree_size and c.origin is not None}.values())
    data = tmp / "data"
    for sub in ("blobs", "keys", "ledger"):
        (data / sub).mkdir(parents=True)
    _copy_blobs(archive, entries, data / "blobs")
    (data / "keys" / "signing.pub").write_bytes(public_pem(key.public_key()))
    _write_ledger(archive, data / "ledger", cp, entries, earlier)
    title = verifier_core.export_title(scope)
    (data / "index.html").write_bytes(render_index(title, entries, cp))
    (data / "README.txt").write_bytes(README.encode("utf-8"))
    (tmp / "verify.py").write_bytes(verifier_script())
    statement = {"type": verifier_core.EXPORT_TYPE, "scope": scope, "tree_size": cp.tree_size,
                 "root_hash": cp.root_hash.hex(), "key_id": cp.key_id,
                 "entries": [[e.index, e.leaf_hash.hex()] for e in entries],
                 "checkpoints": [[c.tree_size, c.root_hash.hex()] for c in earlier],
                 "files": {rel: hash_file(tmp / rel)[0] for rel in verifier_core.DERIVED}}
    signature = key.sign(canonical_json(statement))
    (data / "ledger" / "export.json").write_bytes(
        canonical_json({**statement, "signature": signature.hex()}) + b"\n")
    _write_bag_files(tmp, cp, scope)
    if out.exists():
        raise ExportExists(out)
    os.rename(tmp, out)
    return out


def verifier_script() -> bytes:
    """``verify.py``: the verifier's modules (:data:`VERIFIER_PARTS`) as one standalone file:
    the last one's shebang and docstring, then each module's code without its docstring, its
    ``from __future__`` line and its imports of the other parts."""
    out: list[str] = []
    for module in VERIFIER_PARTS:
        text = Path(str(module.__file__)).read_text(encoding="utf-8")
        lines, body = text.split("\n"), ast.parse(text).body
        docstring = body[0].end_lineno or 0  # every part starts with its docstring
        if module is VERIFIER_PARTS[-1]:
            out = lines[:docstring] + ["", "from __future__ import annotations"] + out
        drop = set(range(1, docstring + 1))
        for node in body:
            if isinstance(node, ast.ImportFrom) and str(node.module).split(".")[0] in (
                    "__future__", "evidence"):
                drop.update(range(node.lineno, (node.end_lineno or node.lineno) + 1))
        out += ["", f"# --- {module.__name__} ".ljust(100, "-")]
        out += [line for n, line in enumerate(lines, 1) if n not in drop]
    return ("\n".join(out).rstrip("\n") + "\n").encode("utf-8")


def _copy_blobs(archive: ExportSource, entries: list[Entry], folder: Path) -> None:
    copied: set[str] = set()
    for e in entries:
        for ref in e.blobs.values():
            if ref.sha256 not in copied:
                copied.add(ref.sha256)
                with archive.blobs.open(ref.sha256) as src, open(folder / ref.sha256, "wb") as dst:
                    shutil.copyfileobj(src, dst, CHUNK)


def _write_ledger(archive: ExportSource, folder: Path, cp: Checkpoint, entries: list[Entry],
                  earlier: list[Checkpoint]) -> None:
    (folder / "checkpoint.json").write_bytes(canonical_json(cp.to_json()) + b"\n")
    lines = [canonical_json({"index": e.index, "leaf": e.leaf.decode("utf-8"),
                             "leaf_hash": e.leaf_hash.hex(),
                             "inclusion_proof": [p.hex() for p in archive.inclusion_proof(
                                 e.index, cp.tree_size)]})
             for e in entries]
    (folder / "entries.jsonl").write_bytes(b"".join(line + b"\n" for line in lines))
    (folder / "checkpoints.json").write_bytes(canonical_json({"checkpoints": [
        {"note": c.note_text(),
         "consistency_proof": [p.hex() for p in
                               archive.consistency_proof(c.tree_size, cp.tree_size)]}
        for c in earlier]}) + b"\n")


def _write_bag_files(bag: Path, cp: Checkpoint, scope: dict[str, Any]) -> None:
    payload = sorted(p for p in (bag / "data").rglob("*") if p.is_file())
    hashes = _hash_all(payload)
    manifest = "".join(f"{hashes[p][0]}  {_encode_path(p.relative_to(bag).as_posix())}\n"
                       for p in payload)
    octets = sum(hashes[p][1] for p in payload)
    (bag / "bagit.txt").write_bytes(BAGIT_TXT)
    info = verifier_core.bag_info(cp.time, cp.tree_size, cp.root_hash.hex(),
                                  f"{octets}.{len(payload)}", scope)
    (bag / "bag-info.txt").write_text("".join(f"{label}: {value}\n" for label, value in info),
                                      encoding="utf-8")
    (bag / "manifest-sha256.txt").write_text(manifest, encoding="utf-8")
    tags = "".join(f"{hash_file(bag / name)[0]}  {name}\n" for name in TAG_FILES)
    (bag / "tagmanifest-sha256.txt").write_text(tags, encoding="utf-8")


def _encode_path(path: str) -> str:
    # RFC 8493 §2.1.3: CR, LF and % are percent-encoded in manifest paths
    return path.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _decode_path(path: str) -> str:
    return path.replace("%0A", "\n").replace("%0a", "\n").replace("%0D", "\r") \
        .replace("%0d", "\r").replace("%25", "%")


def _hash_all(paths: Iterable[Path]) -> dict[Path, tuple[str, int]]:
    paths = list(paths)
    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 2)) as pool:
        return dict(zip(paths, pool.map(hash_file, paths), strict=True))


# --- verification -------------------------------------------------------------------------------


def verify_export(path: Path, *, trusted_key: Ed25519PublicKey | Path | bytes | None = None,
                  trusted_checkpoints: Iterable[Checkpoint] = (),
                  witness_keys: Iterable[str] = (), trust_bag_key: bool = False
                  ) -> VerificationReport:
    """Verify an exported bag offline (no workspace, no database); report every problem found.

    Runs the standalone verifier every bag carries (:mod:`evidence.verifier`, ``verify.py``).
    ``trusted_key`` pins the log's public key; ``witness_keys`` pin witnesses (vkeys), whose
    cosignature then vouches for the checkpoint. With neither, the bag fails as "unpinned"
    unless ``trust_bag_key`` accepts the bag's own key. ``trusted_checkpoints`` are checkpoints
    the auditor saved earlier: each must be consistent with the exported one. An option that is
    not what it must be (a key that is not one) raises :class:`evidence.verifier_core.BadOption`.
    """
    if isinstance(trusted_key, Ed25519PublicKey):
        pem: bytes | None = public_pem(trusted_key)
    elif isinstance(trusted_key, Path):
        try:
            pem = verifier_core.read_limited(trusted_key)
        except OSError as err:
            raise verifier_core.BadOption("--trusted-key", f"cannot read: "
                                          f"{err.strerror or err}") from None
    else:
        pem = trusted_key
    saved = tuple(json.dumps(cp.to_json()) for cp in trusted_checkpoints)
    try:
        result = verifier.verify_bag(path, trusted_key=pem, witness_keys=tuple(witness_keys),
                                     trust_bag_key=trust_bag_key, saved_checkpoints=saved)
    except verifier_core.BadOption:
        raise
    except (ValueError, binascii.Error) as err:
        raise ExportError(f"cannot verify {path}: {err}", path=Path(path)) from err
    report = VerificationReport(subject=result.subject, checked=dict(result.checked),
                                key_id=result.key_id)
    report.problems = [Problem(p["code"], p["where"], p["message"]) for p in result.problems]
    report.warnings = [Problem(w["code"], w["where"], w["message"]) for w in result.warnings]
    if result.checkpoint is not None:
        try:
            report.checkpoint = Checkpoint.from_note(result.checkpoint["text"])
        except ValueError:
            report.checkpoint = None
    return report
