"""The evidence archive as user actions: verify, read the log, export for an auditor, verify
an export offline, sign a checkpoint (sent to the workspace's witnesses), print the log's
verifier key, run a witness. Evidence errors come out as :class:`EvidenceFailed`."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from claims.core.importers import regular_file
from claims.errors import EvidenceFailed, InputError, NotFound
from claims.lifecycle.workflow import built_bundle_problems
from claims.workspace import Workspace
from evidence import Checkpoint, Entry, EvidenceError, VerificationReport, format_log
from evidence import verify_export as _verify_bag
from evidence.errors import WitnessRefused
from evidence.model import format_time
from evidence.verifier_core import BadOption, entry_count
from evidence.witness import Witness, serve

__all__ = ["Checkpoint", "VerificationReport", "load_checkpoints", "verify_evidence",
           "evidence_log", "evidence_log_lines", "evidence_entry_json", "export_evidence",
           "verify_evidence_export", "sign_checkpoint", "SignedCheckpoint", "log_verifier_key",
           "witness_verifier_key", "witness_trust_logs", "serve_witness"]


@contextmanager
def _evidence_errors() -> Iterator[None]:
    try:
        yield
    except EvidenceError as err:
        raise EvidenceFailed(str(err)) from err


def load_checkpoints(paths: Sequence[Path]) -> list[Checkpoint]:
    """Checkpoints saved earlier (JSON files); a clear error naming a file that is not one."""
    out = []
    for path in paths:
        regular_file(path, field="--checkpoint")
        try:
            text = regular_file(path, field="--checkpoint",  # a FIFO: exit 2, as verify.py
                                missing_rule="file-readable").read_bytes().decode("utf-8")
            out.append(Checkpoint.load(text))
        except OSError as err:
            raise InputError(f"cannot read: {err.strerror}", file=str(path),
                             field="--checkpoint", rule="file-readable") from None
        except RecursionError:
            raise InputError("not a signed checkpoint: JSON nested too deeply", file=str(path),
                             field="--checkpoint", rule="evidence-checkpoint") from None
        except (ValueError, KeyError, TypeError, AttributeError) as err:
            raise InputError(f"not a signed checkpoint: {err}", file=str(path),
                             field="--checkpoint", rule="evidence-checkpoint") from None
    return out


def known_claim(ws: Workspace, claim: str | None) -> None:
    """Refuse (:class:`NotFound`) a claim that is neither in the store nor in the evidence log
    (evidence kept for a claim whose row is gone can still be read and verified)."""
    if claim is None:
        return
    if claim.isascii() and claim.isdigit() and len(claim) < 19:  # an id the store can hold
        try:
            ws.store.get_claim_brief(int(claim))
            return
        except NotFound:
            pass
    with _evidence_errors():
        if ws.evidence.has_entries(claim):
            return
    raise NotFound("claim", claim)


def verify_evidence(ws: Workspace, claim: str | None = None, *,
                    trusted_key: Path | None = None,
                    checkpoints: Sequence[Path] = ()) -> VerificationReport:
    """Check blobs, entries, tree roots, checkpoint signatures and consistency (with the
    pinned key and saved checkpoints when given), and that every READY or submitted claim has
    its ``bundle.built`` evidence and an unchanged bundle; the report lists every problem."""
    saved = load_checkpoints(checkpoints)
    if trusted_key is not None:
        regular_file(trusted_key, field="--trusted-key")
    known_claim(ws, claim)
    with _evidence_errors():
        report = ws.evidence.verify(claim, trusted_key=trusted_key, trusted_checkpoints=saved)
    checked, problems = built_bundle_problems(ws, claim)
    report.count("built claims", checked)
    for code, where, message in problems:
        report.fail(code, where, message)
    return report


def evidence_log(ws: Workspace, claim: str | None = None) -> list[Entry]:
    """The evidence entries (of one claim), oldest first."""
    known_claim(ws, claim)
    with _evidence_errors():
        return ws.evidence.entries(claim)


def evidence_log_lines(entries: Sequence[Entry]) -> list[str]:
    """The entries as the timeline a person reads."""
    return list(format_log(entries))


def evidence_entry_json(entry: Entry) -> dict[str, Any]:
    """One entry in the stable ``evidence log --json`` shape."""
    return {"index": entry.index, "time": format_time(entry.time), "kind": entry.kind,
            "claim": entry.claim, "actor": entry.actor, "metadata": entry.metadata,
            "files": {n: r.to_json() for n, r in entry.blobs.items()},
            "leaf_hash": entry.leaf_hash.hex()}


def export_evidence(ws: Workspace, out: Path, *, claim: str | None = None,
                    since: date | None = None, until: date | None = None) -> Path:
    """Write a self-contained BagIt bag for an auditor; returns its folder."""
    if claim is None and since is None and until is None:
        raise InputError("give --claim ID, or --from DATE --to DATE",
                         field="--claim / --from / --to", rule="export-scope")
    known_claim(ws, claim)
    with _evidence_errors():
        return ws.evidence.export(out, claim=claim, since=since, until=until, actor=ws.actor)


def verify_evidence_export(path: Path, *, trusted_key: Path | None = None,
                           checkpoints: Sequence[Path] = (), witness_keys: Sequence[str] = (),
                           trust_bag_key: bool = False) -> VerificationReport:
    """Verify an exported bag offline (no workspace, no database). Without a pinned key or a
    pinned witness (vkey) the report fails as "unpinned" unless ``trust_bag_key``. An option
    that is not what it must be (``--trusted-key``, ``--witness-key``, ``--checkpoint``) is an
    :class:`InputError` naming it in ``field``."""
    saved = load_checkpoints(checkpoints)
    if trusted_key is not None:
        regular_file(trusted_key, field="--trusted-key")
    try:  # the verifier stops at a folder without bagit.txt; a name it cannot even look up
        if not path.exists():
            raise InputError("not found", file=str(path)[:200], rule="file-exists")
        (path / "bagit.txt").is_file()
    except OSError as err:  # (too long, a loop of links) is one line here
        raise InputError(f"cannot read: {err.strerror or err}", file=str(path)[:200],
                         rule="file-readable") from None
    with _evidence_errors():
        try:
            return _verify_bag(path, trusted_key=trusted_key, trusted_checkpoints=saved,
                               witness_keys=witness_keys, trust_bag_key=trust_bag_key)
        except BadOption as err:
            raise InputError(err.detail, file=str(trusted_key) if err.option == "--trusted-key"
                             else None, field=err.option, rule="evidence-option") from None
        except OSError as err:
            raise EvidenceFailed(f"{path}: cannot read the export: {err.strerror or err}"
                                 f"{f' ({err.filename})' if err.filename else ''}") from err


@dataclass(frozen=True)
class SignedCheckpoint:
    """A checkpoint just signed (with the cosignatures it has), and what the witnesses said:
    ``refused`` (a witness saw another history of this log: a rewrite or a fork) and
    ``unreachable`` (tried again with the next checkpoint), one line each."""

    checkpoint: Checkpoint
    refused: list[str] = field(default_factory=list)
    unreachable: list[str] = field(default_factory=list)
    #: the configured witnesses (claims.toml) whose valid cosignature the checkpoint carries
    witnessed_by: list[str] = field(default_factory=list)

    @property
    def cosignatures(self) -> int:
        """How many configured witnesses have cosigned this checkpoint (a stored line of a
        witness not in claims.toml does not count)."""
        return len(self.witnessed_by)

    def summary(self) -> str:
        """One line: size, root, time, key id and the configured witnesses' cosignatures."""
        cp = self.checkpoint
        return (f"checkpoint: {entry_count(cp.tree_size)}, root {cp.root_hash.hex()}, {cp.time}, "
                f"key id {cp.key_id}, {self.cosignatures} witness cosignature(s)")


