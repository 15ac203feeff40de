"""The shipment page: header and actions (allowed, refused with reasons, asking for input in a modal), route and
parties by name, items, the timeline, the checklist, the dossier card and the audit trail; who sees it, and a query
count that does not grow with the shipment."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from documents.models import Document
from documents.services import document_version_upload
from ior_platform.core.audit import record_event
from shipments import services
from shipments.choices import ShipmentStatus as S
from shipments.models import Shipment
from tests.conftest import force_status, pdf_bytes, warm_query_counts
from tests.documents.test_uploads import upload
from tests.factories import ShipmentItemFactory


def page(client, user, shipment) -> str:
    client.force_login(user)
    response = client.get(shipment.get_absolute_url())
    assert response.status_code == 200
    return response.content.decode()


def section(body: str, element_id: str) -> str:
    """The HTML from the element with `element_id` to the end of its tag's block, good enough to scope a check."""
    start = body.index(f'id="{element_id}"')
    tag = body.rfind("<", 0, start)
    name = re.match(r"<(\w+)", body[tag:]).group(1)
    depth, position = 0, tag
    for match in re.finditer(rf"<(/?){name}\b", body[tag:]):
        depth += -1 if match.group(1) else 1
        if depth == 0:
            position = tag + match.end()
            break
    return body[tag:position]


def test_anonymous_is_sent_to_sign_in(client, world):
    shipment = world.shipment()
    for url in (shipment.get_absolute_url(), reverse("shipments:actions", args=[shipment.reference])):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))


def test_charlie_gets_404_for_the_page_and_its_actions(client, world):
    shipment = world.shipment()
    client.force_login(world.charlie)
    for url in (shipment.get_absolute_url(), reverse("shipments:actions", args=[shipment.reference])):
        response = client.get(url)
        assert response.status_code == 404
        assert shipment.reference not in response.content.decode()


def test_the_page_names_the_trial_the_route_and_every_party(client, world):
    shipment = world.shipment(items=2)
    body = page(client, world.alice, shipment)
    header = section(body, "shipment-actions")
    assert shipment.reference in header
    assert 'data-status="draft"' in header
    assert f"{world.trial.protocol_number}</span> – {world.trial.title}" in header
    assert "United States → Brazil" in header
    parties = section(body, "parties-title")
    assert parties
    for organization in (world.sponsor_a, world.ior, world.eor, world.site, world.broker, world.courier):
        assert organization.name in body
    assert 'Brasil IOR Ltda</span><span class="d-block small text-body-secondary">Brazil' in body
    items = section(body, "items")
    assert items.count("ABC-123 100 mg vial") == 2
    assert "120 vials" in items
    assert "USD 24,000.00" in items


def test_an_editor_gets_enabled_buttons_and_a_modal_for_what_needs_a_reason(client, world):
    shipment = world.shipment()
    header = section(page(client, world.alice, shipment), "shipment-actions")
    submit_form = f'action="{reverse("shipments:transition", args=[shipment.reference, "submit"])}"'
    assert submit_form in header
    assert re.search(r'<button type="submit" class="btn btn-primary" data-action="submit">Submit</button>', header)
    assert 'data-bs-target="#action-cancel"' in header
    modal = section(header, "action-cancel")
    assert 'name="reason"' in modal and "required" in modal
    assert f'action="{reverse("shipments:transition", args=[shipment.reference, "cancel"])}"' in modal
    assert f'href="{reverse("shipments:edit", args=[shipment.reference])}"' in header
    assert "Not available to you now" not in header


def test_a_viewer_sees_every_action_disabled_with_its_reason(client, world):
    shipment = world.shipment()
    header = section(page(client, world.victor, shipment), "shipment-actions")
    assert "data-bs-target" not in header
    assert 'type="submit"' not in header.split('class="dropdown-menu')[0]
    for name in ("submit", "cancel"):
        assert re.search(rf'disabled aria-disabled="true" aria-describedby="why-{name}" data-action="{name}"', header)
    reasons = section(header, "why-submit")
    assert "Only editors or managers of the shipment&#x27;s sponsor may submit this shipment." in reasons
    assert "Only editors or managers of the shipment&#x27;s sponsor may edit this shipment." in section(
        header, "why-edit"
    )


def test_guard_reasons_are_shown_next_to_the_disabled_button(client, world):
    shipment = world.shipment(consignee=None)
    header = section(page(client, world.alice, shipment), "shipment-actions")
    assert 'aria-describedby="why-submit"' in header
    assert "No consignee assigned to receive the goods." in section(header, "why-submit")


