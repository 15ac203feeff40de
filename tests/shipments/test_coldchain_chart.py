"""The temperature chart's geometry: where the range band, the limits, the excursion boxes and the ticks fall, that a
million readings draw from a bounded number of points without losing a spike, and that the SVG is well formed,
accessible and escapes every text."""

import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from shipments.coldchain.chart import (
    MIN_EXCURSION_WIDTH,
    SERIES_COLOURS,
    Box,
    Interval,
    Trace,
    build_chart,
    celsius,
    render_svg,
    temperature_ticks,
    time_ticks,
)
from shipments.coldchain.ranges import TemperatureRange

START = int(datetime(2026, 3, 1, 8, 0, tzinfo=UTC).timestamp())
MINUTE = 60
SVG = "{http://www.w3.org/2000/svg}"
REFRIGERATED = TemperatureRange(low=2.0, high=8.0)


def day_trace(label="Logger TT-42", spikes=((600, 620, 9.0),), minutes=1440, start=START) -> Trace:
    temperatures = np.full(minutes, 5.0)
    for first, end, value in spikes:
        temperatures[first:end] = value
    return Trace(label=label, times=start + np.arange(minutes, dtype=np.int64) * MINUTE, temperatures=temperatures)


def spike(first=600, end=620, peak=9.0) -> Interval:
    return Interval(start=START + first * MINUTE, end=START + end * MINUTE, direction="above", peak=peak)


def chart(**kwargs):
    kwargs.setdefault("traces", [day_trace()])
    kwargs.setdefault("temperature_range", REFRIGERATED)
    kwargs.setdefault("excursions", [spike()])
    kwargs.setdefault("title", "Temperature record of SHP-1")
    return build_chart(**kwargs)


def parse(markup: str) -> ET.Element:
    return ET.fromstring(markup)  # noqa: S314 the module's own output, not outside input


def path_points(path: str) -> np.ndarray:
    return np.array([(float(x), float(y)) for x, y in re.findall(r"[ML](-?[\d.]+) (-?[\d.]+)", path)])


# --- the plot and the band ------------------------------------------------------------------------------------------


def test_the_plot_sits_under_one_legend_row_inside_the_margins():
    drawn = chart(width=800, height=300)
    assert drawn.plot == Box(x=52, y=42, width=734, height=208)
    assert [entry.label for entry in drawn.legend] == ["Logger TT-42", "Allowed range", "Excursion"]
    assert {entry.y for entry in drawn.legend} == {8}


def test_the_temperature_axis_covers_the_readings_and_the_limits_in_whole_steps():
    drawn = chart(width=800, height=300)
    # Readings 5 to 9 °C and limits 2 and 8 °C, padded, then widened to steps of 2 °C.
    assert (drawn.low, drawn.high) == (0, 10)
    assert [tick.celsius for tick in drawn.temperature_ticks] == [0, 2, 4, 6, 8, 10]
    assert [tick.label for tick in drawn.temperature_ticks] == ["0", "2", "4", "6", "8", "10"]
    assert drawn.temperature_ticks[0].y == pytest.approx(drawn.plot.bottom)
    assert drawn.temperature_ticks[-1].y == pytest.approx(drawn.plot.y)


def test_the_band_runs_from_the_upper_to_the_lower_limit_across_the_plot():
    drawn = chart(width=800, height=300)
    # 20.8 px per °C: 8 °C is 166.4 px above the bottom (250), 2 °C 41.6 px.
    assert drawn.band.x == drawn.plot.x and drawn.band.width == drawn.plot.width
    assert drawn.band.y == pytest.approx(83.6)
    assert drawn.band.bottom == pytest.approx(208.4)
    assert [(limit.celsius, limit.label) for limit in drawn.limits] == [
        (8.0, "upper limit 8 °C"),
        (2.0, "lower limit 2 °C"),
    ]
    upper, lower = drawn.limits
    assert upper.y == pytest.approx(drawn.band.y) and upper.label_y < upper.y
    assert lower.y == pytest.approx(drawn.band.bottom) and lower.label_y > lower.y


def test_a_range_without_a_floor_shades_down_to_the_bottom_and_labels_only_its_ceiling():
    frozen = Trace("Logger DF-1", START + np.arange(100) * MINUTE, np.linspace(-75, -65, 100))
    drawn = chart(traces=[frozen], temperature_range=TemperatureRange(low=None, high=-60.0), excursions=[])
    assert drawn.band.y == pytest.approx(drawn.y(-60))
    assert drawn.band.bottom == pytest.approx(drawn.plot.bottom)
    assert [limit.label for limit in drawn.limits] == ["upper limit −60 °C"]
    assert drawn.low <= -75 and drawn.high >= -60


# --- excursions -----------------------------------------------------------------------------------------------------


