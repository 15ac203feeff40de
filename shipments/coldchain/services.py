"""Importing a logger's export against a shipment, what follows from the excursions it shows, and sponsor QA's
decision on the goods.

`temperature_log_import` is the one way in for the pages, the API and `manage.py import_temperature_log`: it checks
who may upload and when, reads and analyses the file before taking any lock, then stores the log, its readings and
its excursions, writes the audit event and calls `excursions_detected`, all in one transaction. A file that cannot
be read stores nothing.

`excursions_detected` puts the goods in quarantine: delivery is refused (shipments.guards) until
`coldchain_disposition_record` stores sponsor QA's signed release, rejection or order to destroy them."""

from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from documents.choices import SignatureMeaning
from documents.signatures import WrongPassword, signature_create, signer_verify
from documents.uploads import display_name
from ior_platform.core.audit import record_event
from ior_platform.core.errors import ConflictError, NotPermitted, TransitionRefused
from parties.webhooks import webhooks_emit_excursions
from shipments.choices import (
    DISPOSITION_OUTCOMES,
    GOODS_MOVING_STATUSES,
    DispositionDecision,
    QuarantineStatus,
    ShipmentStatus,
)
from shipments.coldchain.analysis import Analysis, analyse
from shipments.coldchain.parsing import LogFormatError, ParsedLog, parse_logger_file
from shipments.coldchain.selectors import cold_chain_summary
from shipments.models import ColdChainDisposition, Excursion, Shipment, TemperatureLog, TemperatureSeries
from shipments.rules import refusal
from shipments.tasks import notify_cold_chain_event

# A logger is started at pack-out, after approval; its record is filed on the way or once the goods are in.
OPEN_FOR_TEMPERATURE_LOGS = GOODS_MOVING_STATUSES
EXCURSION_BATCH = 1000
Q = QuarantineStatus
# A new excursion re-opens a quarantine after a release (new data, new decision), but not once the goods were
# rejected or are to be destroyed: that decision stands, and a destroyed consignment holds nothing to decide on.
QUARANTINE_OPENS_FROM = frozenset({Q.NONE, Q.RELEASED})
DISPOSITION_MEANINGS = {
    DispositionDecision.RELEASE: SignatureMeaning.COLD_CHAIN_RELEASE,
    DispositionDecision.REJECT: SignatureMeaning.COLD_CHAIN_REJECT,
    DispositionDecision.DESTROY: SignatureMeaning.COLD_CHAIN_DESTROY,
}
REASON_MAX_LENGTH = 2000


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
    *, actor, shipment: Shipment, logger_serial: str | None, uploaded_file, tz: str | tzinfo | None = "UTC"
) -> TemperatureLog:
    """Store `uploaded_file` as the record of logger `logger_serial` in `shipment`, with its analysis against the
    shipment's temperature range and one Excursion per interval out of it.

    `actor` is the uploading user (a party to the shipment, see shipments.rules); None is the platform itself, for
    an operator's command-line import. `logger_serial` None takes the serial the file itself names (a preamble's
    "Serial Number:", TOA5's logger serial) from the import's one reading of the file. `tz` is the zone of times
    written without an offset. Raises Shipment.DoesNotExist for a shipment the actor may not see, NotPermitted,
    TransitionRefused while the shipment takes no logs, ValidationError on the file (with its line) or the inputs,
    ConflictError for a file already imported into the shipment."""
    serial = None if logger_serial is None else _logger_serial(logger_serial)
    zone = time_zone(tz)
    visible = Shipment.objects.all() if actor is None else Shipment.objects.for_user(actor)
    if not visible.filter(pk=shipment.pk).exists():
        raise Shipment.DoesNotExist(f"No shipment {shipment.reference}")
    if actor is not None:
        _refuse_actor(actor, shipment)
    _refuse_status(shipment)
    # Reading a large file takes a moment: it happens before any lock is taken.
    parsed = read_logger_file(uploaded_file, tz=zone)
    if serial is None:
        serial = " ".join(parsed.serial.split())
        if not serial:
            raise ValidationError({"logger_serial": "The file does not name its logger: give its serial number."})
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


