"""Inspect supporting documents safely and fast.

Everything here reads files that came from outside (a specialist's downloads folder, a
supplier's e-mail), so nothing trusts the file name or the file:

- :func:`sniff_media_type` decides the type from the first bytes, never the extension;
- :func:`hash_file` streams the file, so memory does not grow with its size;
- :func:`inspect_pdf` opens a PDF with pypdf *from an open file object* (given a path, pypdf
  reads the whole file into memory), never raises for a bad file, and reports what is wrong as
  :class:`PdfProblem` values. It also finds needles (invoice numbers, amounts) per page and
  labelled dates ("Expiry Date: 2027-03-31") that validation checks against the contract.

Memory stays bounded for any input: structural damage is detected from the tail of the file
first, and pypdf's repair path (which reads the whole file at once) is only allowed for small
files; any single read pypdf asks for above :data:`MAX_SINGLE_READ` becomes a problem instead.
"""

from __future__ import annotations

import calendar
import hashlib
import io
import logging
import os
import re
import threading
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from pathlib import Path
from typing import IO, Any, cast

__all__ = [
    "MAX_SINGLE_READ",
    "PdfInspection",
    "PdfProblem",
    "PdfProblemCode",
    "amount_spellings",
    "find_labelled_dates",
    "hash_file",
    "inspect_pdf",
    "normalise_text",
    "sniff_media_type",
    "text_contains",
]

PDF = "application/pdf"
ZIP = "application/zip"
WINDOWS_EXE = "application/x-msdownload"
ELF = "application/x-executable"
PNG = "image/png"
JPEG = "image/jpeg"
EMPTY = "application/x-empty"
OCTET_STREAM = "application/octet-stream"

_HASH_CHUNK = 1024 * 1024
_SNIFF_BYTES = 1024
_TAIL_BYTES = 4096
# pypdf's xref repair reads the whole file in one go; allow it only for files this small.
MAX_REPAIR_SIZE = 64 * 1024 * 1024
# Largest single read pypdf may make through our file wrapper (page content streams are far
# smaller; a request above this means repair of a big damaged file or a hostile length).
MAX_SINGLE_READ = 64 * 1024 * 1024

_MEDIA_DESCRIPTIONS = {
    ZIP: "a ZIP archive (application/zip)",
    WINDOWS_EXE: "a Windows executable (application/x-msdownload)",
    ELF: "a Linux executable (application/x-executable)",
    PNG: "a PNG image (image/png)",
    JPEG: "a JPEG image (image/jpeg)",
    OCTET_STREAM: "unrecognised binary data (application/octet-stream)",
}


def sniff_media_type(path: str | os.PathLike[str]) -> str:
    """Return the media type of the file at ``path``, judged by its content (magic bytes).

    Returns one of ``application/pdf`` (``%PDF-`` within the first 1024 bytes, as readers
    accept), ``application/zip``, ``application/x-msdownload`` (MZ), ``application/x-executable``
    (ELF), ``image/png``, ``image/jpeg``, ``application/x-empty`` (zero bytes) or
    ``application/octet-stream``. Formats with a magic number at offset 0 win over a ``%PDF-``
    found further in, so a ZIP/PDF polyglot is reported as a ZIP. Raises ``OSError`` if the
    file cannot be read.
    """
    with open(path, "rb") as fh:
        head = fh.read(_SNIFF_BYTES)
    return _sniff_bytes(head)


def _sniff_bytes(head: bytes) -> str:
    if not head:
        return EMPTY
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return ZIP
    if head.startswith(b"MZ"):
        return WINDOWS_EXE
    if head.startswith(b"\x7fELF"):
        return ELF
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if b"%PDF-" in head:
        return PDF
    return OCTET_STREAM


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


# --------------------------------------------------------------------------- text matching

_DASHES = dict.fromkeys(map(ord, "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe63\uff0d"), "-")
_WHITESPACE = re.compile(r"\s+")


def normalise_text(text: str) -> str:
    """Normalise text for matching: NFKC, case-folded, unicode dashes → ``-``, whitespace
    runs (including non-breaking and thin spaces) collapsed to one space, stripped."""
    text = unicodedata.normalize("NFKC", text).translate(_DASHES).casefold()
    return _WHITESPACE.sub(" ", text).strip()


def _needle_pattern(needle: str) -> re.Pattern[str] | None:
    norm = normalise_text(needle)
    if not norm:
        return None
    # Boundaries keep "9,000.00" from matching inside "19,000.00" and "INV-7" inside
    # "INV-71", while still matching "EUR9,000.00" (PDF text extraction often glues cells).
    start = ""
    if norm[0].isdigit():
        start = r"(?<!\d)(?<!\d[.,'])"
    elif norm[0].isalnum():
        start = r"(?<!\w)"
    end = ""
    if norm[-1].isdigit():
        end = r"(?!\d)(?![.,']\d)"
    elif norm[-1].isalnum():
        end = r"(?!\w)"
    return re.compile(start + re.escape(norm) + end)


