"""The one exception tree of the evidence archive.

::

    EvidenceError                      anything the archive refuses or cannot do
    ├── MetadataError                  metadata that cannot be recorded (not JSON, floats, bad key)
    │   └── SecretInMetadata           a key that looks like a secret (password, token, cookie, ...)
    ├── BlobError                      the blob store
    │   └── BlobNotFound               a digest with no stored blob
    ├── SigningKeyError                signing keys
    │   ├── KeysMissing                no key pair in ``<evidence_dir>/keys``
    │   └── KeysExist                  ``init_keys`` would overwrite an existing key
    ├── LedgerError                    the SQL ledger (SQLAlchemy errors are wrapped here)
    │   └── EntryNotFound              no entry with that index
    ├── ProofError                     a proof cannot be built (index or sizes out of range)
    ├── LogRewritten                   refusing to sign: the log is not consistent with what was
    │   │                              signed before (rewritten, forked or truncated)
    │   └── CheckpointsDeleted         signed checkpoints are missing from the database
    ├── WitnessError                   a witness (its reply, or the witness process itself)
    │   ├── WitnessUnreachable         no answer from a witness
    │   └── WitnessRefused             a witness refused to cosign (a fork or rewrite it saw)
    └── ExportError                    an export cannot be written or read
        └── ExportExists               the output path already exists (exports never overwrite)

Verification never raises for tampering: it *returns* a report listing every problem found.
Every exception carries its data as attributes and builds its message from them.
"""

from __future__ import annotations

from pathlib import Path


class EvidenceError(Exception):
    """Base of every error raised by :mod:`evidence`."""


class MetadataError(EvidenceError):
    """Metadata that cannot be recorded; ``path`` is where in the metadata, ``rule`` what failed."""

    def __init__(self, path: str, rule: str) -> None:
        self.path = path
        self.rule = rule
        super().__init__(f"evidence metadata {path or '<root>'}: {rule}")


class SecretInMetadata(MetadataError):
    """A metadata key (or file name) that names a secret; secrets never enter the evidence log."""

    def __init__(self, path: str, word: str) -> None:
        self.word = word
        super().__init__(path, f"looks like a secret ({word!r}); secrets are never recorded")


class BlobError(EvidenceError):
    """The blob store failed; ``digest`` and ``path`` say which blob when known."""

    def __init__(self, message: str, *, digest: str | None = None, path: Path | None = None):
        self.digest = digest
        self.path = path
        super().__init__(message)


class BlobNotFound(BlobError):
    """No blob is stored under ``digest``."""

    def __init__(self, digest: str, path: Path) -> None:
        super().__init__(f"no evidence blob {digest} (expected at {path})", digest=digest,
                         path=path)


class SigningKeyError(EvidenceError):
    """The signing key pair is missing, unreadable or would be overwritten."""

    def __init__(self, message: str, *, path: Path | None = None) -> None:
        self.path = path
        super().__init__(message)


class KeysMissing(SigningKeyError):
    """No key pair at ``path``: run ``claims init`` (which calls :func:`evidence.init_keys`)."""

    def __init__(self, path: Path) -> None:
        super().__init__(f"no evidence signing key at {path} (run `claims init`)", path=path)


class KeysExist(SigningKeyError):
    """``init_keys`` refuses to replace an existing key: that would orphan every checkpoint."""

    def __init__(self, path: Path) -> None:
        super().__init__(f"an evidence signing key already exists at {path}; not replacing it",
                         path=path)


class LedgerError(EvidenceError):
    """The ledger's database failed (the SQLAlchemy error is chained as ``__cause__``)."""


class EntryNotFound(LedgerError):
    """No ledger entry has index ``index``."""

    def __init__(self, index: int) -> None:
        self.index = index
        super().__init__(f"no evidence entry with index {index}")


class ProofError(EvidenceError):
    """A proof was asked for outside the tree (``index``/sizes in the message)."""


class LogRewritten(EvidenceError):
    """Signing refused: ``where`` (a checkpoint, the state row) shows the log was rewritten."""

    def __init__(self, where: str, rule: str) -> None:
        self.where = where
        self.rule = rule
        super().__init__(f"refusing to sign the evidence log: {where}: {rule}")


class CheckpointsDeleted(LogRewritten):
    """A checkpoint kept in the append-only checkpoint file is no longer in the database."""


class WitnessError(EvidenceError):
    """A witness failed; ``witness`` is its name or URL."""

    def __init__(self, witness: str, message: str) -> None:
        self.witness = witness
        super().__init__(f"witness {witness}: {message}")


class WitnessUnreachable(WitnessError):
    """A witness did not answer (it is retried with the next checkpoint)."""


class WitnessRefused(WitnessError):
    """A witness refused to cosign: it saw a different history of this log."""


class ExportError(EvidenceError):
    """An export could not be written or read; ``path`` is the bag."""

    def __init__(self, message: str, *, path: Path | None = None) -> None:
        self.path = path
        super().__init__(message)


class ExportExists(ExportError):
    """Exports never overwrite: ``path`` exists already."""

    def __init__(self, path: Path) -> None:
        super().__init__(f"{path} already exists; an export never overwrites", path=path)
