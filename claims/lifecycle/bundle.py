"""Deterministic submission bundles: a BagIt bag (RFC 8493) and a zip of it.

Layout::

    <name>/bagit.txt
    <name>/bag-info.txt
    <name>/manifest-sha256.txt
    <name>/tagmanifest-sha256.txt
    <name>/data/claim.json
    <name>/data/documents/NN-<type>.pdf

The same inputs give byte-identical files and zip: entries in a fixed order, fixed timestamps
(1980-01-01) and permissions, canonical JSON, no build time anywhere. Files are streamed in
1 MiB chunks (memory does not grow with file size), everything is built in a temporary folder
beside the destination and moved into place at the end, and an existing bundle is never
overwritten (rebuilding identical bytes is a no-op).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from claims.errors import BundleError
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


def _link_or_copy(src: Path, dst: Path) -> None:
    """Hard-link a stored (read-only, content-addressed) file into the bag; copy if we can't."""
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


def _zip_entry(zf: zipfile.ZipFile, arcname: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(arcname, date_time=ZIP_EPOCH)
    info.external_attr = 0o100644 << 16
    info.create_system = 3
    info.compress_type = zipfile.ZIP_STORED
    return info


def _stream_into_zip(zf: zipfile.ZipFile, arcname: str, src: Path) -> tuple[str, int]:
    """Copy ``src`` into the zip, hashing it on the way: one read of every byte."""
    digest, size = hashlib.sha256(), 0
    with src.open("rb") as fin, zf.open(_zip_entry(zf, arcname), "w", force_zip64=True) as out:
        while chunk := fin.read(CHUNK):
            digest.update(chunk)
            out.write(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _same_bag(bag: Path, zip_path: Path, name: str, tagmanifest: bytes,
              sizes: dict[str, int]) -> bool:
    """Is the bundle already there this very bag? (Cheap: tag files and the zip's directory.)"""
    existing = bag / "tagmanifest-sha256.txt"
    if not (zip_path.is_file() and existing.is_file() and existing.read_bytes() == tagmanifest):
        return False
    try:
        with zipfile.ZipFile(zip_path) as zf:
            if zf.read(f"{name}/tagmanifest-sha256.txt") != tagmanifest:
                return False
            entries = {i.filename: i.file_size for i in zf.infolist()}
    except (zipfile.BadZipFile, KeyError, OSError):
        return False
    return all(entries.get(arc) == size for arc, size in sizes.items())


def build_bundle(claim: Claim, contract: Contract, invoice: Invoice, *, root: Path,
                 out_dir: Path, bagging_date: date) -> Bundle:
    """Build the bag folder and its zip under ``out_dir``; returns where they are.

    ``root`` is the workspace the claim's stored documents are relative to. Every payload byte
    is read once: streamed into the zip while its SHA-256 is checked against the one recorded
    at intake (the bag folder's files are hard links to the read-only stored copies). Raises
    :class:`BundleError`, leaving nothing behind, if a stored document changed or the
    destination holds a different bundle of the same name.
    """
    name = bundle_name(claim)
    final_dir, final_zip = out_dir / name, out_dir / f"{name}.zip"
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
    bag_digest = hashlib.sha256(tagmanifest).hexdigest()
    if final_zip.exists() or final_dir.exists():
        expected = {f"{name}/{rel}": d.size for rel, d in documents}
        if _same_bag(final_dir, final_zip, name, tagmanifest, expected):
            return Bundle(final_dir, final_zip, bag_digest, payload_bytes, len(manifest),
                          reused=True)
        raise BundleError(f"{final_zip} exists and differs from this build; refusing to "
                          "overwrite it (move it away to rebuild)", claim_id=claim.id,
                          path=str(final_zip))
    out_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=out_dir))
    try:
        bag = staging / name
        (bag / "data" / "documents").mkdir(parents=True)
        staged_zip = staging / f"{name}.zip"
        with zipfile.ZipFile(staged_zip, "w", compression=zipfile.ZIP_STORED) as zf:
            for rel in sorted(tags):
                (bag / rel).write_bytes(tags[rel])
                zf.writestr(_zip_entry(zf, f"{name}/{rel}"), tags[rel])
            (bag / "data" / "claim.json").write_bytes(claim_json)
            zf.writestr(_zip_entry(zf, f"{name}/data/claim.json"), claim_json)
            for rel, doc in documents:
                stored = root / doc.stored_path
                sha, _size = _stream_into_zip(zf, f"{name}/{rel}", stored)
                if sha != doc.sha256:
                    raise BundleError(f"{doc.filename}: stored copy changed (sha256 {sha} is "
                                      f"not the recorded {doc.sha256})", claim_id=claim.id,
                                      path=doc.stored_path)
                _link_or_copy(stored, bag / rel)
            zf.fp.flush()  # type: ignore[union-attr]
            os.fsync(zf.fp.fileno())  # type: ignore[union-attr]
        bag.rename(final_dir)
        try:
            staged_zip.rename(final_zip)
        except OSError:
            shutil.rmtree(final_dir, ignore_errors=True)
            raise
        return Bundle(final_dir, final_zip, bag_digest, payload_bytes, len(manifest))
    except OSError as err:
        raise BundleError(f"cannot build bundle {name}: {err}", claim_id=claim.id) from err
    finally:
        shutil.rmtree(staging, ignore_errors=True)
