"""seed_demo: demo data driven through the real services, and nothing new on a second run."""

import io
import re
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.apps import apps
from django.contrib.auth import authenticate
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import transaction
from django.test import RequestFactory

from compliance.choices import PERMIT_TYPES
from compliance.models import CountryProfile, DocumentRequirement, Permit, PermitDrawdown
from compliance.permits import permit_reasons
from documents.models import Document, DocumentVersion
from ior_platform.core import demo
from ior_platform.core.audit import verify_chains
from ior_platform.core.models import AuditEvent
from parties.choices import PartyRole
from parties.models import Organization, SponsorAuthorisation, User
from shipments import services
from shipments.choices import ShipmentStatus
from shipments.models import Shipment, Site, TrackingEvent, Trial

pytestmark = pytest.mark.django_db

S = ShipmentStatus
# States a shipment reaches only through an approved dossier, so with its permits drawn down.
APPROVED_OR_LATER = {
    S.APPROVED,
    S.EXPORT_CLEARED,
    S.IN_TRANSIT,
    S.CUSTOMS_CLEARANCE,
    S.CUSTOMS_HOLD,
    S.CLEARED,
    S.OUT_FOR_DELIVERY,
    S.DELIVERED,
    S.RETURNED,
    S.DESTROYED,
}


def model_counts() -> dict[str, int]:
    return {
        model._meta.label: model._default_manager.count()
        for label in demo.SEEDED_APPS
        for model in apps.get_app_config(label).get_models()
    }


@pytest.fixture(scope="module")
def seeded(django_db_setup, django_db_blocker):
    """Seed twice, once for the whole module (seeding takes seconds), and roll it all back afterwards."""
    with django_db_blocker.unblock(), transaction.atomic():
        first, second = io.StringIO(), io.StringIO()
        call_command("seed_demo", "--quiet", stdout=first)
        after_first = model_counts()
        call_command("seed_demo", "--quiet", stdout=second)
        yield SimpleNamespace(
            after_first=after_first, after_second=model_counts(), first=first.getvalue(), second=second.getvalue()
        )
        transaction.set_rollback(True)


def orgs_with_role(role: str):
    return Organization.objects.filter(roles__role=role)


def test_second_run_creates_nothing(seeded):
    assert seeded.after_first["shipments.Shipment"] > 0
    assert seeded.after_second == seeded.after_first


def test_quiet_prints_only_the_logins(seeded):
    assert seeded.first == demo.format_logins() + "\n"
    assert seeded.second == seeded.first
    for login in demo.DEMO_LOGINS:
        assert login.username in seeded.first


def test_every_lifecycle_state_has_a_shipment(seeded):
    present = set(Shipment.objects.values_list("status", flat=True))
    assert set(ShipmentStatus.values) - present == set()


def test_parties_trials_and_shipments_are_there(seeded):
    assert orgs_with_role("sponsor").count() >= 3
    assert orgs_with_role("cro").count() == 1
    assert orgs_with_role("ior").count() == 2
    assert orgs_with_role("eor").count() == 1
    assert orgs_with_role("broker").count() == 2
    assert orgs_with_role("courier").count() == 1
    assert Site.objects.values("country").distinct().count() >= 6
    assert Trial.objects.count() == 2
    assert 35 <= Shipment.objects.count() <= 50


def test_every_organization_has_an_address_and_a_contact(seeded):
    assert not Organization.objects.filter(addresses__isnull=True).exists()
    assert not Organization.objects.filter(contacts__isnull=True).exists()


def test_the_cro_acts_for_two_sponsors(seeded):
    cro = orgs_with_role("cro").get()
    assert SponsorAuthorisation.objects.filter(cro=cro).count() == 2


def test_each_ior_holds_an_import_licence(seeded):
    for ior in orgs_with_role("ior"):
        assert ior.licences.filter(licence_type="import_licence", country=ior.country).exists()


def test_a_delivered_shipment_has_a_return(seeded):
    returned = Shipment.objects.filter(return_of__isnull=False).select_related("return_of")
    assert returned.exists()
    assert all(r.return_of.status == ShipmentStatus.DELIVERED for r in returned)


