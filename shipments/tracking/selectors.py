"""Reads of tracking events, always through the tenancy rule."""

from django.db.models import QuerySet

from shipments.models import Shipment, TrackingEvent


def tracking_event_list(*, user, shipment: Shipment) -> QuerySet[TrackingEvent]:
    """The shipment's tracking events in the order they happened, with who recorded each."""
    return (
        TrackingEvent.objects.for_user(user)
        .filter(shipment=shipment)
        .select_related("recorded_by__organization")
        .order_by("occurred_at", "id")
    )
