"""One record's blobs, written together and made durable with one flush.

:meth:`BlobStore.put` fsyncs every blob on its own: a record of ten files costs ten journal
commits. A :class:`BlobBatch` writes its blobs into the store's ``.tmp/`` folder without
syncing, then :meth:`BlobBatch.flush` makes all of them (and any other files the caller names,
such as a bundle's zip) durable at once: one ``syncfs(2)`` per filesystem on Linux (for three
files or more; fewer are fsynced), one ``fsync`` per file elsewhere. :meth:`BlobBatch.commit`
then journals the digests and links the blobs under their names, exactly as
:meth:`BlobStore.put` does, so the ledger entry that names them is only ever committed after
its blobs are on disk.

A blob whose digest is known and already stored is not written again. A caller that streams
bytes it hashes itself (``sink``) vouches for the digest it gives; ``claims evidence verify``
re-hashes every blob, so a wrong one would be reported, never trusted.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from evidence.blobs import BlobStore, copy_hashing
from evidence.errors import BlobError


@dataclass(frozen=True)
class Staged:
    """A blob of a batch: its digest and size (its bytes are in the batch or the store)."""

    digest: str
    size: int


def _syncfs() -> Any:
    try:
        return ctypes.CDLL(None, use_errno=True).syncfs
    except (OSError, AttributeError):
        return None


_SYNCFS = _syncfs()


#: From this many files on one filesystem, one ``syncfs`` is cheaper than an ``fsync`` each.
SYNCFS_FROM = 3


def flush_files(paths: Iterable[Path]) -> None:
    """Make the written bytes (and names) of ``paths`` durable: one ``syncfs`` per filesystem
    holding at least :data:`SYNCFS_FROM` of them where the C library has it (Linux), else one
    ``fsync`` per file. Raises :class:`OSError`."""
    by_device: dict[int, list[Path]] = {}
    for path in paths:
        by_device.setdefault(os.stat(path).st_dev, []).append(path)
    for group in by_device.values():
        one_call = _SYNCFS is not None and len(group) >= SYNCFS_FROM
        for path in group[:1] if one_call else group:
            fd = os.open(path, os.O_RDONLY)
            try:
                if not one_call:
                    os.fsync(fd)
                elif _SYNCFS(fd) != 0:  # type: ignore[misc]
                    err = ctypes.get_errno()
                    raise OSError(err, os.strerror(err), str(path))
            finally:
                os.close(fd)


def _link_once(tmp: Path, final: Path) -> None:
    """Link ``tmp`` as ``final``, making its folder only when the link finds it missing (not
    a mkdir per blob). Raises FileExistsError when ``final`` exists."""
    try:
        os.link(tmp, final)
    except FileNotFoundError:
        if not tmp.exists():
            raise
        final.parent.mkdir(exist_ok=True)
        os.link(tmp, final)


class BlobBatch:
    """Blobs for one record: staged unsynced, flushed once, then linked into ``store``."""

    def __init__(self, store: BlobStore) -> None:
        self.store = store
        self._tmp: dict[str, Path] = {}   # digest → staged file, not yet linked
        self._flushed = False

    def __enter__(self) -> BlobBatch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.discard()

    def stored(self, digest: str) -> bool:
        """Whether ``digest`` is in the store already (or staged in this batch)."""
        return digest in self._tmp or self.store.path(digest).is_file()

    def _new_tmp(self) -> tuple[int, Path]:
        tmp_dir = self.store.root / ".tmp"
        try:
            fd, name = tempfile.mkstemp(dir=tmp_dir, prefix="blob-")
        except FileNotFoundError:  # the first blob: make the folder (once, not per blob)
            tmp_dir.mkdir(parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(dir=tmp_dir, prefix="blob-")
        return fd, Path(name)

    @contextmanager
    def sink(self, digest: str, size: int) -> Iterator[BinaryIO | None]:
        """A file to stream a blob into, whose ``digest`` and ``size`` the caller checks as it
        writes (raising inside the block drops it); None when that blob is stored already or
        no staging file can be made (then :meth:`stored` stays false: record it otherwise)."""
        if self.stored(digest):
            yield None
            return
        try:
            fd, tmp = self._new_tmp()
        except OSError:  # not staged; the caller's own copy still goes on
            yield None
            return
        try:
            with os.fdopen(fd, "wb") as out:
                yield out
            if tmp.stat().st_size != size:
                raise BlobError(f"staged blob is {tmp.stat().st_size} bytes, not {size}",
                                digest=digest)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        self._keep(digest, tmp)

    def add(self, source: Path | bytes) -> Staged:
        """Stage ``source`` (a file or bytes), hashing it once; returns its digest and size."""
        if isinstance(source, bytes):
            digest = hashlib.sha256(source).hexdigest()
            if not self.stored(digest):
                fd, tmp = self._new_tmp()
                with os.fdopen(fd, "wb") as out:
                    out.write(source)
                self._keep(digest, tmp)
            return Staged(digest, len(source))
        fd, tmp = self._new_tmp()
        try:
            with os.fdopen(fd, "wb") as out:
                h, size = copy_hashing(source, out)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        digest = h.hexdigest()
        if self.stored(digest):
            tmp.unlink()
        else:
            self._keep(digest, tmp)
        return Staged(digest, size)

    def _keep(self, digest: str, tmp: Path) -> None:
        self.store.path(digest)  # a digest that is not one is refused here
        tmp.chmod(0o400)  # read-only; private to the archive owner
        self._tmp[digest] = tmp
        self._flushed = False

    def flush(self, also: Iterable[Path] = ()) -> None:
        """Make every staged blob, and the files ``also`` names, durable (one flush)."""
        extra = list(also)
        if extra or not self._flushed:
            flush_files([*self._tmp.values(), *extra])
        self._flushed = True

    def due(self) -> list[Path]:
        """The staged files not yet made durable (empty once flushed)."""
        return [] if self._flushed else list(self._tmp.values())

    def mark_flushed(self) -> None:
        """Record that the caller made :meth:`due` durable (see :func:`flush_batches`)."""
        self._flushed = True

    def commit(self, journal: Callable[[], Path] | None = None) -> Path | None:
        """Flush (if not done yet), name every staged digest in a new journal (from
        ``journal``, e.g. :meth:`BlobStore.journal`), then link the blobs under their digests
        (write-once: an existing blob is kept). Returns the journal, to remove once the entry
        naming the blobs is committed (None when nothing was staged)."""
        if not self._tmp:
            return None
        if not self._flushed:
            self.flush()
        path = journal() if journal is not None else None
        if path is not None:
            with open(path, "a", encoding="ascii") as j:
                j.write("".join(d + "\n" for d in self._tmp))
        for digest, tmp in list(self._tmp.items()):
            final = self.store.path(digest)
            try:
                _link_once(tmp, final)
            except FileExistsError:
                pass  # the same bytes are stored already
            tmp.unlink(missing_ok=True)
            del self._tmp[digest]
        return path

    def discard(self) -> None:
        """Remove whatever is staged and not committed."""
        for tmp in self._tmp.values():
            tmp.unlink(missing_ok=True)
        self._tmp.clear()


def flush_batches(batches: Iterable[BlobBatch], also: Iterable[Path] = ()) -> None:
    """Make the staged blobs of every batch in ``batches``, and the files ``also`` names,
    durable with one flush (:func:`flush_files`: one ``syncfs`` per filesystem on Linux), then
    mark each batch flushed, so that its :meth:`~BlobBatch.commit` does not flush again.
    Nothing is marked when the flush raises :class:`OSError`."""
    batches = list(batches)
    files = [path for batch in batches for path in batch.due()] + list(also)
    if files:
        flush_files(files)
    for batch in batches:
        batch.mark_flushed()
