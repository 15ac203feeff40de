"""Horizontal bar charts drawn on the server as SVG: a label and its count above each bar, bar widths in percent
so a chart fills any width without scaling its text. templates/shipments/partials/_chart_bars.html draws them."""

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from ior_platform.core.templatetags.ui import TONES
from shipments.overview import Tally

ROW_HEIGHT = 36
LABEL_BASELINE = 14
BAR_OFFSET = 21
BAR_HEIGHT = 10
# The badge tones as bar fills, darkened where Bootstrap's own (info, warning) would fall below the 3:1 contrast
# against white that graphics need.
TONE_FILLS = {
    "primary": "#0d6efd",
    "secondary": "#6c757d",
    "success": "#198754",
    "info": "#0b8aa3",
    "warning": "#b37a00",
    "danger": "#dc3545",
    "dark": "#343a40",
}
DEFAULT_FILL = "#3d6a99"


@dataclass(frozen=True)
class Bar:
    label: str
    count: int
    width: str  # of the chart's width, e.g. "62.5%"
    fill: str
    href: str
    top: int
    label_y: int
    bar_y: int


@dataclass(frozen=True)
class BarChart:
    id: str
    title: str
    description: str
    key_heading: str
    bars: list[Bar]
    height: int
    bar_height: int = BAR_HEIGHT
    row_height: int = ROW_HEIGHT


def status_fill(status: str) -> str:
    return TONE_FILLS.get(TONES.get(status, ""), DEFAULT_FILL)


def bar_chart(
    *,
    chart_id: str,
    title: str,
    key_heading: str,
    tallies: Iterable[Tally],
    fill: Callable[[Tally], str] = lambda tally: DEFAULT_FILL,
    href: Callable[[Tally], str] = lambda tally: "",
) -> BarChart:
    tallies = list(tallies)
    largest = max((t.count for t in tallies), default=0)
    bars = []
    for row, tally in enumerate(tallies):
        # A bar of one among thousands still shows as a sliver.
        percent = max(100 * tally.count / largest, 0.75) if largest else 0
        top = row * ROW_HEIGHT
        bars.append(
            Bar(
                label=tally.label,
                count=tally.count,
                width=f"{percent:.2f}%",
                fill=fill(tally),
                href=href(tally),
                top=top,
                label_y=top + LABEL_BASELINE,
                bar_y=top + BAR_OFFSET,
            )
        )
    total = sum(t.count for t in tallies)
    parts = ", ".join(f"{t.label}: {t.count}" for t in tallies)
    description = f"{total} shipment{'s' if total != 1 else ''} in all. {parts}." if tallies else "No shipments."
    return BarChart(
        id=chart_id,
        title=title,
        description=description,
        key_heading=key_heading,
        bars=bars,
        height=max(len(bars) * ROW_HEIGHT - (ROW_HEIGHT - BAR_OFFSET - BAR_HEIGHT), 0),
    )
