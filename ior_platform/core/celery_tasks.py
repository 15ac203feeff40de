"""The base class of every platform task: network errors are retried with growing, jittered pauses; any other
error, or a network error that outlasts the retries, is final. A final failure is kept as a DeadLetter and
e-mailed to settings.ADMINS, because the job it stood for (a notice to an IOR, a dossier, a screening) did not
happen and nobody else will notice.

The alert goes to ADMINS rather than to every staff user: staff accounts exist to use the admin and may be many,
while ADMINS is the operations contact each deployment names on purpose (Django's own error mails go there)."""

import json
import logging
import smtplib
import socket

import kombu.exceptions
import redis.exceptions
from celery.contrib.django.task import DjangoTask
from django.conf import settings
from django.core.mail import mail_admins
from django.core.serializers.json import DjangoJSONEncoder
from django.urls import reverse
from django.utils import timezone

from ior_platform.core.models import DeadLetter

logger = logging.getLogger(__name__)

# By type only. SMTPConnectError is an SMTPResponseException too, but a server that will not take the
# connection now may well take it later, whatever its code.
NETWORK_ERRORS: tuple[type[BaseException], ...] = (
    ConnectionError,
    TimeoutError,
    socket.gaierror,
    smtplib.SMTPServerDisconnected,
    smtplib.SMTPResponseException,
    kombu.exceptions.OperationalError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
)

# The innermost frames, where the error was raised, are at the end of a traceback.
TRACEBACK_EXCERPT_CHARS = 5000


def is_transient(exc: BaseException) -> bool:
    """Whether trying again later may succeed. An SMTP reply says so by its code: 4xx is "try again", 5xx is
    "never" (a refused mailbox, failed authentication), which no number of retries changes."""
    if isinstance(exc, smtplib.SMTPResponseException) and not isinstance(exc, smtplib.SMTPConnectError):
        return 400 <= exc.smtp_code < 500
    return isinstance(exc, NETWORK_ERRORS)


def _json_safe(value):
    try:
        return json.loads(json.dumps(value, cls=DjangoJSONEncoder))
    except (TypeError, ValueError):
        # Only an eager call can pass what JSON cannot carry; the record must still be written.
        return repr(value)


def _qualified_name(exc: BaseException) -> str:
    cls = type(exc)
    return cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"


def dead_letter_record(*, task_name: str, task_id: str, args, kwargs, exc: BaseException, traceback: str, retries: int):
    """The DeadLetter of this task run, and whether it is new. Keyed by task id: a message redelivered after
    a crash that fails again is the same lost job, not a second one."""
    return DeadLetter.objects.get_or_create(
        task_id=task_id,
        defaults={
            "task_name": task_name,
            "args": _json_safe(list(args or ())),
            "kwargs": _json_safe(dict(kwargs or {})),
            "exception_type": _qualified_name(exc)[:200],
            "exception_message": str(exc),
            "traceback": traceback[-TRACEBACK_EXCERPT_CHARS:],
            "retries": retries,
            "failed_at": timezone.now(),
        },
    )


def dead_letter_alert(*, task_name: str, task_id: str, exc: BaseException, retries: int, letter=None) -> None:
    lines = [
        f"The background task {task_name} failed for good and was not done.",
        "",
        f"Task id: {task_id}",
        f"Error: {_qualified_name(exc)}: {exc}",
        f"Attempts: {retries + 1}",
    ]
    if letter is not None:
        url = f"{settings.SITE_URL}{reverse('admin:core_deadletter_change', args=[letter.pk])}"
        lines += ["", f"Review it and record what was done: {url}"]
    else:
        lines += ["", "It could not be recorded as a dead letter either; see the worker log."]
    mail_admins(f"Task failed: {task_name}", "\n".join(lines))


class DurableTask(DjangoTask):
    """DjangoTask, not celery.Task: Celery's Django fixup makes that every task's base, and services rely on its
    delay_on_commit."""

    autoretry_for = NETWORK_ERRORS
    # 30 s doubling to the 600 s cap: five retries span about a quarter of an hour, long enough to ride out a
    # mail server or broker restart before a dead letter is written.
    retry_backoff = 30
    retry_backoff_max = 600
    retry_jitter = True
    max_retries = 5

    def retry(
        self, args=None, kwargs=None, exc=None, throw=True, eta=None, countdown=None, max_retries=None, **options
    ):
        # autoretry_for can only match by type; a permanent SMTP reply must fail at once instead.
        if isinstance(exc, smtplib.SMTPResponseException) and not is_transient(exc):
            raise exc
        return super().retry(
            args=args,
            kwargs=kwargs,
            exc=exc,
            throw=throw,
            eta=eta,
            countdown=countdown,
            max_retries=max_retries,
            **options,
        )

    def on_failure(self, exc, task_id, args, kwargs, einfo):
        """Celery calls this only for a final failure: retries exhausted or the error not retryable."""
        retries = getattr(self.request, "retries", 0) or 0
        facts = {"task_name": self.name, "task_id": task_id, "exc": exc, "retries": retries}
        letter, created = None, True
        try:
            letter, created = dead_letter_record(
                **facts, args=args, kwargs=kwargs, traceback=str(getattr(einfo, "traceback", "") or "")
            )
        except Exception:
            # The alert matters all the more when the record cannot be written.
            logger.exception("could not record the dead letter of %s[%s]", self.name, task_id)
        if not created:
            return
        try:
            dead_letter_alert(**facts, letter=letter)
        except Exception:
            logger.exception("could not send the dead-letter alert of %s[%s]", self.name, task_id)
