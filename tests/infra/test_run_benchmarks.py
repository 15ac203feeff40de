"""The benchmark runner (scripts/run_benchmarks.py, `make bench`) without running a benchmark: it runs every
bench/*.py, with the moderate arguments where it has some, and its table says which targets are met."""

import importlib.util
import sys

import pytest

from tests.infra import ROOT


@pytest.fixture
def runner(monkeypatch):
    spec = importlib.util.spec_from_file_location("run_benchmarks", ROOT / "scripts" / "run_benchmarks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    calls = []

    def run_one(name, args, env):
        calls.append((name, args))
        return {"bench": name, "figures": [{"figure": "median", "ours": 1.0, "reference": 1.0, "target": 2}]}, ""

    monkeypatch.setattr(module, "run_one", run_one)
    monkeypatch.setenv("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bench")
    module.calls = calls
    return module


def run(runner, monkeypatch, *argv: str) -> int:
    monkeypatch.setattr(sys, "argv", ["run_benchmarks.py", *argv])
    return runner.main()


def test_every_benchmark_under_bench_is_run(runner, monkeypatch, capsys):
    assert run(runner, monkeypatch) == 0
    every = sorted(path.stem for path in (ROOT / "bench").glob("*.py"))
    assert every, "no benchmark found"
    assert [name for name, _ in runner.calls] == every
    table = capsys.readouterr().out
    assert all(f"| {name} | median |" in table for name in every)


def test_a_new_benchmark_is_run_without_being_listed_and_helpers_are_not(runner, monkeypatch, tmp_path):
    for name in ("api_shipments_list", "zz_new_benchmark", "_shared"):
        (tmp_path / f"{name}.py").write_text("")
    monkeypatch.setattr(runner, "BENCH_DIR", tmp_path)

    assert run(runner, monkeypatch) == 0
    assert runner.calls == [
        ("api_shipments_list", runner.MODERATE["api_shipments_list"]),
        ("zz_new_benchmark", []),
    ]


def test_full_drops_the_moderate_arguments_and_only_narrows(runner, monkeypatch):
    assert run(runner, monkeypatch, "--full", "--only", "deadline_sweep") == 0
    assert runner.calls == [("deadline_sweep", [])]


def test_every_moderate_override_names_a_benchmark(runner):
    assert set(runner.MODERATE) <= set(runner.benchmark_names())


def verdicts(table: str) -> dict[str, tuple[str, str, str]]:
    rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in table.splitlines()[2:]]
    return {row[1]: (row[4], row[5], row[6]) for row in rows}


def test_the_table_marks_a_met_and_a_missed_target(runner):
    table = runner.table(
        [
            {
                "bench": "dossier_render",
                "figures": [
                    {"figure": "within", "ours": 1.5, "reference": 1.0, "target": 2},
                    {"figure": "on the line", "ours": 2.0, "reference": 1.0, "target": 2},
                    {"figure": "beyond", "ours": 3.0, "reference": 1.0, "target": 2},
                    {"figure": "same queries", "ours": 7, "reference": 7, "target": "= 1x"},
                    {"figure": "more queries", "ours": 8, "reference": 7, "target": "= 1x"},
                    {"figure": "no reference", "ours": 4.0, "target": 2},
                    {"figure": "not judged", "ours": 5.0, "reference": 5.0, "target": "flat in documents"},
                ],
            }
        ]
    )
    assert verdicts(table) == {
        "within": ("1.50x", "<= 2x", "meets"),
        "on the line": ("2.00x", "<= 2x", "meets"),
        "beyond": ("3.00x", "<= 2x", "MISSES"),
        "same queries": ("1.00x", "= 1x", "meets"),
        "more queries": ("1.14x", "= 1x", "MISSES"),
        "no reference": ("-", "<= 2x", "MISSES"),
        "not judged": ("1.00x", "flat in documents", "-"),
    }


def test_a_crashed_benchmark_fails_the_run_after_the_table(runner, monkeypatch, capsys):
    monkeypatch.setattr(runner, "run_one", lambda name, args, env: (None, "exited with status 1"))
    assert run(runner, monkeypatch, "--only", "dossier_render") == 1
    assert "FAILED dossier_render: exited with status 1" in capsys.readouterr().err


def test_the_runner_refuses_a_database_other_than_postgresql(runner, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "sqlite:///x.sqlite3")
    assert run(runner, monkeypatch) == 2
    assert runner.calls == []
