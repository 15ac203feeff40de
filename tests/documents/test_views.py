"""The document pages: uploading a version from the shipment page, downloading one, and who may do either."""

import hashlib
from pathlib import Path

import pytest
from django.urls import reverse

from documents.models import DocumentVersion
from documents.services import document_version_upload
from documents.uploads import DOCX
from documents.views import uploadable_document_ids
from ior_platform.core.errors import NotPermitted
from ior_platform.core.models import AuditEvent
from shipments import services
from shipments.choices import ShipmentStatus as S
from tests.conftest import force_status, pdf_bytes
from tests.documents.test_uploads import make_image, make_office, media_files, upload


@pytest.fixture
def shipment(world, requirements):
    return services.shipment_submit(actor=world.alice, shipment=world.shipment())


@pytest.fixture
def permit(shipment):
    return shipment.documents.get(document_type="import_permit")


@pytest.fixture
def version(world, permit):
    return document_version_upload(actor=world.ivan, document=permit, uploaded_file=upload("permit.pdf", pdf_bytes()))


def upload_url(document) -> str:
    return reverse("documents:upload", args=[document.pk])


def download_url(version) -> str:
    return reverse("documents:download", args=[version.pk])


def test_download_is_an_attachment_the_browser_must_not_sniff_or_run(client, world, version):
    client.force_login(world.rita)
    response = client.get(download_url(version))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == pdf_bytes()
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == 'attachment; filename="permit.pdf"'
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"] == "sandbox"
    assert response["Cache-Control"] == "private, no-store"
    assert int(response["Content-Length"]) == version.size


def test_download_is_named_and_typed_by_its_bytes_with_a_header_safe_name(client, world, permit):
    png = make_image("PNG")
    tricky = upload('..\\evil"\r\nSet-Cookie: x=1.pdf', png, "application/pdf")
    version = document_version_upload(actor=world.ivan, document=permit, uploaded_file=tricky)
    client.force_login(world.alice)
    response = client.get(download_url(version))
    assert response["Content-Type"] == "image/png"
    assert response["Content-Disposition"] == 'attachment; filename="evil\\"Set-Cookie: x=1.pdf.png"'
    assert "Set-Cookie" not in {name for name, _ in response.items()}


def test_a_flipped_byte_on_disk_is_detected_at_download(client, world, version):
    path = Path(version.file.path)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    client.force_login(world.rita)
    response = client.get(download_url(version))
    assert response.status_code == 409
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    body = response.content.decode()
    assert body.startswith("Version 1 of Import permit")
    assert "SHA-256 differs" in body
    assert "%PDF" not in body
    event = AuditEvent.objects.get(action="document.integrity_failure")
    assert event.actor == world.rita
    assert event.changes["sha256"] == [version.sha256, hashlib.sha256(bytes(data)).hexdigest()]


def test_charlie_cannot_download_or_upload_another_sponsors_documents(client, world, permit, version, settings):
    client.force_login(world.charlie)
    missing = DocumentVersion.objects.order_by("-pk").first().pk + 1
    assert client.get(download_url(version)).status_code == 404
    assert client.get(reverse("documents:download", args=[missing])).status_code == 404
    before = media_files(settings)
    assert client.post(upload_url(permit), {"file": upload("permit.pdf", pdf_bytes())}).status_code == 404
    assert DocumentVersion.objects.count() == 1
    assert media_files(settings) == before
    assert not AuditEvent.objects.filter(action="document.integrity_failure").exists()


def test_anonymous_is_sent_to_sign_in(client, permit, version):
    for response in (
        client.get(download_url(version)),
        client.post(upload_url(permit), {"file": upload("permit.pdf", pdf_bytes())}),
    ):
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))
    assert DocumentVersion.objects.count() == 1


