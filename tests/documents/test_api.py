"""The documents API: a shipment's checklist, uploading, downloading and reviewing versions, and the dossier PDF,
with who may do each, the errors an integrator gets, and nothing of sponsor A for charlie."""

import hashlib
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from compliance.choices import DocumentType
from documents.choices import ArtifactStatus, DocumentStatus
from documents.models import Document, DocumentVersion, DossierArtifact, artifact_upload_path
from documents.services import document_review, document_version_upload
from ior_platform.core.api.viewsets import etag_for
from ior_platform.core.models import AuditEvent
from shipments import services
from shipments.choices import ShipmentStatus as S
from tests.conftest import force_status, pdf_bytes
from tests.documents.test_uploads import make_image, media_files, upload

NOT_FOUND = {"detail": "Not found."}


@pytest.fixture
def shipment(world, requirements):
    return services.shipment_submit(actor=world.alice, shipment=world.shipment())


@pytest.fixture
def permit(shipment):
    """Owed by the importer of record."""
    return shipment.documents.get(document_type="import_permit")


@pytest.fixture
def declaration(shipment):
    """Owed by the exporter of record."""
    return shipment.documents.get(document_type="export_declaration")


@pytest.fixture
def version(world, permit):
    return document_version_upload(actor=world.ivan, document=permit, uploaded_file=upload("permit.pdf", pdf_bytes()))


def versions_url(document) -> str:
    return f"/api/v1/documents/{document.pk}/versions/"


def post_file(client, document, content: bytes, name: str = "permit.pdf", **extra):
    uploaded = SimpleUploadedFile(name, content, content_type="application/pdf")
    return client.post(versions_url(document), {"file": uploaded}, format="multipart", **extra)


def review(client, version, **body):
    return client.post(f"/api/v1/document-versions/{version.pk}/review/", body, format="json")


def ready_artifact(world, shipment, content: bytes = b"%PDF-1.7\n% the dossier\n") -> DossierArtifact:
    artifact = DossierArtifact.objects.create(shipment=shipment, requested_by=world.alice)
    name = default_storage.save(artifact_upload_path(artifact, "dossier.pdf"), ContentFile(content))
    DossierArtifact.objects.filter(pk=artifact.pk).update(
        status=ArtifactStatus.READY,
        progress=100,
        file=name,
        sha256=hashlib.sha256(content).hexdigest(),
        size=len(content),
        pages=1,
        rendered_at=timezone.now(),
    )
    artifact.refresh_from_db()
    return artifact


