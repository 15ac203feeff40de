"""One id per request, on every log line it causes, in the web process and in the Celery tasks it sends, so an
operator can follow a shipment's submission from the browser through the worker that e-mailed the IOR.

The id comes from the caller's X-Request-ID when a proxy or client sends a sane one, and goes back on the response.
Logs are JSON in production (LOG_FORMAT=json), one object a line, for the log shipper; plain text elsewhere."""

import logging
import re
import uuid
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass

from celery.signals import (
    after_setup_logger,
    after_setup_task_logger,
    before_task_publish,
    task_postrun,
    task_prerun,
)
from django.http import HttpRequest
from django.utils.functional import empty
from pythonjsonlogger.json import JsonFormatter

HEADER = "X-Request-ID"
CELERY_HEADER = "request_id"
# Printable, no spaces or newlines: the id is written into log lines and must not forge one.
WELL_FORMED = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:=+/-]{7,127}")
PLAIN_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"
JSON_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


@dataclass(frozen=True)
class RequestContext:
    request_id: str
    path: str = ""
    request: object = None


_context: ContextVar[RequestContext | None] = ContextVar("ior_request_context", default=None)


def current_request_id() -> str | None:
    context = _context.get()
    return context.request_id if context else None


def new_request_id() -> str:
    return uuid.uuid4().hex


def accepted_request_id(value: str | None) -> str:
    if value and WELL_FORMED.fullmatch(value):
        return value
    return new_request_id()


class RequestIdMiddleware:
    """Outermost, so that even a redirect or an error page answers with the id its log lines carry."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request_id = accepted_request_id(request.headers.get(HEADER))
        request.request_id = request_id
        token = _context.set(RequestContext(request_id=request_id, path=request.path, request=request))
        try:
            response = self.get_response(request)
        finally:
            _context.reset(token)
        response[HEADER] = request_id
        return response


def _user_id(request) -> int | None:
    user = getattr(request, "user", None)
    # request.user is lazy until something needs it: forcing it here would query the session table from inside a
    # log call (and on /healthz, which must not touch the database).
    if user is None or getattr(user, "_wrapped", None) is empty:
        return None
    return user.pk if getattr(user, "is_authenticated", False) else None


class RequestContextFilter(logging.Filter):
    """Adds request_id, user_id and path to every record (None outside a request or task)."""

    def filter(self, record: logging.LogRecord) -> bool:
        context = _context.get() or _context_of_djangos_record(record)
        record.request_id = context.request_id if context else None
        record.path = context.path if context else None
        record.user_id = _user_id(context.request) if context and context.request is not None else None
        return True


def _context_of_djangos_record(record: logging.LogRecord) -> RequestContext | None:
    # Django logs a 4xx or 5xx response (logger django.request) once the middleware chain has returned, so after
    # RequestIdMiddleware has reset the context; the record carries the request, and the request its id.
    request = getattr(record, "request", None)
    request_id = getattr(request, "request_id", None)
    if not isinstance(request, HttpRequest) or not request_id:
        return None
    return RequestContext(request_id=request_id, path=request.path, request=request)


class GunicornAccessFilter(logging.Filter):
    """gunicorn's access line (gunicorn.conf.py): written after the response has left the app, so the request id is
    read from the response's header, and the request's figures become fields of their own."""

    def filter(self, record: logging.LogRecord) -> bool:
        # gunicorn logs the access line with its "atoms" as the record's mapping argument; a missing one reads "-".
        atoms = record.args if isinstance(record.args, Mapping) else {}

        def atom(key: str) -> str | None:
            value = atoms.get(key, "-")
            return None if value == "-" else value

        record.request_id = atom("{x-request-id}o")
        record.path = atom("U")
        record.user_id = None
        record.method = atom("m")
        status = atom("s")
        record.status_code = int(status) if status and str(status).isdigit() else status
        record.duration_ms = atoms.get("M")
        record.response_bytes = atoms.get("B")
        record.remote_addr = atom("h")
        record.user_agent = atom("a")
        return True


class PlainFormatter(logging.Formatter):
    """A line for people: "-" where a record has no request id (startup, management commands)."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        return self._style._fmt % {**record.__dict__, "request_id": getattr(record, "request_id", None) or "-"}


def plain_formatter(fmt: str = PLAIN_FORMAT) -> logging.Formatter:
    return PlainFormatter(fmt)


def json_formatter() -> logging.Formatter:
    # The `request` Django attaches to its own records would print as an object repr; its path is already there.
    return JsonFormatter(
        JSON_FORMAT,
        rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        reserved_attrs=[*logging.LogRecord("", 0, "", 0, "", (), None).__dict__, "request", "message", "asctime"],
        defaults={"request_id": None, "user_id": None, "path": None},
    )


@before_task_publish.connect(dispatch_uid="ior_request_id_publish")
def add_request_id_to_task(headers=None, **kwargs):
    request_id = current_request_id()
    if request_id and headers is not None:
        headers.setdefault(CELERY_HEADER, request_id)


_task_tokens: dict[str, object] = {}


@task_prerun.connect(dispatch_uid="ior_request_id_prerun")
def restore_request_id(task_id=None, task=None, **kwargs):
    request = getattr(task, "request", None)
    # An eager task runs inside the request that called it and keeps that request's id; a task sent without one
    # (by beat) takes its task id, so its lines still hang together.
    request_id = getattr(request, CELERY_HEADER, None) or current_request_id() or task_id
    name = getattr(task, "name", "") or ""
    _task_tokens[task_id] = _context.set(RequestContext(request_id=request_id, path=f"task:{name}"))


@task_postrun.connect(dispatch_uid="ior_request_id_postrun")
def clear_request_id(task_id=None, **kwargs):
    token = _task_tokens.pop(task_id, None)
    if token is None:
        return
    try:
        _context.reset(token)
    except ValueError:
        # Set in another context (a pool thread that changed since prerun): nothing to restore, only to clear.
        _context.set(None)


@after_setup_logger.connect(dispatch_uid="ior_request_id_worker_logger")
@after_setup_task_logger.connect(dispatch_uid="ior_request_id_worker_task_logger")
def add_request_id_to_worker_logs(logger=None, **kwargs):
    """The worker installs its own log handlers in place of settings.LOGGING; give them the same fields and format."""
    from django.conf import settings

    for handler in getattr(logger, "handlers", []):
        handler.addFilter(RequestContextFilter())
        if getattr(settings, "LOG_FORMAT", "plain") == "json":
            handler.setFormatter(json_formatter())
        elif not isinstance(handler.formatter, _WithRequestId):
            handler.setFormatter(_WithRequestId(handler.formatter or logging.Formatter()))


class _WithRequestId(logging.Formatter):
    """Celery's own line (with its task name and id) followed by the request id."""

    def __init__(self, inner: logging.Formatter):
        super().__init__()
        self.inner = inner

    def format(self, record: logging.LogRecord) -> str:
        return f"{self.inner.format(record)} [{getattr(record, 'request_id', None) or '-'}]"
