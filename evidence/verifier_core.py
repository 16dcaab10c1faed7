"""The first part of the standalone verifier (``verify.py``, see :mod:`evidence.verifier`): hashes,
RFC 9162 proofs, C2SP signed notes and keys, the report, and the BagIt structure of a bag.

``verify.py`` is this module followed by :mod:`evidence.verifier` in one file (built by
:func:`evidence.export.verifier_script`): the standard library and ``cryptography`` only, and no
import of another Claimwright module but the verifier's own parts.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

BAGIT_TXT = b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n"
EXPORT_TYPE = "claimwright-evidence-export/v3"
LEGACY_EXPORT_TYPE = "claimwright-evidence-export/v2"  # its statement names no checkpoints
CHECKPOINT_TYPE = "claimwright-evidence-checkpoint/v2"
CHECKPOINT_FIELDS = ("type", "origin", "tree_size", "root_hash", "time", "key_id", "signature",
                     "note")
ENTRY_FIELDS = ("index", "leaf", "leaf_hash", "inclusion_proof")
STATEMENT_FIELDS = ("type", "scope", "tree_size", "root_hash", "key_id", "entries", "checkpoints",
                    "files", "signature")
TAG_FILES = ("bagit.txt", "bag-info.txt", "manifest-sha256.txt", "verify.py")
ORIGIN_PREFIX = "claimwright.evidence/"
DASH = "\u2014"
DERIVED = ("data/index.html", "data/README.txt", "verify.py")
LEDGER = ("checkpoint.json", "entries.jsonl", "checkpoints.json", "export.json")
KNOWN = {"data/index.html", "data/README.txt", "data/keys/signing.pub"} | {
    f"data/ledger/{n}" for n in LEDGER}
FOLDERS = {"data", "data/blobs", "data/keys", "data/ledger"}
_MANIFEST_LINE = re.compile(r"^([0-9a-f]{64})[ \t]+(\S.*)$")
_HEX64 = re.compile(r"[0-9a-f]{64}")
# the most read of a file read whole (a blob is hashed in chunks, entries.jsonl by the line)
SMALL = 1 << 20
LIMITS = {"data/ledger/export.json": 256 << 20, "data/ledger/checkpoints.json": 64 << 20,
          "manifest-sha256.txt": 256 << 20}
MAX_LINE = 4 << 20  # a line of entries.jsonl


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


# --- the verifier's options --------------------------------------------------------------------

class BadOption(ValueError):
    """An option of the verifier that is not what it must be: ``option`` names it, ``detail``
    says what is wrong (a usage error: verify.py exits 2)."""

    def __init__(self, option: str, detail: str) -> None:
        super().__init__(f"{option}: {detail}")
        self.option, self.detail = option, detail


def pinned_key(data: bytes) -> Ed25519PublicKey:
    """The key given with --trusted-key (:class:`BadOption` when it is not one)."""
    try:
        return load_pem_key(data)
    except ValueError:
        raise BadOption("--trusted-key", "not an Ed25519 public key in PEM form (as the "
                        "export's data/keys/signing.pub)") from None


def witness_key(text: str) -> tuple[str, int, Ed25519PublicKey]:
    """A witness's key given with --witness-key (:class:`BadOption` when it is not one)."""
    try:
        return parse_vkey(text)
    except (ValueError, binascii.Error):
        raise BadOption("--witness-key", f"{text[:60]!r} is not a witness verifier key "
                        "(name+hash+base64, as `claims evidence witness vkey` prints)") from None


def saved_checkpoint(text: str) -> dict[str, Any]:
    """A checkpoint given with --checkpoint: its JSON or its signed note (:class:`BadOption`
    when it is neither)."""
    try:
        if not text.lstrip().startswith("{"):
            return parse_note(text)
        if not isinstance(data := parse_json(text), dict) or data.get("type") != CHECKPOINT_TYPE:
            raise ValueError(f"not a {CHECKPOINT_TYPE}")
        if not isinstance(data.get("note"), str):
            raise ValueError("its note is not a string")
        return parse_note(data["note"])
    except (ValueError, binascii.Error) as err:
        raise BadOption("--checkpoint", f"not a signed checkpoint: {str(err)[:80]}") from None


# --- the report --------------------------------------------------------------------------------

