"""The review pages: the IOR reviewer's queue, one shipment's documents previewed inline with approve or reject,
the dossier signature in its modal, and who reaches them (404 for another tenant, 403 for someone who sees the
shipment but does not review it)."""

import re
from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from documents.models import Document, DocumentVersion, ElectronicSignature, SigningAttempt
from documents.services import document_review, document_version_upload
from ior_platform.core.models import AuditEvent
from shipments import services
from shipments.choices import ShipmentStatus as S
from shipments.models import Shipment
from tests.conftest import days, force_status, pdf_bytes, pdf_file
from tests.documents.test_uploads import make_image, make_office, upload
from tests.factories import DEMO_PASSWORD, OrganizationFactory, UserFactory

HX = {"HTTP_HX_REQUEST": "true"}
# Document types that are no permit, so the ledger's guard asks nothing of them.
PLAIN_TYPES = [
    "commercial_invoice",
    "proforma_invoice",
    "packing_list",
    "certificate_of_analysis",
    "gmp_certificate",
    "qp_release",
    "ethics_approval",
    "regulatory_approval",
    "safety_data_sheet",
    "certificate_of_origin",
    "temperature_record",
    "letter_of_authorisation",
]


def queue_url() -> str:
    return reverse("reviews:queue")


def review_url(shipment) -> str:
    return reverse("reviews:review", args=[shipment.reference])


def decide_url(version) -> str:
    return reverse("reviews:decide", args=[version.pk])


def sign_url(shipment) -> str:
    return reverse("reviews:sign", args=[shipment.reference])


def preview_url(version) -> str:
    return reverse("reviews:preview", args=[version.pk])


@pytest.fixture
def in_review(world, requirements, brazil_permit):
    """Sponsor A's shipment in dossier review: the IOR uploaded the import permit as a PDF, the EOR the export
    declaration as a PNG scan; neither is reviewed yet."""
    shipment = services.shipment_submit(actor=world.alice, shipment=world.shipment())
    permit = shipment.documents.get(document_type="import_permit")
    declaration = shipment.documents.get(document_type="export_declaration")
    document_version_upload(actor=world.ivan, document=permit, uploaded_file=pdf_file("consent.pdf"))
    document_version_upload(
        actor=world.eddie, document=declaration, uploaded_file=upload("eei.png", make_image("PNG"), "image/png")
    )
    return services.shipment_submit_dossier(actor=world.alice, shipment=Shipment.objects.get(pk=shipment.pk))


def newest(shipment, document_type: str) -> DocumentVersion:
    return DocumentVersion.objects.filter(document__shipment=shipment, document__document_type=document_type).first()


def approve_all(world, shipment) -> Shipment:
    for document in shipment.documents.all():
        document_review(actor=world.rita, version=document.versions.first(), decision="approved")
    return Shipment.objects.get(pk=shipment.pk)


def waiting_shipment(world, *, status: str, waited: timedelta, documents: int = 2, uploaded: int = 1, **kwargs):
    """A shipment of sponsor A in `status` for `waited`, with `documents` checklist entries owed by the sponsor, of
    which the first `uploaded` have a version awaiting review, uploaded when the wait began."""
    shipment = force_status(world.shipment(**kwargs), S.PERMIT_COLLECTION)
    began = timezone.now() - waited
    for position, document_type in enumerate(PLAIN_TYPES[:documents]):
        document = Document.objects.create(
            shipment=shipment,
            side="import",
            document_type=document_type,
            owed_by_role="sponsor",
            owed_by=world.sponsor_a,
            due_date=days(5),
        )
        if position < uploaded:
            version = document_version_upload(
                actor=world.alice, document=document, uploaded_file=pdf_file(body=f"{document_type}".encode())
            )
            DocumentVersion.objects.filter(pk=version.pk).update(uploaded_at=began)
    Shipment.objects.filter(pk=shipment.pk).update(status=status, status_changed_at=began)
    return Shipment.objects.get(pk=shipment.pk)


def references_in(body: str) -> list[str]:
    return re.findall(r'data-reference="([^"]+)"', body)


