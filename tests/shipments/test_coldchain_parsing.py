"""Reading logger exports: the layouts and conventions accepted, and every malformed file refused with its line."""

import io
import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shipments.coldchain.parsing import LogFormatError, parse_logger_file

DATA = Path(__file__).resolve().parent.parent / "data" / "coldchain"
BERLIN = ZoneInfo("Europe/Berlin")


def at(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=datetime.fromisoformat(text).tzinfo or UTC).timestamp())


def parse(text: str | bytes, *, encoding: str = "utf-8", fast: bool = True, **kwargs):
    data = text.encode(encoding) if isinstance(text, str) else text
    return parse_logger_file(io.BytesIO(data), fast=fast, **kwargs)


def both_ways(text, **kwargs):
    """Parsed by NumPy on the bytes and row by row with the csv module: the two must agree exactly."""
    fast, slow = parse(text, **kwargs), parse(text, fast=False, **kwargs)
    assert np.array_equal(fast.times, slow.times)
    assert np.array_equal(fast.temperatures, slow.temperatures)
    return fast


def refused(text, **kwargs) -> LogFormatError:
    with pytest.raises(LogFormatError) as fast:
        parse(text, **kwargs)
    with pytest.raises(LogFormatError) as slow:
        parse(text, fast=False, **kwargs)
    assert str(fast.value) == str(slow.value)
    return fast.value


# --- accepted -------------------------------------------------------------------------------------------------------


def test_iso_times_with_z_and_a_celsius_column():
    log = both_ways("Timestamp,Temperature (°C)\n2026-03-01T10:00:00Z,5.0\n2026-03-01T10:01:00Z,5.25\n")
    assert log.times.tolist() == [at("2026-03-01T10:00:00+00:00"), at("2026-03-01T10:01:00+00:00")]
    assert log.temperatures.tolist() == [5.0, 5.25]
    assert log.layout == "csv"
    assert log.details["time_column"] == "Timestamp"


def test_offsets_are_converted_to_utc_even_when_they_change_midway():
    log = both_ways(
        "Time,Temp\n2026-03-29 01:50:00+01:00,4\n2026-03-29 03:00:00+02:00,4.5\n2026-03-29 03:10:00+0200,5\n"
    )
    assert log.times.tolist() == [
        at("2026-03-29T00:50:00+00:00"),
        at("2026-03-29T01:00:00+00:00"),
        at("2026-03-29T01:10:00+00:00"),
    ]


def test_times_without_offset_are_utc_by_default_and_in_the_zone_given():
    text = "Timestamp;Temp\n2026-07-01 12:00;5\n2026-07-01 12:05;5\n"
    assert both_ways(text).times[0] == at("2026-07-01T12:00:00+00:00")
    assert both_ways(text, tz=BERLIN).times[0] == at("2026-07-01T10:00:00+00:00")


def test_a_header_saying_utc_wins_over_the_zone_given():
    log = both_ways("Time (UTC),Temperature\n2026-07-01 12:00:00,5\n", tz=BERLIN)
    assert log.times[0] == at("2026-07-01T12:00:00+00:00")


def test_the_hour_repeated_when_clocks_go_back_is_read_in_order():
    text = "Time,Temp\n2026-10-25 02:30,5\n2026-10-25 02:50,5\n2026-10-25 02:10,5\n2026-10-25 02:40,5\n"
    log = both_ways(text, tz=BERLIN)
    assert log.times.tolist() == [
        at("2026-10-25T00:30:00+00:00"),
        at("2026-10-25T00:50:00+00:00"),
        at("2026-10-25T01:10:00+00:00"),
        at("2026-10-25T01:40:00+00:00"),
    ]


def test_day_first_dates_decimal_commas_tabs_and_quotes():
    log = both_ways('Date/Time\t"Temperature [°C]"\n"02.03.2026 10:00:00"\t"-18,5"\n13.03.2026 10:00:00\t-19\n')
    assert log.times.tolist() == [at("2026-03-02T10:00:00+00:00"), at("2026-03-13T10:00:00+00:00")]
    assert log.temperatures.tolist() == [-18.5, -19.0]
    assert log.details["delimiter"] == "\t"
    assert log.details["date_order"] == "dmy"


