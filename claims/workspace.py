"""The workspace: a folder with ``claims.toml``, the database, documents, bundles and evidence.

Found from ``--workspace DIR``, else ``CLAIMS_WORKSPACE``, else the current folder.
"""

from __future__ import annotations

import copy
import functools
import getpass
import os
from collections.abc import Callable, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import tomli_w
from sqlalchemy import Connection

from claims.errors import EvidenceFailed, InputError, WorkspaceError
from evidence import (
    BlobBatch, Entry, EvidenceArchive, EvidenceError, Record, Staged, init_keys,
)
from claims.settings import Settings, load_settings
from claims.store import Store
from claims.store.engine import parse_url, resolve_url

CONFIG_NAME = "claims.toml"

DEFAULT_CONFIG = {
    "database": {"url": "sqlite:///claims.db"},
    "browser": {"executable": "", "headless": True, "ws_endpoint": ""},
    "portals": {
        "sandbox": {
            "url": "http://127.0.0.1:8765",
            "username": "supplier",
            "password": {"env": "CLAIMS_SANDBOX_PASSWORD"},
            "totp_secret": {"env": "CLAIMS_SANDBOX_TOTP"},
        }
    },
}


@functools.cache
def os_user() -> str:
    """The OS user this process runs as, looked up once (``getpass.getuser`` reads the password
    database when no LOGNAME/USER is set, and the actor is asked for at every claim event)."""
    return getpass.getuser()


class Workspace:
    """One specialist's (or one team's) Claimwright folder."""

    def __init__(self, root: Path) -> None:
        make_private()  # whatever this process writes for the workspace is its owner's only
        self.root = root.resolve()
        self.config_path = self.root / CONFIG_NAME
        if not self.config_path.is_file():
            raise WorkspaceError(
                f"{self.root} is not a Claimwright workspace (no {CONFIG_NAME}); "
                f"run `claims init {self.root}` or pass --workspace")

    @cached_property
    def settings(self) -> Settings:
        return load_settings(self.config_path)

    @cached_property
    def store(self) -> Store:
        return Store.open(self.database_url)

    @property
    def database_url(self) -> str:
        return resolve_url(self.settings.database.url, self.root)

    _acting_as: str | None = None

    @property
    def actor(self) -> str:
        """Who acts: the person this view acts as, else ``actor`` of the settings
        (``CLAIMS_ACTOR``), else the OS user."""
        return self._acting_as or self.settings.actor or os_user()

    def acting_as(self, actor: str) -> Workspace:
        """This workspace as ``actor`` sees it: the same settings, store and evidence archive,
        with ``actor`` recorded in claim history and evidence. Seal it with :meth:`seal`."""
        _ = self.settings, self.store, self.evidence  # shared by every view, made once
        view = copy.copy(self)
        view._acting_as = actor
        view._evidence_recorded = False
        return view

    @property
    def documents_dir(self) -> Path:
        return self.root / "documents"

    @property
    def bundles_dir(self) -> Path:
        return self.root / "bundles"

    @property
    def evidence_dir(self) -> Path:
        return self.root / "evidence"

    def own_files(self) -> list[Path]:
        """What the workspace keeps and no output may replace: its settings, its SQLite
        database (and that file's journals), the documents, bundles and evidence (with the
        blobs folder and signing key wherever the settings put them)."""
        conf = self.settings.evidence
        own = [self.config_path, self.documents_dir, self.bundles_dir, self.evidence_dir]
        own += [p for p in (self._in_root(conf.blobs_dir), self._in_root(conf.key_file)) if p]
        database = self._database_file()
        return own + [database] if database is not None else own

    def _database_file(self) -> Path | None:
        """The SQLite database's file, if the store is one."""
        url = parse_url(self.database_url)
        if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
            return Path(str(url.database)).resolve()
        return None

    def refuse_own_file(self, path: Path, *, field: str = "--out") -> None:
        """Refuse ``path`` as an output when writing it would replace one of
        :meth:`own_files` (``--out claims.toml`` once wrote a workbook over the settings), or
        one of the database's journals (``claims.db-wal``)."""
        target = path.expanduser().resolve()
        database = self._database_file()
        for own in self.own_files():
            journal = (own == database and target.parent == own.parent
                       and target.name.startswith(own.name + "-"))
            if target == own or own in target.parents or journal:
                where = "is" if target == own or journal else "is inside"
                raise InputError(f"{where} the workspace's own {own.name}; name another file",
                                 file=str(path), field=field, rule="not-a-workspace-file")

    def _in_root(self, path: str) -> Path | None:
        return (self.root / Path(path).expanduser()).resolve() if path else None

    @cached_property
    def evidence(self) -> EvidenceArchive:
        """The evidence archive: blobs in ``evidence/`` (or ``[evidence] blobs_dir``), the
        ledger in the database (its tables come from the store's migrations, revision
        ``evidence_0001``), the signing key in ``evidence/keys`` (or ``key_file``), each new
        checkpoint sent to the configured witnesses."""
        conf = self.settings.evidence
        return EvidenceArchive.open(self.evidence_dir, self.store.engine, create_tables=False,
                                    witnesses=[w.endpoint() for w in conf.witnesses],
                                    blobs_dir=self._in_root(conf.blobs_dir),
                                    key_file=self._in_root(conf.key_file))

    def record_evidence(self, *, kind: str, claim: str | None, metadata: dict[str, Any],
                        files: dict[str, Path | bytes | Staged] | None = None,
                        batch: BlobBatch | None = None,
                        within: Callable[[Connection], Any] | None = None) -> Entry:
        """Append one evidence event (with its files as blobs); returns the ledger entry.

        The files are written as one batch (``batch``, if the caller staged some already)
        made durable by one flush before the entry is committed. ``within(conn)`` is a write
        committed in the entry's own transaction (see :meth:`EvidenceArchive.record`).

        The one place ``claims`` writes evidence (:meth:`record_evidence_many` is it for
        several events). Metadata must carry no secrets: the archive refuses keys that look
        like one. :meth:`close` signs a checkpoint over what was recorded.
        """
        return self.record_evidence_many([(kind, claim, metadata, files, batch)],
                                         within=within)[0]

    def record_evidence_many(self, events: Sequence[tuple[
            str, str | None, dict[str, Any], dict[str, Path | bytes | Staged] | None,
            BlobBatch | None]], *,
            within: Callable[[Connection], Any] | None = None) -> list[Entry]:
        """Append several evidence events, each (kind, claim, metadata, files, batch) as
        :meth:`record_evidence` takes them, in one ledger transaction: all or none (their blobs
        made durable by one flush). Returns the entries in order."""
        kinds = ", ".join(sorted({e[0] for e in events}))
        try:
            entries = self.evidence.record_many([
                Record(kind, claim, self.actor, metadata, files or {}, batch)
                for kind, claim, metadata, files, batch in events], within=within)
        except EvidenceError as err:
            raise EvidenceFailed(f"evidence not recorded ({kinds}): {err}") from err
        except OSError as err:  # a full disk, a read-only folder: one line, not a traceback
            raise EvidenceFailed(f"evidence not recorded ({kinds}): {err.strerror or err}"
                                 f"{f' ({err.filename})' if err.filename else ''}") from err
        self._evidence_recorded = True
        return entries

    def evidence_batch(self) -> BlobBatch:
        """A batch for one record's evidence blobs (see :meth:`record_evidence`)."""
        try:
            return self.evidence.blob_batch()
        except (EvidenceError, OSError) as err:
            raise EvidenceFailed(f"evidence archive unavailable: {err}") from err

    def reload_settings(self) -> Settings:
        """Read ``claims.toml`` again (after it was edited in this process)."""
        self.__dict__.pop("settings", None)
        return self.settings

    _evidence_recorded = False

    def seal(self) -> bool:
        """Sign a checkpoint over what this session (or view) recorded, if anything; returns
        whether one was signed."""
        if not self._evidence_recorded:
            return False
        self.evidence.checkpoint()
        self._evidence_recorded = False
        return True

    def close(self) -> None:
        """Seal what this session recorded in the evidence log (a signed checkpoint), then
        release the database."""
        self.seal()
        if "store" in self.__dict__:
            self.store.close()