def section(body: str, testid: str) -> str:
    start = body.index(f'data-testid="{testid}"')
    return body[start : body.index("</section>", start)]


# Who reaches the pages


def test_anonymous_is_sent_to_sign_in(client, in_review):
    version = newest(in_review, "import_permit")
    for response in (
        client.get(queue_url()),
        client.get(review_url(in_review)),
        client.get(preview_url(version)),
        client.post(decide_url(version), {"decision": "approved"}),
        client.post(sign_url(in_review), {"meaning": "approved", "password": DEMO_PASSWORD}),
    ):
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))
    assert not DocumentVersion.objects.exclude(review_decision="").exists()


def test_charlie_gets_404_for_everything_of_sponsor_a(client, world, in_review):
    version = newest(in_review, "import_permit")
    client.force_login(world.charlie)
    assert client.get(review_url(in_review)).status_code == 404
    assert client.get(reverse("reviews:review", args=["SHP-NOPE"])).status_code == 404
    assert client.get(preview_url(version)).status_code == 404
    assert client.post(decide_url(version), {"decision": "approved"}, **HX).status_code == 404
    response = client.post(sign_url(in_review), {"meaning": "rejected", "comment": "not mine"}, **HX)
    assert response.status_code == 404
    assert Shipment.objects.get(pk=in_review.pk).status == S.DOSSIER_REVIEW
    assert not DocumentVersion.objects.exclude(review_decision="").exists()


def test_a_reviewer_of_another_organization_sees_an_empty_queue_and_404s(client, world, in_review):
    other_ior = OrganizationFactory(name="Another IOR", country="BR", roles=["ior"])
    rhea = UserFactory(username="rhea", organization=other_ior, roles=["reviewer"])
    client.force_login(rhea)
    body = client.get(queue_url()).content.decode()
    assert 'data-testid="queue-empty"' in body
    assert in_review.reference not in body
    assert client.get(review_url(in_review)).status_code == 404


@pytest.mark.parametrize("persona", ["alice", "victor", "ivan", "imelda", "eddie"])
def test_people_who_see_the_shipment_but_do_not_review_get_403(client, world, in_review, persona):
    user = getattr(world, persona)
    version = newest(in_review, "import_permit")
    client.force_login(user)
    assert client.get(review_url(in_review)).status_code == 403
    assert client.post(decide_url(version), {"decision": "approved"}, **HX).status_code == 403
    assert client.post(sign_url(in_review), {"meaning": "rejected", "comment": "x"}, **HX).status_code == 403
    assert client.get(queue_url()).status_code == 403
    assert Shipment.objects.get(pk=in_review.pk).status == S.DOSSIER_REVIEW
    assert not DocumentVersion.objects.exclude(review_decision="").exists()


# The queue


def test_queue_lists_dossiers_and_uploads_oldest_first_with_their_age(client, world):
    recent = waiting_shipment(world, status=S.DOSSIER_REVIEW, waited=timedelta(days=1, hours=2), documents=3)
    oldest = waiting_shipment(world, status=S.DOSSIER_REVIEW, waited=timedelta(days=3, hours=5), uploaded=2)
    collecting = waiting_shipment(world, status=S.PERMIT_COLLECTION, waited=timedelta(hours=5))
    nothing_uploaded = waiting_shipment(world, status=S.PERMIT_COLLECTION, waited=timedelta(days=9), uploaded=0)
    approved = waiting_shipment(world, status=S.APPROVED, waited=timedelta(days=9))
    other_ior = OrganizationFactory(name="Another IOR", country="BR", roles=["ior"])
    not_ours = waiting_shipment(world, status=S.DOSSIER_REVIEW, waited=timedelta(days=20), ior=other_ior)
    client.force_login(world.rita)
    response = client.get(queue_url())
    assert response.status_code == 200
    body = response.content.decode().replace("\xa0", " ")
    dossiers, uploads = section(body, "queue-dossiers"), section(body, "queue-uploads")
    assert references_in(dossiers) == [oldest.reference, recent.reference]
    assert references_in(uploads) == [collecting.reference]
    for absent in (nothing_uploaded, approved, not_ours):
        assert absent.reference not in body
    oldest_row = dossiers[dossiers.index(oldest.reference) : dossiers.index(recent.reference)]
    assert "waiting 3 days" in oldest_row
    assert "2 to review" in oldest_row
    assert "0 of 2 approved" in oldest_row
    assert f'href="{review_url(oldest)}"' in oldest_row
    assert "SPA-301" in oldest_row
    assert "United States → Brazil" in oldest_row
    assert "waiting 1 day" in dossiers[dossiers.index(recent.reference) :]
    assert "waiting 5 hours" in uploads
    assert "1 to review" in uploads


