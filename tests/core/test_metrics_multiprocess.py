"""/metrics under gunicorn's several workers and Celery's pool: every process writes its counters to files in its
service's PROMETHEUS_MULTIPROC_DIR, /metrics sums them with the worker's directory (METRICS_SCRAPE_DIRS), and the
directory is emptied when gunicorn starts, so a previous run's counts are not added in."""

import os
import runpy
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "multiprocess-scrape-token"


def samples_of(text: str) -> dict[tuple[str, tuple], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def count_in_another_process(directory: Path, code: str) -> subprocess.Popen:
    """A separate process with its own pid, in multi-process mode, as a gunicorn worker or a Celery child is."""
    env = {
        **os.environ,
        "PROMETHEUS_MULTIPROC_DIR": str(directory),
        "DJANGO_SETTINGS_MODULE": "ior_platform.settings.test",
    }
    return subprocess.Popen([sys.executable, "-c", f"from ior_platform.core import metrics; {code}"], cwd=ROOT, env=env)


def requests(route: str, times: int) -> str:
    return f"[metrics.REQUESTS.labels(method='GET', route='{route}', status='200').inc() for _ in range({times})]"


@pytest.mark.django_db
def test_metrics_sums_every_process_of_web_and_the_workers_directory(client, settings, monkeypatch, tmp_path):
    web, worker = tmp_path / "web", tmp_path / "worker"
    web.mkdir()
    worker.mkdir()
    processes = [
        count_in_another_process(web, requests("multi-route", 1)),
        count_in_another_process(web, requests("multi-route", 2)),
        count_in_another_process(worker, "metrics.TASKS.labels(task='multi.task', state='failed').inc()"),
    ]
    assert [process.wait(timeout=60) for process in processes] == [0, 0, 0]
    assert len(list(web.glob("counter_*.db"))) == 2, "one file per process"

    settings.METRICS_TOKEN = TOKEN
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(web))
    route = ("ior_http_requests_total", (("method", "GET"), ("route", "multi-route"), ("status", "200")))
    task = ("ior_celery_tasks_total", (("state", "failed"), ("task", "multi.task")))

    settings.METRICS_SCRAPE_DIRS = []
    alone = samples_of(client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").content.decode())
    assert alone[route] == 3
    assert task not in alone

    settings.METRICS_SCRAPE_DIRS = [str(worker), str(web)]
    both = samples_of(client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").content.decode())
    assert both[route] == 3, "web's own directory listed again is not counted twice"
    assert both[task] == 1


def test_gunicorn_empties_the_directory_before_the_first_worker_but_keeps_it(monkeypatch, tmp_path):
    directory = tmp_path / "web"
    (directory / "stale").mkdir(parents=True)
    (directory / "counter_41.db").write_bytes(b"old run")
    (directory / "stale" / "x.db").write_bytes(b"old run")
    config = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(directory))
    config["on_starting"](server=None)
    assert directory.is_dir()
    assert list(directory.iterdir()) == []

    missing = tmp_path / "not-yet"
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(missing))
    config["on_starting"](server=None)
    assert missing.is_dir()


def test_gunicorn_leaves_everything_alone_without_the_variable(monkeypatch, tmp_path):
    keep = tmp_path / "counter_1.db"
    keep.write_bytes(b"")
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    runpy.run_path(str(ROOT / "gunicorn.conf.py"))["on_starting"](server=None)
    assert keep.exists()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def get(url: str, **headers) -> str:
    # Long enough for a worker that is still importing the app when the request is queued to it.
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=60) as response:  # noqa: S310
        return response.read().decode()


def answers(url: str) -> bool:
    try:
        get(url)
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False
    return True


@pytest.mark.slow
def test_a_real_gunicorn_with_three_workers_reports_every_request_once(tmp_path):
    directory = tmp_path / "prometheus"
    directory.mkdir()
    # A previous run's file: it must be gone before the workers start, not summed in.
    (directory / "counter_1.db").write_bytes(b"\0" * 16)
    port = free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "ior_platform.settings.test",
        "IOR_VAR_DIR": str(tmp_path / "var"),
        "PROMETHEUS_MULTIPROC_DIR": str(directory),
        "METRICS_TOKEN": TOKEN,
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "GUNICORN_WORKERS": "3",
    }
    gunicorn = Path(sys.executable).with_name("gunicorn")
    server = subprocess.Popen(
        [str(gunicorn), "-c", "gunicorn.conf.py", "ior_platform.wsgi"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        # Readiness is probed on another route: a probe that times out while a worker boots may still be answered,
        # and counted, later.
        deadline = time.monotonic() + 90
        while not answers(f"{base}/readyz"):
            if time.monotonic() > deadline or server.poll() is not None:
                raise AssertionError("gunicorn did not start")
            time.sleep(0.2)
        for _ in range(30):
            get(f"{base}/healthz")
        samples = samples_of(get(f"{base}/metrics", Authorization=f"Bearer {TOKEN}"))
        files = {path.name for path in directory.glob("*.db")}
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert samples[("ior_http_requests_total", (("method", "GET"), ("route", "healthz"), ("status", "200")))] == 30
    assert samples[("ior_http_request_duration_seconds_count", (("route", "healthz"),))] == 30
    assert "counter_1.db" not in files