def entry_span(start: int, end: int, *, verb: bool = False) -> str:
    """Entries ``start`` to ``end - 1`` in words: "no entries", "entry 4", "entries 4..9";
    with ``verb`` followed by "was" or "were" to agree."""
    if end - start <= 0:
        return "no entries" + (" were" if verb else "")
    if end - start == 1:
        return f"entry {start}" + (" was" if verb else "")
    return f"entries {start}..{end - 1}" + (" were" if verb else "")


def entry_count(n: int) -> str:
    """``n`` entries in words: "0 entries", "1 entry", "5 entries"."""
    return f"{n} entr{'y' if n == 1 else 'ies'}"


@dataclass
class Report:
    """Every problem found (code, where, message), warnings, and tallies of what was checked."""

    subject: str
    problems: list[dict[str, str]] = field(default_factory=list)
    checked: dict[str, int] = field(default_factory=dict)
    key_id: str | None = None
    checkpoint: dict[str, Any] | None = None
    warnings: list[dict[str, str]] = field(default_factory=list)

    def fail(self, code: str, where: str, message: str) -> None:
        """Record a problem."""
        self.problems.append({"code": code, "where": where, "message": message})

    def warn(self, code: str, where: str, message: str) -> None:
        """Record a warning: what the verdict does not prove (not a problem)."""
        self.warnings.append({"code": code, "where": where, "message": message})

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
                "warnings": self.warnings}


# --- strict JSON: an int is not a bool or a float, a hash is 64 lowercase hex, no unknown field -

def is_int(value: Any) -> bool:
    """A JSON integer (``true`` is not 1, ``1.0`` is not 1)."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_hex64(value: Any) -> bool:
    """A SHA-256 as 64 lowercase hex digits."""
    return isinstance(value, str) and _HEX64.fullmatch(value) is not None


def same(value: Any, expected: Any) -> bool:
    """Equal and of the same JSON type (``true`` is not ``1``)."""
    return type(value) is type(expected) and value == expected


def exact_fields(value: Any, names: tuple[str, ...], what: str) -> dict[str, Any]:
    """``value`` as a JSON object with exactly the fields ``names`` (ValueError naming the first
    missing or unknown one)."""
    if not isinstance(value, dict):
        raise ValueError(f"{what} is not a JSON object")
    for name in names:
        if name not in value:
            raise ValueError(f"{what} has no field {name!r}")
    for name in value:
        if name not in names:
            raise ValueError(f"{what} has an unknown field {str(name)[:40]!r}")
    return value


def hex_list(value: Any, what: str) -> list[bytes]:
    """A list of SHA-256 hex strings, as bytes (ValueError naming ``what``)."""
    if not isinstance(value, list) or not all(is_hex64(h) for h in value):
        raise ValueError(f"{what} is not a list of SHA-256 hex hashes")
    return [bytes.fromhex(h) for h in value]


def scope_problem(scope: Any) -> str | None:
    """Why a statement's ``scope`` is not ``{claim, since, until}`` of strings or nulls."""
    try:
        exact_fields(scope, ("claim", "since", "until"), "its scope")
    except ValueError as err:
        return str(err)
    if not all(v is None or isinstance(v, str) for v in scope.values()):
        return "its scope holds a value that is neither a string nor null"
    return None


def event_problem(event: dict[str, Any]) -> str | None:
    """Why a decoded leaf (a JSON object) is not an event whose claim, version, kind and chain
    link have their JSON types; None when it is (the bag's and the workspace's verifiers)."""
    version = event.get("v", 1)
    for name, ok in (("claim", event.get("claim") is None or isinstance(event["claim"], str)),
                     ("v", is_int(version) and version >= 1),
                     ("prev_claim_leaf", event.get("prev_claim_leaf") is None
                      or is_hex64(event["prev_claim_leaf"])),
                     ("kind", isinstance(event.get("kind", ""), str))):
        if not ok:
            return f"its {name} {json.dumps(event.get(name))[:40]} is not of its JSON type"
    return None


def export_title(scope: dict[str, Any]) -> str:
    """What an export of ``scope`` holds, in words (bag-info.txt's External-Description)."""
    parts = [f"claim {scope['claim']}"] if scope.get("claim") else []
    if scope.get("since") or scope.get("until"):
        parts.append(f"{(scope.get('since') or '…')[:10]} to {(scope.get('until') or '…')[:10]}")
    return ", ".join(parts) or "the whole log"


