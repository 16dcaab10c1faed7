"""Inline SVG line charts for the KPI trends: computed here, drawn by the template as an
``<svg>`` element (no script, no build step, nothing the CSP has to allow). Coordinates are
exact decimals, rounded to a tenth of a pixel."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

WIDTH, HEIGHT, PAD = Decimal(320), Decimal(120), Decimal(8)
TENTH = Decimal("0.1")


@dataclass(frozen=True)
class Chart:
    """One series over the months: its polyline points and the labels of its ends."""

    key: str
    title: str
    months: list[str]
    values: list[Decimal | None]
    points: str
    dots: list[tuple[Decimal, Decimal, str, Decimal]]
    low: Decimal | None
    high: Decimal | None

    width = WIDTH
    height = HEIGHT


def line_chart(key: str, title: str, months: list[str], values: list[Any]) -> Chart:
    """A chart of ``values`` (oldest first; None where a month has no figure)."""
    known = [Decimal(str(v)) for v in values if v is not None]
    exact = [None if v is None else Decimal(str(v)) for v in values]
    if not known:
        return Chart(key, title, months, exact, "", [], None, None)
    low, high = min(known), max(known)
    span = high - low or Decimal(1)
    step = (WIDTH - 2 * PAD) / max(len(values) - 1, 1)
    dots = []
    for n, value in enumerate(exact):
        if value is None:
            continue
        x = (PAD + step * n).quantize(TENTH)
        y = (HEIGHT - PAD - (value - low) / span * (HEIGHT - 2 * PAD)).quantize(TENTH)
        dots.append((x, y, months[n], value))
    points = " ".join(f"{x},{y}" for x, y, _, _ in dots)
    return Chart(key, title, months, exact, points, dots, low, high)


def trend_charts(trends: list[dict[str, Any]]) -> list[Chart]:
    """The KPI trend charts: receivables, DSO (countback), CEI, collected — oldest first."""
    oldest_first = list(reversed(trends))
    months = [t["month"] for t in oldest_first]
    series = (("receivables", "Receivables"), ("dso_countback", "DSO countback (days)"),
              ("cei", "CEI %"), ("collected", "Collected"))
    return [line_chart(key, title, months, [t[key] for t in oldest_first])
            for key, title in series]