class TestChecklist:
    def test_lists_each_document_with_its_owner_due_date_status_and_current_version(
        self, world, api_as, shipment, permit, declaration, version
    ):
        response = api_as(world.alice).get(f"/api/v1/shipments/{shipment.pk}/documents/")
        assert response.status_code == 200
        rows = {row["document_type"]: row for row in response.json()["results"]}
        assert set(rows) == {"import_permit", "export_declaration"}
        row = rows["import_permit"]
        assert row["id"] == permit.pk
        assert row["shipment"] == shipment.pk
        assert row["title"] == (permit.title or "Import permit / licence")
        assert row["side"] == "import"
        assert row["owed_by_role"] == "ior"
        assert row["owed_by"] == {"id": world.ior.pk, "name": "Brasil IOR Ltda"}
        assert row["due_date"] == permit.due_date.isoformat()
        assert row["status"] == "uploaded"
        assert row["url"].endswith(f"/api/v1/documents/{permit.pk}/")
        current = row["current_version"]
        assert current["id"] == version.pk
        assert current["number"] == 1
        assert current["filename"] == "permit.pdf"
        assert current["size"] == len(pdf_bytes())
        assert current["content_type"] == "application/pdf"
        assert current["sha256"] == hashlib.sha256(pdf_bytes()).hexdigest()
        assert current["uploaded_by"] == "Ivan"
        assert current["uploaded_at"].endswith("Z")
        assert current["review_status"] == "pending"
        assert current["download_url"].endswith(f"/api/v1/document-versions/{version.pk}/download/")
        assert rows["export_declaration"]["current_version"] is None
        assert rows["export_declaration"]["status"] == "requested"
        assert "versions" not in row

    def test_filters_by_status_one_or_several(self, world, api_as, shipment, version):
        client = api_as(world.rita)
        url = f"/api/v1/shipments/{shipment.pk}/documents/"

        def types(query: str) -> set[str]:
            response = client.get(url + query)
            assert response.status_code == 200
            return {row["document_type"] for row in response.json()["results"]}

        assert types("?status=uploaded") == {"import_permit"}
        assert types("?status=requested") == {"export_declaration"}
        assert types("?status=requested&status=uploaded") == {"import_permit", "export_declaration"}
        assert types("?status=approved") == set()
        assert types("?side=export") == {"export_declaration"}
        by_due_date = client.get(url + "?ordering=-due_date").json()["results"]
        assert [row["document_type"] for row in by_due_date] == ["export_declaration", "import_permit"]
        response = client.get(url + "?status=lost")
        assert response.status_code == 400
        assert "status" in response.json()["errors"]

    def test_a_shipment_that_does_not_exist_is_404_not_an_empty_list(self, world, api_as, shipment):
        response = api_as(world.alice).get(f"/api/v1/shipments/{shipment.pk + 1000}/documents/")
        assert response.status_code == 404
        assert response.json() == NOT_FOUND

    def test_a_cro_acting_for_the_sponsor_sees_the_checklist(self, world, api_as, shipment):
        response = api_as(world.carl, scope="read").get(f"/api/v1/shipments/{shipment.pk}/documents/")
        assert response.status_code == 200
        assert len(response.json()["results"]) == 2

    def test_list_query_count_is_constant_in_the_page_size(
        self, world, api_as, shipment, django_assert_max_num_queries
    ):
        types = [t for t in DocumentType.values if t not in {"import_permit", "export_declaration"}][:18]
        for document_type in types:
            document = Document.objects.create(
                shipment=shipment,
                side="import",
                document_type=document_type,
                owed_by_role="ior",
                owed_by=world.ior,
                due_date=shipment.planned_ship_date,
            )
            for number in (1, 2):
                DocumentVersion.objects.create(
                    document=document,
                    number=number,
                    file=f"documents/{shipment.pk}/{document_type}-{number}",
                    original_name=f"{document_type}.pdf",
                    size=10,
                    content_type="application/pdf",
                    sha256="0" * 64,
                    uploaded_by=world.ivan if number == 1 else world.eddie,
                )
        client = api_as(world.alice)
        url = f"/api/v1/shipments/{shipment.pk}/documents/"
        client.get(url)  # the key's first use records it; later calls within the minute do not
        counts = {}
        for page_size in (2, 20):
            with CaptureQueriesContext(connection) as queries:
                response = client.get(f"{url}?page_size={page_size}")
            rows = response.json()["results"]
            assert len(rows) == page_size
            counts[page_size] = len(queries)
        newest = [row["current_version"]["number"] for row in rows if row["current_version"]]
        assert newest == [2] * 18
        assert counts[2] == counts[20]
        with django_assert_max_num_queries(counts[2]):
            client.get(f"{url}?page_size=20")

    def test_retrieve_shows_every_version_newest_first_with_an_etag(self, world, api_as, permit, version):
        second = document_version_upload(
            actor=world.ivan, document=permit, uploaded_file=upload("permit-v2.pdf", pdf_bytes(b"v2"))
        )
        response = api_as(world.eddie).get(f"/api/v1/documents/{permit.pk}/")
        assert response.status_code == 200
        body = response.json()
        assert [v["id"] for v in body["versions"]] == [second.pk, version.pk]
        assert body["current_version"]["number"] == 2
        assert body["current_version"]["filename"] == "permit-v2.pdf"
        permit.refresh_from_db()
        assert response["ETag"] == etag_for(permit)

    def test_retrieve_one_version(self, world, api_as, version):
        response = api_as(world.sam).get(f"/api/v1/document-versions/{version.pk}/")
        assert response.status_code == 200
        assert response.json()["sha256"] == version.sha256
        assert response.json()["document"] == version.document_id


