"""Reading a temperature logger's export: the readings as two arrays, times in UTC and temperatures in °C.

What is accepted
- Delimited text with a header row that names a time column (``Timestamp``, ``Date/Time``, ``Time (UTC)``, …) or
  a date and a time column (``Date``, ``Time``), and a temperature column (``Temperature (°C)``, ``Temp``, ``°C``,
  …; a column in °F is converted). Lines before the header (the logger's preamble: serial number, trip, alarm
  settings) are skipped; a ``Serial Number: …`` among them is reported. Blank lines are skipped.
- Delimiters ``,`` ``;`` and tab; quoted fields; decimal commas; UTF-8 with or without BOM, UTF-16 with BOM,
  otherwise Latin-1.
- Times as ISO 8601 (``2025-03-01T10:00:00Z``, ``2025-03-01 10:00:00+01:00``, ``2025-03-01 10:00``) or day-first
  (``01/03/2025 10:00:00``, ``01.03.2025 10:00``, with AM/PM); month-first when the dates say so (a first field
  above 12 is a day, a second one above 12 makes the file month-first) or, for dates that never tell, when
  ``dayfirst=False``. Seconds' fractions are dropped. A time without an offset is in ``tz`` (default UTC), or UTC
  when the header says so (``Time (UTC)``); the hour repeated when clocks go back is told apart by its order.
- The Campbell Scientific TOA5 layout (see tests/data/coldchain/toa5_cr1000.dat): a first line beginning
  ``"TOA5"`` (station, logger model, logger serial, OS, program, signature, table), then the field names, their
  units and their processing; ``TIMESTAMP`` is the time and the first column in ``Deg C`` the temperature.
  Published in Campbell Scientific's datalogger manuals (e.g. CR3000 Specifications, section 2.4.2, "TOA5 ASCII
  File Format").

What is refused, with the line it was found on: no header, a row without a time or a temperature, text in a
temperature cell, readings out of order or repeating a time, an empty file, and anything that is not a text export
(binary content, a PDF or a workbook). The size is capped before anything is read (COLD_CHAIN_LOG_MAX_BYTES) and
the format is judged from the first 64 KB, so a large file of garbage is refused at once.

A row with more cells than the header names is refused too (unless the extra cells are empty): in a comma-separated
file it is most often a decimal comma left unquoted (``…,5,5``), which would otherwise be read as 5.

How: the file is read in blocks of complete lines. A block whose rows all share the first row's layout (the same
number of fields, timestamps of the same width and shape, plain numbers) is converted by NumPy on its bytes; any
other block goes through the csv module row by row, which also finds the line of any error. Both read a field
alike: spaces before it are skipped (``skipinitialspace``), a quoted field keeps its delimiters, then the value is
stripped. The NumPy path takes quotes only where they wrap a whole field; a quote anywhere else, a lone carriage
return or a NUL sends the block to the csv module."""

import codecs
import contextlib
import csv
import hashlib
import io
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo

import numpy as np
from django.conf import settings

from shipments.choices import LoggerLayout

DEFAULT_MAX_BYTES = 80 * 1024 * 1024
SNIFF_BYTES = 64 * 1024
HEADER_SEARCH_LINES = 100
BLOCK_BYTES = 2 * 1024 * 1024  # larger blocks read no faster and hold more memory
MAX_LINE_BYTES = 64 * 1024
MAX_PADDING = 8  # spaces around a field the NumPy path strips; more go to the csv module
QUOTE, SPACE = ord('"'), ord(" ")
DELIMITERS = (",", ";", "\t")
ABSOLUTE_ZERO = -273.15
# Loggers print a handful of digits; more than this is not a reading and would lose exactness as an integer.
MAX_NUMBER_WIDTH = 24
MAX_MANTISSA_DIGITS = 15
QUARTER_HOUR = 900

_DATE_YMD = r"(?P<Y>\d{4})(?P<ds>[-/.])(?P<A>\d{1,2})(?P=ds)(?P<B>\d{1,2})"
_DATE_ABY = r"(?P<A>\d{1,2})(?P<ds>[-/.])(?P<B>\d{1,2})(?P=ds)(?P<Y>\d{4}|\d{2})"
_TIME = r"(?P<h>\d{1,2}):(?P<mi>\d{2})(?::(?P<s>\d{2})(?:[.,](?P<f>\d{1,9}))?)?(?:\s?(?P<ampm>[AaPp]\.?[Mm]\.?))?"
_ZONE = r"(?:\s?(?P<tz>Z|UTC|GMT|(?P<tzsign>[+-])(?P<tzh>\d{2}):?(?P<tzm>\d{2})?))?"
_BETWEEN = r"(?:T|\s+|,\s*)"

DATETIME_PATTERNS = {
    "ymd": re.compile(_DATE_YMD + _BETWEEN + _TIME + _ZONE),
    "aby": re.compile(_DATE_ABY + _BETWEEN + _TIME + _ZONE),
}
DATE_PATTERNS = {"ymd": re.compile(_DATE_YMD), "aby": re.compile(_DATE_ABY)}
TIME_PATTERN = re.compile(_TIME + _ZONE)
NUMBER = re.compile(r"[+-]?(\d+([.,]\d*)?|[.,]\d+)")
EXAMPLES = {"ymd": "2025-03-01 10:00:00", "aby": "01/03/2025 10:00:00"}
DIGIT_GROUPS = ("Y", "A", "B", "h", "mi", "s", "f", "tzh", "tzm")

