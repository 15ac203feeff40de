"""Who hears about a shipment's cold chain, and what they read: excursions and sponsor QA's dispositions (from their
audit event, once it has committed) and the pack-out running out during a customs hold. Recipients are users of the
shipment's parties; notify_bulk keeps only those the tenancy rule lets see the shipment."""

from datetime import datetime

from django.db import IntegrityError, transaction

from ior_platform.core.models import AuditEvent, TaskClaim
from parties.models import User
from parties.notifications import ShipmentMessage, notify_bulk
from shipments.choices import DispositionDecision
from shipments.models import Shipment

EXCURSIONS_DETECTED = "temperature_log.excursions_detected"
DISPOSITION_RECORDED = "cold_chain.disposition_recorded"
PACK_OUT_MARGIN = "cold_chain.pack_out_margin"
# Good Distribution Practice: an excursion is reported to the sender and the receiver; the IOR holds the goods.
EXCURSION_AUDIENCE = ("sponsor", "consignee", "ior")
PACK_OUT_AUDIENCE = ("ior", "sponsor")
LISTED_EXCURSIONS = 10

NEXT_STEP = {
    DispositionDecision.RELEASE: "The goods are released: delivery may now be confirmed.",
    DispositionDecision.REJECT: "The goods may not be delivered: the importer of record returns them to origin.",
    DispositionDecision.DESTROY: "The goods may not be delivered: the importer of record has them destroyed and "
    "records it.",
}


def party_user_ids(shipment: Shipment, parties: tuple[str, ...]) -> list[int]:
    organization_ids = [org for party in parties if (org := getattr(shipment, f"{party}_id"))]
    return list(
        User.objects.filter(organization_id__in=organization_ids, is_active=True)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def utc(value) -> str:
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return f"{moment:%Y-%m-%d %H:%M} UTC"


def _new(changes: dict, name: str, default=None):
    value = changes.get(name)
    return value[1] if isinstance(value, list) and len(value) == 2 else default


def _minutes(value: float) -> str:
    return f"{value:g} min" if value < 120 else f"{value / 60:.1f} h"


def _excursions_message(event: AuditEvent, shipment: Shipment) -> tuple[str, str]:
    changes = event.changes or {}
    count = _new(changes, "excursion_count", 0)
    quarantined = _new(changes, "quarantine_status") == "quarantined"
    subject = f"[{shipment.reference}] Temperature excursion" + (": goods in quarantine" if quarantined else "")
    serial = _new(changes, "logger_serial") or event.target_repr
    noun = "excursion" if count == 1 else "excursions"
    lines = [
        f"Logger {serial} of shipment {shipment.reference} ({shipment.get_temperature_class_display().lower()}, "
        f"{shipment.temperature_range}) shows {count} {noun} out of range:",
    ]
    listed = _new(changes, "excursions", [])[:LISTED_EXCURSIONS]
    for excursion in listed:
        direction = "above" if excursion["direction"] == "above" else "below"
        lines.append(
            f"- {direction} the range from {utc(excursion['started_at'])} to {utc(excursion['ended_at'])} "
            f"({_minutes(excursion['minutes'])}), reaching {excursion['peak']:g} °C"
        )
    if count > len(listed):
        lines.append(f"- and {count - len(listed)} more, listed on the shipment's page")
    total = _new(changes, "shipment_minutes_out_of_range", 0)
    budget = _new(changes, "excursion_budget_minutes", 0)
    over = " (over budget)" if _new(changes, "budget_exceeded") else ""
    lines.append(f"Time out of range on this shipment: {_minutes(total)} of an excursion budget of {budget} min{over}.")
    if quarantined:
        lines.append(
            "The goods are in quarantine: delivery cannot be confirmed until the sponsor's quality assurance records "
            "a disposition (release, reject or destroy) with an electronic signature."
        )
    else:
        lines.append(f"The goods stay {shipment.get_quarantine_status_display().lower()}.")
    lines.append(f"Recorded by: {event.actor_label} at {event.occurred_at:%Y-%m-%d %H:%M} UTC.")
    return subject, "\n".join(lines)


def _disposition_message(event: AuditEvent, shipment: Shipment) -> tuple[str, str]:
    changes = event.changes or {}
    decision = _new(changes, "decision")
    label = DispositionDecision(decision).label.split(":")[0]
    subject = f"[{shipment.reference}] Sponsor QA disposition: {label.lower()}"
    lines = [
        f"{event.actor_label} of {event.organization or 'the sponsor'} recorded the quality assurance disposition of "
        f"the goods of shipment {shipment.reference} after its temperature excursions: {label.lower()}, signed "
        f"electronically at {event.occurred_at:%Y-%m-%d %H:%M} UTC.",
        f"Reason: {event.reason}",
        NEXT_STEP[decision],
    ]
    return subject, "\n".join(lines)


MESSAGES = {EXCURSIONS_DETECTED: _excursions_message, DISPOSITION_RECORDED: _disposition_message}


def cold_chain_event_notify(*, event_id: int) -> int:
    """Notify the sponsor, the consignee and the IOR of one cold-chain audit event, once. Returns how many
    notifications were written."""
    event = AuditEvent.objects.select_related("shipment", "organization").filter(pk=event_id).first()
    if event is None or event.shipment is None or event.action not in MESSAGES:
        return 0
    shipment = event.shipment
    subject, body = MESSAGES[event.action](event, shipment)
    message = ShipmentMessage(
        recipient_ids=party_user_ids(shipment, EXCURSION_AUDIENCE),
        kind=event.action,
        subject=subject,
        body=body,
        shipment_id=shipment.pk,
        shipment_reference=shipment.reference,
    )
    try:
        with transaction.atomic():
            # The claim commits with the notifications: a failure is retried, a duplicate finds the claim.
            TaskClaim.objects.create(key=f"cold-chain-mail:{event_id}")
            return len(notify_bulk(messages=[message]))
    except IntegrityError:
        return 0


def pack_out_message(shipment: Shipment, clock) -> ShipmentMessage:
    if clock.expired:
        subject = f"[{shipment.reference}] Customs hold: the pack-out has run out"
        state = f"ran out at {utc(clock.expires_at)}, {_hours(-clock.hours_left)} ago"
    else:
        subject = f"[{shipment.reference}] Customs hold: {_hours(clock.hours_left)} left on the pack-out"
        state = f"runs out at {utc(clock.expires_at)}, in {_hours(clock.hours_left)}"
    body = "\n".join(
        [
            f"Shipment {shipment.reference} ({shipment.get_temperature_class_display().lower()}, "
            f"{shipment.temperature_range}) is in customs hold in {shipment.destination_country_name}.",
            f"Its pack-out is qualified for {clock.qualified_duration_hours} h from dispatch on "
            f"{utc(clock.dispatched_at)}: it {state}.",
            "Press for the release, or arrange for the goods to be re-iced or re-conditioned before the pack-out "
            "fails; goods left longer are likely to need a quality assurance disposition.",
        ]
    )
    return ShipmentMessage(
        recipient_ids=party_user_ids(shipment, PACK_OUT_AUDIENCE),
        kind=PACK_OUT_MARGIN,
        subject=subject,
        body=body,
        shipment_id=shipment.pk,
        shipment_reference=shipment.reference,
    )


def _hours(hours: float) -> str:
    whole = int(hours)
    minutes = round((hours - whole) * 60)
    if minutes == 60:
        whole, minutes = whole + 1, 0
    return f"{whole} h {minutes:02d} min" if whole else f"{minutes} min"