class TestUpload:
    def test_the_owing_party_uploads_a_version(self, world, api_as, permit):
        content = pdf_bytes(b"consent")
        response = post_file(api_as(world.ivan), permit, content, name="LI consent.pdf")
        assert response.status_code == 201, response.json()
        body = response.json()
        stored = DocumentVersion.objects.get()
        assert response["Location"].endswith(f"/api/v1/document-versions/{stored.pk}/")
        assert body["id"] == stored.pk
        assert body["number"] == 1
        assert body["filename"] == "LI consent.pdf"
        assert body["sha256"] == hashlib.sha256(content).hexdigest() == stored.sha256
        assert body["size"] == len(content)
        assert body["content_type"] == "application/pdf"
        assert body["uploaded_by"] == "Ivan"
        assert body["review_status"] == "pending"
        permit.refresh_from_db()
        assert permit.status == DocumentStatus.UPLOADED
        event = AuditEvent.objects.get(action="document.version_uploaded")
        assert event.actor == world.ivan
        assert event.via.startswith("API key")

    def test_a_party_that_does_not_owe_the_document_cannot_upload_it(self, world, api_as, permit, declaration):
        assert post_file(api_as(world.eddie), declaration, pdf_bytes()).status_code == 201
        for outsider in (world.eddie, world.cora, world.sam, world.alice):
            response = post_file(api_as(outsider), permit, pdf_bytes())
            assert response.status_code == 403, outsider
            assert response.json()["reasons"] == [
                "only the party that owes this document, or the importer of record, may upload it"
            ]
        assert not permit.versions.exists()

    def test_a_cro_uploads_what_its_sponsor_owes(self, world, api_as, shipment):
        coa = Document.objects.create(
            shipment=shipment,
            side="export",
            document_type="certificate_of_analysis",
            owed_by_role="sponsor",
            owed_by=world.sponsor_a,
            due_date=shipment.planned_ship_date,
        )
        assert post_file(api_as(world.carl), coa, pdf_bytes(), name="coa.pdf").status_code == 201
        assert post_file(api_as(world.eddie), coa, pdf_bytes(), name="coa.pdf").status_code == 403
        assert coa.versions.count() == 1

    @pytest.mark.parametrize(
        ("name", "content", "message"),
        [
            (
                "notes.pdf",
                b"just some text",
                "“notes.pdf” is not an accepted document type (PDF, PNG, JPEG, DOCX, XLSX).",
            ),
            ("empty.pdf", b"", "“empty.pdf” is empty."),
            ("cut.pdf", pdf_bytes()[:40], "“cut.pdf” is not a readable PDF: it is damaged or incomplete."),
        ],
    )
    def test_a_refused_file_is_400_on_file_and_nothing_is_stored(
        self, world, api_as, permit, settings, name, content, message
    ):
        before = media_files(settings)
        response = post_file(api_as(world.ivan), permit, content, name=name)
        assert response.status_code == 400
        assert response.json() == {"detail": "Invalid input.", "errors": {"file": [message]}}
        assert not permit.versions.exists()
        assert media_files(settings) == before

    def test_a_file_over_the_limit_is_400(self, world, api_as, permit, settings):
        settings.DOCUMENT_UPLOAD_MAX_BYTES = 100
        response = post_file(api_as(world.ivan), permit, pdf_bytes(), name="big.pdf")
        assert response.status_code == 400
        assert response.json()["errors"]["file"] == ["“big.pdf” is larger than 100 bytes, the limit for one document."]

    def test_no_file_or_server_side_fields_are_refused(self, world, api_as, permit):
        client = api_as(world.ivan)
        response = client.post(versions_url(permit), {}, format="multipart")
        assert response.status_code == 400
        assert response.json()["errors"] == {"file": ["No file was submitted."]}
        sneaky = {"file": upload("permit.pdf", pdf_bytes()), "sha256": "0" * 64, "review_status": "approved"}
        response = client.post(versions_url(permit), sneaky, format="multipart")
        assert response.status_code == 400
        assert response.json()["errors"] == {"review_status": ["Unknown field."], "sha256": ["Unknown field."]}
        response = client.post(versions_url(permit), {"file": "permit.pdf"}, format="json")
        assert response.status_code == 415
        assert not permit.versions.exists()

    @pytest.mark.parametrize("status", [S.DRAFT, S.APPROVED, S.DELIVERED])
    def test_upload_is_409_when_the_shipments_documents_are_closed(self, world, api_as, permit, status):
        force_status(permit.shipment, status)
        response = post_file(api_as(world.ivan), permit, pdf_bytes())
        assert response.status_code == 409
        assert response.json()["reasons"][0].startswith("documents can be uploaded only during permit collection")
        assert not permit.versions.exists()

    def test_a_read_only_key_cannot_upload(self, world, api_as, permit):
        response = post_file(api_as(world.ivan, scope="read"), permit, pdf_bytes())
        assert response.status_code == 403
        assert "read-only" in response.json()["detail"]
        assert not permit.versions.exists()

    def test_idempotency_key_replays_the_upload_and_stores_one_version(self, world, api_as, permit):
        client = api_as(world.ivan)
        first = post_file(client, permit, pdf_bytes(b"once"), HTTP_IDEMPOTENCY_KEY="upload-1")
        again = post_file(client, permit, pdf_bytes(b"once"), HTTP_IDEMPOTENCY_KEY="upload-1")
        assert first.status_code == again.status_code == 201
        assert again.json() == first.json()
        assert again["Idempotent-Replayed"] == "true"
        assert again["Location"] == first["Location"]
        assert permit.versions.count() == 1
        other = post_file(client, permit, pdf_bytes(b"another file"), HTTP_IDEMPOTENCY_KEY="upload-1")
        assert other.status_code == 409
        assert "different request" in other.json()["detail"]
        assert permit.versions.count() == 1

    def test_a_stale_if_match_is_412_and_a_current_one_uploads(self, world, api_as, permit, version):
        client = api_as(world.ivan)
        etag = client.get(f"/api/v1/documents/{permit.pk}/")["ETag"]
        document_review(actor=world.rita, version=version, decision="rejected", comment="Unsigned")
        response = post_file(client, permit, pdf_bytes(b"v2"), HTTP_IF_MATCH=etag)
        assert response.status_code == 412
        assert permit.versions.count() == 1
        fresh = client.get(f"/api/v1/documents/{permit.pk}/")["ETag"]
        assert post_file(client, permit, pdf_bytes(b"v2"), HTTP_IF_MATCH=fresh).status_code == 201


