"""What a logger's readings say against a temperature range: extremes, mean, time out of range, the mean kinetic
temperature, and the excursions as intervals. NumPy over whole arrays; the only Python loops are over excursions.

Time is weighted the way loggers and GDP reports count it: a reading holds until the next one, and the last reading
holds for no time (the log says nothing after it). Minimum, maximum, mean and MKT are over the readings themselves,
as USP <1079.2> defines MKT for readings taken at a regular interval."""

from dataclasses import dataclass

import numpy as np
from django.conf import settings

from shipments.choices import ExcursionDirection
from shipments.coldchain.ranges import TemperatureRange

KELVIN = 273.15
# USP <1079.2> and ICH Q1A: ΔH = 83.144 kJ/mol with R = 8.3144 J/(mol·K), so that ΔH/R is 10,000 K exactly.
DEFAULT_DELTA_H = 83.144  # kJ/mol
GAS_CONSTANT = 8.3144e-3  # kJ/(mol·K)


def delta_h_setting() -> float:
    return float(getattr(settings, "COLD_CHAIN_MKT_DELTA_H", DEFAULT_DELTA_H))


@dataclass(frozen=True)
class ExcursionSpan:
    """From the first reading out of range to the next reading back in it, or to the last reading of the log."""

    direction: str
    start: int  # seconds since the epoch, UTC
    end: int
    peak: float
    ends_with_log: bool

    @property
    def minutes(self) -> float:
        return (self.end - self.start) / 60


@dataclass(frozen=True)
class Analysis:
    temperature_range: TemperatureRange
    reading_count: int
    first: int  # seconds since the epoch, UTC
    last: int
    minimum: float
    maximum: float
    mean: float
    mean_kinetic_temperature: float
    delta_h: float  # kJ/mol
    seconds_above: int
    seconds_below: int
    excursions: tuple[ExcursionSpan, ...]

    @property
    def minutes_above(self) -> float:
        return self.seconds_above / 60

    @property
    def minutes_below(self) -> float:
        return self.seconds_below / 60


def mean_kinetic_temperature(
    temperatures: np.ndarray, delta_h: float = DEFAULT_DELTA_H, *, maximum: float | None = None
) -> float:
    """Tmkt = (ΔH/R) / −ln(Σ exp(−ΔH/(R·Ti)) / n), temperatures in °C in and out, Ti in kelvin.

    Summed as log-sum-exp around the warmest reading: at cryogenic temperatures exp(−ΔH/(R·Ti)) falls below the
    smallest double and the plain sum would be zero. `maximum` saves a pass when the caller knows it."""
    temperatures = np.asarray(temperatures, dtype=np.float64)
    if temperatures.size == 0:
        raise ValueError("no readings")
    if maximum is None:
        maximum = float(temperatures.max())
    if float(temperatures.min()) + KELVIN <= 0:
        raise ValueError("a temperature at or below absolute zero")
    ratio = delta_h / GAS_CONSTANT  # kelvin
    peak = -ratio / (maximum + KELVIN)
    terms = temperatures + KELVIN
    np.divide(-ratio, terms, out=terms)
    terms -= peak
    np.exp(terms, out=terms)
    log_mean = peak + np.log(terms.mean())
    return float(-ratio / log_mean - KELVIN)