TIMESTAMP_NAMES = {
    "timestamp",
    "time stamp",
    "date/time",
    "date-time",
    "date time",
    "datetime",
    "date and time",
    "date & time",
    "time",
    "reading time",
    "utc time",
    "local time",
    "zeit",
    "zeitstempel",
    "datum/uhrzeit",
    "datum/zeit",
    "datum uhrzeit",
    "fecha/hora",
    "fecha y hora",
    "data/hora",
    "data e hora",
    "date/heure",
    "horodatage",
}
DATE_NAMES = {"date", "datum", "fecha", "data"}
TIME_NAMES = {"time", "zeit", "uhrzeit", "hora", "heure"}
TEMPERATURE_WORDS = ("temp", "°c", "°f", "degc", "degf", "deg c", "deg f", "celsius", "fahrenheit")
NOT_A_READING = ("alarm", "limit", "setpoint", "set point", "min", "max", "high", "low", "threshold")
FAHRENHEIT = re.compile(r"°\s*f\b|\bdeg\s*f\b|fahrenheit|[(\[]\s*f\s*[)\]]", re.IGNORECASE)
UTC_HINT = re.compile(r"\b(utc|gmt|z)\b", re.IGNORECASE)
SERIAL_KEYS = {
    "serial",
    "serial number",
    "serial no",
    "serial no.",
    "serial #",
    "s/n",
    "sn",
    "logger serial",
    "logger serial number",
    "device serial",
    "logger id",
    "device id",
    "seriennummer",
    "numéro de série",
    "número de serie",
}
TOA5_CELSIUS = {"degc", "deg c", "°c", "c", "celsius"}
TOA5_FAHRENHEIT = {"degf", "deg f", "°f", "f", "fahrenheit"}


class LogFormatError(ValueError):
    """The file is not a logger export this platform can read; `line` is where the trouble was found."""

    def __init__(self, message: str, line: int | None = None):
        self.message = message
        self.line = line
        super().__init__(f"line {line}: {message}" if line else message)


@dataclass(frozen=True)
class ParsedLog:
    times: np.ndarray  # int64 seconds since the epoch, UTC, strictly increasing
    temperatures: np.ndarray  # float64 °C
    layout: str
    size: int
    sha256: str
    serial: str = ""  # as the file itself names its logger, if it does
    details: dict = field(default_factory=dict)


@dataclass(frozen=True)
class _Columns:
    time: int
    date: int | None
    temperature: int
    fahrenheit: bool
    utc_in_header: bool
    time_name: str
    temperature_name: str

    @property
    def needed(self) -> int:
        return max(self.time, self.temperature, self.date if self.date is not None else -1) + 1


@dataclass
class _Header:
    layout: str
    delimiter: str
    columns: _Columns
    header_line: int  # 1-based
    data_line: int  # 1-based line of the first line after the header
    serial: str
    width: int  # the number of cells the header row names


def max_bytes_setting() -> int:
    return int(getattr(settings, "COLD_CHAIN_LOG_MAX_BYTES", DEFAULT_MAX_BYTES))


def parse_logger_file(
    file, *, tz: tzinfo = UTC, dayfirst: bool = True, max_bytes: int | None = None, fast: bool = True
) -> ParsedLog:
    """The readings of `file` (a binary file object, e.g. an uploaded file), or LogFormatError.

    `tz` is the zone of times written without an offset; `dayfirst` settles dates like 03/04/2025 in a file whose
    dates never show which field is the day. `fast=False` reads every block row by row (for tests)."""
    limit = max_bytes if max_bytes is not None else max_bytes_setting()
    size = _size_of(file)
    if size is not None and size > limit:
        raise LogFormatError(
            f"the file is {_megabytes(size)}; a logger export may be at most {_megabytes(limit)} "
            "(two years of readings a minute fit in well under that)"
        )
    if size == 0:
        raise LogFormatError("the file is empty")
    raw = _HashingReader(file, limit)
    head = raw.read(SNIFF_BYTES)
    if not head:
        raise LogFormatError("the file is empty")
    encoding, head = _encoding(head)
    source = _TextBlocks(raw, encoding, head)
    head = source.head
    _refuse_binary(head)
    header = _find_header(head, source.text_encoding, source.exhausted)
    reader = _DataReader(header, source.text_encoding, tz=tz, dayfirst=dayfirst, fast=fast)
    pending = head[_offset_of_line(head, header.data_line) :]
    line = header.data_line
    for block in source.rest():
        pending += block
        cut = pending.rfind(b"\n") + 1
        if cut == 0:
            if len(pending) > MAX_LINE_BYTES:
                raise LogFormatError(f"the line is longer than {MAX_LINE_BYTES // 1024} KB", line)
            continue
        if cut < BLOCK_BYTES and not source.exhausted:
            continue
        reader.read_block(pending[:cut], line)
        line += pending.count(b"\n", 0, cut)
        pending = pending[cut:]
    if pending.strip():
        if len(pending) - pending.rfind(b"\n") > MAX_LINE_BYTES:
            raise LogFormatError(f"the line is longer than {MAX_LINE_BYTES // 1024} KB", line + pending.count(b"\n"))
        reader.read_block(pending if pending.endswith(b"\n") else pending + b"\n", line)
    times, temperatures, details = reader.finish()
    details.update(
        {
            "encoding": encoding,
            "delimiter": header.delimiter,
            "header_line": header.header_line,
            "time_column": header.columns.time_name,
            "temperature_column": header.columns.temperature_name,
            "unit": "°F" if header.columns.fahrenheit else "°C",
        }
    )
    return ParsedLog(
        times=times,
        temperatures=temperatures,
        layout=header.layout,
        size=raw.count,
        sha256=raw.hexdigest(),
        serial=header.serial,
        details=details,
    )


