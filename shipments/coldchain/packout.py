"""The pack-out clock during a customs hold: a shipment held at the border while its pack-out runs down alerts its
importer of record and its sponsor once, when the time left falls within COLD_CHAIN_PACK_OUT_MARGIN_HOURS, so that
someone presses customs or has the goods re-iced before they leave their range."""

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from ior_platform.core.audit import record_event
from parties.notifications import notify_bulk
from shipments.choices import ShipmentStatus
from shipments.coldchain.notifications import pack_out_message
from shipments.coldchain.selectors import pack_out_time_left
from shipments.models import Shipment

CLOCK_FIELDS = ("id", "status", "temperature_class", "qualified_duration_hours", "dispatched_at", "pack_out_alerted_at")


def pack_out_margin_alert(*, now: datetime | None = None) -> int:
    """Alert once for each shipment in customs hold whose pack-out has no more than the margin left (or has run
    out). Returns how many shipments were alerted. Safe to run twice at once: each alert is claimed by a conditional
    UPDATE of the shipment's `pack_out_alerted_at`."""
    now = now or timezone.now()
    # Holds are few at any time; the clock's arithmetic (a per-class default duration) stays in Python.
    held = Shipment.objects.filter(
        status=ShipmentStatus.CUSTOMS_HOLD, dispatched_at__isnull=False, pack_out_alerted_at__isnull=True
    ).only(*CLOCK_FIELDS)
    due = [shipment.pk for shipment in held if pack_out_time_left(shipment, now=now).below_margin]
    return sum(_alert(shipment_id, now) for shipment_id in due)


def _alert(shipment_id: int, now: datetime) -> bool:
    with transaction.atomic():
        # The row lock orders this shipment's audit chain; the conditional UPDATE is the claim.
        shipment = Shipment.objects.with_parties().select_for_update(of=("self",)).get(pk=shipment_id)
        clock = pack_out_time_left(shipment, now=now)
        if shipment.status != ShipmentStatus.CUSTOMS_HOLD or clock is None or not clock.below_margin:
            return False
        if not Shipment.objects.filter(pk=shipment_id, pack_out_alerted_at__isnull=True).update(
            pack_out_alerted_at=now
        ):
            return False
        shipment.pack_out_alerted_at = now
        record_event(
            actor=None,
            action="cold_chain.pack_out_margin_reached",
            target=shipment,
            changes={
                "pack_out_alerted_at": [None, now],
                "pack_out_expires_at": [None, clock.expires_at],
                "hours_left": [None, round(clock.hours_left, 2)],
                "margin_hours": [None, clock.margin.total_seconds() / 3600],
            },
            shipment=shipment,
        )
        notify_bulk(messages=[pack_out_message(shipment, clock)])
    return True
