"""The permit ledger: coverage, drawdown at approval, refusal when too little is left, release on cancel."""

from decimal import Decimal

import pytest

from compliance.models import Permit, PermitDrawdown
from compliance.permits import permit_reasons
from ior_platform.core.errors import TransitionRefused
from shipments import services
from shipments.choices import ShipmentStatus as S
from shipments.models import Shipment
from tests.conftest import days, force_status
from tests.factories import DEMO_PASSWORD
from tests.shipments.test_services import walk_dossier


def approved(world, quantity: int):
    shipment = services.shipment_submit(actor=world.alice, shipment=world.shipment(declared_value=quantity * 100))
    shipment.items.update(quantity=quantity)
    shipment = walk_dossier(world, shipment)
    return services.shipment_approve(actor=world.rita, shipment=shipment, password=DEMO_PASSWORD)


def test_two_shipments_that_together_exceed_the_permit_the_second_is_refused(world, requirements, brazil_permit):
    first = approved(world, 700)
    assert first.status == S.APPROVED
    drawn = PermitDrawdown.objects.get(shipment=first)
    assert (drawn.quantity, drawn.line.permit) == (700, brazil_permit)
    with pytest.raises(TransitionRefused) as refused:
        approved(world, 400)
    assert refused.value.reasons == [
        "Import permit / licence LI-26/0001 has 300 vials of ABC-123 100 mg vial left; this shipment needs 400"
    ]
    second = Shipment.objects.exclude(pk=first.pk).get()
    assert second.status == S.DOSSIER_REVIEW
    assert not PermitDrawdown.objects.filter(shipment=second).exists()


def test_cancelling_an_approved_shipment_gives_its_quantity_back(world, requirements, brazil_permit):
    first = approved(world, 700)
    services.shipment_cancel(actor=world.alice, shipment=first, reason="Site closed")
    assert PermitDrawdown.objects.get(shipment=first).released_at is not None
    assert approved(world, 900).status == S.APPROVED


def test_missing_expired_and_uncovered_permits_are_reasons(world, requirements, brazil_permit):
    shipment = services.shipment_submit(actor=world.alice, shipment=world.shipment())
    assert permit_reasons(shipment) == []
    shipment.items.update(product_name="XYZ-999 placebo")
    assert permit_reasons(shipment) == ["Import permit / licence LI-26/0001 does not cover XYZ-999 placebo"]
    shipment.items.update(product_name="ABC-123 100 mg vial", unit="kit")
    assert permit_reasons(shipment) == [
        "Import permit / licence LI-26/0001 authorises ABC-123 100 mg vial in vials, the shipment lists kits"
    ]
    Permit.objects.filter(pk=brazil_permit.pk).update(valid_until=days(5))
    assert permit_reasons(shipment) == [
        f"Import permit / licence LI-26/0001 is not valid on {days(14):%Y-%m-%d} (valid until {days(5):%Y-%m-%d})"
    ]
    Permit.objects.all().delete()
    assert permit_reasons(shipment) == ["no Import permit / licence for Brazil is recorded in the permit ledger"]


def test_dispatch_is_refused_when_the_permit_lapsed_after_approval(world, requirements, brazil_permit):
    shipment = approved(world, 10)
    shipment = services.shipment_clear_export(actor=world.eddie, shipment=shipment)
    Permit.objects.filter(pk=brazil_permit.pk).update(valid_until=days(7))
    with pytest.raises(TransitionRefused) as refused:
        services.shipment_dispatch(actor=world.eddie, shipment=shipment, airway_bill="020-1")
    assert refused.value.reasons == [
        f"Import permit / licence LI-26/0001 is not valid on {days(14):%Y-%m-%d} "
        f"(valid {days(-10):%Y-%m-%d} to {days(7):%Y-%m-%d})"
    ]


def test_approve_lists_consistency_problems(world, requirements, brazil_permit):
    shipment = services.shipment_submit(actor=world.alice, shipment=world.shipment())
    shipment = walk_dossier(world, shipment)
    shipment.items.update(hs_code="")
    Shipment.objects.filter(pk=shipment.pk).update(declared_value=Decimal("15000"))
    invoice = shipment.documents.get(document_type="import_permit")
    invoice.document_type, invoice.declared_lines = (
        "proforma_invoice",
        [{"product_name": "ABC-123 100 mg vial", "quantity": 100}],
    )
    invoice.save()
    with pytest.raises(TransitionRefused) as refused:
        services.shipment_approve(
            actor=world.rita, shipment=Shipment.objects.get(pk=shipment.pk), password=DEMO_PASSWORD
        )
    reasons = refused.value.reasons
    assert "ABC-123 100 mg vial has no HS code" in reasons
    assert "the declared value 15000.00 USD differs from the items' total 12000.00 USD" in reasons
    assert "the pro forma invoice lists 100 of ABC-123 100 mg vial, the shipment 120" in reasons


def test_flagged_shipment_waits_for_an_ior_recheck(world, requirements, brazil_permit):
    from compliance.services import requirement_revise
    from tests.factories import UserFactory

    shipment = services.shipment_submit(actor=world.alice, shipment=world.shipment())
    shipment = walk_dossier(world, shipment)
    staff = UserFactory(username="staffer", organization=None, is_staff=True)
    revised = requirement_revise(actor=staff, requirement=requirements[0], lead_time_days=40)
    assert revised.version == 2 and not type(revised).objects.get(pk=requirements[0].pk).is_active
    shipment = Shipment.objects.get(pk=shipment.pk)
    with pytest.raises(TransitionRefused, match="an IOR reviewer must re-check the checklist"):
        services.shipment_approve(actor=world.rita, shipment=shipment, password=DEMO_PASSWORD)
    from ior_platform.core.errors import NotPermitted

    with pytest.raises(NotPermitted):
        services.shipment_compliance_recheck(actor=world.alice, shipment=shipment)
    services.shipment_compliance_recheck(actor=world.rita, shipment=shipment, note="Lead time only")
    assert services.shipment_approve(
        actor=world.rita, shipment=Shipment.objects.get(pk=shipment.pk), password=DEMO_PASSWORD
    ).status == (S.APPROVED)


def test_only_staff_revise_requirements(world, requirements):
    from compliance.services import requirement_revise
    from ior_platform.core.errors import NotPermitted

    with pytest.raises(NotPermitted):
        requirement_revise(actor=world.rita, requirement=requirements[0], lead_time_days=1)


def test_approval_draws_under_lock_so_the_ledger_never_goes_negative(world, requirements, brazil_permit):
    approved(world, 1000)
    force_status(world.shipment(), S.DOSSIER_REVIEW)
    remaining = brazil_permit.lines.get().authorised_quantity - sum(
        d.quantity for d in PermitDrawdown.objects.filter(released_at__isnull=True)
    )
    assert remaining == 0
