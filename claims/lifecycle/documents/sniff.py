"""What a file is, judged by its first bytes, never by its name: the document door's content
sniffing (:func:`sniff_media_type`), and how each type is described in a refusal."""

from __future__ import annotations

import os

PDF = "application/pdf"
ZIP = "application/zip"
WINDOWS_EXE = "application/x-msdownload"
ELF = "application/x-executable"
PNG = "image/png"
JPEG = "image/jpeg"
EMPTY = "application/x-empty"
HTML = "text/html"
XML = "application/xml"
TEXT = "text/plain"
OCTET_STREAM = "application/octet-stream"

_SNIFF_BYTES = 1024

MEDIA_DESCRIPTIONS = {
    ZIP: "a ZIP archive (application/zip)",
    WINDOWS_EXE: "a Windows executable (application/x-msdownload)",
    ELF: "a Linux executable (application/x-executable)",
    PNG: "a PNG image (image/png)",
    JPEG: "a JPEG image (image/jpeg)",
    HTML: "HTML text (text/html), e.g. a web page saved under a .pdf name",
    XML: "XML text (application/xml)",
    TEXT: "plain text (text/plain)",
    OCTET_STREAM: "unrecognised binary data (application/octet-stream)",
}


def sniff_media_type(path: str | os.PathLike[str]) -> str:
    """Return the media type of the file at ``path``, judged by its content (magic bytes).

    Returns one of ``application/pdf`` (``%PDF-`` within the first 1024 bytes, as readers
    accept), ``application/zip``, ``application/x-msdownload`` (MZ), ``application/x-executable``
    (ELF), ``image/png``, ``image/jpeg``, ``application/x-empty`` (zero bytes), ``text/html``,
    ``application/xml``, ``text/plain`` (UTF-8 text without control characters) or
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
    return _sniff_text(head)


def _sniff_text(head: bytes) -> str:
    """What a head without any magic number is: HTML, XML, plain text or binary data."""
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as err:  # a character cut at the end of the head is still text
        if err.start < len(head) - 3:
            return OCTET_STREAM
        text = head[:err.start].decode("utf-8")
    if any(ord(c) < 32 and c not in "\t\n\r\f" for c in text):
        return OCTET_STREAM
    lower = text.lstrip("\ufeff \t\r\n").lower()
    if lower.startswith("<!doctype html") or "<html" in lower:
        return HTML
    if lower.startswith("<?xml"):
        return XML
    return TEXT