class TestDownload:
    def test_download_returns_exactly_the_uploaded_bytes(self, world, api_as, version):
        response = api_as(world.alice).get(f"/api/v1/document-versions/{version.pk}/download/")
        assert response.status_code == 200
        assert b"".join(response.streaming_content) == pdf_bytes()
        assert response["Content-Type"] == "application/pdf"
        assert response["Content-Disposition"] == 'attachment; filename="permit.pdf"'
        assert response["X-Content-Type-Options"] == "nosniff"
        assert int(response["Content-Length"]) == version.size

    def test_download_is_typed_by_its_bytes_even_when_asked_for_a_pdf(self, world, api_as, permit):
        png = make_image("PNG")
        version = document_version_upload(actor=world.ivan, document=permit, uploaded_file=upload("scan.pdf", png))
        response = api_as(world.rita).get(
            f"/api/v1/document-versions/{version.pk}/download/", HTTP_ACCEPT="application/pdf"
        )
        assert response.status_code == 200
        assert response["Content-Type"] == "image/png"
        assert response["Content-Disposition"] == 'attachment; filename="scan.pdf.png"'
        assert b"".join(response.streaming_content) == png

    def test_a_tampered_file_is_withheld_with_a_clear_409(self, world, api_as, version):
        path = Path(version.file.path)
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0x01
        path.write_bytes(bytes(data))
        response = api_as(world.rita).get(
            f"/api/v1/document-versions/{version.pk}/download/", HTTP_ACCEPT="application/pdf"
        )
        assert response.status_code == 409
        assert response["Content-Type"] == "application/json"
        body = response.json()
        assert body["detail"].startswith("version 1 of Import permit / licence (import) does not match")
        assert "SHA-256 differs" in body["detail"]
        assert len(body["reasons"]) == 1
        assert b"%PDF" not in response.content
        event = AuditEvent.objects.get(action="document.integrity_failure")
        assert event.actor == world.rita
        assert event.changes["sha256"][0] == version.sha256

    def test_a_missing_version_is_404_in_json_whatever_was_asked_for(self, world, api_as, version):
        response = api_as(world.rita).get(
            f"/api/v1/document-versions/{version.pk + 1}/download/", HTTP_ACCEPT="application/pdf"
        )
        assert response.status_code == 404
        assert response.json() == NOT_FOUND


