import datetime
from decimal import Decimal
from io import StringIO

import pytest
from django.contrib import admin
from django.core.management import call_command
from django.urls import reverse

from compliance.models import CountryProfile, DocumentRequirement, Permit, PermitDrawdown, PermitLine
from documents.models import Document, DocumentVersion
from ior_platform.core.audit import record_event
from ior_platform.core.models import AuditEvent, DeadLetter, TaskClaim
from parties.models import (
    Address,
    ApiCall,
    ApiKey,
    Contact,
    Licence,
    Membership,
    Organization,
    OrganizationRole,
    SponsorAuthorisation,
    User,
    WebhookDelivery,
    WebhookEndpoint,
)
from parties.screening import organization_screen
from shipments.models import Shipment, ShipmentItem, Site, TrackingEvent, Trial

pytestmark = pytest.mark.django_db

ADMIN_APPS = {"parties", "compliance", "shipments", "documents", "core"}


@pytest.fixture
def staff(client):
    user = User.objects.create_superuser("root", "root@example.com", "correct-horse-battery")
    client.force_login(user)
    return user


@pytest.fixture
def sponsor():
    organization = Organization.objects.create(name="Sponsor A", country="DE")
    OrganizationRole.objects.create(organization=organization, role="sponsor")
    return organization


@pytest.fixture
def trial(sponsor):
    return Trial.objects.create(protocol_number="PROT-001", title="A study", sponsor=sponsor)


def make_shipment(trial, reference, **fields):
    return Shipment.objects.create(
        reference=reference,
        trial=trial,
        sponsor=trial.sponsor,
        origin_country="US",
        origin_address="1 Depot Road, Newark",
        destination_country="BR",
        destination_address="Rua do Hospital 1, São Paulo",
        temperature_class="refrigerated",
        planned_ship_date=datetime.date(2030, 3, 1),
        **fields,
    )


@pytest.fixture
def shipment(trial, staff):
    shipment = make_shipment(trial, "SHP-TEST-1")
    record_event(actor=staff, action="test", target=shipment, shipment=shipment)
    return shipment


@pytest.fixture
def every_record(staff, sponsor, trial, shipment):
    """At least one row of every model with an admin, so each change page can be opened."""
    cro = Organization.objects.create(name="CRO C", country="FR")
    Address.objects.create(organization=sponsor, label="Head office", line1="Hauptstr. 1", city="Berlin", country="DE")
    Contact.objects.create(organization=sponsor, name="Erika Mustermann")
    Licence.objects.create(
        organization=sponsor,
        licence_type="import_licence",
        number="L-1",
        issuing_authority="BfArM",
        country="DE",
        valid_from=datetime.date(2024, 1, 1),
    )
    SponsorAuthorisation.objects.create(sponsor=sponsor, cro=cro)
    member = User.objects.create_user("editor", password="correct-horse-battery", organization=sponsor)
    Membership.objects.create(user=member, role="editor")
    profile = CountryProfile.objects.create(country="BR", regulatory_authority="ANVISA")
    requirement = DocumentRequirement.objects.create(
        country=profile,
        direction="import",
        product_category="imp",
        document_type="import_permit",
        provided_by="ior",
        source="RDC 81/2008",
    )
    site = Site.objects.create(
        trial=trial, organization=sponsor, site_number="001", name="Pharmacy", address="x", country="BR"
    )
    ShipmentItem.objects.create(shipment=shipment, product_name="Drug X", category="imp", quantity=Decimal(10))
    document = Document.objects.create(
        shipment=shipment,
        requirement=requirement,
        side="import",
        document_type="import_permit",
        owed_by_role="ior",
        due_date=datetime.date(2030, 2, 1),
    )
    DocumentVersion.objects.create(
        document=document,
        number=1,
        file="documents/1/abc",
        original_name="permit.pdf",
        size=10,
        content_type="application/pdf",
        sha256="0" * 64,
        uploaded_by=staff,
    )
    TaskClaim.objects.create(key="chase:1:7")
    TrackingEvent.objects.create(
        shipment=shipment,
        occurred_at=datetime.datetime(2026, 1, 2, 8, 30, tzinfo=datetime.UTC),
        code="departed",
        location="FRA, Frankfurt",
        country="DE",
        recorded_by=staff,
    )
    permit = Permit.objects.create(
        permit_type="import_permit",
        holder=sponsor,
        trial=trial,
        country="BR",
        authority="ANVISA",
        number="LI-1",
        valid_from=datetime.date(2026, 1, 1),
        valid_until=datetime.date(2030, 1, 1),
    )
    line = PermitLine.objects.create(permit=permit, product_name="Drug X", authorised_quantity=Decimal(100))
    PermitDrawdown.objects.create(line=line, shipment=shipment, item=shipment.items.get(), quantity=Decimal(10))
    call_command("load_screening_list", "tests/data/screening/csl_sample.csv", stdout=StringIO())
    organization_screen(organization=sponsor)
    DeadLetter.objects.create(
        task_name="documents.tasks.render_dossier",
        task_id="t-1",
        args=[1],
        kwargs={},
        exception_type="ValueError",
        exception_message="boom",
        traceback="Traceback",
        retries=0,
        failed_at=datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC),
    )
    key = ApiKey.objects.create(
        organization=sponsor, owner=member, name="RTSM", prefix="ior_admin001", secret_hash="0" * 64, created_by=staff
    )
    ApiCall.objects.create(key=key, owner=member, method="GET", path="/api/v1/shipments/", status_code=200)
    endpoint = WebhookEndpoint.objects.create(
        organization=sponsor,
        url="https://hooks.example.com/ior",
        events=["shipment.status_changed"],
        secret="whsec_x",
        created_by=staff,
    )
    WebhookDelivery.objects.create(
        endpoint=endpoint, event_id="00000000-0000-0000-0000-000000000001", event="shipment.status_changed", payload={}
    )
    return site


