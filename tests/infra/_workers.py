"""Runs a worker of the platform's Celery app with Celery settings the Django settings do not read from the
environment (broker transport options, remote control), given as JSON in IOR_TEST_CELERY_CONF:

    IOR_TEST_CELERY_CONF='{"worker_enable_remote_control": false}' python -m tests.infra._workers -Q my-queue ...

The arguments are those of `celery worker`."""

import json
import os
import sys

CONF_VARIABLE = "IOR_TEST_CELERY_CONF"


def main(argv: list[str]) -> None:
    from ior_platform.celery import app

    for key, value in json.loads(os.environ.get(CONF_VARIABLE) or "{}").items():
        setattr(app.conf, key, value)
    app.worker_main(["worker", *argv])


if __name__ == "__main__":
    main(sys.argv[1:])