# --- the bytes ------------------------------------------------------------------------------------------------------


def _size_of(file) -> int | None:
    size = getattr(file, "size", None)
    if size is not None:
        return int(size)
    try:
        position = file.tell()
        file.seek(0, io.SEEK_END)
        size = file.tell()
        file.seek(position)
    except (AttributeError, OSError, ValueError):
        return None
    return size


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB"


class _HashingReader:
    """Reads the file from its start, hashing every byte and refusing to go past the cap: a file whose size was not
    known, or not told truly, is stopped there too."""

    def __init__(self, file, limit: int):
        self.file = file
        self.limit = limit
        self.count = 0
        self.digest = hashlib.sha256()
        # A stream that cannot rewind is read from where it is.
        with contextlib.suppress(AttributeError, OSError):
            file.seek(0)

    def read(self, size: int) -> bytes:
        data = self.file.read(size)
        if isinstance(data, str):
            raise TypeError("open the logger file in binary mode")
        self.count += len(data)
        if self.count > self.limit:
            raise LogFormatError(f"the file is larger than {_megabytes(self.limit)}, the most a logger export may be")
        self.digest.update(data)
        return data

    def hexdigest(self) -> str:
        return self.digest.hexdigest()


def _encoding(head: bytes) -> tuple[str, bytes]:
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig", head[len(codecs.BOM_UTF8) :]
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16", head
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return "latin-1", head
    return "utf-8", head


class _TextBlocks:
    """The file as ASCII-compatible bytes (UTF-16 is re-encoded as UTF-8), in blocks; `head` is the first."""

    def __init__(self, raw: _HashingReader, encoding: str, head: bytes):
        self.raw = raw
        self.exhausted = False
        if encoding == "utf-16":
            self.text_encoding = "utf-8"
            self.decoder = codecs.getincrementaldecoder("utf-16")()
            self.head = self._recode(head, final=False)
        else:
            self.text_encoding = "utf-8" if encoding.startswith("utf-8") else encoding
            self.decoder = None
            self.head = head
        if len(head) < SNIFF_BYTES:
            self.exhausted = True
            if self.decoder is not None:
                self.head += self._recode(b"", final=True)

    def _recode(self, data: bytes, *, final: bool) -> bytes:
        try:
            return self.decoder.decode(data, final=final).encode("utf-8")
        except UnicodeDecodeError:
            raise LogFormatError("the file says it is UTF-16 but is not") from None

    def rest(self):
        while not self.exhausted:
            data = self.raw.read(BLOCK_BYTES)
            if not data:
                self.exhausted = True
                if self.decoder is not None:
                    yield self._recode(b"", final=True)
                return
            yield self._recode(data, final=False) if self.decoder is not None else data