def form_data(response) -> dict:
    """What a browser would post back from the change page, unchanged."""
    data = {}
    forms = [response.context["adminform"].form]
    for inline in response.context["inline_admin_formsets"]:
        forms.append(inline.formset.management_form)
        forms.extend(inline.formset.forms)
    for form in forms:
        for bound in form:
            value = bound.value()
            if value is None or value is False:
                continue
            data[bound.html_name] = "on" if value is True else value
    return data


def admin_registrations():
    return [
        (model, model_admin)
        for model, model_admin in admin.site._registry.items()
        if model._meta.app_label in ADMIN_APPS
    ]


def test_every_admin_changelist_and_change_page_opens(client, rf, staff, every_record):
    request = rf.get("/")
    request.user = staff
    registrations = admin_registrations()
    assert {Shipment, AuditEvent, User, DocumentRequirement} <= {model for model, _ in registrations}
    for model, model_admin in registrations:
        name = f"admin:{model._meta.app_label}_{model._meta.model_name}"
        assert client.get(reverse(f"{name}_changelist")).status_code == 200, model
        obj = model._default_manager.first()
        assert obj is not None, f"no {model.__name__} to open: add one to every_record"
        assert client.get(reverse(f"{name}_change", args=[obj.pk])).status_code == 200, model
        if model_admin.has_add_permission(request):
            assert client.get(reverse(f"{name}_add")).status_code == 200, model


def test_site_header_names_the_platform(client, staff):
    assert b"IOR/EOR platform administration" in client.get(reverse("admin:index")).content


def test_shipment_changelist_search_finds_reference(client, shipment, trial):
    make_shipment(trial, "SHP-OTHER-2")
    response = client.get(reverse("admin:shipments_shipment_changelist"), {"q": "SHP-TEST"})
    assert response.status_code == 200
    assert [s.reference for s in response.context["cl"].result_list] == ["SHP-TEST-1"]


def test_shipment_changelist_search_by_protocol_number(client, shipment):
    response = client.get(reverse("admin:shipments_shipment_changelist"), {"q": "PROT-001"})
    assert [s.reference for s in response.context["cl"].result_list] == ["SHP-TEST-1"]


