"""Durability on the real stack: PostgreSQL, a Redis broker and worker processes, killed the hard way.

A worker killed with SIGKILL in the middle of a batch of notification e-mails, then restarted, leaves every
notification e-mailed exactly once: the task is acked late and rejected (requeued) when its worker is lost, and
notification_email's claim (a conditional UPDATE of emailed_at) commits only with the mail sent, so the send that
was cut short is done again and nothing else is. A Redis restart that loses the queued deadline sweep loses no
reminder: deadlines live in the database, and the next sweep creates what is due, once.

The workers run the platform's own settings (not the test settings, which run tasks in-process and keep mail in
memory) against pytest-django's test database, which they can read because these tests commit
(transaction=True). Mail goes through tests/infra/slow_mail_backend.py, which logs each message as its send starts
and once it is sent.

What these tests do not claim: the kill lands while a send is under way, before the claim commits. A worker killed
after the mail server accepted a message but before that commit sends it again on redelivery (at least once, not
exactly once; SMTP cannot join the transaction). And an e-mail task lost with Redis is not sent again: nothing
re-queues a notification whose emailed_at stays empty."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
import redis
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from documents.models import Document, DocumentReminder
from ior_platform.celery import app as celery_app
from ior_platform.core.models import DeadLetter
from parties.models import Notification
from parties.notifications import notify
from shipments.choices import ShipmentStatus
from tests.conftest import force_status
from tests.factories import UserFactory
from tests.infra import SERVER_VARIABLES, ProcessOutput, kill_groups, processes_in_groups, venv_python
from tests.infra._workers import CONF_VARIABLE
from tests.infra.slow_mail_backend import LOG_VARIABLE, SECONDS_VARIABLE, read_log

BROKER_URL = os.environ.get("CELERY_BROKER_URL") or os.environ.get("REDIS_URL") or ""
REDIS_SERVER = shutil.which("redis-server")

EMAIL_TASK = "parties.notifications.email_notification"
NOTIFICATIONS_QUEUE = settings.CELERY_TASK_ROUTES[EMAIL_TASK]["queue"]
SWEEP_TASK = settings.CELERY_BEAT_SCHEDULE["chase-document-deadlines"]["task"]

BATCH = 40
KILL_AFTER_SENT = 5
# Long enough that the test sees a send start and kills the worker before it ends, even on a busy machine.
SECONDS_PER_MAIL = 0.4
DELIVERY_TIMEOUT = 90
# Every wait of a test draws on one budget, so a test that hangs fails within two minutes.
TEST_BUDGET = 110

pytestmark = [
    pytest.mark.redis,
    pytest.mark.postgres,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
]

needs_broker = pytest.mark.skipif(
    not BROKER_URL.startswith("redis://"),
    reason="needs a Redis broker: set CELERY_BROKER_URL or REDIS_URL to redis://...",
)
needs_redis_server = pytest.mark.skipif(
    REDIS_SERVER is None, reason="needs the redis-server program, to run a Redis of the test's own that it can kill"
)


class Budget:
    def __init__(self, seconds: float) -> None:
        self.deadline = time.monotonic() + seconds

    def __call__(self, cap: float) -> float:
        """A timeout of at most `cap` seconds, and never past the end of the budget."""
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"the test's budget of {TEST_BUDGET} s is spent")
        return min(cap, left)


def _wait_until(
    condition: Callable[[], object], *, timeout: float, what: str | Callable[[], str], interval: float = 0.1
):
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:.0f} s: {what() if callable(what) else what}")
        time.sleep(interval)
    return result


def _test_database_url() -> str:
    """pytest-django's test database, as a DATABASE_URL for a process of its own."""
    db = connection.settings_dict
    credentials = quote(db["USER"] or "", safe="")
    if db["PASSWORD"]:
        credentials += ":" + quote(db["PASSWORD"], safe="")
    port = f":{db['PORT']}" if db["PORT"] else ""
    return f"postgres://{credentials}{'@' if credentials else ''}{db['HOST'] or ''}{port}/{quote(db['NAME'], safe='')}"


