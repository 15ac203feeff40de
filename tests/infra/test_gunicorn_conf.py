"""The web service's gunicorn settings: valid, environment-driven, and long enough for the slowest request."""

import os
import runpy
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_gunicorn_accepts_the_config_and_the_app():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "ior_platform.settings.test", "GUNICORN_WORKERS": "1"}
    gunicorn = Path(sys.executable).with_name("gunicorn")
    result = subprocess.run(
        [str(gunicorn), "--check-config", "-c", "gunicorn.conf.py", "ior_platform.wsgi"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_the_timeout_outlasts_a_full_bulk_request_and_follows_the_environment(monkeypatch):
    assert runpy.run_path(str(ROOT / "gunicorn.conf.py"))["timeout"] >= 120
    monkeypatch.setenv("GUNICORN_TIMEOUT", "300")
    monkeypatch.setenv("GUNICORN_WORKERS", "3")
    config = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    assert (config["timeout"], config["workers"]) == (300, 3)


def test_the_image_and_the_compose_stack_run_gunicorn_with_it():
    assert '"gunicorn", "-c", "gunicorn.conf.py"' in (ROOT / "Dockerfile").read_text()
    assert "gunicorn -c gunicorn.conf.py ior_platform.wsgi" in (ROOT / "docker-compose.yml").read_text()


def test_a_dead_worker_stops_counting_in_multiprocess_metrics(monkeypatch, tmp_path):
    live_gauge = tmp_path / "gauge_livesum_4242.db"
    live_gauge.write_bytes(b"")
    counter = tmp_path / "counter_4242.db"
    counter.write_bytes(b"")
    config = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    config["child_exit"](server=None, worker=type("Worker", (), {"pid": 4242})())
    # Counters of a dead worker still count (they only ever grow); its live gauges must go.
    assert not live_gauge.exists()
    assert counter.exists()
