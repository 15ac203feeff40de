"""Recording a courier's tracking event on a shipment.

`tracking_event_record` is the one way in for the page, the API and the demo: it checks who may record and when,
stores the event and writes its audit event in one transaction, and after commit tells the sponsor and the IOR of an
exception. Events are never changed: a correction is a new event."""

from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from ior_platform.core.audit import record_event
from ior_platform.core.codes import country_codes
from ior_platform.core.errors import NotPermitted, TransitionRefused
from shipments.choices import GOODS_MOVING_STATUSES, RecordedVia, TrackingEventCode
from shipments.models import Shipment, TrackingEvent
from shipments.rules import refusal
from shipments.tasks import notify_tracking_exception

# The goods are in the courier's hands from approval (pick-up at the depot) until the shipment is closed; before
# approval there is nothing to carry, and a cancelled shipment never moved.
OPEN_FOR_TRACKING = GOODS_MOVING_STATUSES
# Couriers' clocks drift, and a scan may reach us before our own clock shows its minute.
FUTURE_TOLERANCE = timedelta(minutes=10)


def tracking_refusal(shipment: Shipment, actor) -> str | None:
    """None when `actor` may record a tracking event on `shipment` now; otherwise why not."""
    denied = refusal(shipment, actor, "record_tracking_event")
    if denied:
        return denied
    if shipment.status not in OPEN_FOR_TRACKING:
        return _status_refusal(shipment)
    return None


def _status_refusal(shipment: Shipment) -> str:
    return (
        "tracking events can be recorded once the shipment is approved and until it is closed; this shipment is "
        f"{shipment.get_status_display().lower()}"
    )


def _cleaned(*, occurred_at, code, location, country, description, external_id) -> dict:
    errors: dict[str, str] = {}
    if code not in TrackingEventCode.values:
        errors["code"] = f"Choose one of {', '.join(TrackingEventCode.values)}."
    location = " ".join((location or "").split())
    if not location:
        errors["location"] = 'Say where, e.g. "JFK, New York".'
    elif len(location) > TrackingEvent.LOCATION_MAX_LENGTH:
        errors["location"] = f"At most {TrackingEvent.LOCATION_MAX_LENGTH} characters."
    country = (country or "").strip().upper()
    if country and country not in country_codes():
        errors["country"] = f"{country} is not an ISO 3166-1 alpha-2 country code."
    description = (description or "").strip()
    if len(description) > TrackingEvent.DESCRIPTION_MAX_LENGTH:
        errors["description"] = f"At most {TrackingEvent.DESCRIPTION_MAX_LENGTH} characters."
    external_id = (external_id or "").strip()
    if len(external_id) > TrackingEvent.EXTERNAL_ID_MAX_LENGTH:
        errors["external_id"] = f"At most {TrackingEvent.EXTERNAL_ID_MAX_LENGTH} characters."
    if not isinstance(occurred_at, datetime):
        errors["occurred_at"] = "Give the date and time of the event."
    elif timezone.is_naive(occurred_at):
        errors["occurred_at"] = "Give the time with its time zone."
    elif occurred_at > timezone.now() + FUTURE_TOLERANCE:
        errors["occurred_at"] = "This time is in the future: give the time the event happened."
    if errors:
        raise ValidationError(errors)
    return {
        "occurred_at": occurred_at,
        "code": code,
        "location": location,
        "country": country,
        "description": description,
        "external_id": external_id,
    }


def _already_recorded(shipment: Shipment, external_id: str) -> TrackingEvent | None:
    if not external_id:
        return None
    event = TrackingEvent.objects.filter(shipment=shipment, external_id=external_id).first()
    if event is not None:
        event.replayed = True
    return event


def tracking_event_record(
    *,
    actor,
    shipment: Shipment,
    occurred_at: datetime,
    code: str,
    location: str,
    country: str = "",
    description: str = "",
    external_id: str = "",
    via: str = RecordedVia.PAGE,
) -> TrackingEvent:
    """Record that `code` happened to the goods of `shipment` at `location` at `occurred_at` (aware; stored in UTC).

    `actor` is a user of the shipment's courier, IOR or EOR (see shipments.rules), or None for the platform itself.
    An `external_id` already recorded on the shipment returns that event (with `replayed` set) and writes nothing,
    so a courier's system may send its events again. Raises Shipment.DoesNotExist for a shipment the actor may not
    see, ValidationError with field messages on the inputs, NotPermitted, TransitionRefused before approval or once
    cancelled."""
    given = _cleaned(
        occurred_at=occurred_at,
        code=code,
        location=location,
        country=country,
        description=description,
        external_id=external_id,
    )
    visible = Shipment.objects.all() if actor is None else Shipment.objects.for_user(actor)
    if not visible.filter(pk=shipment.pk).exists():
        raise Shipment.DoesNotExist(f"No shipment {shipment.reference}")
    if actor is not None and (denied := refusal(shipment, actor, "record_tracking_event")):
        raise NotPermitted(denied)
    existing = _already_recorded(shipment, given["external_id"])
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            # The shipment's row is locked: its audit chain grows one event at a time.
            locked = visible.select_for_update().get(pk=shipment.pk)
            if locked.status not in OPEN_FOR_TRACKING:
                raise TransitionRefused(_status_refusal(locked))
            if given["occurred_at"] < locked.created_at:
                created = f"{locked.created_at:%Y-%m-%d %H:%M} UTC"
                raise ValidationError({"occurred_at": f"This is before the shipment was created ({created})."})
            existing = _already_recorded(locked, given["external_id"])
            if existing is not None:
                return existing
            return _record(actor, locked, given, via)
    except IntegrityError:
        # Only the unique (shipment, external id) constraint can fail here: the same event arrived twice at once.
        existing = _already_recorded(shipment, given["external_id"])
        if existing is None:
            raise
        return existing


def _record(actor, shipment: Shipment, given: dict, via: str) -> TrackingEvent:
    event = TrackingEvent.objects.create(shipment=shipment, recorded_by=actor, via=via, **given)
    audit = record_event(
        actor=actor,
        action="tracking_event.recorded",
        target=event,
        changes={name: [None, value] for name, value in given.items() if value not in ("", None)}
        | {"via": [None, via]},
        shipment=shipment,
    )
    if event.code == TrackingEventCode.EXCEPTION:
        notify_tracking_exception.delay_on_commit(audit.pk)
    return event
