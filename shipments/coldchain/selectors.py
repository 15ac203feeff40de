"""Reads of a shipment's cold chain, through the tenancy rule where a user asks."""

from dataclasses import dataclass

from django.db.models import QuerySet

from shipments.choices import ExcursionDirection
from shipments.coldchain.analysis import covered_seconds
from shipments.coldchain.ranges import TemperatureRange
from shipments.models import Excursion, Shipment, TemperatureLog


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
