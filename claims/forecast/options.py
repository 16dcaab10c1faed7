"""The forecast's options (the ``[forecast]`` settings as the model reads them)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Options:
    """How the forecast reads its inputs (the ``[forecast]`` settings)."""

    weeks: int = 13
    prior: float = 10.0
    window_days: int = 365
    promise_grace_days: int = 0
    default_review_days: int = 30
    default_correction_days: int = 14