def test_month_first_when_the_dates_say_so_and_twelve_hour_clocks():
    log = both_ways("Date/Time,Temp (°C)\n03/12/2026 11:59 PM,5\n03/13/2026 12:00 AM,5\n03/13/2026 12:30 PM,5\n")
    assert log.details["date_order"] == "mdy"
    assert log.times.tolist() == [
        at("2026-03-12T23:59:00+00:00"),
        at("2026-03-13T00:00:00+00:00"),
        at("2026-03-13T12:30:00+00:00"),
    ]


def test_dates_that_never_tell_are_day_first_unless_asked_otherwise():
    text = "Timestamp,Temp\n03/04/2026 10:00,5\n"
    assert both_ways(text).times[0] == at("2026-04-03T10:00:00+00:00")
    assert both_ways(text, dayfirst=False).times[0] == at("2026-03-04T10:00:00+00:00")


def test_fahrenheit_columns_are_converted():
    log = both_ways("Timestamp,Temperature (°F)\n2026-03-01 10:00,41\n2026-03-01 10:01,46.4\n")
    assert log.temperatures == pytest.approx([5.0, 8.0])
    assert log.details["unit"] == "°F"


def test_a_celsius_column_is_preferred_to_a_fahrenheit_one_and_alarm_columns_are_not_readings():
    log = both_ways("Time,Temp alarm,Temp (°F),Temp (°C)\n2026-03-01 10:00,0,41,5.0\n")
    assert log.temperatures.tolist() == [5.0]
    assert log.details["temperature_column"] == "Temp (°C)"


def test_utf8_with_bom_and_utf16_and_crlf():
    text = "Timestamp,Temperature (°C)\r\n2026-03-01 10:00:00,5.5\r\n"
    assert both_ways(b"\xef\xbb\xbf" + text.encode()).temperatures.tolist() == [5.5]
    assert both_ways(text.encode("utf-16")).temperatures.tolist() == [5.5]


def test_a_vendor_preamble_is_skipped_and_its_serial_kept_in_latin1():
    log = both_ways((DATA / "ct20_preamble_latin1.csv").read_bytes())
    assert log.serial == "CT20-558812"
    assert log.details["encoding"] == "latin-1"
    assert log.details["header_line"] == 8
    assert log.details["temperature_column"] == "Temperatur (°C)"
    assert log.temperatures.tolist() == [5.1, 5.0, 4.9, 1.8, 1.5, 2.4, 4.8, 5.0]
    assert log.times[0] == at("2026-03-01T08:00:00+00:00")
    assert np.diff(log.times).tolist() == [600] * 7


def test_the_campbell_toa5_layout():
    log = both_ways((DATA / "toa5_cr1000.dat").read_bytes())
    assert log.layout == "toa5"
    assert log.serial == "41277"
    assert log.details["temperature_column"] == "Temp_C_Avg"
    assert log.times[0] == at("2026-03-01T08:00:00+00:00")
    assert log.temperatures[:3].tolist() == [5.12, 5.08, 5.11]
    assert log.temperatures.size == 12


def test_blank_lines_and_trailing_spaces_are_tolerated_and_the_hash_is_of_the_bytes():
    text = "Timestamp , Temperature (°C) \n\n2026-03-01 10:00:00 , 5.0 \n\n2026-03-01 10:01:00,5.1\n\n"
    log = both_ways(text)
    assert log.temperatures.tolist() == [5.0, 5.1]
    import hashlib

    assert log.sha256 == hashlib.sha256(text.encode()).hexdigest()
    assert log.size == len(text.encode())


