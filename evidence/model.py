"""The archive's value types: entries, blob references, checkpoints, verification reports."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from evidence import note
from evidence.canonical import canonical_json
from evidence.keys import key_id, signature_ok
from evidence.verifier_core import entry_count

LEAF_VERSION = 2  # v2: ``prev_claim_leaf`` chains the events of one claim
CHECKPOINT_TYPE = "claimwright-evidence-checkpoint/v2"
LEGACY_CHECKPOINT_TYPE = "claimwright-evidence-checkpoint/v1"


class EventKind(StrEnum):
    """The kinds of event Claimwright records; other dotted lower-case kinds are accepted too."""

    BUNDLE_BUILT = "bundle.built"
    SUBMISSION_STARTED = "submission.started"
    SUBMISSION_FINISHED = "submission.finished"
    SUBMISSION_OUTCOME_UNKNOWN = "submission.outcome_unknown"
    SUBMISSION_RECONCILED = "submission.reconciled"
    PORTAL_SCREENSHOT = "portal.screenshot"
    PORTAL_RECEIPT = "portal.receipt"
    STATUS_CHANGED = "status.changed"
    REMINDER_SENT = "reminder.sent"
    PAYMENT_MATCHED = "payment.matched"
    EVIDENCE_EXPORTED = "evidence.exported"


@dataclass(frozen=True)
class BlobRef:
    """A file recorded with an entry: its SHA-256 (hex), size in bytes and media type."""

    sha256: str
    size: int
    media_type: str = "application/octet-stream"

    def to_json(self) -> dict[str, Any]:
        """The form stored in the leaf."""
        return {"sha256": self.sha256, "size": self.size, "media_type": self.media_type}


@dataclass(frozen=True)
class Entry:
    """One leaf of the ledger, decoded. ``leaf`` is the exact canonical bytes that are hashed."""

    index: int
    kind: str
    claim: str | None
    time: datetime
    actor: str
    metadata: dict[str, Any]
    blobs: dict[str, BlobRef]
    leaf: bytes
    leaf_hash: bytes
    #: v2 leaves of a claim: the leaf hash (hex) of the claim's previous event, None for its first
    prev_claim_leaf: str | None = None
    version: int = 1

    @classmethod
    def from_leaf(cls, leaf: bytes, leaf_hash: bytes) -> Entry:
        """Decode a leaf (raises ``ValueError``/``KeyError``/``TypeError`` when malformed)."""
        try:
            data = json.loads(leaf.decode("utf-8"))
        except RecursionError:
            raise ValueError("JSON nested too deeply to read") from None
        return cls(
            index=int(data["index"]), kind=str(data["kind"]), claim=data["claim"],
            time=parse_time(data["time"]), actor=str(data["actor"]),
            metadata=dict(data["metadata"]),
            blobs={name: BlobRef(ref["sha256"], int(ref["size"]), ref["media_type"])
                   for name, ref in data["blobs"].items()},
            leaf=leaf, leaf_hash=leaf_hash, prev_claim_leaf=data.get("prev_claim_leaf"),
            version=int(data.get("v", 1)))


def as_utc_bound(value: date | datetime | None, *, end: bool) -> datetime | None:
    """A date range bound as a UTC datetime; a bare date ends at the end of that day."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    moment = datetime.combine(value, time.min, tzinfo=UTC)
    return moment + timedelta(days=1) - timedelta(microseconds=1) if end else moment


def format_time(moment: datetime) -> str:
    """UTC ISO 8601 with microseconds and ``Z`` — the only time format in leaves and checkpoints.

    A naive ``moment`` is taken to be UTC already.
    """
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(text: str) -> datetime:
    """Read a time written by :func:`format_time`."""
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


