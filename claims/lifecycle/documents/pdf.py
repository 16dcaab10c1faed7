"""Inspect supporting documents safely and fast.

Everything here reads files that came from outside (a specialist's downloads folder, a
supplier's e-mail), so nothing trusts the file name or the file:

- :func:`sniff_media_type` decides the type from the first bytes, never the extension;
- :func:`hash_file` streams the file, so memory does not grow with its size;
- :func:`inspect_pdf` opens a PDF with pypdf *from an open file object* (given a path, pypdf
  reads the whole file into memory), never raises for a bad file, and reports what is wrong as
  :class:`PdfProblem` values. It also finds needles (invoice numbers, amounts) per page and
  labelled dates ("Expiry Date: 2027-03-31") that validation checks against the contract, with
  the matching rules of :mod:`claims.lifecycle.documents.text`.

Memory stays bounded for any input: structural damage is detected from the tail of the file
first, and pypdf's repair path (which reads the whole file at once) is only allowed for small
files; any single read pypdf asks for above :data:`MAX_SINGLE_READ` becomes a problem instead.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import re
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, cast

from claims.lifecycle.documents.settings import TextBudget
from claims.lifecycle.documents.sniff import (
    MEDIA_DESCRIPTIONS, EMPTY, OCTET_STREAM, PDF, sniff_media_type,
)
from claims.lifecycle.documents.text import find_labelled_dates, needle_pattern, normalise_text

if TYPE_CHECKING:
    from pypdf import PdfReader

__all__ = [
    "MAX_SINGLE_READ",
    "PdfInspection",
    "PdfProblem",
    "PdfProblemCode",
    "hash_file",
    "inspect_pdf",
    "sniff_media_type",
]

_HASH_CHUNK = 1024 * 1024
_TAIL_BYTES = 4096
# pypdf's xref repair reads the whole file in one go; allow it only for files this small.
MAX_REPAIR_SIZE = 64 * 1024 * 1024
# Largest single read pypdf may make through our file wrapper (page content streams are far
# smaller; a request above this means repair of a big damaged file or a hostile length).
MAX_SINGLE_READ = 64 * 1024 * 1024


def hash_file(path: str | os.PathLike[str]) -> tuple[str, int]:
    """Return ``(sha256 hex digest, size in bytes)`` of the file, read in 1 MiB chunks.

    Memory use is constant whatever the file size. Raises ``OSError`` if it cannot be read.
    """
    digest = hashlib.sha256()
    size = 0
    buffer = bytearray(_HASH_CHUNK)
    view = memoryview(buffer)
    with open(path, "rb", buffering=0) as fh:
        while True:
            n = fh.readinto(buffer)
            if not n:
                break
            digest.update(view[:n])
            size += n
    return digest.hexdigest(), size


# --------------------------------------------------------------------------- PDF inspection


class PdfProblemCode(StrEnum):
    """What can be wrong with a file that should be a PDF."""

    UNREADABLE = "unreadable"  # the file cannot be opened or read (OS error)
    ZERO_BYTES = "zero-bytes"
    NOT_A_PDF = "not-a-pdf"  # the content is another type, whatever the extension says
    TRUNCATED = "truncated"  # cut short: no %%EOF at the end, or xref offset past the end
    CORRUPT = "corrupt"  # damaged structure or unreadable objects / pages
    ENCRYPTED = "encrypted"  # password protected (even with an empty user password)
    NO_PAGES = "no-pages"


@dataclass(frozen=True)
class PdfProblem:
    """One thing wrong with a PDF: a stable ``code``, a ``message`` naming the file for a
    specialist, and the 1-based ``page`` when the problem is on one page."""

    code: PdfProblemCode
    message: str
    page: int | None = None


@dataclass(frozen=True)
class PdfInspection:
    """What :func:`inspect_pdf` learnt about one file.

    ``found`` maps every needle passed (as given) to the 1-based pages, among the pages read,
    whose text contains it; ``dates`` lists ``(label, date, page)`` for labelled dates.
    ``pages_read`` says how many pages had their text extracted: reading stops early once every
    needle is found and both an issue and an expiry date are seen, or at ``max_text_pages``.
    """

    media_type: str
    size: int
    pages: int | None
    encrypted: bool
    problems: list[PdfProblem] = field(default_factory=list)
    found: dict[str, list[int]] = field(default_factory=dict)
    dates: list[tuple[str, date, int]] = field(default_factory=list)
    pages_read: int = 0
    #: the normalised text of each page read, when asked for with ``keep_text=True``
    texts: list[str] = field(default_factory=list)
    #: why text was not read from every page (a budget ran out, a page inflated too far)
    budget_note: str | None = None

    @property
    def ok(self) -> bool:
        """True when the file is a readable, unencrypted PDF with at least one page."""
        return not self.problems

    @property
    def codes(self) -> list[PdfProblemCode]:
        """The problem codes, in the order found."""
        return [p.code for p in self.problems]

    def pages_with_any(self, needles: Iterable[str]) -> list[int]:
        """Sorted pages on which at least one of ``needles`` (e.g. several spellings of one
        amount, all passed to :func:`inspect_pdf`) was found."""
        pages: set[int] = set()
        for needle in needles:
            pages.update(self.found.get(needle, ()))
        return sorted(pages)

    def dates_labelled(self, label: str) -> list[date]:
        """The dates found with ``label`` (``"issue"`` or ``"expiry"``), in page order."""
        return [d for lab, d, _page in self.dates if lab == label]


class _ReadTooLarge(Exception):
    """pypdf asked for one read larger than MAX_SINGLE_READ."""

    def __init__(self, requested: int) -> None:
        super().__init__(f"a single read of {requested:,} bytes was refused")
        self.requested = requested


class _BoundedReader(io.RawIOBase):
    """A read-only, seekable view of an open file that refuses any one read above a limit,
    so nothing inside pypdf can pull a large file into memory at once."""

    def __init__(self, raw: io.BufferedReader, size: int, limit: int) -> None:
        super().__init__()
        self._raw = raw
        self._size = size
        self._limit = limit

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        return self._raw.seek(offset, whence)

    def tell(self) -> int:
        return self._raw.tell()

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            size = max(self._size - self._raw.tell(), 0)
        if size > self._limit:
            raise _ReadTooLarge(size)
        return self._raw.read(size)

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


@dataclass
class _Tail:
    has_eof: bool
    startxref: int | None
    xref_looks_valid: bool
    encrypt_marker: bool


_STARTXREF = re.compile(rb"startxref\s*([0-9]+)")
_ENCRYPT = re.compile(rb"/Encrypt\s*(?:\d+\s+\d+\s+R|<<)")
_XREF_START = re.compile(rb"\s*(?:xref|\d+\s+\d+\s+obj)")


def _read_tail(fh: io.BufferedReader, size: int) -> _Tail:
    fh.seek(max(size - _TAIL_BYTES, 0))
    tail = fh.read(_TAIL_BYTES)
    # The spec (and Acrobat) want %%EOF in the last 1024 bytes; allow trailing junk up to that.
    has_eof = b"%%EOF" in tail[-1024:]
    xrefs = _STARTXREF.findall(tail)
    startxref = int(xrefs[-1]) if xrefs else None
    encrypt = bool(_ENCRYPT.search(tail))
    xref_ok = False
    if startxref is not None and startxref < size:
        fh.seek(startxref)
        at_xref = fh.read(_TAIL_BYTES)
        xref_ok = bool(_XREF_START.match(at_xref))
        # An xref *stream* carries the trailer keys (/Encrypt) in its own dictionary.
        encrypt = encrypt or bool(_ENCRYPT.search(at_xref))
    return _Tail(has_eof, startxref, xref_ok, encrypt)


def inspect_pdf(
    path: str | os.PathLike[str],
    *,
    needles: Sequence[str] = (),
    max_text_pages: int | None = None,
    dates: bool = True,
    keep_text: bool = False,
    budget: TextBudget | None = None,
) -> PdfInspection:
    """Inspect the file at ``path`` as a supporting PDF; never raises for a bad file.

    Returns a :class:`PdfInspection` with the sniffed media type, size, page count (``None``
    when unknown), whether it is encrypted, its problems (see :class:`PdfProblemCode`), the
    pages on which each of ``needles`` occurs (matching per :func:`text_contains`), and the
    labelled dates per page (see :func:`find_labelled_dates`; ``dates=False`` skips them).
    Text is read from at most ``max_text_pages`` pages, and reading stops as soon as every
    needle is found and (when looking for dates) an issue and an expiry date have been seen.
    Encrypted files are reported, not decrypted, and their text is not read.
    ``keep_text=True`` reads every page (up to ``max_text_pages``) and returns their
    normalised text in ``texts``, so later searches need not parse the file again.
    Reading stays within ``budget`` (time, text kept, inflation of one page stream; the
    defaults of :class:`TextBudget` when None); where a budget stopped it, ``budget_note``
    says so.
    """
    p = Path(path)
    name = p.name
    found: dict[str, list[int]] = {n: [] for n in needles}
    try:
        size = p.stat().st_size
        media_type = sniff_media_type(p) if size else EMPTY
    except OSError as err:
        reason = err.strerror or str(err)
        return PdfInspection(
            OCTET_STREAM, 0, None, False,
            [PdfProblem(PdfProblemCode.UNREADABLE, f"{name}: cannot be read ({reason})")],
            found,
        )  # fmt: skip
    if size == 0:
        problem = PdfProblem(PdfProblemCode.ZERO_BYTES, f"{name}: the file is empty (0 bytes)")
        return PdfInspection(media_type, 0, None, False, [problem], found)
    if media_type != PDF:
        what = MEDIA_DESCRIPTIONS.get(media_type, media_type)
        problem = PdfProblem(
            PdfProblemCode.NOT_A_PDF, f"{name}: is not a PDF — its content is {what}"
        )
        return PdfInspection(media_type, size, None, False, [problem], found)
    try:
        budget = budget or TextBudget()
        with p.open("rb") as fh, _quiet_pypdf(), _pypdf_limits(budget):
            return _inspect_open_pdf(fh, name, size, found, needles, max_text_pages, dates,
                                     keep_text, budget)
    except OSError as err:
        reason = err.strerror or str(err)
        problem = PdfProblem(PdfProblemCode.UNREADABLE, f"{name}: cannot be read ({reason})")
        return PdfInspection(media_type, size, None, False, [problem], found)


_quiet_lock = threading.Lock()
_quiet_depth = 0
_quiet_saved_level = logging.NOTSET


class _quiet_pypdf:
    """Silence pypdf's warnings while inspecting: on a damaged file it logs every repair step,
    and those steps are summed up in our problems. Process-wide while any inspection runs
    (logging levels are global), restored when the last one ends."""

    def __enter__(self) -> None:
        global _quiet_depth, _quiet_saved_level
        with _quiet_lock:
            logger = logging.getLogger("pypdf")
            if _quiet_depth == 0:
                _quiet_saved_level = logger.level
                logger.setLevel(logging.ERROR)
            _quiet_depth += 1

    def __exit__(self, *exc: object) -> None:
        global _quiet_depth
        with _quiet_lock:
            _quiet_depth -= 1
            if _quiet_depth == 0:
                logging.getLogger("pypdf").setLevel(_quiet_saved_level)


def _describe(err: BaseException) -> str:
    text = str(err).strip() or type(err).__name__
    return text if len(text) <= 200 else text[:197] + "..."


def _tail_problems(tail: _Tail, name: str, size: int) -> list[PdfProblem]:
    """What the file's tail shows is structurally wrong: truncated, or no usable xref table.

    Returns at most one problem; any problem means pypdf would have to repair the file.
    """
    if not tail.has_eof:
        return [PdfProblem(
            PdfProblemCode.TRUNCATED,
            f"{name}: is truncated — it does not end with the %%EOF marker "
            "(an incomplete download or copy?)",
        )]  # fmt: skip
    if tail.startxref is not None and tail.startxref >= size:
        return [PdfProblem(
            PdfProblemCode.TRUNCATED,
            f"{name}: is truncated — its cross-reference table should be at byte "
            f"{tail.startxref:,} but the file has only {size:,} bytes",
        )]  # fmt: skip
    if not tail.xref_looks_valid:
        return [PdfProblem(
            PdfProblemCode.CORRUPT,
            f"{name}: is corrupt — its cross-reference table (the index of its objects) "
            "is missing or damaged",
        )]  # fmt: skip
    return []


@dataclass
class _Findings:
    """What one inspection of an open PDF has learnt so far; :meth:`result` wraps it up."""

    name: str
    size: int
    found: dict[str, list[int]]
    problems: list[PdfProblem]
    encrypted: bool
    #: structural damage already reported (later parse errors are its consequence)
    damaged: bool
    texts: list[str] = field(default_factory=list)
    budget_note: str | None = None

    def fail(self, err: BaseException, page: int | None = None) -> None:
        """Report a parse error (of the whole file or of one page) as CORRUPT, unless the
        file is already known to be damaged."""
        if self.damaged:
            return  # already reported; the parse error is a consequence
        if isinstance(err, _ReadTooLarge):
            reason = (f"reading it would need {err.requested:,} bytes at once — a damaged "
                      "structure or a hostile length")  # fmt: skip
        else:
            reason = _describe(err)
        if page is not None:
            message = f"{self.name}: is corrupt — page {page} cannot be read ({reason})"
        else:
            message = f"{self.name}: is corrupt — it cannot be parsed as a PDF ({reason})"
        self.problems.append(PdfProblem(PdfProblemCode.CORRUPT, message, page))

    def note(self, message: str) -> None:
        """Say where a budget stopped the reading (notes add up)."""
        self.budget_note = f"{self.budget_note}; {message}" if self.budget_note else message

    def mark_encrypted(self) -> None:
        """Note that the file is encrypted (reported once)."""
        self.encrypted = True
        if PdfProblemCode.ENCRYPTED not in [p.code for p in self.problems]:
            self.problems.append(_encrypted_problem(self.name))

    def result(
        self, pages: int | None, dates: list[tuple[str, date, int]] | None = None, read: int = 0
    ) -> PdfInspection:
        """The inspection's outcome with ``pages`` pages, the dates found and pages read."""
        return PdfInspection(PDF, self.size, pages, self.encrypted, self.problems, self.found,
                             dates or [], read, self.texts, self.budget_note)  # fmt: skip


