"""Platform housekeeping tasks: queue health checks, expired idempotency keys."""

import socket
from datetime import UTC, datetime

from celery import shared_task

from ior_platform.core.celery_tasks import DurableTask


@shared_task(base=DurableTask)
def ping() -> dict[str, str]:
    # Hostname and time let a caller tell which worker answered and that the answer is fresh,
    # not a stale result left in the backend.
    return {"reply": "pong", "hostname": socket.gethostname(), "at": datetime.now(UTC).isoformat()}


@shared_task(base=DurableTask)
def purge_idempotency_records() -> int:
    from ior_platform.core.api.idempotency import idempotency_purge

    return idempotency_purge()