def test_dispatch_asks_for_the_air_waybill_instead_of_refusing_for_lack_of_it(client, world):
    shipment = force_status(world.shipment(), S.EXPORT_CLEARED)
    header = section(page(client, world.eddie, shipment), "shipment-actions")
    assert 'data-bs-target="#action-dispatch"' in header
    modal = section(header, "action-dispatch")
    assert 'name="airway_bill"' in modal and 'name="tracking_number"' in modal
    response = client.post(
        reverse("shipments:transition", args=[shipment.reference, "dispatch"]),
        {"airway_bill": "020-1234 5675"},
        follow=True,
    )
    assert Shipment.objects.get(pk=shipment.pk).status == S.IN_TRANSIT
    timeline = section(response.content.decode(), "timeline")
    assert "Dispatched" in timeline
    assert 'Air waybill</span> <span class="fw-medium text-break">020-1234 5675' in timeline


def test_dispatch_without_any_tracking_is_refused_with_the_guard_reason(client, world):
    shipment = force_status(world.shipment(), S.EXPORT_CLEARED)
    client.force_login(world.eddie)
    response = client.post(reverse("shipments:transition", args=[shipment.reference, "dispatch"]), follow=True)
    assert Shipment.objects.get(pk=shipment.pk).status == S.EXPORT_CLEARED
    assert "No air waybill or tracking number recorded." in response.content.decode()


def test_approve_opens_a_signature_modal_for_the_reviewer(client, world):
    shipment = force_status(world.shipment(), S.DOSSIER_REVIEW)
    header = section(page(client, world.rita, shipment), "shipment-actions")
    assert 'data-bs-target="#action-approve"' in header
    modal = section(header, "action-approve")
    assert 'type="password" name="password"' in modal and 'autocomplete="current-password" required' in modal
    assert "Signing means: <strong>I approve this dossier.</strong>" in modal
    assert "Sign and approve" in modal
    assert 'name="reason"' in section(header, "action-reject")


def test_the_timeline_tells_the_story_in_order_with_reasons_and_planned_dates(client, world, requirements):
    draft = world.shipment()
    record_event(actor=world.alice, action="shipment.created", target=draft, shipment=draft)
    shipment = services.shipment_submit(actor=world.alice, shipment=draft)
    services.shipment_cancel(actor=world.alice, shipment=shipment, reason="Site closed for enrolment")
    body = page(client, world.alice, Shipment.objects.get(pk=shipment.pk))
    timeline = section(body, "timeline")
    created, submitted, cancelled = (timeline.index(t) for t in ("Draft created", "Submitted", "Cancelled"))
    assert created < submitted < cancelled
    assert "from draft" in timeline and "from permit collection" in timeline
    assert "“Site closed for enrolment”" in timeline
    assert "Alice (Sponsor A Pharma)" in timeline
    assert "Planned ship date" not in timeline, "a cancelled shipment has no dates ahead"


def test_an_open_shipment_shows_its_planned_dates_last(client, world):
    ship_day = timezone.localdate() + timedelta(days=30)
    shipment = world.shipment(planned_ship_date=ship_day, required_at_site_date=ship_day + timedelta(days=5))
    record_event(actor=world.alice, action="shipment.created", target=shipment, shipment=shipment)
    timeline = section(page(client, world.alice, shipment), "timeline")
    assert timeline.index("Draft created") < timeline.index("Planned ship date") < timeline.index("Required at site")
    assert ship_day.strftime("%-d %b %Y") in timeline


def test_the_audit_trail_is_collapsible_and_newest_first_with_who_what_when_why(client, world, requirements):
    shipment = services.shipment_submit(actor=world.alice, shipment=world.shipment())
    services.shipment_cancel(actor=world.mona, shipment=shipment, reason="Protocol amended")
    body = page(client, world.alice, Shipment.objects.get(pk=shipment.pk))
    audit = section(body, "audit")
    assert 'data-bs-toggle="collapse" data-bs-target="#audit-events"' in audit
    assert 'class="collapse" id="audit-events"' in audit
    assert audit.index("Shipment: cancel") < audit.index("Shipment: submit")
    cancel_row = audit[audit.index("<tr", audit.index("<tbody")) : audit.index("Shipment: cancel") + 600]
    assert "Mona" in cancel_row and "Sponsor A Pharma" in cancel_row
    assert "Protocol amended" in cancel_row
    assert "<del>Permit collection</del> → Cancelled" in cancel_row
    assert re.search(r"<time datetime=\"[^\"]+\">\d{1,2} \w{3} \d{4} \d\d:\d\d", cancel_row)