def test_a_dossier_with_every_document_approved_is_ready_to_sign(client, world, in_review):
    approve_all(world, in_review)
    client.force_login(world.rita)
    body = section(client.get(queue_url()).content.decode(), "queue-dossiers")
    assert "Ready to sign" in body
    assert "2 of 2 approved" in body
    assert "to review" not in body


def test_empty_queue_says_what_appears_here(client, world):
    client.force_login(world.rita)
    body = client.get(queue_url()).content.decode()
    assert "Nothing is waiting for review" in body
    assert "Brasil IOR Ltda is the importer of record" in body


def test_queue_queries_do_not_grow_with_the_shipments(client, world):
    def build(n: int) -> None:
        for _ in range(n):
            waiting_shipment(world, status=S.DOSSIER_REVIEW, waited=timedelta(days=2), documents=2, uploaded=1)
            waiting_shipment(world, status=S.PERMIT_COLLECTION, waited=timedelta(days=1), documents=2, uploaded=1)

    client.force_login(world.rita)
    build(2)
    with CaptureQueriesContext(connection) as few:
        body = client.get(queue_url()).content.decode()
    assert len(references_in(body)) == 4
    build(4)
    with CaptureQueriesContext(connection) as many:
        body = client.get(queue_url()).content.decode()
    assert len(references_in(body)) == 12
    assert len(many) == len(few)


# The review page


def test_review_page_previews_each_current_version_inline(client, world, in_review):
    permit, scan = newest(in_review, "import_permit"), newest(in_review, "export_declaration")
    client.force_login(world.rita)
    response = client.get(review_url(in_review))
    assert response.status_code == 200
    body = response.content.decode()
    assert f'<iframe src="{preview_url(permit)}#view=FitH&amp;navpanes=0" title="Preview of consent.pdf"' in body
    assert f'<img src="{preview_url(scan)}" alt="Export declaration (export), version 1 (eei.png)"' in body
    assert f'href="{reverse("documents:download", args=[permit.pk])}"' in body
    assert f'hx-post="{decide_url(permit)}"' in body
    assert f'hx-post="{decide_url(scan)}"' in body
    assert "SPA-301" in body
    assert "Sponsor A Pharma" in body
    assert "Approval is not possible yet" in body
    assert "2 required documents not approved" in body
    assert 'id="signature-modal"' in body


def test_a_document_without_a_preview_offers_its_download(client, world, in_review):
    permit = in_review.documents.get(document_type="import_permit")
    docx = document_version_upload(
        actor=world.ivan, document=permit, uploaded_file=upload("consent.docx", make_office())
    )
    client.force_login(world.rita)
    body = client.get(review_url(in_review)).content.decode()
    assert "No preview for this kind of file" in body
    assert f'href="{reverse("documents:download", args=[docx.pk])}"' in body
    assert preview_url(docx) not in body
    assert "Earlier versions (1)" in body
    assert client.get(preview_url(docx)).status_code == 404


def test_preview_is_inline_frameable_by_the_site_only_and_hardened(client, world, in_review):
    permit, scan = newest(in_review, "import_permit"), newest(in_review, "export_declaration")
    client.force_login(world.rita)
    response = client.get(preview_url(permit))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == pdf_bytes()
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == 'inline; filename="consent.pdf"'
    assert response["X-Frame-Options"] == "SAMEORIGIN"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"] == "sandbox"
    assert response["Cache-Control"] == "private, no-store"
    image = client.get(preview_url(scan))
    assert image["Content-Type"] == "image/png"
    assert image["Content-Disposition"] == 'inline; filename="eei.png"'
    assert client.get(review_url(in_review))["X-Frame-Options"] == "DENY"