def test_a_large_file_is_read_in_blocks_by_numpy_and_agrees_with_the_row_by_row_reading():
    rows = 150_000
    rng = np.random.default_rng(7)
    temperatures = np.round(5 + rng.standard_normal(rows), 2)
    start = np.datetime64("2026-01-01T00:00:00")
    stamps = (start + np.arange(rows) * np.timedelta64(60, "s")).astype(str)
    text = "Timestamp,Temperature (°C)\n" + "\n".join(f"{s}Z,{t}" for s, t in zip(stamps, temperatures, strict=True))
    log = parse(text)
    assert log.details["fast_blocks"] >= 1 and log.details["slow_blocks"] == 0
    assert np.array_equal(log.temperatures, temperatures)
    assert np.array_equal(log.times, (start + np.arange(rows) * np.timedelta64(60, "s")).astype("int64"))
    assert np.array_equal(parse(text, fast=False).temperatures, temperatures)


# --- refused --------------------------------------------------------------------------------------------------------


def test_no_header_is_refused_on_the_first_reading():
    error = refused("2026-03-01 10:00:00,5.0\n2026-03-01 10:01:00,5.1\n")
    assert error.line == 1
    assert "no header row" in str(error)


def test_text_in_a_temperature_cell_names_its_line():
    error = refused("Serial: X1\nTimestamp,Temp\n2026-03-01 10:00,5.0\n\n2026-03-01 10:01,ERR\n")
    assert str(error) == "line 5: 'ERR' is not a temperature"


def test_an_empty_temperature_cell_names_its_line():
    assert refused("Timestamp;Temp\n2026-03-01 10:00;5,0\n2026-03-01 10:01;\n").line == 3


def test_timestamps_out_of_order_name_the_line():
    error = refused("Timestamp,Temp\n2026-03-01 10:00,5\n2026-03-01 10:02,5\n2026-03-01 10:01,5\n")
    assert error.line == 4
    assert "out of order" in str(error) and "line 3" in str(error)


def test_a_repeated_timestamp_is_refused():
    error = refused("Timestamp,Temp\n2026-03-01 10:00,5\n2026-03-01 10:00,6\n")
    assert error.line == 3 and "repeats the time" in str(error)


def test_an_error_deep_in_a_large_file_names_its_line():
    rows = ["Timestamp,Temp"] + [f"2026-01-01 {h:02d}:{m:02d}:00,5.0" for h in range(24) for m in range(60)] * 1
    rows[1000] = "2026-01-01 16:39:00,5.O"
    error = refused("\n".join(rows) + "\n")
    assert error.line == 1001


def test_an_impossible_date_or_hour_is_refused():
    assert "not a date on the calendar" in str(refused("Timestamp,Temp\n2026-02-29 10:00,5\n"))
    assert refused("Timestamp,Temp\n2026-02-28 10:00,5\n2026-02-28 25:00,5\n").line == 3


def test_a_time_in_another_format_than_the_first_row_is_refused():
    assert refused("Timestamp,Temp\n2026-03-01 10:00,5\nyesterday,5\n").line == 3


def test_a_row_missing_its_temperature_column_is_refused():
    assert "expected at least 2 columns" in str(refused("Timestamp,Temp\n2026-03-01 10:00,5\n2026-03-01 10:01\n"))


@pytest.mark.parametrize("content", [b"", b"\n\n  \n"])
def test_an_empty_file_is_refused(content):
    assert str(refused(content)) == "the file is empty"


def test_a_header_without_readings_is_refused():
    assert "no readings after the header" in str(refused("Timestamp,Temperature (°C)\n"))


def test_below_absolute_zero_is_refused():
    assert refused("Timestamp,Temp\n2026-03-01 10:00,-300\n").line == 2


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"%PDF-1.7\n...", "this is a PDF"),
        (b"PK\x03\x04\x14\x00", "Excel workbook"),
        (b"\x00\x01\x02garbage", "not a text file"),
        (os.urandom(4096), "not a text file"),
        (b"lorem ipsum dolor sit amet\n" * 500, "no header row"),
    ],
)
def test_what_is_not_a_logger_export_is_refused(content, message):
    assert message in str(refused(content))


