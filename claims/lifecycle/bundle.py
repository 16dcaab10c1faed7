"""Deterministic submission bundles: a BagIt bag (RFC 8493) and a zip of it.

Layout::

    <name>/bagit.txt
    <name>/bag-info.txt
    <name>/manifest-sha256.txt
    <name>/tagmanifest-sha256.txt
    <name>/data/claim.json
    <name>/data/documents/NN-<type>.pdf

The same inputs give byte-identical files and zip: entries in a fixed order, fixed timestamps
(1980-01-01) and permissions, canonical JSON, no build time anywhere. Each stored document is
read once (1 MiB at a time: memory does not grow with file size) to check its SHA-256 against
the one recorded at intake and take the zip's CRC-32; only then is it copied, by the kernel
(:mod:`claims.lifecycle.storedzip`), into the zip, the bag folder and the evidence blob, each
copy followed by a hint to start writing it to disk (the flush that makes it durable then has
less to wait for; it promises nothing itself). Copies, never hard links: editing a bag must not
touch the workspace's stored documents. Everything is built in a temporary folder beside the
destination and moved into place at the end. An existing bundle is never overwritten:
rebuilding is a no-op only when every byte there matches the bag's digest
(:mod:`claims.lifecycle.bagcheck` re-reads it).
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import tempfile
import time
import zipfile
import zlib
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any, BinaryIO

from evidence import BlobBatch, Staged, flush_files
from claims.errors import BundleError, StoredCopyChanged
from claims.lifecycle.bagcheck import bag_folder_problems, bag_zip_problems
from claims.lifecycle.documents.stored import copy_changed
from claims.lifecycle.storedzip import StoredZip, copy_range, start_writeback
from claims.core.models import Claim, Contract, Invoice
from claims.core.money import quantize

CHUNK = 1024 * 1024
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
FORMAT = "claimwright-claim/1"


@dataclass(frozen=True)
class Bundle:
    directory: Path
    zip_path: Path
    #: SHA-256 of the bag's tagmanifest-sha256.txt: it covers every tag file, and through
    #: manifest-sha256.txt every payload file, so it identifies the bag's whole content.
    bag_digest: str
    payload_bytes: int
    files: int
    reused: bool = False   # an identical bundle was there already
    #: the bag's files staged as evidence blobs while it was built (name → blob), durable
    #: with the zip; empty when built without a batch or reused
    staged: dict[str, Staged] = field(default_factory=dict)


def _money(value: Decimal) -> str:
    return str(quantize(value, 2)) if value == value.quantize(Decimal("0.01")) else str(value)


def document_filename(seq: int, doc_type: str) -> str:
    return f"{seq:02d}-{doc_type}.pdf"


def claim_document(claim: Claim, contract: Contract, invoice: Invoice) -> dict[str, Any]:
    """The ``data/claim.json`` of a claim: what the portal is told, in a stable shape."""
    retention = quantize(invoice.total * contract.retention_percent / 100,
                         contract.rounding.places, contract.rounding.mode)
    doc: dict[str, Any] = {
        "format": FORMAT,
        "claim_type": claim.claim_type,
        "contract": {"number": contract.number, "agency": contract.agency,
                     "currency": contract.currency, "portal": contract.portal},
        "supplier": contract.supplier,
        "invoice": {
            "number": invoice.number,
            "issue_date": invoice.issue_date.isoformat(),
            "due_date": invoice.due_date.isoformat() if invoice.due_date else None,
            "net": _money(invoice.net), "vat": _money(invoice.vat),
            "total": _money(invoice.total),
            "lines": [{"description": ln.description, "quantity": str(ln.quantity),
                       "unit_price": str(ln.unit_price), "net": _money(ln.net),
                       "vat": _money(ln.vat)} for ln in invoice.lines],
        },
        "amounts": {"claimed": _money(invoice.total), "retention": _money(retention),
                    "payable": _money(invoice.total - retention)},
        "documents": [
            {"seq": seq, "type": d.type, "file": f"documents/{document_filename(seq, d.type)}",
             "sha256": d.sha256, "size": d.size, "pages": d.pages, "media_type": d.media_type}
            for seq, d in enumerate(claim.documents, start=1)],
    }
    if claim.period_start and claim.period_end:
        doc["period"] = {"start": claim.period_start.isoformat(),
                         "end": claim.period_end.isoformat()}
    if claim.milestone:
        doc["milestone"] = claim.milestone
    return doc


def canonical_json(data: Any) -> bytes:
    return (json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False) + "\n").encode()


def bundle_name(claim: Claim) -> str:
    """``claim-000017-INV-001``; a corrected claim's bundles get ``-r2``, ``-r3``, …"""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in claim.invoice_number)
    revision = 1 + sum(e.kind == "corrected" for e in claim.events)
    return f"claim-{claim.id:06d}-{safe}" + (f"-r{revision}" if revision > 1 else "")