def test_audit_event_change_page_is_read_only(client, shipment):
    event = AuditEvent.objects.get(shipment=shipment)
    url = reverse("admin:core_auditevent_change", args=[event.pk])
    response = client.get(url)
    assert response.status_code == 200
    assert b'name="_save"' not in response.content
    assert client.post(url, {"action": "tampered", "actor_label": "mallory"}).status_code == 403
    event.refresh_from_db()
    assert event.action == "test"


@pytest.mark.parametrize(
    "model", [Shipment, Document, DocumentVersion, AuditEvent, TrackingEvent], ids=lambda model: model.__name__
)
def test_regulated_records_cannot_be_deleted_in_admin(client, every_record, model):
    obj = model._default_manager.first()
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_delete", args=[obj.pk])
    assert client.post(url, {"post": "yes"}).status_code == 403
    assert model._default_manager.filter(pk=obj.pk).exists()


def test_audit_events_cannot_be_added_in_admin(client, staff):
    assert client.get(reverse("admin:core_auditevent_add")).status_code == 403


def test_document_versions_cannot_be_changed_in_admin(client, every_record):
    version = DocumentVersion.objects.get()
    url = reverse("admin:documents_documentversion_change", args=[version.pk])
    assert b'name="_save"' not in client.get(url).content
    assert client.post(url, {"review_decision": "approved"}).status_code == 403
    version.refresh_from_db()
    assert version.review_decision == ""


def test_shipment_change_form_ignores_a_posted_status(client, every_record, shipment):
    url = reverse("admin:shipments_shipment_change", args=[shipment.pk])
    response = client.get(url)
    assert "status" not in response.context["adminform"].form.fields
    data = form_data(response)
    data.update(status="approved", airway_bill="176-12345675")

    response = client.post(url, data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    shipment = Shipment.objects.get(pk=shipment.pk)
    assert shipment.status == "draft"
    assert shipment.airway_bill == "176-12345675"


def test_admin_change_to_a_shipment_is_audited_on_its_chain(client, every_record, shipment, staff):
    url = reverse("admin:shipments_shipment_change", args=[shipment.pk])
    data = form_data(client.get(url))
    data.update(destination_country="US", tracking_number="1Z999")

    assert client.post(url, data).status_code == 302

    event = AuditEvent.objects.filter(shipment=shipment).latest("sequence")
    assert event.action == "shipment.changed_in_admin"
    assert event.actor == staff
    assert event.chain == f"shipment:{shipment.pk}"
    assert event.changes == {
        "destination_country": ["BR", "US"],
        "tracking_number": ["", "1Z999"],
        "route_kind": ["international", "domestic"],
    }


def test_admin_edit_of_a_shipment_item_is_audited(client, every_record, shipment):
    url = reverse("admin:shipments_shipment_change", args=[shipment.pk])
    data = form_data(client.get(url))
    data["items-0-lot_number"] = "B-42"

    assert client.post(url, data).status_code == 302

    event = AuditEvent.objects.filter(shipment=shipment).latest("sequence")
    assert event.action == "shipmentitem.changed_in_admin"
    assert event.changes == {"lot_number": ["", "B-42"]}


def test_audit_trail_link_lists_the_shipments_events(client, shipment, trial, staff):
    other = make_shipment(trial, "SHP-OTHER-2")
    record_event(actor=staff, action="other", target=other, shipment=other)
    response = client.get(reverse("admin:core_auditevent_changelist"), {"shipment__id__exact": shipment.pk})
    assert response.status_code == 200
    assert [e.action for e in response.context["cl"].result_list] == ["test"]


def test_non_staff_user_is_sent_to_the_admin_login(client, shipment):
    other = Organization.objects.create(name="Sponsor B", country="US")
    charlie = User.objects.create_user("charlie", password="correct-horse-battery", organization=other)
    client.logout()
    client.force_login(charlie)

    response = client.get(reverse("admin:shipments_shipment_change", args=[shipment.pk]))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))
    assert b"SHP-TEST-1" not in response.content


