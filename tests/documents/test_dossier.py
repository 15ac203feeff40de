"""The dossier PDF: rendered once per artifact, stored with its hash, never changed once ready, readable by the
shipment's parties only, and built in a bounded number of queries."""

import hashlib
import subprocess
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from documents.choices import ArtifactStatus, DocumentStatus
from documents.dossier import dossier_html, dossier_render, dossier_request
from documents.manifest import dossier_manifest, manifest_sha256, normalised
from documents.models import Document, DocumentVersion, DossierArtifact, ElectronicSignature
from documents.tasks import render_dossier
from ior_platform.core.audit import record_event, verify_chains
from ior_platform.core.models import AuditEvent
from shipments import services
from shipments.models import Shipment
from tests.factories import ShipmentItemFactory
from tests.shipments.test_services import walk_dossier

# htmx polls it every second while a dossier renders: session, user, the artifact through the tenancy rule.
PROGRESS_MAX_QUERIES = 5


def sign(world, shipment, meaning="approved") -> ElectronicSignature:
    """Stands in for the approval's e-signature: the manifest as stored now, signed by rita."""
    manifest = normalised(dossier_manifest(shipment))
    return ElectronicSignature.objects.create(
        shipment=shipment,
        signer=world.rita,
        signer_name="Rita Reviewer",
        signer_organization=world.ior.name,
        meaning=meaning,
        signed_at=(timezone.now() - timedelta(hours=2)).replace(microsecond=0),
        manifest=manifest,
        manifest_sha256=manifest_sha256(manifest),
    )


@pytest.fixture
def signed(world, requirements, brazil_permit):
    shipment = walk_dossier(world, services.shipment_submit(actor=world.alice, shipment=world.shipment(items=2)))
    sign(world, shipment)
    return Shipment.objects.get(pk=shipment.pk)


def request_rendered(actor, shipment, capture) -> DossierArtifact:
    with capture(execute=True):
        artifact = dossier_request(actor=actor, shipment=shipment)
    artifact.refresh_from_db()
    return artifact


def pdf_text(artifact) -> str:
    return subprocess.run(["pdftotext", artifact.file.path, "-"], capture_output=True, check=True, text=True).stdout


def test_task_renders_a_ready_artifact_whose_hash_matches_the_stored_file(
    world, signed, django_capture_on_commit_callbacks
):
    artifact = request_rendered(world.alice, signed, django_capture_on_commit_callbacks)
    assert artifact.status == ArtifactStatus.READY
    assert artifact.progress == 100
    stored = artifact.file.read()
    assert stored.startswith(b"%PDF")
    assert artifact.sha256 == hashlib.sha256(stored).hexdigest()
    assert artifact.size == len(stored)
    assert artifact.pages >= 3
    assert artifact.manifest_sha256 == manifest_sha256(dossier_manifest(signed))
    assert artifact.signature_count == 1
    assert artifact.rendered_at is not None
    assert artifact.requested_by == world.alice
    actions = list(AuditEvent.objects.filter(shipment=signed).values_list("action", flat=True).order_by("sequence"))
    assert actions[-2:] == ["dossier.requested", "dossier.rendered"]
    rendered = AuditEvent.objects.get(shipment=signed, action="dossier.rendered")
    assert rendered.changes["sha256"] == [None, artifact.sha256]
    assert verify_chains(AuditEvent.objects.filter(shipment=signed))[1] == []


def test_a_duplicate_delivery_changes_nothing(world, signed, django_capture_on_commit_callbacks):
    artifact = request_rendered(world.alice, signed, django_capture_on_commit_callbacks)
    events = AuditEvent.objects.count()
    render_dossier.delay(artifact.pk)
    again = DossierArtifact.objects.get(pk=artifact.pk)
    assert (again.status, again.sha256, again.file.name, again.rendered_at, again.pages) == (
        artifact.status,
        artifact.sha256,
        artifact.file.name,
        artifact.rendered_at,
        artifact.pages,
    )
    assert AuditEvent.objects.count() == events
    assert DossierArtifact.objects.count() == 1


