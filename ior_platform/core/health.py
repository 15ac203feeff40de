"""Probes for load balancers and orchestrators. /healthz: the process answers (never touches a server, so a
database outage does not get every web process restarted). /readyz: the database, Redis and the Celery broker
answer within READYZ_TIMEOUT seconds; otherwise 503 naming what failed, so traffic goes elsewhere.

Both (and /metrics) are answered by a middleware ahead of the security, session, CSRF and host checks: a probe
carries no cookie, speaks plain HTTP to the container and addresses it by IP. Bodies name a failing check and the
kind of error, never its message, which may hold a host or a password."""

import concurrent.futures
import time
from collections.abc import Callable

import redis
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.http import JsonResponse
from django.urls import resolve
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_safe

from ior_platform.core.metrics import metrics_view

OK = "ok"
DOWN = "down"
NOT_CONFIGURED = "not configured"


def check_database(alias: str = DEFAULT_DB_ALIAS) -> str:
    # Runs in a probe thread: its own connection, closed here, so a probe never holds one open.
    connection = connections[alias]
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    finally:
        connection.close()
    return OK


def check_redis() -> str:
    if not settings.REDIS_URL:
        return NOT_CONFIGURED
    timeout = settings.READYZ_TIMEOUT
    client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=timeout, socket_timeout=timeout)
    try:
        client.ping()
    finally:
        client.close()
    return OK


def check_broker() -> str:
    from ior_platform.celery import app

    with app.connection_for_write() as connection:
        connection.ensure_connection(max_retries=0, timeout=settings.READYZ_TIMEOUT)
    return OK


CHECKS: dict[str, Callable[[], str]] = {"database": check_database, "redis": check_redis, "broker": check_broker}


def run_checks(checks: dict[str, Callable[[], str]] | None = None, timeout: float | None = None) -> dict[str, dict]:
    """Every check at once, each allowed `timeout` seconds in all. A check still hanging then counts as down; its
    thread is left to finish on its own rather than hold the probe."""
    checks = CHECKS if checks is None else checks
    timeout = settings.READYZ_TIMEOUT if timeout is None else timeout
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=len(checks), thread_name_prefix="readyz")
    try:
        futures = {name: pool.submit(check) for name, check in checks.items()}
        deadline = time.monotonic() + timeout
        results = {}
        for name, future in futures.items():
            try:
                results[name] = {"status": future.result(timeout=max(deadline - time.monotonic(), 0))}
            except concurrent.futures.TimeoutError:
                results[name] = {"status": DOWN, "error": "timeout"}
            except Exception as exc:
                results[name] = {"status": DOWN, "error": type(exc).__name__}
        return results
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


@csrf_exempt
@require_safe
@never_cache
def healthz(request):
    return JsonResponse({"status": "ok"})


@csrf_exempt
@require_safe
@never_cache
def readyz(request):
    results = run_checks()
    failing = [name for name, result in results.items() if result["status"] == DOWN]
    body = {"status": "unavailable" if failing else "ok", "checks": results}
    if failing:
        body["failing"] = failing
    return JsonResponse(body, status=503 if failing else 200)


# Prometheus scrapes like a probe, by container name over the internal network; /metrics has its own token.
ENDPOINTS = {"/healthz": healthz, "/readyz": readyz, "/metrics": metrics_view}


class HealthCheckMiddleware:
    """Place it before SecurityMiddleware: it answers probes and scrapes before any redirect, host or session check."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        view = ENDPOINTS.get(request.path_info)
        if view is None:
            return self.get_response(request)
        # The route name labels the request in the metrics, as for any other view.
        request.resolver_match = resolve(request.path_info)
        response = view(request)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        return response
