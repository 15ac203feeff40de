"""The temperature chart of a shipment, drawn on the server as SVG (no JavaScript): each logger's curve, the allowed
range as a shaded band with its limits labelled, the excursions as red intervals with the curve drawn red where it
left the range, a time axis in the reader's time zone (UTC in the dossier) and a °C axis.

`build_chart` computes the geometry (tested on its own); `render_svg` writes it out, escaping every text. A log of a
million readings is drawn from at most one bucket per pixel column (analysis.envelope keeps each bucket's lowest and
highest reading), so a one-minute spike in a two-year log still shows."""

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo

import numpy as np
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from shipments.choices import ExcursionDirection
from shipments.coldchain.analysis import envelope
from shipments.coldchain.ranges import TemperatureRange

# Colour-blind-distinguishable line colours, none of them red (red marks an excursion), all at 4.5:1 or more on white.
SERIES_COLOURS = ("#1f5fbf", "#7a3fb0", "#0f7b6c", "#8a5a00", "#3d4650", "#b0306a")
EXCURSION_COLOUR = "#c62828"
BAND_COLOUR = "#198754"
LIMIT_COLOUR = "#146c43"
AXIS_COLOUR = "#6c757d"
GRID_COLOUR = "#dee2e6"
TEXT_COLOUR = "#495057"
FONT_SIZE = 11
LINE_HEIGHT = 16
# An excursion of a few minutes in a log of months would be narrower than a pixel.
MIN_EXCURSION_WIDTH = 2.0
# Approximate advance of one character at FONT_SIZE, to lay out the legend without measuring text.
CHAR_WIDTH = 6.4
LABEL_MAX = 40
MINUS = "\u2212"

MINUTE, HOUR, DAY = 60, 3600, 86400
# Candidate distances between time ticks: (seconds as an estimate, unit, how many of the unit).
TIME_STEPS = (
    *((n * MINUTE, "second", n * MINUTE) for n in (1, 2, 5, 10, 15, 30)),
    *((n * HOUR, "second", n * HOUR) for n in (1, 2, 3, 6, 12)),
    *((n * DAY, "day", n) for n in (1, 2, 7, 14)),
    *((n * 30.44 * DAY, "month", n) for n in (1, 2, 3, 6)),
    *((n * 365.25 * DAY, "year", n) for n in (1, 2, 5, 10, 20, 50, 100)),
)
TEMPERATURE_STEPS = (0.1, 0.2, 0.25, 0.5, 1, 2, 2.5, 5, 10, 20, 25, 50, 100, 200, 250, 500)


@dataclass(frozen=True)
class Trace:
    """One logger's readings: int64 seconds since the epoch (UTC) and float64 °C, in time order."""

    label: str
    times: np.ndarray
    temperatures: np.ndarray


@dataclass(frozen=True)
class Interval:
    """An excursion to highlight, in seconds since the epoch (UTC)."""

    start: int
    end: int
    direction: str
    peak: float


@dataclass(frozen=True)
class Box:
    x: float
    y: float
    width: float
    height: float

    @property
    def right(self) -> float:
        return self.x + self.width

    @property
    def bottom(self) -> float:
        return self.y + self.height


@dataclass(frozen=True)
class TimeTick:
    seconds: int
    x: float
    label: str
    sublabel: str = ""


@dataclass(frozen=True)
class TemperatureTick:
    celsius: float
    y: float
    label: str


@dataclass(frozen=True)
class Limit:
    celsius: float
    y: float
    label: str
    label_y: float


@dataclass(frozen=True)
class Highlight:
    box: Box
    title: str
    count: int


@dataclass(frozen=True)
class Curve:
    label: str
    colour: str
    path: str
    points: int


@dataclass(frozen=True)
class LegendEntry:
    kind: str  # "line", "band" or "excursion"
    label: str
    colour: str
    x: float
    y: float


@dataclass(frozen=True)
class Chart:
    id: str
    width: int
    height: int
    plot: Box
    title: str
    description: str
    start: int
    end: int
    low: float
    high: float
    band: Box | None
    limits: tuple[Limit, ...]
    highlights: tuple[Highlight, ...]
    time_ticks: tuple[TimeTick, ...]
    temperature_ticks: tuple[TemperatureTick, ...]
    time_caption: str
    curves: tuple[Curve, ...]
    legend: tuple[LegendEntry, ...]
    font_family: str

    def x(self, seconds: float) -> float:
        return self.plot.x + (seconds - self.start) * self.plot.width / (self.end - self.start)

    def y(self, celsius: float) -> float:
        return self.plot.bottom - (celsius - self.low) * self.plot.height / (self.high - self.low)