def bag_info(time: str, size: int, root_hex: str, oxum: str,
             scope: dict[str, Any]) -> list[tuple[str, str]]:
    """The lines of bag-info.txt, (label, value), in order: all an export writes there, and all
    a verifier accepts."""
    return [("Bag-Software-Agent", "claimwright evidence"), ("Bagging-Date", time[:10]),
            ("Payload-Oxum", oxum),
            ("External-Description", f"Claimwright evidence export, {export_title(scope)}"),
            ("External-Identifier", f"checkpoint {size} {root_hex}")]


# --- the bag -----------------------------------------------------------------------------------

class Refused(OSError):
    """A file the verifier does not read: a symbolic link, a FIFO, a device, or too large."""


def open_regular(path: Path) -> Any:
    """``path`` open for reading (binary) if it is a regular file and not a symbolic link, else
    :class:`Refused`; never waits on a FIFO (checked before opening, opened non-blocking)."""
    mode = os.lstat(path).st_mode
    if stat.S_ISLNK(mode):
        raise Refused("a symbolic link: refused (an export holds only regular files)")
    if not stat.S_ISREG(mode):
        raise Refused("not a regular file (a folder, FIFO, device or socket): refused")
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOFOLLOW", 0)
                 | getattr(os, "O_BINARY", 0))
    if not stat.S_ISREG(os.fstat(fd).st_mode):  # swapped since the lstat
        os.close(fd)
        raise Refused("not a regular file: refused")
    return os.fdopen(fd, "rb")


def read_limited(path: Path, limit: int = SMALL) -> bytes:
    """All of a regular file of at most ``limit`` bytes (:class:`Refused` otherwise)."""
    with open_regular(path) as f:
        data = f.read(limit + 1)
    if len(data) > limit:
        raise Refused(f"larger than {limit:,} bytes: refused")
    return data


def read_bag(bag: Path, rel: str) -> bytes:
    """A file of the bag read whole, within its limit (:data:`LIMITS`, else :data:`SMALL`)."""
    return read_limited(bag / rel, LIMITS.get(rel, SMALL))


def parse_json(data: bytes | str) -> Any:
    """JSON (ValueError when not, or nested too deeply to read)."""
    try:
        return json.loads(data)
    except RecursionError:
        raise ValueError("nested too deeply") from None


def sha256_file(path: Path) -> tuple[str, int]:
    """(SHA-256 hex, size) of a regular file (:class:`Refused` for anything else)."""
    with open_regular(path) as f:
        digest = hashlib.file_digest(f, "sha256").hexdigest()
        return digest, os.fstat(f.fileno()).st_size


def walk_bag(bag: Path, report: Report) -> dict[str, tuple[str, int]]:
    """(SHA-256, size) of every regular file of the bag by its path; a symbolic link (to a file
    or a folder: never followed), a FIFO, a device or an unreadable file is a problem."""
    actual: dict[str, tuple[str, int]] = {}
    for top, dirs, files in os.walk(bag):
        for name in sorted(dirs + files):
            path = Path(top, name)
            rel = path.relative_to(bag).as_posix()
            try:
                mode = os.lstat(path).st_mode
                if stat.S_ISLNK(mode):
                    raise Refused("a symbolic link: refused (an export holds only regular "
                                  "files and folders)")
                if not stat.S_ISDIR(mode):
                    actual[rel] = sha256_file(path)
                elif rel not in FOLDERS:  # BagIt lists no folder: an empty one goes unseen
                    report.fail("bag-folder-unexpected", rel, "a folder an export does not "
                                "make (added)")
            except OSError as err:
                report.fail("bag-file-refused", rel, str(err.strerror or err))
    return actual


def _decode_path(path: str) -> str:
    for code, char in (("%0A", "\n"), ("%0a", "\n"), ("%0D", "\r"), ("%0d", "\r"), ("%25", "%")):
        path = path.replace(code, char)
    return path