def text_contains(text: str, needle: str) -> bool:
    """True if ``needle`` occurs in ``text`` under the matching rules of :func:`inspect_pdf`:
    case-insensitive, whitespace collapsed, unicode dashes as ``-``, and not glued to further
    digits (``9,000.00`` is not found in ``19,000.00``). An empty needle is never found."""
    pattern = _needle_pattern(needle)
    return bool(pattern and pattern.search(normalise_text(text)))


def amount_spellings(amount: Decimal) -> list[str]:
    """Return the usual printed spellings of a money amount, rounded half-up to 2 places.

    ``amount_spellings(Decimal("9000"))`` gives ``["9,000.00", "9000.00", "9 000,00",
    "9.000,00", "9 000.00", "9000,00", "9'000.00"]`` (duplicates removed, order kept, so for
    amounts under 1,000 the list is shorter). Negative amounts keep a leading ``-``. Pass them
    all as needles and accept a page where any is found.
    """
    if not isinstance(amount, Decimal):
        raise TypeError(f"amount must be a Decimal, not {type(amount).__name__}")
    q = amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    sign = "-" if q < 0 else ""
    whole, frac = f"{abs(q):.2f}".split(".")
    groups: list[str] = []
    while len(whole) > 3:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    groups.insert(0, whole)
    variants = [
        ",".join(groups) + "." + frac,
        "".join(groups) + "." + frac,
        " ".join(groups) + "," + frac,
        ".".join(groups) + "," + frac,
        " ".join(groups) + "." + frac,
        "".join(groups) + "," + frac,
        "'".join(groups) + "." + frac,
    ]
    return list(dict.fromkeys(sign + v for v in variants))


# --------------------------------------------------------------------------- labelled dates

_MONTHS: dict[str, int] = {}
for _number in range(1, 13):
    _MONTHS[calendar.month_name[_number].lower()] = _number
    _MONTHS[calendar.month_abbr[_number].lower()] = _number
_MONTHS["sept"] = 9
_MONTH_RE = "|".join(sorted(_MONTHS, key=len, reverse=True))

_DATE_RE = (
    r"(?:(?P<iy>\d{4})[-/.](?P<im>\d{1,2})[-/.](?P<id>\d{1,2})(?!\d)"
    r"|(?P<nd>\d{1,2})[/.\-](?P<nm>\d{1,2})[/.\-](?P<ny>\d{4})(?!\d)"
    rf"|(?P<td>\d{{1,2}})(?:st|nd|rd|th)?\s*(?:of\s+)?(?P<tm>{_MONTH_RE})\.?,?\s*(?P<ty>\d{{4}})"
    rf"|(?P<am>{_MONTH_RE})\.?\s+(?P<ad>\d{{1,2}})(?:st|nd|rd|th)?,?\s*(?P<ay>\d{{4}}))"
)
_EXPIRY_LABELS = (
    r"expiry date|date of expiry|expiration date|expiration|expiry|expires|expiring"
    r"|valid (?:from \S+(?: \S+ \d{4})? )?(?:until|till|to|through|thru)|not valid after"
)
_ISSUE_LABELS = r"date of issue|issue date|issued date|date issued|issued|issuing date|invoice date"
_LABELLED_DATE = re.compile(
    rf"(?<!\w)(?:(?P<expiry>{_EXPIRY_LABELS})|(?P<issue>{_ISSUE_LABELS}))"
    rf"(?: on)?\s*[:\-]?\s*(?:on\s+)?{_DATE_RE}",
    re.IGNORECASE,
)


def find_labelled_dates(text: str) -> list[tuple[str, date]]:
    """Return ``(label, date)`` pairs for the labelled dates in ``text``, in order.

    Labels are normalised to ``"expiry"`` ("Expiry Date", "Valid until", "Expires on", …) or
    ``"issue"`` ("Date of issue", "Issue date", "Issued", "Invoice date"). Dates may be ISO
    (``2027-03-31``), numeric day-first (``31/03/2027``, ``31.03.2027``), or written
    (``31 March 2027``, ``31st Mar 2027``, ``March 31, 2027``). Impossible dates are skipped.
    """
    found: list[tuple[str, date]] = []
    for m in _LABELLED_DATE.finditer(normalise_text(text)):
        label = "expiry" if m.group("expiry") else "issue"
        parsed = _parse_date_match(m)
        if parsed is not None and (label, parsed) not in found:
            found.append((label, parsed))
    return found


def _parse_date_match(m: re.Match[str]) -> date | None:
    g = m.groupdict()
    try:
        if g["iy"]:
            return date(int(g["iy"]), int(g["im"]), int(g["id"]))
        if g["ny"]:
            return date(int(g["ny"]), int(g["nm"]), int(g["nd"]))
        if g["ty"]:
            return date(int(g["ty"]), _MONTHS[g["tm"].lower()], int(g["td"]))
        return date(int(g["ay"]), _MONTHS[g["am"].lower()], int(g["ad"]))
    except ValueError:
        return None


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
        what = _MEDIA_DESCRIPTIONS.get(media_type, media_type)
        problem = PdfProblem(
            PdfProblemCode.NOT_A_PDF, f"{name}: is not a PDF — its content is {what}"
        )
        return PdfInspection(media_type, size, None, False, [problem], found)
    try:
        with p.open("rb") as fh, _quiet_pypdf():
            return _inspect_open_pdf(fh, name, size, found, needles, max_text_pages, dates,
                                     keep_text)
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


