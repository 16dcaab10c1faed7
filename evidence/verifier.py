#!/usr/bin/env python3
"""Standalone verifier of a Claimwright evidence export (a BagIt bag), shipped in every bag as
``verify.py``: the Python standard library and ``cryptography`` only; every format it reads is
specified in docs/evidence-format.md (``claims evidence verify-export`` runs this same code).

    python3 verify.py BAG [--trusted-key PEM] [--witness-key VKEY]... [--trust-bag-key]
                          [--checkpoint SAVED]... [--json]

Exit status 0 verified, 1 problems found (each with a code, where, and what), 2 bad arguments.
Without a pinned key or a pinned witness's cosignature the verdict is "unpinned".
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hashlib
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

BAGIT_TXT = b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n"
EXPORT_TYPE = "claimwright-evidence-export/v2"
ORIGIN_PREFIX = "claimwright.evidence/"
DASH = "\u2014"
DERIVED = ("data/index.html", "data/README.txt", "verify.py")
LEDGER = ("checkpoint.json", "entries.jsonl", "checkpoints.json", "export.json")
KNOWN = {"data/index.html", "data/README.txt", "data/keys/signing.pub"} | {
    f"data/ledger/{n}" for n in LEDGER}
STORE, MANY = {"action": "store_true"}, {"action": "append", "default": []}
_MANIFEST_LINE = re.compile(r"^([0-9a-f]{64})[ \t]+(\S.*)$")


# --- primitives: hashes, RFC 9162 proofs, C2SP signed notes ------------------------------------

def leaf_hash(leaf: bytes) -> bytes:
    """SHA-256(0x00 || leaf)."""
    return hashlib.sha256(b"\x00" + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def verify_inclusion(lh: bytes, index: int, size: int, proof: list[bytes], root: bytes) -> bool:
    """RFC 9162 §2.1.3.2: True when ``proof`` leads from leaf hash ``lh`` at ``index`` to
    ``root`` in a tree of ``size`` leaves."""
    if not 0 <= index < size or any(len(p) != 32 for p in proof):
        return False
    fn, sn, r = index, size - 1, lh
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(m: int, n: int, old: bytes, new: bytes, proof: list[bytes]) -> bool:
    """RFC 9162 §2.1.4.2: True when the tree ``old`` of ``m`` leaves is a prefix of ``new``."""
    if not 0 <= m <= n or any(len(p) != 32 for p in proof):
        return False
    if m == n:
        return not proof and old == new
    if m == 0:
        return not proof
    path = ([old] if m & (m - 1) == 0 else []) + list(proof)
    if not path:
        return False
    fn, sn = m - 1, n - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while not fn & 1 and fn:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == old and sr == new and sn == 0


def canonical_json(value: Any) -> bytes:
    """Sorted keys, no whitespace, UTF-8 (what is hashed and signed)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def raw_key(key: Ed25519PublicKey) -> bytes:
    """The 32 raw public key bytes."""
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_hash(name: str, kind: int, key: Ed25519PublicKey) -> bytes:
    """SHA-256(name || "\\n" || kind || key)[:4]: 0x01 note keys, 0x04 cosignature keys."""
    return hashlib.sha256(name.encode() + b"\n" + bytes([kind]) + raw_key(key)).digest()[:4]


def ed25519_ok(key: Ed25519PublicKey, signature: bytes, message: bytes) -> bool:
    """True when ``signature`` is ``key``'s signature of ``message``."""
    try:
        key.verify(signature, message)
        return True
    except (InvalidSignature, ValueError):
        return False


def parse_vkey(text: str) -> tuple[str, int, Ed25519PublicKey]:
    """(name, type, key) of a vkey ``name+hexhash+base64(type||key)`` (the base64 may hold '+')."""
    name, hex_hash, material = text.strip().split("+", 2)
    raw = base64.b64decode(material, validate=True)
    if len(raw) != 33:
        raise ValueError("not an Ed25519 key")
    key = Ed25519PublicKey.from_public_bytes(raw[1:])
    if key_hash(name, raw[0], key) != bytes.fromhex(hex_hash):
        raise ValueError("key hash does not match")
    return name, raw[0], key


