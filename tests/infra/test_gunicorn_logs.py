"""gunicorn's own lines and its access lines are JSON, as the app's are in production, and an access line carries the
request id the app put on the response."""

import json
import logging
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

from ior_platform.core import request_id as rid
from tests.infra import SERVER_VARIABLES

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def fetch(url: str, **headers) -> tuple[int, str]:
    """The status and X-Request-ID of the response, error statuses included."""
    request = urllib.request.Request(url, headers=headers)  # noqa: S310
    try:
        # Long enough for a worker that is still importing the app when the request is queued to it.
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
            return response.status, response.headers["X-Request-ID"]
    except urllib.error.HTTPError as error:
        return error.code, error.headers["X-Request-ID"]


def answers(url: str) -> bool:
    try:
        fetch(url)
    except OSError:
        return False
    return True


def entries(path: Path) -> list[dict]:
    lines = path.read_text().splitlines()
    assert lines, f"gunicorn wrote nothing to {path.name}"
    parsed = []
    for line in lines:
        try:
            parsed.append(json.loads(line))
        except json.JSONDecodeError:
            pytest.fail(f"not a JSON line in {path.name}: {line!r}")
    return parsed


@pytest.mark.slow
def test_every_line_gunicorn_writes_is_json_and_the_access_line_has_the_request_id(tmp_path):
    port = free_port()
    env = {key: value for key, value in os.environ.items() if key not in {*SERVER_VARIABLES, "LOG_FORMAT"}}
    env.update(
        DJANGO_SETTINGS_MODULE="ior_platform.settings.test",
        # The production default (ior_platform/settings/production.py); the test settings default to plain.
        LOG_FORMAT="json",
        IOR_VAR_DIR=str(tmp_path / "var"),
        GUNICORN_BIND=f"127.0.0.1:{port}",
        GUNICORN_WORKERS="1",
    )
    gunicorn = Path(sys.executable).with_name("gunicorn")
    stdout, stderr = tmp_path / "stdout", tmp_path / "stderr"
    with stdout.open("w") as out, stderr.open("w") as err:
        server = subprocess.Popen(
            # A control socket of its own, so as not to collide with another gunicorn of this user.
            [str(gunicorn), "-c", "gunicorn.conf.py", "--control-socket", str(tmp_path / "ctl"), "ior_platform.wsgi"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=err,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 90
            while not answers(f"{base}/healthz"):
                if time.monotonic() > deadline or server.poll() is not None:
                    raise AssertionError(f"gunicorn did not start:\n{stderr.read_text()}")
                time.sleep(0.2)
            healthz = fetch(f"{base}/healthz", **{"X-Request-ID": "gunicorn-access-probe-1"})
            missing = fetch(f"{base}/no-such-page/")
        finally:
            server.terminate()
            server.wait(timeout=30)

    assert healthz == (200, "gunicorn-access-probe-1")
    assert missing[0] == 404

    written = entries(stdout) + entries(stderr)
    access = {(entry["path"], entry["request_id"]): entry for entry in written if entry["logger"] == "gunicorn.access"}
    assert access[("/healthz", "gunicorn-access-probe-1")]["status_code"] == 200
    assert access[("/no-such-page/", missing[1])]["status_code"] == 404
    assert access[("/no-such-page/", missing[1])]["method"] == "GET"
    own = [entry["message"] for entry in written if entry["logger"] == "gunicorn.error"]
    assert own[0].startswith("Starting gunicorn")
    assert own[-1] == "Shutting down: Master"
    not_found = [entry for entry in written if entry["logger"] == "django.request"]
    assert [(entry["message"], entry["request_id"]) for entry in not_found] == [
        ("Not Found: /no-such-page/", missing[1])
    ]


def test_gunicorn_writes_plain_lines_with_the_request_id_when_the_app_does(monkeypatch):
    monkeypatch.setenv("LOG_FORMAT", "plain")
    plain = runpy.run_path(str(ROOT / "gunicorn.conf.py"))["logconfig_dict"]
    monkeypatch.delenv("LOG_FORMAT")
    json_config = runpy.run_path(str(ROOT / "gunicorn.conf.py"))["logconfig_dict"]
    assert {handler["formatter"] for handler in plain["handlers"].values()} == {"plain"}
    assert {handler["formatter"] for handler in json_config["handlers"].values()} == {"json"}

    # As gunicorn logs an access line: the format string and its "atoms", a missing one reading "-".
    atoms = {
        "h": "10.0.0.7",
        "m": "POST",
        "U": "/api/v1/shipments/",
        "s": "201",
        "M": 42,
        "{x-request-id}o": "lb-1234567",
    }
    record = logging.LogRecord("gunicorn.access", logging.INFO, __file__, 1, "%(h)s %(m)s %(U)s %(s)s", (atoms,), None)
    rid.GunicornAccessFilter().filter(record)
    entry = json.loads(rid.json_formatter().format(record))
    assert entry["message"] == "10.0.0.7 POST /api/v1/shipments/ 201"
    assert (entry["request_id"], entry["path"], entry["status_code"], entry["duration_ms"]) == (
        "lb-1234567",
        "/api/v1/shipments/",
        201,
        42,
    )
    assert (
        rid.plain_formatter()
        .format(record)
        .endswith("INFO gunicorn.access [lb-1234567] 10.0.0.7 POST /api/v1/shipments/ 201")
    )
