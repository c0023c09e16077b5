"""Line charts as standalone SVG text (for the HTML report; no plotting library needed)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from html import escape
from typing import Sequence


@dataclass(frozen=True)
class Series:
    """One line: points (x, y) with None/NaN gaps; markers on every point when ``markers``."""

    label: str
    x: Sequence[float]
    y: Sequence[float | None]
    color: str
    width: float = 1.8
    opacity: float = 1.0
    markers: bool = False


def nice_ticks(low: float, high: float, count: int = 5, whole: bool = False) -> list[float]:
    """About ``count`` round tick values (steps of 1, 2 or 5 times a power of ten) covering [low, high];
    whole numbers only with ``whole``."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return []
    if high <= low:
        high = low + (abs(low) or 1.0)
    raw = (high - low) / max(count, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    if whole:
        step = max(step, 1)
    first = math.floor(low / step + 1e-9)
    last = math.ceil(high / step - 1e-9)
    return [round(i * step, 12) for i in range(first, last + 1)]


def _number(value: float) -> str:
    return f"{value:g}" if abs(value) >= 1e-4 or value == 0 else f"{value:.1e}"


def line_chart(series: Sequence[Series], *, title: str, x_label: str, y_label: str, width: int = 560,
               height: int = 300, y_min: float | None = None, y_max: float | None = None,
               y_format: str = "{}", whole_x: bool = False) -> str:
    """An SVG line chart with axes, round ticks, a legend and a title; empty series are skipped.

    ``whole_x`` keeps x ticks on whole numbers (epochs)."""
    points = [(x, y) for s in series for x, y in zip(s.x, s.y) if _finite(x) and _finite(y)]
    left, right, top, bottom = 62, 16, 34, 46
    plot_w, plot_h = width - left - right, height - top - bottom
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11" role="img">',
             f'<title>{escape(title)}</title>',
             f'<text x="{left}" y="18" font-size="13" font-weight="bold">{escape(title)}</text>']
    if not points:
        parts.append(f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle" fill="#777">no data</text></svg>')
        return "".join(parts)
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    x_ticks = nice_ticks(min(xs), max(xs), whole=whole_x)
    y_ticks = nice_ticks(min(ys) if y_min is None else y_min, max(ys) if y_max is None else y_max)
    x0, x1 = x_ticks[0], x_ticks[-1]
    y0, y1 = y_ticks[0], y_ticks[-1]

    def px(x: float) -> float:
        return left + (x - x0) / ((x1 - x0) or 1) * plot_w

    def py(y: float) -> float:
        return top + plot_h - (y - y0) / ((y1 - y0) or 1) * plot_h

    for value in y_ticks:
        y = py(value)
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" stroke="#e4e4e4"/>'
                     f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" fill="#444">'
                     f'{escape(y_format.format(_number(value)))}</text>')
    for value in x_ticks:
        x = px(value)
        parts.append(f'<line x1="{x:.1f}" y1="{top + plot_h}" x2="{x:.1f}" y2="{top + plot_h + 4}" stroke="#888"/>'
                     f'<text x="{x:.1f}" y="{top + plot_h + 16}" text-anchor="middle" fill="#444">'
                     f'{escape(_number(value))}</text>')
    parts.append(f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#888"/>')
    parts.append(f'<text x="{left + plot_w / 2}" y="{height - 8}" text-anchor="middle" fill="#222">'
                 f'{escape(x_label)}</text>')
    parts.append(f'<text transform="translate(14 {top + plot_h / 2}) rotate(-90)" text-anchor="middle" '
                 f'fill="#222">{escape(y_label)}</text>')
    drawn = [s for s in series if any(_finite(x) and _finite(y) for x, y in zip(s.x, s.y))]
    # The legend sits right-aligned above the plot, never over the data.
    legend_x = width - right - sum(28 + 6.5 * len(s.label) for s in drawn)
    for s in drawn:
        path = _path(s, px, py)
        if not path:
            continue
        parts.append(f'<path d="{path}" fill="none" stroke="{s.color}" stroke-width="{s.width}" '
                     f'stroke-opacity="{s.opacity}" stroke-linejoin="round"/>')
        if s.markers:
            parts += [f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="2.6" fill="{s.color}"/>'
                      for x, y in zip(s.x, s.y) if _finite(x) and _finite(y)]
        parts.append(f'<line x1="{legend_x:.1f}" y1="14" x2="{legend_x + 16:.1f}" y2="14" '
                     f'stroke="{s.color}" stroke-width="3" stroke-opacity="{max(s.opacity, 0.6)}"/>'
                     f'<text x="{legend_x + 20:.1f}" y="18" fill="#222">{escape(s.label)}</text>')
        legend_x += 28 + 6.5 * len(s.label)
    parts.append("</svg>")
    return "".join(parts)


def _finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


def _path(s: Series, px, py) -> str:
    """SVG path data, starting a new sub-path after every gap."""
    commands, pen_down = [], False
    for x, y in zip(s.x, s.y):
        if not (_finite(x) and _finite(y)):
            pen_down = False
            continue
        commands.append(f"{'L' if pen_down else 'M'}{px(x):.1f} {py(y):.1f}")
        pen_down = True
    return " ".join(commands)


__all__ = ["Series", "line_chart", "nice_ticks"]
