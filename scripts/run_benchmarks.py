"""Run every benchmark under bench/ on PostgreSQL and print one table: benchmark, figure, ours, the reference measured
in the same run, the ratio and the target.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench .venv/bin/python scripts/run_benchmarks.py
    .venv/bin/python scripts/run_benchmarks.py --full        # the sizes the benchmarks default to (long)
    .venv/bin/python scripts/run_benchmarks.py --only dossier_render

Each benchmark runs as its own process with `--json` and ends with one JSON line of its figures; its other output
goes to stderr as it runs, so a slow benchmark shows progress. Exits non-zero if any benchmark crashes, after
printing the table of those that finished. `make bench` calls this."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/bench"

BENCH_DIR = ROOT / "bench"

# Moderate sizes, so the whole run stays under ten minutes on two cores; --full drops them. Only the arguments: which
# benchmarks run is every bench/*.py, so a new one is in the table without being listed here.
MODERATE = {
    "api_shipments_list": ["--shipments", "20000", "--requests", "100"],
    "deadline_sweep": ["--documents", "1000000", "--skip-delivery"],
    "temperature_analysis": ["--readings", "1000000", "--repeat", "3"],
}


def benchmark_names() -> list[str]:
    """Every benchmark under bench/; a module whose name starts with an underscore would be a helper of theirs."""
    return sorted(path.stem for path in BENCH_DIR.glob("*.py") if not path.name.startswith("_"))


def arguments(name: str, *, full: bool) -> list[str]:
    return [] if full else MODERATE.get(name, [])


def run_one(name: str, args: list[str], env: dict) -> tuple[dict | None, str]:
    """The benchmark's figures, or None and the reason it failed."""
    command = [sys.executable, str(BENCH_DIR / f"{name}.py"), *args, "--json"]
    print(f"--- {name}: {' '.join(command[1:])}", file=sys.stderr, flush=True)
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    last = ""
    assert process.stdout is not None
    for line in process.stdout:
        sys.stderr.write(line)
        sys.stderr.flush()
        if line.strip():
            last = line.strip()
    code = process.wait()
    print(f"--- {name}: exit {code} after {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    if code != 0:
        return None, f"exited with status {code}"
    try:
        result = json.loads(last)
    except json.JSONDecodeError:
        return None, "did not end with a JSON line"
    return result, ""


def _number(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, int):
        return str(value)
    return f"{value:.3g}" if abs(value) < 100 else f"{value:.0f}"


def table(results: list[dict]) -> str:
    header = ("benchmark", "figure", "ours", "reference", "ratio", "target", "verdict")
    rows = []
    for result in results:
        for figure in result["figures"]:
            ours, reference, target = figure["ours"], figure.get("reference"), figure.get("target")
            ratio = ours / reference if reference else None
            if isinstance(target, int | float):
                target_text = f"<= {target:g}x"
                verdict = "meets" if ratio is not None and ratio <= target else "MISSES"
            elif target == "= 1x":
                # The same figure as the reference (query counts): any other is a miss, not a matter of judgement.
                target_text = target
                verdict = "meets" if ratio == 1 else "MISSES"
            else:
                target_text = str(target or "-")
                verdict = "-"
            reference_text = _number(reference)
            if figure.get("reference_label"):
                reference_text += f" ({figure['reference_label']})"
            rows.append(
                (
                    result["bench"],
                    figure["figure"],
                    _number(ours),
                    reference_text,
                    f"{ratio:.2f}x" if ratio is not None else "-",
                    target_text,
                    verdict,
                )
            )
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="each benchmark at its own default (full) size")
    names = benchmark_names()
    parser.add_argument("--only", action="append", choices=names, help="run only this one (repeatable)")
    options = parser.parse_args()

    env = dict(os.environ)
    env.setdefault("DATABASE_URL", DEFAULT_DATABASE_URL)
    if not env["DATABASE_URL"].startswith(("postgres://", "postgresql://")):
        print(f"run_benchmarks: DATABASE_URL must name PostgreSQL, not {env['DATABASE_URL']}", file=sys.stderr)
        return 2
    results, failures = [], []
    for name in options.only or names:
        result, problem = run_one(name, arguments(name, full=options.full), env)
        if result is None:
            failures.append(f"{name}: {problem}")
        else:
            results.append(result)
    print(table(results))
    for failure in failures:
        print(f"FAILED {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
