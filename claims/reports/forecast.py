"""The cash-flow forecast as report tables: a chart of P10 / P50 / P90 per week, the weeks,
and what is held out (disputes) or owed on top (Prompt Payment interest)."""

from __future__ import annotations

from typing import Any

from claims.forecast.model import Forecast
from claims.reports import charts
from claims.reports.build import Report, Table


def forecast_table(fc: Forecast, currency: str | None = None) -> Table:
    """The weekly forecast of ``currency`` (default: every currency) with its chart."""
    rows = [r for r in fc.rows if currency is None or r.currency == currency]
    chart_rows = [r for r in rows if r.currency == (currency or (rows[0].currency if rows
                                                                  else None))]
    chart = charts.bar_chart(
        f"Expected receipts per week (P10 / P50 / P90, {chart_rows[0].currency})",
        [f"W{r.week}" for r in chart_rows],
        {"P10": [r.p10 for r in chart_rows], "P50": [r.p50 for r in chart_rows],
         "P90": [r.p90 for r in chart_rows]}) if chart_rows else None
    held = sum(1 for h in fc.held_out if currency is None or h["currency"] == currency)
    return Table(
        "cash_forecast", f"Cash forecast, {fc.weeks} weeks from {fc.as_of}",
        [("week", "Week", "int"), ("start", "From", "date"), ("end", "To", "date"),
         ("currency", "Currency", "text"), ("p10", "P10", "money"), ("p50", "P50", "money"),
         ("p90", "P90", "money")],
        [{"week": r.week, "start": r.start, "end": r.end, "currency": r.currency,
          "p10": r.p10, "p50": r.p50, "p90": r.p90} for r in rows],
        chart=chart,
        note=f"{held} disputed invoices held out (claims forecast --explain N for the lines)"
        if held else None)


def _plain_table(key: str, title: str, rows: list[dict[str, Any]]) -> Table:
    columns = [(k, k.replace("_", " ").capitalize(), "text") for k in (rows[0] if rows else {})]
    return Table(key, title, columns, rows, note=None if rows else "none")  # type: ignore[arg-type]


def forecast_report(fc: Forecast) -> Report:
    """The forecast as a report of its own (``claims forecast --format html|xlsx``)."""
    currency = fc.rows[0].currency if fc.rows else "EUR"
    totals = fc.totals().get(currency, {})
    report = Report("forecast", f"Cash forecast — {fc.as_of}", fc.as_of, currency,
                    [("Expected in the horizon", totals.get("p50"), "text"),
                     ("Open receivables forecast", totals.get("at_stake"), "text")])
    report.tables.append(forecast_table(fc))
    for week in range(1, fc.weeks + 1):
        lines = fc.explain(week, limit=50)
        report.tables.append(_plain_table(f"week_{week}", f"Week {week}: largest lines", lines))
    report.tables.append(_plain_table("held_out", "Held out: open disputes", fc.held_out))
    report.tables.append(_plain_table("interest", "Prompt Payment interest owed",
                                      [{k: str(v) for k, v in r.items()} for r in fc.interest]))
    return report