def test_an_excursion_is_a_box_over_its_interval_the_full_height_of_the_plot():
    drawn = chart(width=800, height=300)
    (box,) = [highlight.box for highlight in drawn.highlights]
    # The day runs over 1,439 minutes of 734 px: minute 600 is at 52 + 600 × 734 / 1439.
    assert box.x == pytest.approx(52 + 600 * 734 / 1439)
    assert box.width == pytest.approx(20 * 734 / 1439)
    assert (box.y, box.height) == (drawn.plot.y, drawn.plot.height)
    assert drawn.highlights[0].title.startswith("Excursion above range from 1 Mar 2026 18:00 to 1 Mar 2026 18:20")
    assert "highest 9 °C" in drawn.highlights[0].title


def test_a_short_excursion_in_a_long_log_stays_visible():
    drawn = chart(excursions=[spike(600, 601)])
    assert drawn.highlights[0].box.width == MIN_EXCURSION_WIDTH


def test_excursions_within_a_pixel_share_a_box_and_say_how_many():
    drawn = chart(excursions=[spike(600, 601), spike(601, 602), spike(602, 603), spike(900, 930)])
    assert [highlight.count for highlight in drawn.highlights] == [3, 1]
    assert drawn.highlights[0].title.startswith("3 excursions from 1 Mar 2026 18:00 to 1 Mar 2026 18:03")


def test_an_excursion_box_never_leaves_the_plot():
    drawn = chart(excursions=[spike(1438, 1439)])
    box = drawn.highlights[0].box
    assert box.right == pytest.approx(drawn.plot.right)
    assert box.width == MIN_EXCURSION_WIDTH


# --- ticks ----------------------------------------------------------------------------------------------------------


def test_a_day_in_utc_gets_a_tick_every_three_hours_with_the_date_where_it_changes():
    drawn = chart(width=800, height=300)
    labels = [(tick.label, tick.sublabel) for tick in drawn.time_ticks]
    assert labels == [
        ("09:00", "1 Mar"),
        ("12:00", ""),
        ("15:00", ""),
        ("18:00", ""),
        ("21:00", ""),
        ("00:00", "2 Mar"),
        ("03:00", ""),
        ("06:00", ""),
    ]
    first = drawn.time_ticks[0]
    assert first.seconds == START + 3600
    assert first.x == pytest.approx(drawn.x(START + 3600))
    assert drawn.time_caption == "Time (UTC)"


def test_ticks_fall_on_round_hours_of_the_readers_clock():
    kolkata = ZoneInfo("Asia/Kolkata")  # UTC+05:30: 08:00 UTC is 13:30 there
    ticks = time_ticks(START, START + 1439 * MINUTE, kolkata, max_ticks=9)
    assert [label for _, label, _ in ticks][:3] == ["15:00", "18:00", "21:00"]
    assert ticks[0][0] == START + 90 * MINUTE
    assert all(datetime.fromtimestamp(s, kolkata).minute == 0 for s, _, _ in ticks)
    assert build_chart(traces=[day_trace()], temperature_range=REFRIGERATED, tz=kolkata, title="t").time_caption == (
        "Time (Asia/Kolkata)"
    )


def test_ticks_stay_on_round_local_hours_across_a_change_to_summer_time():
    berlin = ZoneInfo("Europe/Berlin")  # clocks go from 02:00 to 03:00 on 29 March 2026
    start = int(datetime(2026, 3, 28, 18, 0, tzinfo=UTC).timestamp())
    ticks = time_ticks(start, start + 18 * 3600, berlin, max_ticks=8)
    assert [(label, sub) for _, label, sub in ticks] == [
        ("21:00", "28 Mar"),
        ("00:00", "29 Mar"),
        ("03:00", ""),
        ("06:00", ""),
        ("09:00", ""),
        ("12:00", ""),
    ]
    midnight, three = ticks[1][0], ticks[2][0]
    assert three - midnight == 2 * 3600  # the night was an hour short


def test_two_years_get_quarterly_ticks_with_the_year_under_each_january():
    end = START + 2 * 365 * 86400
    ticks = time_ticks(START, end, UTC, max_ticks=9)
    assert [label for _, label, _ in ticks] == ["Apr", "Jul", "Oct", "Jan", "Apr", "Jul", "Oct", "Jan"]
    assert [sub for _, _, sub in ticks] == ["2026", "", "", "2027", "", "", "", "2028"]
    assert all(datetime.fromtimestamp(s, UTC).day == 1 for s, _, _ in ticks)


@pytest.mark.parametrize(
    ("low", "high", "expected"),
    [
        (-1.3, 9.7, [-2, 0, 2, 4, 6, 8, 10]),
        (1.44, 9.56, [0, 2, 4, 6, 8, 10]),
        (-161, 27, [-200, -150, -100, -50, 0, 50]),
        (4.95, 5.05, [4.9, 5.0, 5.1]),
    ],
)
def test_temperature_ticks_step_by_one_two_or_five(low, high, expected):
    first, last, ticks = temperature_ticks(low, high, max_ticks=6)
    assert ticks == pytest.approx(expected)
    assert first <= low and last >= high


def test_temperatures_are_written_with_a_true_minus_sign():
    assert [celsius(v) for v in (8.0, -2.5, 0.0, -150.0)] == ["8", "−2.5", "0", "−150"]