class TestReview:
    def test_a_reviewer_approves_and_gets_the_document_with_its_new_status(self, world, api_as, permit, version):
        response = review(api_as(world.rita), version, decision="approved")
        assert response.status_code == 200, response.json()
        body = response.json()
        assert body["id"] == permit.pk
        assert body["status"] == "approved"
        assert body["current_version"]["review_status"] == "approved"
        assert body["current_version"]["reviewed_by"] == "Rita"
        assert body["current_version"]["reviewed_at"].endswith("Z")
        assert [v["id"] for v in body["versions"]] == [version.pk]
        permit.refresh_from_db()
        assert permit.status == DocumentStatus.APPROVED
        assert response["ETag"] == etag_for(permit)

    def test_a_rejection_needs_a_comment(self, world, api_as, permit, version):
        client = api_as(world.rita)
        response = review(client, version, decision="rejected", comment="  ")
        assert response.status_code == 400
        assert response.json()["errors"] == {
            "comment": ["Say why the document is rejected, so the owing party can fix it."]
        }
        response = review(client, version, decision="rejected", comment="The consent names the wrong site.")
        assert response.status_code == 200
        assert response.json()["status"] == "rejected"
        assert response.json()["current_version"]["review_comment"] == "The consent names the wrong site."

    def test_an_unknown_decision_or_field_is_400(self, world, api_as, version):
        client = api_as(world.rita)
        response = review(client, version, decision="maybe")
        assert response.status_code == 400
        assert "decision" in response.json()["errors"]
        response = review(client, version, decision="approved", reviewed_by=world.rita.pk)
        assert response.status_code == 400
        assert response.json()["errors"] == {"reviewed_by": ["Unknown field."]}
        assert review(client, version).json()["errors"]["decision"] == ["This field is required."]
        version.refresh_from_db()
        assert version.review_decision == ""

    def test_only_reviewers_of_the_importer_of_record_may_review(self, world, api_as, version):
        for person in (world.ivan, world.imelda, world.alice, world.eddie):
            response = review(api_as(person), version, decision="approved")
            assert response.status_code == 403, person
            assert response.json()["reasons"][0].startswith("only reviewers of the shipment's importer of record")
        response = review(api_as(world.rita, scope="read"), version, decision="approved")
        assert response.status_code == 403
        assert "read-only" in response.json()["detail"]
        version.refresh_from_db()
        assert version.review_decision == ""

    def test_a_version_already_reviewed_or_superseded_is_409(self, world, api_as, permit, version):
        client = api_as(world.rita)
        assert review(client, version, decision="rejected", comment="Unsigned").status_code == 200
        response = review(client, version, decision="approved")
        assert response.status_code == 409
        assert response.json()["reasons"] == ["this version was already rejected"]
        document_version_upload(actor=world.ivan, document=permit, uploaded_file=upload("v2.pdf", pdf_bytes(b"v2")))
        response = review(client, version, decision="approved")
        assert response.status_code == 409
        assert response.json()["reasons"] == ["a newer version of this document was uploaded; review that one"]

    def test_review_is_409_when_the_shipments_documents_are_closed(self, world, api_as, permit, version):
        force_status(permit.shipment, S.APPROVED)
        response = review(api_as(world.rita), version, decision="approved")
        assert response.status_code == 409
        assert response.json()["reasons"][0].startswith("documents can be reviewed only during permit collection")

    def test_review_honours_if_match_with_the_documents_etag(self, world, api_as, permit, version):
        client = api_as(world.rita)
        stale = client.get(f"/api/v1/documents/{permit.pk}/")["ETag"]
        Document.objects.filter(pk=permit.pk).update(updated_at=timezone.now())
        response = client.post(
            f"/api/v1/document-versions/{version.pk}/review/", {"decision": "approved"}, HTTP_IF_MATCH=stale
        )
        assert response.status_code == 412
        fresh = client.get(f"/api/v1/documents/{permit.pk}/")["ETag"]
        response = client.post(
            f"/api/v1/document-versions/{version.pk}/review/", {"decision": "approved"}, HTTP_IF_MATCH=fresh
        )
        assert response.status_code == 200