def analyse(
    times: np.ndarray,
    temperatures: np.ndarray,
    *,
    temperature_range: TemperatureRange,
    delta_h: float | None = None,
) -> Analysis:
    """The analysis of one log's readings (`times` in seconds, strictly increasing; `temperatures` in °C)."""
    times = np.asarray(times, dtype=np.int64)
    temperatures = np.asarray(temperatures, dtype=np.float64)
    count = temperatures.size
    if count == 0 or times.size != count:
        raise ValueError("one time per reading, and at least one reading")
    delta_h = delta_h_setting() if delta_h is None else float(delta_h)
    held = np.diff(times)  # how long each reading but the last holds
    minimum, maximum = float(temperatures.min()), float(temperatures.max())
    low, high = temperature_range.low, temperature_range.high
    above = temperatures > high if high is not None else np.zeros(count, dtype=bool)
    below = temperatures < low if low is not None else np.zeros(count, dtype=bool)
    seconds_above = int(np.sum(held, where=above[:-1])) if high is not None and maximum > high else 0
    seconds_below = int(np.sum(held, where=below[:-1])) if low is not None and minimum < low else 0
    excursions = ()
    if (high is not None and maximum > high) or (low is not None and minimum < low):
        excursions = _excursions(times, temperatures, above, below)
    return Analysis(
        temperature_range=temperature_range,
        reading_count=count,
        first=int(times[0]),
        last=int(times[-1]),
        minimum=minimum,
        maximum=maximum,
        mean=float(temperatures.mean()),
        mean_kinetic_temperature=mean_kinetic_temperature(temperatures, delta_h, maximum=maximum),
        delta_h=delta_h,
        seconds_above=seconds_above,
        seconds_below=seconds_below,
        excursions=excursions,
    )


def _excursions(
    times: np.ndarray, temperatures: np.ndarray, above: np.ndarray, below: np.ndarray
) -> tuple[ExcursionSpan, ...]:
    state = above.astype(np.int8) - below.astype(np.int8)  # 1 above, -1 below, 0 in range
    count = state.size
    changes = np.flatnonzero(state[1:] != state[:-1]) + 1
    run_starts = np.concatenate(([0], changes))
    run_ends = np.concatenate((changes, [count]))  # exclusive: the first reading of the next run
    run_states = state[run_starts]
    out = run_states != 0
    starts, ends, states = run_starts[out], run_ends[out], run_states[out]
    highest = np.maximum.reduceat(temperatures, run_starts)[out]
    lowest = np.minimum.reduceat(temperatures, run_starts)[out]
    start_times = times[starts]
    end_times = times[np.minimum(ends, count - 1)]
    open_ended = ends == count
    return tuple(
        ExcursionSpan(
            direction=ExcursionDirection.ABOVE if direction > 0 else ExcursionDirection.BELOW,
            start=start,
            end=end,
            peak=high if direction > 0 else low,
            ends_with_log=open_end,
        )
        for direction, start, end, high, low, open_end in zip(
            states.tolist(),
            start_times.tolist(),
            end_times.tolist(),
            highest.tolist(),
            lowest.tolist(),
            open_ended.tolist(),
            strict=True,
        )
    )


def covered_seconds(starts, ends) -> int:
    """Seconds covered by the union of intervals [start, end): time out of range counted once however many loggers
    (or re-exports of one logger) saw it."""
    starts = np.asarray(starts, dtype=np.int64)
    ends = np.asarray(ends, dtype=np.int64)
    if starts.size == 0:
        return 0
    order = np.argsort(starts, kind="stable")
    starts, ends = starts[order], ends[order]
    reach = np.maximum.accumulate(ends)
    opens = np.ones(starts.size, dtype=bool)
    opens[1:] = starts[1:] > reach[:-1]
    group_starts = np.flatnonzero(opens)
    group_ends = np.maximum.reduceat(ends, group_starts)
    return int((group_ends - starts[group_starts]).sum())


def envelope(times: np.ndarray, temperatures: np.ndarray, *, points: int = 1000):
    """At most `points` buckets of consecutive readings as (time of the first, lowest, highest): a chart of a
    million readings drawn from a thousand points keeps every spike."""
    times = np.asarray(times, dtype=np.int64)
    temperatures = np.asarray(temperatures, dtype=np.float64)
    if temperatures.size <= points:
        return times, temperatures, temperatures
    edges = np.linspace(0, temperatures.size, points + 1).astype(np.int64)[:-1]
    return times[edges], np.minimum.reduceat(temperatures, edges), np.maximum.reduceat(temperatures, edges)