def test_review_page_queries_do_not_grow_with_the_documents(client, world):
    few_docs = waiting_shipment(world, status=S.DOSSIER_REVIEW, waited=timedelta(days=1), documents=4, uploaded=4)
    many_docs = waiting_shipment(world, status=S.DOSSIER_REVIEW, waited=timedelta(days=1), documents=12, uploaded=12)
    client.force_login(world.rita)
    client.get(review_url(few_docs))
    with CaptureQueriesContext(connection) as few:
        body = client.get(review_url(few_docs)).content.decode()
    assert body.count('class="card shadow-sm mb-3 review-doc"') == 4
    with CaptureQueriesContext(connection) as many:
        body = client.get(review_url(many_docs)).content.decode()
    assert body.count('class="card shadow-sm mb-3 review-doc"') == 12
    assert len(many) == len(few)


# Deciding on one document


def test_approving_a_document_swaps_its_card_and_updates_the_dossier_panels(client, world, in_review):
    version = newest(in_review, "import_permit")
    client.force_login(world.rita)
    response = client.post(decide_url(version), {"decision": "approved", "comment": "Matches ANVISA's LI."}, **HX)
    assert response.status_code == 200
    body = response.content.decode()
    assert body.lstrip().startswith(
        f'<article class="card shadow-sm mb-3 review-doc" id="document-{version.document_id}"'
    )
    assert 'data-testid="decision"' in body
    assert "<strong>Approved</strong> by Rita" in body
    assert "“Matches ANVISA&#x27;s LI.”" in body
    assert '<section class="card shadow-sm mb-3" id="review-summary"' in body
    assert 'id="signature-panel" aria-labelledby="signature-panel-heading" hx-swap-oob="true"' in body
    assert "1 of 2</strong> approved" in body
    version.refresh_from_db()
    assert (version.review_decision, version.reviewed_by, version.review_comment) == (
        "approved",
        world.rita,
        "Matches ANVISA's LI.",
    )
    assert version.document.status == "approved"
    assert AuditEvent.objects.filter(action="document.approved", actor=world.rita).count() == 1


def test_approving_the_last_document_makes_the_dossier_ready_to_sign(client, world, in_review):
    document_review(actor=world.rita, version=newest(in_review, "import_permit"), decision="approved")
    client.force_login(world.rita)
    body = client.post(decide_url(newest(in_review, "export_declaration")), {"decision": "approved"}, **HX)
    assert 'data-testid="ready-to-sign"' in body.content.decode()


def test_rejecting_without_a_comment_is_refused_next_to_the_field(client, world, in_review):
    version = newest(in_review, "import_permit")
    client.force_login(world.rita)
    response = client.post(decide_url(version), {"decision": "rejected", "comment": "   "}, **HX)
    assert response.status_code == 200
    body = response.content.decode()
    assert 'class="form-control is-invalid"' in body
    assert "Say why the document is rejected, so the owing party can fix it." in body
    assert f'hx-post="{decide_url(version)}"' in body
    version.refresh_from_db()
    assert version.review_decision == ""
    assert version.document.status == "uploaded"
    assert not AuditEvent.objects.filter(action="document.rejected").exists()


def test_rejecting_with_a_comment_records_it(client, world, in_review):
    version = newest(in_review, "export_declaration")
    client.force_login(world.rita)
    body = client.post(decide_url(version), {"decision": "rejected", "comment": "Scan is illegible"}, **HX)
    assert "<strong>Rejected</strong> by Rita" in body.content.decode()
    version.refresh_from_db()
    assert (version.review_decision, version.review_comment, version.document.status) == (
        "rejected",
        "Scan is illegible",
        "rejected",
    )


