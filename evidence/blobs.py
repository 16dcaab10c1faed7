"""Content-addressed, write-once blob store: ``<evidence_dir>/blobs/ab/cdef…`` named by SHA-256.

A blob is streamed (1 MiB chunks) into a temporary file in the store, hashed on the way, made
read-only (0444) and hard-linked under its digest; if that name exists the bytes are already stored
and the copy is dropped. Nothing is ever overwritten or deleted.

A record's blobs are stored before its ledger entry is appended. So that a record cut short
(a killed process) is told apart from a file added behind the archive's back, each record keeps
a journal in ``.pending/`` naming every digest *before* it is linked in; the journal is removed
once the ledger entry is committed (:meth:`BlobStore.journal`, :meth:`BlobStore.pending`).
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from evidence.errors import BlobError, BlobNotFound
from evidence.verifier_core import open_regular

CHUNK = 1 << 20  # 1 MiB


def copy_hashing(source: str | os.PathLike[str], out: BinaryIO) -> tuple[Any, int]:
    """Copy the file ``source`` into ``out`` in chunks: its SHA-256 (a hashlib object) and
    size, read once. A file that cannot be opened is a :class:`BlobError` naming it."""
    h, size = hashlib.sha256(), 0
    try:
        src = open(source, "rb")  # noqa: SIM115 (closed below)
    except OSError as err:
        raise BlobError(f"cannot read {source}: {err.strerror}", path=Path(source)) from err
    with src:
        while chunk := src.read(CHUNK):
            h.update(chunk)
            out.write(chunk)
            size += len(chunk)
    return h, size
PENDING = ".pending"
DIGEST_RE = re.compile(r"^[0-9a-f]{64}$")


def hash_file(path: Path, buffer: bytearray | None = None) -> tuple[str, int]:
    """Return (SHA-256 hex, size) of a file, streamed through a reused 1 MiB buffer."""
    buf = buffer if buffer is not None else bytearray(CHUNK)
    view = memoryview(buf)
    h = hashlib.sha256()
    size = 0
    with open_regular(path) as f:  # a FIFO or a symbolic link put in the store: refused
        while n := f.readinto(view):
            h.update(view[:n])
            size += n
    return h.hexdigest(), size


class BlobStore:
    """The blob store under ``root`` (``<evidence_dir>/blobs``)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path(self, digest: str) -> Path:
        """Where the blob ``digest`` lives (whether or not it exists)."""
        if not DIGEST_RE.match(digest):
            raise BlobError(f"{digest!r} is not a SHA-256 hex digest", digest=digest)
        return self.root / digest[:2] / digest[2:]

    def journal(self) -> Path:
        """A new journal for one record's blobs (see :meth:`put`); delete it when committed."""
        path = self.root / PENDING / uuid.uuid4().hex
        try:  # one create; the folder is made only when it is missing (once per store)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileNotFoundError:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        os.close(fd)
        return path

    def pending(self) -> set[str]:
        """Digests named by journals still present: blobs of records not (yet) committed."""
        folder = self.root / PENDING
        if not folder.is_dir():
            return set()
        return {line.strip() for path in folder.iterdir() if path.is_file()
                for line in path.read_text(encoding="ascii", errors="replace").splitlines()
                if DIGEST_RE.match(line.strip())}

    def put(self, source: Path | bytes, journal: Path | None = None) -> tuple[str, int]:
        """Store ``source`` (a file path or bytes) once; return its (SHA-256 hex, size).

        With ``journal``, the digest is appended to it before the blob is linked in."""
        tmp_dir = self.root / ".tmp"
        tmp_dir.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=tmp_dir, prefix="blob-")
        tmp = Path(tmp_name)
        try:
            h = hashlib.sha256()
            size = 0
            with os.fdopen(fd, "wb") as out:
                if isinstance(source, bytes):
                    h.update(source)
                    out.write(source)
                    size = len(source)
                else:
                    h, size = copy_hashing(source, out)
                out.flush()
                os.fsync(out.fileno())
            digest = h.hexdigest()
            tmp.chmod(0o400)  # read-only; private to the archive owner
            final = self.path(digest)
            if journal is not None:
                with open(journal, "a", encoding="ascii") as j:
                    j.write(digest + "\n")
            final.parent.mkdir(exist_ok=True)
            try:
                # link, not rename: it fails instead of replacing when the blob exists (write-once)
                os.link(tmp, final)
            except FileExistsError:
                pass  # the same bytes are stored already
            return digest, size
        finally:
            tmp.unlink(missing_ok=True)

    def open(self, digest: str) -> BinaryIO:
        """Open the blob ``digest`` for reading."""
        path = self.path(digest)
        try:
            return open(path, "rb")  # noqa: SIM115 (the caller closes it)
        except FileNotFoundError as err:
            raise BlobNotFound(digest, path) from err

    def read(self, digest: str) -> bytes:
        """The bytes of blob ``digest`` (small blobs; stream big ones with :meth:`open`)."""
        with self.open(digest) as f:
            return f.read()

    def files(self) -> Iterator[tuple[str | None, Path]]:
        """Every file in the store (temporary files aside) with its digest, or None for a file
        whose path is not a digest."""
        if not self.root.is_dir():
            return
        for top in sorted(self.root.iterdir()):
            if top.name in (".tmp", PENDING):
                continue
            if not top.is_dir():
                yield None, top
                continue
            for f in sorted(top.iterdir()):
                digest = top.name + f.name
                ok = len(top.name) == 2 and DIGEST_RE.match(digest) and f.is_file()
                yield (digest if ok else None), f
