"""Uploading from the shipment page's checklist: the plain form (refusals shown next to the document), the htmx drop
zone (the refreshed checklist comes back, and the header is told to refresh), who is offered a form, and who gets
nothing at all."""

import pytest
from django.urls import reverse

from documents.models import DocumentVersion
from documents.services import document_version_upload
from shipments import services
from shipments.choices import ShipmentStatus as S
from tests.conftest import force_status, pdf_bytes
from tests.documents.test_uploads import media_files, upload
from tests.shipments.test_views_detail import section

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def shipment(world, requirements):
    return services.shipment_submit(actor=world.alice, shipment=world.shipment())


@pytest.fixture
def permit(shipment):
    return shipment.documents.get(document_type="import_permit")


@pytest.fixture
def declaration(shipment):
    return shipment.documents.get(document_type="export_declaration")


def upload_url(document) -> str:
    return reverse("documents:upload", args=[document.pk])


def test_htmx_upload_answers_with_the_refreshed_checklist_and_asks_the_header_to_refresh(client, world, permit):
    client.force_login(world.ivan)
    response = client.post(upload_url(permit), {"file": upload("consent.pdf", pdf_bytes())}, **HTMX)
    assert response.status_code == 200
    assert response["HX-Trigger"] == "documents-changed"
    body = response.content.decode()
    assert body.lstrip().startswith('<section class="card shadow-sm mb-4" id="checklist"')
    entry = section(body, f"document-{permit.pk}")
    assert "“consent.pdf” is now version 1 of Import permit / licence (import), awaiting review." in entry
    assert 'data-status="uploaded"' in entry
    version = DocumentVersion.objects.get()
    assert f'href="{reverse("documents:download", args=[version.pk])}"' in entry
    assert "<html" not in body


def test_htmx_refusal_is_shown_on_the_document_and_stores_nothing(client, world, permit, settings):
    client.force_login(world.ivan)
    before = media_files(settings)
    response = client.post(upload_url(permit), {"file": upload("permit.pdf", b"<html>not a pdf</html>")}, **HTMX)
    assert response.status_code == 200
    assert "HX-Trigger" not in response
    entry = section(response.content.decode(), f"document-{permit.pk}")
    assert "“permit.pdf” is not an accepted document type (PDF, PNG, JPEG, DOCX, XLSX)." in entry
    assert "is-invalid" in entry
    assert f'aria-describedby="upload-help-{permit.pk} upload-error-{permit.pk}"' in entry
    assert not DocumentVersion.objects.exists()
    assert media_files(settings) == before


def test_htmx_upload_without_a_file_asks_for_one(client, world, permit):
    client.force_login(world.ivan)
    response = client.post(upload_url(permit), {}, **HTMX)
    assert "Choose a file to upload." in section(response.content.decode(), f"document-{permit.pk}")


def test_a_file_over_the_limit_is_refused_next_to_its_document(client, world, permit, settings):
    settings.DOCUMENT_UPLOAD_MAX_BYTES = 1024
    client.force_login(world.ivan)
    response = client.post(upload_url(permit), {"file": upload("big.pdf", pdf_bytes(b"x" * 4000))}, **HTMX)
    assert "“big.pdf” is larger than 1,024 bytes, the limit for one document." in section(
        response.content.decode(), f"document-{permit.pk}"
    )
    assert "up to 1,024 bytes" in response.content.decode()
    assert not DocumentVersion.objects.exists()


def test_plain_form_refusal_lands_next_to_the_document_not_at_the_top(client, world, shipment, permit):
    client.force_login(world.ivan)
    response = client.post(upload_url(permit), {"file": upload("permit.pdf", b"GIF89a")})
    assert response.status_code == 302
    assert response["Location"] == f"{shipment.get_absolute_url()}#document-{permit.pk}"
    body = client.get(response["Location"].split("#")[0]).content.decode()
    message = "“permit.pdf” is not an accepted document type (PDF, PNG, JPEG, DOCX, XLSX)."
    assert body.count(message) == 1
    assert message in section(body, f"document-{permit.pk}")
    assert "alert-dismissible" not in body
    assert message not in client.get(shipment.get_absolute_url()).content.decode(), "shown once, then gone"


def test_plain_form_success_is_a_message_at_the_top(client, world, shipment, permit):
    client.force_login(world.ivan)
    response = client.post(upload_url(permit), {"file": upload("consent.pdf", pdf_bytes())}, follow=True)
    assert response.redirect_chain == [(shipment.get_absolute_url(), 302)]
    body = response.content.decode()
    assert "alert-success alert-dismissible" in body
    assert "“consent.pdf” is now version 1 of Import permit / licence (import), awaiting review." in body


