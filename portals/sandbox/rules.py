"""The sandbox portal's attachment rules, as real e-claims portals state them."""

from __future__ import annotations

import io
from pathlib import PurePath

from pypdf import PdfReader
from pypdf.errors import PyPdfError

from portals.base import PortalLimits

LIMITS = PortalLimits(
    max_files=5,
    max_file_bytes=10 * 1024 * 1024,
    allowed_extensions=(".pdf",),
    max_name_length=132,
    lowercase_extensions=True,
    unique_names=True,
)


def check_upload(label: str, filename: str, content: bytes) -> list[str]:
    """Every rule one uploaded file breaks, each message naming the document and the file."""
    if not filename:
        return [f"{label}: choose a file to upload"]
    problems: list[str] = []
    suffix = PurePath(filename).suffix
    if suffix.lower() not in LIMITS.allowed_extensions:
        problems.append(f"{label}: {filename} — only PDF files (.pdf) are accepted")
    elif LIMITS.lowercase_extensions and suffix != suffix.lower():
        problems.append(f"{label}: {filename} — the file extension must be lower case (.pdf)")
    if len(filename) > LIMITS.max_name_length:
        problems.append(
            f"{label}: the file name is {len(filename)} characters long; "
            f"at most {LIMITS.max_name_length} are allowed"
        )
    if len(content) > LIMITS.max_file_bytes:
        problems.append(f"{label}: {filename} is larger than 10 MB")
        return problems
    if not content.startswith(b"%PDF-"):
        problems.append(f"{label}: {filename} is not a PDF document")
        return problems
    try:
        reader = PdfReader(io.BytesIO(content))
        if reader.is_encrypted:
            problems.append(f"{label}: {filename} is password-protected (encrypted)")
            return problems
        if len(reader.pages) == 0:
            problems.append(f"{label}: {filename} has no pages")
    except (PyPdfError, ValueError, KeyError, OSError) as err:
        problems.append(f"{label}: {filename} cannot be read as a PDF ({type(err).__name__})")
    return problems


def check_names(names: list[str]) -> list[str]:
    """Rules across the files of one claim: count and unique names."""
    problems: list[str] = []
    if len(names) > LIMITS.max_files:
        problems.append(f"A claim can carry at most {LIMITS.max_files} files")
    seen: set[str] = set()
    for name in names:
        if name in seen:
            problems.append(f"{name}: another document has the same file name")
        seen.add(name)
    return problems
