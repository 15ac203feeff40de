"""Background work that follows shipment changes. Tasks take ids, are dispatched after commit, and claim
their work with a unique key so a retry or a duplicate delivery does nothing twice."""

from celery import shared_task

from ior_platform.core.celery_tasks import DurableTask
from shipments.notifications import shipment_event_notify


@shared_task(base=DurableTask, acks_late=True)
def notify_shipment_event(event_id: int) -> int:
    return shipment_event_notify(event_id=event_id)
