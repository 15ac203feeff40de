"""Tell the parties that care when a shipment reaches a status that needs them: the dossier rejected or approved,
a customs hold, dispatch, delivery, cancellation. Other transitions notify nobody."""

from django.db import IntegrityError, transaction
from django.db.models import Q

from documents.choices import DocumentStatus
from ior_platform.core.models import AuditEvent, TaskClaim
from parties.models import User
from parties.notifications import notify
from parties.webhooks import webhooks_emit_shipment_status_changed
from shipments.models import Shipment

NOTIFIED_ACTIONS = {
    "shipment.reject",
    "shipment.approve",
    "shipment.hold",
    "shipment.dispatch",
    "shipment.deliver",
    "shipment.cancel",
}


def recipients_for(shipment: Shipment, action: str):
    """Users of the organizations an event concerns. The tenancy filter in notify() has the last word."""
    if action == "shipment.reject":
        # The dossier goes back to whoever must fix it: the sponsor, and every party still owing a document.
        owing = shipment.documents.exclude(status=DocumentStatus.APPROVED).values("owed_by_id")
        organizations = Q(organization_id=shipment.sponsor_id) | Q(organization_id__in=owing)
    else:
        party_ids = [shipment.sponsor_id, shipment.ior_id, shipment.eor_id, shipment.consignee_id]
        organizations = Q(organization_id__in=[p for p in party_ids if p])
    return User.objects.filter(organizations, is_active=True).order_by("pk")


def _message(event: AuditEvent, shipment: Shipment) -> tuple[str, str]:
    old, new = (event.changes.get("status") or [None, shipment.status])[:2]
    subject = f"[{shipment.reference}] {shipment.get_status_display()}"
    lines = [
        f"Shipment {shipment.reference} ({shipment.origin_country} → {shipment.destination_country}) "
        f"moved from {old or '—'} to {new}.",
        f"By: {event.actor_label} at {event.occurred_at:%Y-%m-%d %H:%M} UTC.",
    ]
    if event.reason:
        lines.append(f"Reason: {event.reason}")
    return subject, "\n".join(lines)


def shipment_event_notify(*, event_id: int) -> int:
    """Notify the parties of one audit event, once. Returns how many notifications were written."""
    event = AuditEvent.objects.select_related("shipment").filter(pk=event_id).first()
    webhooks_emit_shipment_status_changed(audit_event=event)
    if event is None or event.shipment is None or event.action not in NOTIFIED_ACTIONS:
        return 0
    shipment = event.shipment
    subject, body = _message(event, shipment)
    try:
        with transaction.atomic():
            # The claim commits with the notifications: a failure is retried, a duplicate finds the claim.
            TaskClaim.objects.create(key=f"shipment-event-mail:{event_id}")
            created = notify(
                recipients=recipients_for(shipment, event.action),
                kind=event.action,
                subject=subject,
                body=body,
                shipment=shipment,
            )
            return len(created)
    except IntegrityError:
        return 0