def _read_manifest(bag: Path, name: str, report: Report) -> dict[str, str] | None:
    try:
        text = read_bag(bag, name).decode("utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as err:
        report.fail("bag-manifest-syntax", name, "cannot read: " + (
            "not UTF-8 text" if isinstance(err, UnicodeDecodeError) else str(err)))
        return {}
    listed: dict[str, str] = {}
    first: dict[str, int] = {}
    lines = text.split("\n")
    for n, line in enumerate(lines, 1):
        if not line and n == len(lines):
            continue
        m = _MANIFEST_LINE.match(line)
        if m is None:
            report.fail("bag-manifest-syntax", f"{name} line {n}",
                        f"not '<sha256>  <path>': {line[:80]!r}")
            continue
        rel = _decode_path(m.group(2))
        if rel in first:  # which of the two counts is the reader's guess: neither does
            report.fail("bag-manifest-duplicate", f"{name} line {n}", f"lists {rel[:80]!r} "
                        f"again (first on line {first[rel]}): a file is listed once")
            continue
        first[rel], listed[rel] = n, m.group(1)
    return listed


def verify_structure(bag: Path, actual: dict[str, tuple[str, int]], report: Report) -> None:
    """BagIt (RFC 8493): the declaration; both manifests, each listing only its own files
    (the tag manifest: :data:`TAG_FILES`); nothing unlisted, nothing but an export's files."""
    try:
        if read_bag(bag, "bagit.txt") != BAGIT_TXT:
            report.fail("bag-declaration", "bagit.txt", "not the BagIt 1.0 / UTF-8 declaration")
    except FileNotFoundError:
        report.fail("bag-declaration", "bagit.txt", "missing: this is not a BagIt bag")
    except OSError as err:
        report.fail("bag-declaration", "bagit.txt", f"cannot read: {err.strerror or err}")
    manifest = _read_manifest(bag, "manifest-sha256.txt", report)
    tagmanifest = _read_manifest(bag, "tagmanifest-sha256.txt", report)
    if manifest is None:
        report.fail("bag-manifest-missing", "manifest-sha256.txt", "the payload manifest is gone")
        manifest = {}
    tagmanifest_present = tagmanifest is not None
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
        if rel.startswith("data/"):
            if rel not in manifest:
                report.fail("bag-file-unlisted", rel, "in the payload but not in the manifest")
        elif rel not in (*TAG_FILES, "tagmanifest-sha256.txt"):
            report.fail("bag-file-unexpected", rel, "not part of an evidence export (added)")
    for rel in (f for f in TAG_FILES if tagmanifest_present and f not in tagmanifest):
        report.fail("bag-file-unlisted", rel, "a tag file not in tagmanifest-sha256.txt")
    for rel in sorted(r for r in manifest if not r.startswith("data/")):
        report.fail("bag-manifest-syntax", "manifest-sha256.txt", f"lists {rel[:80]!r}, not a "
                    "payload file (data/...)")
    for rel in sorted(r for r in tagmanifest if r not in TAG_FILES):
        report.fail("bag-manifest-syntax", "tagmanifest-sha256.txt", f"lists {rel[:80]!r}, not "
                    f"one of the tag files {', '.join(TAG_FILES)}")


def not_canonical(data: bytes, value: Any) -> str | None:
    """Why ``data`` (a ledger file, or a line of entries.jsonl) is not exactly the canonical JSON
    of ``value`` and a newline, as an export writes it; None when it is."""
    try:
        if canonical_json(value) + b"\n" == data:
            return None
    except ValueError:  # NaN or Infinity
        return "holds a number JSON does not have (NaN or Infinity)"
    return ("is not the canonical JSON an export writes (one line, keys sorted and each once, "
            "no spaces, \\n at the end): reformatted or edited")


def load_json(bag: Path, rel: str, report: Report) -> Any:
    try:
        data = read_bag(bag, rel)
        value = parse_json(data.decode("utf-8"))
        if (why := not_canonical(data, value)) is not None:
            report.fail("ledger-canonical", rel, why)
        return value
    except FileNotFoundError:
        report.fail("bag-ledger-missing", rel, "missing")
    except OSError as err:
        report.fail("bag-ledger-unreadable", rel, f"cannot read: {err.strerror or err}")
    except (UnicodeDecodeError, ValueError) as err:
        report.fail("bag-ledger-unreadable", rel, f"not JSON: {err}")
    return None


def load_pem_key(data: bytes) -> Ed25519PublicKey:
    """An Ed25519 public key from PEM (ValueError if not one)."""
    try:
        key = serialization.load_pem_public_key(data)
    except (TypeError, UnsupportedAlgorithm) as err:
        raise ValueError(f"not a public key: {err}") from None
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("not an Ed25519 key")
    return key
