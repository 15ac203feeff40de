"""Reads of a shipment's cold chain, through the tenancy rule where a user asks."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from shipments.choices import ExcursionDirection, QuarantineStatus, ShipmentStatus
from shipments.coldchain.analysis import covered_seconds
from shipments.coldchain.ranges import TemperatureRange
from shipments.models import ColdChainDisposition, Excursion, Shipment, TemperatureLog

S = ShipmentStatus
# From dispatch until the goods are handed over the pack-out is all that keeps them in range.
ON_THE_WAY = frozenset({S.IN_TRANSIT, S.CUSTOMS_CLEARANCE, S.CUSTOMS_HOLD, S.CLEARED, S.OUT_FOR_DELIVERY})


@dataclass(frozen=True)
class ColdChainSummary:
    """Where a shipment stands against its temperature range, over all its logs. Time out of range is the union
    of the excursions' intervals: two loggers in one box, or two exports of one logger, do not count twice."""

    temperature_class: str
    temperature_range: TemperatureRange
    qualified_duration_hours: int
    excursion_budget_minutes: int
    log_count: int
    excursion_count: int
    minutes_above: float
    minutes_below: float
    minutes_out_of_range: float

    @property
    def budget_exceeded(self) -> bool:
        return self.minutes_out_of_range > self.excursion_budget_minutes

    @property
    def budget_left_minutes(self) -> float:
        return max(self.excursion_budget_minutes - self.minutes_out_of_range, 0.0)


def cold_chain_summary(*, shipment: Shipment) -> ColdChainSummary:
    """For a shipment already in hand (a service, a task); pages and the API pass one read through the tenancy
    rule."""
    spans = list(Excursion.objects.filter(shipment=shipment).values_list("direction", "started_at", "ended_at"))

    def minutes(direction: str | None) -> float:
        chosen = [(s, e) for d, s, e in spans if direction is None or d == direction]
        starts = [int(s.timestamp()) for s, _ in chosen]
        ends = [int(e.timestamp()) for _, e in chosen]
        return covered_seconds(starts, ends) / 60

    return ColdChainSummary(
        temperature_class=shipment.temperature_class,
        temperature_range=shipment.temperature_range,
        qualified_duration_hours=shipment.effective_qualified_duration_hours,
        excursion_budget_minutes=shipment.effective_excursion_budget_minutes,
        log_count=TemperatureLog.objects.filter(shipment=shipment).count(),
        excursion_count=len(spans),
        minutes_above=minutes(ExcursionDirection.ABOVE),
        minutes_below=minutes(ExcursionDirection.BELOW),
        minutes_out_of_range=minutes(None),
    )


def temperature_log_list(*, user, shipment: Shipment) -> QuerySet[TemperatureLog]:
    return (
        TemperatureLog.objects.for_user(user)
        .filter(shipment=shipment)
        .select_related("uploaded_by")
        .order_by("first_reading_at", "id")
    )


def excursion_list(*, user, shipment: Shipment) -> QuerySet[Excursion]:
    return Excursion.objects.for_user(user).filter(shipment=shipment).select_related("log").order_by("started_at", "id")


def temperature_series(*, user, log: TemperatureLog):
    """(times, temperatures) of a log the user may see: int64 seconds since the epoch in UTC, float64 °C."""
    from shipments.models import TemperatureSeries

    return TemperatureSeries.objects.for_user(user).get(log_id=log.pk).arrays()


@dataclass(frozen=True)
class QuarantineState:
    """Whether the goods are held after a temperature excursion and what sponsor QA last decided about them."""

    status: str
    quarantined_at: datetime | None
    disposition: ColdChainDisposition | None

    @property
    def label(self) -> str:
        return QuarantineStatus(self.status).label

    @property
    def awaiting_disposition(self) -> bool:
        return self.status == QuarantineStatus.QUARANTINED

    @property
    def blocks_delivery(self) -> bool:
        return self.status not in (QuarantineStatus.NONE, QuarantineStatus.RELEASED)


def cold_chain_quarantine(*, shipment: Shipment) -> QuarantineState:
    """The quarantine state of a shipment already in hand (read through the tenancy rule by the caller), with its
    latest disposition and the signature on it."""
    disposition = (
        ColdChainDisposition.objects.filter(shipment=shipment)
        .select_related("decided_by", "signature")
        .order_by("-decided_at", "-id")
        .first()
        if shipment.quarantine_status != QuarantineStatus.NONE
        else None
    )
    return QuarantineState(
        status=shipment.quarantine_status, quarantined_at=shipment.quarantined_at, disposition=disposition
    )


def disposition_list(*, user, shipment: Shipment) -> QuerySet[ColdChainDisposition]:
    """Every disposition of the shipment the user may see, oldest first: one per quarantine."""
    return (
        ColdChainDisposition.objects.for_user(user)
        .filter(shipment=shipment)
        .select_related("decided_by", "signature")
        .order_by("decided_at", "id")
    )


def pack_out_margin() -> timedelta:
    return timedelta(hours=settings.COLD_CHAIN_PACK_OUT_MARGIN_HOURS)


@dataclass(frozen=True)
class PackOutClock:
    """How long the pack-out keeps the goods in range: its qualified duration counted from dispatch. Time left is
    negative once it has run out."""

    dispatched_at: datetime
    qualified_duration_hours: int
    expires_at: datetime
    time_left: timedelta
    margin: timedelta
    in_customs_hold: bool
    alerted_at: datetime | None

    @property
    def hours_left(self) -> float:
        return self.time_left.total_seconds() / 3600

    @property
    def expired(self) -> bool:
        return self.time_left <= timedelta(0)

    @property
    def below_margin(self) -> bool:
        return self.time_left <= self.margin

    @property
    def text(self) -> str:
        """ "15 h 59 min left" or "ran out 2 h 05 min ago", for lists and pages."""
        span = duration_text(abs(self.time_left))
        return f"ran out {span} ago" if self.expired else f"{span} left"


def duration_text(span: timedelta) -> str:
    minutes = int(span.total_seconds() // 60)
    days, rest = divmod(minutes, 1440)
    hours, minutes = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes:02d} min"
    return f"{minutes} min"


def pack_out_time_left(shipment: Shipment, *, now: datetime | None = None) -> PackOutClock | None:
    """The pack-out clock of a shipment on its way (dispatched, not yet handed over), or None. Reads the shipment's
    own fields only, so a list of shipments costs no query more. Counted from dispatch: a box packed earlier has
    run a little longer than this shows."""
    if shipment.status not in ON_THE_WAY or shipment.dispatched_at is None:
        return None
    hours = shipment.effective_qualified_duration_hours
    expires_at = shipment.dispatched_at + timedelta(hours=hours)
    return PackOutClock(
        dispatched_at=shipment.dispatched_at,
        qualified_duration_hours=hours,
        expires_at=expires_at,
        time_left=expires_at - (now or timezone.now()),
        margin=pack_out_margin(),
        in_customs_hold=shipment.status == S.CUSTOMS_HOLD,
        alerted_at=shipment.pack_out_alerted_at,
    )