def _refuse_binary(head: bytes) -> None:
    if head.startswith(b"%PDF"):
        raise LogFormatError("this is a PDF; upload the logger's data exported as CSV")
    if head.startswith(b"PK\x03\x04"):
        raise LogFormatError("this is a ZIP archive or an Excel workbook; save the readings as CSV and upload that")
    sample = np.frombuffer(head, dtype=np.uint8)
    if (sample == 0).any():
        raise LogFormatError("this is not a text file: it contains binary data")
    control = (sample < 32) & (sample != 9) & (sample != 10) & (sample != 13)
    if control.sum() > max(2, sample.size // 200):
        raise LogFormatError("this is not a text file: it contains binary data")


# --- the header -----------------------------------------------------------------------------------------------------


def _lines_of(head: bytes, encoding: str, complete: bool) -> list[str]:
    text = head.decode(encoding, errors="replace")
    lines = text.split("\n")
    if not complete:
        lines = lines[:-1]  # the last may be cut off mid-line
    return [line.rstrip("\r") for line in lines[:HEADER_SEARCH_LINES]]


def _rows(lines, delimiter: str):
    """The csv module as both paths read a row: a space after a delimiter does not stop a field from being quoted
    (``5,0; "5,5"``)."""
    return csv.reader(lines, delimiter=delimiter, skipinitialspace=True)


def _cells(line: str, delimiter: str) -> list[str]:
    try:
        return next(_rows([line], delimiter), [])
    except csv.Error:
        return []  # a stray carriage return or NUL: not a row this line can give


def _name(cell: str) -> str:
    return " ".join(cell.strip().strip('\ufeff"').strip().lower().split())


def _bare(name: str) -> str:
    """The name without what is in brackets: "time (utc)" is "time", "temperature [°c]" is "temperature"."""
    return " ".join(re.sub(r"[(\[][^)\]]*[)\]]", " ", name).split())


def _match_columns(cells: list[str]) -> _Columns | None:
    names = [_name(c) for c in cells]
    bare = [_bare(n) for n in names]
    temperature = _temperature_column(names)
    if temperature is None:
        return None
    dates = [i for i, n in enumerate(bare) if n in DATE_NAMES and i != temperature]
    times = [i for i, n in enumerate(bare) if n in TIME_NAMES and i != temperature]
    stamps = [i for i, n in enumerate(bare) if n in TIMESTAMP_NAMES and i != temperature]
    if dates and times:
        date, time = dates[0], times[0]
    elif stamps:
        date, time = None, stamps[0]
    elif dates:
        date, time = None, dates[0]  # a "Date" column holding date and time
    else:
        return None
    return _Columns(
        time=time,
        date=date,
        temperature=temperature,
        fahrenheit=bool(FAHRENHEIT.search(cells[temperature])),
        utc_in_header=bool(UTC_HINT.search(names[time])),
        time_name=cells[time].strip(),
        temperature_name=cells[temperature].strip(),
    )


def _temperature_column(names: list[str]) -> int | None:
    candidates = [i for i, n in enumerate(names) if any(word in n for word in TEMPERATURE_WORDS)]
    readings = [i for i in candidates if not any(word in _bare(names[i]).split() for word in NOT_A_READING)]
    chosen = readings or candidates
    if not chosen:
        return None
    celsius = [i for i in chosen if not FAHRENHEIT.search(names[i])]
    return (celsius or chosen)[0]


def _serial_in(line: str) -> str:
    for separator in (":", "\t", ";", ",", "="):
        key, found, value = line.partition(separator)
        if found and _name(key).rstrip(":") in SERIAL_KEYS:
            value = value.strip().strip(",;\t").strip().strip('"').strip()
            if value:
                return value[:64]
    return ""


def _find_header(head: bytes, encoding: str, complete: bool) -> _Header:
    lines = _lines_of(head, encoding, complete)
    if not any(line.strip() for line in lines):
        if head.strip():
            raise LogFormatError(
                f"no header row: not one line ends in the first {SNIFF_BYTES // 1024} KB; this does not look like a "
                "logger export"
            )
        raise LogFormatError("the file is empty")
    first = _cells(lines[0].lstrip("\ufeff"), ",")
    if first and first[0].strip() == "TOA5":
        return _toa5_header(lines, first)
    serial = ""
    for index, line in enumerate(lines):
        best = None
        for delimiter in DELIMITERS:
            if delimiter not in line:
                continue
            columns = _match_columns(_cells(line, delimiter))
            width = len(_cells(line, delimiter))
            if columns and (best is None or width > best[2]):
                best = (delimiter, columns, width)
        if best:
            return _Header(
                layout=LoggerLayout.CSV,
                delimiter=best[0],
                columns=best[1],
                header_line=index + 1,
                data_line=index + 2,
                serial=serial,
                width=best[2],
            )
        serial = serial or _serial_in(line)
        if _looks_like_reading(line):
            raise LogFormatError(
                "no header row: this line already holds a reading; the export must name its time and temperature "
                "columns (e.g. 'Timestamp,Temperature (°C)') above the readings",
                index + 1,
            )
    raise LogFormatError(
        f"no header row naming a time column and a temperature column (e.g. 'Timestamp,Temperature (°C)') in the "
        f"first {len(lines)} lines; this does not look like a logger export"
    )


def _looks_like_reading(line: str) -> bool:
    for delimiter in DELIMITERS:
        cells = [c.strip() for c in _cells(line, delimiter)]
        if len(cells) < 2:
            continue
        stamp = any(p.fullmatch(c) for c in cells for p in DATETIME_PATTERNS.values())
        if stamp and any(NUMBER.fullmatch(c) for c in cells):
            return True
    return False


def _toa5_header(lines: list[str], environment: list[str]) -> _Header:
    if len(lines) < 5:
        raise LogFormatError("a TOA5 file has four header lines before its readings", len(lines))
    names = _cells(lines[1], ",")
    units = [_name(u) for u in _cells(lines[2], ",")]
    try:
        time = [n.strip() for n in names].index("TIMESTAMP")
    except ValueError:
        raise LogFormatError("a TOA5 file names its time column TIMESTAMP", 2) from None
    celsius = [i for i, u in enumerate(units) if u in TOA5_CELSIUS and i != time]
    fahrenheit = [i for i, u in enumerate(units) if u in TOA5_FAHRENHEIT and i != time]
    named = [i for i, n in enumerate(names) if "temp" in n.lower() and i != time]
    chosen = (celsius or fahrenheit or named or [None])[0]
    if chosen is None:
        raise LogFormatError("no column of this TOA5 file is in Deg C or named as a temperature", 3)
    columns = _Columns(
        time=time,
        date=None,
        temperature=chosen,
        fahrenheit=not celsius and bool(fahrenheit),
        utc_in_header=False,
        time_name="TIMESTAMP",
        temperature_name=names[chosen].strip(),
    )
    serial = environment[3].strip() if len(environment) > 3 else ""
    return _Header(
        layout=LoggerLayout.TOA5,
        delimiter=",",
        columns=columns,
        header_line=2,
        data_line=5,
        serial=serial[:64],
        width=len(names),
    )


def _offset_of_line(head: bytes, line: int) -> int:
    """Byte offset where 1-based `line` starts in `head`."""
    offset = 0
    for _ in range(line - 1):
        found = head.find(b"\n", offset)
        if found < 0:
            return len(head)
        offset = found + 1
    return offset


# --- the readings ---------------------------------------------------------------------------------------------------


@dataclass
class _Template:
    """The shape of the first row's timestamp: its width, and what each position holds. Rows of the same shape are
    converted by position on their bytes."""

    width: int
    groups: dict  # group name -> (start, end) within the field
    literals: list  # (position, byte)
    ampm: int | None  # position of the a/p letter
    sign: int | None  # position of the zone's sign
    has_zone: bool
    zulu: bool


def _template(text: str, match: re.Match) -> _Template | None:
    if not text.isascii() or ("f" in match.re.groupindex and match.group("f")):
        return None
    groups, special = {}, set()
    for name in DIGIT_GROUPS:
        if name in match.re.groupindex and match.group(name) is not None:
            groups[name] = match.span(name)
            special.update(range(*match.span(name)))
    ampm = sign = None
    if "ampm" in match.re.groupindex and match.group("ampm"):
        ampm = match.start("ampm")
        special.add(ampm)
    if "tzsign" in match.re.groupindex and match.group("tzsign"):
        sign = match.start("tzsign")
        special.add(sign)
    raw = text.encode("ascii")
    literals = [(i, raw[i]) for i in range(len(raw)) if i not in special]
    zone = match.group("tz") if "tz" in match.re.groupindex else None
    return _Template(
        width=len(raw),
        groups=groups,
        literals=literals,
        ampm=ampm,
        sign=sign,
        has_zone=zone is not None,
        zulu=zone is not None and sign is None,
    )


class _DataReader:
    """Turns blocks of complete lines into the reading arrays, keeping each reading's line for error messages."""

    def __init__(self, header: _Header, encoding: str, *, tz: tzinfo, dayfirst: bool, fast: bool):
        self.header = header
        self.columns = header.columns
        self.encoding = encoding
        self.delimiter = header.delimiter
        self.zone = UTC if header.columns.utc_in_header else tz
        self.dayfirst = dayfirst
        self.fast = fast
        self.kind: str | None = None  # "ymd" or "aby", settled by the first row
        self.templates: tuple | None = None
        self.delimiters_per_line: int | None = None  # outside quotes
        self.parts: list[dict] = []
        self.fast_blocks = 0
        self.slow_blocks = 0

    # The first row settles the file's time format and the shape the fast path expects.
    def _settle(self, block: bytes, first_line: int) -> None:
        position, number = 0, first_line - 1
        while position < len(block):
            end = block.find(b"\n", position)
            end = len(block) if end < 0 else end
            line = block[position:end].decode(self.encoding, errors="replace").rstrip("\r")
            position, number = end + 1, number + 1
            if not line.strip():
                continue
            row = _cells(line, self.delimiter)
            self._check_width(row, number)
            if self.columns.date is None:
                stamp = row[self.columns.time].strip()
                for kind, pattern in DATETIME_PATTERNS.items():
                    match = pattern.fullmatch(stamp)
                    if match:
                        self.kind = kind
                        template = _template(stamp, match)
                        self.templates = (template,) if template else None
                        break
                else:
                    raise LogFormatError(f"{stamp!r} is not a date and time (like '{EXAMPLES['ymd']}')", number)
            else:
                date, time = row[self.columns.date].strip(), row[self.columns.time].strip()
                for kind, pattern in DATE_PATTERNS.items():
                    date_match = pattern.fullmatch(date)
                    if date_match:
                        self.kind = kind
                        break
                else:
                    raise LogFormatError(f"{date!r} is not a date (like '2025-03-01' or '01/03/2025')", number)
                time_match = TIME_PATTERN.fullmatch(time)
                if not time_match:
                    raise LogFormatError(f"{time!r} is not a time of day (like '10:00:00')", number)
                date_template, time_template = _template(date, date_match), _template(time, time_match)
                self.templates = (date_template, time_template) if date_template and time_template else None
            self.delimiters_per_line = len(row) - 1
            return

    def _check_width(self, row: list[str], line: int) -> None:
        if len(row) < self.columns.needed:
            raise LogFormatError(
                f"expected at least {self.columns.needed} columns, found {len(row)}: {self.delimiter.join(row)[:60]!r}",
                line,
            )
        width = self.header.width
        if len(row) > width and any(cell.strip() for cell in row[width:]):
            hint = (
                "; a decimal comma in a comma-separated file? quote the value or use ';' as the delimiter"
                if self.delimiter == ","
                else ""
            )
            raise LogFormatError(
                f"the header names {width} columns, this row has {len(row)}: {self.delimiter.join(row)[:60]!r}{hint}",
                line,
            )

    def read_block(self, block: bytes, first_line: int) -> None:
        if self.kind is None:
            self._settle(block, first_line)
            if self.kind is None:
                return  # only blank lines so far
        fields = self._fast(block, first_line) if self.fast and self.templates else None
        if fields is None:
            fields = self._slow(block, first_line)
            self.slow_blocks += 1
        else:
            self.fast_blocks += 1
        if fields["line"].size:
            self.parts.append(self._time_of_day(fields))

    # -- fast: NumPy on the block's bytes

    def _fast(self, block: bytes, first_line: int) -> dict | None:
        if b"\0" in block:
            return None  # the csv module refuses it
        data = np.frombuffer(block, dtype=np.uint8)
        newlines = np.flatnonzero(data == 10)
        starts = np.empty_like(newlines)
        starts[0] = 0
        starts[1:] = newlines[:-1] + 1
        crlf = data[newlines - 1] == 13
        if b"\r" in block and np.count_nonzero(data == 13) != np.count_nonzero(crlf):
            return None  # a lone carriage return ends a row for the csv module
        ends = newlines - crlf
        ends = np.maximum(ends, starts)
        filled = ends > starts
        lines = first_line + np.flatnonzero(filled)
        starts, ends = starts[filled], ends[filled]
        rows = starts.size
        per_line = self.delimiters_per_line
        delimiters = np.flatnonzero(data == ord(self.delimiter))
        quotes = None
        if b'"' in block:
            # quotes[i] counts the quotes before byte i. A delimiter after an odd number of them is inside a quoted
            # field, provided every line holds its quotes in pairs, which the field bounds below make sure of.
            quotes = np.zeros(data.size + 1, dtype=np.int32)
            np.cumsum(data == QUOTE, out=quotes[1:])
            delimiters = delimiters[quotes[delimiters] % 2 == 0]
        if delimiters.size != rows * per_line:
            return None
        grid = delimiters.reshape(rows, per_line)
        if per_line and ((grid[:, 0] < starts).any() or (grid[:, -1] >= ends).any()):
            return None
        if self.columns.needed > per_line + 1:
            return None
        used = {self.columns.time, self.columns.temperature, self.columns.date}
        bounds = {}
        for column in range(per_line + 1):
            # With quotes in the block every field is checked, used or not: a quote that does not wrap a whole
            # field would make the csv module split the row elsewhere.
            if column not in used and column < self.header.width and quotes is None:
                continue
            begin = starts if column == 0 else grid[:, column - 1] + 1
            end = ends if column == per_line else grid[:, column]
            field = _field_bounds(data, begin, end, quotes)
            if field is None:
                return None
            if column >= self.header.width and (field[1] > field[0]).any():
                return None  # a cell beyond the header's: the row by row reading refuses it with its line
            bounds[column] = field
        if self.columns.date is None:
            stamp = _by_template(data, *bounds[self.columns.time], self.templates[0])
            if stamp is None:
                return None
        else:
            date = _by_template(data, *bounds[self.columns.date], self.templates[0])
            time = _by_template(data, *bounds[self.columns.time], self.templates[1])
            if date is None or time is None:
                return None
            stamp = {**date, **time}
        temperatures = _numbers(data, *bounds[self.columns.temperature])
        if temperatures is None:
            return None
        return {**stamp, "temperature": temperatures, "line": lines}

    # -- slow: the csv module, row by row; it alone reports errors

    def _slow(self, block: bytes, first_line: int) -> dict:
        try:
            text = block.decode(self.encoding)
        except UnicodeDecodeError as exc:
            line = first_line + block.count(b"\n", 0, exc.start)
            raise LogFormatError(f"the text is not valid {self.encoding}", line) from None
        values: dict[str, list] = {
            name: [] for name in ("Y", "A", "B", "h", "mi", "s", "pm", "offset", "zoned", "temperature", "line")
        }
        reader = _rows(io.StringIO(text, newline=""), self.delimiter)
        consumed = 0
        columns = self.columns
        try:
            for row in reader:
                line = first_line + consumed
                consumed = reader.line_num
                if not any(cell.strip() for cell in row):
                    continue
                self._check_width(row, line)
                if columns.date is None:
                    stamp = row[columns.time].strip()
                    match = DATETIME_PATTERNS[self.kind].fullmatch(stamp)
                    if not match:
                        raise LogFormatError(f"{stamp!r} is not a date and time like '{EXAMPLES[self.kind]}'", line)
                    date_match = time_match = match
                else:
                    date, stamp = row[columns.date].strip(), row[columns.time].strip()
                    date_match = DATE_PATTERNS[self.kind].fullmatch(date)
                    if not date_match:
                        raise LogFormatError(f"{date!r} is not a date like the first row's", line)
                    time_match = TIME_PATTERN.fullmatch(stamp)
                    if not time_match:
                        raise LogFormatError(f"{stamp!r} is not a time of day (like '10:00:00')", line)
                cell = row[columns.temperature].strip()
                values["temperature"].append(_temperature(cell, line))
                for name in ("Y", "A", "B"):
                    values[name].append(int(date_match.group(name)))
                values["h"].append(int(time_match.group("h")))
                values["mi"].append(int(time_match.group("mi")))
                values["s"].append(int(time_match.group("s") or 0))
                ampm = time_match.group("ampm")
                values["pm"].append(-1 if not ampm else int(ampm[0] in "Pp"))
                offset, zoned = _zone_offset(time_match)
                values["offset"].append(offset)
                values["zoned"].append(zoned)
                values["line"].append(line)
        except csv.Error as exc:
            raise LogFormatError(f"the row cannot be read as delimited text ({exc})", first_line + consumed) from None
        return {
            "Y": np.array(values["Y"], dtype=np.int64),
            "A": np.array(values["A"], dtype=np.int64),
            "B": np.array(values["B"], dtype=np.int64),
            "h": np.array(values["h"], dtype=np.int64),
            "mi": np.array(values["mi"], dtype=np.int64),
            "s": np.array(values["s"], dtype=np.int64),
            "pm": np.array(values["pm"], dtype=np.int8),
            "offset": np.array(values["offset"], dtype=np.int64),
            "zoned": np.array(values["zoned"], dtype=bool),
            "temperature": np.array(values["temperature"], dtype=np.float64),
            "line": np.array(values["line"], dtype=np.int64),
        }

    # -- common: check the clock fields, keep compact arrays

    def _time_of_day(self, fields: dict) -> dict:
        hours, pm = fields["h"], fields["pm"]
        twelve = pm >= 0
        _refuse(twelve & ((hours < 1) | (hours > 12)), fields, "is not an hour on a 12-hour clock")
        hours = np.where(twelve, hours % 12 + 12 * (pm == 1), hours)
        _refuse(hours > 23, fields, "has an hour past 23")
        _refuse(fields["mi"] > 59, fields, "has minutes past 59")
        _refuse(fields["s"] > 59, fields, "has seconds past 59")
        year = fields["Y"]
        year = np.where(year < 100, year + 2000, year)
        return {
            "year": year.astype(np.int16),
            "a": fields["A"].astype(np.int8),
            "b": fields["B"].astype(np.int8),
            "seconds": (hours * 3600 + fields["mi"] * 60 + fields["s"]).astype(np.int32),
            "offset": fields["offset"].astype(np.int32),
            "zoned": fields["zoned"],
            "temperature": fields["temperature"],
            "line": fields["line"].astype(np.int32),
        }

    def finish(self) -> tuple[np.ndarray, np.ndarray, dict]:
        if not self.parts:
            raise LogFormatError(f"no readings after the header on line {self.header.header_line}")
        merged = {}
        for name in list(self.parts[0]):
            # One column at a time, letting go of the blocks' copies as it goes.
            merged[name] = np.concatenate([part.pop(name) for part in self.parts])
        self.parts = []
        lines = merged["line"]
        order = self._date_order(merged)
        # A logger writes hundreds of readings a day: the calendar is worked out once per run of equal dates.
        key = merged["year"].astype(np.int32)
        key *= 100
        key += merged["a"]
        key *= 100
        key += merged["b"]
        changes = np.empty(key.size, dtype=bool)
        changes[0] = True
        np.not_equal(key[1:], key[:-1], out=changes[1:])
        runs = np.flatnonzero(changes)
        del key, changes
        year = merged["year"][runs].astype(np.int64)
        first, second = merged["a"][runs].astype(np.int64), merged["b"][runs].astype(np.int64)
        month, day = (second, first) if order == "dmy" else (first, second)
        bad = (month < 1) | (month > 12)
        bad |= (day < 1) | (day > _days_in_month(year, np.clip(month, 1, 12)))
        if bad.any():
            index = int(np.flatnonzero(bad)[0])
            raise LogFormatError(
                f"{year[index]:04d}, month {month[index]}, day {day[index]} is not a date on the calendar",
                int(lines[runs[index]]),
            )
        run_days = _days_from_civil(year, month, day) * 86400
        naive = np.repeat(run_days, np.diff(np.append(runs, lines.size)))
        naive += merged.pop("seconds")
        zoned = merged["zoned"]
        if zoned.all():
            times = naive - merged["offset"]
        elif not zoned.any():
            times = _to_utc(naive, self.zone)
        else:
            times = np.where(zoned, naive - merged["offset"], _to_utc(naive, self.zone))
        step = np.diff(times)
        backwards = np.flatnonzero(step <= 0)
        if backwards.size:
            i = int(backwards[0])
            before, after = _utc_text(times[i]), _utc_text(times[i + 1])
            what = "repeats the time" if step[i] == 0 else f"({after}) is earlier than the reading"
            raise LogFormatError(
                f"readings out of order: this reading {what} of line {lines[i]} ({before})", int(lines[i + 1])
            )
        temperatures = merged["temperature"]
        if self.columns.fahrenheit:
            temperatures = (temperatures - 32.0) * (5.0 / 9.0)
        cold = np.flatnonzero(temperatures < ABSOLUTE_ZERO)
        if cold.size:
            raise LogFormatError("the temperature is below absolute zero", int(lines[cold[0]]))
        details = {
            "date_order": order,
            "timezone": "UTC" if zoned.all() else str(self.zone),
            "fast_blocks": self.fast_blocks,
            "slow_blocks": self.slow_blocks,
        }
        return times.astype(np.int64, copy=False), temperatures, details

    def _date_order(self, merged: dict) -> str:
        if self.kind == "ymd":
            return "ymd"
        if (merged["a"] > 12).any():
            return "dmy"
        if (merged["b"] > 12).any():
            return "mdy"
        return "dmy" if self.dayfirst else "mdy"


def _refuse(bad: np.ndarray, fields: dict, what: str) -> None:
    if bad.any():
        raise LogFormatError(f"the time {what}", int(fields["line"][np.flatnonzero(bad)[0]]))


def _strip_spaces(data: np.ndarray, begin: np.ndarray, end: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    for _ in range(MAX_PADDING):
        inside = begin < end
        head = inside & (data[begin] == SPACE)
        tail = inside & (data[np.maximum(end - 1, 0)] == SPACE)
        if not head.any() and not tail.any():
            return begin, end
        begin = begin + head
        end = end - (tail & (begin < end))
    return None


def _field_bounds(
    data: np.ndarray, begin: np.ndarray, end: np.ndarray, quotes: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray] | None:
    """Each row's field as the csv module (skipinitialspace) and str.strip() leave it: without the spaces around it
    and without the quotes wrapping it. None when that takes more than this: a quote inside a field, doubled, or
    before or after its text, or wide padding; the csv module then reads the block."""
    stripped = _strip_spaces(data, begin, end)
    if stripped is None or quotes is None:
        return stripped
    begin, end = stripped
    wrapped = (end - begin >= 2) & (data[begin] == QUOTE) & (data[np.maximum(end - 1, 0)] == QUOTE)
    begin, end = begin + wrapped, end - wrapped
    if (quotes[end] != quotes[begin]).any():
        return None
    return _strip_spaces(data, begin, end)


def _by_template(data: np.ndarray, begin: np.ndarray, end: np.ndarray, template: _Template) -> dict | None:
    if not ((end - begin) == template.width).all():
        return None
    for position, byte in template.literals:
        if not (data[begin + position] == byte).all():
            return None
    values = {}
    for name, (start, stop) in template.groups.items():
        number = np.zeros(begin.size, dtype=np.int64)
        for position in range(start, stop):
            digit = data[begin + position] - np.uint8(48)  # a byte below "0" wraps around past 9
            if (digit > 9).any():
                return None
            number = number * 10 + digit
        values[name] = number
    rows = begin.size
    if template.ampm is not None:
        letter = data[begin + template.ampm] | 0x20
        if not np.isin(letter, (ord("a"), ord("p"))).all():
            return None
        values["pm"] = (letter == ord("p")).astype(np.int8)
    offset = np.zeros(rows, dtype=np.int64)
    if template.sign is not None:
        sign = data[begin + template.sign]
        if not np.isin(sign, (ord("+"), ord("-"))).all():
            return None
        offset = values.get("tzh", offset) * 3600 + values.get("tzm", np.zeros(rows, dtype=np.int64)) * 60
        offset = np.where(sign == ord("-"), -offset, offset)
    result = {}
    if "Y" in values:
        result.update(Y=values["Y"], A=values["A"], B=values["B"])
    if "h" in values:
        result.update(
            h=values["h"],
            mi=values["mi"],
            s=values.get("s", np.zeros(rows, dtype=np.int64)),
            pm=values.get("pm", np.full(rows, -1, dtype=np.int8)),
            offset=offset,
            zoned=np.full(rows, template.has_zone),
        )
    return result


def _numbers(data: np.ndarray, begin: np.ndarray, end: np.ndarray) -> np.ndarray | None:
    """Plain decimals ([+-]digits[.digits], or a decimal comma: a comma inside a field is never a delimiter here)
    parsed on their bytes, exactly as float() would: the digits as an integer divided by a power of ten is the
    correctly rounded value. Anything else (exponents, text, empty cells) returns None for the row-by-row reading to
    judge."""
    widths = end - begin
    if widths.size == 0:
        return np.zeros(0)
    widest = int(widths.max())
    if widths.min() == 0 or widest > MAX_NUMBER_WIDTH:
        return None
    last = data.size - 1
    mantissa = np.zeros(begin.size, dtype=np.int64)
    decimals = np.zeros(begin.size, dtype=np.int64)
    digits = np.zeros(begin.size, dtype=np.int64)
    seen_point = np.zeros(begin.size, dtype=bool)
    negative = np.zeros(begin.size, dtype=bool)
    valid = np.ones(begin.size, dtype=bool)
    for position in range(widest):
        active = position < widths
        byte = data[np.minimum(begin + position, last)].astype(np.int64)
        is_digit = active & (byte >= 48) & (byte <= 57)
        is_point = active & ((byte == 46) | (byte == 44))
        is_sign = active & (position == 0) & ((byte == 45) | (byte == 43))
        valid &= ~active | is_digit | is_point | is_sign
        valid &= ~(is_point & seen_point)
        mantissa = np.where(is_digit, mantissa * 10 + (byte - 48), mantissa)
        decimals += is_digit & seen_point
        digits += is_digit
        seen_point |= is_point
        negative |= is_sign & (byte == 45)
    valid &= (digits > 0) & (digits <= MAX_MANTISSA_DIGITS)
    if not valid.all():
        return None
    values = mantissa / np.power(10.0, decimals)
    np.negative(values, out=values, where=negative)
    return values


def _temperature(cell: str, line: int) -> float:
    text = cell.replace("\u2212", "-").replace(",", ".").strip()
    if not text:
        raise LogFormatError("no temperature in this row", line)
    try:
        value = float(text)
    except ValueError:
        raise LogFormatError(f"{cell!r} is not a temperature", line) from None
    if not np.isfinite(value):
        raise LogFormatError(f"{cell!r} is not a temperature reading", line)
    return value


def _zone_offset(match: re.Match) -> tuple[int, bool]:
    zone = match.group("tz")
    if zone is None:
        return 0, False
    if match.group("tzsign") is None:
        return 0, True
    seconds = int(match.group("tzh")) * 3600 + int(match.group("tzm") or 0) * 60
    return (-seconds if match.group("tzsign") == "-" else seconds), True


def _days_in_month(year: np.ndarray, month: np.ndarray) -> np.ndarray:
    lengths = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.int64)
    leap = ((year % 4 == 0) & (year % 100 != 0)) | (year % 400 == 0)
    return lengths[month - 1] + (leap & (month == 2))


def _days_from_civil(year: np.ndarray, month: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Days since 1970-01-01 of proleptic Gregorian dates (H. Hinnant's days_from_civil, vectorised)."""
    year = year - (month <= 2)
    era = np.floor_divide(year, 400)
    year_of_era = year - era * 400
    day_of_year = (153 * ((month + 9) % 12) + 2) // 5 + day - 1
    day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
    return era * 146097 + day_of_era - 719468


def _to_utc(naive: np.ndarray, zone: tzinfo) -> np.ndarray:
    """Local wall-clock seconds in `zone` to UTC seconds. The offset is looked up once per quarter-hour present; in
    the hour repeated when clocks go back, a reading that does not move past an earlier one is the second pass."""
    if zone is UTC or getattr(zone, "key", None) in ("UTC", "Etc/UTC"):
        return naive
    quarters, inverse = np.unique(naive // QUARTER_HOUR, return_inverse=True)
    epoch = datetime(1970, 1, 1)  # noqa: DTZ001 - wall-clock time, given its zone below
    first = np.empty(quarters.size, dtype=np.int64)
    second = np.empty(quarters.size, dtype=np.int64)
    for i, quarter in enumerate(quarters.tolist()):
        wall = epoch + timedelta(seconds=quarter * QUARTER_HOUR)
        first[i] = wall.replace(tzinfo=zone).utcoffset() // timedelta(seconds=1)
        second[i] = wall.replace(tzinfo=zone, fold=1).utcoffset() // timedelta(seconds=1)
    offset, later = first[inverse], second[inverse]
    ambiguous = offset != later
    if ambiguous.any():
        reached = np.maximum.accumulate(naive)
        repeated = np.zeros(naive.size, dtype=bool)
        repeated[1:] = reached[:-1] >= naive[1:]
        offset = np.where(ambiguous & repeated, later, offset)
    return naive - offset


def _utc_text(seconds) -> str:
    return f"{datetime.fromtimestamp(int(seconds), tz=UTC):%Y-%m-%d %H:%M:%S} UTC"
