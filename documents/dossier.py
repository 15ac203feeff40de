"""The dossier PDF: what a customs officer is handed for one shipment. Each rendering is a DossierArtifact of its own,
stored with its SHA-256 and never changed once ready, so a PDF that was signed or sent stays what it was."""

import hashlib
import logging
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Exists, OuterRef, Prefetch
from django.template.loader import render_to_string
from django.utils import timezone

from compliance.models import CountryProfile
from documents.choices import DOSSIER_SIGNATURE_MEANINGS, ArtifactStatus, DocumentStatus, SignatureMeaning
from documents.manifest import dossier_manifest, manifest_sha256
from documents.models import Document, DocumentVersion, DossierArtifact, ElectronicSignature, artifact_upload_path
from ior_platform.core.audit import record_event, verify_chains
from ior_platform.core.errors import ConflictError
from ior_platform.core.models import AuditEvent
from shipments.coldchain.record import dossier_temperature
from shipments.models import Shipment, TemperatureLog

logger = logging.getLogger(__name__)

TEMPLATE = "documents/pdf/dossier.html"
PARTY_ROLES = (
    ("sponsor", "Sponsor"),
    ("ior", "Importer of record"),
    ("eor", "Exporter of record"),
    ("consignee", "Consignee"),
    ("broker", "Customs broker"),
    ("courier", "Courier"),
)
CHANGE_VALUE_MAX = 80
ERROR_MAX = 1000


class DossierChanged(Exception):
    """The shipment's manifest changed while the PDF was being rendered, so the PDF would not match its footer."""


class DossierIntegrityError(ConflictError):
    """A stored PDF no longer matches the SHA-256 recorded when it was rendered."""


@dataclass(frozen=True)
class ChecklistRow:
    document: Document
    version: DocumentVersion | None


@dataclass(frozen=True)
class SignatureRow:
    signature: ElectronicSignature
    matches: bool


@dataclass(frozen=True)
class TrailRow:
    event: AuditEvent
    changes: list[str]


def _short(value) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, dict) and "label" in value:
        value = value["label"]
    text = str(value)
    return text if len(text) <= CHANGE_VALUE_MAX else text[: CHANGE_VALUE_MAX - 1] + "…"


def _change_lines(changes: dict) -> list[str]:
    """A change reads 'old → new'; values set for the first time (a creation sets a dozen) share one line."""
    changed, first_set = [], []
    for field, values in (changes or {}).items():
        old, new = values if isinstance(values, list) and len(values) == 2 else (None, values)
        label = field.replace("_", " ")
        if old is None or old == "":
            first_set.append(f"{label}: {_short(new)}")
        else:
            changed.append(f"{label}: {_short(old)} → {_short(new)}")
    return changed + (["; ".join(first_set)] if first_set else [])