def _inspect_open_pdf(
    fh: io.BufferedReader,
    name: str,
    size: int,
    found: dict[str, list[int]],
    needles: Sequence[str],
    max_text_pages: int | None,
    want_dates: bool,
    keep_text: bool = False,
) -> PdfInspection:
    # Imported here so that sniffing and hashing do not pay for importing pypdf.
    from pypdf import PdfReader
    from pypdf.errors import DependencyError, FileNotDecryptedError

    problems: list[PdfProblem] = []
    tail = _read_tail(fh, size)
    damaged = False
    if not tail.has_eof:
        damaged = True
        problems.append(PdfProblem(
            PdfProblemCode.TRUNCATED,
            f"{name}: is truncated — it does not end with the %%EOF marker "
            "(an incomplete download or copy?)",
        ))  # fmt: skip
    elif tail.startxref is not None and tail.startxref >= size:
        damaged = True
        problems.append(PdfProblem(
            PdfProblemCode.TRUNCATED,
            f"{name}: is truncated — its cross-reference table should be at byte "
            f"{tail.startxref:,} but the file has only {size:,} bytes",
        ))  # fmt: skip
    elif not tail.xref_looks_valid:
        damaged = True
        problems.append(PdfProblem(
            PdfProblemCode.CORRUPT,
            f"{name}: is corrupt — its cross-reference table (the index of its objects) "
            "is missing or damaged",
        ))  # fmt: skip
    encrypted = tail.encrypt_marker
    if encrypted:
        problems.append(_encrypted_problem(name))

    texts: list[str] = []

    def result(pages: int | None, dates: list[tuple[str, date, int]], read: int) -> PdfInspection:
        return PdfInspection(PDF, size, pages, encrypted, problems, found, dates, read, texts)

    if damaged and size > MAX_REPAIR_SIZE:
        # pypdf would repair by reading the whole file at once; too costly for a file this big.
        return result(None, [], 0)

    def fail(err: BaseException, page: int | None = None) -> None:
        if damaged:
            return  # already reported; the parse error is a consequence
        if isinstance(err, _ReadTooLarge):
            reason = (f"reading it would need {err.requested:,} bytes at once — a damaged "
                      "structure or a hostile length")  # fmt: skip
        else:
            reason = _describe(err)
        if page is not None:
            message = f"{name}: is corrupt — page {page} cannot be read ({reason})"
        else:
            message = f"{name}: is corrupt — it cannot be parsed as a PDF ({reason})"
        problems.append(PdfProblem(PdfProblemCode.CORRUPT, message, page))

    fh.seek(0)
    try:
        reader = PdfReader(cast(IO[bytes], _BoundedReader(fh, size, MAX_SINGLE_READ)), strict=False)
        encrypted = encrypted or reader.is_encrypted
    except (DependencyError, FileNotDecryptedError) as err:
        # e.g. AES encryption without the optional cryptography package
        if not encrypted:
            encrypted = True
            problems.append(_encrypted_problem(name))
        del err
        return result(None, [], 0)
    except Exception as err:  # noqa: BLE001 — any parser failure is a property of the file
        fail(err)
        return result(None, [], 0)
    if encrypted and PdfProblemCode.ENCRYPTED not in [p.code for p in problems]:
        problems.append(_encrypted_problem(name))

    try:
        page_count: int | None = len(reader.pages)
    except Exception as err:  # noqa: BLE001
        if not encrypted:
            fail(err)
        page_count = None
    if page_count == 0:
        problems.append(PdfProblem(PdfProblemCode.NO_PAGES, f"{name}: has no pages"))
    if encrypted or not page_count or (not needles and not want_dates and not keep_text):
        return result(page_count, [], 0)

    limit = page_count if max_text_pages is None else max(0, min(page_count, max_text_pages))
    patterns = [(n, _needle_pattern(n)) for n in dict.fromkeys(needles)]
    found_dates: list[tuple[str, date, int]] = []
    labels_seen: set[str] = set()
    read = 0
    for index in range(limit):
        number = index + 1
        read = number
        try:
            text = reader.pages[index].extract_text() or ""
        except Exception as err:  # noqa: BLE001
            fail(err, page=number)
            continue
        norm = normalise_text(text)
        if keep_text:
            texts.append(norm)
        for needle, pattern in patterns:
            if pattern is not None and pattern.search(norm):
                found[needle].append(number)
        if want_dates:
            for label, when in find_labelled_dates(norm):
                found_dates.append((label, when, number))
                labels_seen.add(label)
        all_found = all(found[n] for n, pat in patterns if pat is not None)
        if all_found and not keep_text and (not want_dates or labels_seen >= {"issue", "expiry"}):
            break
    return result(page_count, found_dates, read)


def _encrypted_problem(name: str) -> PdfProblem:
    return PdfProblem(
        PdfProblemCode.ENCRYPTED,
        f"{name}: is encrypted (password protected); portals reject encrypted files — "
        "save an unprotected copy",
    )
