"""Prometheus metrics at /metrics: requests and their latency by route, Celery tasks by outcome, the depth of each
queue and the document reminders sent.

Multi-process: gunicorn runs several workers and Celery a pool of children, each with its own counters. Set
PROMETHEUS_MULTIPROC_DIR in the environment of every process of a service before it starts; prometheus_client then
writes each process's counters to files named by pid there, and /metrics sums them. Each service needs a directory
of its own, wiped when the service starts (gunicorn.conf.py's on_starting hook for web; the worker's command in
docker-compose.yml): two containers have overlapping pids and would write into each other's files. /metrics also sums
the directories listed in METRICS_SCRAPE_DIRS, so web reports the task counts of a worker whose directory it can
read (a shared volume). gunicorn.conf.py's child_exit hook tells prometheus_client when a worker dies. Without
PROMETHEUS_MULTIPROC_DIR each process counts on its own, which is right for `runserver` and tests.

Queue depth and reminders are read at scrape time from Redis and the database, not counted: a counter would be
right only in the process that incremented it, and only since it started."""

import glob
import hmac
import logging
import os
import time

from celery.signals import task_failure, task_retry, task_success
from django.conf import settings
from django.db import DatabaseError
from django.http import Http404, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_safe
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

logger = logging.getLogger(__name__)

KNOWN_METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
UNMATCHED = "<unmatched>"

REQUESTS = Counter("ior_http_requests", "HTTP requests answered", ["method", "route", "status"])
# Up to two minutes: the bulk create of 500 drafts takes most of gunicorn's timeout.
LATENCY = Histogram(
    "ior_http_request_duration_seconds",
    "Time to answer an HTTP request",
    ["route"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
)
TASKS = Counter("ior_celery_tasks", "Celery task runs by outcome", ["task", "state"])

# kombu's Redis transport keeps a queue's prioritised messages in extra lists named queue + separator + priority.
_PRIORITY_SEPARATOR = "\x06\x16"
_PRIORITY_STEPS = (3, 6, 9)


def route_name(request) -> str:
    """The URL pattern's name, never the raw path: one label per route, however many ids are requested."""
    match = getattr(request, "resolver_match", None)
    if match is None:
        return UNMATCHED
    return match.view_name or match.route or UNMATCHED


class MetricsMiddleware:
    """Near the top of MIDDLEWARE, so the status counted is the one sent, redirects and errors included."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        route = route_name(request)
        method = request.method if request.method in KNOWN_METHODS else "other"
        REQUESTS.labels(method=method, route=route, status=str(response.status_code)).inc()
        LATENCY.labels(route=route).observe(time.perf_counter() - started)
        return response


def _task_name(sender) -> str:
    return getattr(sender, "name", None) or str(sender)


@task_success.connect(dispatch_uid="ior_metrics_task_success")
def count_task_success(sender=None, **kwargs):
    TASKS.labels(task=_task_name(sender), state="succeeded").inc()


@task_failure.connect(dispatch_uid="ior_metrics_task_failure")
def count_task_failure(sender=None, **kwargs):
    TASKS.labels(task=_task_name(sender), state="failed").inc()


@task_retry.connect(dispatch_uid="ior_metrics_task_retry")
def count_task_retry(sender=None, request=None, **kwargs):
    TASKS.labels(task=_task_name(sender), state="retried").inc()


def queue_names() -> list[str]:
    routed = {route["queue"] for route in settings.CELERY_TASK_ROUTES.values() if "queue" in route}
    return sorted({settings.CELERY_TASK_DEFAULT_QUEUE, *routed})


class QueueDepthCollector:
    """Messages waiting in each Celery queue; only for a Redis broker (the filesystem one is for a laptop)."""

    def collect(self):
        url = settings.CELERY_BROKER_URL
        if not url.startswith(("redis://", "rediss://")):
            return
        import redis

        gauge = GaugeMetricFamily("ior_celery_queue_length", "Messages waiting in a Celery queue", labels=["queue"])
        client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
        names = queue_names()
        try:
            pipe = client.pipeline(transaction=False)
            for name in names:
                pipe.llen(name)
                for step in _PRIORITY_STEPS:
                    pipe.llen(f"{name}{_PRIORITY_SEPARATOR}{step}")
            lengths = pipe.execute()
        except redis.RedisError:
            # A scrape must still return the rest; /readyz is where a broker outage shows.
            logger.warning("queue depth unavailable: the broker did not answer", exc_info=True)
            return
        finally:
            client.close()
        per_queue = 1 + len(_PRIORITY_STEPS)
        for index, name in enumerate(names):
            gauge.add_metric([name], sum(lengths[index * per_queue : (index + 1) * per_queue]))
        yield gauge


def reminders_sent() -> int:
    from documents.models import DocumentReminder

    # All reminders less the unsent ones: the unsent count is read from the small partial index
    # documentreminder_unsent, and the total from the unique index, instead of filtering every sent row.
    return DocumentReminder.objects.count() - DocumentReminder.objects.filter(notified_at__isnull=True).count()


class RemindersCollector:
    def collect(self):
        try:
            sent = reminders_sent()
        except DatabaseError:
            logger.warning("reminders sent unavailable: the database did not answer", exc_info=True)
            return
        counter = CounterMetricFamily("ior_document_reminders_sent", "Document reminders delivered")
        counter.add_metric([], sent)
        yield counter


class _ProcessCollector:
    """This process's own metrics (the default registry), when there is no multi-process directory to read."""

    def collect(self):
        yield from REGISTRY.collect()


class MultiProcessDirsCollector:
    """The counters every process wrote to the multi-process directories, summed as one set of series. One collector
    over all the files rather than one per directory: a series present in two directories must be added up, not
    exposed twice."""

    def __init__(self, directories: list[str]):
        self.directories = directories

    def files(self) -> list[str]:
        return sorted({path for directory in self.directories for path in glob.glob(os.path.join(directory, "*.db"))})

    def collect(self):
        return multiprocess.MultiProcessCollector.merge(self.files(), accumulate=True)


def multiprocess_dirs() -> list[str]:
    own = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not own:
        return []
    return [own, *(d for d in settings.METRICS_SCRAPE_DIRS if os.path.realpath(d) != os.path.realpath(own))]


def scrape_registry() -> CollectorRegistry:
    registry = CollectorRegistry()
    directories = multiprocess_dirs()
    if directories:
        registry.register(MultiProcessDirsCollector(directories))
    else:
        registry.register(_ProcessCollector())
    registry.register(QueueDepthCollector())
    registry.register(RemindersCollector())
    return registry


def _authorised(request) -> bool:
    token = settings.METRICS_TOKEN
    if not token:
        # Open only on a developer's machine; elsewhere an unconfigured endpoint does not exist.
        if settings.DEBUG:
            return True
        raise Http404
    scheme, _, supplied = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(supplied.strip().encode(), token.encode())


@csrf_exempt
@require_safe
def metrics_view(request):
    if not _authorised(request):
        response = HttpResponse("Unauthorized\n", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    response = HttpResponse(generate_latest(scrape_registry()), content_type=CONTENT_TYPE_LATEST)
    response["Cache-Control"] = "no-store"
    return response