class Workers:
    """Celery workers of the platform (prefork, one pool process taking one message at a time), each in a process
    group of its own; every one started is stopped, and its group killed, when the test ends."""

    def __init__(self, tmp_path: Path, budget: Budget) -> None:
        self.tmp_path = tmp_path
        self.budget = budget
        self.started: list[ProcessOutput] = []

    def env(self, *, broker_url: str, mail_log: Path, mail_seconds: float, conf: dict) -> dict[str, str]:
        # No REDIS_URL nor CELERY_RESULT_BACKEND: the worker keeps no results, so it writes nothing else to Redis.
        env = {key: value for key, value in os.environ.items() if key not in SERVER_VARIABLES}
        env.update(
            {
                "DJANGO_SETTINGS_MODULE": "ior_platform.settings.local",
                "DEBUG": "false",
                "IOR_VAR_DIR": str(self.tmp_path / "worker-var"),
                "DATABASE_URL": _test_database_url(),
                "CELERY_BROKER_URL": broker_url,
                "EMAIL_BACKEND": "tests.infra.slow_mail_backend.EmailBackend",
                LOG_VARIABLE: str(mail_log),
                SECONDS_VARIABLE: str(mail_seconds),
                # Remote control off: a `celery control shutdown` aimed at a developer's workers on the same Redis
                # must not reach this one.
                CONF_VARIABLE: json.dumps({"worker_enable_remote_control": False, **conf}),
                "PYTHONUNBUFFERED": "1",
            }
        )
        return env

    def start(self, *, env: dict[str, str], queues: str, name: str) -> ProcessOutput:
        argv = [
            venv_python(),
            "-m",
            "tests.infra._workers",
            "--pool",
            "prefork",
            "--concurrency",
            "1",
            "--prefetch-multiplier",
            "1",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "-l",
            "info",
            "-Q",
            queues,
            "-n",
            f"{name}@%h",
        ]
        worker = ProcessOutput(argv, env=env)
        self.started.append(worker)
        worker.wait_for(r"\S+@\S+ ready\.", timeout=self.budget(60))
        return worker

    def stop_all(self) -> None:
        for worker in self.started:
            worker.stop()
        groups = {worker.process.pid for worker in self.started}
        kill_groups(list(groups))
        _wait_until(lambda: not processes_in_groups(groups), timeout=10, what=f"worker groups {groups} gone")


class PrivateRedis:
    """A redis-server of the test's own, without persistence, on a port of its own: it can be killed and
    restarted empty without disturbing the machine's shared Redis."""

    def __init__(self, tmp_path: Path) -> None:
        self.dir = tmp_path / "redis"
        self.dir.mkdir()
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def client(self) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=5)

    def start(self) -> None:
        assert REDIS_SERVER is not None
        argv = [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        argv += ["--daemonize", "no", "--dir", str(self.dir)]
        with open(self.dir / "redis.log", "a") as log:
            self.process = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, process_group=0
            )

        def answers() -> bool:
            if self.process.poll() is not None:
                raise AssertionError(f"redis-server exited:\n{(self.dir / 'redis.log').read_text()}")
            try:
                return bool(self.client().ping())
            except redis.exceptions.ConnectionError:
                return False

        _wait_until(answers, timeout=15, what=f"redis-server answering on port {self.port}")

    def kill(self) -> None:
        if self.process is not None:
            kill_groups([self.process.pid])
            self.process.wait()
            self.process = None


@pytest.fixture
def real_broker():
    # The test settings run tasks eagerly, in-process; here every task goes through a broker.
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = False
    yield celery_app
    celery_app.conf.task_always_eager = previous


@pytest.fixture
def email_queue(real_broker):
    """A queue of this test's own on the shared Redis for the notification e-mails this process sends, so no other
    worker on that Redis can take them; emptied and forgotten afterwards."""
    name = f"test-durability-{uuid.uuid4().hex}"
    amqp = celery_app.conf.task_routes, celery_app.amqp.router
    celery_app.conf.task_routes = {**celery_app.conf.task_routes, EMAIL_TASK: {"queue": name}}
    celery_app.amqp.flush_routes()
    celery_app.amqp.router = celery_app.amqp.Router()
    client = redis.Redis.from_url(BROKER_URL, socket_timeout=5)
    try:
        yield name
    finally:
        celery_app.conf.task_routes, celery_app.amqp.router = amqp
        celery_app.amqp.flush_routes()
        # The queue, its unacked keys and kombu's binding tables, which outlive the queue.
        keys = [*client.scan_iter(match=f"{name}*"), f"_kombu.binding.{name}", f"_kombu.binding_permanent.{name}"]
        client.delete(*keys)
        client.close()