def _zip_entry(arcname: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(arcname, date_time=ZIP_EPOCH)
    info.external_attr = 0o100644 << 16
    info.create_system = 3
    info.compress_type = zipfile.ZIP_STORED
    return info


def _sha256_crc32(fd: int) -> tuple[str, int, int]:
    """One read of the file ``fd`` from its start (a reused 1 MiB buffer): its SHA-256, CRC-32
    and size."""
    digest, crc, size = hashlib.sha256(), 0, 0
    buf = bytearray(CHUNK)
    view = memoryview(buf)
    while n := os.preadv(fd, [buf], size):
        digest.update(view[:n])
        crc = zlib.crc32(view[:n], crc)
        size += n
    return digest.hexdigest(), crc, size


def _unchanged_key(st: os.stat_result) -> tuple[int, int, int, int]:
    return st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns


def _copy_into_bag_and_zip(zf: StoredZip, arcname: str, src: Path, dst: Path,
                           blob: BinaryIO | None, recorded: str) -> str:
    """Check ``src`` against its ``recorded`` SHA-256 (one read, the zip's CRC-32 on the way),
    then copy it into the zip, to ``dst`` (a real copy, never a link) and to ``blob`` (the
    evidence copy, if one is wanted) in the kernel (:func:`copy_range`). Returns the SHA-256
    read; nothing is copied when it is not ``recorded``. The copies are the bytes hashed: any
    write to ``src`` changes its ctime (and mtime), and one seen across the copies raises
    :class:`OSError` (the bundle is then not built)."""
    with src.open("rb", buffering=0) as fin:
        fd = fin.fileno()
        before = _unchanged_key(os.fstat(fd))
        sha, crc, size = _sha256_crc32(fd)
        if sha != recorded:
            return sha
        zf.add_file(_zip_entry(arcname), fd, size, crc)
        with dst.open("xb") as copy:
            copy_range(fd, copy.fileno(), size)
            start_writeback(copy.fileno())
        if blob is not None:
            blob.flush()
            copy_range(fd, blob.fileno(), size)
            start_writeback(blob.fileno())
        if _unchanged_key(os.fstat(fd)) != before:
            raise OSError(errno.EAGAIN, "the stored copy was written to while it was copied",
                          str(src))
    return sha


def _blob_sink(blobs: BlobBatch | None, digest: str,
               size: int) -> AbstractContextManager[BinaryIO | None]:
    return nullcontext(None) if blobs is None else blobs.sink(digest, size)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True
    return True


def clean_stale_staging(out_dir: Path, *, min_age_s: float = 600) -> list[Path]:
    """Remove the staging folders (``.claim-….<pid>.…``) that killed builds left in
    ``out_dir``: those whose process is gone (or, unnamed, older than ``min_age_s``).
    Returns what was removed."""
    removed = []
    try:
        candidates = [p for p in out_dir.glob(".claim-*") if p.is_dir()]
    except OSError:
        return removed
    for path in candidates:
        parts = path.name.rsplit(".", 2)
        if len(parts) == 3 and parts[1].isdigit():
            stale = int(parts[1]) != os.getpid() and not _alive(int(parts[1]))
        else:
            try:
                stale = time.time() - path.stat().st_mtime > min_age_s
            except OSError:
                stale = False
        if stale:
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


@dataclass(frozen=True)
class _Plan:
    """What a claim's bag holds, computed before anything is written."""

    name: str
    tags: dict[str, bytes]
    claim_json: bytes
    documents: list[tuple[str, Any]]
    bag_digest: str
    payload_bytes: int
    files: int


def _plan(claim: Claim, contract: Contract, invoice: Invoice, bagging_date: date) -> _Plan:
    name = bundle_name(claim)
    documents = [(f"data/documents/{document_filename(seq, d.type)}", d)
                 for seq, d in enumerate(claim.documents, start=1)]
    claim_json = canonical_json(claim_document(claim, contract, invoice))
    manifest = sorted([(d.sha256, rel) for rel, d in documents]
                      + [(hashlib.sha256(claim_json).hexdigest(), "data/claim.json")],
                      key=lambda item: item[1])
    payload_bytes = sum(d.size for d in claim.documents) + len(claim_json)
    tags = {
        "bagit.txt": b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n",
        "bag-info.txt": "".join(f"{k}: {v}\n" for k, v in [
            ("Source-Organization", contract.supplier or "unknown"),
            ("External-Identifier", name),
            ("External-Description", f"{claim.claim_type} claim on contract "
                                     f"{contract.number} for invoice {invoice.number}"),
            ("Bagging-Date", bagging_date.isoformat()),
            ("Payload-Oxum", f"{payload_bytes}.{len(manifest)}"),
            ("Contract-Number", contract.number),
            ("Invoice-Number", invoice.number),
        ]).encode(),
        "manifest-sha256.txt": "".join(f"{sha}  {rel}\n" for sha, rel in manifest).encode(),
    }
    tagmanifest = "".join(f"{hashlib.sha256(tags[rel]).hexdigest()}  {rel}\n"
                          for rel in sorted(tags)).encode()
    tags["tagmanifest-sha256.txt"] = tagmanifest
    return _Plan(name, tags, claim_json, documents, hashlib.sha256(tagmanifest).hexdigest(),
                 payload_bytes, len(manifest))


def _stage(plan: _Plan, claim: Claim, root: Path, staging: Path,
           blobs: BlobBatch | None) -> tuple[Path, Path, dict[str, Staged]]:
    """Write the bag folder and its zip into ``staging`` (and the bag's files into ``blobs``,
    when given); returns (folder, zip, staged blobs). Nothing is flushed here: the caller makes
    the zip (and the staged blobs) durable before the zip is moved into place."""
    name = plan.name
    bag = staging / name
    (bag / "data" / "documents").mkdir(parents=True)
    staged_zip = staging / f"{name}.zip"
    staged: dict[str, Staged] = {}
    with staged_zip.open("xb") as out:
        zf = StoredZip(out)
        for rel in sorted(plan.tags):
            (bag / rel).write_bytes(plan.tags[rel])
            zf.add_bytes(_zip_entry(f"{name}/{rel}"), plan.tags[rel])
        (bag / "data" / "claim.json").write_bytes(plan.claim_json)
        zf.add_bytes(_zip_entry(f"{name}/data/claim.json"), plan.claim_json)
        for rel, doc in plan.documents:
            with _blob_sink(blobs, doc.sha256, doc.size) as blob:
                sha = _copy_into_bag_and_zip(zf, f"{name}/{rel}", root / doc.stored_path,
                                             bag / rel, blob, doc.sha256)
                if changed := copy_changed(doc.sha256, sha):
                    raise StoredCopyChanged(f"{doc.filename}: {changed}", claim_id=claim.id,
                                            path=doc.stored_path, filename=doc.filename,
                                            changed=changed)
            if blobs is not None and blobs.stored(doc.sha256):
                staged[Path(rel).name] = Staged(doc.sha256, doc.size)
        zf.close()
    if blobs is None:
        return bag, staged_zip, {}
    for name, data in [(rel, plan.tags[rel]) for rel in (
            "bag-info.txt", "manifest-sha256.txt", "tagmanifest-sha256.txt")] + [
            ("claim.json", plan.claim_json)]:
        try:
            staged[name] = blobs.add(data)
        except OSError:
            pass  # not staged: the evidence is recorded from the bag folder (or fails there)
    return bag, staged_zip, staged


@dataclass
class StagedBundle:
    """A bundle written into its staging folder, not yet durable nor in place
    (:func:`stage_bundle`); :func:`place_bundle` moves it in once :attr:`due` is flushed."""

    plan: _Plan
    claim_id: int
    out_dir: Path
    staging: Path
    bag: Path
    zip_path: Path
    present: list[Path]
    staged: dict[str, Staged]

    @property
    def due(self) -> list[Path]:
        """The files to make durable before the bundle is placed: its zip (the staged evidence
        blobs are flushed with their batch)."""
        return [self.zip_path]

    def discard(self) -> None:
        """Remove the staging folder (the bundle is not placed)."""
        shutil.rmtree(self.staging, ignore_errors=True)


def stage_bundle(claim: Claim, contract: Contract, invoice: Invoice, *, root: Path,
                 out_dir: Path, bagging_date: date,
                 blobs: BlobBatch | None = None) -> Bundle | StagedBundle:
    """The first half of :func:`build_bundle`: the existing bundle (``reused``) when every
    byte of it matches, else the bag and its zip written in a staging folder under ``out_dir``
    (and the bag's files staged in ``blobs``), nothing flushed, nothing in place yet. Raises
    :class:`BundleError`, leaving nothing behind, as :func:`build_bundle` does."""
    plan = _plan(claim, contract, invoice, bagging_date)
    final_dir, final_zip = out_dir / plan.name, out_dir / f"{plan.name}.zip"
    if out_dir.exists() and not out_dir.is_dir():
        raise BundleError(f"{out_dir} is not a folder (--out names the folder for bundles)",
                          claim_id=claim.id, path=str(out_dir))
    clean_stale_staging(out_dir)
    present = [p for p in (final_dir, final_zip) if p.exists() or p.is_symlink()]
    problems = []
    if final_dir in present:
        problems += bag_folder_problems(final_dir, plan.bag_digest)
    if final_zip in present:
        problems += bag_zip_problems(final_zip, plan.name, plan.bag_digest)
    if problems:
        raise BundleError(f"{plan.name} exists and differs from this build ({problems[0]}); "
                          f"refusing to overwrite it (move {out_dir / plan.name}* away to "
                          "rebuild)",
                          claim_id=claim.id, path=str(final_zip))
    if len(present) == 2:
        return Bundle(final_dir, final_zip, plan.bag_digest, plan.payload_bytes, plan.files,
                      reused=True)
    staging = None
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{plan.name}.{os.getpid()}.", dir=out_dir))
        bag, staged_zip, staged = _stage(plan, claim, root, staging, blobs)
        return StagedBundle(plan, claim.id, out_dir, staging, bag, staged_zip, present, staged)
    except OSError as err:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
        raise BundleError(f"cannot build bundle {plan.name} in {out_dir}: "
                          f"{err.strerror or err}", claim_id=claim.id) from err
    except BaseException:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
        raise


def place_bundle(staged: StagedBundle) -> Bundle:
    """The second half of :func:`build_bundle`: move a staged bundle whose :attr:`due` files
    the caller made durable into place (the parts a killed build left are kept), and remove
    its staging folder. Raises :class:`BundleError`."""
    plan, out_dir = staged.plan, staged.out_dir
    final_dir, final_zip = out_dir / plan.name, out_dir / f"{plan.name}.zip"
    try:
        if final_dir not in staged.present:
            staged.bag.rename(final_dir)
        if final_zip not in staged.present:
            staged.zip_path.rename(final_zip)
        return Bundle(final_dir, final_zip, plan.bag_digest, plan.payload_bytes, plan.files,
                      staged=staged.staged)
    except OSError as err:
        raise BundleError(f"cannot build bundle {plan.name} in {out_dir}: "
                          f"{err.strerror or err}", claim_id=staged.claim_id) from err
    finally:
        staged.discard()


def build_bundle(claim: Claim, contract: Contract, invoice: Invoice, *, root: Path,
                 out_dir: Path, bagging_date: date, blobs: BlobBatch | None = None) -> Bundle:
    """Build the bag folder and its zip under ``out_dir``; returns where they are.

    ``root`` is the workspace the claim's stored documents are relative to. Every payload byte
    is read once: copied into the bag folder and the zip while its SHA-256 is checked against
    the one recorded at intake. An existing bundle of the same name counts as this one
    (``reused``) only when every byte of it matches (re-hashed); a part missing after a killed
    build (the folder without its zip) is put back; staging folders of killed builds are
    removed. With ``blobs``, the bag's files are staged there as evidence blobs in the same
    pass (:attr:`Bundle.staged`) and made durable with the zip by one flush (without, the zip
    is fsynced) before it is moved into place. Raises :class:`BundleError`, leaving nothing
    behind, if a stored document changed, ``out_dir`` is not a folder, or the destination
    holds a different bundle. :func:`stage_bundle` and :func:`place_bundle` are its two
    halves, for callers that flush many bundles at once.
    """
    staged = stage_bundle(claim, contract, invoice, root=root, out_dir=out_dir,
                          bagging_date=bagging_date, blobs=blobs)
    if isinstance(staged, Bundle):
        return staged
    try:
        if blobs is None:
            flush_files(staged.due)
        else:
            blobs.flush(also=staged.due)
    except OSError as err:
        staged.discard()
        raise BundleError(f"cannot build bundle {staged.plan.name} in {out_dir}: "
                          f"{err.strerror or err}", claim_id=claim.id) from err
    return place_bundle(staged)
