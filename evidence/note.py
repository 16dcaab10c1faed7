"""C2SP signed notes, checkpoints and cosignatures (https://c2sp.org/signed-note,
https://c2sp.org/tlog-checkpoint, https://c2sp.org/tlog-cosignature), Ed25519 only.

* A checkpoint body is ``<origin>\\n<tree size>\\n<base64 root hash>\\n`` followed by extension
  lines; Claimwright writes one, ``time <UTC ISO 8601>``.
* A signed note is the body, an empty line, then signature lines ``— <key name> base64(key hash
  || signature)``. The key hash of an Ed25519 note key is ``SHA-256(name || "\\n" || 0x01 ||
  public key)[:4]``, the signature is over the body.
* A witness cosignature (``cosignature/v1``) has key hash ``SHA-256(name || "\\n" || 0x04 ||
  public key)[:4]`` and signs ``cosignature/v1\\ntime <seconds>\\n`` + body; its line carries
  ``key hash || 8-byte big-endian timestamp || signature``.
* A verifier key (vkey) is ``<name>+<hex key hash>+base64(type byte || public key)``.

Pure functions over bytes and text; no I/O.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

NOTE_ED25519 = 0x01
COSIGNATURE_ED25519 = 0x04
DASH = "\u2014"
ORIGIN_PREFIX = "claimwright.evidence/"


def raw_public(key: Ed25519PublicKey) -> bytes:
    """The 32 raw bytes of an Ed25519 public key."""
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def origin_for(key: Ed25519PublicKey) -> str:
    """The origin line (and note key name) of the log signed by ``key``: the prefix and the key id
    (SHA-256 of the raw public key, hex), so it is unique per key."""
    return ORIGIN_PREFIX + hashlib.sha256(raw_public(key)).hexdigest()


def key_hash(name: str, kind: int, key: Ed25519PublicKey) -> bytes:
    """The 4-byte key hash of a note (``kind`` 0x01) or cosignature (0x04) key."""
    return hashlib.sha256(name.encode() + b"\n" + bytes([kind]) + raw_public(key)).digest()[:4]


def vkey(name: str, kind: int, key: Ed25519PublicKey) -> str:
    """The verifier key text ``<name>+<hex key hash>+<base64(type || key)>``."""
    material = base64.b64encode(bytes([kind]) + raw_public(key)).decode()
    return f"{name}+{key_hash(name, kind, key).hex()}+{material}"


@dataclass(frozen=True)
class VerifierKey:
    """A parsed vkey: its name, signature type, public key and key hash."""

    name: str
    kind: int
    key: Ed25519PublicKey
    hash: bytes


def parse_vkey(text: str) -> VerifierKey:
    """Read a vkey; ``ValueError`` naming the rule when it is not one."""
    parts = text.strip().split("+", 2)  # the name and hash hold no '+'; the base64 may
    if len(parts) != 3 or not parts[0]:
        raise ValueError("a verifier key is <name>+<hex key hash>+<base64 key>")
    name, hex_hash, material = parts
    try:
        raw = base64.b64decode(material, validate=True)
        stated = bytes.fromhex(hex_hash)
    except (binascii.Error, ValueError) as err:
        raise ValueError(f"verifier key {name}: bad encoding ({err})") from None
    if len(raw) != 33 or raw[0] not in (NOTE_ED25519, COSIGNATURE_ED25519):
        raise ValueError(f"verifier key {name}: not an Ed25519 note or cosignature key")
    key = Ed25519PublicKey.from_public_bytes(raw[1:])
    if key_hash(name, raw[0], key) != stated:
        raise ValueError(f"verifier key {name}: key hash does not match the key")
    return VerifierKey(name, raw[0], key, stated)


def checkpoint_body(origin: str, size: int, root: bytes, extensions: tuple[str, ...] = ()) -> str:
    """The checkpoint text that is signed (ends with a newline)."""
    lines = [origin, str(size), base64.b64encode(root).decode(), *extensions]
    return "".join(line + "\n" for line in lines)


@dataclass(frozen=True)
class ParsedCheckpoint:
    """A checkpoint body read back: origin, size, root hash and extension lines."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...]