@pytest.fixture
def budget():
    return Budget(TEST_BUDGET)


@pytest.fixture
def workers(transactional_db, tmp_path, budget):
    # After transactional_db, so torn down before it: no worker holds a connection when the tables are flushed.
    pool = Workers(tmp_path, budget)
    yield pool
    pool.stop_all()


@pytest.fixture
def private_redis(tmp_path):
    server = PrivateRedis(tmp_path)
    yield server
    server.kill()


def _sent(records: list[dict]) -> Counter:
    return Counter((r["to"][0], r["subject"]) for r in records if r["event"] == "sent")


def _started(records: list[dict]) -> Counter:
    return Counter((r["to"][0], r["subject"]) for r in records if r["event"] == "start")


@needs_broker
@pytest.mark.parametrize("victim", ["pool process", "whole worker"])
def test_a_worker_killed_mid_batch_then_restarted_emails_every_notification_exactly_once(
    world, email_queue, workers, budget, tmp_path, victim
):
    shipment = world.shipment()
    readers = [
        UserFactory(username=f"reader{i:02d}", organization=world.sponsor_a, roles=["viewer"]) for i in range(BATCH)
    ]
    with transaction.atomic():
        for i, reader in enumerate(readers):
            notify(
                recipients=[reader],
                kind="test.durability",
                subject=f"Durability check {i:02d}",
                body="One of a batch e-mailed by a worker that is killed halfway.",
                shipment=shipment,
            )
    expected = {(f"reader{i:02d}@example.test", f"Durability check {i:02d}") for i in range(BATCH)}
    notifications = Notification.objects.filter(kind="test.durability")
    assert notifications.count() == BATCH
    broker = redis.Redis.from_url(BROKER_URL, socket_timeout=5)
    assert broker.llen(email_queue) == BATCH, "every e-mail task is queued, after commit"

    # Unacked messages are kept under keys of this test's own, so its workers never restore another's.
    transport = {key: f"{email_queue}.{key}" for key in ("unacked_key", "unacked_index_key", "unacked_mutex_key")}
    if victim == "whole worker":
        # With the whole worker gone, nobody is left to requeue its message: it stays unacked in Redis until its
        # visibility timeout (an hour by default) passes and a worker's sweep restores it. Shortened here; the
        # pool-process case runs with the default, so there only the requeue on WorkerLostError can bring it back.
        transport |= {"visibility_timeout": 5, "unacked_restore_interval": 1, "unacked_restore_throttle": 1}
    mail_log = tmp_path / "mail.log"
    env = workers.env(
        broker_url=BROKER_URL,
        mail_log=mail_log,
        mail_seconds=SECONDS_PER_MAIL,
        conf={"broker_transport_options": transport},
    )
    worker = workers.start(env=env, queues=email_queue, name=email_queue)

    def mid_send():
        records = read_log(mail_log)
        if len(_sent(records)) >= KILL_AFTER_SENT and records[-1]["event"] == "start":
            return records[-1]
        return None

    cut = _wait_until(
        mid_send, timeout=budget(60), what=f"{KILL_AFTER_SENT} messages sent and the next one started", interval=0.005
    )
    interrupted = (cut["to"][0], cut["subject"])
    if victim == "whole worker":
        os.killpg(worker.process.pid, signal.SIGKILL)
        worker.process.wait(timeout=10)
        _wait_until(lambda: not processes_in_groups({worker.process.pid}), timeout=10, what="the killed worker gone")
    else:
        os.kill(cut["pid"], signal.SIGKILL)
        _wait_until(lambda: not Path(f"/proc/{cut['pid']}").exists(), timeout=10, what="the pool process gone")

    by_victim = [r for r in read_log(mail_log) if r["pid"] == cut["pid"]]
    assert by_victim[-1] == cut, "the kill landed in the middle of a send, with the claim not yet committed"

    if victim == "whole worker":
        # Nothing runs now: the claim died with the worker's transaction.
        assert notifications.get(subject=cut["subject"]).emailed_at is None
        worker = workers.start(env=env, queues=email_queue, name=f"{email_queue}-restarted")
    else:
        # The worker's main process stays up, starts a new pool process and requeues the lost message.
        worker.wait_for(r"WorkerLostError", timeout=budget(30))

    _wait_until(
        lambda: not notifications.filter(emailed_at__isnull=True).exists(),
        timeout=budget(DELIVERY_TIMEOUT),
        what=lambda: f"every notification e-mailed; worker output:\n{worker.text()}",
        interval=0.2,
    )
    _wait_until(
        lambda: broker.llen(email_queue) == 0 and broker.hlen(transport["unacked_key"]) == 0,
        timeout=budget(30),
        what="the queue drained and every message acknowledged",
    )
    broker.close()
    workers.stop_all()

    records = read_log(mail_log)
    sent, started = _sent(records), _started(records)
    assert set(sent) == expected, "no notification lost"
    assert {key: count for key, count in sent.items() if count != 1} == {}, "none e-mailed twice"
    assert started[interrupted] == 2, "the send cut short was done again after redelivery"
    assert {key: count for key, count in started.items() if key != interrupted and count != 1} == {}
    assert notifications.filter(emailed_at__isnull=False).count() == BATCH
    assert not DeadLetter.objects.exists()


