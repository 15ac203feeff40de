import os
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from documents.choices import ArtifactStatus
from documents.dossier import dossier_render, dossier_request_system
from shipments.models import Shipment


class Command(BaseCommand):
    help = "Render a shipment's dossier now, store it as a new artifact and write the PDF to a file."

    def add_arguments(self, parser):
        parser.add_argument("reference", help="The shipment reference, e.g. SHP-2026-0001.")
        parser.add_argument("--output", "-o", required=True, help="Where to write the PDF.")

    def handle(self, *args, reference: str, output: str, **options):
        try:
            shipment = Shipment.objects.get(reference=reference)
        except Shipment.DoesNotExist:
            raise CommandError(f"no shipment {reference}") from None
        target = Path(output)
        # Checked before rendering so a typo in the path does not cost a rendering and leave an orphan artifact.
        if (
            target.is_dir()
            or not os.access(target.parent, os.W_OK)
            or (target.exists() and not os.access(target, os.W_OK))
        ):
            raise CommandError(f"cannot write {output}")
        artifact = dossier_render(artifact_id=dossier_request_system(shipment=shipment).pk)
        if artifact.status != ArtifactStatus.READY:
            raise CommandError(f"rendering artifact {artifact.pk} failed: {artifact.error}")
        with artifact.file.open("rb") as stored:
            content = stored.read()
        try:
            target.write_bytes(content)
        except OSError as exc:
            raise CommandError(f"cannot write {output}: {exc.strerror or exc}") from None
        self.stdout.write(
            f"{shipment.reference}: artifact {artifact.pk}, {artifact.pages} pages, {artifact.size} bytes, "
            f"SHA-256 {artifact.sha256} → {target}"
        )
