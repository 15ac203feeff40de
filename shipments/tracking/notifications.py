"""Who hears of a tracking exception, and what they read: the sponsor (whose goods are stuck or damaged) and the
importer of record (who must act at destination), from the exception's audit event once it has committed. Other
tracking events tell nobody: they are on the shipment's timeline."""

from django.db import IntegrityError, transaction

from ior_platform.core.models import AuditEvent, TaskClaim
from parties.notifications import ShipmentMessage, notify_bulk
from shipments.choices import TrackingEventCode
from shipments.coldchain.notifications import party_user_ids, utc
from shipments.models import TrackingEvent

RECORDED = "tracking_event.recorded"
EXCEPTION_KIND = "tracking_event.exception"
EXCEPTION_AUDIENCE = ("sponsor", "ior")


def _message(event: TrackingEvent, audit: AuditEvent) -> tuple[str, str]:
    shipment = event.shipment
    subject = f"[{shipment.reference}] Courier exception at {event.location}"
    lines = [
        f"The courier reports an exception on shipment {shipment.reference} "
        f"({shipment.origin_country} → {shipment.destination_country}) at {event.place}, {utc(event.occurred_at)}.",
    ]
    if event.description:
        lines.append(f"What they say: {event.description}")
    if shipment.airway_bill:
        lines.append(f"Air waybill: {shipment.airway_bill}")
    lines.append(f"Recorded by: {audit.actor_label} at {utc(audit.occurred_at)}.")
    return subject, "\n".join(lines)


def tracking_exception_notify(*, event_id: int) -> int:
    """Notify the sponsor and the IOR of one tracking exception (by its audit event), once. Returns how many
    notifications were written."""
    audit = AuditEvent.objects.filter(pk=event_id, action=RECORDED).first()
    if audit is None:
        return 0
    event = TrackingEvent.objects.select_related("shipment").filter(pk=audit.target_id).first()
    if event is None or event.code != TrackingEventCode.EXCEPTION:
        return 0
    subject, body = _message(event, audit)
    message = ShipmentMessage(
        recipient_ids=party_user_ids(event.shipment, EXCEPTION_AUDIENCE),
        kind=EXCEPTION_KIND,
        subject=subject,
        body=body,
        shipment_id=event.shipment_id,
        shipment_reference=event.shipment.reference,
    )
    try:
        with transaction.atomic():
            # The claim commits with the notifications: a failure is retried, a duplicate finds the claim.
            TaskClaim.objects.create(key=f"tracking-exception-mail:{event_id}")
            return len(notify_bulk(messages=[message]))
    except IntegrityError:
        return 0