class CountingReader(io.RawIOBase):
    """A file of `size` bytes of printable garbage that counts what is read of it."""

    def __init__(self, size: int, byte: bytes = b"x"):
        self.size, self.position, self.byte, self.read_bytes = size, 0, byte, 0

    def readable(self):
        return True

    def read(self, n=-1):
        n = self.size - self.position if n < 0 else min(n, self.size - self.position)
        self.position += n
        self.read_bytes += n
        return self.byte * n


def test_a_100_mb_file_is_refused_by_its_size_before_it_is_read(tmp_path):
    path = tmp_path / "huge.csv"
    with path.open("wb") as handle:
        handle.truncate(100 * 1000 * 1000)  # sparse: 100 MB of zeros without writing them
    started = time.perf_counter()
    with path.open("rb") as handle, pytest.raises(LogFormatError, match=r"may be at most 80\.0 MB"):
        parse_logger_file(handle)
    assert time.perf_counter() - started < 1


def test_100_mb_of_garbage_under_a_raised_cap_is_refused_after_reading_64_kb():
    garbage = CountingReader(100 * 1000 * 1000)
    started = time.perf_counter()
    with pytest.raises(LogFormatError, match="no header row"):
        parse_logger_file(garbage, max_bytes=200 * 1000 * 1000)
    assert garbage.read_bytes <= 64 * 1024
    assert time.perf_counter() - started < 1


def test_a_file_larger_than_it_says_is_stopped_at_the_cap():
    stream = io.BytesIO(b"Timestamp,Temp\n" + b"2026-03-01 10:00,5\n" * 10_000)
    stream.size = 100  # what the upload claimed
    with pytest.raises(LogFormatError, match="larger than"):
        parse_logger_file(stream, max_bytes=50_000)


def test_a_line_without_end_is_refused():
    error = refused(b"Timestamp,Temp\n2026-03-01 10:00," + b"5" * (70 * 1024), max_bytes=10**6)
    assert "longer than 64 KB" in str(error) or "is not a temperature" in str(error)


VALID = (DATA / "ct20_preamble_latin1.csv").read_bytes()


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(
    edits=st.lists(
        st.tuples(st.integers(0, len(VALID) - 1), st.binary(min_size=0, max_size=3), st.integers(0, 3)),
        min_size=1,
        max_size=4,
    ),
    fast=st.booleans(),
)
def test_a_damaged_export_is_read_or_refused_never_crashes(edits, fast):
    content = bytearray(VALID)
    for position, replacement, removed in edits:
        content[position : position + removed] = replacement
    try:
        log = parse_logger_file(io.BytesIO(bytes(content)), fast=fast)
    except LogFormatError as error:
        assert str(error)
    else:
        assert log.times.size == log.temperatures.size > 0
        assert (np.diff(log.times) > 0).all()


# --- quotes, spaces and decimal commas: the NumPy path reads a field exactly as the csv module does ------------------


def test_a_quoted_decimal_comma_in_a_comma_separated_file_is_read_whole_by_numpy():
    rows = "\n".join(f'2026-03-01 10:{m:02d},"{"8,6" if m % 2 else "5,5"}"' for m in range(40))
    log = both_ways(f"Timestamp,Temperature (°C)\n{rows}\n")
    assert log.temperatures.tolist() == [5.5, 8.6] * 20
    assert log.details["fast_blocks"] == 1 and log.details["slow_blocks"] == 0


def test_fully_quoted_rows_and_a_space_before_a_quoted_field_are_read_alike():
    log = both_ways('Timestamp;Temperature (°C)\n"2026-03-01 10:00:00"; "9,8"\n"2026-03-01 10:01:00" ;  " 5,0 " \n')
    assert log.temperatures.tolist() == [9.8, 5.0]
    assert log.details["fast_blocks"] == 1


@pytest.mark.parametrize("delimiter", [",", ";"])
def test_a_delimiter_inside_quotes_in_an_unused_column_does_not_shift_the_temperature(delimiter):
    text = f'Timestamp{delimiter}Note{delimiter}Temp\n2026-03-01 10:00{delimiter}"door{delimiter} open"{delimiter}4.5\n'
    assert both_ways(text).temperatures.tolist() == [4.5]


