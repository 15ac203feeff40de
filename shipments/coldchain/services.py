"""Importing a logger's export against a shipment, and what follows from the excursions it shows.

`temperature_log_import` is the one way in for the pages, the API and `manage.py import_temperature_log`: it checks
who may upload and when, reads and analyses the file before taking any lock, then stores the log, its readings and
its excursions, writes the audit event and calls `excursions_detected`, all in one transaction. A file that cannot
be read stores nothing."""

from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.core.exceptions import ValidationError
from django.db import transaction

from documents.uploads import display_name
from ior_platform.core.audit import record_event
from ior_platform.core.errors import ConflictError, NotPermitted, TransitionRefused
from shipments.choices import ShipmentStatus
from shipments.coldchain.analysis import Analysis, analyse
from shipments.coldchain.parsing import LogFormatError, ParsedLog, parse_logger_file
from shipments.coldchain.selectors import cold_chain_summary
from shipments.models import Excursion, Shipment, TemperatureLog, TemperatureSeries
from shipments.rules import refusal

S = ShipmentStatus
# A logger is started at pack-out, after approval; its record is filed on the way or once the goods are in.
OPEN_FOR_TEMPERATURE_LOGS = frozenset(
    {
        S.APPROVED,
        S.EXPORT_CLEARED,
        S.IN_TRANSIT,
        S.CUSTOMS_CLEARANCE,
        S.CUSTOMS_HOLD,
        S.CLEARED,
        S.OUT_FOR_DELIVERY,
        S.DELIVERED,
        S.RETURNED,
        S.DESTROYED,
    }
)
EXCURSION_BATCH = 1000


def time_zone(name: str | tzinfo | None) -> tzinfo:
    """The zone of times a logger wrote without an offset: an IANA name ("Europe/Berlin"), default UTC."""
    if name is None or name == "":
        return UTC
    if isinstance(name, tzinfo):
        return name
    if name.upper() in ("UTC", "Z", "GMT"):
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationError({"timezone": f"{name!r} is not a time zone name such as 'Europe/Berlin'."}) from None


def _refuse_status(shipment: Shipment) -> None:
    if shipment.status not in OPEN_FOR_TEMPERATURE_LOGS:
        raise TransitionRefused(
            "temperature logs can be uploaded once the shipment is approved and until it is closed; this shipment "
            f"is {shipment.get_status_display().lower()}"
        )


def _refuse_actor(actor, shipment: Shipment) -> None:
    denied = refusal(shipment, actor, "upload_temperature_log")
    if denied:
        raise NotPermitted(denied)


def temperature_log_import(
    *, actor, shipment: Shipment, logger_serial: str, uploaded_file, tz: str | tzinfo | None = "UTC"
) -> TemperatureLog:
    """Store `uploaded_file` as the record of logger `logger_serial` in `shipment`, with its analysis against the
    shipment's temperature range and one Excursion per interval out of it.

    `actor` is the uploading user (a party to the shipment, see shipments.rules); None is the platform itself, for
    an operator's command-line import. `tz` is the zone of times written without an offset. Raises
    Shipment.DoesNotExist for a shipment the actor may not see, NotPermitted, TransitionRefused while the shipment
    takes no logs, ValidationError on the file (with its line) or the inputs, ConflictError for a file already
    imported into the shipment."""
    serial = " ".join((logger_serial or "").split())
    if not serial:
        raise ValidationError({"logger_serial": "Give the logger's serial number."})
    if len(serial) > 64:
        raise ValidationError({"logger_serial": "A serial number has at most 64 characters."})
    zone = time_zone(tz)
    visible = Shipment.objects.all() if actor is None else Shipment.objects.for_user(actor)
    if not visible.filter(pk=shipment.pk).exists():
        raise Shipment.DoesNotExist(f"No shipment {shipment.reference}")
    if actor is not None:
        _refuse_actor(actor, shipment)
    _refuse_status(shipment)
    # Reading a large file takes a moment: it happens before any lock is taken.
    parsed = read_logger_file(uploaded_file, tz=zone)
    original_name = display_name(getattr(uploaded_file, "name", "") or "logger.csv")
    log = None
    try:
        with transaction.atomic():
            locked = visible.select_for_update().get(pk=shipment.pk)
            if actor is not None:
                _refuse_actor(actor, locked)
            _refuse_status(locked)
            earlier = TemperatureLog.objects.filter(shipment=locked, sha256=parsed.sha256).first()
            if earlier is not None:
                raise ConflictError(
                    f"this file was already imported into {locked.reference} as the log of logger "
                    f"{earlier.logger_serial} on {earlier.uploaded_at:%Y-%m-%d %H:%M} UTC"
                )
            analysis = analyse(parsed.times, parsed.temperatures, temperature_range=locked.temperature_range)
            log = _log(locked, actor, serial, original_name, parsed, analysis, zone)
            if hasattr(uploaded_file, "seek"):
                uploaded_file.seek(0)
            log.file.save("logger-export.csv", uploaded_file, save=False)
            log.save()
            TemperatureSeries.pack(log, parsed.times, parsed.temperatures).save(force_insert=True)
            excursions = Excursion.objects.bulk_create(
                [_excursion(locked, log, span) for span in analysis.excursions], batch_size=EXCURSION_BATCH
            )
            record_event(
                actor=actor,
                action="temperature_log.imported",
                target=log,
                changes={
                    "logger_serial": [None, log.logger_serial],
                    "sha256": [None, log.sha256],
                    "reading_count": [None, log.reading_count],
                    "first_reading_at": [None, log.first_reading_at],
                    "last_reading_at": [None, log.last_reading_at],
                    "mean_kinetic_temperature": [None, round(log.mean_kinetic_temperature, 3)],
                    "minutes_above": [None, round(log.minutes_above, 2)],
                    "minutes_below": [None, round(log.minutes_below, 2)],
                    "excursions": [None, len(excursions)],
                },
                shipment=locked,
            )
            if excursions:
                excursions_detected(locked, excursions, actor=actor)
    except Exception:
        # The file is written before the rows commit; without its rows it must not stay behind.
        if log is not None and log.file.name:
            log.file.storage.delete(log.file.name)
        raise
    return log


