"""Claimwright's tamper-evident evidence archive.

Every bundle, portal step, receipt, status change, reminder and payment match is recorded as an
event: its files go to a content-addressed, write-once blob store, and the event itself becomes a
leaf of an append-only RFC 9162 Merkle tree kept in SQL, whose tree heads are signed (Ed25519).
An auditor verifies an export offline with :func:`verify_export`.

Public face::

    init_keys(evidence_dir)                          # once, at `claims init`
    archive = EvidenceArchive.open(evidence_dir, engine)
    entry = archive.record("portal.receipt", "CLM-1", "worker-1", {"reference": "R-9"},
                           files={"receipt.pdf": path})
    archive.checkpoint()                             # sign what is there (never a rewrite)
    archive = EvidenceArchive.open(evidence_dir, engine,
                                   witnesses=[WitnessEndpoint(url, witness_vkey)])
    archive.verifier_key()                           # the log's C2SP vkey
    archive.verify(claim=None)  -> VerificationReport (.ok, .problems)
    archive.export(out, claim="CLM-1")               # BagIt bag for an auditor
    verify_export(out)          -> VerificationReport

``evidence`` never imports ``claims``. Errors: see :mod:`evidence.errors`.
"""

from evidence.archive import EvidenceArchive, Record, format_log
from evidence.batch import BlobBatch, Staged, flush_batches, flush_files
from evidence.errors import (BlobError, BlobNotFound, CheckpointsDeleted, EntryNotFound,
                             EvidenceError, ExportError, ExportExists, KeysExist, KeysMissing,
                             LedgerError, LogRewritten, MetadataError, ProofError,
                             SecretInMetadata, SigningKeyError, WitnessError, WitnessRefused,
                             WitnessUnreachable)
from evidence.export import verify_export
from evidence.keys import init_keys, key_id, load_public_key
from evidence.ledger import create_schema
from evidence.merkle import (consistency_proof, inclusion_proof, verify_consistency,
                             verify_inclusion)
from evidence.model import BlobRef, Checkpoint, Entry, EventKind, Problem, VerificationReport
from evidence.witness import Witness, WitnessEndpoint

__all__ = [
    "BlobBatch", "BlobError", "BlobNotFound", "BlobRef", "Checkpoint", "CheckpointsDeleted",
    "Entry", "EntryNotFound", "EventKind", "EvidenceArchive", "EvidenceError", "ExportError",
    "ExportExists", "KeysExist", "KeysMissing", "LedgerError", "LogRewritten", "MetadataError",
    "Problem", "ProofError", "Record", "SecretInMetadata", "SigningKeyError", "Staged",
    "VerificationReport", "Witness", "WitnessEndpoint", "WitnessError", "WitnessRefused",
    "WitnessUnreachable", "consistency_proof", "create_schema", "flush_batches", "flush_files",
    "format_log", "inclusion_proof", "init_keys", "key_id", "load_public_key",
    "verify_consistency", "verify_export", "verify_inclusion",
]
