"""Writes to the document checklist: creating it at submission, uploading versions, reviewing them."""

import hashlib
import logging
import tempfile
from typing import IO

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from compliance.selectors import required_documents
from documents import uploads
from documents.choices import DocumentStatus, ReviewDecision
from documents.models import Document, DocumentVersion
from ior_platform.core.audit import record_event
from ior_platform.core.errors import ConflictError, NotPermitted, TransitionRefused
from parties.choices import PartyRole
from parties.webhooks import webhooks_emit_document_reviewed, webhooks_emit_documents_requested
from shipments.choices import ShipmentStatus
from shipments.models import Shipment
from shipments.rules import parties_of, refusal

logger = logging.getLogger(__name__)

# Checklist documents may be uploaded and reviewed only while the dossier is being put together or read.
OPEN_FOR_DOCUMENTS = {ShipmentStatus.PERMIT_COLLECTION, ShipmentStatus.DOSSIER_REVIEW}
VERIFIED_COPY_IN_MEMORY_BYTES = 1024 * 1024


def _owing_organization(shipment, role: str):
    if role == PartyRole.CRO:
        return shipment.sponsor
    return (
        getattr(shipment, role, None) if role in {"sponsor", "ior", "eor", "consignee", "broker", "courier"} else None
    )


def checklist_create(*, shipment) -> list[Document]:
    """Snapshot the documents the route requires into the shipment's checklist (called by shipment_submit).
    Later edits of the requirements do not rewrite it."""
    categories = set(shipment.items.values_list("category", flat=True))
    required = required_documents(
        origin=shipment.origin_country,
        destination=shipment.destination_country,
        route_kind=shipment.route_kind,
        categories=categories,
        temperature_class=shipment.temperature_class,
        declared_value=shipment.declared_value,
        currency=shipment.currency,
    )
    existing = set(shipment.documents.values_list("side", "document_type"))
    documents = [
        Document(
            shipment=shipment,
            requirement_id=req.requirement_id,
            side=req.side,
            document_type=req.document_type,
            title=req.local_title,
            owed_by_role=req.provided_by,
            owed_by=_owing_organization(shipment, req.provided_by),
            due_date=req.due_date(shipment.planned_ship_date),
            lead_time_days=req.lead_time_days,
            validity_days=req.validity_days,
            legal_basis=req.legal_basis,
            source=req.source,
        )
        for req in required
        if (req.side, req.document_type) not in existing
    ]
    created = Document.objects.bulk_create(documents)
    webhooks_emit_documents_requested(documents=created)
    return created


def _lock_open_shipment(actor, document: Document, verb: str):
    """Lock the document's shipment and check, on the fresh row, that its documents are open: a caller holding an
    old copy must not slip an upload or a review in after the dossier has moved on."""
    shipment = Shipment.objects.for_user(actor).select_for_update().get(pk=document.shipment_id)
    if shipment.status not in OPEN_FOR_DOCUMENTS:
        raise TransitionRefused(
            f"documents can be {verb} only during permit collection or dossier review; "
            f"this shipment is {shipment.get_status_display().lower()}"
        )
    return shipment


def _may_upload(actor, document) -> bool:
    parts = parties_of(document.shipment, actor)
    owes = document.owed_by_id is not None and document.owed_by_id == actor.organization_id
    return (
        owes
        or PartyRole.IOR in parts
        or (document.owed_by_role in {PartyRole.SPONSOR, PartyRole.CRO} and PartyRole.SPONSOR in parts)
    )


def document_version_upload(*, actor, document: Document, uploaded_file) -> DocumentVersion:
    """Store a new version of a checklist document. A new version never replaces an old one, and resets the review.
    The content type is read from the bytes; the uploader's file name is kept for display only."""
    shipment = document.shipment
    if not _may_upload(actor, document) or not actor.has_member_role("editor", "reviewer", "manager"):
        raise NotPermitted("only the party that owes this document, or the importer of record, may upload it")
    original_name = uploads.display_name(uploaded_file.name)
    inspected = uploads.inspect_upload(uploaded_file, name=original_name, max_bytes=settings.DOCUMENT_UPLOAD_MAX_BYTES)
    version = DocumentVersion(
        original_name=original_name,
        size=inspected.size,
        content_type=inspected.content_type,
        sha256=inspected.sha256,
        uploaded_by=actor,
    )
    try:
        with transaction.atomic():
            shipment = _lock_open_shipment(actor, document, "uploaded")
            locked = Document.objects.select_for_update().get(pk=document.pk)
            version.document = locked
            version.number = (locked.versions.aggregate(n=Max("number"))["n"] or 0) + 1
            version.file.save("upload", uploaded_file, save=False)
            version.save()
            old_status = locked.status
            locked.status = DocumentStatus.UPLOADED
            locked.save(update_fields=["status", "updated_at"])
            record_event(
                actor=actor,
                action="document.version_uploaded",
                target=version,
                changes={
                    "status": [old_status, locked.status],
                    "sha256": [None, version.sha256],
                    "size": [None, version.size],
                    "content_type": [None, version.content_type],
                },
                shipment=shipment,
            )
    except Exception:
        # The file is written before the rows commit; without its rows it must not stay behind.
        if version.file.name:
            version.file.storage.delete(version.file.name)
        raise
    document.refresh_from_db()
    return version


class DocumentTampered(ConflictError):
    """A stored file no longer matches the size and SHA-256 recorded when it was uploaded."""


