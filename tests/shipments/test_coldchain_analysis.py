"""The analysis of readings: extremes, mean, time out of range, mean kinetic temperature against independent
references, excursions as intervals, and the time out of range of a shipment counted once over several logs."""

import math

import numpy as np
import pytest
from django.test import override_settings

from compliance.choices import TemperatureClass
from shipments.coldchain.analysis import (
    DEFAULT_DELTA_H,
    analyse,
    covered_seconds,
    envelope,
    mean_kinetic_temperature,
)
from shipments.coldchain.ranges import CLASS_DEFAULTS, TemperatureRange, class_defaults, temperature_range

FRIDGE = TemperatureRange(low=2.0, high=8.0)
START = 1_772_323_200  # 2026-03-01T00:00:00Z


def minutely(values) -> tuple[np.ndarray, np.ndarray]:
    values = np.asarray(values, dtype=np.float64)
    return START + 60 * np.arange(values.size, dtype=np.int64), values


def reference_mkt(celsius, delta_h_kj=83.144, r_kj=0.0083144) -> float:
    """The USP <1079.2> formula written out term by term with math.fsum: an implementation independent of NumPy."""
    terms = [math.exp(-delta_h_kj / (r_kj * (t + 273.15))) for t in celsius]
    return (delta_h_kj / r_kj) / -math.log(math.fsum(terms) / len(terms)) - 273.15


# --- temperature classes --------------------------------------------------------------------------------------------


def test_every_class_has_its_domain_range_and_defaults():
    assert temperature_range(TemperatureClass.AMBIENT) == TemperatureRange(15.0, 25.0)
    assert temperature_range(TemperatureClass.REFRIGERATED) == TemperatureRange(2.0, 8.0)
    assert temperature_range(TemperatureClass.FROZEN) == TemperatureRange(-25.0, -15.0)
    assert temperature_range(TemperatureClass.DEEP_FROZEN) == TemperatureRange(None, -60.0)
    assert temperature_range(TemperatureClass.CRYOGENIC) == TemperatureRange(None, -150.0)
    assert set(CLASS_DEFAULTS) == set(TemperatureClass.values)
    assert all(d.qualified_duration_hours > 0 and d.excursion_budget_minutes >= 0 for d in CLASS_DEFAULTS.values())
    assert str(temperature_range(TemperatureClass.DEEP_FROZEN)) == "≤ −60 °C"


def test_a_shipment_uses_its_own_pack_out_figures_or_its_class_defaults():
    from shipments.models import Shipment

    shipment = Shipment(temperature_class=TemperatureClass.FROZEN)
    defaults = class_defaults(TemperatureClass.FROZEN)
    assert shipment.effective_qualified_duration_hours == defaults.qualified_duration_hours
    assert shipment.effective_excursion_budget_minutes == defaults.excursion_budget_minutes
    shipment.qualified_duration_hours, shipment.excursion_budget_minutes = 72, 0
    assert (shipment.effective_qualified_duration_hours, shipment.effective_excursion_budget_minutes) == (72, 0)
    assert shipment.temperature_range == TemperatureRange(-25.0, -15.0)


# --- mean kinetic temperature ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("constant", [-196.0, -80.0, -20.0, 0.0, 5.0, 25.0, 40.0])
def test_mkt_of_a_constant_trace_is_that_constant(constant):
    assert mean_kinetic_temperature(np.full(10_000, constant)) == pytest.approx(constant, abs=1e-9)


def test_mkt_of_a_two_level_trace_computed_by_hand():
    # Half the readings at 2 °C, half at 30 °C, ΔH/R = 83.144 / 0.0083144 = 10,000 K:
    # −10000/275.15 = −36.3438 and −10000/303.15 = −32.9870; the mean of the two exponentials is
    # e^−32.9870 × (1 + e^−3.3568) / 2 = e^−32.9870 × 0.51742, whose logarithm is −32.9870 − 0.65890 = −33.6459;
    # Tmkt = 10000 / 33.6459 = 297.213 K = 24.06 °C.
    by_hand = 10000 / -math.log((math.exp(-10000 / 275.15) + math.exp(-10000 / 303.15)) / 2) - 273.15
    assert by_hand == pytest.approx(24.063, abs=0.001)
    mkt = mean_kinetic_temperature(np.array([2.0, 30.0] * 500))
    assert mkt == pytest.approx(by_hand, abs=1e-9)
    assert mkt > 16.0  # well above the arithmetic mean: the warm half weighs more


def test_mkt_matches_the_formula_written_out_on_a_varied_trace():
    rng = np.random.default_rng(2)
    trace = 5 + 2 * np.sin(np.linspace(0, 40, 5000)) + rng.normal(0, 0.5, 5000)
    assert mean_kinetic_temperature(trace) == pytest.approx(reference_mkt(trace.tolist()), abs=1e-9)


