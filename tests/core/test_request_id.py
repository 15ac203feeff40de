"""Every response carries a request id, every log line of the request carries the same one, and so do the log
lines of the Celery tasks it sends."""

import io
import json
import logging
from types import SimpleNamespace

import pytest
from django.http import HttpResponse
from django.test import RequestFactory

from ior_platform.core import request_id as rid
from tests.factories import UserFactory

logger = logging.getLogger("tests.request_id")


def capture(formatter: logging.Formatter | None = None):
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(rid.RequestContextFilter())
    handler.setFormatter(formatter or logging.Formatter("%(request_id)s %(user_id)s %(path)s %(message)s"))
    return stream, handler


@pytest.fixture
def logged():
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record):
            records.append(record)

    handler = Keep()
    handler.addFilter(rid.RequestContextFilter())
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield records
    logger.removeHandler(handler)


def test_response_echoes_a_well_formed_request_id(client):
    response = client.get("/healthz", HTTP_X_REQUEST_ID="lb-7f3a9c1e-42")
    assert response["X-Request-ID"] == "lb-7f3a9c1e-42"


def test_response_gets_a_new_id_when_none_is_sent(client):
    first, second = client.get("/healthz")["X-Request-ID"], client.get("/healthz")["X-Request-ID"]
    assert len(first) == 32
    assert int(first, 16) >= 0
    assert first != second


@pytest.mark.parametrize("sent", ["short", "has space in it", "line\nbreak-forged-entry", "x" * 200, "ünïcödé-id-1234"])
def test_a_malformed_request_id_is_replaced(client, sent):
    response = client.get("/healthz", HTTP_X_REQUEST_ID=sent)
    assert response["X-Request-ID"] != sent
    assert len(response["X-Request-ID"]) == 32


def test_every_log_record_of_a_request_carries_its_id_user_and_path(logged, db):
    user = UserFactory()
    request = RequestFactory().get("/shipments/12/", HTTP_X_REQUEST_ID="req-0123456789")
    request.user = user

    def view(request):
        logger.info("submitted")
        return HttpResponse()

    response = rid.RequestIdMiddleware(view)(request)
    logger.info("after the request")

    assert response["X-Request-ID"] == "req-0123456789"
    during, after = logged
    assert (during.request_id, during.user_id, during.path) == ("req-0123456789", user.pk, "/shipments/12/")
    assert (after.request_id, after.user_id, after.path) == (None, None, None)


def test_an_unevaluated_user_is_not_loaded_to_log(logged):
    from django.utils.functional import SimpleLazyObject

    def load_user():
        raise AssertionError("logging must not load the user")

    request = RequestFactory().get("/healthz")
    request.user = SimpleLazyObject(load_user)

    def view(request):
        logger.info("probe")
        return HttpResponse()

    rid.RequestIdMiddleware(view)(request)
    assert logged[0].user_id is None
    assert logged[0].request_id == request.request_id


def test_json_formatter_writes_one_json_object_with_the_request_id():
    stream, handler = capture(rid.json_formatter())
    logger.addHandler(handler)
    try:
        request = RequestFactory().get("/documents/", HTTP_X_REQUEST_ID="json-req-000111")

        def view(request):
            logger.warning("reminder %s sent", 7, extra={"document_id": 7})
            return HttpResponse()

        rid.RequestIdMiddleware(view)(request)
    finally:
        logger.removeHandler(handler)
    line = stream.getvalue().strip()
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["request_id"] == "json-req-000111"
    assert entry["message"] == "reminder 7 sent"
    assert entry["level"] == "WARNING"
    assert entry["logger"] == "tests.request_id"
    assert entry["path"] == "/documents/"
    assert entry["document_id"] == 7
    assert "time" in entry


def test_json_formatter_survives_djangos_request_attribute():
    record = logging.LogRecord("django.request", logging.ERROR, __file__, 1, "Not Found: %s", ("/x",), None)
    record.request = RequestFactory().get("/x")
    record.status_code = 404
    rid.RequestContextFilter().filter(record)
    entry = json.loads(rid.json_formatter().format(record))
    assert entry["status_code"] == 404
    assert "request" not in entry


@pytest.fixture
def django_request_lines():
    """What the json formatter writes for django.request, which logs a 4xx or 5xx after the middleware returned."""
    stream, handler = capture(rid.json_formatter())
    django_logger = logging.getLogger("django.request")
    django_logger.addHandler(handler)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    django_logger.removeHandler(handler)


