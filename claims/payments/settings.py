"""The payments slice's section of claims.toml: ``[payments]`` (cash-application matching).
Pure: no I/O.

Example::

    [payments]
    auto_apply_threshold = 95       # apply matches at or above this confidence
    tolerance = "2.50"              # a difference up to this amount is written off
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import Field

from claims.core.config import Section


class MatchSettings(Section):
    """``[payments]`` in claims.toml: how statement lines are matched and applied."""

    auto_apply_threshold: int = Field(90, ge=0, le=101,
                                      description="apply matches at or above this confidence")
    tolerance: Decimal = Field(Decimal("1.00"), ge=0,
                               description="a difference up to this amount is settled")
    tolerance_percent: Decimal = Field(Decimal("0"), ge=0, le=100,
                                       description="…or up to this % of the invoice, if larger")
    small_difference: Literal["writeoff", "discount"] = Field(
        "writeoff", description="book a settled difference as a write-off or a discount")
    subset_window: int = Field(16, ge=1, le=40,
                               description="a payer's oldest open items tried for a subset sum")
    subset_max_items: int = Field(5, ge=2, le=10,
                                  description="most invoices one payment may settle by subset")
    monthly_target: Decimal | None = Field(None, description="cash to collect per month")
