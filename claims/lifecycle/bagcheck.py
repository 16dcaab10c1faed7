"""Is a built bundle still, byte for byte, the bag it was built as?

A bag is identified by its *bag digest*: the SHA-256 of its ``tagmanifest-sha256.txt``. That
file lists the SHA-256 of every tag file, among them ``manifest-sha256.txt``, which lists the
SHA-256 of every payload file. So a bag folder or its zip is the bag with digest D when its
tag manifest hashes to D, every file it lists hashes to what it says, and nothing else is in
it. :func:`bag_folder_problems` and :func:`bag_zip_problems` re-read every byte to tell; each
returns every difference found as one line (empty: the bag is intact).
"""

from __future__ import annotations

import hashlib
import zipfile
from collections.abc import Callable
from pathlib import Path

CHUNK = 1024 * 1024
TAGMANIFEST = "tagmanifest-sha256.txt"
MANIFEST = "manifest-sha256.txt"


def _hash_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _listing(text: bytes, where: str) -> dict[str, str]:
    """``sha  path`` lines as {path: sha}; a line that is not one raises ValueError."""
    out = {}
    for line in text.decode("utf-8").splitlines():
        sha, sep, rel = line.partition("  ")
        if not sep or len(sha) != 64 or not rel:
            raise ValueError(f"{where}: {line[:80]!r} is not 'SHA-256  path'")
        out[rel] = sha
    return out


def _expected_files(read: Callable[[str], bytes | None], bag_digest: str,
                    where: str) -> tuple[dict[str, str], list[str]]:
    """Every file the bag must hold, with its SHA-256, from its (checked) tag manifests."""
    tagmanifest = read(TAGMANIFEST)
    if tagmanifest is None:
        return {}, [f"{where}: {TAGMANIFEST} is missing"]
    if hashlib.sha256(tagmanifest).hexdigest() != bag_digest:
        return {}, [f"{where}: {TAGMANIFEST} is not the one built (bag digest "
                    f"{hashlib.sha256(tagmanifest).hexdigest()[:16]}…, recorded "
                    f"{bag_digest[:16]}…)"]
    try:
        tags = _listing(tagmanifest, f"{where}/{TAGMANIFEST}")
        manifest = read(MANIFEST)
        if manifest is None or hashlib.sha256(manifest).hexdigest() != tags.get(MANIFEST):
            return {}, [f"{where}/{MANIFEST}: changed or missing since the bag was built"]
        return tags | _listing(manifest, f"{where}/{MANIFEST}") | {TAGMANIFEST: bag_digest}, []
    except (ValueError, UnicodeDecodeError) as err:
        return {}, [str(err)]


def bag_folder_problems(folder: Path, bag_digest: str) -> list[str]:
    """Every way the bag folder differs from the bag with ``bag_digest`` (empty: intact)."""
    if not folder.is_dir():
        return [f"{folder}: the bag folder is missing"]

    def read(rel: str) -> bytes | None:
        path = folder / rel
        return path.read_bytes() if path.is_file() else None

    try:
        expected, problems = _expected_files(read, bag_digest, str(folder))
        if problems:
            return problems
        present = {p.relative_to(folder).as_posix() for p in folder.rglob("*")
                   if not p.is_dir()}
        out = [f"{folder}/{rel}: not part of the bag" for rel in sorted(present - set(expected))]
        for rel, sha in sorted(expected.items()):
            if rel not in present:
                out.append(f"{folder}/{rel}: missing")
            elif _hash_file(folder / rel) != sha:
                out.append(f"{folder}/{rel}: changed since the bag was built (SHA-256 differs)")
        return out
    except OSError as err:
        return [f"{folder}: cannot read the bag: {err.strerror or err}"]


def bag_zip_problems(zip_path: Path, name: str, bag_digest: str) -> list[str]:
    """Every way the zip differs from the bag with ``bag_digest`` under ``name/`` (empty:
    intact; CRCs are checked on the way)."""
    if not zip_path.is_file():
        return [f"{zip_path}: the zip is missing"]
    try:
        with zipfile.ZipFile(zip_path) as zf:
            entries = set(zf.namelist())

            def read(rel: str) -> bytes | None:
                arc = f"{name}/{rel}"
                return zf.read(arc) if arc in entries else None

            expected, problems = _expected_files(read, bag_digest, str(zip_path))
            if problems:
                return problems
            wanted = {f"{name}/{rel}": sha for rel, sha in expected.items()}
            out = [f"{zip_path}: {arc} is not part of the bag"
                   for arc in sorted(entries - set(wanted))]
            for arc, sha in sorted(wanted.items()):
                if arc not in entries:
                    out.append(f"{zip_path}: {arc} is missing")
                    continue
                digest = hashlib.sha256()
                with zf.open(arc) as fh:
                    while chunk := fh.read(CHUNK):
                        digest.update(chunk)
                if digest.hexdigest() != sha:
                    out.append(f"{zip_path}: {arc} changed since the bag was built")
            return out
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError) as err:
        return [f"{zip_path}: not an intact zip ({err})"]
    except OSError as err:
        return [f"{zip_path}: cannot read: {err.strerror or err}"]


def bundle_problems(zip_path: Path, bag_digest: str) -> list[str]:
    """The bag folder beside ``zip_path`` and the zip itself, against ``bag_digest``."""
    name = zip_path.name.removesuffix(".zip")
    return (bag_folder_problems(zip_path.with_name(name), bag_digest)
            + bag_zip_problems(zip_path, name, bag_digest))
