"""/healthz answers while the process lives; /readyz answers 503, naming the check, when the database, Redis or
the broker is down, and never shows a connection string."""

import json
import os

import pytest
from django.db import OperationalError, connection
from django.db.backends.base.base import BaseDatabaseWrapper
from django.test import override_settings

from ior_platform.celery import app as celery_app
from ior_platform.core import health

CLOSED_REDIS = "redis://:s3cret-pass@127.0.0.1:1/0"


def test_healthz_answers_without_touching_the_database(client, monkeypatch):
    monkeypatch.setattr(BaseDatabaseWrapper, "ensure_connection", _refuse)
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "Set-Cookie" not in response
    assert response["Cache-Control"].startswith("max-age=0")


@override_settings(ALLOWED_HOSTS=["ior.example.com"], SECURE_SSL_REDIRECT=True)
def test_probes_skip_host_check_and_ssl_redirect(client):
    # A load balancer probes the container by IP over plain HTTP.
    response = client.get("/healthz", HTTP_HOST="10.0.0.7:8000")
    assert response.status_code == 200
    assert response["X-Content-Type-Options"] == "nosniff"
    # Prometheus scrapes the same way; its token still applies.
    with override_settings(METRICS_TOKEN="t0ken-for-scrape"):
        assert client.get("/metrics", HTTP_HOST="web:8000").status_code == 401


@pytest.mark.django_db
def test_readyz_passes_on_the_embedded_defaults(client, settings):
    settings.REDIS_URL = ""
    response = client.get("/readyz")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"] == {"status": "ok"}
    assert body["checks"]["redis"] == {"status": "not configured"}
    assert body["checks"]["broker"] == {"status": "ok"}


def _refuse(self, *args, **kwargs):
    raise OperationalError('connection to server at "db" failed: password=s3cret-pass')


@pytest.mark.django_db
def test_readyz_answers_503_when_the_database_is_down(client, settings, monkeypatch):
    settings.REDIS_URL = ""
    monkeypatch.setattr(BaseDatabaseWrapper, "ensure_connection", _refuse)
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["failing"] == ["database"]
    assert body["checks"]["database"] == {"status": "down", "error": "OperationalError"}
    assert "s3cret" not in response.content.decode()


@pytest.mark.django_db
def test_readyz_answers_503_when_redis_is_down(client, settings):
    settings.REDIS_URL = CLOSED_REDIS
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["failing"] == ["redis"]
    assert body["checks"]["redis"]["status"] == "down"
    assert "s3cret" not in response.content.decode()


@pytest.mark.django_db
def test_readyz_answers_503_when_the_broker_is_down(client, settings, monkeypatch):
    settings.REDIS_URL = ""
    connect = celery_app.connection_for_write
    monkeypatch.setattr(celery_app, "connection_for_write", lambda **kwargs: connect(url=CLOSED_REDIS))
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["failing"] == ["broker"]
    assert "s3cret" not in response.content.decode()


def test_a_hanging_check_counts_as_down_within_the_timeout():
    import threading
    import time

    release = threading.Event()

    def hangs():
        release.wait(5)
        return health.OK

    started = time.monotonic()
    try:
        results = health.run_checks({"slow": hangs, "fast": lambda: health.OK}, timeout=0.2)
    finally:
        release.set()
    assert time.monotonic() - started < 1
    assert results == {"slow": {"status": "down", "error": "timeout"}, "fast": {"status": "ok"}}


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.django_db
@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs Redis: set REDIS_URL=redis://...")
def test_readyz_passes_on_real_postgres_and_redis(client):
    assert connection.vendor == "postgresql"
    response = client.get("/readyz")
    assert response.status_code == 200, response.content
    assert json.loads(response.content)["checks"] == {
        "database": {"status": "ok"},
        "redis": {"status": "ok"},
        "broker": {"status": "ok"},
    }
