"""Render a :class:`~claims.reports.build.Report`: HTML (one self-contained page, inline SVG
charts, no external assets), XLSX (openpyxl: one sheet per table, real numbers and dates with
number formats) or JSON. Files are written to a temporary name and moved into place."""

from __future__ import annotations

import json
import os
import tempfile
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from jinja2 import Environment, select_autoescape
from markupsafe import Markup

from claims.errors import InputError
from claims.core.money import CURRENCIES
from claims.reports.build import Report

ReportFormat = Literal["html", "xlsx", "json"]

_TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ r.title }}</title>
<style>
 body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem;
        color: #1a202c; }
 h1 { font-size: 1.5rem; }
 h2 { font-size: 1.15rem; margin-top: 2rem; border-bottom: 1px solid #e2e8f0; }
 .kpis { display: flex; flex-wrap: wrap; gap: .75rem; }
 .kpi { border: 1px solid #e2e8f0; border-radius: 6px; padding: .5rem .9rem; min-width: 9rem; }
 .kpi .v { font-size: 1.3rem; font-weight: 600; } .kpi .l { font-size: .8rem; color: #4a5568; }
 table { border-collapse: collapse; margin-top: .5rem; font-size: .85rem; }
 th, td { border: 1px solid #e2e8f0; padding: .25rem .55rem; }
 th { background: #edf2f7; text-align: left; }
 td.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
 .note { color: #718096; font-style: italic; }
</style></head><body>
<h1>{{ r.title }}</h1>
<p>As of {{ r.as_of }} · amounts in {{ r.currency }}</p>
<div class="kpis">{% for label, value, kind in r.headline %}
<div class="kpi"><div class="v">{{ fmt(value, kind) }}</div>
<div class="l">{{ label }}</div></div>{% endfor %}
</div>
{% for t in r.tables %}
<section id="{{ t.key }}"><h2>{{ t.title }}</h2>
{% if t.chart %}<figure>{{ svg(t.chart) }}</figure>{% endif %}
{% if t.note %}<p class="note">{{ t.note }}</p>{% endif %}
{% if t.columns %}<table><thead><tr>
{%- for key, head, kind in t.columns %}<th>{{ head }}</th>{% endfor %}</tr></thead>
<tbody>{% for row in t.rows %}<tr>{% for key, head, kind in t.columns -%}
<td{% if kind in numeric %} class="n"{% endif %}>{{ fmt(row.get(key), kind) }}</td>
{%- endfor %}</tr>
{% else %}<tr><td colspan="{{ t.columns|length }}" class="note">none</td></tr>{% endfor %}
</tbody></table>{% endif %}
</section>
{% endfor %}
</body></html>
"""


def _format(value: Any, kind: str, places: int = 2) -> str:
    if value is None:
        return "—"
    if kind == "money" and isinstance(value, Decimal):
        return f"{value:,.{places}f}"
    if kind in ("number", "percent") and isinstance(value, Decimal):
        return f"{value:,.2f}" + (" %" if kind == "percent" else "")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def to_html(report: Report) -> str:
    """The report as one self-contained HTML page."""
    env = Environment(autoescape=select_autoescape(default=True, default_for_string=True))
    places = CURRENCIES.get(report.currency, 2)
    template = env.from_string(_TEMPLATE)
    return template.render(
        r=report, numeric=("money", "number", "percent", "int"),
        fmt=lambda v, k: _format(v, k, places),
        svg=lambda chart: Markup(chart))  # our own SVG: every text in it is escaped on build


#: the first characters a spreadsheet takes as the start of a formula (OWASP "CSV injection")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def as_text_cell(cell: Any) -> Any:
    """Keep a string cell that looks like a formula a string: stored as text (never a ``<f>``
    element) with Excel's quote prefix, so editing the cell does not turn it live either."""
    if isinstance(cell.value, str) and cell.value.startswith(FORMULA_STARTS):
        cell.data_type = "s"
        cell.quotePrefix = True
    return cell


def to_xlsx(report: Report, path: Path) -> None:
    """The report as a formatted workbook: a Summary sheet and one sheet per table. Text that
    starts like a formula (``= + - @``, tab, CR) is written as text (:func:`as_text_cell`)."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    places = CURRENCIES.get(report.currency, 2)
    money_format = "#,##0" + ("." + "0" * places if places else "")
    formats = {"money": money_format, "number": "#,##0.00", "percent": "0.00",
               "int": "0", "date": "yyyy-mm-dd"}
    head_font, head_fill = Font(bold=True, color="FFFFFF"), PatternFill("solid", fgColor="2B6CB0")
    wb = Workbook()
    summary = wb.active
    summary.title = "Summary"
    summary["A1"] = report.title
    summary["A1"].font = Font(bold=True, size=14)
    as_text_cell(summary["A1"])
    summary["A2"], summary["B2"] = "As of", report.as_of
    summary["B2"].number_format = "yyyy-mm-dd"
    summary["A3"], summary["B3"] = "Currency", report.currency
    for row_no, (label, value, kind) in enumerate(report.headline, start=5):
        as_text_cell(summary.cell(row_no, 1, label))
        cell = as_text_cell(summary.cell(row_no, 2, value))
        cell.number_format = formats.get(kind, "General")
    summary.column_dimensions["A"].width = 28
    summary.column_dimensions["B"].width = 18
    used: set[str] = {"Summary"}
    for table in report.tables:
        name = table.title[:31].replace("/", "-")
        for bad in "[]:*?\\":
            name = name.replace(bad, "")
        while name in used:
            name = name[:29] + "_2"
        used.add(name)
        ws = wb.create_sheet(name)
        if not table.columns:
            ws["A1"] = table.note or "no data"
            as_text_cell(ws["A1"])
            continue
        for col, (_, head, _kind) in enumerate(table.columns, start=1):
            cell = as_text_cell(ws.cell(1, col, head))
            cell.font, cell.fill = head_font, head_fill
            cell.alignment = Alignment(horizontal="center")
        for row_no, row in enumerate(table.rows, start=2):
            for col, (key, _head, kind) in enumerate(table.columns, start=1):
                value = row.get(key)
                if isinstance(value, (list, dict)):
                    value = json.dumps(value, default=str)
                cell = as_text_cell(ws.cell(row_no, col, value))
                if kind in formats:
                    cell.number_format = formats[kind]
        for col, (_, head, _kind) in enumerate(table.columns, start=1):
            ws.column_dimensions[get_column_letter(col)].width = max(12, len(head) + 4)
        ws.freeze_panes = "A2"
        ws.auto_filter.ref = f"A1:{get_column_letter(len(table.columns))}{len(table.rows) + 1}"
        if table.note:
            as_text_cell(ws.cell(len(table.rows) + 3, 1, table.note)).font = Font(italic=True)
    _atomic(path, lambda tmp: wb.save(tmp))


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(type(value).__name__)


def to_json(report: Report) -> str:
    """The report's data (headline, every table, and all KPIs) as JSON."""
    return json.dumps({**report.to_json(), "kpis": report.kpis}, default=_jsonable, indent=2,
                      ensure_ascii=False)


def _atomic(path: Path, write: Any) -> None:
    if not path.parent.is_dir():
        raise InputError("the folder does not exist", file=str(path), field="--out",
                         rule="output-folder")
    if path.is_dir():
        raise InputError("is a folder; name the file to write", file=str(path), field="--out",
                         rule="output-file")
    if path.exists() and not path.is_file():  # replacing a FIFO or a device is never meant
        raise InputError("is not a regular file (a FIFO, socket or device); name the file to "
                         "write", file=str(path), field="--out", rule="output-file")
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as err:
        raise InputError(f"cannot write there: {err.strerror or err}", file=str(path),
                         field="--out", rule="output-writable") from None
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except OSError as err:
        raise InputError(f"cannot write: {err.strerror or err}", file=str(path),
                         field="--out", rule="output-writable") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_report(report: Report, fmt: str, path: Path) -> Path:
    """Write ``report`` as ``fmt`` (html, xlsx, json) to ``path``, atomically."""
    if fmt == "xlsx":
        to_xlsx(report, path)
    elif fmt in ("html", "json"):
        content = to_html(report) if fmt == "html" else to_json(report)
        _atomic(path, lambda tmp: Path(tmp).write_text(content, encoding="utf-8"))
    else:
        raise InputError(f"unknown format {fmt!r}; use html, xlsx or json", field="--format",
                         rule="report-format")
    return path
