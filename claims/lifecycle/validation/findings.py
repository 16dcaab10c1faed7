"""Findings: what validation says about a claim, all at once, never just the first.

A finding has a stable code (``E-…`` errors block, ``W-…`` warnings inform, ``I-…`` notes),
a location (file and page, or a JSON pointer) and a message a specialist understands::

    E-VAT-002 invoice: VAT 1,500.00 is not 15% of net 9,000.00 (expected 1,350.00)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

Severity = Literal["error", "warning", "info"]


@dataclass(frozen=True, slots=True)
class Finding:
    code: str
    severity: Severity
    message: str
    file: str | None = None      # the document (or contract / invoice) it is about
    page: int | None = None      # 1-based page in that file
    pointer: str | None = None   # JSON pointer into the claim, contract or invoice

    @property
    def is_error(self) -> bool:
        return self.severity == "error"

    @property
    def location(self) -> str:
        where = self.file or ""
        if self.page:
            where += f" p.{self.page}"
        if self.pointer:
            where += f" {self.pointer}" if where else self.pointer
        return where.strip()

    def __str__(self) -> str:
        where = self.location
        return f"{self.code} {where}: {self.message}" if where else f"{self.code} {self.message}"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def error(code: str, message: str, **where: Any) -> Finding:
    return Finding(code, "error", message, **where)


def warning(code: str, message: str, **where: Any) -> Finding:
    return Finding(code, "warning", message, **where)


def info(code: str, message: str, **where: Any) -> Finding:
    return Finding(code, "info", message, **where)


def has_errors(findings: list[Finding]) -> bool:
    return any(f.is_error for f in findings)