def test_mkt_with_another_activation_energy():
    trace = [2.0, 8.0, 25.0]
    assert mean_kinetic_temperature(np.array(trace), 60.0) == pytest.approx(reference_mkt(trace, 60.0), abs=1e-9)


def test_mkt_stays_finite_at_cryogenic_temperatures():
    # exp(−10000/4.15) is far below the smallest double: the plain formula would divide by log(0).
    assert mean_kinetic_temperature(np.array([-269.0, -269.0])) == pytest.approx(-269.0, abs=1e-9)


def test_the_activation_energy_comes_from_settings():
    times, values = minutely([2.0, 30.0])
    assert analyse(times, values, temperature_range=FRIDGE).delta_h == DEFAULT_DELTA_H
    with override_settings(COLD_CHAIN_MKT_DELTA_H=60.0):
        result = analyse(times, values, temperature_range=FRIDGE)
    assert result.delta_h == 60.0
    assert result.mean_kinetic_temperature == pytest.approx(reference_mkt([2.0, 30.0], 60.0), abs=1e-9)


# --- time out of range and excursions -------------------------------------------------------------------------------


def test_a_twenty_minute_spike_to_9_degrees_is_one_excursion_of_twenty_minutes():
    values = np.full(24 * 60, 5.0)
    values[600:620] = 9.0  # 20 readings a minute apart: 10:00 to 10:19, back in range at 10:20
    times, values = minutely(values)
    result = analyse(times, values, temperature_range=FRIDGE)
    assert len(result.excursions) == 1
    excursion = result.excursions[0]
    assert excursion.direction == "above"
    assert excursion.minutes == 20
    assert (excursion.start, excursion.end) == (START + 600 * 60, START + 620 * 60)
    assert excursion.peak == 9.0 and not excursion.ends_with_log
    assert (result.minutes_above, result.minutes_below) == (20, 0)
    assert (result.minimum, result.maximum) == (5.0, 9.0)
    assert result.mean == pytest.approx((1420 * 5 + 20 * 9) / 1440)


def test_time_is_weighted_by_how_long_each_reading_holds():
    # Readings at 0, 1, 11 and 12 minutes: the 9 °C reading at minute 1 holds for ten minutes.
    times = START + 60 * np.array([0, 1, 11, 12])
    result = analyse(times, np.array([5.0, 9.0, 5.0, 1.0]), temperature_range=FRIDGE)
    assert result.minutes_above == 10
    assert result.minutes_below == 0  # the last reading holds for no time
    assert [(e.direction, e.minutes, e.ends_with_log) for e in result.excursions] == [
        ("above", 10, False),
        ("below", 0, True),
    ]


def test_excursions_above_and_below_with_their_peaks():
    values = [5, 8, 8.5, 9.7, 8.1, 5, 1.9, 0.5, 1.0, 2.0, 5]
    result = analyse(*minutely(values), temperature_range=FRIDGE)
    assert [(e.direction, e.minutes, e.peak) for e in result.excursions] == [("above", 3, 9.7), ("below", 3, 0.5)]
    assert (result.minutes_above, result.minutes_below) == (3, 3)


def test_the_bounds_are_in_range_and_a_class_without_floor_has_no_excursion_below():
    assert analyse(*minutely([2.0, 8.0, 2.0]), temperature_range=FRIDGE).excursions == ()
    deep = analyse(*minutely([-90, -70, -55, -80]), temperature_range=temperature_range("deep_frozen"))
    assert [(e.direction, e.minutes, e.peak) for e in deep.excursions] == [("above", 1, -55)]
    assert deep.minutes_below == 0


def test_a_single_reading_is_analysed():
    result = analyse(np.array([START]), np.array([12.0]), temperature_range=FRIDGE)
    assert result.reading_count == 1 and result.minutes_above == 0
    assert [(e.minutes, e.ends_with_log) for e in result.excursions] == [(0, True)]


def test_a_million_readings_have_the_same_excursions_as_counted_by_hand():
    values = np.full(1_000_000, 5.0)
    spikes = [(1000, 1020), (500_000, 500_090), (999_990, 1_000_000)]
    for first, last in spikes:
        values[first:last] = 12.0
    result = analyse(*minutely(values), temperature_range=FRIDGE)
    assert [e.minutes for e in result.excursions] == [20, 90, 9]
    assert result.excursions[-1].ends_with_log
    assert result.minutes_above == 20 + 90 + 9


# --- a shipment's time out of range over several logs ---------------------------------------------------------------


def test_overlapping_intervals_count_once():
    assert covered_seconds([0, 10, 100], [20, 30, 110]) == 40
    assert covered_seconds([100, 0], [110, 200]) == 200
    assert covered_seconds([], []) == 0


def test_envelope_keeps_every_spike():
    values = np.full(100_000, 5.0)
    values[54_321] = 11.0
    times, low, high = envelope(*minutely(values), points=500)
    assert times.size == low.size == high.size == 500
    assert high.max() == 11.0 and low.min() == 5.0
