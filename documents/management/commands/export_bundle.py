from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from documents.bundle import bundle_json, shipment_bundle
from parties.models import User
from shipments.models import Shipment


class Command(BaseCommand):
    help = "Write a shipment's record (data, document hashes, signatures, audit trail) as one JSON file."

    def add_arguments(self, parser):
        parser.add_argument("reference")
        parser.add_argument("--output", "-o", type=Path, help="File to write; standard output when omitted")
        parser.add_argument("--as-user", help="Export as this user (their visibility applies); default: any superuser")

    def handle(self, reference, output=None, as_user=None, **options):
        user = (
            User.objects.filter(username=as_user).first()
            if as_user
            else User.objects.filter(is_superuser=True, is_active=True).first()
        )
        if user is None:
            raise CommandError(f"no user {as_user!r}" if as_user else "no active superuser to export as; use --as-user")
        shipment = Shipment.objects.filter(reference=reference).first()
        try:
            if shipment is None:
                raise Shipment.DoesNotExist
            text = bundle_json(shipment_bundle(user=user, shipment=shipment))
        except Shipment.DoesNotExist:
            raise CommandError(f"no shipment {reference}") from None
        if output is None:
            self.stdout.write(text)
            return
        try:
            output.write_text(text + "\n", encoding="utf-8")
        except OSError as exc:
            raise CommandError(f"cannot write {output}: {exc.strerror}") from None
        self.stdout.write(f"Wrote {output}")