def test_upload_from_the_shipment_page_shows_success(client, world, shipment, permit):
    client.force_login(world.ivan)
    page = client.get(shipment.get_absolute_url()).content.decode()
    assert f'action="{upload_url(permit)}"' in page
    assert 'accept=".pdf,.png,.jpg,.jpeg,.docx,.xlsx"' in page
    response = client.post(upload_url(permit), {"file": upload("consent.pdf", make_office())}, follow=True)
    assert response.redirect_chain == [(shipment.get_absolute_url(), 302)]
    body = response.content.decode()
    assert "“consent.pdf” is now version 1 of Import permit / licence (import), awaiting review." in body
    version = DocumentVersion.objects.get()
    assert version.content_type == DOCX
    assert f'href="{download_url(version)}"' in body
    assert f'title="SHA-256 {version.sha256}"' in body
    assert f"{version.sha256[:12]}…" in body


def test_a_refused_upload_explains_itself_on_the_shipment_page(client, world, shipment, permit, settings):
    client.force_login(world.ivan)
    before = media_files(settings)
    html = upload("permit.pdf", b"<html><script>alert(1)</script></html>")
    body = client.post(upload_url(permit), {"file": html}, follow=True).content.decode()
    assert "“permit.pdf” is not an accepted document type (PDF, PNG, JPEG, DOCX, XLSX)." in body
    assert not DocumentVersion.objects.exists()
    assert media_files(settings) == before
    body = client.post(upload_url(permit), follow=True).content.decode()
    assert "Choose a file to upload." in body


def test_a_viewer_is_told_who_may_upload(client, world, shipment, permit):
    client.force_login(world.victor)
    assert f'action="{upload_url(permit)}"' not in client.get(shipment.get_absolute_url()).content.decode()
    body = client.post(upload_url(permit), {"file": upload("permit.pdf", pdf_bytes())}, follow=True).content.decode()
    assert "Only the party that owes this document, or the importer of record, may upload it." in body
    assert not DocumentVersion.objects.exists()


def test_uploads_close_with_the_dossier(client, world, shipment, permit):
    force_status(shipment, S.APPROVED)
    client.force_login(world.ivan)
    page = client.get(shipment.get_absolute_url()).content.decode()
    checklist = page[page.index('id="checklist"') : page.index('id="dossier"')]
    assert "Upload</button>" not in checklist
    assert f'action="{upload_url(permit)}"' not in page
    body = client.post(upload_url(permit), {"file": upload("permit.pdf", pdf_bytes())}, follow=True).content.decode()
    assert "Documents can be uploaded only during permit collection or dossier review" in body
    assert not DocumentVersion.objects.exists()


def test_get_on_upload_and_post_on_download_are_not_allowed(client, world, permit, version):
    client.force_login(world.ivan)
    assert client.get(upload_url(permit)).status_code == 405
    assert client.post(download_url(version)).status_code == 405


@pytest.mark.parametrize(
    "persona", ["alice", "mona", "victor", "carl", "rita", "ivan", "imelda", "eddie", "bruno", "cora", "sam"]
)
def test_the_upload_form_shows_exactly_where_the_service_accepts(world, shipment, persona):
    user = getattr(world, persona)
    offered = uploadable_document_ids(user=user, shipment=shipment)
    for document in shipment.documents.all():
        try:
            document_version_upload(actor=user, document=document, uploaded_file=upload("permit.pdf", pdf_bytes()))
        except NotPermitted:
            assert document.pk not in offered
        else:
            assert document.pk in offered


def test_the_checklist_stays_within_the_page_query_budget(
    client, world, shipment, permit, django_assert_max_num_queries
):
    declaration = shipment.documents.get(document_type="export_declaration")
    for number in range(3):
        document_version_upload(
            actor=world.ivan, document=permit, uploaded_file=upload(f"v{number}.pdf", pdf_bytes(str(number).encode()))
        )
        document_version_upload(
            actor=world.eddie,
            document=declaration,
            uploaded_file=upload(f"d{number}.pdf", pdf_bytes(f"d{number}".encode())),
        )
    client.force_login(world.ivan)
    with django_assert_max_num_queries(25):
        response = client.get(shipment.get_absolute_url())
    assert response.content.decode().count("/download/") == 6