def _inspect_open_pdf(
    fh: io.BufferedReader,
    name: str,
    size: int,
    found: dict[str, list[int]],
    needles: Sequence[str],
    max_text_pages: int | None,
    want_dates: bool,
    keep_text: bool = False,
    budget: TextBudget | None = None,
) -> PdfInspection:
    """Inspect the open PDF ``fh``: its tail first, then pypdf's view of it, then the text of
    its pages (when there are needles or dates to find, or text to keep)."""
    tail = _read_tail(fh, size)
    problems = _tail_problems(tail, name, size)
    run = _Findings(name, size, found, problems, False, damaged=bool(problems))
    if tail.encrypt_marker:
        run.mark_encrypted()
    if run.damaged and size > MAX_REPAIR_SIZE:
        # pypdf would repair by reading the whole file at once; too costly for a file this big.
        return run.result(None)
    reader = _open_reader(fh, run)
    if reader is None:
        return run.result(None)
    try:
        page_count: int | None = len(reader.pages)
    except Exception as err:  # noqa: BLE001
        if not run.encrypted:
            run.fail(err)
        page_count = None
    if page_count == 0:
        problems.append(PdfProblem(PdfProblemCode.NO_PAGES, f"{name}: has no pages"))
    if run.encrypted or not page_count or (not needles and not want_dates and not keep_text):
        return run.result(page_count)
    limit = page_count if max_text_pages is None else max(0, min(page_count, max_text_pages))
    dates, read = _read_pages(reader, run, limit, needles, want_dates, keep_text,
                              budget or TextBudget())
    if keep_text and read < page_count and run.budget_note is None:
        run.note(f"text read from pages 1–{read} of {page_count} only (the page limit)")
    return run.result(page_count, dates, read)


