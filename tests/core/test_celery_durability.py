"""Network errors are retried with backoff; anything else, or a network error that outlasts the retries, ends
in exactly one DeadLetter and one alert to ADMINS."""

import os
import smtplib
import socket
import time
import uuid
from urllib.parse import urlsplit, urlunsplit

import kombu.exceptions
import pytest
import redis.exceptions
from celery import shared_task
from django.core import mail
from django.db import connection
from django.urls import reverse

from ior_platform.celery import app as celery_app
from ior_platform.core.celery_tasks import DurableTask, is_transient
from ior_platform.core.models import AuditEvent, DeadLetter
from parties.models import User
from tests.infra import SERVER_VARIABLES, ProcessOutput, venv_python

BROKER_URL = os.environ.get("CELERY_BROKER_URL") or os.environ.get("REDIS_URL") or ""
OPS = ("Ops", "ops@example.com")

attempts: list[str] = []


@shared_task(base=DurableTask, name="tests.durability.wrong_input")
def wrong_input(shipment_id: int) -> None:
    attempts.append("wrong_input")
    raise ValueError(f"shipment {shipment_id} has no consignee")


@shared_task(base=DurableTask, name="tests.durability.flaky")
def flaky(failures: int, error: str = "connection") -> str:
    attempts.append("flaky")
    if len(attempts) <= failures:
        raise {
            "connection": ConnectionRefusedError("courier API refused the connection"),
            "smtp_busy": smtplib.SMTPResponseException(421, b"try again later"),
        }[error]
    return "delivered"


@shared_task(base=DurableTask, name="tests.durability.mailbox_refused")
def mailbox_refused() -> None:
    attempts.append("mailbox_refused")
    raise smtplib.SMTPResponseException(550, b"mailbox unavailable")


@pytest.fixture(autouse=True)
def eager_failures_are_kept(settings):
    # The test settings propagate eager errors, which skips on_failure and the eager retries this module is about.
    previous = celery_app.conf.task_eager_propagates
    celery_app.conf.task_eager_propagates = False
    settings.ADMINS = [OPS]
    attempts.clear()
    yield
    celery_app.conf.task_eager_propagates = previous


@pytest.mark.parametrize(
    "exc",
    [
        ConnectionRefusedError(),
        TimeoutError(),
        socket.gaierror(),
        smtplib.SMTPServerDisconnected(),
        smtplib.SMTPConnectError(554, b"no service"),
        smtplib.SMTPResponseException(421, b"busy"),
        kombu.exceptions.OperationalError(),
        redis.exceptions.ConnectionError(),
    ],
)
def test_network_errors_are_transient(exc):
    assert is_transient(exc)
    assert isinstance(exc, DurableTask.autoretry_for)


@pytest.mark.parametrize(
    "exc",
    [
        ValueError(),
        KeyError(),
        FileNotFoundError(),
        smtplib.SMTPResponseException(550, b"mailbox unavailable"),
        smtplib.SMTPRecipientsRefused({}),
    ],
)
def test_programming_and_permanent_errors_are_not_transient(exc):
    assert not is_transient(exc)


def test_every_platform_task_is_durable():
    celery_app.loader.import_default_modules()
    # Celery's own tasks and the throwaway ones some tests register (named tests.*) are not the platform's.
    platform_tasks = {
        name: task for name, task in celery_app.tasks.items() if not name.startswith(("celery.", "tests."))
    }
    assert "shipments.tasks.notify_shipment_event" in platform_tasks
    assert {name for name, task in platform_tasks.items() if not isinstance(task, DurableTask)} == set()
    assert (DurableTask.retry_backoff, DurableTask.retry_backoff_max, DurableTask.retry_jitter) == (30, 600, True)
    assert DurableTask.max_retries == 5
    # Services dispatch with delay_on_commit, which only Celery's DjangoTask has.
    assert all(hasattr(task, "delay_on_commit") for task in platform_tasks.values())


@pytest.mark.django_db
def test_value_error_is_not_retried_and_ends_in_one_dead_letter_and_one_alert():
    result = wrong_input.apply(args=[42], throw=False)

    assert result.failed()
    assert attempts == ["wrong_input"]
    letter = DeadLetter.objects.get()
    assert (letter.task_name, letter.task_id, letter.args, letter.kwargs) == (
        "tests.durability.wrong_input",
        result.id,
        [42],
        {},
    )
    assert (letter.exception_type, letter.exception_message) == ("ValueError", "shipment 42 has no consignee")
    assert "raise ValueError" in letter.traceback
    assert letter.retries == 0
    assert letter.resolved_at is None
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [OPS[1]]
    assert "tests.durability.wrong_input" in mail.outbox[0].subject
    assert reverse("admin:core_deadletter_change", args=[letter.pk]) in mail.outbox[0].body


@pytest.mark.django_db
def test_a_redelivered_message_that_fails_again_is_still_one_dead_letter_and_one_alert():
    task_id = str(uuid.uuid4())

    wrong_input.apply(args=[42], task_id=task_id, throw=False)
    wrong_input.apply(args=[42], task_id=task_id, throw=False)

    assert attempts == ["wrong_input", "wrong_input"]
    assert DeadLetter.objects.count() == 1
    assert len(mail.outbox) == 1


@pytest.mark.django_db
@pytest.mark.parametrize("error", ["connection", "smtp_busy"])
def test_network_error_is_retried_until_the_task_succeeds(error):
    result = flaky.apply(args=[2, error], throw=False)

    assert result.get() == "delivered"
    assert attempts == ["flaky"] * 3
    assert not DeadLetter.objects.exists()
    assert mail.outbox == []