def make_private() -> None:
    """From now on this process creates files and folders for their owner only (umask 077):
    the database, documents, bundles, the outbox and keys are private to the workspace owner."""
    os.umask(0o077)


def find_workspace(explicit: str | os.PathLike[str] | None = None) -> Workspace:
    """The workspace from ``explicit``, else ``CLAIMS_WORKSPACE``, else the current folder."""
    chosen = explicit or os.environ.get("CLAIMS_WORKSPACE") or os.getcwd()
    return Workspace(Path(chosen))


def init_workspace(root: Path, *, database_url: str | None = None) -> Workspace:
    """Create a workspace in ``root`` (created if missing); refuses to overwrite one."""
    try:
        root = root.resolve()
        exists, is_config = root.exists(), (root / CONFIG_NAME).exists()
    except OSError as err:  # a name too long, a loop of links
        raise WorkspaceError(f"cannot use {str(root)[:200]} as a workspace folder: "
                             f"{err.strerror or err}") from None
    if is_config:
        raise WorkspaceError(f"{root / CONFIG_NAME} exists already; refusing to overwrite it")
    if exists and not root.is_dir():
        raise WorkspaceError(f"{root} exists and is not a folder")
    if database_url:
        parse_url(database_url)  # a URL that is not one is refused before anything is made
    make_private()
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise WorkspaceError(f"cannot make the workspace folder {root}: "
                             f"{err.strerror or err}") from None
    root.chmod(0o700)  # contact e-mails, IBANs, documents and keys: the owner's only
    for sub in ("documents", "bundles", "evidence"):
        (root / sub).mkdir(mode=0o700, exist_ok=True)
    config = dict(DEFAULT_CONFIG)
    if database_url:
        config["database"] = {"url": database_url}
    tmp = root / f".{CONFIG_NAME}.tmp"
    tmp.write_bytes(tomli_w.dumps(config).encode())
    tmp.replace(root / CONFIG_NAME)
    init_keys(root / "evidence")  # the Ed25519 key that signs evidence checkpoints
    ws = Workspace(root)
    _ = ws.store  # create and migrate the database now, so a broken URL fails at init
    return ws
