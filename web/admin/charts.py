"""Small bar charts drawn on the server as inline SVG (no script, no CDN)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def bars(points: Sequence[tuple[str, float]], width: int = 560, height: int = 160) -> dict[str, Any]:
    """Geometry for ``_charts.html``: one bar per (label, value), scaled to the largest value."""
    points = list(points)[-40:]
    top = max((v for _, v in points), default=0) or 1
    slot = width / max(len(points), 1)
    items = []
    for i, (label, value) in enumerate(points):
        h = round((height - 40) * value / top, 1)
        items.append({"label": str(label), "value": value, "x": round(i * slot + slot * 0.1, 1),
                      "y": round(height - 20 - h, 1), "w": round(slot * 0.8, 1), "h": h,
                      "cx": round(i * slot + slot / 2, 1)})
    return {"width": width, "height": height, "bars": items, "max": top}
