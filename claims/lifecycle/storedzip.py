"""A write-only ZIP of STORED entries whose file data the kernel copies.

:mod:`zipfile` pushes every byte through Python (``write`` from a user buffer, a CRC on the
way). A bundle's documents are checked first anyway (one read: SHA-256 and CRC-32), so their
bytes can then go from the stored file into the zip, the bag folder and the evidence blob by
:func:`copy_range` (``copy_file_range(2)``, else ``sendfile(2)``, else read and write): same
bytes, about a fifth of the CPU on Linux.

The archive is byte-for-byte what :class:`zipfile.ZipFile` writes for the same
:class:`zipfile.ZipInfo` entries (``writestr`` for bytes, ``open(…, "w", force_zip64=…)`` for
files), central directory and ZIP64 records included (a test compares the two).
"""

from __future__ import annotations

import ctypes
import errno
import os
import struct
import zipfile
import zlib
from typing import Any, BinaryIO

CHUNK = 1024 * 1024
ZIP64_LIMIT = (1 << 31) - 1   # as zipfile: past this a size or offset needs ZIP64
FILECOUNT_LIMIT = (1 << 16) - 1
ZIP64_VERSION = 45
_CENTRAL = struct.Struct("<4s4B4HL2L5H2L")
_END = struct.Struct("<4s4H2LH")
_END64 = struct.Struct("<4sQ2H2L4Q")
_LOCATOR64 = struct.Struct("<4sLQL")
#: errors after which copy_file_range is not the way for these two files (other filesystems,
#: a kernel or filesystem without it): sendfile, then read/write, take over
_NOT_HERE = {errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.EBADF,
             errno.EPERM}


def copy_range(src: int, dst: int, size: int, offset: int = 0) -> None:
    """Copy ``size`` bytes of the file ``src`` from ``offset`` to ``dst`` at its position (file
    descriptors), in the kernel where it can. Raises OSError (``EIO`` when ``src`` ends early)."""
    done = 0
    use_cfr = use_sendfile = True
    while done < size:
        want = min(size - done, 1 << 30)
        n = -1
        if use_cfr:
            try:
                n = os.copy_file_range(src, dst, want, offset + done)
            except OSError as err:
                if err.errno not in _NOT_HERE:
                    raise
                use_cfr = False
        if n < 0 and use_sendfile:
            try:
                n = os.sendfile(dst, src, offset + done, want)
            except OSError as err:
                if err.errno not in _NOT_HERE:
                    raise
                use_sendfile = False
        if n < 0:
            data = os.pread(src, min(want, CHUNK), offset + done)
            n = len(data)
            view = memoryview(data)
            while view:
                view = view[os.write(dst, view):]
        if n == 0:
            raise OSError(errno.EIO, f"the file ended after {done} of {size} bytes")
        done += n


def _sync_file_range() -> Any:
    try:
        fn = ctypes.CDLL(None, use_errno=True).sync_file_range
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    return fn


_SYNC_FILE_RANGE = _sync_file_range()
_SYNC_FILE_RANGE_WRITE = 2


def start_writeback(fd: int) -> None:
    """Ask the kernel to start writing the file ``fd``'s dirty pages to disk now, without
    waiting (Linux ``sync_file_range(SYNC_FILE_RANGE_WRITE)``): the disk works while the next
    files are prepared, and the flush that makes them durable has less left to wait for. A
    hint only: it promises nothing (the flush does) and is skipped where it is missing."""
    if _SYNC_FILE_RANGE is not None:
        _SYNC_FILE_RANGE(fd, 0, 0, _SYNC_FILE_RANGE_WRITE)


class StoredZip:
    """Entries appended in order to ``out`` (a new file opened unbuffered), then
    :meth:`close` writes the central directory."""

    def __init__(self, out: BinaryIO) -> None:
        self.out = out
        self.entries: list[zipfile.ZipInfo] = []

    def _header(self, info: zipfile.ZipInfo, crc: int, size: int, zip64: bool) -> None:
        info.flag_bits, info.compress_type = 0, zipfile.ZIP_STORED
        info.CRC, info.file_size, info.compress_size = crc, size, size
        info.header_offset = self.out.tell()
        if size > ZIP64_LIMIT and not zip64:
            raise zipfile.LargeZipFile("File size too large, try using force_zip64")
        self.out.write(info.FileHeader(zip64))
        self.entries.append(info)

    def add_bytes(self, info: zipfile.ZipInfo, data: bytes) -> None:
        """As ``ZipFile.writestr(info, data)`` with ZIP_STORED."""
        self._header(info, zlib.crc32(data), len(data), len(data) * 1.05 > ZIP64_LIMIT)
        self.out.write(data)

    def add_file(self, info: zipfile.ZipInfo, src: int, size: int, crc: int, *,
                 force_zip64: bool = True) -> None:
        """As ``ZipFile.open(info, "w", force_zip64=…)`` fed the ``size`` bytes of the file
        descriptor ``src`` (from offset 0), whose CRC-32 the caller computed: copied by
        :func:`copy_range`."""
        self._header(info, crc, size, force_zip64 or size * 1.05 > ZIP64_LIMIT)
        self.out.flush()
        copy_range(src, self.out.fileno(), size)
        start_writeback(self.out.fileno())
        self.out.seek(0, os.SEEK_END)

    def _central_entry(self, info: zipfile.ZipInfo) -> bytes:
        dt = info.date_time
        dosdate = (dt[0] - 1980) << 9 | dt[1] << 5 | dt[2]
        dostime = dt[3] << 11 | dt[4] << 5 | (dt[5] // 2)
        extra: list[int] = []
        size = info.file_size
        if size > ZIP64_LIMIT:
            extra += [size, size]
            size = 0xFFFFFFFF
        offset = info.header_offset
        if offset > ZIP64_LIMIT:
            extra.append(offset)
            offset = 0xFFFFFFFF
        extra_data, min_version = info.extra, 0
        if extra:
            extra_data = struct.pack("<HH" + "Q" * len(extra), 1, 8 * len(extra), *extra)
            min_version = ZIP64_VERSION
        try:
            name, flags = info.filename.encode("ascii"), info.flag_bits
        except UnicodeEncodeError:
            name, flags = info.filename.encode("utf-8"), info.flag_bits | 0x800
        return _CENTRAL.pack(
            b"PK\x01\x02", max(min_version, info.create_version), info.create_system,
            max(min_version, info.extract_version), info.reserved, flags, info.compress_type,
            dostime, dosdate, info.CRC, size, size, len(name), len(extra_data),
            len(info.comment), 0, info.internal_attr, info.external_attr,
            offset) + name + extra_data + info.comment

    def close(self) -> None:
        """Write the central directory and end records (ZIP64 ones when needed)."""
        start = self.out.tell()
        self.out.write(b"".join(self._central_entry(i) for i in self.entries))
        end = self.out.tell()
        count, size, offset = len(self.entries), end - start, start
        if count > FILECOUNT_LIMIT or offset > ZIP64_LIMIT or size > ZIP64_LIMIT:
            self.out.write(_END64.pack(b"PK\x06\x06", 44, 45, 45, 0, 0, count, count,
                                       size, offset))
            self.out.write(_LOCATOR64.pack(b"PK\x06\x07", 0, end, 1))
            count, size, offset = (min(count, 0xFFFF), min(size, 0xFFFFFFFF),
                                   min(offset, 0xFFFFFFFF))
        self.out.write(_END.pack(b"PK\x05\x06", 0, 0, count, count, size, offset, 0))
        self.out.flush()
