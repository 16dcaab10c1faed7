"""The forecast slice's section of claims.toml: ``[forecast]``. Pure: no I/O.

Example::

    [forecast]
    weeks = 13
    prior_invoices = 10        # a customer with fewer paid invoices leans on its agency
"""

from __future__ import annotations

from pydantic import Field

from claims.core.config import Section


class ForecastSettings(Section):
    """``[forecast]``: horizon, how much history counts, and defaults without history."""

    weeks: int = Field(13, ge=1, le=52, description="weeks forecast ahead")
    prior_invoices: float = Field(10.0, gt=0, description="shrinkage: invoices of history a "
                                                          "customer needs to weigh as much as "
                                                          "its agency")
    window_days: int = Field(365, ge=30, description="history read back from the as-of date")
    default_review_days: int = Field(30, ge=0, description="portal review time with no history")
    default_correction_days: int = Field(14, ge=0, description="correction time with no "
                                                               "history")