# --- curves ---------------------------------------------------------------------------------------------------------


def test_a_million_readings_draw_from_at_most_two_points_per_pixel_and_keep_both_spikes():
    count = 1_000_000
    temperatures = np.full(count, 5.0)
    temperatures[777_777] = 9.5  # one reading, one minute, in two years
    temperatures[123_456] = 0.5
    trace = Trace("Logger LONG", START + np.arange(count, dtype=np.int64) * MINUTE, temperatures)
    drawn = chart(traces=[trace], excursions=[], width=800, height=300)
    (curve,) = drawn.curves
    points = path_points(curve.path)
    assert len(points) == curve.points <= 2 * int(drawn.plot.width)
    assert points[:, 1].min() == pytest.approx(drawn.y(9.5), abs=0.06)
    assert points[:, 1].max() == pytest.approx(drawn.y(0.5), abs=0.06)
    assert points[:, 0].min() == pytest.approx(drawn.plot.x) and points[:, 0].max() <= drawn.plot.right


def test_a_gap_in_the_readings_breaks_the_line():
    times = np.concatenate((np.arange(60), np.arange(60) + 24 * 60)) * MINUTE + START
    trace = Trace("Logger GAP", times.astype(np.int64), np.full(120, 5.0))
    (curve,) = chart(traces=[trace], excursions=[]).curves
    assert curve.path.count("M") == 2


def test_each_logger_is_a_series_of_its_own_colour_with_a_legend_entry():
    drawn = chart(traces=[day_trace("Logger A"), day_trace("Logger B", spikes=())])
    assert [(c.label, c.colour) for c in drawn.curves] == [
        ("Logger A", SERIES_COLOURS[0]),
        ("Logger B", SERIES_COLOURS[1]),
    ]
    assert [e.label for e in drawn.legend if e.kind == "line"] == ["Logger A", "Logger B"]


def test_a_long_legend_wraps_and_pushes_the_plot_down():
    traces = [day_trace(f"Logger with a rather long serial number {n}") for n in range(4)]
    drawn = chart(traces=traces, width=400, height=300)
    rows = sorted({entry.y for entry in drawn.legend})
    assert len(rows) >= 3
    assert drawn.plot.y > rows[-1] + 16
    assert all(entry.x + 22 < 400 for entry in drawn.legend)


def test_no_readings_is_refused():
    empty = Trace("Logger E", np.array([], dtype=np.int64), np.array([], dtype=np.float64))
    with pytest.raises(ValueError, match="no readings"):
        chart(traces=[empty])


# --- the markup -----------------------------------------------------------------------------------------------------


def test_the_svg_is_well_formed_titled_and_described():
    markup = render_svg(chart(tz=ZoneInfo("America/Sao_Paulo")))
    root = parse(markup)
    assert root.get("role") == "img"
    assert root.get("aria-labelledby") == "temperature-chart-title temperature-chart-desc"
    assert root.find(f"{SVG}title").text == "Temperature record of SHP-1"
    description = root.find(f"{SVG}desc").text
    assert "1,440 readings of Logger TT-42 from 1 Mar 2026 05:00 to 2 Mar 2026 04:59 (America/Sao_Paulo)" in description
    assert "allowed range 2 to 8 °C" in description
    assert "1 excursion: above range from 1 Mar 2026 15:00 to 1 Mar 2026 15:20 (20 min), highest 9 °C." in description
    assert "style" not in markup and "<script" not in markup


def test_the_band_the_excursion_and_the_red_outside_are_drawn_where_the_geometry_says():
    drawn = chart()
    root = parse(render_svg(drawn))
    band = root.find(f".//{SVG}rect[@class='chart-band']")
    assert float(band.get("y")) == pytest.approx(drawn.band.y, abs=0.05)
    assert float(band.get("height")) == pytest.approx(drawn.band.height, abs=0.05)
    excursion = root.find(f".//{SVG}rect[@class='chart-excursion']")
    assert float(excursion.get("x")) == pytest.approx(drawn.highlights[0].box.x, abs=0.05)
    outside = root.find(f".//{SVG}clipPath[@id='temperature-chart-outside']")
    above, below = outside.findall(f"{SVG}rect")
    assert float(above.get("y")) == drawn.plot.y
    assert float(above.get("height")) == pytest.approx(drawn.band.y - drawn.plot.y, abs=0.05)
    assert float(below.get("y")) == pytest.approx(drawn.band.bottom, abs=0.05)
    red = root.find(f".//{SVG}g[@class='chart-out-of-range']")
    assert red.get("clip-path") == "url(#temperature-chart-outside)"
    assert len(red.findall(f"{SVG}path")) == 1


def test_every_text_is_escaped():
    hostile = '<script>alert("x")</script> & co'
    markup = render_svg(chart(traces=[day_trace(hostile)], title=hostile, chart_id='c"1'))
    assert "<script>" not in markup
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; co" in markup
    root = parse(markup)
    assert root.get("id") == 'c"1'
    assert root.find(f"{SVG}title").text == hostile