def test_a_row_with_more_cells_than_the_header_is_refused_with_a_hint():
    error = refused("Timestamp,Temperature (°C)\n2026-03-01 10:00,5.0\n2026-03-01 10:01,5,5\n")
    assert error.line == 3
    assert "the header names 2 columns, this row has 3" in str(error)
    assert "quote the value or use ';' as the delimiter" in str(error)


def test_empty_cells_past_the_header_are_tolerated():
    assert both_ways("Timestamp,Temp\n2026-03-01 10:00,5.0,\n2026-03-01 10:01,5.5, \n").temperatures.tolist() == [
        5.0,
        5.5,
    ]


@pytest.mark.parametrize(
    "row",
    [
        '2026-03-01 10:01,5"5',  # a quote inside a field is literal to the csv module
        '2026-03-01 10:01,"5,5',  # a quote never closed: the field runs on to the end of the file
        '2026-03-01 10:01,"5""5"',  # a doubled quote
        "2026-03-01 10:01,5.5\r2026-03-01 10:02,5.6",  # a lone carriage return ends a row
    ],
)
def test_odd_quoting_is_left_to_the_csv_module(row):
    text = f"Timestamp,Temp\n2026-03-01 10:00,5.0\n{row}\n"
    try:
        log = both_ways(text)
    except LogFormatError:
        refused(text)
    else:
        assert log.details["slow_blocks"] == 1


TIME_FORMATS = ("%Y-%m-%d %H:%M:%S", "%d.%m.%Y %H:%M", "%Y-%m-%dT%H:%M:%SZ", "%m/%d/%Y %I:%M %p")


@st.composite
def delimited_exports(draw) -> bytes:
    """A small logger export whose cells are quoted or not, padded with spaces or not, with decimal points or
    commas, in either delimiter; now and then a stray quote or an extra cell."""
    delimiter = draw(st.sampled_from([",", ";", "\t"]))
    time_format = draw(st.sampled_from(TIME_FORMATS))
    humidity = draw(st.booleans())
    padding = st.sampled_from(["", "", " ", "  "])

    def cell(text: str) -> str:
        quoted = draw(st.sampled_from(["", "", '"']))
        return draw(padding) + quoted + text + quoted + draw(padding)

    header = ["Timestamp", "Temperature (°C)"] + (["Humidity (%)"] if humidity else [])
    lines = [delimiter.join(cell(name) for name in header)]
    start = datetime(2026, 3, 1, 8, 0)  # the file's wall-clock time, read as UTC
    for minute in range(draw(st.integers(1, 12))):
        stamp = (start + timedelta(minutes=minute)).strftime(time_format)
        value = f"{draw(st.integers(-250, 250)) / draw(st.sampled_from([1, 10, 100])):g}"
        if draw(st.booleans()):
            value = value.replace(".", ",")
        cells = [cell(stamp), cell(value)]
        if humidity:
            cells.append(cell(str(draw(st.integers(0, 100)))))
        if draw(st.integers(0, 39)) == 0:
            cells.append(cell(draw(st.sampled_from(["", "x", "1,5"]))))
        lines.append(delimiter.join(cells))
    text = "\n".join(lines) + "\n"
    if draw(st.integers(0, 4)) == 0:
        position = draw(st.integers(len(lines[0]), len(text) - 1))
        text = text[:position] + draw(st.sampled_from(['"', '""', " ", "\r"])) + text[position:]
    return text.encode()


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(content=delimited_exports())
def test_numpy_and_the_csv_module_read_every_export_alike(content):
    outcomes = []
    for fast in (True, False):
        try:
            log = parse(content, fast=fast)
        except LogFormatError as error:
            outcomes.append(("refused", str(error)))
        else:
            outcomes.append(("read", log.times.tolist(), log.temperatures.tolist()))
    assert outcomes[0] == outcomes[1], content