def dossier_context(shipment: Shipment, *, artifact: DossierArtifact | None = None) -> dict:
    """Everything the print template needs, in a fixed number of queries whatever the size of the shipment.
    The caller has already checked that whoever asked may see the shipment."""
    current = (
        Shipment.objects.with_parties()
        .select_related("site", "return_of")
        .prefetch_related(
            "items",
            "ior__licences",
            Prefetch(
                "documents",
                queryset=Document.objects.select_related("owed_by").prefetch_related(
                    Prefetch("versions", queryset=DocumentVersion.objects.select_related("reviewed_by"))
                ),
            ),
            # Only signatures over the dossier: a QA disposition signs the excursion record, which this manifest
            # does not hold, so it would read as "changed after signing".
            Prefetch(
                "signatures",
                queryset=ElectronicSignature.objects.filter(meaning__in=DOSSIER_SIGNATURE_MEANINGS).order_by(
                    "signed_at", "pk"
                ),
            ),
        )
        # The temperature section reads the logs only when there are any: no query more for a shipment without.
        .annotate(has_temperature_logs=Exists(TemperatureLog.objects.filter(shipment=OuterRef("pk"))))
        .get(pk=shipment.pk)
    )
    manifest_hash = manifest_sha256(dossier_manifest(current))
    destination = current.destination_country
    items = list(current.items.all())
    checklist = [
        ChecklistRow(document, max(document.versions.all(), key=lambda v: v.number, default=None))
        for document in sorted(current.documents.all(), key=lambda d: (d.side, d.due_date, d.document_type))
    ]
    signatures = [SignatureRow(s, s.manifest_sha256 == manifest_hash) for s in current.signatures.all()]
    approval = next(
        (
            row
            for row in reversed(signatures)
            if row.matches and row.signature.is_valid and row.signature.meaning == SignatureMeaning.APPROVED
        ),
        None,
    )
    events = AuditEvent.objects.filter(shipment=current).select_related("organization").order_by("sequence")
    trail = [TrailRow(event, _change_lines(event.changes)) for event in events]
    checked, broken = verify_chains(AuditEvent.objects.filter(chain=f"shipment:{current.pk}"))
    return {
        "shipment": current,
        "artifact": artifact,
        "generated_at": timezone.now(),
        "manifest_sha256": manifest_hash,
        "parties": [(label, party) for name, label in PARTY_ROLES if (party := getattr(current, name))],
        "ior_licences": [
            licence for licence in (current.ior.licences.all() if current.ior else ()) if licence.country == destination
        ],
        "destination_profile": CountryProfile.objects.filter(country=destination).first(),
        "items": items,
        "items_total": sum((item.line_value for item in items), Decimal(0)),
        "checklist": checklist,
        "documents_approved": sum(1 for row in checklist if row.document.status == DocumentStatus.APPROVED),
        "signatures": signatures,
        "valid_signature_count": sum(1 for row in signatures if row.signature.is_valid),
        "approval": approval,
        "trail": trail,
        "chain_checked": checked,
        "chain_broken": broken,
        "temperature": dossier_temperature(current),
    }


def _html(context: dict) -> str:
    return render_to_string(TEMPLATE, context)


def dossier_html(shipment: Shipment, *, artifact: DossierArtifact | None = None) -> str:
    return _html(dossier_context(shipment, artifact=artifact))


def _pdf(html: str):
    # Imported here: WeasyPrint takes seconds to load, and web processes, which never render, import this module.
    import weasyprint

    return weasyprint.HTML(string=html, base_url=str(settings.BASE_DIR)).render()


def _artifact_create(*, actor, shipment: Shipment) -> DossierArtifact:
    """Call inside a transaction that holds the shipment's row lock: the audit chain is extended under it."""
    artifact = DossierArtifact.objects.create(shipment=shipment, requested_by=actor)
    record_event(actor=actor, action="dossier.requested", target=artifact, shipment=shipment)
    return artifact


def dossier_request(*, actor, shipment: Shipment) -> DossierArtifact:
    """Queue a new rendering. Raises Shipment.DoesNotExist when the actor may not see the shipment. A rendering that
    is already stored is never re-rendered in place: every request is a new artifact."""
    from documents.tasks import render_dossier

    with transaction.atomic():
        locked = Shipment.objects.for_user(actor).select_for_update().get(pk=shipment.pk)
        artifact = _artifact_create(actor=actor, shipment=locked)
        render_dossier.delay_on_commit(artifact.pk)
    return artifact


def dossier_request_system(*, shipment: Shipment) -> DossierArtifact:
    """A rendering asked for by an operator on the command line, rendered by the caller rather than a worker."""
    with transaction.atomic():
        locked = Shipment.objects.select_for_update().get(pk=shipment.pk)
        return _artifact_create(actor=None, shipment=locked)


def _progress(artifact_id: int, percent: int) -> None:
    DossierArtifact.objects.filter(pk=artifact_id, status=ArtifactStatus.RENDERING).update(progress=percent)


