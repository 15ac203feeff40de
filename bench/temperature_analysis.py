"""A logger file of a million readings (a reading a minute for 694 days) read and analysed as an import does it,
against NumPy alone computing the same mean kinetic temperature.

    .venv/bin/python bench/temperature_analysis.py [--readings 1000000] [--repeat 5]

The file is a 2–8 °C trace (a daily swing, noise, a dozen spikes above range and a few dips below) written as a
logger exports it: a preamble, a header, ISO times with Z, one reading a line. Timed, best of `--repeat`:
- ours: parse_logger_file (read the file, check and convert every time and temperature, hash it) plus analyse
  (min, max, mean, time above and below range, MKT, excursions as intervals);
- NumPy alone on the same file: np.loadtxt of the temperature column and the MKT formula in one line, which checks
  nothing and ignores the times;
- NumPy alone on the array in memory: the MKT formula, against our analysis of the parsed arrays and our MKT alone.
Peak memory is measured in a separate run under tracemalloc (NumPy reports its buffers to it). No database needed.
Target: ours within 2x of NumPy alone on the same file."""

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("IOR_VAR_DIR", tempfile.mkdtemp(prefix="ior-bench-"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ior_platform.settings.test")

import django  # noqa: E402

django.setup()

from shipments.coldchain.analysis import analyse, mean_kinetic_temperature  # noqa: E402
from shipments.coldchain.parsing import parse_logger_file  # noqa: E402
from shipments.coldchain.ranges import temperature_range  # noqa: E402
from shipments.coldchain.storage import pack_temperatures, pack_times  # noqa: E402

RANGE = temperature_range("refrigerated")
DH_R = 83.144 / 0.0083144


def logger_file(readings: int) -> bytes:
    rng = np.random.default_rng(1079)
    minutes = np.arange(readings)
    values = 5.0 + 1.2 * np.sin(2 * np.pi * minutes / 1440) + rng.normal(0, 0.2, readings)
    for start in rng.integers(0, readings - 200, 12):
        values[start : start + rng.integers(20, 90)] = rng.uniform(8.5, 11.0)
    for start in rng.integers(0, readings - 200, 3):
        values[start : start + rng.integers(10, 40)] = rng.uniform(0.5, 1.9)
    stamps = (np.datetime64("2024-01-01T00:00:00") + minutes * np.timedelta64(60, "s")).astype(str)
    rows = "\n".join(f"{s}Z,{v:.2f}" for s, v in zip(stamps, values, strict=True))
    preamble = "Device: bench logger\nSerial Number: BENCH-1\n\nTimestamp,Temperature (°C)\n"
    return (preamble + rows + "\n").encode()


def best(function, repeat: int) -> tuple[float, float, object]:
    timings, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = function()
        timings.append(time.perf_counter() - started)
    return min(timings), statistics.median(timings), result


def ours(path: Path):
    with path.open("rb") as handle:
        parsed = parse_logger_file(handle)
    return parsed, analyse(parsed.times, parsed.temperatures, temperature_range=RANGE)


def numpy_from_file(path: Path) -> float:
    temperatures = np.loadtxt(path, delimiter=",", skiprows=4, usecols=1, dtype=np.float64)
    return DH_R / -np.log(np.mean(np.exp(-DH_R / (temperatures + 273.15)))) - 273.15


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readings", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", action="store_true", help="end with one JSON line of the figures, for scripts")
    options = parser.parse_args()

    content = logger_file(options.readings)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "logger.csv"
        path.write_bytes(content)
        print(f"{options.readings:,} readings, {len(content) / 1e6:.1f} MB, best and median of {options.repeat}")

        ours_best, ours_median, (parsed, analysis) = best(lambda: ours(path), options.repeat)
        numpy_best, numpy_median, numpy_mkt = best(lambda: numpy_from_file(path), options.repeat)
        temperatures = parsed.temperatures
        analyse_best, _, _ = best(
            lambda: analyse(parsed.times, temperatures, temperature_range=RANGE), options.repeat * 4
        )
        mkt_best, _, mkt = best(lambda: mean_kinetic_temperature(temperatures), options.repeat * 4)
        alone_best, _, alone = best(
            lambda: DH_R / -np.log(np.mean(np.exp(-DH_R / (temperatures + 273.15)))) - 273.15, options.repeat * 4
        )
        pack_best, _, packed = best(lambda: (pack_times(parsed.times), pack_temperatures(temperatures)), options.repeat)

        tracemalloc.start()
        ours(path)
        _, ours_peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        tracemalloc.start()
        numpy_from_file(path)
        _, numpy_peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()

    assert abs(analysis.mean_kinetic_temperature - numpy_mkt) < 1e-9 and abs(mkt - alone) < 1e-9
    print(
        f"analysis: {analysis.reading_count:,} readings, min {analysis.minimum:.2f} max {analysis.maximum:.2f} "
        f"mean {analysis.mean:.3f} MKT {analysis.mean_kinetic_temperature:.3f} °C, "
        f"{analysis.minutes_above:g} min above, {analysis.minutes_below:g} min below, "
        f"{len(analysis.excursions)} excursions; blocks read by NumPy {parsed.details['fast_blocks']}, "
        f"row by row {parsed.details['slow_blocks']}"
    )
    print()
    print(f"{'':58}{'best':>10}{'median':>10}{'peak memory':>14}")
    print(f"{'ours: parse + analyse the file':58}{ours_best:>9.3f}s{ours_median:>9.3f}s{ours_peak / 2**20:>11.1f} MB")
    print(
        f"{'NumPy alone: loadtxt the temperatures + MKT':58}{numpy_best:>9.3f}s{numpy_median:>9.3f}s"
        f"{numpy_peak / 2**20:>11.1f} MB"
    )
    print(f"{'  ratio (target <= 2x)':58}{ours_best / numpy_best:>9.2f}x")
    print()
    print(f"{'ours: analyse the parsed arrays (all figures, excursions)':58}{analyse_best * 1000:>8.1f}ms")
    print(f"{'ours: MKT alone':58}{mkt_best * 1000:>8.1f}ms")
    print(f"{'NumPy alone: MKT formula on the array':58}{alone_best * 1000:>8.1f}ms")
    print(f"{'  ratio, MKT (target <= 2x)':58}{mkt_best / alone_best:>9.2f}x")
    print(f"{'  ratio, whole analysis':58}{analyse_best / alone_best:>9.2f}x")
    print()
    stored = len(packed[0]) + len(packed[1])
    print(f"{'storing the readings: pack both arrays':58}{pack_best * 1000:>8.1f}ms  {stored / 2**20:.1f} MB")
    if options.json:
        figures = [
            {
                "figure": f"parse + analyse a logger file, best s ({options.readings:,} readings)",
                "ours": ours_best,
                "reference": numpy_best,
                "reference_label": "NumPy loadtxt + MKT",
                "target": 2.0,
            },
            {
                "figure": "MKT on the parsed array, best ms",
                "ours": mkt_best * 1000,
                "reference": alone_best * 1000,
                "reference_label": "NumPy MKT formula",
                "target": 2.0,
            },
            {
                "figure": "parse + analyse a logger file, peak memory MiB (tracemalloc)",
                "ours": ours_peak / 2**20,
                "reference": numpy_peak / 2**20,
                "reference_label": "NumPy loadtxt + MKT",
                "target": None,
            },
        ]
        print(json.dumps({"bench": "temperature_analysis", "figures": figures}))


if __name__ == "__main__":
    main()