def parse_body(body: str) -> ParsedCheckpoint:
    """Read a checkpoint body; ``ValueError`` when it is not one."""
    if not body.endswith("\n"):
        raise ValueError("a checkpoint body ends with a newline")
    lines = body[:-1].split("\n")
    if len(lines) < 3 or not lines[0]:
        raise ValueError("a checkpoint has an origin, a size and a root hash line")
    size_text = lines[1]
    if not size_text.isdigit() or (size_text != "0" and size_text.startswith("0")):
        raise ValueError(f"tree size {size_text!r} is not a decimal without leading zeros")
    try:
        root = base64.b64decode(lines[2], validate=True)
    except binascii.Error:
        raise ValueError("the root hash line is not base64") from None
    if len(root) != 32:
        raise ValueError("the root hash is not 32 bytes")
    if any(not line for line in lines[3:]):
        raise ValueError("an empty extension line")
    return ParsedCheckpoint(lines[0], int(size_text), root, tuple(lines[3:]))


def signature_line(name: str, hash4: bytes, signature: bytes) -> str:
    """One note signature line, with its newline."""
    return f"{DASH} {name} {base64.b64encode(hash4 + signature).decode()}\n"


def split_note(text: str) -> tuple[str, list[tuple[str, bytes]]]:
    """(body, [(key name, decoded signature bytes)]) of a signed note; ``ValueError`` if not one."""
    at = text.rfind("\n\n")
    if at < 0 or not text.endswith("\n"):
        raise ValueError("a signed note is a body, an empty line and signature lines")
    body, sigs = text[:at + 1], text[at + 2:]
    out = []
    for line in sigs[:-1].split("\n"):
        parts = line.split(" ")
        if len(parts) != 3 or parts[0] != DASH:
            raise ValueError(f"not a note signature line: {line[:60]!r}")
        try:
            out.append((parts[1], base64.b64decode(parts[2], validate=True)))
        except binascii.Error:
            raise ValueError(f"signature of {parts[1]} is not base64") from None
    return body, out


def sign_note(body: str, name: str, key: Ed25519PrivateKey) -> str:
    """The signature line of ``key`` (named ``name``) over ``body``."""
    return signature_line(name, key_hash(name, NOTE_ED25519, key.public_key()),
                          key.sign(body.encode()))


def note_signature_ok(body: str, name: str, decoded: bytes, key: Ed25519PublicKey) -> bool:
    """True when ``decoded`` (key hash || signature) is ``key``'s note signature of ``body``."""
    if len(decoded) != 68 or decoded[:4] != key_hash(name, NOTE_ED25519, key):
        return False
    return ed25519_ok(key, decoded[4:], body.encode())


def cosigned_message(body: str, timestamp: int) -> bytes:
    """What a cosignature/v1 signs."""
    return f"cosignature/v1\ntime {timestamp}\n".encode() + body.encode()


def cosign(body: str, name: str, key: Ed25519PrivateKey, timestamp: int) -> str:
    """A witness's cosignature line over the checkpoint ``body``."""
    signature = key.sign(cosigned_message(body, timestamp))
    return signature_line(name, key_hash(name, COSIGNATURE_ED25519, key.public_key()),
                          timestamp.to_bytes(8, "big") + signature)


def cosignature_time(body: str, witness: VerifierKey, decoded: bytes) -> int | None:
    """The timestamp of a valid cosignature of ``body`` by ``witness``, else None."""
    if witness.kind != COSIGNATURE_ED25519 or len(decoded) != 76 or decoded[:4] != witness.hash:
        return None
    timestamp = int.from_bytes(decoded[4:12], "big")
    if timestamp >= 1 << 63:
        return None
    ok = ed25519_ok(witness.key, decoded[12:], cosigned_message(body, timestamp))
    return timestamp if ok else None


def ed25519_ok(key: Ed25519PublicKey, signature: bytes, message: bytes) -> bool:
    """True when ``signature`` is ``key``'s Ed25519 signature of ``message``."""
    try:
        key.verify(signature, message)
    except InvalidSignature:
        return False
    return True