def _open_reader(fh: io.BufferedReader, run: _Findings) -> PdfReader | None:
    """pypdf's reader on ``fh`` (every single read bounded); None when it cannot be opened.

    Notes encryption (also when pypdf cannot decrypt without an optional package) and reports
    a parse failure as CORRUPT.
    """
    # Imported here so that sniffing and hashing do not pay for importing pypdf.
    from pypdf import PdfReader
    from pypdf.errors import DependencyError, FileNotDecryptedError

    fh.seek(0)
    try:
        reader = PdfReader(cast(IO[bytes], _BoundedReader(fh, run.size, MAX_SINGLE_READ)),
                           strict=False)  # fmt: skip
    except (DependencyError, FileNotDecryptedError):
        # e.g. AES encryption without the optional cryptography package
        run.mark_encrypted()
        return None
    except Exception as err:  # noqa: BLE001 — any parser failure is a property of the file
        run.fail(err)
        return None
    if reader.is_encrypted:
        run.mark_encrypted()
    return reader


def _read_pages(
    reader: PdfReader,
    run: _Findings,
    limit: int,
    needles: Sequence[str],
    want_dates: bool,
    keep_text: bool,
    budget: TextBudget,
) -> tuple[list[tuple[str, date, int]], int]:
    """Extract the text of up to ``limit`` pages, recording on which pages each needle occurs
    (in ``run.found``) and keeping the text when asked. Stops early once every needle is found
    and, when looking for dates, an issue and an expiry date were seen.

    Stays within ``budget``: a page whose streams inflate past it is skipped, and reading
    stops when the time or the text kept runs out (``run.budget_note`` says which).
    Returns the labelled dates as ``(label, date, page)`` and the number of pages read.
    """
    from pypdf.errors import LimitReachedError  # lazily, as in _open_reader

    patterns = [(n, needle_pattern(n)) for n in dict.fromkeys(needles)]
    found_dates: list[tuple[str, date, int]] = []
    labels_seen: set[str] = set()
    read = kept = 0
    deadline = time.monotonic() + budget.text_seconds
    for index in range(limit):
        number = index + 1
        if index and (time.monotonic() > deadline or kept > budget.text_bytes):  # page 1 always
            spent = (f"the {budget.text_seconds:g}-second" if kept <= budget.text_bytes
                     else f"the {budget.text_megabytes} MB text")
            run.note(f"text read from pages 1–{read} of {limit} only: {spent} budget ran out")
            break
        read = number
        try:
            text = reader.pages[index].extract_text() or ""
        except LimitReachedError:
            run.note(f"page {number} skipped: its content inflates past the "
                     f"{budget.stream_megabytes} MB stream budget")
            text = ""
        except Exception as err:  # noqa: BLE001
            run.fail(err, page=number)
            continue
        norm = normalise_text(text)
        kept += len(norm)
        if keep_text:
            run.texts.append(norm)
        for needle, pattern in patterns:
            if pattern is not None and pattern.search(norm):
                run.found[needle].append(number)
        if want_dates:
            for label, when in find_labelled_dates(norm):
                found_dates.append((label, when, number))
                labels_seen.add(label)
        all_found = all(run.found[n] for n, pat in patterns if pat is not None)
        if all_found and not keep_text and (not want_dates or labels_seen >= {"issue", "expiry"}):
            break
    return found_dates, read


def _encrypted_problem(name: str) -> PdfProblem:
    """The ENCRYPTED problem for file ``name``."""
    return PdfProblem(
        PdfProblemCode.ENCRYPTED,
        f"{name}: is encrypted (password protected); portals reject encrypted files — "
        "save an unprotected copy",
    )


@contextmanager
def _pypdf_limits(budget: TextBudget) -> Iterator[None]:
    """pypdf's decompression limits lowered to the stream budget while inspecting."""
    from pypdf import apply_configuration  # lazily, as in _open_reader

    limit = budget.stream_bytes
    with apply_configuration(zlib_maximum_output_length=limit, lzw_maximum_output_length=limit,
                             run_length_maximum_output_length=limit,
                             array_based_stream_maximum_output_length=limit,
                             brotli_maximum_output_length=limit, image_maximum_buffer_size=limit,
                             stream_decoding_work_maximum_length=4 * limit):
        yield