class TestDossier:
    def test_a_render_request_is_accepted_and_queued(self, world, api_as, shipment, django_capture_on_commit_callbacks):
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            response = api_as(world.alice).post(f"/api/v1/shipments/{shipment.pk}/dossiers/")
        assert response.status_code == 202
        assert len(callbacks) == 1
        artifact = DossierArtifact.objects.get()
        body = response.json()
        assert response["Location"].endswith(f"/api/v1/dossiers/{artifact.pk}/")
        assert body["id"] == artifact.pk
        assert body["shipment"] == shipment.pk
        assert body["status"] == "pending"
        assert body["progress"] == 0
        assert body["requested_by"] == "Alice"
        assert body["download_url"] is None
        assert AuditEvent.objects.filter(action="dossier.requested", shipment=shipment).exists()

    def test_a_render_request_takes_no_fields_and_no_read_only_key(self, world, api_as, shipment):
        response = api_as(world.alice).post(
            f"/api/v1/shipments/{shipment.pk}/dossiers/", {"status": "ready", "sha256": "0" * 64}
        )
        assert response.status_code == 400
        assert response.json()["errors"] == {"sha256": ["Unknown field."], "status": ["Unknown field."]}
        response = api_as(world.alice, scope="read").post(f"/api/v1/shipments/{shipment.pk}/dossiers/")
        assert response.status_code == 403
        assert "read-only" in response.json()["detail"]
        assert not DossierArtifact.objects.exists()

    def test_a_render_request_with_a_stale_if_match_is_412(self, world, api_as, shipment):
        response = api_as(world.alice).post(f"/api/v1/shipments/{shipment.pk}/dossiers/", HTTP_IF_MATCH='"stale"')
        assert response.status_code == 412
        assert not DossierArtifact.objects.exists()

    def test_status_follows_the_rendering_and_offers_the_download_when_ready(self, world, api_as, shipment):
        pending = DossierArtifact.objects.create(shipment=shipment, requested_by=world.alice)
        DossierArtifact.objects.filter(pk=pending.pk).update(status=ArtifactStatus.RENDERING, progress=60)
        ready = ready_artifact(world, shipment)
        client = api_as(world.sam)
        body = client.get(f"/api/v1/dossiers/{pending.pk}/").json()
        assert (body["status"], body["progress"], body["download_url"]) == ("rendering", 60, None)
        body = client.get(f"/api/v1/dossiers/{ready.pk}/").json()
        assert body["status"] == "ready"
        assert body["sha256"] == ready.sha256
        assert body["download_url"].endswith(f"/api/v1/dossiers/{ready.pk}/download/")
        listed = client.get(f"/api/v1/shipments/{shipment.pk}/dossiers/").json()["results"]
        assert [row["id"] for row in listed] == [ready.pk, pending.pk]

    def test_download_returns_the_verified_pdf(self, world, api_as, shipment):
        artifact = ready_artifact(world, shipment)
        response = api_as(world.rita).get(f"/api/v1/dossiers/{artifact.pk}/download/", HTTP_ACCEPT="application/pdf")
        assert response.status_code == 200
        assert response.content == b"%PDF-1.7\n% the dossier\n"
        assert response["Content-Type"] == "application/pdf"
        assert response["Content-Disposition"].startswith(f'attachment; filename="dossier-{shipment.reference}-')
        assert response["X-Content-Type-Options"] == "nosniff"

    def test_download_before_ready_or_after_a_failure_is_409_with_the_reason(self, world, api_as, shipment):
        pending = DossierArtifact.objects.create(shipment=shipment, requested_by=world.alice)
        failed = DossierArtifact.objects.create(
            shipment=shipment, requested_by=world.alice, status=ArtifactStatus.FAILED, error="no fonts"
        )
        client = api_as(world.alice)
        response = client.get(f"/api/v1/dossiers/{pending.pk}/download/")
        assert response.status_code == 409
        assert response.json()["reasons"] == ["this dossier is waiting to render; download it once its status is ready"]
        response = client.get(f"/api/v1/dossiers/{failed.pk}/download/")
        assert response.status_code == 409
        assert response.json()["reasons"] == ["this rendering failed (no fonts); request a new one"]

    def test_a_tampered_dossier_is_withheld_with_409(self, world, api_as, shipment):
        artifact = ready_artifact(world, shipment)
        with open(artifact.file.path, "ab") as stored:
            stored.write(b"% appended later\n")
        response = api_as(world.alice).get(f"/api/v1/dossiers/{artifact.pk}/download/")
        assert response.status_code == 409
        assert response.json()["reasons"] == [
            "the stored dossier file does not match the SHA-256 recorded when it was rendered"
        ]