@dataclass(frozen=True)
class Checkpoint:
    """A signed tree head: the log had ``tree_size`` entries with root ``root_hash`` at ``time``.

    Signed as a C2SP checkpoint in a signed note (:mod:`evidence.note`) whose origin line names the
    log's key; ``cosignatures`` are the witnesses' signature lines over the same body. A checkpoint
    without ``origin`` is a legacy (v1) one, signed over canonical JSON.
    """

    tree_size: int
    root_hash: bytes
    time: str
    key_id: str
    signature: bytes = b""
    origin: str | None = None
    key_hash: bytes = b""
    cosignatures: tuple[str, ...] = ()

    def body(self) -> bytes:
        """The bytes that are signed: the checkpoint body (legacy: canonical JSON)."""
        if self.origin is None:
            return canonical_json({"type": LEGACY_CHECKPOINT_TYPE, "tree_size": self.tree_size,
                                   "root_hash": self.root_hash.hex(), "time": self.time,
                                   "key_id": self.key_id})
        return note.checkpoint_body(self.origin, self.tree_size, self.root_hash,
                                    (f"time {self.time}",)).encode()

    def signed(self, key: Ed25519PrivateKey) -> Checkpoint:
        """This checkpoint as a C2SP note signed with ``key`` (origin: the key's log)."""
        public = key.public_key()
        origin = note.origin_for(public)
        unsigned = replace(self, origin=origin, signature=b"", cosignatures=(),
                           key_hash=note.key_hash(origin, note.NOTE_ED25519, public))
        return replace(unsigned, signature=key.sign(unsigned.body()))

    def signature_valid(self, key: Ed25519PublicKey) -> bool:
        """True when the signature is ``key``'s and the checkpoint names that key."""
        if self.key_id != key_id(key):
            return False
        if self.origin is None:
            return signature_ok(key, self.signature, self.body())
        return (self.origin == note.origin_for(key)
                and self.key_hash == note.key_hash(self.origin, note.NOTE_ED25519, key)
                and signature_ok(key, self.signature, self.body()))

    def with_cosignatures(self, lines: tuple[str, ...]) -> Checkpoint:
        """This checkpoint carrying the witnesses' cosignature lines ``lines``."""
        return replace(self, cosignatures=tuple(dict.fromkeys((*self.cosignatures, *lines))))

    def note_text(self) -> str:
        """The signed note: body, empty line, the log's signature, then cosignatures."""
        if self.origin is None:
            raise ValueError("a legacy checkpoint has no signed-note form")
        return (self.body().decode() + "\n"
                + note.signature_line(self.origin, self.key_hash, self.signature)
                + "".join(self.cosignatures))

    @classmethod
    def from_note(cls, text: str) -> Checkpoint:
        """Read a signed checkpoint note (``ValueError`` when malformed)."""
        body, sigs = note.split_note(text)
        parsed = note.parse_body(body)
        times = [e[5:] for e in parsed.extensions if e.startswith("time ")]
        own = [s for name, s in sigs if name == parsed.origin]
        if not parsed.origin.startswith(note.ORIGIN_PREFIX) or len(own) != 1 or len(own[0]) != 68:
            raise ValueError("no signature of the log named by the origin line")
        others = tuple(note.signature_line(name, s[:4], s[4:]) for name, s in sigs
                       if name != parsed.origin)
        return cls(parsed.size, parsed.root, times[0] if times else "",
                   parsed.origin[len(note.ORIGIN_PREFIX):], own[0][4:], parsed.origin,
                   own[0][:4], others)

    def to_json(self) -> dict[str, Any]:
        """The JSON form written to exports (and accepted back by :meth:`from_json`)."""
        data: dict[str, Any] = {
            "type": CHECKPOINT_TYPE if self.origin else LEGACY_CHECKPOINT_TYPE,
            "tree_size": self.tree_size, "root_hash": self.root_hash.hex(), "time": self.time,
            "key_id": self.key_id, "signature": self.signature.hex()}
        if self.origin is not None:
            data["origin"] = self.origin
            data["note"] = self.note_text()
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Checkpoint:
        """Read the form :meth:`to_json` writes (``ValueError``/``KeyError`` if malformed)."""
        if data.get("type") == CHECKPOINT_TYPE:
            cp = cls.from_note(str(data["note"]))
            if (cp.tree_size, cp.root_hash.hex(), cp.time, cp.key_id, cp.signature.hex(),
                    cp.origin) != (data.get("tree_size"), data.get("root_hash"),
                                   data.get("time"), data.get("key_id"),
                                   data.get("signature"), data.get("origin")):
                raise ValueError("the JSON fields differ from the signed note")
            return cp
        if data.get("type") != LEGACY_CHECKPOINT_TYPE:
            raise ValueError(f"not a {CHECKPOINT_TYPE}")
        size = data["tree_size"]
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise ValueError("tree_size is not a non-negative integer")
        return cls(size, bytes.fromhex(data["root_hash"]), str(data["time"]),
                   str(data["key_id"]), bytes.fromhex(data["signature"]))

    @classmethod
    def load(cls, text: str) -> Checkpoint:
        """A checkpoint saved as JSON (:meth:`to_json`) or as its signed note text."""
        stripped = text.lstrip()
        if stripped.startswith("{"):
            return cls.from_json(json.loads(stripped))
        return cls.from_note(text)


@dataclass(frozen=True)
class Problem:
    """One verification finding: a stable ``code``, ``where`` it is, and what is wrong."""

    code: str
    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.code} {self.where}: {self.message}"

    def to_json(self) -> dict[str, str]:
        """For ``--json`` output."""
        return {"code": self.code, "where": self.where, "message": self.message}


@dataclass
class VerificationReport:
    """What a verification checked and every problem it found (it never stops at the first).

    ``ok`` is true when there is no problem; ``warnings`` (e.g. entries not yet covered by a signed
    checkpoint) do not make it false.
    """

    subject: str
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    checked: dict[str, int] = field(default_factory=dict)
    key_id: str | None = None
    checkpoint: Checkpoint | None = None

    @property
    def ok(self) -> bool:
        """True when nothing failed."""
        return not self.problems

    def fail(self, code: str, where: str, message: str) -> None:
        """Record a problem."""
        self.problems.append(Problem(code, where, message))

    def warn(self, code: str, where: str, message: str) -> None:
        """Record a warning."""
        self.warnings.append(Problem(code, where, message))

    def count(self, what: str, n: int = 1) -> None:
        """Add to a tally of checked things."""
        self.checked[what] = self.checked.get(what, 0) + n

    def codes(self) -> set[str]:
        """The distinct problem codes (handy in tests and scripts)."""
        return {p.code for p in self.problems}

    def to_json(self) -> dict[str, Any]:
        """For ``--json`` output."""
        return {"subject": self.subject, "ok": self.ok, "key_id": self.key_id,
                "checkpoint": self.checkpoint.to_json() if self.checkpoint else None,
                "checked": dict(self.checked),
                "problems": [p.to_json() for p in self.problems],
                "warnings": [w.to_json() for w in self.warnings]}

    def summary(self) -> str:
        """A readable multi-line summary."""
        lines = [f"{self.subject}: {'OK' if self.ok else 'FAILED'}"]
        if self.key_id:
            lines.append(f"  signing key id {self.key_id}")
        if self.checkpoint:
            lines.append(f"  checkpoint: {entry_count(self.checkpoint.tree_size)}, root "
                         f"{self.checkpoint.root_hash.hex()}, {self.checkpoint.time}")
        lines.append("  checked: " + ", ".join(f"{v} {k}" for k, v in sorted(self.checked.items())))
        lines += [f"  PROBLEM {p}" for p in self.problems]
        lines += [f"  warning {w}" for w in self.warnings]
        return "\n".join(lines)
