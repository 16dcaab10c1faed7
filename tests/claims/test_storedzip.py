"""The kernel-copying zip writer: the same bytes zipfile writes, and copies that are whole."""

import errno
import hashlib
import os
import threading
import zipfile
import zlib
from pathlib import Path

import pytest

from claims.lifecycle.bundle import _copy_into_bag_and_zip
from claims.lifecycle.storedzip import StoredZip, copy_range, start_writeback

EPOCH = (1980, 1, 1, 0, 0, 0)


def entry(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=EPOCH)
    info.external_attr = 0o100644 << 16
    info.create_system = 3
    return info


TAGS = {"bag/bagit.txt": b"BagIt-Version: 1.0\n", "bag/data/claim.json": b"{}\n" * 40}
FILES = {"bag/data/documents/01-invoice.pdf": os.urandom(1_500_000) + b"%%EOF\n",
         "bag/data/documents/02-r\u00e9sum\u00e9.pdf": b"%PDF-1.7 tiny",
         "bag/data/documents/03-empty.pdf": b""}


def test_the_zip_is_byte_for_byte_what_zipfile_writes(tmp_path: Path) -> None:
    ref = tmp_path / "ref.zip"
    with zipfile.ZipFile(ref, "w", compression=zipfile.ZIP_STORED) as zf:
        for name, data in TAGS.items():
            zf.writestr(entry(name), data)
        for name, data in FILES.items():
            with zf.open(entry(name), "w", force_zip64=True) as out:
                out.write(data)
    ours = tmp_path / "ours.zip"
    with ours.open("xb") as out:
        zw = StoredZip(out)
        for name, data in TAGS.items():
            zw.add_bytes(entry(name), data)
        for i, (name, data) in enumerate(FILES.items()):
            src = tmp_path / f"src{i}"
            src.write_bytes(data)
            with src.open("rb") as fh:
                zw.add_file(entry(name), fh.fileno(), len(data), zlib.crc32(data))
        zw.close()
    assert ours.read_bytes() == ref.read_bytes()
    with zipfile.ZipFile(ours) as zf:
        assert zf.testzip() is None
        assert {n: zf.read(n) for n in zf.namelist()} == TAGS | FILES


def test_copy_range_copies_into_a_pipe_and_refuses_a_short_source(tmp_path: Path) -> None:
    src = tmp_path / "src"
    data = os.urandom(300_000)
    src.write_bytes(data)
    read_fd, write_fd = os.pipe()   # not a file: copy_file_range refuses, sendfile takes over
    got = bytearray()
    reader = threading.Thread(target=lambda: got.extend(iter_pipe(read_fd)))
    reader.start()
    with src.open("rb") as fh:
        copy_range(fh.fileno(), write_fd, len(data) - 1000, offset=1000)
    os.close(write_fd)
    reader.join(timeout=10)
    os.close(read_fd)
    assert bytes(got) == data[1000:]
    with src.open("rb") as fh, (tmp_path / "dst").open("wb") as out:
        with pytest.raises(OSError) as err:
            copy_range(fh.fileno(), out.fileno(), len(data) + 1)
    assert err.value.errno == errno.EIO


def iter_pipe(fd: int) -> bytes:
    chunks = []
    while chunk := os.read(fd, 65536):
        chunks.append(chunk)
    return b"".join(chunks)


class WrittenToMeanwhile:
    """An evidence sink (a real file) whose flush, called between the copies, stands for
    another process writing to the stored document at that moment (it changes its ctime)."""

    def __init__(self, path: Path, src: Path) -> None:
        self.fh = path.open("wb")
        self.src = src

    def flush(self) -> None:
        self.src.chmod(0o600)
        self.src.chmod(0o400)

    def fileno(self) -> int:
        return self.fh.fileno()


def test_a_stored_document_written_to_during_the_copies_fails_the_build(tmp_path: Path) -> None:
    data = os.urandom(200_000)
    src = tmp_path / "stored.pdf"
    src.write_bytes(data)
    src.chmod(0o400)
    sink = WrittenToMeanwhile(tmp_path / "blob", src)
    sha = hashlib.sha256(data).hexdigest()
    with (tmp_path / "z.zip").open("xb") as out:
        with pytest.raises(OSError, match="written to while it was copied"):
            _copy_into_bag_and_zip(StoredZip(out), "b/x.pdf", src, tmp_path / "copy.pdf",
                                   sink, sha)  # type: ignore[arg-type]
    sink.fh.close()
    # untouched, the same call copies it whole
    with (tmp_path / "z2.zip").open("xb") as out:
        assert _copy_into_bag_and_zip(StoredZip(out), "b/x.pdf", src, tmp_path / "copy2.pdf",
                                      None, sha) == sha
    assert (tmp_path / "copy2.pdf").read_bytes() == data


def test_start_writeback_is_a_hint_that_changes_no_bytes_and_never_raises(tmp_path: Path):
    path = tmp_path / "f.bin"
    data = os.urandom(3 * 1024 * 1024)
    with path.open("wb") as out:
        out.write(data)
        out.flush()
        start_writeback(out.fileno())
    assert path.read_bytes() == data
    read_end, write_end = os.pipe()   # not a file: the kernel refuses, the hint stays silent
    try:
        start_writeback(write_end)
    finally:
        os.close(read_end)
        os.close(write_end)