def _logger_serial(text: str) -> str:
    serial = " ".join(text.split())
    if not serial:
        raise ValidationError({"logger_serial": "Give the logger's serial number."})
    if len(serial) > 64:
        raise ValidationError({"logger_serial": "A serial number has at most 64 characters."})
    return serial


def read_logger_file(uploaded_file, *, tz: tzinfo) -> ParsedLog:
    """The parsed file, or a ValidationError on "file" that names the line at fault."""
    try:
        return parse_logger_file(uploaded_file, tz=tz)
    except LogFormatError as exc:
        raise ValidationError({"file": str(exc)}) from None


def excursions_detected(shipment: Shipment, excursions: list[Excursion], *, actor=None) -> None:
    """What an excursion sets off. Called by temperature_log_import inside its transaction, with the shipment's row
    locked and the excursions saved, once per imported log that has any.

    Every excursion puts the goods in quarantine, whatever the budget: Good Distribution Practice has each one
    reported and the goods held until someone accountable has assessed it, and the budget is what that assessment
    weighs, not a licence to skip it. One audit event records the excursions, the shipment's running total against
    its budget and the quarantine; webhooks are written in this transaction and the sponsor, the consignee and the
    IOR are notified after it commits, so a rolled-back import tells nobody anything."""
    summary = cold_chain_summary(shipment=shipment)
    changes = {
        "logger_serial": [None, excursions[0].log.logger_serial],
        "excursions": [None, [_describe(e) for e in excursions[:50]]],
        "excursion_count": [None, len(excursions)],
        "shipment_minutes_out_of_range": [None, round(summary.minutes_out_of_range, 2)],
        "excursion_budget_minutes": [None, summary.excursion_budget_minutes],
        "budget_exceeded": [None, summary.budget_exceeded],
    }
    reason = ""
    if shipment.quarantine_status in QUARANTINE_OPENS_FROM and shipment.status != ShipmentStatus.DESTROYED:
        now = timezone.now()
        changes["quarantine_status"] = [shipment.quarantine_status, Q.QUARANTINED]
        changes["quarantined_at"] = [shipment.quarantined_at, now]
        shipment.quarantine_status, shipment.quarantined_at = Q.QUARANTINED, now
        Shipment.objects.filter(pk=shipment.pk).update(
            quarantine_status=Q.QUARANTINED, quarantined_at=now, updated_at=now
        )
        reason = "goods in quarantine until sponsor QA records a disposition"
    event = record_event(
        actor=actor,
        action="temperature_log.excursions_detected",
        target=excursions[0].log,
        changes=changes,
        reason=reason,
        shipment=shipment,
    )
    webhooks_emit_excursions(shipment=shipment, excursions=excursions)
    notify_cold_chain_event.delay_on_commit(event.pk)


def disposition_manifest(shipment: Shipment, *, decision: str, reason: str, summary=None) -> dict:
    """What sponsor QA signs: the shipment's range and budget, every log (by its file's hash) and every excursion on
    record, the time out of range, and the decision with its reason. Built from the database, in the deciding
    transaction."""
    summary = summary or cold_chain_summary(shipment=shipment)
    logs = TemperatureLog.objects.filter(shipment=shipment).order_by("first_reading_at", "id")
    excursions = Excursion.objects.filter(shipment=shipment).order_by("started_at", "id")
    return {
        "shipment": {
            "reference": shipment.reference,
            "temperature_class": shipment.temperature_class,
            "temperature_range": str(shipment.temperature_range),
            "excursion_budget_minutes": summary.excursion_budget_minutes,
        },
        "quarantined_at": shipment.quarantined_at,
        "logs": [
            {"id": log.pk, "logger_serial": log.logger_serial, "sha256": log.sha256, "readings": log.reading_count}
            for log in logs.only("id", "logger_serial", "sha256", "reading_count")
        ],
        "excursions": [
            {
                "id": e.pk,
                "log": e.log_id,
                "direction": e.direction,
                "started_at": e.started_at,
                "ended_at": e.ended_at,
                "minutes": round(e.duration_minutes, 2),
                "peak": e.peak_temperature,
            }
            for e in excursions
        ],
        "minutes_out_of_range": round(summary.minutes_out_of_range, 2),
        "decision": decision,
        "reason": reason,
    }