def test_a_delivery_that_finds_the_artifact_already_rendering_does_nothing(world, signed):
    artifact = DossierArtifact.objects.create(shipment=signed, requested_by=world.alice)
    DossierArtifact.objects.filter(pk=artifact.pk).update(status=ArtifactStatus.RENDERING, progress=60)
    assert render_dossier.delay(artifact.pk).get() == ArtifactStatus.RENDERING
    artifact.refresh_from_db()
    assert (artifact.status, artifact.progress, artifact.file.name) == (ArtifactStatus.RENDERING, 60, "")


def test_the_pdf_text_shows_cover_items_documents_signature_and_page_numbers(
    world, signed, django_capture_on_commit_callbacks
):
    artifact = request_rendered(world.alice, signed, django_capture_on_commit_callbacks)
    text = pdf_text(artifact)
    item = signed.items.order_by("position", "pk").first()
    version = DocumentVersion.objects.filter(document__shipment=signed).order_by("-number").first()
    signature = signed.signatures.get()
    assert signed.reference in text
    assert "SPA-301" in text
    assert "Refrigerated (2–8 °C)" in text
    assert world.ior.name in text
    assert item.hs_code in text
    assert item.lot_number in text
    assert version.sha256 in text
    assert "Rita Reviewer" in text
    assert "Approved" in text
    assert f"{signature.signed_at:%Y-%m-%d %H:%M:%S} UTC" in text
    assert "matches this dossier" in text
    assert f"Page 1 of {artifact.pages}" in text
    assert f"Page {artifact.pages} of {artifact.pages}" in text
    assert artifact.manifest_sha256 in text
    assert "Hash chain verified" in text


def test_a_signature_over_other_content_is_printed_as_not_matching(world, signed, django_capture_on_commit_callbacks):
    ShipmentItemFactory(shipment=signed, product_name="Added after signing", hs_code="300490")
    artifact = request_rendered(world.alice, signed, django_capture_on_commit_callbacks)
    text = pdf_text(artifact)
    assert "differs from this dossier" in text
    assert "Not approved" in text


def test_a_ready_artifact_is_never_overwritten_a_second_request_makes_a_new_one(
    world, signed, django_capture_on_commit_callbacks
):
    first = request_rendered(world.alice, signed, django_capture_on_commit_callbacks)
    first_bytes = first.file.read()
    assert dossier_render(artifact_id=first.pk).sha256 == first.sha256
    second = request_rendered(world.rita, signed, django_capture_on_commit_callbacks)
    assert second.pk != first.pk
    assert second.status == ArtifactStatus.READY
    assert second.file.name != first.file.name
    kept = DossierArtifact.objects.get(pk=first.pk)
    assert (kept.status, kept.sha256, kept.file.name, kept.rendered_at) == (
        first.status,
        first.sha256,
        first.file.name,
        first.rendered_at,
    )
    assert kept.file.read() == first_bytes


