"""A party on a restricted list blocks submission, approval and export clearance until a reviewer clears it."""

from io import StringIO

import pytest
from django.core.management import call_command

from ior_platform.core.errors import TransitionRefused
from ior_platform.core.models import AuditEvent
from parties.models import Organization, Screening
from parties.screening import screening_clear
from shipments import services
from shipments.choices import ShipmentStatus as S
from tests.conftest import force_status
from tests.factories import UserFactory


@pytest.fixture
def listed_consignee(world):
    call_command("load_screening_list", "tests/data/screening/csl_sample.csv", stdout=StringIO())
    Organization.objects.filter(pk=world.site.pk).update(name="Acme Trading Ltd")
    world.site.refresh_from_db()
    return world.site


def test_export_clearance_screens_the_parties_and_refuses_a_hit(world, listed_consignee):
    shipment = force_status(world.shipment(), S.APPROVED)
    with pytest.raises(TransitionRefused) as refused:
        services.shipment_clear_export(actor=world.eddie, shipment=shipment)
    assert any(r.startswith("Acme Trading Ltd is a potential match") for r in refused.value.reasons)
    assert Screening.objects.filter(organization=listed_consignee).exists()


def test_a_cleared_false_positive_lets_the_shipment_go(world, listed_consignee):
    shipment = force_status(world.shipment(), S.APPROVED)
    with pytest.raises(TransitionRefused):
        services.shipment_clear_export(actor=world.eddie, shipment=shipment)
    reviewer = UserFactory(username="erin", organization=world.eor, roles=["reviewer"])
    screening = Screening.objects.filter(organization=listed_consignee).latest("screened_at")
    screening_clear(actor=reviewer, screening=screening, reason="Different company: São Paulo hospital, CNPJ checked")
    assert AuditEvent.objects.filter(action="organization.screening_cleared").exists()
    assert services.shipment_clear_export(actor=world.eddie, shipment=shipment).status == S.EXPORT_CLEARED


def test_submission_reports_an_unscreened_or_listed_party(world, listed_consignee):
    with pytest.raises(TransitionRefused) as refused:
        services.shipment_submit(actor=world.alice, shipment=world.shipment())
    assert any("Acme Trading Ltd" in r for r in refused.value.reasons)
