"""seed_demo: demo data driven through the real services, and nothing new on a second run."""

import io
from types import SimpleNamespace

import pytest
from django.apps import apps
from django.contrib.auth import authenticate
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import transaction

from compliance.models import CountryProfile, DocumentRequirement
from documents.models import DocumentVersion
from ior_platform.core import demo
from ior_platform.core.audit import verify_chains
from ior_platform.core.models import AuditEvent
from parties.models import Organization, SponsorAuthorisation, User
from shipments.choices import ShipmentStatus
from shipments.models import Shipment, Site, Trial

pytestmark = pytest.mark.django_db


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
    assert orgs_with_role("broker").count() == 1
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
        user = authenticate(username=login.username, password=login.password)
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


def test_country_data_is_labelled_demo(seeded):
    assert set(DocumentRequirement.objects.values_list("source", flat=True)) == {demo.DEMO_SOURCE}
    for profile in CountryProfile.objects.all():
        assert any(s["source"] == demo.DEMO_SOURCE for s in profile.sources)
    assert CountryProfile.objects.get(country="BR").local_ior_mandatory is True
    assert CountryProfile.objects.get(country="IN").local_ior_mandatory is True


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
