"""Inline SVG charts for the HTML reports: no scripts, no external assets, readable offline.

Coordinates are floats (pixels); the amounts they draw stay ``Decimal`` everywhere else.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from html import escape

PALETTE = ("#2b6cb0", "#dd6b20", "#38a169", "#805ad5", "#c53030", "#718096")


def _num(value: Decimal | int | None) -> float:  # ok: a pixel position, not money
    return float(value or 0)  # ok: a pixel position, not money


def _legend(names: Sequence[str], x: float, y: float) -> str:  # ok: pixel coordinates
    parts = []
    for k, name in enumerate(names):
        parts.append(f'<rect x="{x + k * 140}" y="{y}" width="10" height="10" '
                     f'fill="{PALETTE[k % len(PALETTE)]}"/><text x="{x + k * 140 + 14}" '
                     f'y="{y + 9}" font-size="11">{escape(name)}</text>')
    return "".join(parts)


def bar_chart(title: str, labels: Sequence[str], series: dict[str, Sequence[Decimal | None]],
              *, width: int = 640, height: int = 260) -> str:
    """Grouped bars: one group per label, one bar per series."""
    top, bottom, left, right = 30, 40, 70, 10
    plot_w, plot_h = width - left - right, height - top - bottom
    values = [_num(v) for vs in series.values() for v in vs]
    peak = max([v for v in values if v > 0] or [1.0])
    group_w = plot_w / max(len(labels), 1)
    bar_w = group_w * 0.8 / max(len(series), 1)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" '
           f'height="{height}" viewBox="0 0 {width} {height}"><title>{escape(title)}</title>',
           f'<text x="{left}" y="16" font-size="13" font-weight="bold">{escape(title)}</text>',
           f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" '
           'stroke="#999"/>',
           f'<text x="{left - 6}" y="{top + 4}" font-size="10" text-anchor="end">'
           f'{peak:,.0f}</text>']
    for s_no, (name, vs) in enumerate(series.items()):
        for k, v in enumerate(vs):
            h = max(_num(v), 0) / peak * plot_h
            x = left + k * group_w + group_w * 0.1 + s_no * bar_w
            out.append(f'<rect x="{x:.1f}" y="{top + plot_h - h:.1f}" width="{bar_w:.1f}" '
                       f'height="{h:.1f}" fill="{PALETTE[s_no % len(PALETTE)]}">'
                       f'<title>{escape(name)} {escape(labels[k])}: {_num(v):,.2f}</title></rect>')
    for k, label in enumerate(labels):
        out.append(f'<text x="{left + k * group_w + group_w / 2:.1f}" y="{top + plot_h + 14}" '
                   f'font-size="10" text-anchor="middle">{escape(label)}</text>')
    out.append(_legend(list(series), left, height - 14))
    out.append("</svg>")
    return "".join(out)


def line_chart(title: str, labels: Sequence[str], series: dict[str, Sequence[Decimal | None]],
               *, width: int = 640, height: int = 260) -> str:
    """Lines over time (labels oldest first); a ``None`` value breaks the line."""
    top, bottom, left, right = 30, 40, 50, 30
    plot_w, plot_h = width - left - right, height - top - bottom
    values = [_num(v) for vs in series.values() for v in vs if v is not None]
    peak = max(values or [1.0]) or 1.0
    step = plot_w / max(len(labels) - 1, 1)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" '
           f'height="{height}" viewBox="0 0 {width} {height}"><title>{escape(title)}</title>',
           f'<text x="{left}" y="16" font-size="13" font-weight="bold">{escape(title)}</text>',
           f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" '
           'stroke="#999"/>',
           f'<text x="{left - 6}" y="{top + 4}" font-size="10" text-anchor="end">'
           f'{peak:,.0f}</text>']
    for s_no, (name, vs) in enumerate(series.items()):
        colour = PALETTE[s_no % len(PALETTE)]
        points = [(left + k * step, top + plot_h - _num(v) / peak * plot_h, v)
                  for k, v in enumerate(vs) if v is not None]
        if len(points) > 1:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y, _ in points)
            out.append(f'<polyline points="{path}" fill="none" stroke="{colour}" '
                       'stroke-width="2"/>')
        for x, y, v in points:
            out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}">'
                       f'<title>{escape(name)}: {v}</title></circle>')
    for k, label in enumerate(labels):
        out.append(f'<text x="{left + k * step:.1f}" y="{top + plot_h + 14}" font-size="10" '
                   f'text-anchor="middle">{escape(label)}</text>')
    out.append(_legend(list(series), left, height - 14))
    out.append("</svg>")
    return "".join(out)
