"""`make run`'s runner: web, worker and beat come up on a bare machine, work, and go away on Ctrl-C."""

import contextlib
import os
import re
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request

import pytest

from tests.infra import ROOT, SERVER_VARIABLES, ProcessOutput, kill_groups, processes_in_groups, venv_python

pytestmark = pytest.mark.slow

STARTED = r"run_platform: started web pid (\d+), worker pid (\d+), beat pid (\d+)"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def login_page_status(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except (urllib.error.URLError, OSError):
        return None


@pytest.fixture
def platform_env(tmp_path):
    env = {key: value for key, value in os.environ.items() if key not in SERVER_VARIABLES}
    env.update(
        IOR_VAR_DIR=str(tmp_path),
        HOST="127.0.0.1",
        PORT=str(free_port()),
        DJANGO_SETTINGS_MODULE="ior_platform.settings.local",
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        PYTHONUNBUFFERED="1",
    )
    subprocess.run(
        [venv_python(), "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=180,
    )
    return env


@pytest.fixture
def runner(platform_env):
    process = ProcessOutput([venv_python(), "scripts/run_platform.py"], env=platform_env)
    yield process
    if process.process.poll() is None:
        process.process.send_signal(signal.SIGINT)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.process.wait(timeout=20)
    # A failed assertion must not leave web, worker or beat behind.
    for line in process.lines:
        if match := re.search(STARTED, line):
            kill_groups([int(pid) for pid in match.groups()])
    process.stop(grace=1)


def test_runner_serves_runs_tasks_and_stops_everything_on_ctrl_c(runner, platform_env):
    child_pids = {int(pid) for pid in runner.wait_for(STARTED, timeout=30).groups()}

    login_url = f"http://127.0.0.1:{platform_env['PORT']}/accounts/login/"
    deadline = time.monotonic() + 60
    status = None
    while status != 200 and time.monotonic() < deadline:
        status = login_page_status(login_url)
        time.sleep(0.5)
    assert status == 200, runner.text()
    runner.wait_for(r"IOR platform is running at http://127\.0\.0\.1:\d+/", timeout=10)

    runner.wait_for(r"^\[worker\] .*celery@\S+ ready\.", timeout=60)
    sent = subprocess.run(
        [venv_python(), "-m", "celery", "-A", "ior_platform", "call", "ior_platform.core.tasks.ping"],
        cwd=ROOT,
        env=platform_env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    task_id = sent.stdout.strip().splitlines()[-1]
    runner.wait_for(rf"^\[worker\] .*Task ior_platform\.core\.tasks\.ping\[{task_id}\] succeeded.*'pong'", timeout=30)
    runner.wait_for(r"^\[beat\] .*beat: Starting\.\.\.", timeout=30)

    runner.process.send_signal(signal.SIGINT)
    assert runner.process.wait(timeout=20) == 0, runner.text()
    for pid in child_pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    # The worker's pool processes are grandchildren: they share the worker's process group.
    assert processes_in_groups(child_pids) == [], runner.text()


def test_runner_stops_the_others_and_fails_when_one_process_dies(runner):
    web, worker, beat = (int(pid) for pid in runner.wait_for(STARTED, timeout=30).groups())
    runner.wait_for(r"IOR platform is running at", timeout=60)
    runner.wait_for(r"^\[beat\] .*beat: Starting\.\.\.", timeout=30)

    os.kill(beat, signal.SIGKILL)

    assert runner.process.wait(timeout=20) != 0, runner.text()
    runner.wait_for(
        r"^run_platform: beat exited unexpectedly \(killed by SIGKILL\); stopped web and worker$", timeout=5
    )
    assert processes_in_groups({web, worker, beat}) == [], runner.text()