def test_a_plain_form_post_redirects_back_with_a_message(client, world, in_review):
    version = newest(in_review, "import_permit")
    client.force_login(world.rita)
    response = client.post(decide_url(version), {"decision": "rejected", "comment": ""})
    assert response.status_code == 302
    assert response["Location"] == f"{review_url(in_review)}#document-{version.document_id}"
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        "Say why the document is rejected, so the owing party can fix it."
    ]
    response = client.post(decide_url(version), {"decision": "approved"}, follow=True)
    assert "Import permit / licence (import): approved." in response.content.decode()


@pytest.mark.parametrize("data", [{"decision": "maybe"}, {}, {"decision": "approved", "comment": "x" * 2001}])
def test_a_forged_decision_is_a_form_error(client, world, in_review, data):
    version = newest(in_review, "import_permit")
    client.force_login(world.rita)
    response = client.post(decide_url(version), data, **HX)
    assert response.status_code == 200
    body = response.content.decode()
    assert 'data-testid="decision-errors"' in body or 'class="form-control is-invalid"' in body
    version.refresh_from_db()
    assert version.review_decision == ""


def test_a_version_superseded_meanwhile_is_refused_with_the_services_reason(client, world, in_review):
    old = newest(in_review, "import_permit")
    document_version_upload(actor=world.ivan, document=old.document, uploaded_file=pdf_file(body=b"v2"))
    client.force_login(world.rita)
    body = client.post(decide_url(old), {"decision": "approved"}, **HX).content.decode()
    assert "A newer version of this document was uploaded; review that one." in body
    old.refresh_from_db()
    assert old.review_decision == ""


def test_decisions_close_once_the_dossier_is_approved(client, world, in_review):
    shipment = force_status(in_review, S.APPROVED)
    version = newest(shipment, "import_permit")
    client.force_login(world.rita)
    body = client.get(review_url(shipment)).content.decode()
    assert "so its decisions below are the record" in body
    assert "hx-post" not in body
    assert 'id="signature-modal"' not in body
    response = client.post(decide_url(version), {"decision": "approved"}, **HX)
    assert "Documents can be reviewed only during permit collection or dossier review" in response.content.decode()
    version.refresh_from_db()
    assert version.review_decision == ""


# The dossier signature


def test_wrong_password_is_shown_in_the_modal_and_signs_nothing(client, world, in_review):
    shipment = approve_all(world, in_review)
    client.force_login(world.rita)
    response = client.post(sign_url(shipment), {"meaning": "approved", "password": "not-my-password"}, **HX)
    assert response.status_code == 200
    body = response.content.decode()
    assert body.startswith('<form id="signature-form"')
    assert 'data-testid="password-error">The password is not correct; the dossier was not signed.</div>' in body
    assert 'id="signature-password" name="password"' in body
    assert "not-my-password" not in body
    assert Shipment.objects.get(pk=shipment.pk).status == S.DOSSIER_REVIEW
    assert not ElectronicSignature.objects.exists()
    assert not AuditEvent.objects.filter(action__in=["shipment.approve", "signature.signed"]).exists()
    assert list(SigningAttempt.objects.values_list("user__username", "succeeded")) == [("rita", False)]


def test_lockout_after_three_wrong_passwords_is_shown_in_the_modal(client, world, in_review):
    shipment = approve_all(world, in_review)
    client.force_login(world.rita)
    for _ in range(3):
        client.post(sign_url(shipment), {"meaning": "approved", "password": "wrong"}, **HX)
    body = client.post(sign_url(shipment), {"meaning": "approved", "password": DEMO_PASSWORD}, **HX).content.decode()
    assert 'data-testid="signature-errors"' in body
    assert re.search(r"Signing is locked until \d\d:\d\d UTC after 3 wrong passwords\.", body)
    assert Shipment.objects.get(pk=shipment.pk).status == S.DOSSIER_REVIEW
    assert not ElectronicSignature.objects.exists()


