"""gunicorn settings for the web service (Dockerfile and docker-compose.yml run `gunicorn -c gunicorn.conf.py`).
Every value can be set from the environment."""

import multiprocessing
import os
import shutil
from pathlib import Path

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", str(multiprocessing.cpu_count() * 2 + 1)))
threads = int(os.environ.get("GUNICORN_THREADS", "1"))
# The longest request the platform serves is a bulk create of 500 drafts (POST /api/v1/shipments/bulk/), measured at
# up to 45 s on a loaded two-core machine; gunicorn's default of 30 s would kill the worker halfway through a batch
# whose rows each commit on their own. Time enough for it, with headroom.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "120"))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "60"))
keepalive = 5
# gunicorn's own lines (start-up, worker deaths, timeouts) on stderr and an access line a request on stdout, in the
# format of the app's (LOG_FORMAT, JSON unless it says plain: ior_platform/core/request_id.py). The access line
# carries the request id the app put on the response, so a proxy's record of a request leads to the app's lines.
_log_formatter = "plain" if os.environ.get("LOG_FORMAT") == "plain" else "json"
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {"()": "ior_platform.core.request_id.json_formatter"},
        "plain": {"()": "ior_platform.core.request_id.plain_formatter"},
    },
    "filters": {
        "request": {"()": "ior_platform.core.request_id.RequestContextFilter"},
        "access": {"()": "ior_platform.core.request_id.GunicornAccessFilter"},
    },
    "handlers": {
        "error": {
            "class": "logging.StreamHandler",
            "formatter": _log_formatter,
            "filters": ["request"],
            "stream": "ext://sys.stderr",
        },
        "access": {
            "class": "logging.StreamHandler",
            "formatter": _log_formatter,
            "filters": ["access"],
            "stream": "ext://sys.stdout",
        },
    },
    "root": {"level": "INFO", "handlers": ["error"]},
    "loggers": {
        "gunicorn.error": {"level": "INFO", "handlers": ["error"], "propagate": False},
        "gunicorn.access": {"level": "INFO", "handlers": ["access"], "propagate": False},
    },
}
# Recycle workers now and then, so a slow leak in any library cannot grow without bound.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "2000"))
max_requests_jitter = 200
forwarded_allow_ips = os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS", "*")


def on_starting(server):
    # Files left by the previous run's workers would be summed into this run's counters and, their pids being
    # reused, written into by new workers; prometheus_client wants the directory empty before the first worker.
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        wipe_directory(Path(directory))


def wipe_directory(directory: Path) -> None:
    """Empty the directory (made if missing) without removing it: it may be a volume's mount point."""
    directory.mkdir(parents=True, exist_ok=True)
    for entry in directory.iterdir():
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()


def child_exit(server, worker):
    # With PROMETHEUS_MULTIPROC_DIR set, /metrics sums the files every worker writes there
    # (ior_platform/core/metrics.py); a dead worker's must stop counting as live.
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
