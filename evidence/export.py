"""Exports for auditors: a self-contained BagIt bag (RFC 8493), and its offline verification.

Bag layout::

    bagit.txt  bag-info.txt  manifest-sha256.txt  tagmanifest-sha256.txt
    data/index.html              the readable timeline per claim (re-rendered, compared on verify)
    data/README.txt              how to verify
    data/blobs/<sha256>          every file the exported events refer to
    data/keys/signing.pub        the archive's Ed25519 public key
    data/ledger/checkpoint.json  the signed checkpoint every proof is against
    data/ledger/entries.jsonl    per event: index, exact leaf, leaf hash, inclusion proof
    data/ledger/checkpoints.json earlier signed checkpoints, each with a consistency proof
    data/ledger/export.json      signed statement: the scope and exactly which entries it holds

BagIt manifests catch accidental damage; they can be recomputed by whoever tampers, so
:func:`verify_export` also checks every blob against its leaf, every leaf against the signed root,
and the signed export statement for entries removed from or added to the bag.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import uuid
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from evidence import merkle
from evidence.blobs import CHUNK, hash_file
from evidence.canonical import canonical_json
from evidence.errors import EvidenceError, ExportError, ExportExists
from evidence.html import render_index
from evidence.keys import key_id, load_private_key, load_public_key, public_pem, signature_ok
from evidence.model import Checkpoint, Entry, EventKind, VerificationReport, format_time

if TYPE_CHECKING:
    from evidence.archive import EvidenceArchive

EXPORT_TYPE = "claimwright-evidence-export/v1"
BAGIT_TXT = b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n"
TAG_FILES = ("bagit.txt", "bag-info.txt", "manifest-sha256.txt")
README = """Claimwright evidence export
===========================

This folder is a BagIt bag (RFC 8493). It holds events from a Claimwright evidence log, the files
they refer to, and the proofs that tie them to a checkpoint signed with the archive's Ed25519 key.

Open index.html in a browser for the timeline of each claim.

To verify, with no database and no access to the archive:

    claims evidence verify-export <this bag>
    claims evidence verify-export <this bag> --trusted-key <the public key you were given>

It checks the BagIt manifests; that every file's SHA-256 is the one its event records; that every
event's leaf hashes into the signed root through its inclusion proof (RFC 9162); the checkpoint and
export signatures (ledger/checkpoint.json, ledger/export.json); that the bag holds exactly the
events the signed export statement lists; that every earlier checkpoint is consistent with the
exported one; and that index.html and this file are the ones the content produces.