@pytest.mark.django_db
def test_network_error_outlasting_the_retries_ends_in_one_dead_letter(monkeypatch):
    countdowns = []
    task_class = type(flaky._get_current_object())

    def spy(task, **kwargs):
        countdowns.append(kwargs["countdown"])
        return DurableTask.retry(task, **kwargs)

    monkeypatch.setattr(task_class, "retry", spy)

    flaky.apply(args=[100], throw=False)

    assert len(attempts) == 1 + DurableTask.max_retries
    letter = DeadLetter.objects.get()
    assert (letter.exception_type, letter.retries) == ("ConnectionRefusedError", DurableTask.max_retries)
    assert len(mail.outbox) == 1
    # Full jitter: each pause is drawn from zero up to a ceiling that doubles with every retry.
    assert all(0 <= pause <= min(30 * 2**retries, 600) for retries, pause in enumerate(countdowns))
    assert len(countdowns) == 1 + DurableTask.max_retries


@pytest.mark.django_db
def test_permanent_smtp_refusal_is_not_retried():
    mailbox_refused.apply(throw=False)

    assert attempts == ["mailbox_refused"]
    assert DeadLetter.objects.get().exception_type == "smtplib.SMTPResponseException"
    assert len(mail.outbox) == 1


@pytest.mark.django_db
def test_dead_letter_is_kept_when_the_alert_cannot_be_sent(monkeypatch):
    def smtp_down(*args, **kwargs):
        raise smtplib.SMTPServerDisconnected("gone")

    monkeypatch.setattr("ior_platform.core.celery_tasks.mail_admins", smtp_down)

    wrong_input.apply(args=[7], throw=False)

    assert DeadLetter.objects.get().args == [7]


@pytest.mark.django_db
def test_staff_resolve_a_dead_letter_in_their_own_name_and_it_is_audited(client):
    staff = User.objects.create_superuser("root", "root@example.com", "correct-horse-battery")
    client.force_login(staff)
    wrong_input.apply(args=[42], throw=False)
    letter = DeadLetter.objects.get()
    url = reverse("admin:core_deadletter_change", args=[letter.pk])
    assert client.get(reverse("admin:core_deadletter_changelist"), {"status": "open"}).status_code == 200
    assert client.get(url).status_code == 200

    response = client.post(url, {"resolution_note": "Notice sent to the IOR by hand.", "resolved_by": 999})

    assert response.status_code == 302
    letter.refresh_from_db()
    assert letter.resolved_by == staff
    assert letter.resolved_at is not None
    assert letter.resolution_note == "Notice sent to the IOR by hand."
    event = AuditEvent.objects.get(action="deadletter.changed_in_admin")
    assert set(event.changes) == {"resolution_note", "resolved_at", "resolved_by"}


@pytest.fixture
def real_broker():
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = False
    yield celery_app
    celery_app.conf.task_always_eager = previous


def _worker_database_url() -> str:
    name = connection.settings_dict["NAME"]
    if connection.vendor == "sqlite":
        return f"sqlite:///{name}"
    return urlunsplit(urlsplit(os.environ["DATABASE_URL"])._replace(path=f"/{name}"))


@pytest.mark.redis
@pytest.mark.skipif(
    not BROKER_URL.startswith("redis://"),
    reason="needs a Redis broker: set CELERY_BROKER_URL or REDIS_URL to redis://...",
)
@pytest.mark.django_db(transaction=True)
def test_a_worker_turns_a_non_network_failure_into_a_dead_letter(tmp_path, real_broker):
    deadline = time.monotonic() + 30
    queue_name = f"test-dead-letter-{uuid.uuid4().hex}"
    env = {key: value for key, value in os.environ.items() if key not in SERVER_VARIABLES}
    env.update(
        DJANGO_SETTINGS_MODULE="ior_platform.settings.local",
        DEBUG="false",
        IOR_VAR_DIR=str(tmp_path),
        # The test's own database, so the row the worker writes is the one asserted on here.
        DATABASE_URL=_worker_database_url(),
        CELERY_BROKER_URL=BROKER_URL,
        ADMINS="Ops <ops@example.com>",
        EMAIL_BACKEND="django.core.mail.backends.console.EmailBackend",
        PYTHONUNBUFFERED="1",
    )
    celery = [venv_python(), "-m", "celery", "-A", "ior_platform"]
    worker = ProcessOutput(
        [*celery, "worker", "--pool", "solo", "-l", "info", "-Q", queue_name, "-n", f"{queue_name}@%h"], env=env
    )
    try:
        worker.wait_for(r"\S+@\S+ ready\.", timeout=deadline - time.monotonic())
        # A message from before a deploy that changed the task's signature: a TypeError, no network involved.
        # send_task, because apply_async would refuse the extra argument before it left this process.
        result = celery_app.send_task("ior_platform.core.tasks.ping", args=["stale"], queue=queue_name)

        worker.wait_for(r"Subject: .*Task failed: ior_platform\.core\.tasks\.ping", timeout=deadline - time.monotonic())
        letter = DeadLetter.objects.get(task_id=result.id)
        assert (letter.task_name, letter.exception_type, letter.retries) == (
            "ior_platform.core.tasks.ping",
            "TypeError",
            0,
        )
        assert letter.args == ["stale"]
        assert "Retry in" not in worker.text()
    finally:
        worker.stop()
