"""A sketch map of report coordinates as SVG: works with no map tiles at all.

The reports' points are placed in their own bounding box (north up, longitude scaled by the
cosine of the latitude so distances look right); each point links to its report. Nothing is
fetched from a tile server, so the page works offline and leaks no reader's location.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

from markupsafe import Markup

from civicdesk_backoffice.public._reports import PublicReport

WIDTH = 520
HEIGHT = 360
MARGIN = 20


def sketch(reports: Sequence[PublicReport]) -> Markup | None:
    """The SVG of the reports that have coordinates, or None when none has."""
    placed = [(r, r.lat, r.long) for r in reports if r.lat is not None and r.long is not None]
    if not placed:
        return None
    lats = [lat for _, lat, _ in placed]
    longs = [long for _, _, long in placed]
    mid = math.cos(math.radians(sum(lats) / len(lats)))
    span_x = max((max(longs) - min(longs)) * mid, 1e-4)
    span_y = max(max(lats) - min(lats), 1e-4)
    scale = min((WIDTH - 2 * MARGIN) / span_x, (HEIGHT - 2 * MARGIN) / span_y)
    # Centred in the box: one report, or several close together, sit in the middle.
    offset_x = (WIDTH - 2 * MARGIN - (max(longs) - min(longs)) * mid * scale) / 2
    offset_y = (HEIGHT - 2 * MARGIN - (max(lats) - min(lats)) * scale) / 2
    dots: list[str] = []
    for report, lat, long in placed:
        x = MARGIN + offset_x + (long - min(longs)) * mid * scale
        y = HEIGHT - MARGIN - offset_y - (lat - min(lats)) * scale
        label = f"{report.service_request_id}: {report.service_name}"
        dots.append(
            f'<a href="/reports/{escape(report.service_request_id)}" aria-label="{escape(label)}">'
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="7"><title>{escape(label)}</title></circle></a>'
        )
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" class="map">'
        f'<text x="{WIDTH - MARGIN}" y="{MARGIN}" text-anchor="end" font-size="14" '
        f'aria-hidden="true">N ↑</text>' + "".join(dots) + "</svg>"
    )
    return Markup(svg)  # noqa: S704 (every interpolated text above is escaped)