def test_the_right_password_signs_approves_and_redirects_to_the_shipment(client, world, in_review):
    shipment = approve_all(world, in_review)
    client.force_login(world.rita)
    response = client.post(
        sign_url(shipment), {"meaning": "approved", "password": DEMO_PASSWORD, "comment": "Complete."}, **HX
    )
    assert response.status_code == 204
    assert response["HX-Redirect"] == shipment.get_absolute_url()
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        f"{shipment.reference} is approved: your electronic signature is recorded."
    ]
    assert Shipment.objects.get(pk=shipment.pk).status == S.APPROVED
    signature = ElectronicSignature.objects.get()
    assert (signature.signer, signature.meaning, signature.comment) == (world.rita, "approved", "Complete.")


def test_without_htmx_the_signature_redirects_or_reopens_the_modal(client, world, in_review):
    shipment = approve_all(world, in_review)
    client.force_login(world.rita)
    refused = client.post(sign_url(shipment), {"meaning": "approved", "password": ""})
    assert refused.status_code == 200
    body = refused.content.decode()
    assert 'data-open-on-load="true"' in body
    assert "Re-enter your password to sign the approval." in body
    assert not SigningAttempt.objects.exists()
    signed = client.post(sign_url(shipment), {"meaning": "approved", "password": DEMO_PASSWORD})
    assert signed.status_code == 302
    assert signed["Location"] == shipment.get_absolute_url()
    assert Shipment.objects.get(pk=shipment.pk).status == S.APPROVED


def test_rejecting_the_dossier_needs_a_reason_and_sends_it_back(client, world, in_review):
    client.force_login(world.rita)
    body = client.post(sign_url(in_review), {"meaning": "rejected", "comment": ""}, **HX).content.decode()
    assert "Say why you reject this dossier." in body
    assert Shipment.objects.get(pk=in_review.pk).status == S.DOSSIER_REVIEW
    response = client.post(sign_url(in_review), {"meaning": "rejected", "comment": "Permit scan missing a page"}, **HX)
    assert response["HX-Redirect"] == in_review.get_absolute_url()
    assert Shipment.objects.get(pk=in_review.pk).status == S.PERMIT_COLLECTION
    assert AuditEvent.objects.get(action="shipment.reject").reason == "Permit scan missing a page"


@pytest.mark.parametrize("meaning", ["reviewed", "bogus", ""])
def test_a_meaning_without_a_service_is_refused(client, world, in_review, meaning):
    shipment = approve_all(world, in_review)
    client.force_login(world.rita)
    body = client.post(sign_url(shipment), {"meaning": meaning, "password": DEMO_PASSWORD}, **HX).content.decode()
    assert "is-invalid" in body
    assert Shipment.objects.get(pk=shipment.pk).status == S.DOSSIER_REVIEW
    assert not SigningAttempt.objects.exists()


def test_approval_blocked_by_the_guards_is_explained_in_the_modal(client, world, in_review):
    client.force_login(world.rita)
    page = client.get(review_url(in_review)).content.decode()
    assert re.search(r'id="meaning-approved" value="approved"\s+disabled', page)
    body = client.post(sign_url(in_review), {"meaning": "approved", "password": DEMO_PASSWORD}, **HX).content.decode()
    assert "2 required documents not approved: Export declaration (export), Import permit / licence (import)." in body
    assert Shipment.objects.get(pk=in_review.pk).status == S.DOSSIER_REVIEW
    assert not ElectronicSignature.objects.exists()


def test_a_decision_refreshes_the_signature_forms_meanings(client, world, in_review):
    """The modal is rendered with the page: approving the last document must enable "Approved" in it, out of band."""
    client.force_login(world.rita)
    versions = [document.versions.latest("pk") for document in in_review.documents.all()]
    for version in versions:
        response = client.post(
            reverse("reviews:decide", args=[version.pk]),
            {"decision": "approved", "comment": ""},
            HTTP_HX_REQUEST="true",
        )
    body = response.content.decode()
    assert 'id="signature-form"' in body
    assert 'hx-swap-oob="outerHTML"' in body
    assert re.search(r'id="meaning-approved"[^>]*>', body) and " disabled" not in re.search(
        r'<input[^>]*id="meaning-approved"[^>]*>', body
    ).group(0)