def _disposition_refusal(actor, shipment: Shipment) -> None:
    denied = refusal(shipment, actor, "record_disposition")
    if denied:
        raise NotPermitted(denied)
    if shipment.quarantine_status != Q.QUARANTINED:
        raise TransitionRefused(
            f"{shipment.reference} has no goods in quarantine awaiting a disposition; they are "
            f"{shipment.get_quarantine_status_display().lower()}"
        )


def coldchain_disposition_record(
    *, actor, shipment: Shipment, decision: str, reason: str, password: str
) -> ColdChainDisposition:
    """Sponsor QA decides on goods in quarantine after a temperature excursion: release them (delivery may then be
    confirmed), reject them (they go back to origin) or have them destroyed, with a reason and an electronic
    signature (the password re-entered) over the excursion record.

    Raises Shipment.DoesNotExist for a shipment the actor may not see, ValidationError on the inputs, NotPermitted
    for anyone but QA staff of the sponsor itself (and for a wrong password, as WrongPassword, or a signing lock-out),
    TransitionRefused when no quarantine awaits a decision (also when another QA user decided meanwhile)."""
    reason = (reason or "").strip()
    errors = {}
    if decision not in DispositionDecision.values:
        errors["decision"] = f"Choose one of {', '.join(DispositionDecision.values)}."
    if not reason:
        errors["reason"] = "Say why: the reason is printed with your signature."
    elif len(reason) > REASON_MAX_LENGTH:
        errors["reason"] = f"At most {REASON_MAX_LENGTH} characters."
    if errors:
        raise ValidationError(errors)
    try:
        visible = Shipment.objects.for_user(actor).get(pk=shipment.pk)
    except Shipment.DoesNotExist:
        raise Shipment.DoesNotExist(f"No shipment {shipment.reference}") from None
    _disposition_refusal(actor, visible)
    # Checked before the deciding transaction, so a wrong password counts towards the lock-out although nothing
    # else is recorded.
    try:
        signer_verify(actor=actor, password=password)
    except WrongPassword:
        raise WrongPassword("the password is not correct; the disposition was not recorded") from None
    try:
        with transaction.atomic():
            locked = Shipment.objects.for_user(actor).select_for_update().get(pk=shipment.pk)
            _disposition_refusal(actor, locked)
            return _record(actor, locked, decision, reason)
    except IntegrityError:
        # Only the unique (shipment, quarantine) constraint can fail here: another decision won the race.
        raise TransitionRefused(f"the goods of {shipment.reference} were decided on meanwhile; reload") from None


def _record(actor, shipment: Shipment, decision: str, reason: str) -> ColdChainDisposition:
    summary = cold_chain_summary(shipment=shipment)
    signature = signature_create(
        actor=actor,
        shipment=shipment,
        meaning=DISPOSITION_MEANINGS[decision],
        comment=reason,
        manifest=disposition_manifest(shipment, decision=decision, reason=reason, summary=summary),
    )
    disposition = ColdChainDisposition.objects.create(
        shipment=shipment,
        decision=decision,
        reason=reason,
        decided_by=actor,
        decided_at=signature.signed_at,
        quarantined_at=shipment.quarantined_at,
        excursion_count=summary.excursion_count,
        minutes_out_of_range=summary.minutes_out_of_range,
        signature=signature,
    )
    before = shipment.quarantine_status
    shipment.quarantine_status = DISPOSITION_OUTCOMES[decision]
    shipment.updated_at = timezone.now()
    Shipment.objects.filter(pk=shipment.pk).update(
        quarantine_status=shipment.quarantine_status, updated_at=shipment.updated_at
    )
    event = record_event(
        actor=actor,
        action="cold_chain.disposition_recorded",
        target=disposition,
        changes={
            "decision": [None, decision],
            "quarantine_status": [before, shipment.quarantine_status],
            "excursion_count": [None, disposition.excursion_count],
            "minutes_out_of_range": [None, round(disposition.minutes_out_of_range, 2)],
            "signature": [None, signature.pk],
            "manifest_sha256": [None, signature.manifest_sha256],
        },
        reason=reason,
        shipment=shipment,
    )
    notify_cold_chain_event.delay_on_commit(event.pk)
    return disposition


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