def test_nothing_is_dispatched_when_the_request_rolls_back(world, signed, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks, pytest.raises(RuntimeError), transaction.atomic():
        dossier_request(actor=world.alice, shipment=signed)
        raise RuntimeError("rolled back")
    assert callbacks == []
    assert not DossierArtifact.objects.exists()


def test_a_failed_rendering_says_why_and_stores_nothing(world, signed, django_capture_on_commit_callbacks, monkeypatch):
    def broken(html):
        raise RuntimeError("no fonts")

    monkeypatch.setattr("documents.dossier._pdf", broken)
    artifact = request_rendered(world.alice, signed, django_capture_on_commit_callbacks)
    assert artifact.status == ArtifactStatus.FAILED
    assert artifact.error == "no fonts"
    assert artifact.file.name == ""
    assert not AuditEvent.objects.filter(action="dossier.rendered").exists()


def test_charlie_cannot_render_follow_or_download_another_sponsors_dossier(
    world, signed, client, django_capture_on_commit_callbacks
):
    artifact = request_rendered(world.alice, signed, django_capture_on_commit_callbacks)
    with pytest.raises(Shipment.DoesNotExist):
        dossier_request(actor=world.charlie, shipment=signed)
    client.force_login(world.charlie)
    assert client.post(reverse("dossiers:render", args=[signed.reference])).status_code == 404
    assert client.post(reverse("dossiers:render", args=[signed.reference]), HTTP_HX_REQUEST="true").status_code == 404
    assert client.get(reverse("dossiers:progress", args=[artifact.pk])).status_code == 404
    assert client.get(reverse("dossiers:download", args=[artifact.pk])).status_code == 404
    assert DossierArtifact.objects.count() == 1


def test_render_view_redirects_back_or_answers_htmx_with_the_progress_row(
    world, signed, client, django_capture_on_commit_callbacks
):
    client.force_login(world.victor)
    url = reverse("dossiers:render", args=[signed.reference])
    with django_capture_on_commit_callbacks(execute=False):
        response = client.post(url)
    assert response.status_code == 302
    assert response["Location"] == f"{signed.get_absolute_url()}#dossier"
    with django_capture_on_commit_callbacks(execute=False):
        response = client.post(url, HTTP_HX_REQUEST="true")
    artifact = DossierArtifact.objects.order_by("-pk").first()
    assert response.status_code == 200
    body = response.content.decode()
    assert f'id="artifact-{artifact.pk}"' in body
    assert 'hx-trigger="every 1s"' in body
    assert "dossier-no-artifacts" not in body
    assert client.get(url).status_code == 405


def test_progress_polls_while_pending_and_offers_the_download_when_ready(world, signed, client):
    artifact = DossierArtifact.objects.create(shipment=signed, requested_by=world.alice)
    client.force_login(world.alice)
    url = reverse("dossiers:progress", args=[artifact.pk])
    pending = client.get(url).content.decode()
    assert f'hx-get="{url}"' in pending
    assert 'hx-trigger="every 1s"' in pending
    assert "<progress" in pending
    dossier_render(artifact_id=artifact.pk)
    ready = client.get(url).content.decode()
    assert "hx-trigger" not in ready
    assert reverse("dossiers:download", args=[artifact.pk]) in ready
    assert DossierArtifact.objects.get(pk=artifact.pk).sha256 in ready


def test_shipment_page_shows_the_dossier_card_with_renderings(
    world, signed, client, django_capture_on_commit_callbacks
):
    artifact = request_rendered(world.alice, signed, django_capture_on_commit_callbacks)
    client.force_login(world.alice)
    page = client.get(signed.get_absolute_url()).content.decode()
    assert reverse("dossiers:render", args=[signed.reference]) in page
    assert 'hx-post="' in page
    assert artifact.sha256 in page
    assert reverse("dossiers:download", args=[artifact.pk]) in page
    assert "Rita Reviewer" in page


def test_download_is_an_attachment_with_the_verified_bytes(world, signed, client, django_capture_on_commit_callbacks):
    artifact = request_rendered(world.alice, signed, django_capture_on_commit_callbacks)
    client.force_login(world.sam)
    response = client.get(reverse("dossiers:download", args=[artifact.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith(f'attachment; filename="dossier-{signed.reference}-')
    assert response["X-Content-Type-Options"] == "nosniff"
    assert hashlib.sha256(response.content).hexdigest() == artifact.sha256


def test_download_refuses_a_file_that_no_longer_matches_its_hash(
    world, signed, client, django_capture_on_commit_callbacks
):
    artifact = request_rendered(world.alice, signed, django_capture_on_commit_callbacks)
    with open(artifact.file.path, "ab") as stored:
        stored.write(b"% appended later\n")
    client.force_login(world.alice)
    response = client.get(reverse("dossiers:download", args=[artifact.pk]))
    assert response.status_code == 409
    assert b"does not match" in response.content


def test_download_of_an_artifact_not_yet_ready_is_404(world, signed, client):
    artifact = DossierArtifact.objects.create(shipment=signed, requested_by=world.alice)
    client.force_login(world.alice)
    assert client.get(reverse("dossiers:download", args=[artifact.pk])).status_code == 404


def test_command_writes_the_pdf_and_stores_the_artifact(world, signed, tmp_path):
    output = tmp_path / "dossier.pdf"
    call_command("render_dossier", signed.reference, output=str(output))
    artifact = DossierArtifact.objects.get(shipment=signed)
    written = output.read_bytes()
    assert written.startswith(b"%PDF")
    assert hashlib.sha256(written).hexdigest() == artifact.sha256
    assert artifact.requested_by is None
    assert AuditEvent.objects.get(action="dossier.requested", shipment=signed).actor_label == "system"


def test_command_errors_clearly_on_a_bad_reference_or_output(world, signed, tmp_path):
    with pytest.raises(CommandError, match="no shipment NOPE-1"):
        call_command("render_dossier", "NOPE-1", output=str(tmp_path / "x.pdf"))
    with pytest.raises(CommandError, match="cannot write"):
        call_command("render_dossier", signed.reference, output=str(tmp_path / "missing" / "x.pdf"))
    with pytest.raises(CommandError, match="cannot write"):
        call_command("render_dossier", signed.reference, output=str(tmp_path))
    assert not DossierArtifact.objects.exists()


def grow(world, shipment, *, items: int, documents: int, events: int) -> None:
    for _ in range(items):
        ShipmentItemFactory(shipment=shipment)
    doc_types = ["commercial_invoice", "packing_list", "certificate_of_analysis", "gmp_certificate", "qp_release"]
    for document_type in doc_types[:documents]:
        document = Document.objects.create(
            shipment=shipment,
            side="import",
            document_type=document_type,
            owed_by_role="sponsor",
            owed_by=world.sponsor_a,
            due_date=shipment.planned_ship_date,
            status=DocumentStatus.APPROVED,
        )
        DocumentVersion.objects.create(
            document=document,
            number=1,
            file=f"documents/{shipment.pk}/{document_type}",
            original_name=f"{document_type}.pdf",
            size=10,
            content_type="application/pdf",
            sha256="0" * 64,
            uploaded_by=world.alice,
            review_decision="approved",
            reviewed_by=world.rita,
            reviewed_at=timezone.now(),
        )
    for n in range(events):
        with transaction.atomic():
            record_event(
                actor=world.alice,
                action="shipment.note",
                target=shipment,
                shipment=shipment,
                changes={"declared_value": [str(n), str(Decimal(n + 1))]},
            )
    sign(world, shipment)


def test_dossier_html_needs_the_same_few_queries_whatever_the_size(world, django_assert_max_num_queries):
    small, large = world.shipment(), world.shipment()
    grow(world, small, items=1, documents=1, events=1)
    grow(world, large, items=15, documents=5, events=60)
    counts = []
    for shipment, documents in ((small, 1), (large, 5)):
        fresh = Shipment.objects.get(pk=shipment.pk)
        with django_assert_max_num_queries(13) as captured:
            html = dossier_html(fresh)
        counts.append(len(captured.captured_queries))
        assert html.count('<tbody class="document">') == documents
    assert counts[0] == counts[1]


def test_the_progress_partial_costs_a_few_queries_pending_or_ready(
    world, signed, client, django_assert_max_num_queries
):
    artifact = DossierArtifact.objects.create(shipment=signed, requested_by=world.alice)
    client.force_login(world.alice)
    url = reverse("dossiers:progress", args=[artifact.pk])
    client.get(url)
    with django_assert_max_num_queries(PROGRESS_MAX_QUERIES):
        assert "<progress" in client.get(url).content.decode()
    dossier_render(artifact_id=artifact.pk)
    with django_assert_max_num_queries(PROGRESS_MAX_QUERIES):
        assert reverse("dossiers:download", args=[artifact.pk]) in client.get(url).content.decode()
