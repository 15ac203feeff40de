"""/metrics in the Prometheus text format: requests by route name, task outcomes, queue depth and reminders sent;
closed without its token."""

import os
import uuid
from datetime import date

import pytest
import redis
from celery import shared_task
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from documents.models import DocumentReminder
from ior_platform.core import metrics

TOKEN = "scrape-token-for-tests"
REDIS_URL = os.environ.get("REDIS_URL", "")


@pytest.fixture
def scrape(client, settings):
    settings.METRICS_TOKEN = TOKEN

    def scrape() -> dict[tuple[str, tuple], float]:
        response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
        assert response.status_code == 200, response.content
        assert response["Content-Type"].startswith("text/plain; version=")
        return {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(response.content.decode())
            for sample in family.samples
        }

    return scrape


def requests_of(samples, route, status="200", method="GET"):
    key = ("ior_http_requests_total", (("method", method), ("route", route), ("status", status)))
    return samples.get(key, 0)


@pytest.mark.django_db
def test_a_request_is_counted_under_its_route_name_not_its_path(client, scrape):
    before = scrape()
    client.get("/healthz")
    client.get("/no/such/page/4711/")
    after = scrape()
    assert requests_of(after, "healthz") == requests_of(before, "healthz") + 1
    assert requests_of(after, "<unmatched>", "404") == requests_of(before, "<unmatched>", "404") + 1
    assert not any("4711" in str(labels) for _, labels in after)
    latency = ("ior_http_request_duration_seconds_count", (("route", "healthz"),))
    assert after[latency] >= 1


@pytest.mark.django_db
def test_a_parametrised_route_is_one_label_whatever_the_id(client, scrape, django_user_model):
    from django.urls import resolve

    match = resolve("/shipments/123/")
    client.get("/shipments/123/")
    client.get("/shipments/456/")
    samples = scrape()
    routes = {dict(labels)["route"] for name, labels in samples if name == "ior_http_requests_total"}
    assert match.view_name in routes
    assert not any("123" in route or "456" in route for route in routes)


@shared_task(name="tests.metrics.breaks")
def breaks():
    raise RuntimeError("no consignee")


@shared_task(name="tests.metrics.works")
def works():
    return "ok"


@pytest.mark.django_db
def test_task_outcomes_are_counted_by_name_and_state(scrape):
    before = scrape()
    works.delay()
    # As a worker runs it: the error recorded, not raised into the caller (which skips the failure signal).
    assert breaks.apply(throw=False).failed()
    metrics.count_task_retry(sender=works)
    after = scrape()

    def tasks(samples, task, state):
        return samples.get(("ior_celery_tasks_total", (("state", state), ("task", task))), 0)

    assert tasks(after, "tests.metrics.breaks", "failed") == tasks(before, "tests.metrics.breaks", "failed") + 1
    assert tasks(after, "tests.metrics.works", "succeeded") == tasks(before, "tests.metrics.works", "succeeded") + 1
    assert tasks(after, "tests.metrics.works", "retried") == tasks(before, "tests.metrics.works", "retried") + 1


@pytest.mark.django_db
def test_reminders_sent_are_counted_from_the_database(scrape):
    # No foreign-key constraint in the database (see the model), so a reminder needs no document here.
    due = date(2026, 3, 1)
    DocumentReminder.objects.create(document_id=910001, stage="d7", due_date=due, notified_at=timezone.now())
    DocumentReminder.objects.create(document_id=910001, stage="d3", due_date=due, notified_at=timezone.now())
    DocumentReminder.objects.create(document_id=910002, stage="d7", due_date=due)
    assert scrape()[("ior_document_reminders_sent_total", ())] == 2


@pytest.mark.django_db
def test_no_queue_depth_without_a_redis_broker(scrape, settings):
    settings.CELERY_BROKER_URL = "filesystem://"
    assert not any(name == "ior_celery_queue_length" for name, _ in scrape())


@pytest.mark.redis
@pytest.mark.django_db
@pytest.mark.skipif(not REDIS_URL, reason="needs Redis: set REDIS_URL=redis://...")
def test_queue_depth_is_read_from_a_redis_broker(scrape, settings):
    queue = f"test-metrics-{uuid.uuid4().hex[:8]}"
    settings.CELERY_BROKER_URL = REDIS_URL
    settings.CELERY_TASK_DEFAULT_QUEUE = queue
    settings.CELERY_TASK_ROUTES = {"documents.tasks.render_dossier": {"queue": f"{queue}-pdf"}}
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.rpush(queue, "m1", "m2")
        client.rpush(f"{queue}\x06\x166", "urgent")
        client.rpush(f"{queue}-pdf", "m3")
        samples = scrape()
    finally:
        client.delete(queue, f"{queue}\x06\x166", f"{queue}-pdf")
        client.close()
    assert samples[("ior_celery_queue_length", (("queue", queue),))] == 3
    assert samples[("ior_celery_queue_length", (("queue", f"{queue}-pdf"),))] == 1


@pytest.mark.django_db
def test_queue_depth_is_left_out_when_the_broker_is_down(scrape, settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    assert not any(name == "ior_celery_queue_length" for name, _ in scrape())


def test_the_token_is_required_when_configured(client, settings):
    settings.METRICS_TOKEN = TOKEN
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Basic {TOKEN}").status_code == 401


def test_without_a_token_metrics_is_absent_outside_debug(client, settings):
    settings.METRICS_TOKEN = ""
    settings.DEBUG = False
    assert client.get("/metrics").status_code == 404


@pytest.mark.django_db
def test_without_a_token_metrics_is_open_on_a_developer_machine(client, settings):
    settings.METRICS_TOKEN = ""
    settings.DEBUG = True
    response = client.get("/metrics")
    assert response.status_code == 200
    assert b"ior_http_requests_total" in response.content


def test_multiprocess_mode_reads_the_directory(tmp_path, monkeypatch):
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    registry = metrics.scrape_registry()
    readers = [c for c in registry._collector_to_names if isinstance(c, metrics.MultiProcessDirsCollector)]
    assert [reader.directories for reader in readers] == [[str(tmp_path)]]