def parse_note(text: str) -> dict[str, Any]:
    """A signed checkpoint note: origin, size, root, time, body, and its signatures as
    [(name, decoded bytes)] (ValueError when malformed)."""
    at = text.rfind("\n\n")
    if at < 0 or not text.endswith("\n"):
        raise ValueError("not a signed note")
    body, sigs = text[:at + 1], []
    for line in text[at + 2:-1].split("\n"):
        parts = line.split(" ")
        if len(parts) != 3 or parts[0] != DASH:
            raise ValueError(f"not a signature line: {line[:60]!r}")
        sigs.append((parts[1], base64.b64decode(parts[2], validate=True)))
    lines = body[:-1].split("\n")
    if len(lines) < 3 or not re.fullmatch(r"0|[1-9][0-9]*", lines[1]):
        raise ValueError("not a checkpoint body")
    root = base64.b64decode(lines[2], validate=True)
    if len(root) != 32:
        raise ValueError("root hash is not 32 bytes")
    times = [e[5:] for e in lines[3:] if e.startswith("time ")]
    return {"origin": lines[0], "size": int(lines[1]), "root": root, "body": body,
            "time": times[0] if times else "", "signatures": sigs, "text": text}


def log_signature_ok(cp: dict[str, Any], key: Ed25519PublicKey) -> bool:
    """The note carries ``key``'s signature and its origin names that key."""
    origin = ORIGIN_PREFIX + hashlib.sha256(raw_key(key)).hexdigest()
    if cp["origin"] != origin:
        return False
    return any(name == origin and len(s) == 68 and s[:4] == key_hash(origin, 1, key)
               and ed25519_ok(key, s[4:], cp["body"].encode()) for name, s in cp["signatures"])


def cosigned_by(cp: dict[str, Any], witness: tuple[str, int, Ed25519PublicKey]) -> bool:
    """The note carries a valid cosignature/v1 of ``witness``."""
    name, kind, key = witness
    want = key_hash(name, 4, key)
    for signer, s in cp["signatures"]:
        if signer == name and kind == 4 and len(s) == 76 and s[:4] == want:
            stamp = int.from_bytes(s[4:12], "big")
            message = f"cosignature/v1\ntime {stamp}\n".encode() + cp["body"].encode()
            if ed25519_ok(key, s[12:], message):
                return True
    return False


# --- the report --------------------------------------------------------------------------------

@dataclass
class Report:
    """Every problem found (code, where, message), warnings, and tallies of what was checked."""

    subject: str
    problems: list[dict[str, str]] = field(default_factory=list)
    checked: dict[str, int] = field(default_factory=dict)
    key_id: str | None = None
    checkpoint: dict[str, Any] | None = None

    def fail(self, code: str, where: str, message: str) -> None:
        """Record a problem."""
        self.problems.append({"code": code, "where": where, "message": message})

    def count(self, what: str, n: int = 1) -> None:
        """Add to a tally."""
        self.checked[what] = self.checked.get(what, 0) + n

    def to_json(self) -> dict[str, Any]:
        """The report as JSON data."""
        cp = self.checkpoint and {"origin": self.checkpoint["origin"],
                                  "tree_size": self.checkpoint["size"],
                                  "root_hash": self.checkpoint["root"].hex(),
                                  "time": self.checkpoint["time"], "note": self.checkpoint["text"]}
        return {"subject": self.subject, "ok": not self.problems, "key_id": self.key_id,
                "checkpoint": cp, "checked": self.checked, "problems": self.problems,
                "warnings": []}


# --- the bag -----------------------------------------------------------------------------------

