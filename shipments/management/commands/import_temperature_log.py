from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.management.base import BaseCommand, CommandError

from ior_platform.core.errors import DomainError
from parties.models import User
from shipments.choices import QuarantineStatus
from shipments.coldchain.selectors import cold_chain_summary
from shipments.coldchain.services import temperature_log_import
from shipments.models import Shipment


class Command(BaseCommand):
    help = "Import a temperature logger's export (CSV or TOA5) into a shipment and print its analysis and excursions."

    def add_arguments(self, parser):
        parser.add_argument("reference", help="The shipment reference, e.g. SHP-2603-4F2A1C.")
        parser.add_argument("file", type=Path, help="The logger's export.")
        parser.add_argument("--serial", help="The logger's serial number; default: the one the file names.")
        parser.add_argument("--tz", default="UTC", help="Zone of times written without an offset (default UTC).")
        parser.add_argument(
            "--as",
            dest="as_user",
            help="Import as this user (their rights apply); default: the platform itself, recorded as 'system'.",
        )

    def handle(self, *args, reference, file: Path, serial=None, tz="UTC", as_user=None, **options):
        actor = None
        if as_user:
            actor = User.objects.filter(username=as_user, is_active=True).first()
            if actor is None:
                raise CommandError(f"no active user {as_user!r}")
        shipment = Shipment.objects.filter(reference=reference).first()
        if shipment is None:
            raise CommandError(f"no shipment {reference}")
        try:
            handle = file.open("rb")
        except OSError as exc:
            raise CommandError(f"cannot read {file}: {exc.strerror or exc}") from None
        with handle:
            try:
                log = temperature_log_import(
                    actor=actor,
                    shipment=shipment,
                    logger_serial=serial or None,  # None: the serial the file names, from the import's own reading
                    uploaded_file=File(handle, name=file.name),
                    tz=tz,
                )
            except Shipment.DoesNotExist:
                raise CommandError(f"no shipment {reference}") from None
            except ValidationError as exc:
                messages = exc.message_dict if hasattr(exc, "error_dict") else {"": exc.messages}
                if not serial and "logger_serial" in messages:
                    raise CommandError(f"{file.name} does not name its logger; give --serial") from None
                text = "; ".join(f"{name}: {' '.join(m)}" if name else " ".join(m) for name, m in messages.items())
                raise CommandError(" ".join(text.split())) from None
            except DomainError as exc:
                raise CommandError(str(exc)) from None
        self._print(log, cold_chain_summary(shipment=log.shipment))

    def _print(self, log, summary) -> None:
        write = self.stdout.write
        write(
            f"{log.shipment.reference}: logger {log.logger_serial}, {log.reading_count:,} readings from "
            f"{log.first_reading_at:%Y-%m-%d %H:%M} to {log.last_reading_at:%Y-%m-%d %H:%M} UTC "
            f"({log.shipment.get_temperature_class_display()}, range {log.temperature_range})"
        )
        write(
            f"min {log.min_temperature:.2f} °C  max {log.max_temperature:.2f} °C  mean {log.mean_temperature:.2f} °C  "
            f"MKT {log.mean_kinetic_temperature:.2f} °C (ΔH {log.delta_h:g} kJ/mol)"
        )
        write(f"above range {log.minutes_above:g} min, below range {log.minutes_below:g} min")
        excursions = list(log.excursions.order_by("started_at"))
        write(f"{len(excursions)} excursion{'s' if len(excursions) != 1 else ''}" + (":" if excursions else ""))
        for excursion in excursions:
            open_end = " (the log ends out of range)" if excursion.ends_with_log else ""
            write(
                f"  {excursion.direction} {excursion.started_at:%Y-%m-%d %H:%M:%S} to "
                f"{excursion.ended_at:%Y-%m-%d %H:%M:%S} UTC, {excursion.duration_minutes:g} min, "
                f"peak {excursion.peak_temperature:.2f} °C{open_end}"
            )
        state = "over budget" if summary.budget_exceeded else "within budget"
        write(
            f"shipment {log.shipment.reference}: {summary.minutes_out_of_range:g} min out of range over "
            f"{summary.log_count} log{'s' if summary.log_count != 1 else ''}, budget "
            f"{summary.excursion_budget_minutes} min ({state})"
        )
        shipment = Shipment.objects.get(pk=log.shipment_id)
        if shipment.quarantine_status == QuarantineStatus.QUARANTINED:
            write(
                f"goods in quarantine since {shipment.quarantined_at:%Y-%m-%d %H:%M} UTC: delivery is refused until "
                "sponsor QA records a disposition"
            )
