"""Background work that follows shipment changes. Tasks take ids, are dispatched after commit, and claim
their work with a unique key so a retry or a duplicate delivery does nothing twice."""

from celery import shared_task

from ior_platform.core.celery_tasks import DurableTask
from shipments.coldchain.notifications import cold_chain_event_notify
from shipments.coldchain.packout import pack_out_margin_alert
from shipments.notifications import shipment_event_notify
from shipments.tracking.notifications import tracking_exception_notify


@shared_task(base=DurableTask, acks_late=True)
def notify_shipment_event(event_id: int) -> int:
    return shipment_event_notify(event_id=event_id)


@shared_task(base=DurableTask, acks_late=True)
def notify_cold_chain_event(event_id: int) -> int:
    return cold_chain_event_notify(event_id=event_id)


@shared_task(base=DurableTask, acks_late=True)
def notify_tracking_exception(event_id: int) -> int:
    return tracking_exception_notify(event_id=event_id)


@shared_task(base=DurableTask, acks_late=True)
def alert_pack_out_margin() -> int:
    """Periodic: alert the IOR and the sponsor of each shipment in customs hold whose pack-out is running out."""
    return pack_out_margin_alert()