def test_the_party_that_owes_a_document_gets_a_drop_zone_and_others_none(client, world, shipment, permit, declaration):
    client.force_login(world.eddie)
    body = client.get(shipment.get_absolute_url()).content.decode()
    owed = section(body, f"document-{declaration.pk}")
    assert f'action="{upload_url(declaration)}"' in owed
    assert f'hx-post="{upload_url(declaration)}"' in owed
    assert 'hx-encoding="multipart/form-data"' in owed and 'hx-target="#checklist-slot"' in owed
    assert "data-dropzone" in owed and "<details" not in owed
    assert upload_url(permit) not in body
    assert '<script src="/static/js/upload.js" defer></script>' in body


def test_the_ior_may_upload_for_others_behind_a_disclosure(client, world, shipment, permit, declaration):
    client.force_login(world.ivan)
    body = client.get(shipment.get_absolute_url()).content.decode()
    assert "<details" not in section(body, f"document-{permit.pk}")
    other = section(body, f"document-{declaration.pk}")
    assert "<summary>Upload for US Export Services</summary>" in other
    assert f'action="{upload_url(declaration)}"' in other


def test_a_viewer_is_offered_no_form_and_a_forged_upload_is_refused_in_place(client, world, shipment, permit):
    client.force_login(world.victor)
    assert upload_url(permit) not in client.get(shipment.get_absolute_url()).content.decode()
    response = client.post(upload_url(permit), {"file": upload("permit.pdf", pdf_bytes())}, **HTMX)
    assert "Only the party that owes this document, or the importer of record, may upload it." in section(
        response.content.decode(), f"document-{permit.pk}"
    )
    assert not DocumentVersion.objects.exists()


def test_closed_checklist_refuses_in_place(client, world, shipment, permit):
    force_status(shipment, S.APPROVED)
    client.force_login(world.ivan)
    response = client.post(upload_url(permit), {"file": upload("permit.pdf", pdf_bytes())}, **HTMX)
    entry = section(response.content.decode(), f"document-{permit.pk}")
    assert "Documents can be uploaded only during permit collection or dossier review" in entry
    assert "Upload</button>" not in response.content.decode()


def test_charlie_and_anonymous_get_nothing(client, world, permit):
    response = client.post(upload_url(permit), {"file": upload("permit.pdf", pdf_bytes())}, **HTMX)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    client.force_login(world.charlie)
    response = client.post(upload_url(permit), {"file": upload("permit.pdf", pdf_bytes())}, **HTMX)
    assert response.status_code == 404
    assert "Import permit" not in response.content.decode()
    assert not DocumentVersion.objects.exists()


def test_versions_are_listed_newest_first_with_review_and_hash(client, world, shipment, permit):
    first = document_version_upload(actor=world.ivan, document=permit, uploaded_file=upload("a.pdf", pdf_bytes(b"a")))
    second = document_version_upload(actor=world.ivan, document=permit, uploaded_file=upload("b.pdf", pdf_bytes(b"b")))
    client.force_login(world.alice)
    entry = section(client.get(shipment.get_absolute_url()).content.decode(), f"document-{permit.pk}")
    assert entry.index("b.pdf") < entry.index("a.pdf")
    assert f'title="SHA-256 {second.sha256}"' in entry and f"{first.sha256[:12]}…" in entry
    assert entry.count("Awaiting review") == 1


def test_the_header_refresh_returns_the_actions_for_this_user(client, world, shipment):
    client.force_login(world.alice)
    response = client.get(reverse("shipments:actions", args=[shipment.reference]))
    assert response.status_code == 200
    body = response.content.decode()
    assert body.startswith('<div id="shipment-actions">')
    assert "Submit dossier" in body and "<html" not in body


def test_the_header_and_the_checklist_are_refreshed_into_wrappers_that_stay_in_the_page(client, world, shipment):
    """A refresh asked for while one is loading is queued on the element that asked; on a wrapper that is never
    swapped out it still runs, where on the swapped header it was dropped."""
    client.force_login(world.ivan)
    body = client.get(shipment.get_absolute_url()).content.decode()
    actions_url = reverse("shipments:actions", args=[shipment.reference])
    assert (
        f'<div id="shipment-header" hx-get="{actions_url}" hx-trigger="documents-changed from:body" '
        'hx-swap="innerHTML">' in body
    )
    assert "hx-trigger" not in section(body, "shipment-actions")
    assert '<div id="checklist-slot"><section class="card shadow-sm mb-4" id="checklist"' in body
    assert body.count('hx-target="#checklist-slot" hx-swap="innerHTML"') == shipment.documents.count()