Compare the key id in ledger/checkpoint.json with the one you were given: a bag re-signed with
another key is self-consistent, and only the key id tells it apart.
"""


def _scope(claim: str | None, since: datetime | None, until: datetime | None) -> dict[str, Any]:
    return {"claim": claim, "since": format_time(since) if since else None,
            "until": format_time(until) if until else None}


def _title(scope: dict[str, Any]) -> str:
    parts = [f"claim {scope['claim']}"] if scope["claim"] else []
    if scope["since"] or scope["until"]:
        parts.append(f"{(scope['since'] or '…')[:10]} to {(scope['until'] or '…')[:10]}")
    return ", ".join(parts) or "the whole log"


def build_export(archive: EvidenceArchive, out: Path, *, claim: str | None,
                 since: date | datetime | None, until: date | datetime | None, actor: str) -> Path:
    """Build the bag for :meth:`EvidenceArchive.export` (see there)."""
    from evidence.archive import as_utc_bound

    if out.exists():
        raise ExportExists(out)
    if not out.parent.is_dir():
        raise ExportError(f"{out.parent} is not a folder", path=out)
    lo, hi = as_utc_bound(since, end=False), as_utc_bound(until, end=True)
    if lo and hi and lo > hi:
        raise ExportError(f"the range starts ({lo:%Y-%m-%d}) after it ends ({hi:%Y-%m-%d})",
                          path=out)
    scope = _scope(claim, lo, hi)
    key = load_private_key(archive.evidence_dir, archive.key_file)
    archive.record(EventKind.EVIDENCE_EXPORTED, claim, actor, {"scope": scope, "bag": out.name})
    cp = archive.checkpoint()
    entries = [e for e in archive.entries(claim, lo, hi) if e.index < cp.tree_size]
    if archive.root(cp.tree_size) != cp.root_hash:
        raise ExportError("the ledger does not match its latest signed checkpoint; run "
                          "`claims evidence verify`", path=out)
    earlier = [c for c in archive.checkpoints() if c.tree_size <= cp.tree_size and c != cp]

    tmp = out.parent / f".{out.name}.partial-{uuid.uuid4().hex[:8]}"
    try:
        data = tmp / "data"
        for sub in ("blobs", "keys", "ledger"):
            (data / sub).mkdir(parents=True)
        copied: set[str] = set()
        for e in entries:
            for ref in e.blobs.values():
                if ref.sha256 not in copied:
                    copied.add(ref.sha256)
                    with archive.blobs.open(ref.sha256) as src, \
                            open(data / "blobs" / ref.sha256, "wb") as dst:
                        shutil.copyfileobj(src, dst, CHUNK)
        (data / "keys" / "signing.pub").write_bytes(public_pem(key.public_key()))
        (data / "ledger" / "checkpoint.json").write_bytes(canonical_json(cp.to_json()) + b"\n")
        lines = [canonical_json({"index": e.index, "leaf": e.leaf.decode("utf-8"),
                                 "leaf_hash": e.leaf_hash.hex(),
                                 "inclusion_proof": [p.hex() for p in archive.inclusion_proof(
                                     e.index, cp.tree_size)]})
                 for e in entries]
        (data / "ledger" / "entries.jsonl").write_bytes(b"".join(line + b"\n" for line in lines))
        (data / "ledger" / "checkpoints.json").write_bytes(canonical_json({"checkpoints": [
            {"checkpoint": c.to_json(),
             "consistency_proof": [p.hex() for p in
                                   archive.consistency_proof(c.tree_size, cp.tree_size)]}
            for c in earlier]}) + b"\n")
        statement = {"type": EXPORT_TYPE, "scope": scope, "checkpoint": cp.to_json(),
                     "entries": [[e.index, e.leaf_hash.hex()] for e in entries],
                     "key_id": cp.key_id}
        signature = key.sign(canonical_json(statement))
        (data / "ledger" / "export.json").write_bytes(
            canonical_json({**statement, "signature": signature.hex()}) + b"\n")
        (data / "index.html").write_bytes(render_index(_title(scope), entries, cp))
        (data / "README.txt").write_bytes(README.encode("utf-8"))
        _write_bag_files(tmp, cp, scope)
        if out.exists():
            raise ExportExists(out)
        os.rename(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def _write_bag_files(bag: Path, cp: Checkpoint, scope: dict[str, Any]) -> None:
    payload = sorted(p for p in (bag / "data").rglob("*") if p.is_file())
    hashes = _hash_all(payload)
    manifest = "".join(f"{hashes[p][0]}  {_encode_path(p.relative_to(bag).as_posix())}\n"
                       for p in payload)
    octets = sum(hashes[p][1] for p in payload)
    (bag / "bagit.txt").write_bytes(BAGIT_TXT)
    (bag / "bag-info.txt").write_text(
        "Bag-Software-Agent: claimwright evidence\n"
        f"Bagging-Date: {cp.time[:10]}\n"
        f"Payload-Oxum: {octets}.{len(payload)}\n"
        f"External-Description: Claimwright evidence export, {_title(scope)}\n"
        f"External-Identifier: checkpoint {cp.tree_size} {cp.root_hash.hex()}\n",
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

_MANIFEST_LINE = re.compile(r"^([0-9a-f]{64})[ \t]+(\S.*)$")


def verify_export(path: Path, *, trusted_key: Ed25519PublicKey | Path | bytes | None = None,
                  trusted_checkpoints: Iterable[Checkpoint] = ()) -> VerificationReport:
    """Verify an exported bag offline (no workspace, no database); report every problem found.

    ``trusted_key`` pins the public key the auditor was given (otherwise the bag's own key is used
    and its id is reported for comparison). ``trusted_checkpoints`` are checkpoints the auditor
    saved earlier: each must be consistent with the exported one.
    """
    bag = Path(path)
    report = VerificationReport(subject=f"evidence export {bag}")
    if not bag.is_dir():
        report.fail("bag-missing", str(bag), "not a folder")
        return report
    files = sorted(p for p in bag.rglob("*") if p.is_file())
    actual = {p.relative_to(bag).as_posix(): h for p, h in _hash_all(files).items()}
    _verify_bag_structure(bag, actual, report)
    _verify_bag_content(bag, actual, report, trusted_key, list(trusted_checkpoints))
    return report


def _read_manifest(bag: Path, name: str, report: VerificationReport) -> dict[str, str] | None:
    try:
        text = (bag / name).read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except UnicodeDecodeError:
        report.fail("bag-manifest-syntax", name, "not UTF-8 text")
        return {}
    listed: dict[str, str] = {}
    for n, line in enumerate(text.split("\n"), 1):
        if not line and n == len(text.split("\n")):
            continue
        m = _MANIFEST_LINE.match(line)
        if m is None:
            report.fail("bag-manifest-syntax", f"{name} line {n}", f"not '<sha256>  <path>': "
                        f"{line[:80]!r}")
            continue
        listed[_decode_path(m.group(2))] = m.group(1)
    return listed


def _verify_bag_structure(bag: Path, actual: dict[str, tuple[str, int]],
                          report: VerificationReport) -> None:
    try:
        declaration = (bag / "bagit.txt").read_bytes()
    except FileNotFoundError:
        declaration = None
    if declaration is None:
        report.fail("bag-declaration", "bagit.txt", "missing: this is not a BagIt bag")
    elif declaration != BAGIT_TXT:
        report.fail("bag-declaration", "bagit.txt", "not the BagIt 1.0 / UTF-8 declaration")
    manifest = _read_manifest(bag, "manifest-sha256.txt", report)
    tagmanifest = _read_manifest(bag, "tagmanifest-sha256.txt", report)
    if manifest is None:
        report.fail("bag-manifest-missing", "manifest-sha256.txt", "the payload manifest is gone")
        manifest = {}
    if tagmanifest is None:
        report.fail("bag-tagmanifest-missing", "tagmanifest-sha256.txt",
                    "the tag manifest is gone: bag-info.txt and the manifests are unprotected")
        tagmanifest = {}
    for listing, name in ((manifest, "manifest-sha256.txt"),
                          (tagmanifest, "tagmanifest-sha256.txt")):
        for rel, digest in sorted(listing.items()):
            report.count("bag files")
            if rel not in actual:
                report.fail("bag-file-missing", rel, f"listed in {name} but not in the bag")
            elif actual[rel][0] != digest:
                report.fail("bag-file-altered", rel, f"SHA-256 {actual[rel][0]} is not the "
                            f"{digest} listed in {name}")
    for rel in sorted(actual):
        if rel == "tagmanifest-sha256.txt":
            continue
        if rel.startswith("data/"):
            if rel not in manifest:
                report.fail("bag-file-unlisted", rel, "in the payload but not in the manifest")
        elif rel not in tagmanifest and tagmanifest:
            report.fail("bag-file-unlisted", rel, "a tag file not in the tag manifest")
    payload = [h for rel, h in actual.items() if rel.startswith("data/")]
    oxum = f"{sum(size for _, size in payload)}.{len(payload)}"
    try:
        info = (bag / "bag-info.txt").read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        report.fail("bag-info-missing", "bag-info.txt", "missing")
        return
    m = re.search(r"^Payload-Oxum:\s*(\S+)\s*$", info, re.MULTILINE)
    if m is None or m.group(1) != oxum:
        report.fail("bag-oxum", "bag-info.txt", f"Payload-Oxum {m.group(1) if m else 'missing'} "
                    f"but the payload is {oxum} (octets.files)")


def _load_json(bag: Path, rel: str, report: VerificationReport) -> Any:
    try:
        return json.loads((bag / rel).read_bytes().decode("utf-8"))
    except FileNotFoundError:
        report.fail("bag-ledger-missing", rel, "missing")
    except (UnicodeDecodeError, ValueError) as err:
        report.fail("bag-ledger-unreadable", rel, f"not JSON: {err}")
    return None


def _verify_bag_content(bag: Path, actual: dict[str, tuple[str, int]], report: VerificationReport,
                        trusted_key: Ed25519PublicKey | Path | bytes | None,
                        trusted: list[Checkpoint]) -> None:
    # The key: the bag's own, unless the auditor pins one.
    try:
        bag_key: Ed25519PublicKey | None = load_public_key(bag / "data" / "keys" / "signing.pub")
    except EvidenceError as err:
        report.fail("bag-key", "data/keys/signing.pub", str(err))
        bag_key = None
    if trusted_key is not None:
        key = trusted_key if isinstance(trusted_key, Ed25519PublicKey) \
            else load_public_key(trusted_key)
    elif bag_key is not None:
        key = bag_key
    else:
        return  # nothing to check signatures with
    if bag_key is not None and trusted_key is not None:
        if key_id(key) != key_id(bag_key):
            report.fail("key-replaced", "data/keys/signing.pub", f"the bag's key (id "
                        f"{key_id(bag_key)}) is not the trusted key (id {key_id(key)})")
    report.key_id = key_id(key)

    # The checkpoint every proof is against.
    raw_cp = _load_json(bag, "data/ledger/checkpoint.json", report)
    try:
        cp = Checkpoint.from_json(raw_cp) if raw_cp is not None else None
    except (ValueError, KeyError, TypeError) as err:
        report.fail("checkpoint-unreadable", "data/ledger/checkpoint.json", str(err))
        cp = None
    if cp is None:
        return
    report.checkpoint = cp
    report.count("checkpoints")
    if not cp.signature_valid(key):
        report.fail("checkpoint-signature", "data/ledger/checkpoint.json", "signature does not "
                    f"verify with key {key_id(key)}: forged, edited, or signed with another key")

    # The signed export statement: which entries the bag must hold.
    statement = _load_json(bag, "data/ledger/export.json", report)
    listed: list[tuple[int, str]] | None = None
    scope: dict[str, Any] = {"claim": None, "since": None, "until": None}
    if isinstance(statement, dict):
        body = {k: v for k, v in statement.items() if k != "signature"}
        try:
            sig_ok = signature_ok(key, bytes.fromhex(str(statement.get("signature"))),
                                  canonical_json(body))
        except ValueError:
            sig_ok = False
        if not sig_ok:
            report.fail("export-signature", "data/ledger/export.json", "signature does not "
                        f"verify with key {key_id(key)}: the statement was edited or forged")
        if body.get("checkpoint") != cp.to_json():
            report.fail("export-checkpoint", "data/ledger/export.json", "names a different "
                        "checkpoint from data/ledger/checkpoint.json")
        try:
            listed = [(int(i), str(h)) for i, h in body["entries"]]
            scope = dict(body["scope"])
        except (KeyError, TypeError, ValueError):
            report.fail("export-unreadable", "data/ledger/export.json", "no entry list")

    # Every entry: leaf hash, inclusion proof, blobs.
    present: list[tuple[int, str]] = []
    entries: list[Entry] = []
    referenced: dict[str, tuple[int, str]] = {}
    try:
        text = (bag / "data/ledger/entries.jsonl").read_bytes().decode("utf-8")
    except FileNotFoundError:
        report.fail("bag-ledger-missing", "data/ledger/entries.jsonl", "missing")
        text = ""
    except UnicodeDecodeError:
        report.fail("bag-ledger-unreadable", "data/ledger/entries.jsonl", "not UTF-8")
        text = ""
    for n, line in enumerate(text.splitlines(), 1):
        where = f"data/ledger/entries.jsonl line {n}"
        try:
            item = json.loads(line)
            index, leaf = int(item["index"]), str(item["leaf"]).encode("utf-8")
            proof = [bytes.fromhex(p) for p in item["inclusion_proof"]]
            stated = bytes.fromhex(item["leaf_hash"])
        except (ValueError, KeyError, TypeError) as err:
            report.fail("entry-unreadable", where, f"not an entry with a proof: {err}")
            continue
        where = f"entry {index} ({where})"
        report.count("entries")
        lh = merkle.leaf_hash(leaf)
        present.append((index, lh.hex()))
        if lh != stated:
            report.fail("entry-altered", where, "leaf does not hash to its recorded leaf hash")
        if not merkle.verify_inclusion(lh, index, cp.tree_size, proof, cp.root_hash):
            report.fail("entry-proof", where, "leaf is not in the signed log at this index "
                        "(inclusion proof fails): altered, moved or forged")
        try:
            entry = Entry.from_leaf(leaf, lh)
        except (ValueError, KeyError, TypeError, AttributeError) as err:
            report.fail("entry-unreadable", where, f"leaf is not a valid event: {err}")
            continue
        if entry.index != index:
            report.fail("entry-moved", where, f"leaf records index {entry.index}")
        entries.append(entry)
        for name, ref in entry.blobs.items():
            referenced.setdefault(ref.sha256, (ref.size, f"entry {index} file {name!r}"))
    if listed is not None:
        missing = sorted(set(listed) - set(present))
        extra = sorted(set(present) - set(listed))
        for index, h in missing:
            report.fail("entry-removed", f"entry {index}", "listed in the signed export "
                        f"statement (leaf hash {h[:16]}…) but not in the bag, or altered")
        for index, _ in extra:
            report.fail("entry-added", f"entry {index}", "in the bag but not in the signed "
                        "export statement")
        if not missing and not extra and present != listed:
            report.fail("entry-order", "data/ledger/entries.jsonl", "entries are out of order")

    # Blobs: each referenced one present with the recorded hash and size; no others.
    for digest, (size, where) in sorted(referenced.items()):
        rel = f"data/blobs/{digest}"
        report.count("blobs")
        if rel not in actual:
            report.fail("blob-missing", f"{rel} ({where})", "not in the bag (removed)")
        elif actual[rel] != (digest, size):
            report.fail("blob-altered", f"{rel} ({where})", f"content hashes to {actual[rel][0]} "
                        f"({actual[rel][1]} bytes), recorded {digest} ({size} bytes)")
    for rel in sorted(actual):
        if rel.startswith("data/blobs/") and rel[len("data/blobs/"):] not in referenced:
            report.fail("blob-unreferenced", rel, "no exported event refers to this file (added)")
    known = {"data/index.html", "data/README.txt", "data/keys/signing.pub",
             "data/ledger/checkpoint.json", "data/ledger/entries.jsonl",
             "data/ledger/checkpoints.json", "data/ledger/export.json"}
    for rel in sorted(actual):
        if rel.startswith("data/") and not rel.startswith("data/blobs/") and rel not in known:
            report.fail("bag-file-unexpected", rel, "not part of an evidence export (added)")

    _verify_earlier_checkpoints(bag, cp, key, trusted, report)

    # The derived files must be exactly what the verified content produces.
    entries.sort(key=lambda e: e.index)
    if actual.get("data/index.html", ("",))[0] != hashlib.sha256(
            render_index(_title(scope), entries, cp)).hexdigest():
        report.fail("bag-index-altered", "data/index.html", "is not the page the verified events "
                    "produce (edited, or events were changed)")
    if actual.get("data/README.txt", ("",))[0] != hashlib.sha256(README.encode()).hexdigest():
        report.fail("bag-readme-altered", "data/README.txt", "edited")


def _verify_earlier_checkpoints(bag: Path, cp: Checkpoint, key: Ed25519PublicKey,
                                trusted: list[Checkpoint], report: VerificationReport) -> None:
    raw = _load_json(bag, "data/ledger/checkpoints.json", report)
    proofs: dict[tuple[int, bytes], list[bytes]] = {}
    try:
        items = raw["checkpoints"] if raw is not None else []
        earlier = [(Checkpoint.from_json(i["checkpoint"]),
                    [bytes.fromhex(p) for p in i["consistency_proof"]]) for i in items]
    except (KeyError, TypeError, ValueError) as err:
        report.fail("checkpoint-unreadable", "data/ledger/checkpoints.json", str(err))
        earlier = []
    for old, proof in earlier:
        where = f"data/ledger/checkpoints.json size {old.tree_size} ({old.time})"
        report.count("consistency proofs")
        if not old.signature_valid(key):
            report.fail("checkpoint-signature", where, "signature does not verify with key "
                        f"{key_id(key)}")
        if not merkle.verify_consistency(old.tree_size, cp.tree_size, old.root_hash,
                                         cp.root_hash, proof):
            report.fail("checkpoint-inconsistent", where, "the exported log is not consistent "
                        "with this earlier checkpoint: the log was rewritten")
        proofs[(old.tree_size, old.root_hash)] = proof
    for old in trusted:
        where = f"trusted checkpoint (size {old.tree_size}, {old.time})"
        report.count("trusted checkpoints")
        if not old.signature_valid(key):
            report.fail("checkpoint-signature", where, f"does not verify with key {key_id(key)}")
        if old.tree_size == cp.tree_size:
            ok = old.root_hash == cp.root_hash
        elif old.tree_size > cp.tree_size:
            ok = False
        else:
            same_size = [p for (s, _), p in proofs.items() if s == old.tree_size]
            ok = any(merkle.verify_consistency(old.tree_size, cp.tree_size, old.root_hash,
                                               cp.root_hash, p) for p in same_size)
        if not ok:
            report.fail("checkpoint-inconsistent", where, "the exported log is not consistent "
                        "with this checkpoint you saved earlier: the log was rewritten")
