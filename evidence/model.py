"""The archive's value types: entries, blob references, checkpoints, verification reports."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from evidence.canonical import canonical_json
from evidence.keys import key_id, signature_ok

LEAF_VERSION = 1
CHECKPOINT_TYPE = "claimwright-evidence-checkpoint/v1"


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

    @classmethod
    def from_leaf(cls, leaf: bytes, leaf_hash: bytes) -> Entry:
        """Decode a leaf (raises ``ValueError``/``KeyError``/``TypeError`` when malformed)."""
        data = json.loads(leaf.decode("utf-8"))
        return cls(
            index=int(data["index"]), kind=str(data["kind"]), claim=data["claim"],
            time=parse_time(data["time"]), actor=str(data["actor"]),
            metadata=dict(data["metadata"]),
            blobs={name: BlobRef(ref["sha256"], int(ref["size"]), ref["media_type"])
                   for name, ref in data["blobs"].items()},
            leaf=leaf, leaf_hash=leaf_hash)


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
    """A signed tree head: the log had ``tree_size`` entries with root ``root_hash`` at ``time``."""

    tree_size: int
    root_hash: bytes
    time: str
    key_id: str
    signature: bytes = b""

    def body(self) -> bytes:
        """The canonical bytes that are signed."""
        return canonical_json({"type": CHECKPOINT_TYPE, "tree_size": self.tree_size,
                               "root_hash": self.root_hash.hex(), "time": self.time,
                               "key_id": self.key_id})

    def signed(self, key: Ed25519PrivateKey) -> Checkpoint:
        """This checkpoint signed with ``key``."""
        return Checkpoint(self.tree_size, self.root_hash, self.time, self.key_id,
                          key.sign(self.body()))

    def signature_valid(self, key: Ed25519PublicKey) -> bool:
        """True when the signature is ``key``'s and the checkpoint names that key."""
        return self.key_id == key_id(key) and signature_ok(key, self.signature, self.body())

    def to_json(self) -> dict[str, Any]:
        """The JSON form written to exports (and accepted back by :meth:`from_json`)."""
        return {"type": CHECKPOINT_TYPE, "tree_size": self.tree_size,
                "root_hash": self.root_hash.hex(), "time": self.time, "key_id": self.key_id,
                "signature": self.signature.hex()}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Checkpoint:
        """Read the form :meth:`to_json` writes (``ValueError``/``KeyError`` if malformed)."""
        if data.get("type") != CHECKPOINT_TYPE:
            raise ValueError(f"not a {CHECKPOINT_TYPE}")
        size = data["tree_size"]
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise ValueError("tree_size is not a non-negative integer")
        return cls(size, bytes.fromhex(data["root_hash"]), str(data["time"]),
                   str(data["key_id"]), bytes.fromhex(data["signature"]))


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
            lines.append(f"  checkpoint: {self.checkpoint.tree_size} entries, root "
                         f"{self.checkpoint.root_hash.hex()}, {self.checkpoint.time}")
        lines.append("  checked: " + ", ".join(f"{v} {k}" for k, v in sorted(self.checked.items())))
        lines += [f"  PROBLEM {p}" for p in self.problems]
        lines += [f"  warning {w}" for w in self.warnings]
        return "\n".join(lines)