def document_version_open(*, user, version: DocumentVersion) -> tuple[IO[bytes], str, str]:
    """The stored bytes of a version, checked against its record, as (file, content type, download name).

    The bytes are copied while they are hashed and the copy is what the caller sends, so a file changed after the
    check cannot be served as verified. A mismatch is audited in its own transaction before DocumentTampered is
    raised: call this outside a transaction, or the record of the failure is rolled back with the error."""
    version = DocumentVersion.objects.for_user(user).select_related("document").get(pk=version.pk)
    copy = tempfile.SpooledTemporaryFile(max_size=VERIFIED_COPY_IN_MEMORY_BYTES)  # noqa: SIM115 - the caller's to close
    try:
        size, sha256 = _copy_stored_file(version, copy)
    except BaseException:
        copy.close()
        raise
    if size is None:
        problem = "the stored file is missing"
    elif size != version.size:
        problem = f"the stored file is not {version.size} bytes long"
    elif sha256 != version.sha256:
        problem = "the stored file's SHA-256 differs from the one recorded at upload"
    else:
        copy.seek(0)
        return copy, version.content_type, uploads.download_name(version.original_name, version.content_type)
    copy.close()
    _record_integrity_failure(user, version, problem, size=size, sha256=sha256)
    raise DocumentTampered(
        f"version {version.number} of {version.document.label} does not match what was uploaded: {problem}. "
        "It is withheld and the failure has been recorded"
    )


def _copy_stored_file(version: DocumentVersion, copy) -> tuple[int | None, str | None]:
    """Size and SHA-256 of the stored file, copied into `copy`; (None, None) when it is gone. Stops one chunk past
    the recorded size: a file grown beyond it is wrong however it ends."""
    digest = hashlib.sha256()
    size = 0
    try:
        with version.file.open("rb") as stored:
            for chunk in stored.chunks():
                size += len(chunk)
                digest.update(chunk)
                if size > version.size:
                    return version.file.storage.size(version.file.name), None
                copy.write(chunk)
    except FileNotFoundError:
        return None, None
    return size, digest.hexdigest()


def _record_integrity_failure(user, version: DocumentVersion, problem: str, *, size, sha256) -> None:
    logger.error("Integrity failure of document version %s (%s): %s", version.pk, version.file.name, problem)
    with transaction.atomic():
        shipment = Shipment.objects.select_for_update().get(pk=version.document.shipment_id)
        record_event(
            actor=user,
            action="document.integrity_failure",
            target=version,
            changes={"size": [version.size, size], "sha256": [version.sha256, sha256]},
            reason=problem,
            shipment=shipment,
        )


def document_review(*, actor, version: DocumentVersion, decision: str, comment: str = "") -> DocumentVersion:
    """An IOR reviewer approves or rejects the newest version of a checklist document."""
    document = version.document
    shipment = document.shipment
    denied = refusal(shipment, actor, "review_document")
    if denied:
        raise NotPermitted(denied)
    if decision not in ReviewDecision.values:
        raise ValidationError({"decision": f"Choose one of: {', '.join(ReviewDecision.values)}."})
    if decision == ReviewDecision.REJECTED and not comment.strip():
        raise ValidationError({"comment": "Say why the document is rejected, so the owing party can fix it."})
    with transaction.atomic():
        shipment = _lock_open_shipment(actor, document, "reviewed")
        locked = DocumentVersion.objects.select_for_update().get(pk=version.pk)
        newest = locked.document.versions.order_by("-number").values_list("pk", flat=True).first()
        if newest != locked.pk:
            raise TransitionRefused("a newer version of this document was uploaded; review that one")
        if locked.review_decision:
            raise TransitionRefused(f"this version was already {locked.get_review_decision_display().lower()}")
        locked.review_decision = decision
        locked.reviewed_by = actor
        locked.reviewed_at = timezone.now()
        locked.review_comment = comment.strip()
        locked.save(update_fields=["review_decision", "reviewed_by", "reviewed_at", "review_comment"])
        doc = locked.document
        old_status = doc.status
        doc.status = DocumentStatus.APPROVED if decision == ReviewDecision.APPROVED else DocumentStatus.REJECTED
        doc.save(update_fields=["status", "updated_at"])
        record_event(
            actor=actor,
            action=f"document.{decision}",
            target=locked,
            changes={"status": [old_status, doc.status]},
            reason=locked.review_comment,
            shipment=shipment,
        )
        webhooks_emit_document_reviewed(document=doc)
    return locked


def documents_expire_lapsed(*, today=None) -> int:
    """Mark approved documents whose validity has run out as expired; an expired one is not touched again."""
    today = today or timezone.localdate()
    expired = 0
    lapsed_ids = list(
        Document.objects.filter(status=DocumentStatus.APPROVED, valid_until__lt=today).values_list("pk", flat=True)
    )
    for pk in lapsed_ids:
        with transaction.atomic():
            # Claimed by a conditional UPDATE, so two sweeps at once expire (and audit) each document once.
            if not Document.objects.filter(pk=pk, status=DocumentStatus.APPROVED).update(
                status=DocumentStatus.EXPIRED, updated_at=timezone.now()
            ):
                continue
            document = Document.objects.select_related("shipment").get(pk=pk)
            record_event(
                actor=None,
                action="document.expired",
                target=document,
                changes={"status": [DocumentStatus.APPROVED, DocumentStatus.EXPIRED]},
                reason=f"valid until {document.valid_until:%Y-%m-%d}",
                shipment=document.shipment,
            )
            expired += 1
    return expired