def dossier_render(*, artifact_id: int) -> DossierArtifact:
    """Render a pending artifact once. A duplicate delivery, or a call for an artifact that is already rendering,
    ready or failed, changes nothing: the conditional UPDATE below is the claim."""
    claimed = DossierArtifact.objects.filter(pk=artifact_id, status=ArtifactStatus.PENDING).update(
        status=ArtifactStatus.RENDERING, progress=10
    )
    artifact = DossierArtifact.objects.select_related("shipment", "requested_by").get(pk=artifact_id)
    if not claimed:
        return artifact
    storage = DossierArtifact._meta.get_field("file").storage
    stored_name = ""
    try:
        context = dossier_context(artifact.shipment, artifact=artifact)
        document = _pdf(_html(context))
        _progress(artifact_id, 60)
        pdf = document.write_pdf()
        _progress(artifact_id, 90)
        if manifest_sha256(dossier_manifest(artifact.shipment)) != context["manifest_sha256"]:
            raise DossierChanged("the shipment changed while its dossier was rendering; request a new rendering")
        digest = hashlib.sha256(pdf).hexdigest()
        stored_name = storage.save(artifact_upload_path(artifact, "dossier.pdf"), ContentFile(pdf))
        with transaction.atomic():
            Shipment.objects.select_for_update().get(pk=artifact.shipment_id)
            finished = DossierArtifact.objects.filter(pk=artifact_id, status=ArtifactStatus.RENDERING).update(
                status=ArtifactStatus.READY,
                progress=100,
                file=stored_name,
                sha256=digest,
                size=len(pdf),
                pages=len(document.pages),
                manifest_sha256=context["manifest_sha256"],
                signature_count=context["valid_signature_count"],
                rendered_at=timezone.now(),
                error="",
            )
            if not finished:
                raise DossierChanged("the rendering was taken over by another process")
            artifact.refresh_from_db()
            # The artifact's hash joins the shipment's hash chain: changing the file and its row together still shows.
            record_event(
                actor=None,
                action="dossier.rendered",
                target=artifact,
                shipment=artifact.shipment,
                changes={
                    "sha256": [None, digest],
                    "pages": [None, len(document.pages)],
                    "manifest_sha256": [None, context["manifest_sha256"]],
                },
            )
    except Exception as exc:
        logger.exception("dossier artifact %s failed to render", artifact_id)
        if stored_name:
            storage.delete(stored_name)
        DossierArtifact.objects.filter(pk=artifact_id, status=ArtifactStatus.RENDERING).update(
            status=ArtifactStatus.FAILED, error=(str(exc) or type(exc).__name__)[:ERROR_MAX]
        )
    artifact.refresh_from_db()
    return artifact


def dossier_artifact_get(*, user, pk: int) -> DossierArtifact:
    """Raises DossierArtifact.DoesNotExist outside the user's view."""
    return DossierArtifact.objects.for_user(user).select_related("shipment").get(pk=pk)


def dossier_download(*, user, artifact: DossierArtifact) -> bytes:
    """The stored PDF, read once and checked against the hash recorded at rendering, so what is served is exactly what
    was checked. Raises DossierArtifact.DoesNotExist outside the user's view or before the artifact is ready."""
    visible = DossierArtifact.objects.for_user(user).get(pk=artifact.pk, status=ArtifactStatus.READY)
    try:
        with visible.file.open("rb") as stored:
            content = stored.read()
    except FileNotFoundError:
        logger.error("dossier artifact %s: stored file %s is missing", visible.pk, visible.file.name)
        raise DossierIntegrityError("the stored dossier file is missing") from None
    if hashlib.sha256(content).hexdigest() != visible.sha256:
        logger.error("dossier artifact %s: stored file does not match its SHA-256", visible.pk)
        raise DossierIntegrityError("the stored dossier file does not match the SHA-256 recorded when it was rendered")
    return content
