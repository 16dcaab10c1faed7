"""The reports slice's section of claims.toml: ``[reports]`` (KPIs and the weekly / monthly
reports). Pure: no I/O.

Example::

    [reports]
    aging_buckets = [30, 60, 90, 120]
    monthly_target = "250000"
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import Field, field_validator

from claims.core.config import Section


class KpiSettings(Section):
    """``[reports]`` in claims.toml: aging buckets, DSO and trend windows, targets."""

    aging_buckets: list[int] = Field([30, 60, 90], description="bucket edges in days, ascending")
    aging_basis: Literal["due", "invoice"] = Field("due",
                                                   description="age from due or invoice date")
    dso_days: int = Field(90, ge=1, le=366, description="days of sales in standard DSO")
    trend_months: int = Field(6, ge=1, le=24, description="months in the trends")
    at_risk_days: int = Field(90, ge=1, description="past due by more than this: at risk")
    countback_months: int = Field(24, ge=1, le=60, description="most months countback walks")
    currency: str | None = Field(None, description="KPI currency (default: the most invoiced)")
    monthly_target: Decimal | None = Field(None, description="cash to collect per month")

    @field_validator("aging_buckets")
    @classmethod
    def _ascending(cls, value: list[int]) -> list[int]:
        if not value or sorted(set(value)) != value or value[0] <= 0:
            raise ValueError("bucket edges must be positive and strictly ascending")
        return value