def test_charlie_gets_404_for_everything_of_sponsor_a(world, api_as, shipment, permit, version, settings):
    artifact = ready_artifact(world, shipment)
    client = api_as(world.charlie)
    before = media_files(settings)
    responses = {
        "list": client.get(f"/api/v1/shipments/{shipment.pk}/documents/"),
        "retrieve": client.get(f"/api/v1/documents/{permit.pk}/"),
        "upload": post_file(client, permit, pdf_bytes(b"charlie")),
        "version": client.get(f"/api/v1/document-versions/{version.pk}/"),
        "download": client.get(f"/api/v1/document-versions/{version.pk}/download/"),
        "review": review(client, version, decision="approved"),
        "dossiers": client.get(f"/api/v1/shipments/{shipment.pk}/dossiers/"),
        "render": client.post(f"/api/v1/shipments/{shipment.pk}/dossiers/"),
        "dossier": client.get(f"/api/v1/dossiers/{artifact.pk}/"),
        "dossier download": client.get(f"/api/v1/dossiers/{artifact.pk}/download/"),
    }
    for name, response in responses.items():
        assert response.status_code == 404, name
        assert response.json() == NOT_FOUND, name
        assert shipment.reference not in response.content.decode(), name
    assert permit.versions.count() == 1
    version.refresh_from_db()
    assert version.review_decision == ""
    assert DossierArtifact.objects.count() == 1
    assert media_files(settings) == before
    assert not AuditEvent.objects.filter(action="document.integrity_failure").exists()