def sha256_file(path: Path) -> tuple[str, int]:
    """(SHA-256 hex, size) of a file."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest(), path.stat().st_size


def _decode_path(path: str) -> str:
    for code, char in (("%0A", "\n"), ("%0a", "\n"), ("%0D", "\r"), ("%0d", "\r"), ("%25", "%")):
        path = path.replace(code, char)
    return path


def _read_manifest(bag: Path, name: str, report: Report) -> dict[str, str] | None:
    try:
        text = (bag / name).read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except UnicodeDecodeError:
        report.fail("bag-manifest-syntax", name, "not UTF-8 text")
        return {}
    listed: dict[str, str] = {}
    lines = text.split("\n")
    for n, line in enumerate(lines, 1):
        if not line and n == len(lines):
            continue
        m = _MANIFEST_LINE.match(line)
        if m is None:
            report.fail("bag-manifest-syntax", f"{name} line {n}",
                        f"not '<sha256>  <path>': {line[:80]!r}")
            continue
        listed[_decode_path(m.group(2))] = m.group(1)
    return listed


def verify_structure(bag: Path, actual: dict[str, tuple[str, int]], report: Report) -> None:
    """BagIt (RFC 8493): declaration, both manifests, nothing unlisted, Payload-Oxum."""
    try:
        if (bag / "bagit.txt").read_bytes() != BAGIT_TXT:
            report.fail("bag-declaration", "bagit.txt", "not the BagIt 1.0 / UTF-8 declaration")
    except FileNotFoundError:
        report.fail("bag-declaration", "bagit.txt", "missing: this is not a BagIt bag")
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
        if rel.startswith("data/") and rel not in manifest:
            report.fail("bag-file-unlisted", rel, "in the payload but not in the manifest")
        elif not rel.startswith("data/") and rel not in tagmanifest and tagmanifest:
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


def _load_json(bag: Path, rel: str, report: Report) -> Any:
    try:
        return json.loads((bag / rel).read_bytes().decode("utf-8"))
    except FileNotFoundError:
        report.fail("bag-ledger-missing", rel, "missing")
    except (UnicodeDecodeError, ValueError) as err:
        report.fail("bag-ledger-unreadable", rel, f"not JSON: {err}")
    return None


def load_pem_key(data: bytes) -> Ed25519PublicKey:
    """An Ed25519 public key from PEM (ValueError if not one)."""
    if not isinstance(key := serialization.load_pem_public_key(data), Ed25519PublicKey):
        raise ValueError("not an Ed25519 key")
    return key


def choose_key(bag: Path, pinned: Ed25519PublicKey | None,
               report: Report) -> Ed25519PublicKey | None:
    """The key to check the log's signatures with: the pinned one, else the bag's own."""
    try:
        bag_key: Ed25519PublicKey | None = load_pem_key(
            (bag / "data/keys/signing.pub").read_bytes())
    except (OSError, ValueError) as err:
        report.fail("bag-key", "data/keys/signing.pub", f"no Ed25519 public key: {err}")
        bag_key = None
    key = pinned or bag_key
    if pinned is not None and bag_key is not None and raw_key(pinned) != raw_key(bag_key):
        report.fail("key-replaced", "data/keys/signing.pub", "the bag's key (id "
                    f"{hashlib.sha256(raw_key(bag_key)).hexdigest()}) is not the trusted key")
    if key is not None:
        report.key_id = hashlib.sha256(raw_key(key)).hexdigest()
    return key


def read_checkpoint(bag: Path, report: Report) -> dict[str, Any] | None:
    """The signed checkpoint note every proof is against (data/ledger/checkpoint.json)."""
    raw = _load_json(bag, "data/ledger/checkpoint.json", report)
    if raw is None:
        return None
    try:
        cp = parse_note(str(raw["note"]))
        if (raw.get("tree_size"), raw.get("root_hash")) != (cp["size"], cp["root"].hex()):
            raise ValueError("its JSON fields differ from its signed note")
    except (KeyError, TypeError, ValueError, binascii.Error) as err:
        report.fail("checkpoint-unreadable", "data/ledger/checkpoint.json", str(err))
        return None
    report.checkpoint = cp
    report.count("checkpoints")
    return cp


def check_trust(cp: dict[str, Any], key: Ed25519PublicKey | None, pinned: bool,
                witnesses: list[tuple[str, int, Ed25519PublicKey]], trust_bag_key: bool,
                report: Report) -> None:
    """The log's signature, the pinned witnesses' cosignatures, and whether anything is pinned."""
    where = "data/ledger/checkpoint.json"
    if key is not None and not log_signature_ok(cp, key):
        report.fail("checkpoint-signature", where, f"signature does not verify with key "
                    f"{report.key_id}: forged, edited, or signed with another key")
    witnessed = False
    for witness in witnesses:
        report.count("witness cosignatures")
        if cosigned_by(cp, witness):
            witnessed = True
        else:
            report.fail("witness-cosignature", f"{where} (witness {witness[0]})", "no valid "
                        "cosignature of this pinned witness: it never saw this checkpoint "
                        "(a fork shown only to you, or a rewritten log)")
    if not pinned and not witnessed and not trust_bag_key:
        report.fail("unpinned", "data/keys/signing.pub", "no pinned key (--trusted-key) and no "
                    "cosignature of a pinned witness (--witness-key): anyone could have made "
                    "and signed this bag; pin one, or accept the bag's own key with "
                    "--trust-bag-key")


def read_statement(bag: Path, cp: dict[str, Any], key: Ed25519PublicKey | None,
                   report: Report) -> dict[str, Any]:
    """The signed export statement: scope, the entries it lists, hashes of the derived files."""
    where = "data/ledger/export.json"
    statement = _load_json(bag, where, report)
    if not isinstance(statement, dict):
        return {}
    body = {k: v for k, v in statement.items() if k != "signature"}
    try:
        sig = bytes.fromhex(str(statement.get("signature")))
    except ValueError:
        sig = b""
    if key is not None and not ed25519_ok(key, sig, canonical_json(body)):
        report.fail("export-signature", where, "signature does not verify with key "
                    f"{report.key_id}: the statement was edited or forged")
    if body.get("type") != EXPORT_TYPE:
        report.fail("export-unreadable", where, f"not a {EXPORT_TYPE} statement")
    if (body.get("tree_size"), body.get("root_hash")) != (cp["size"], cp["root"].hex()):
        report.fail("export-checkpoint", where, "names a different checkpoint from "
                    "data/ledger/checkpoint.json")
    return body


def verify_entries(bag: Path, cp: dict[str, Any], report: Report) -> list[dict[str, Any]]:
    """Every line of entries.jsonl: leaf hash, inclusion proof, decoded event."""
    rel = "data/ledger/entries.jsonl"
    try:
        text = (bag / rel).read_bytes().decode("utf-8")
    except FileNotFoundError:
        report.fail("bag-ledger-missing", rel, "missing")
        return []
    except UnicodeDecodeError:
        report.fail("bag-ledger-unreadable", rel, "not UTF-8")
        return []
    found = []
    for n, line in enumerate(text.splitlines(), 1):
        try:
            item = json.loads(line)
            index, leaf = int(item["index"]), str(item["leaf"]).encode("utf-8")
            proof = [bytes.fromhex(p) for p in item["inclusion_proof"]]
            stated = bytes.fromhex(item["leaf_hash"])
        except (ValueError, KeyError, TypeError) as err:
            report.fail("entry-unreadable", f"{rel} line {n}", f"not an entry with a proof: {err}")
            continue
        where = f"entry {index} ({rel} line {n})"
        report.count("entries")
        lh = leaf_hash(leaf)
        if lh != stated:
            report.fail("entry-altered", where, "leaf does not hash to its recorded leaf hash")
        if not verify_inclusion(lh, index, cp["size"], proof, cp["root"]):
            report.fail("entry-proof", where, "leaf is not in the signed log at this index "
                        "(inclusion proof fails): altered, moved or forged")
        try:
            event = json.loads(leaf)
            blobs = {name: (str(r["sha256"]), int(r["size"]))
                     for name, r in dict(event["blobs"]).items()}
            if int(event["index"]) != index:
                report.fail("entry-moved", where, f"leaf records index {event['index']}")
        except (ValueError, KeyError, TypeError, AttributeError) as err:
            report.fail("entry-unreadable", where, f"leaf is not a valid event: {err}")
            continue
        found.append({"index": index, "hash": lh, "event": event, "blobs": blobs})
    return found


def verify_listed(listed: Any, found: list[dict[str, Any]], report: Report) -> None:
    """The bag holds exactly the entries the signed statement lists, in its order."""
    try:
        wanted = [(int(i), str(h)) for i, h in listed]
    except (TypeError, ValueError):
        return report.fail("export-unreadable", "data/ledger/export.json", "no entry list")
    present = [(e["index"], e["hash"].hex()) for e in found]
    missing, extra = sorted(set(wanted) - set(present)), sorted(set(present) - set(wanted))
    for index, h in missing:
        report.fail("entry-removed", f"entry {index}", "listed in the signed export statement "
                    f"(leaf hash {h[:16]}…) but not in the bag, or altered")
    for index, _ in extra:
        report.fail("entry-added", f"entry {index}", "in the bag but not in the statement")
    if not missing and not extra and present != wanted:
        report.fail("entry-order", "data/ledger/entries.jsonl", "entries are out of order")


def verify_complete(found: list[dict[str, Any]], scope: dict[str, Any], cp: dict[str, Any],
                    report: Report) -> None:
    """Each event of a claim names its claim's previous event (``prev_claim_leaf``): a dropped
    event breaks the chain. A claim's export starts at the claim's first event and ends with its
    own ``evidence.exported`` event, the last leaf of the signed checkpoint."""
    heads: dict[str, str | None] = {}
    claim = scope.get("claim") if isinstance(scope, dict) else None
    for e in sorted(found, key=lambda item: item["index"]):
        event, who = e["event"], e["event"].get("claim")
        if who is None or event.get("v", 1) < 2:
            heads[who] = e["hash"].hex() if who is not None else None
            continue
        if who in heads or who == claim:
            expected = heads.get(who)
            if event.get("prev_claim_leaf") != expected:
                report.fail("entry-chain", f"entry {e['index']}", "names "
                            f"{event.get('prev_claim_leaf') or 'no'} previous event of claim "
                            f"{who}, but the bag's is {expected or 'none'}: an event of the "
                            "claim is missing from this export")
        heads[who] = e["hash"].hex()
    if claim is None:
        return
    last = max(found, key=lambda item: item["index"])["event"] if found else {}
    if (last.get("index"), last.get("kind"), last.get("claim")) != (
            cp["size"] - 1, "evidence.exported", claim):
        report.fail("export-incomplete", f"claim {claim}", "the export does not end with its "
                    "own evidence.exported event as the last entry of the signed checkpoint: "
                    "the claim's latest events were left out")


def verify_files(bag: Path, actual: dict[str, tuple[str, int]], found: list[dict[str, Any]],
                 statement: dict[str, Any], report: Report) -> None:
    """Blobs against their events, nothing extra, the derived files against the statement."""
    referenced: dict[str, tuple[int, str]] = {}
    for e in found:
        for name, (digest, size) in e["blobs"].items():
            referenced.setdefault(digest, (size, f"entry {e['index']} file {name!r}"))
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
        elif rel.startswith("data/") and not rel.startswith("data/blobs/") and rel not in KNOWN:
            report.fail("bag-file-unexpected", rel, "not part of an evidence export (added)")
    files = statement.get("files") if isinstance(statement.get("files"), dict) else {}
    for rel in DERIVED:
        if actual.get(rel, ("",))[0] != files.get(rel):
            report.fail("bag-derived-altered", rel, "is not the file the signed export "
                        "statement names (edited, replaced or removed)")


def verify_history(bag: Path, cp: dict[str, Any], key: Ed25519PublicKey | None,
                   saved: list[dict[str, Any]], report: Report) -> None:
    """Earlier checkpoints (in the bag, and saved by the auditor) are consistent with this one."""
    raw = _load_json(bag, "data/ledger/checkpoints.json", report)
    proofs: dict[tuple[int, bytes], list[bytes]] = {}
    try:
        earlier = [(parse_note(i["note"]), [bytes.fromhex(p) for p in i["consistency_proof"]])
                   for i in (raw["checkpoints"] if raw is not None else [])]
    except (KeyError, TypeError, ValueError, binascii.Error) as err:
        report.fail("checkpoint-unreadable", "data/ledger/checkpoints.json", str(err))
        earlier = []
    for old, proof in earlier:
        where = f"data/ledger/checkpoints.json size {old['size']} ({old['time']})"
        report.count("consistency proofs")
        if key is not None and not log_signature_ok(old, key):
            report.fail("checkpoint-signature", where, f"does not verify with key {report.key_id}")
        if not verify_consistency(old["size"], cp["size"], old["root"], cp["root"], proof):
            report.fail("checkpoint-inconsistent", where, "the exported log is not consistent "
                        "with this earlier checkpoint: the log was rewritten")
        proofs[(old["size"], old["root"])] = proof
    for old in saved:
        where = f"trusted checkpoint (size {old['size']}, {old['time']})"
        report.count("trusted checkpoints")
        if key is not None and not log_signature_ok(old, key):
            report.fail("checkpoint-signature", where, f"does not verify with key {report.key_id}")
        if not (old["root"] == cp["root"] if old["size"] == cp["size"] else any(
                verify_consistency(old["size"], cp["size"], old["root"], cp["root"], p)
                for (size, _), p in proofs.items() if size == old["size"])):
            report.fail("checkpoint-inconsistent", where, "the exported log is not consistent "
                        "with this checkpoint you saved earlier: the log was rewritten")


def verify_bag(path: str | Path, *, trusted_key: bytes | None = None,
               witness_keys: tuple[str, ...] = (), trust_bag_key: bool = False,
               saved_checkpoints: tuple[str, ...] = ()) -> Report:
    """Verify the bag at ``path``: ``trusted_key`` is a pinned PEM public key, ``witness_keys``
    pinned witness vkeys, ``saved_checkpoints`` checkpoint notes (or their JSON) kept earlier."""
    bag = Path(path)
    report = Report(f"evidence export {bag}")
    if not (bag / "bagit.txt").is_file():  # not a folder, or not a bag: nothing to walk
        report.fail("bag-missing", str(bag), "no bagit.txt: this is not an evidence export")
        return report
    actual = {p.relative_to(bag).as_posix(): sha256_file(p)
              for p in sorted(bag.rglob("*")) if p.is_file()}
    verify_structure(bag, actual, report)
    pinned = load_pem_key(trusted_key) if trusted_key is not None else None
    witnesses = [parse_vkey(v) for v in witness_keys]
    saved = [parse_note(json.loads(s)["note"] if s.lstrip().startswith("{") else s)
             for s in saved_checkpoints]
    key = choose_key(bag, pinned, report)
    cp = read_checkpoint(bag, report)
    if cp is None:
        return report
    check_trust(cp, key, pinned is not None, witnesses, trust_bag_key, report)
    statement = read_statement(bag, cp, key, report)
    found = verify_entries(bag, cp, report)
    verify_listed(statement.get("entries", []), found, report)
    verify_complete(found, statement.get("scope") or {}, cp, report)
    verify_files(bag, actual, found, statement, report)
    verify_history(bag, cp, key, saved, report)
    return report


def main(argv: list[str] | None = None) -> int:
    """The command line: prints the verdict and every problem; returns the exit status."""
    parser = argparse.ArgumentParser(description="Verify a Claimwright evidence export.")
    for flag, options in (("bag", {}), ("--trusted-key", {}), ("--trust-bag-key", STORE),
                          ("--json", STORE), ("--witness-key", MANY), ("--checkpoint", MANY)):
        parser.add_argument(flag, **options)
    args = parser.parse_args(argv)
    try:
        pinned = Path(args.trusted_key).read_bytes() if args.trusted_key else None
        saved = tuple(Path(c).read_text(encoding="utf-8") for c in args.checkpoint)
        report = verify_bag(args.bag, trusted_key=pinned, witness_keys=tuple(args.witness_key),
                            trust_bag_key=args.trust_bag_key, saved_checkpoints=saved)
    except (OSError, ValueError, KeyError, binascii.Error) as err:
        return print(f"verify.py: {err}", file=sys.stderr) or 2
    lines = [f"{report.subject}: {'FAILED' if report.problems else 'OK'}"] + [
        f"  PROBLEM {p['code']} {p['where']}: {p['message']}" for p in report.problems]
    print(json.dumps(report.to_json(), indent=2, ensure_ascii=False) if args.json
          else "\n".join(lines))
    return 1 if report.problems else 0


if __name__ == "__main__":
    sys.exit(main())
