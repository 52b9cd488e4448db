"""Server-drawn bar charts for the usage page: geometry only; the template writes the SVG."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from leadgate.usage.schemas import UsagePoint

WIDTH = 720
HEIGHT = 160
# One label a day on the hourly chart, one per 15 days on the daily one: equal columns.
LABEL_EVERY = {168: 24, 90: 15}


@dataclass(frozen=True, slots=True)
class Segment:
    kind: str  # ok, client, limited, server: the CSS class of the rectangle
    y: float
    height: float


@dataclass(frozen=True, slots=True)
class Bar:
    x: float
    width: float
    title: str
    segments: list[Segment] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Chart:
    title: str
    bars: list[Bar]
    peak: int
    total: int
    labels: list[str]  # evenly spaced under the chart, one per `every` bars
    width: int = WIDTH
    height: int = HEIGHT


def bar_chart(title: str, points: Sequence[UsagePoint], *, hourly: bool) -> Chart:
    """One bar per point, stacked: successes, 4xx (without 429), 429, 5xx."""
    peak = max((p.total for p in points), default=0)
    scale = HEIGHT / peak if peak else 0.0
    step = WIDTH / max(len(points), 1)
    gap = min(1.0, step / 4)
    bars = []
    for index, point in enumerate(points):
        parts = [
            ("ok", point.success),
            ("client", point.client_errors - point.rate_limited),
            ("limited", point.rate_limited),
            ("server", point.server_errors),
        ]
        top = float(HEIGHT)
        segments = []
        for kind, count in parts:
            if count <= 0:
                continue
            height = count * scale
            top -= height
            segments.append(Segment(kind, round(top, 2), round(height, 2)))
        moment = point.start.strftime("%Y-%m-%d %H:00" if hourly else "%Y-%m-%d")
        title_text = (
            f"{moment} UTC: {point.total} requests ({point.success} ok, "
            f"{point.client_errors} 4xx of which {point.rate_limited} 429, "
            f"{point.server_errors} 5xx)"
        )
        bars.append(
            Bar(round(index * step + gap / 2, 2), round(step - gap, 2), title_text, segments)
        )
    every = LABEL_EVERY.get(len(points), max(len(points) // 6, 1))
    labels = [p.start.strftime("%b %d") for i, p in enumerate(points) if i % every == 0]
    return Chart(title, bars, peak, sum(p.total for p in points), labels)