def test_djangos_not_found_line_carries_the_responses_request_id_and_path(client, db, django_request_lines):
    response = client.get("/no-such-page/", HTTP_X_REQUEST_ID="lost-page-000123")

    assert response.status_code == 404
    [entry] = django_request_lines()
    assert entry["message"] == "Not Found: /no-such-page/"
    assert (entry["request_id"], entry["path"], entry["status_code"]) == (
        response["X-Request-ID"],
        "/no-such-page/",
        404,
    )


def test_djangos_bad_request_line_of_the_api_carries_the_responses_request_id_and_path(
    world, api_as, django_request_lines
):
    response = api_as(world.alice).post("/api/v1/shipments/", {"origin_country": "XX"}, format="json")

    assert response.status_code == 400
    [entry] = django_request_lines()
    assert entry["message"] == "Bad Request: /api/v1/shipments/"
    assert len(response["X-Request-ID"]) == 32
    assert (entry["request_id"], entry["path"]) == (response["X-Request-ID"], "/api/v1/shipments/")


def test_a_record_whose_request_attribute_is_not_an_http_request_is_left_without_an_id():
    # runserver's django.server logger puts the socket in `request`.
    record = logging.LogRecord("django.server", logging.INFO, __file__, 1, "GET / 200", (), None)
    record.request = SimpleNamespace(request_id="not-a-request-1", path="/x")
    rid.RequestContextFilter().filter(record)
    assert (record.request_id, record.path) == (None, None)


def test_plain_formatter_shows_a_dash_outside_a_request():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "started", (), None)
    rid.RequestContextFilter().filter(record)
    assert rid.plain_formatter().format(record).endswith("INFO x [-] started")


def test_the_request_id_travels_with_a_task_sent_during_the_request(logged):
    headers: dict = {}
    request = RequestFactory().get("/shipments/3/submit/", HTTP_X_REQUEST_ID="carry-me-across-1")

    def view(request):
        rid.add_request_id_to_task(sender="shipments.tasks.notify_shipment_event", headers=headers, body=())
        return HttpResponse()

    rid.RequestIdMiddleware(view)(request)
    assert headers == {"request_id": "carry-me-across-1"}

    # In the worker, Celery puts the message headers on task.request.
    task = SimpleNamespace(name="shipments.tasks.notify_shipment_event", request=SimpleNamespace(**headers))
    rid.restore_request_id(task_id="task-1", task=task)
    logger.info("e-mailed the IOR")
    rid.clear_request_id(task_id="task-1", task=task)
    logger.info("idle")

    in_task, idle = logged
    assert (in_task.request_id, in_task.path) == ("carry-me-across-1", "task:shipments.tasks.notify_shipment_event")
    assert idle.request_id is None


def test_a_task_sent_outside_a_request_gets_no_header_and_logs_its_task_id(logged):
    headers: dict = {}
    rid.add_request_id_to_task(sender="documents.tasks.chase_document_deadlines", headers=headers, body=())
    assert headers == {}

    task = SimpleNamespace(name="documents.tasks.chase_document_deadlines", request=SimpleNamespace())
    rid.restore_request_id(task_id="beat-task-9", task=task)
    logger.info("sweep")
    rid.clear_request_id(task_id="beat-task-9", task=task)
    assert logged[0].request_id == "beat-task-9"
    assert rid.current_request_id() is None


def test_an_eager_task_keeps_the_request_id_and_leaves_it_in_place(logged):
    from celery import shared_task

    @shared_task(name="tests.request_id.eager_logs")
    def eager_logs():
        logger.info("inside the task")

    request = RequestFactory().get("/x/", HTTP_X_REQUEST_ID="eager-request-77")

    def view(request):
        eager_logs.delay()
        logger.info("back in the view")
        return HttpResponse()

    rid.RequestIdMiddleware(view)(request)
    assert [record.request_id for record in logged] == ["eager-request-77", "eager-request-77"]
    assert logged[0].path == "task:tests.request_id.eager_logs"
    assert logged[1].path == "/x/"