def test_every_demo_login_authenticates_with_its_roles(seeded):
    for login in demo.DEMO_LOGINS:
        # As the sign-in page does: the lockout backend (django-axes) refuses an authenticate() without a request.
        user = authenticate(RequestFactory().post("/accounts/login/"), username=login.username, password=login.password)
        assert user is not None, login.username
        assert user.email
        assert set(user.memberships.values_list("role", flat=True)) == set(login.roles)
    admin = User.objects.get(username="admin")
    assert admin.is_staff and admin.is_superuser
    assert User.objects.get(username="charlie").organization.name == "Nordlicht Biopharma"


def test_audit_chains_are_intact(seeded):
    checked, broken = verify_chains()
    assert checked == AuditEvent.objects.count() > 0
    assert broken == []


def test_every_shipment_past_draft_was_moved_by_the_services(seeded):
    for shipment in Shipment.objects.exclude(status=ShipmentStatus.DRAFT):
        moves = shipment.audit_events.filter(action__startswith="shipment.", changes__has_key="status")
        last = moves.order_by("-sequence").first()
        assert last is not None, shipment.reference
        assert last.changes["status"][1] == shipment.status


def test_uploaded_documents_are_pdfs(seeded):
    version = DocumentVersion.objects.first()
    assert DocumentVersion.objects.exclude(content_type="application/pdf").count() == 0
    with version.file.open("rb") as handle:
        assert handle.read(8) == b"%PDF-1.4"


def test_country_data_is_the_sourced_regulatory_data(seeded):
    assert CountryProfile.objects.count() >= 25
    assert not DocumentRequirement.objects.filter(source="").exists()
    assert not DocumentRequirement.objects.filter(source__icontains="seed_demo").exists()
    used = set(Site.objects.values_list("country", flat=True)) | set(
        Shipment.objects.values_list("origin_country", flat=True)
    )
    assert used <= set(CountryProfile.objects.values_list("country", flat=True))
    assert CountryProfile.objects.get(country="BR").local_ior_mandatory is True
    assert CountryProfile.objects.get(country="IN").local_ior_mandatory is True


def test_shipments_past_approval_drew_their_permits_down(seeded):
    assert Permit.objects.filter(lines__drawdowns__isnull=False).exists()
    checked = 0
    for shipment in Shipment.objects.filter(status__in=APPROVED_OR_LATER):
        permit_documents = shipment.documents.filter(document_type__in=PERMIT_TYPES)
        if not permit_documents.exists():
            continue
        checked += 1
        drawn = PermitDrawdown.objects.filter(shipment=shipment, released_at__isnull=True).select_related(
            "line__permit"
        )
        assert drawn.exists(), shipment.reference
        for drawdown in drawn:
            permit = drawdown.line.permit
            assert permit.trial_id == shipment.trial_id
            assert permit.permit_type in set(permit_documents.values_list("document_type", flat=True))
            assert permit.is_valid_on(shipment.planned_ship_date)
            assert drawdown.quantity == drawdown.item.quantity
    assert checked >= 10


def test_a_shipment_cancelled_after_approval_gave_its_permits_back(seeded):
    cancelled = Shipment.objects.get(reference="DEMO-038")
    assert cancelled.permit_drawdowns.exists()
    assert not cancelled.permit_drawdowns.filter(released_at__isnull=True).exists()


def test_permits_are_held_by_the_importer_and_issued_by_the_countrys_authority(seeded):
    permits = Permit.objects.select_related("holder", "trial")
    assert permits.count() >= 8
    for permit in permits:
        profile = CountryProfile.objects.get(country=permit.country)
        assert permit.authority == profile.regulatory_authority_acronym
        assert permit.holder.roles.filter(role=PartyRole.IOR).exists()
        assert permit.holder.licences.filter(licence_type="import_licence", country=permit.country).exists()
        assert permit.lines.exists()
    assert permits.filter(country="IN", permit_type="test_licence", number__startswith="CT-17/").count() == 2
    assert (
        permits.get(country="BR", permit_type="import_permit", trial__protocol_number="NBP-2201").authority == "ANVISA"
    )


def test_one_permit_is_nearly_used_up_for_the_draft_that_needs_it(seeded):
    draft = Shipment.objects.get(reference="DEMO-031")
    assert draft.status == S.DRAFT
    # Submitting snapshots the checklist the permit check reads; the test's transaction undoes it.
    submitted = services.shipment_submit(actor=draft.created_by, shipment=draft)
    reasons = permit_reasons(submitted)
    assert len(reasons) == 1
    assert re.search(r"has \d+ vials of HLX-301 .* left; this shipment needs \d+", reasons[0])


