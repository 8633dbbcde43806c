"""Small bar charts drawn as SVG on the server: no chart library, nothing loaded at run time.

Each chart is an ``<svg role="img">`` with a title and a description naming every value,
and the page shows the same numbers in a table, so a screen reader loses nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from markupsafe import Markup

WIDTH = 640
BAR_AREA_HEIGHT = 180
TOP = 16
BOTTOM = 56
LEFT = 44
# Colours with at least 3:1 contrast against white (WCAG non-text contrast).
COLOURS = ("#1f5fa8", "#b3541e")


@dataclass(frozen=True)
class Series:
    """One named row of values, one per label."""

    name: str
    values: Sequence[float]


def bar_chart(title: str, labels: Sequence[str], series: Sequence[Series]) -> Markup:
    """Grouped vertical bars, one group per label and one bar per series.

    Args:
        title: What the chart shows (also its accessible name).
        labels: The category under each group (days, departments...).
        series: One or two rows of values, as long as ``labels``.

    Returns:
        The SVG element, safe to put into a page.
    """
    height = TOP + BAR_AREA_HEIGHT + BOTTOM
    top_value = max([v for s in series for v in s.values] + [1.0])
    slots = max(len(labels), 1)
    slot_width = (WIDTH - LEFT - 8) / slots
    bar_width = max(slot_width * 0.8 / max(len(series), 1), 2.0)
    parts: list[str] = []
    base_y = TOP + BAR_AREA_HEIGHT
    parts.append(f'<line x1="{LEFT}" y1="{base_y}" x2="{WIDTH - 4}" y2="{base_y}" stroke="#333" />')
    parts.append(
        f'<text x="{LEFT - 6}" y="{TOP + 10}" text-anchor="end" font-size="12">'
        f"{escape(_number(top_value))}</text>"
    )
    parts.append(f'<text x="{LEFT - 6}" y="{base_y}" text-anchor="end" font-size="12">0</text>')
    described: list[str] = []
    for index, label in enumerate(labels):
        x0 = LEFT + index * slot_width + slot_width * 0.1
        values_said: list[str] = []
        for number, row in enumerate(series):
            value = row.values[index] if index < len(row.values) else 0.0
            bar_height = BAR_AREA_HEIGHT * value / top_value
            x = x0 + number * bar_width
            parts.append(
                f'<rect x="{x:.1f}" y="{base_y - bar_height:.1f}" width="{bar_width - 1:.1f}" '
                f'height="{bar_height:.1f}" fill="{COLOURS[number % len(COLOURS)]}">'
                f"<title>{escape(label)}: {escape(row.name)} {escape(_number(value))}</title>"
                "</rect>"
            )
            values_said.append(f"{row.name} {_number(value)}")
        if slots <= 16 or index % 2 == 0:
            parts.append(
                f'<text x="{x0 + slot_width * 0.4:.1f}" y="{base_y + 14}" font-size="11" '
                f'text-anchor="end" transform="rotate(-35 {x0 + slot_width * 0.4:.1f} '
                f'{base_y + 14})">{escape(label[:14])}</text>'
            )
        described.append(f"{label}: {', '.join(values_said)}")
    legend_x = LEFT
    for number, row in enumerate(series):
        if len(series) < 2:
            break
        parts.append(
            f'<rect x="{legend_x}" y="{height - 14}" width="10" height="10" '
            f'fill="{COLOURS[number % len(COLOURS)]}" />'
            f'<text x="{legend_x + 14}" y="{height - 5}" font-size="12">{escape(row.name)}</text>'
        )
        legend_x += 120
    description = "; ".join(described) or "no data"
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" '
        f'class="chart" role="img" aria-label="{escape(title)}">'
        f"<title>{escape(title)}</title><desc>{escape(description)}</desc>"
        + "".join(parts)
        + "</svg>"
    )
    return Markup(svg)  # noqa: S704 (every interpolated text above is escaped)


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.1f}"