def sign_checkpoint(ws: Workspace) -> SignedCheckpoint:
    """Sign a checkpoint of the log now (refused, as :class:`EvidenceFailed`, if the log is not
    consistent with what was signed before) and send it to the witnesses of ``[evidence]``."""
    with _evidence_errors():
        cp = ws.evidence.checkpoint()
        problems = list(ws.evidence.witness_problems)
        witnessed = ws.evidence.witnessed_by(cp)
    return SignedCheckpoint(cp, [str(p) for p in problems if isinstance(p, WitnessRefused)],
                            [str(p) for p in problems if not isinstance(p, WitnessRefused)],
                            witnessed)


def log_verifier_key(ws: Workspace) -> str:
    """The log's C2SP verifier key (vkey): give it to a witness (``--log``) or an auditor."""
    with _evidence_errors():
        return ws.evidence.verifier_key()


def _witness(state: Path, name: str | None, logs: Sequence[str] = ()) -> Witness:
    if state.exists() and not state.is_dir():  # "File exists" from mkdir named nothing useful
        raise InputError("is not a folder (the witness keeps its key and state in one)",
                         file=str(state), field="--state", rule="witness-state-folder")
    try:
        witness = Witness(state, name)
        witness.trust_logs(logs)
    except OSError as err:
        raise EvidenceFailed(f"witness state {state}: {err.strerror or err}") from err
    except ValueError as err:
        raise InputError(f"not a log verifier key: {err}", field="--log",
                         rule="evidence-vkey") from None
    return witness


def witness_verifier_key(state: Path, name: str | None = None) -> str:
    """The verifier key (vkey) of the witness kept in ``state`` (its key is made on first use):
    the ``public_key`` a workspace names in ``[[evidence.witnesses]]``, and an auditor's
    ``--witness-key``."""
    with _evidence_errors():
        return _witness(state, name).vkey


def witness_trust_logs(state: Path, logs: Sequence[str]) -> list[str]:
    """Add ``logs`` (log vkeys) to those the witness in ``state`` witnesses (a running witness
    reads them at its next request); returns the origins it witnesses now."""
    with _evidence_errors():
        return sorted(_witness(state, None, logs).trusted_logs())


def serve_witness(state: Path, *, port: int, host: str = "127.0.0.1", name: str | None = None,
                  logs: Sequence[str] = (), ready: Callable[[str, str], None] | None = None
                  ) -> None:
    """Run the witness kept in ``state`` on http://``host``:``port`` until interrupted, first
    adding ``logs`` (log vkeys) to the logs it witnesses. ``ready(url, vkey)`` is called once it
    listens."""
    with _evidence_errors():
        witness = _witness(state, name, logs)
        if not witness.trusted_logs():
            raise InputError(f"the witness in {state} witnesses no log yet: give --log VKEY (from "
                             "`claims evidence vkey` in the workspace)", field="--log",
                             rule="witness-logs")
        serve(witness, port, host=host,
              ready=None if ready is None else (lambda url: ready(url, witness.vkey)))
