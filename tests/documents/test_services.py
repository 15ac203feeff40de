"""Plain uploads and reviews of checklist documents (the full review workflow comes with the documents issue)."""

import hashlib

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile

from documents.choices import DocumentStatus
from documents.models import DocumentVersion
from documents.services import document_review, document_version_upload, documents_expire_lapsed
from ior_platform.core.errors import NotPermitted, TransitionRefused
from ior_platform.core.models import AuditEvent
from shipments import services
from shipments.choices import ShipmentStatus as S
from tests.conftest import days, force_status, pdf_file


@pytest.fixture
def permit(world, requirements):
    shipment = services.shipment_submit(actor=world.alice, shipment=world.shipment())
    return shipment.documents.get(document_type="import_permit")


def test_upload_stores_a_new_version_under_a_generated_name(world, permit):
    upload = pdf_file(name="../../etc/passwd.pdf", body=b"permit 123")
    version = document_version_upload(actor=world.ivan, document=permit, uploaded_file=upload)
    assert version.number == 1
    assert version.original_name == "passwd.pdf"
    assert "passwd" not in version.file.name
    assert ".." not in version.file.name
    stored = version.file.read()
    assert version.sha256 == hashlib.sha256(stored).hexdigest()
    assert version.size == len(stored)
    permit.refresh_from_db()
    assert permit.status == DocumentStatus.UPLOADED
    assert AuditEvent.objects.filter(action="document.version_uploaded", shipment=permit.shipment).count() == 1


def test_a_new_version_never_replaces_the_old_one_and_resets_review(world, permit):
    first = document_version_upload(actor=world.ivan, document=permit, uploaded_file=pdf_file(body=b"v1"))
    document_review(actor=world.rita, version=first, decision="approved")
    with pytest.raises(TransitionRefused, match="already approved"):
        document_review(actor=world.rita, version=first, decision="rejected", comment="second thoughts")
    second = document_version_upload(actor=world.ivan, document=permit, uploaded_file=pdf_file(body=b"v2"))
    permit.refresh_from_db()
    assert (first.number, second.number) == (1, 2)
    assert permit.status == DocumentStatus.UPLOADED
    assert first.sha256 != second.sha256
    assert b"v1" in DocumentVersion.objects.get(pk=first.pk).file.read()
    with pytest.raises(TransitionRefused, match="newer version"):
        document_review(actor=world.rita, version=DocumentVersion.objects.get(pk=first.pk), decision="approved")


def test_empty_and_oversized_files_are_refused_and_nothing_is_stored(world, permit, settings):
    settings.DOCUMENT_UPLOAD_MAX_BYTES = 20
    with pytest.raises(ValidationError, match="empty"):
        document_version_upload(actor=world.ivan, document=permit, uploaded_file=SimpleUploadedFile("a.pdf", b""))
    with pytest.raises(ValidationError, match="larger than 20 bytes"):
        document_version_upload(actor=world.ivan, document=permit, uploaded_file=SimpleUploadedFile("a.pdf", b"x" * 21))
    assert not DocumentVersion.objects.exists()
    permit.refresh_from_db()
    assert permit.status == DocumentStatus.REQUESTED


def test_only_the_owing_party_or_the_ior_uploads(world, permit):
    with pytest.raises(NotPermitted):
        document_version_upload(actor=world.cora, document=permit, uploaded_file=pdf_file())
    with pytest.raises(NotPermitted):
        document_version_upload(actor=world.victor, document=permit, uploaded_file=pdf_file())
    assert not DocumentVersion.objects.exists()


def test_uploads_close_once_the_dossier_is_approved(world, permit):
    force_status(permit.shipment, S.APPROVED)
    permit.refresh_from_db()
    with pytest.raises(TransitionRefused, match="this shipment is approved"):
        document_version_upload(actor=world.ivan, document=permit, uploaded_file=pdf_file())


def test_rejection_needs_a_comment_and_only_reviewers_review(world, permit):
    version = document_version_upload(actor=world.ivan, document=permit, uploaded_file=pdf_file())
    with pytest.raises(ValidationError) as invalid:
        document_review(actor=world.rita, version=version, decision="rejected", comment=" ")
    assert "comment" in invalid.value.message_dict
    with pytest.raises(NotPermitted):
        document_review(actor=world.ivan, version=version, decision="approved")
    with pytest.raises(ValidationError):
        document_review(actor=world.rita, version=version, decision="maybe")
    reviewed = document_review(actor=world.rita, version=version, decision="rejected", comment="Wrong consignee")
    assert reviewed.reviewed_by == world.rita
    permit.refresh_from_db()
    assert permit.status == DocumentStatus.REJECTED
    assert AuditEvent.objects.get(action="document.rejected").reason == "Wrong consignee"


def test_review_of_an_outdated_version_is_refused(world, permit):
    old = document_version_upload(actor=world.ivan, document=permit, uploaded_file=pdf_file(body=b"old"))
    document_version_upload(actor=world.ivan, document=permit, uploaded_file=pdf_file(body=b"new"))
    with pytest.raises(TransitionRefused, match="newer version"):
        document_review(actor=world.rita, version=old, decision="approved")


def test_lapsed_approved_documents_expire_once(world, permit):
    version = document_version_upload(actor=world.ivan, document=permit, uploaded_file=pdf_file())
    document_review(actor=world.rita, version=version, decision="approved")
    permit.refresh_from_db()
    permit.valid_from, permit.valid_until = days(-30), days(-1)
    permit.save()
    assert documents_expire_lapsed() == 1
    assert documents_expire_lapsed() == 0
    permit.refresh_from_db()
    assert permit.status == DocumentStatus.EXPIRED
    assert AuditEvent.objects.filter(action="document.expired").count() == 1


def test_a_stale_document_copy_cannot_upload_or_review_after_approval(world, permit):
    version = document_version_upload(actor=world.ivan, document=permit, uploaded_file=pdf_file())
    stale_version = DocumentVersion.objects.select_related("document__shipment").get(pk=version.pk)
    stale_document = stale_version.document
    force_status(permit.shipment, S.APPROVED)
    with pytest.raises(TransitionRefused, match="this shipment is approved"):
        document_version_upload(actor=world.ivan, document=stale_document, uploaded_file=pdf_file())
    with pytest.raises(TransitionRefused, match="can be reviewed only during"):
        document_review(actor=world.rita, version=stale_version, decision="approved")