def test_times_are_shown_in_the_users_time_zone_with_the_zone_named(client, world, requirements):
    world.alice.time_zone = "America/Sao_Paulo"
    world.alice.save(update_fields=["time_zone"])
    shipment = services.shipment_submit(actor=world.alice, shipment=world.shipment())
    timeline = section(page(client, world.alice, shipment), "timeline")
    assert "-03" in timeline
    assert " UTC" not in timeline


def test_overdue_documents_are_marked_and_counted(client, world, requirements):
    shipment = services.shipment_submit(actor=world.alice, shipment=world.shipment())
    permit = shipment.documents.get(document_type="import_permit")
    Document.objects.filter(pk=permit.pk).update(due_date=timezone.localdate() - timedelta(days=2))
    checklist = section(page(client, world.alice, shipment), "checklist")
    entry = section(checklist, f"document-{permit.pk}")
    assert "is-overdue" in entry
    assert 'data-status="overdue"' in entry
    assert "1 overdue" in checklist
    declaration = shipment.documents.get(document_type="export_declaration")
    assert "is-overdue" not in section(checklist, f"document-{declaration.pk}")


def test_the_dossier_card_offers_a_render_and_shows_progress(client, world, requirements):
    from documents.models import DossierArtifact

    shipment = services.shipment_submit(actor=world.alice, shipment=world.shipment())
    artifact = DossierArtifact.objects.create(shipment=shipment, requested_by=world.alice, progress=40)
    dossier = section(page(client, world.alice, shipment), "dossier")
    assert f'hx-post="{reverse("dossiers:render", args=[shipment.reference])}"' in dossier
    assert '<progress class="dossier-progress" max="100" value="40"' in dossier
    assert f'hx-get="{reverse("dossiers:progress", args=[artifact.pk])}"' in dossier
    assert "style=" not in dossier


def test_the_page_has_no_inline_script_style_or_handler(client, world, requirements):
    shipment = services.shipment_submit(actor=world.alice, shipment=world.shipment())
    body = page(client, world.ivan, shipment)
    assert not re.search(r"<script(?![^>]*\bsrc=)", body)
    assert not re.search(r"\sstyle=\"", body)
    assert not re.search(r"\son[a-z]+=\"", body)


def _grow(world, shipment, n: int) -> None:
    """n more items, n more checklist documents each with a version, and so n more audit events."""
    types = [
        "commercial_invoice",
        "packing_list",
        "certificate_of_analysis",
        "gmp_certificate",
        "qp_release",
        "safety_data_sheet",
        "certificate_of_origin",
        "ethics_approval",
        "letter_of_authorisation",
    ]
    for index in range(n):
        ShipmentItemFactory(shipment=shipment)
        document = Document.objects.create(
            shipment=shipment,
            side="import",
            document_type=types[index],
            owed_by_role="sponsor",
            owed_by=world.sponsor_a,
            due_date=timezone.localdate() + timedelta(days=index),
        )
        document_version_upload(
            actor=world.alice, document=document, uploaded_file=upload(f"d{index}.pdf", pdf_bytes(str(index).encode()))
        )


@pytest.mark.parametrize("persona", ["alice", "ivan"])
def test_queries_do_not_grow_with_items_documents_and_events(client, world, requirements, persona):
    small = services.shipment_submit(actor=world.alice, shipment=world.shipment())
    large = services.shipment_submit(actor=world.alice, shipment=world.shipment())
    _grow(world, small, 2)
    _grow(world, large, 6)
    client.force_login(getattr(world, persona))
    counts, response = warm_query_counts(client, [s.get_absolute_url() for s in (small, large)])
    assert counts[0] == counts[1], counts
    body = response.content.decode()
    assert body.count('class="doc-entry') == 8
    assert section(body, "items").count("ABC-123 100 mg vial") == 7


@pytest.mark.parametrize("name", ["shipments:actions", "shipments:record"])
@pytest.mark.parametrize("persona", ["alice", "ivan"])
def test_the_actions_partial_and_the_record_do_not_grow_with_the_shipment(client, world, requirements, name, persona):
    small = services.shipment_submit(actor=world.alice, shipment=world.shipment())
    large = services.shipment_submit(actor=world.alice, shipment=world.shipment())
    _grow(world, small, 3)
    _grow(world, large, 6)
    client.force_login(getattr(world, persona))
    counts, response = warm_query_counts(client, [reverse(name, args=[s.reference]) for s in (small, large)])
    assert counts[0] == counts[1], counts
    if name == "shipments:record":
        assert response.content.decode().count('"original_name"') >= 6
    else:
        assert 'data-action="submit_dossier"' in response.content.decode()