def test_every_checklist_document_has_an_owner_and_was_uploaded_by_it_or_the_ior(seeded):
    assert not Document.objects.filter(owed_by__isnull=True).exists()
    versions = DocumentVersion.objects.select_related("document__shipment", "uploaded_by")
    assert versions.count() > 100
    for version in versions:
        document, uploader = version.document, version.uploaded_by
        shipment = document.shipment
        if document.owed_by_role in {PartyRole.SPONSOR, PartyRole.CRO}:
            allowed = {
                shipment.sponsor_id,
                *SponsorAuthorisation.objects.filter(sponsor=shipment.sponsor).values_list("cro", flat=True),
            }
        else:
            allowed = {document.owed_by_id, shipment.ior_id}
        assert uploader.organization_id in allowed, (shipment.reference, document.document_type, uploader.username)
    # Where the owing party has a demo user, that user uploaded it rather than the IOR.
    assert DocumentVersion.objects.filter(
        document__owed_by_role="courier", uploaded_by__username="courier_editor"
    ).exists()
    assert DocumentVersion.objects.filter(document__owed_by_role="eor", uploaded_by__username="eor_editor").exists()


def test_shipments_in_permit_collection_have_part_of_their_documents(seeded):
    collecting = Shipment.objects.filter(status=S.PERMIT_COLLECTION, return_of__isnull=True)
    assert collecting.count() >= 3
    for shipment in collecting:
        statuses = list(shipment.documents.values_list("status", flat=True))
        assert "requested" in statuses or "rejected" in statuses, shipment.reference
        assert set(statuses) - {"requested"}, shipment.reference
    assert Shipment.objects.get(reference="DEMO-027").documents.filter(status="rejected").exists()


def test_declared_values_match_the_items_and_every_item_has_an_hs_code(seeded):
    for shipment in Shipment.objects.prefetch_related("items"):
        items = list(shipment.items.all())
        assert items, shipment.reference
        assert shipment.declared_value == sum((i.quantity * i.unit_value for i in items), Decimal(0))
        assert all(item.hs_code for item in items), shipment.reference


def test_a_loud_second_run_says_nothing_was_created_and_how_long_it_took(seeded):
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    assert re.search(r"Demo data already present: nothing created\. \(\d+\.\d s\)", out.getvalue())


def test_a_refused_step_fails_in_one_line_and_leaves_no_half_built_shipment(seeded, monkeypatch):
    # The India IOR has no manager among the demo users, so nobody may destroy its goods.
    impossible = demo.ShipmentPlan(
        "DEMO-099", "hlx_in", "hlx_imp", ShipmentStatus.DESTROYED, 20, "helix_editor", hold_reason="x", end_reason="y"
    )
    monkeypatch.setattr(demo, "PLANS", (impossible,))
    before = model_counts()

    with pytest.raises(CommandError) as refused:
        call_command("seed_demo", "--quiet", stdout=io.StringIO())

    assert "DEMO-099" in str(refused.value)
    assert "\n" not in str(refused.value)
    assert model_counts() == before


def test_the_courier_reports_its_scans_on_the_way(seeded):
    in_transit = Shipment.objects.filter(status=ShipmentStatus.IN_TRANSIT, return_of__isnull=True).first()
    scans = list(TrackingEvent.objects.filter(shipment=in_transit).order_by("occurred_at", "id"))
    assert [scan.code for scan in scans] == ["picked_up", "departed"]
    assert scans[1].location == demo.AIRPORTS[in_transit.origin_country]
    assert all(scan.recorded_by.organization_id == in_transit.courier_id for scan in scans)
    delivered = Shipment.objects.filter(status=ShipmentStatus.DELIVERED, return_of__isnull=True).first()
    codes = list(TrackingEvent.objects.filter(shipment=delivered).values_list("code", flat=True))
    assert {"arrived", "in_customs", "customs_released", "out_for_delivery"} <= set(codes)
    # Each scan was audited on its shipment's chain, like every other change the services make.
    assert AuditEvent.objects.filter(action="tracking_event.recorded").count() == TrackingEvent.objects.count() > 0
    assert not TrackingEvent.objects.filter(shipment__status__in=["draft", "permit_collection", "cancelled"]).exists()