@pytest.mark.parametrize("changelist", ["admin:shipments_shipment_changelist", "admin:core_auditevent_changelist"])
def test_changelist_queries_do_not_grow_with_rows(client, staff, trial, changelist, django_assert_max_num_queries):
    for n in range(30):
        ior = Organization.objects.create(name=f"IOR {n}", country="BR")
        shipment = make_shipment(trial, f"SHP-{n:03}", ior=ior)
        record_event(actor=staff, action="test", target=shipment, shipment=shipment)

    with django_assert_max_num_queries(15):
        response = client.get(reverse(changelist))

    assert response.status_code == 200
    assert len(response.context["cl"].result_list) == 30


def test_audit_events_can_be_listed_by_chain(client, shipment, trial, staff):
    other = make_shipment(trial, "SHP-OTHER-2")
    record_event(actor=staff, action="other", target=other, shipment=other)
    response = client.get(reverse("admin:core_auditevent_changelist"), {"chain": f"shipment:{other.pk}"})
    assert response.status_code == 200
    assert [e.action for e in response.context["cl"].result_list] == ["other"]


def test_admin_edit_of_an_organization_inline_is_audited_on_its_chain(client, every_record, sponsor):
    url = reverse("admin:parties_organization_change", args=[sponsor.pk])
    data = form_data(client.get(url))
    data.update({"roles-TOTAL_FORMS": "2", "roles-1-role": "ior", "roles-1-organization": sponsor.pk})

    response = client.post(url, data)

    assert response.status_code == 302, response.context["errors"]
    assert set(sponsor.roles.values_list("role", flat=True)) == {"sponsor", "ior"}
    event = AuditEvent.objects.filter(chain=f"organization:{sponsor.pk}").latest("sequence")
    assert event.action == "organizationrole.created_in_admin"
    assert event.changes == {"role": [None, "ior"]}


def test_user_can_be_added_with_organization_and_time_zone(client, staff, sponsor):
    response = client.post(
        reverse("admin:parties_user_add"),
        {
            "username": "newcomer",
            "usable_password": "true",
            "password1": "a-long-enough-passphrase",
            "password2": "a-long-enough-passphrase",
            "organization": sponsor.pk,
            "time_zone": "Europe/Berlin",
            "memberships-TOTAL_FORMS": "1",
            "memberships-INITIAL_FORMS": "0",
            "memberships-0-role": "reviewer",
        },
    )

    assert response.status_code == 302, response.context["errors"]
    user = User.objects.get(username="newcomer")
    assert (user.organization, user.time_zone, user.member_roles) == (sponsor, "Europe/Berlin", {"reviewer"})
    event = AuditEvent.objects.get(chain=f"organization:{sponsor.pk}", action="user.created_in_admin")
    assert "password" not in event.changes


def test_document_status_stays_with_the_services_while_its_due_date_can_be_corrected(client, every_record, shipment):
    document = Document.objects.get()
    url = reverse("admin:documents_document_change", args=[document.pk])
    data = form_data(client.get(url))
    data.update(status="approved", due_date="2030-01-15")

    response = client.post(url, data)

    assert response.status_code == 302, response.context["errors"]
    document.refresh_from_db()
    assert (document.status, document.due_date) == ("requested", datetime.date(2030, 1, 15))
    event = AuditEvent.objects.filter(shipment=shipment).latest("sequence")
    assert (event.action, event.changes) == ("document.changed_in_admin", {"due_date": ["2030-02-01", "2030-01-15"]})
    assert DocumentVersion.objects.get().review_decision == ""


def test_staff_revoke_api_keys_from_the_admin_and_never_see_their_hash(client, every_record):
    key = ApiKey.objects.get(prefix="ior_admin001")
    page = client.get(reverse("admin:parties_apikey_change", args=[key.pk])).content.decode()
    assert "0" * 64 not in page
    response = client.post(
        reverse("admin:parties_apikey_changelist"), {"action": "revoke", "_selected_action": [key.pk]}, follow=True
    )
    assert response.status_code == 200
    key.refresh_from_db()
    assert key.revoked_at is not None
    assert AuditEvent.objects.filter(action="apikey.revoke", target_id=str(key.pk)).exists()
