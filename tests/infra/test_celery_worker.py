"""A task sent through a real Redis broker is run by a real worker process, not in-process."""

import os
import uuid

import pytest

from ior_platform.celery import app as celery_app
from ior_platform.core.tasks import ping
from tests.infra import SERVER_VARIABLES, ProcessOutput, venv_python

BROKER_URL = os.environ.get("CELERY_BROKER_URL") or os.environ.get("REDIS_URL") or ""

pytestmark = [
    pytest.mark.redis,
    pytest.mark.skipif(
        not BROKER_URL.startswith("redis://"),
        reason="needs a Redis broker: set CELERY_BROKER_URL or REDIS_URL to redis://...",
    ),
]


@pytest.fixture
def real_broker():
    # The test settings run tasks eagerly, in-process; this test is about the trip through the broker.
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = False
    yield celery_app
    celery_app.conf.task_always_eager = previous


@pytest.fixture
def queue_name():
    # A queue of its own, so a worker of a developer's `make run` on the same Redis cannot take the task.
    return f"test-ping-{uuid.uuid4().hex}"


@pytest.fixture
def worker(tmp_path, queue_name):
    # No DATABASE_URL: the worker gets a throwaway SQLite file, since ping must not need the test database.
    env = {key: value for key, value in os.environ.items() if key not in SERVER_VARIABLES}
    env.update(
        DJANGO_SETTINGS_MODULE="ior_platform.settings.local",
        DEBUG="false",
        IOR_VAR_DIR=str(tmp_path),
        CELERY_BROKER_URL=BROKER_URL,
        PYTHONUNBUFFERED="1",
    )
    for variable in ("REDIS_URL", "CELERY_RESULT_BACKEND"):
        if os.environ.get(variable):
            env[variable] = os.environ[variable]
    celery = [venv_python(), "-m", "celery", "-A", "ior_platform"]
    process = ProcessOutput(
        [*celery, "worker", "--pool", "solo", "-l", "info", "-Q", queue_name, "-n", f"{queue_name}@%h"], env=env
    )
    yield process
    process.stop()


def test_ping_is_run_by_a_worker_through_redis(real_broker, worker, queue_name):
    worker.wait_for(r"\S+@\S+ ready\.", timeout=30)

    result = ping.apply_async(queue=queue_name)

    worker.wait_for(rf"Task ior_platform\.core\.tasks\.ping\[{result.id}\] succeeded", timeout=30)
    if real_broker.conf.result_backend:
        # Eager tasks run earlier in this pytest process can leave Celery believing it is inside a task, where a
        # blocking get() is refused; here the test is the client, not a task.
        reply = result.get(timeout=30, disable_sync_subtasks=False)
        assert reply["reply"] == "pong"
        assert reply["hostname"]