@needs_redis_server
def test_a_redis_restart_loses_no_reminder(world, real_broker, private_redis, workers, budget, tmp_path):
    shipment = force_status(world.shipment(), ShipmentStatus.PERMIT_COLLECTION)
    document = Document.objects.create(
        shipment=shipment,
        side="import",
        document_type="import_permit",
        owed_by_role="ior",
        owed_by=shipment.ior,
        due_date=timezone.localdate() + timedelta(days=3),
    )
    default_queue = celery_app.conf.task_default_queue
    private_redis.start()

    def beat_tick():
        """What beat does on the schedule's tick: send the sweep task to the broker, here the private Redis."""
        with celery_app.connection_for_write(private_redis.url) as broker:
            return celery_app.send_task(SWEEP_TASK, connection=broker)

    # A tick while no worker is up: the sweep waits in Redis, and Redis dies with it (no persistence).
    beat_tick()
    assert private_redis.client().llen(default_queue) == 1
    private_redis.kill()
    private_redis.start()
    assert private_redis.client().llen(default_queue) == 0, "the queued sweep was lost with Redis"
    assert not DocumentReminder.objects.exists()
    assert not Notification.objects.exists()

    mail_log = tmp_path / "mail.log"
    env = workers.env(broker_url=private_redis.url, mail_log=mail_log, mail_seconds=0, conf={})
    worker = workers.start(env=env, queues=f"{default_queue},{NOTIFICATIONS_QUEUE}", name=f"sweep-{uuid.uuid4().hex}")

    def sweep_result(task_id: str) -> str:
        # The worker's log lines end with the request id that sent the task, in brackets, after the result.
        line = rf"Task {re.escape(SWEEP_TASK)}\[{task_id}\] succeeded in \S+: (\{{.*?\}})"
        return worker.wait_for(line, timeout=budget(60)).group(1)

    # The next tick, with a worker: the sweep works out from the database what is due today.
    assert sweep_result(beat_tick().id) == "{'created': 1, 'unsent': 1, 'expiry_permit': 0, 'expiry_licence': 0}"
    reminded = Notification.objects.filter(shipment=shipment)
    _wait_until(
        lambda: reminded.exists() and not reminded.filter(emailed_at__isnull=True).exists(),
        timeout=budget(30),
        what="the reminder's notifications e-mailed",
    )
    # And a tick after that finds nothing more to do.
    assert sweep_result(beat_tick().id) == "{'created': 0, 'unsent': 0, 'expiry_permit': 0, 'expiry_licence': 0}"
    workers.stop_all()

    reminder = DocumentReminder.objects.get(document=document)
    assert reminder.stage == "d3"
    assert reminder.notified_at is not None
    assert Counter(reminded.values_list("recipient__username", "kind")) == {
        ("ivan", "document.d3"): 1,
        ("imelda", "document.d3"): 1,
    }
    assert _sent(read_log(mail_log)) == {
        (f"{user}@example.test", reminded.get(recipient__username=user).subject): 1 for user in ("ivan", "imelda")
    }
