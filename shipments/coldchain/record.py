"""A shipment's temperature record as people read it: the logs' figures taken together, and the chart's curves and
intervals built from stored logs. Shared by the shipment page (in the reader's time zone) and the dossier PDF (in
UTC, for a shipment the caller has already checked the reader may see)."""

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, tzinfo

from django.db.models import Prefetch
from django.utils.safestring import SafeString

from compliance.choices import TemperatureClass
from shipments.coldchain.analysis import GAS_CONSTANT, KELVIN
from shipments.coldchain.chart import Interval, Trace, temperature_chart_svg
from shipments.coldchain.selectors import ColdChainSummary, QuarantineState, cold_chain_quarantine, cold_chain_summary
from shipments.models import Excursion, Shipment, TemperatureLog, TemperatureSeries

DOSSIER_CHART = {"width": 680, "height": 290, "font_family": "'DejaVu Sans', sans-serif"}


@dataclass(frozen=True)
class Overall:
    """The logs' figures taken together, as if all their readings were one log."""

    reading_count: int
    minimum: float
    maximum: float
    mean: float
    mean_kinetic_temperature: float | None
    delta_h: float | None


def overall(logs: Sequence[TemperatureLog]) -> Overall | None:
    """Min and max of the logs' extremes, the mean weighted by readings, and the mean kinetic temperature of all
    readings together: exp(−ΔH/RT) averaged over every reading is the readings-weighted mean of each log's own
    average, which its MKT gives back (summed as log-sum-exp, as the analysis does, for cryogenic logs). Logs
    analysed with different ΔH have no common MKT."""
    if not logs:
        return None
    count = sum(log.reading_count for log in logs)
    mkt = delta_h = None
    if len({log.delta_h for log in logs}) == 1:
        delta_h = logs[0].delta_h
        ratio = delta_h / GAS_CONSTANT
        exponents = [-ratio / (log.mean_kinetic_temperature + KELVIN) for log in logs]
        peak = max(exponents)
        total = sum(log.reading_count * math.exp(x - peak) for log, x in zip(logs, exponents, strict=True))
        mkt = -ratio / (peak + math.log(total / count)) - KELVIN
    return Overall(
        reading_count=count,
        minimum=min(log.min_temperature for log in logs),
        maximum=max(log.max_temperature for log in logs),
        mean=sum(log.mean_temperature * log.reading_count for log in logs) / count,
        mean_kinetic_temperature=mkt,
        delta_h=delta_h,
    )


def is_temperature_controlled(shipment: Shipment) -> bool:
    return shipment.temperature_class != TemperatureClass.AMBIENT


def traces(logs: Sequence[TemperatureLog], series: Mapping[int, tuple]) -> list[Trace]:
    """One curve per log that has readings in `series` (log id → (times, temperatures)), named by its logger; two
    exports of one logger are told apart by their file names."""
    serials = [log.logger_serial for log in logs]
    curves = []
    for log in logs:
        if log.pk not in series:
            continue
        times, temperatures = series[log.pk]
        label = f"Logger {log.logger_serial}"
        if serials.count(log.logger_serial) > 1:
            label += f" ({log.original_name})"
        curves.append(Trace(label=label, times=times, temperatures=temperatures))
    return curves


def intervals(excursions: Iterable[Excursion]) -> list[Interval]:
    return [
        Interval(
            start=int(e.started_at.timestamp()),
            end=int(e.ended_at.timestamp()),
            direction=e.direction,
            peak=e.peak_temperature,
        )
        for e in excursions
    ]


def chart_title(shipment: Shipment) -> str:
    return f"Temperature record of {shipment.reference} against {shipment.temperature_range}"


def series_by_log(queryset) -> dict[int, tuple]:
    """(times, temperatures) by log id from a TemperatureSeries queryset, in one query, unpacked one at a time."""
    return {row.log_id: row.arrays() for row in queryset.iterator(chunk_size=16)}


@dataclass(frozen=True)
class LogEntry:
    log: TemperatureLog
    excursions: list[Excursion]


@dataclass(frozen=True)
class DossierTemperature:
    """The dossier's temperature section: times in UTC."""

    temperature_controlled: bool
    summary: ColdChainSummary | None
    quarantine: QuarantineState | None
    overall: Overall | None
    logs: list[LogEntry]
    excursions: list[Excursion]
    chart: SafeString | str


def dossier_temperature(shipment: Shipment, *, tz: tzinfo = UTC) -> DossierTemperature:
    """No query for a shipment the caller annotated `has_temperature_logs=False` (documents.dossier), a fixed few
    for one with any number of logs."""
    logs = []
    if getattr(shipment, "has_temperature_logs", True):
        logs = list(
            TemperatureLog.objects.filter(shipment=shipment)
            .select_related("uploaded_by")
            .prefetch_related(Prefetch("excursions", queryset=Excursion.objects.order_by("started_at", "pk")))
            .order_by("first_reading_at", "pk")
        )
    if not logs:
        return DossierTemperature(
            temperature_controlled=is_temperature_controlled(shipment),
            summary=None,
            quarantine=None,
            overall=None,
            logs=[],
            excursions=[],
            chart="",
        )
    entries = [LogEntry(log=log, excursions=list(log.excursions.all())) for log in logs]
    excursions = sorted((e for entry in entries for e in entry.excursions), key=lambda e: (e.started_at, e.pk))
    series = series_by_log(TemperatureSeries.objects.filter(log_id__in=[log.pk for log in logs]))
    curves = traces(logs, series)
    chart = ""
    if curves:
        chart = temperature_chart_svg(
            traces=curves,
            temperature_range=shipment.temperature_range,
            excursions=intervals(excursions),
            tz=tz,
            title=chart_title(shipment),
            chart_id="dossier-temperature-chart",
            css_class="temperature-chart",
            **DOSSIER_CHART,
        )
    return DossierTemperature(
        temperature_controlled=is_temperature_controlled(shipment),
        summary=cold_chain_summary(shipment=shipment),
        quarantine=cold_chain_quarantine(shipment=shipment),
        overall=overall(logs),
        logs=entries,
        excursions=excursions,
        chart=chart,
    )