def read_logger_file(uploaded_file, *, tz: tzinfo) -> ParsedLog:
    """The parsed file, or a ValidationError on "file" that names the line at fault."""
    try:
        return parse_logger_file(uploaded_file, tz=tz)
    except LogFormatError as exc:
        raise ValidationError({"file": str(exc)}) from None


def excursions_detected(shipment: Shipment, excursions: list[Excursion], *, actor=None) -> None:
    """What an excursion sets off. Called by temperature_log_import inside its transaction, with the shipment's row
    locked and the excursions saved, once per imported log that has any.

    For now it records them on the shipment's audit trail with the shipment's running total against its budget.
    This is where quarantine (refusing delivery until a signed disposition) belongs, in the same transaction, and
    the notification of the sponsor and the consignee, dispatched with delay_on_commit."""
    summary = cold_chain_summary(shipment=shipment)
    record_event(
        actor=actor,
        action="temperature_log.excursions_detected",
        target=excursions[0].log,
        changes={
            "excursions": [None, [_describe(e) for e in excursions[:50]]],
            "excursion_count": [None, len(excursions)],
            "shipment_minutes_out_of_range": [None, round(summary.minutes_out_of_range, 2)],
            "excursion_budget_minutes": [None, summary.excursion_budget_minutes],
            "budget_exceeded": [None, summary.budget_exceeded],
        },
        shipment=shipment,
    )


def _describe(excursion: Excursion) -> dict:
    return {
        "id": excursion.pk,
        "direction": excursion.direction,
        "started_at": excursion.started_at,
        "ended_at": excursion.ended_at,
        "minutes": round(excursion.duration_minutes, 2),
        "peak": excursion.peak_temperature,
    }


def _moment(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


def _log(shipment, actor, serial, original_name, parsed: ParsedLog, analysis: Analysis, zone) -> TemperatureLog:
    return TemperatureLog(
        shipment=shipment,
        logger_serial=serial,
        original_name=original_name,
        size=parsed.size,
        sha256=parsed.sha256,
        layout=parsed.layout,
        source_details={**parsed.details, "serial_in_file": parsed.serial, "timezone_given": str(zone)},
        uploaded_by=actor,
        reading_count=analysis.reading_count,
        first_reading_at=_moment(analysis.first),
        last_reading_at=_moment(analysis.last),
        range_low=analysis.temperature_range.low,
        range_high=analysis.temperature_range.high,
        min_temperature=analysis.minimum,
        max_temperature=analysis.maximum,
        mean_temperature=analysis.mean,
        mean_kinetic_temperature=analysis.mean_kinetic_temperature,
        delta_h=analysis.delta_h,
        minutes_above=analysis.minutes_above,
        minutes_below=analysis.minutes_below,
    )


def _excursion(shipment, log, span) -> Excursion:
    return Excursion(
        shipment=shipment,
        log=log,
        direction=span.direction,
        started_at=_moment(span.start),
        ended_at=_moment(span.end),
        duration_minutes=span.minutes,
        peak_temperature=span.peak,
        ends_with_log=span.ends_with_log,
    )