# A worker embedded in a process of its own (celery.contrib.testing's start_worker sets the current app, the logging
# and the worker's global state, none of which the rest of the suite should inherit), on kombu's in-memory broker:
# the task is published as a message, taken off the queue by the worker's thread and run there, so the id can only
# have travelled in the message's headers.
THROUGH_THE_BROKER = """
import json, logging
import django
django.setup()
from celery.contrib.testing.worker import start_worker
from django.http import HttpResponse
from django.test import RequestFactory
from ior_platform.celery import app
from ior_platform.core import request_id as rid

records = []

class Keep(logging.Handler):
    def emit(self, record):
        records.append({"message": record.getMessage(), "request_id": record.request_id, "path": record.path})

task_logger = logging.getLogger("tests.request_id.broker")
handler = Keep()
handler.addFilter(rid.RequestContextFilter())
task_logger.addHandler(handler)
task_logger.setLevel(logging.INFO)

@app.task(name="tests.request_id.through_the_broker")
def through_the_broker(label):
    task_logger.info("task %s", label)

app.conf.update(broker_url="memory://", result_backend="cache+memory://", task_always_eager=False)
with start_worker(app, perform_ping_check=False, loglevel="WARNING", pool="solo"):
    sent = {}

    def send(label):
        result = through_the_broker.delay(label)
        result.get(timeout=30)
        sent[label] = result.id

    def view(request):
        send("in a request")
        return HttpResponse()

    response = rid.RequestIdMiddleware(view)(RequestFactory().get("/shipments/5/submit/"))
    send("outside a request")
print(json.dumps({"response_id": response[rid.HEADER], "task_ids": sent, "records": records}))
"""


@pytest.mark.slow
def test_the_request_id_reaches_a_task_run_by_a_worker_through_the_broker(tmp_path):
    import os
    import subprocess
    import sys

    from tests.test_settings import ROOT

    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL"}}
    env.update(DJANGO_SETTINGS_MODULE="ior_platform.settings.test", IOR_VAR_DIR=str(tmp_path))
    done = subprocess.run(
        [sys.executable, "-c", THROUGH_THE_BROKER],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])

    request_id, task_ids = result["response_id"], result["task_ids"]
    assert len(request_id) == 32
    assert result["records"] == [
        {"message": "task in a request", "request_id": request_id, "path": "task:tests.request_id.through_the_broker"},
        # Sent by no request (as beat sends), it takes its own task id; nothing of the previous task's is left over.
        {
            "message": "task outside a request",
            "request_id": task_ids["outside a request"],
            "path": "task:tests.request_id.through_the_broker",
        },
    ]
    assert task_ids["in a request"] != request_id


def test_worker_log_handlers_get_the_request_id(settings):
    settings.LOG_FORMAT = "plain"
    worker_logger = logging.Logger("celery-test-worker")
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("[%(levelname)s] %(message)s"))
    worker_logger.addHandler(handler)
    rid.add_request_id_to_worker_logs(logger=worker_logger)

    task = SimpleNamespace(name="t", request=SimpleNamespace(request_id="from-the-web-42"))
    rid.restore_request_id(task_id="w-1", task=task)
    worker_logger.info("done")
    rid.clear_request_id(task_id="w-1", task=task)
    assert stream.getvalue().strip() == "[INFO] done [from-the-web-42]"

    settings.LOG_FORMAT = "json"
    rid.add_request_id_to_worker_logs(logger=worker_logger)
    stream.truncate(0)
    stream.seek(0)
    rid.restore_request_id(task_id="w-2", task=task)
    worker_logger.info("done")
    rid.clear_request_id(task_id="w-2", task=task)
    assert json.loads(stream.getvalue())["request_id"] == "from-the-web-42"


@pytest.mark.parametrize(
    ("module", "env", "formatter"),
    [
        ("ior_platform.settings.production", {"SECRET_KEY": "k" * 64}, "json"),
        ("ior_platform.settings.production", {"SECRET_KEY": "k" * 64, "LOG_FORMAT": "plain"}, "plain"),
        ("ior_platform.settings.local", {}, "plain"),
        ("ior_platform.settings.local", {"LOG_FORMAT": "json"}, "json"),
    ],
)
def test_logs_are_json_in_production_and_plain_for_developers(tmp_path, module, env, formatter):
    import os
    import subprocess
    import sys

    from tests.test_settings import ROOT

    code = (
        "import django, logging; django.setup(); from django.conf import settings; "
        "print(settings.LOGGING['handlers']['console']['formatter']); logging.getLogger('probe').warning('hi')"
    )
    clean = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "DEBUG", "LOG_FORMAT"}}
    clean.update(DJANGO_SETTINGS_MODULE=module, IOR_VAR_DIR=str(tmp_path), **env)
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=clean, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == formatter
    line = result.stderr.strip().splitlines()[-1]
    if formatter == "json":
        assert json.loads(line)["message"] == "hi"
    else:
        assert line.endswith("WARNING probe [-] hi")