def celsius(value: float) -> str:
    """8 → "8", −2.5 → "−2.5", with a true minus sign."""
    text = f"{round(value, 2):g}"
    return MINUS + text[1:] if text.startswith("-") else text


def zone_name(tz: tzinfo) -> str:
    return "UTC" if tz is UTC else str(getattr(tz, "key", None) or tz)


def temperature_ticks(low: float, high: float, *, max_ticks: int = 6) -> tuple[float, float, list[float]]:
    """A step from 1-2-2.5-5 and the domain [low, high] widened to whole steps, with the ticks in it."""
    span = max(high - low, 1e-9)
    step = next((s for s in TEMPERATURE_STEPS if span / s <= max_ticks), TEMPERATURE_STEPS[-1])
    first = math.floor(low / step + 1e-9) * step
    last = math.ceil(high / step - 1e-9) * step
    count = round((last - first) / step)
    return first, last, [round(first + i * step, 6) for i in range(count + 1)]


def _months_from(moment: datetime, months: int) -> datetime:
    index = moment.year * 12 + moment.month - 1 + months
    return moment.replace(year=index // 12, month=index % 12 + 1)


def time_ticks(start: int, end: int, tz: tzinfo, *, max_ticks: int = 8) -> list[tuple[int, str, str]]:
    """Ticks at round moments of the reader's clock between `start` and `end` (seconds since the epoch): whole
    minutes or hours, midnights, firsts of months or of years, as (seconds, label, sublabel). The sublabel carries
    the date (or the year) where it changes from the tick before."""
    span = max(end - start, 1)
    _, unit, amount = next(
        (step for step in TIME_STEPS if span / step[0] <= max_ticks), TIME_STEPS[-1]
    )  # the finest step that fits
    local_start = datetime.fromtimestamp(start, tz)
    midnight = local_start.replace(hour=0, minute=0, second=0, microsecond=0)
    candidates: list[datetime] = []
    if unit == "second":
        # Wall-clock arithmetic from the day's midnight: ticks stay on round local times across a DST change.
        elapsed = (local_start.replace(tzinfo=None) - midnight.replace(tzinfo=None)).total_seconds()
        index = int(elapsed // amount)
        while len(candidates) < max_ticks * 3 + 3:
            moment = midnight + timedelta(seconds=index * amount)
            index += 1
            if moment.timestamp() > end:
                break
            candidates.append(moment)
    elif unit == "day":
        first = midnight
        if amount == 7:
            first -= timedelta(days=first.weekday())  # weeks start on Mondays
        index = 0
        while len(candidates) < max_ticks * 3 + 3:
            moment = first + timedelta(days=index * amount)
            index += 1
            if moment.timestamp() > end:
                break
            candidates.append(moment)
    else:
        months = amount if unit == "month" else amount * 12
        moment = midnight.replace(day=1) if unit == "month" else midnight.replace(month=1, day=1)
        index = moment.year * 12 + moment.month - 1
        moment = _months_from(moment, -(index % months))
        while moment.timestamp() <= end and len(candidates) < max_ticks * 3 + 3:
            candidates.append(moment)
            moment = _months_from(moment, months)
    ticks, seen, previous = [], set(), None
    for candidate in candidates:
        seconds = int(candidate.timestamp())
        if seconds < start or seconds in seen:
            continue
        seen.add(seconds)
        local = datetime.fromtimestamp(seconds, tz)
        if unit == "second":
            label = f"{local:%H:%M}"
            sublabel = f"{local:%-d %b}" if previous is None or previous.date() != local.date() else ""
        elif unit == "day":
            label = f"{local:%-d %b}"
            sublabel = f"{local:%Y}" if previous is None or previous.year != local.year else ""
        elif unit == "month":
            label = f"{local:%b}"
            sublabel = f"{local:%Y}" if previous is None or previous.year != local.year else ""
        else:
            label, sublabel = f"{local:%Y}", ""
        ticks.append((seconds, label, sublabel))
        previous = local
    return ticks


def _moment(seconds: int, tz: tzinfo) -> str:
    local = datetime.fromtimestamp(seconds, tz)
    return f"{local:%-d %b %Y %H:%M}"


def _duration(seconds: float) -> str:
    minutes = seconds / 60
    if minutes < 120:
        return f"{minutes:.0f} min"
    if minutes < 48 * 60:
        return f"{minutes / 60:.1f} h"
    return f"{minutes / 1440:.1f} days"


def _interval_text(interval: Interval, tz: tzinfo) -> str:
    direction = "above" if interval.direction == ExcursionDirection.ABOVE else "below"
    peak = "highest" if interval.direction == ExcursionDirection.ABOVE else "lowest"
    return (
        f"{direction} range from {_moment(interval.start, tz)} to {_moment(interval.end, tz)} "
        f"({_duration(interval.end - interval.start)}), {peak} {celsius(interval.peak)} °C"
    )


def _short(label: str) -> str:
    return label if len(label) <= LABEL_MAX else label[: LABEL_MAX - 1] + "…"


def _legend(traces: Sequence[Trace], band: bool, excursions: bool, width: int, left: float, right: float):
    items = [("line", _short(t.label), SERIES_COLOURS[i % len(SERIES_COLOURS)]) for i, t in enumerate(traces)]
    if band:
        items.append(("band", "Allowed range", BAND_COLOUR))
    if excursions:
        items.append(("excursion", "Excursion", EXCURSION_COLOUR))
    entries, x, row = [], left, 0
    for kind, label, colour in items:
        advance = 22 + len(label) * CHAR_WIDTH + 16
        if x > left and x + advance - 16 > width - right:
            x, row = left, row + 1
        entries.append(LegendEntry(kind=kind, label=label, colour=colour, x=x, y=8 + row * LINE_HEIGHT))
        x += advance
    return entries, row + 1


def _curve_path(trace: Trace, start: int, scale_x: float, plot: Box, low: float, scale_y: float, points: int) -> tuple:
    times, lows, highs = envelope(trace.times, trace.temperatures, points=points)
    count = times.size
    if count == 0:
        return "", 0
    x = plot.x + (times - start) * scale_x
    y_low = plot.bottom - (lows - low) * scale_y
    y_high = plot.bottom - (highs - low) * scale_y
    middle = (y_low + y_high) / 2
    # Within a bucket, go first to the end farther from the next bucket: the line then covers the bucket's whole
    # span and joins the next without crossing it.
    rising = np.empty(count, dtype=bool)
    rising[:-1] = middle[1:] < middle[:-1]  # smaller y is higher on screen
    rising[-1] = False
    first = np.where(rising, y_low, y_high)
    second = np.where(rising, y_high, y_low)
    xs = np.repeat(x, 2)
    ys = np.column_stack((first, second)).ravel()
    keep = np.ones(count * 2, dtype=bool)
    keep[1::2] = np.abs(first - second) >= 0.05
    gaps = np.zeros(count, dtype=bool)
    if count > 2:
        steps = np.diff(times)
        gaps[1:] = steps > 5 * max(float(np.median(steps)), 1.0)
    moves = np.zeros(count * 2, dtype=bool)
    moves[0::2] = gaps
    moves[0] = True
    xs, ys, moves = xs[keep], ys[keep], moves[keep]
    parts = []
    for index, (px, py, move) in enumerate(zip(xs.tolist(), ys.tolist(), moves.tolist(), strict=True)):
        lone = move and (index + 1 == len(xs) or moves[index + 1])
        parts.append(f"M{px:.1f} {py:.1f}" + ("h0.01" if lone else "") if move else f"L{px:.1f} {py:.1f}")
    return "".join(parts), int(keep.sum())


def _merged_highlights(intervals: Sequence[Interval], chart_x, plot: Box, tz: tzinfo) -> list[Highlight]:
    """One box per excursion, at least MIN_EXCURSION_WIDTH wide; excursions closer than a pixel share a box, so a
    log with thousands of them still draws at most one box per pixel column."""
    boxes: list[list] = []
    for interval in sorted(intervals, key=lambda i: (i.start, i.end)):
        left = max(chart_x(interval.start), plot.x)
        right = min(max(chart_x(interval.end), left + MIN_EXCURSION_WIDTH), plot.right)
        left = min(left, right - MIN_EXCURSION_WIDTH)
        if boxes and left <= boxes[-1][1] + 1:
            boxes[-1][1] = max(boxes[-1][1], right)
            boxes[-1][2].append(interval)
        else:
            boxes.append([left, right, [interval]])
    highlights = []
    for left, right, members in boxes:
        if len(members) == 1:
            title = "Excursion " + _interval_text(members[0], tz)
        else:
            title = (
                f"{len(members)} excursions from {_moment(members[0].start, tz)} to "
                f"{_moment(max(m.end for m in members), tz)}"
            )
        box = Box(x=left, y=plot.y, width=right - left, height=plot.height)
        highlights.append(Highlight(box=box, title=title, count=len(members)))
    return highlights


def build_chart(
    *,
    traces: Sequence[Trace],
    temperature_range: TemperatureRange,
    excursions: Sequence[Interval] = (),
    tz: tzinfo = UTC,
    title: str,
    width: int = 800,
    height: int = 300,
    points: int | None = None,
    chart_id: str = "temperature-chart",
    font_family: str = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif",
) -> Chart:
    traces = [t for t in traces if np.asarray(t.times).size]
    if not traces:
        raise ValueError("no readings to draw")
    low_limit, high_limit = temperature_range.low, temperature_range.high
    band = low_limit is not None or high_limit is not None

    legend, legend_rows = _legend(traces, band, bool(excursions), width, left=52, right=12)
    plot_top = 8 + legend_rows * LINE_HEIGHT + 18
    plot = Box(x=52, y=plot_top, width=width - 52 - 14, height=height - plot_top - 50)

    start = min(int(t.times[0]) for t in traces)
    end = max(int(t.times[-1]) for t in traces)
    if end <= start:
        start, end = start - 30 * MINUTE, end + 30 * MINUTE

    data_low = min(float(np.min(t.temperatures)) for t in traces)
    data_high = max(float(np.max(t.temperatures)) for t in traces)
    lows = [data_low, *(v for v in (low_limit, high_limit) if v is not None)]
    highs = [data_high, *(v for v in (low_limit, high_limit) if v is not None)]
    low, high = min(lows), max(highs)
    pad = max((high - low) * 0.08, 0.5)
    low, high, ticks = temperature_ticks(low - pad, high + pad, max_ticks=max(int(plot.height // 34), 3))

    scale_x = plot.width / (end - start)
    scale_y = plot.height / (high - low)

    def y_of(value: float) -> float:
        return plot.bottom - (value - low) * scale_y

    def x_of(seconds: float) -> float:
        return plot.x + (seconds - start) * scale_x

    band_box = None
    limits = []
    if band:
        top = y_of(high_limit) if high_limit is not None else plot.y
        bottom = y_of(low_limit) if low_limit is not None else plot.bottom
        band_box = Box(x=plot.x, y=top, width=plot.width, height=max(bottom - top, 0.0))
        if high_limit is not None:
            y = y_of(high_limit)
            limits.append(Limit(high_limit, y, f"upper limit {celsius(high_limit)} °C", max(y - 4, plot.y + FONT_SIZE)))
        if low_limit is not None:
            y = y_of(low_limit)
            limits.append(
                Limit(low_limit, y, f"lower limit {celsius(low_limit)} °C", min(y + FONT_SIZE + 2, plot.bottom - 3))
            )

    bucket_points = points or max(min(1000, int(plot.width)), 2)
    curves = []
    for index, trace in enumerate(traces):
        path, count = _curve_path(trace, start, scale_x, plot, low, scale_y, bucket_points)
        curves.append(
            Curve(label=trace.label, colour=SERIES_COLOURS[index % len(SERIES_COLOURS)], path=path, points=count)
        )

    highlights = _merged_highlights(excursions, x_of, plot, tz)
    max_time_ticks = max(int(plot.width // 78), 2)
    time_marks = tuple(
        TimeTick(seconds=s, x=x_of(s), label=label, sublabel=sub)
        for s, label, sub in time_ticks(start, end, tz, max_ticks=max_time_ticks)
    )
    temperature_marks = tuple(TemperatureTick(celsius=v, y=y_of(v), label=celsius(v)) for v in ticks)

    zone = zone_name(tz)
    readings = sum(int(np.asarray(t.times).size) for t in traces)
    loggers = ", ".join(t.label for t in traces)
    description = (
        f"{readings:,} readings of {loggers} from {_moment(start, tz)} to {_moment(end, tz)} ({zone}), "
        f"between {celsius(data_low)} and {celsius(data_high)} °C, against the allowed range {temperature_range}. "
    )
    if excursions:
        listed = sorted(excursions, key=lambda i: i.start)
        description += f"{len(listed)} excursion{'s' if len(listed) != 1 else ''}: " + "; ".join(
            _interval_text(i, tz) for i in listed[:10]
        )
        description += f"; and {len(listed) - 10} more." if len(listed) > 10 else "."
    else:
        description += "No excursion."
    return Chart(
        id=chart_id,
        width=width,
        height=height,
        plot=plot,
        title=title,
        description=description,
        start=start,
        end=end,
        low=low,
        high=high,
        band=band_box,
        limits=tuple(limits),
        highlights=tuple(highlights),
        time_ticks=time_marks,
        temperature_ticks=temperature_marks,
        time_caption=f"Time ({zone})",
        curves=tuple(curves),
        legend=tuple(legend),
        font_family=font_family,
    )


def _f(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".") if value != int(value) else str(int(value))


def render_svg(chart: Chart, *, css_class: str = "temperature-chart") -> SafeString:
    """The chart as an <svg> element. Every text is escaped here; numbers and colours are the module's own."""
    e = escape
    plot = chart.plot
    cid = e(chart.id)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="{e(css_class)}" id="{cid}" viewBox="0 0 {chart.width} '
        f'{chart.height}" width="{chart.width}" height="{chart.height}" role="img" '
        f'aria-labelledby="{cid}-title {cid}-desc" font-family="{e(chart.font_family)}" font-size="{FONT_SIZE}" '
        f'fill="{TEXT_COLOUR}">',
        f'<title id="{cid}-title">{e(chart.title)}</title>',
        f'<desc id="{cid}-desc">{e(chart.description)}</desc>',
        "<defs>",
        f'<clipPath id="{cid}-plot"><rect x="{_f(plot.x)}" y="{_f(plot.y)}" width="{_f(plot.width)}" '
        f'height="{_f(plot.height)}"/></clipPath>',
    ]
    # Outside the band: where a curve is drawn again in red.
    outside = []
    if chart.band is not None:
        if chart.band.y > plot.y:
            outside.append(Box(plot.x, plot.y, plot.width, chart.band.y - plot.y))
        if chart.band.bottom < plot.bottom:
            outside.append(Box(plot.x, chart.band.bottom, plot.width, plot.bottom - chart.band.bottom))
    if outside:
        rects = "".join(
            f'<rect x="{_f(b.x)}" y="{_f(b.y)}" width="{_f(b.width)}" height="{_f(b.height)}"/>' for b in outside
        )
        out.append(f'<clipPath id="{cid}-outside">{rects}</clipPath>')
    out.append("</defs>")

    # Legend.
    out.append('<g class="chart-legend">')
    for entry in chart.legend:
        middle = entry.y + 5
        if entry.kind == "line":
            out.append(
                f'<line x1="{_f(entry.x)}" y1="{_f(middle)}" x2="{_f(entry.x + 16)}" y2="{_f(middle)}" '
                f'stroke="{entry.colour}" stroke-width="2.5"/>'
            )
        elif entry.kind == "band":
            out.append(
                f'<rect x="{_f(entry.x)}" y="{_f(middle - 5)}" width="16" height="10" fill="{entry.colour}" '
                f'fill-opacity="0.14" stroke="{LIMIT_COLOUR}" stroke-dasharray="3 2"/>'
            )
        else:
            out.append(
                f'<rect x="{_f(entry.x)}" y="{_f(middle - 5)}" width="16" height="10" fill="{entry.colour}" '
                f'fill-opacity="0.22"/>'
            )
        out.append(f'<text x="{_f(entry.x + 22)}" y="{_f(middle + 4)}">{e(entry.label)}</text>')
    out.append("</g>")

    # Grid and axes.
    out.append(f'<g class="chart-grid" stroke="{GRID_COLOUR}" stroke-width="1">')
    for tick in chart.temperature_ticks:
        out.append(f'<line x1="{_f(plot.x)}" y1="{_f(tick.y)}" x2="{_f(plot.right)}" y2="{_f(tick.y)}"/>')
    for tick in chart.time_ticks:
        out.append(f'<line x1="{_f(tick.x)}" y1="{_f(plot.y)}" x2="{_f(tick.x)}" y2="{_f(plot.bottom)}"/>')
    out.append("</g>")

    if chart.band is not None:
        b = chart.band
        out.append(
            f'<rect class="chart-band" x="{_f(b.x)}" y="{_f(b.y)}" width="{_f(b.width)}" height="{_f(b.height)}" '
            f'fill="{BAND_COLOUR}" fill-opacity="0.12"/>'
        )
    for highlight in chart.highlights:
        b = highlight.box
        out.append(
            f'<rect class="chart-excursion" x="{_f(b.x)}" y="{_f(b.y)}" width="{_f(b.width)}" height="{_f(b.height)}" '
            f'fill="{EXCURSION_COLOUR}" fill-opacity="0.16"><title>{e(highlight.title)}</title></rect>'
        )
    for limit in chart.limits:
        out.append(
            f'<line class="chart-limit" x1="{_f(plot.x)}" y1="{_f(limit.y)}" x2="{_f(plot.right)}" y2="{_f(limit.y)}" '
            f'stroke="{LIMIT_COLOUR}" stroke-width="1.2" stroke-dasharray="5 3"/>'
        )

    # Curves: clipped to the plot, then again in red outside the band.
    out.append(
        f'<g class="chart-curves" fill="none" stroke-width="1.6" stroke-linejoin="round" '
        f'stroke-linecap="round" clip-path="url(#{cid}-plot)">'
    )
    for curve in chart.curves:
        if curve.path:
            out.append(f'<path d="{curve.path}" stroke="{curve.colour}"><title>{e(curve.label)}</title></path>')
    out.append("</g>")
    if outside:
        out.append(
            f'<g class="chart-out-of-range" fill="none" stroke="{EXCURSION_COLOUR}" stroke-width="2.2" '
            f'stroke-linejoin="round" stroke-linecap="round" clip-path="url(#{cid}-outside)">'
        )
        for curve in chart.curves:
            if curve.path:
                out.append(f'<path d="{curve.path}"/>')
        out.append("</g>")

    # Limit labels over the curves, on a white ground so that a curve does not cross them.
    for limit in chart.limits:
        width = len(limit.label) * CHAR_WIDTH * 1.05 + 6
        out.append(
            f'<rect x="{_f(plot.right - 1 - width)}" y="{_f(limit.label_y - FONT_SIZE + 1)}" width="{_f(width)}" '
            f'height="{FONT_SIZE + 3}" rx="2" fill="#ffffff" fill-opacity="0.85"/>'
            f'<text class="chart-limit-label" x="{_f(plot.right - 4)}" y="{_f(limit.label_y)}" text-anchor="end" '
            f'fill="{LIMIT_COLOUR}" font-weight="600">{e(limit.label)}</text>'
        )

    # Axes and their labels.
    out.append(
        f'<g class="chart-axes" stroke="{AXIS_COLOUR}" stroke-width="1">'
        f'<line x1="{_f(plot.x)}" y1="{_f(plot.bottom)}" x2="{_f(plot.right)}" y2="{_f(plot.bottom)}"/>'
        f'<line x1="{_f(plot.x)}" y1="{_f(plot.y)}" x2="{_f(plot.x)}" y2="{_f(plot.bottom)}"/>'
    )
    for tick in chart.time_ticks:
        out.append(f'<line x1="{_f(tick.x)}" y1="{_f(plot.bottom)}" x2="{_f(tick.x)}" y2="{_f(plot.bottom + 4)}"/>')
    out.append("</g>")
    out.append('<g class="chart-temperature-labels" text-anchor="end">')
    for tick in chart.temperature_ticks:
        out.append(f'<text x="{_f(plot.x - 6)}" y="{_f(tick.y + 4)}">{e(tick.label)}</text>')
    out.append("</g>")
    out.append(f'<text x="{_f(plot.x - 6)}" y="{_f(plot.y - 9)}" text-anchor="end" font-weight="600">°C</text>')
    out.append('<g class="chart-time-labels" text-anchor="middle">')
    for tick in chart.time_ticks:
        anchor = ""
        if tick.x - plot.x < 18:
            anchor = ' text-anchor="start"'
        elif plot.right - tick.x < 18:
            anchor = ' text-anchor="end"'
        out.append(f'<text x="{_f(tick.x)}" y="{_f(plot.bottom + 16)}"{anchor}>{e(tick.label)}</text>')
        if tick.sublabel:
            out.append(
                f'<text x="{_f(tick.x)}" y="{_f(plot.bottom + 29)}"{anchor} font-weight="600">{e(tick.sublabel)}</text>'
            )
    out.append("</g>")
    out.append(
        f'<text x="{_f(plot.right)}" y="{_f(chart.height - 4)}" text-anchor="end" font-size="10">'
        f"{e(chart.time_caption)}</text>"
    )
    out.append("</svg>")
    return mark_safe("".join(out))  # noqa: S308 every text above went through escape()


def temperature_chart_svg(*, css_class: str = "temperature-chart", **kwargs) -> SafeString:
    return render_svg(build_chart(**kwargs), css_class=css_class)
