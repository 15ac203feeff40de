"""E-mail to the people of the organizations that take part in a shipment when its status changes."""

from django.conf import settings
from django.core.mail import send_mass_mail
from django.db import IntegrityError, transaction

from ior_platform.core.models import AuditEvent, TaskClaim
from ior_platform.core.tenancy import restrict
from parties.models import User
from shipments.models import Shipment


def recipients_for(shipment: Shipment):
    party_ids = [
        shipment.sponsor_id,
        shipment.ior_id,
        shipment.eor_id,
        shipment.consignee_id,
        shipment.broker_id,
        shipment.courier_id,
    ]
    users = User.objects.filter(organization_id__in=[p for p in party_ids if p], is_active=True).exclude(email="")
    # The tenancy rule has the last word: nobody is told about a shipment they may not see.
    return [u for u in users if restrict(Shipment.objects.filter(pk=shipment.pk), u).exists()]


def shipment_event_notify(*, event_id: int) -> int:
    """Send the status-change e-mails for one audit event, once. Returns how many were sent."""
    event = AuditEvent.objects.select_related("shipment").filter(pk=event_id).first()
    if event is None or event.shipment is None:
        return 0
    shipment = event.shipment
    old, new = (event.changes.get("status") or [None, shipment.status])[:2]
    subject = f"[{shipment.reference}] {shipment.get_status_display()}"
    link = f"{settings.SITE_URL}{shipment.get_absolute_url()}"
    body_lines = [
        f"Shipment {shipment.reference} ({shipment.origin_country} → {shipment.destination_country}) "
        f"moved from {old or '—'} to {new}.",
        f"By: {event.actor_label} at {event.occurred_at:%Y-%m-%d %H:%M} UTC.",
    ]
    if event.reason:
        body_lines.append(f"Reason: {event.reason}")
    body_lines.append(f"Open it: {link}")
    body = "\n".join(body_lines)
    messages = [(subject, body, settings.DEFAULT_FROM_EMAIL, [u.email]) for u in recipients_for(shipment)]
    try:
        with transaction.atomic():
            # The claim commits only if the mail went out: a failure is retried, a duplicate finds the claim.
            TaskClaim.objects.create(key=f"shipment-event-mail:{event_id}")
            return send_mass_mail(messages, fail_silently=False) if messages else 0
    except IntegrityError:
        return 0
