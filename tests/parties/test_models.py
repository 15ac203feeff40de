"""Constraints hold in the database too, for writes that bypass the forms and services."""

from datetime import date
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from parties.models import Licence, Organization, SponsorAuthorisation
from shipments.models import Shipment, ShipmentItem


@pytest.mark.django_db
def test_country_codes_are_checked_by_the_model_and_the_database():
    org = Organization(name="Nowhere Ltd", country="XX")
    with pytest.raises(ValidationError) as invalid:
        org.full_clean()
    assert invalid.value.message_dict == {"country": ["Value 'XX' is not a valid choice."]}
    with pytest.raises(IntegrityError), transaction.atomic():
        org.save()


@pytest.mark.django_db
def test_licence_cannot_end_before_it_starts(world):
    with pytest.raises(IntegrityError), transaction.atomic():
        Licence.objects.create(
            organization=world.ior,
            licence_type="import_licence",
            number="X-1",
            issuing_authority="ANVISA",
            country="BR",
            valid_from=date(2026, 5, 1),
            valid_until=date(2026, 4, 1),
        )


@pytest.mark.django_db
def test_a_sponsor_cannot_authorise_itself(world):
    with pytest.raises(IntegrityError), transaction.atomic():
        SponsorAuthorisation.objects.create(sponsor=world.sponsor_a, cro=world.sponsor_a)


@pytest.mark.django_db
def test_database_refuses_negative_quantities_values_and_bad_currency(world):
    shipment = world.shipment()
    with pytest.raises(IntegrityError), transaction.atomic():
        ShipmentItem.objects.create(shipment=shipment, product_name="X", category="imp", quantity=Decimal("-1"))
    with pytest.raises(IntegrityError), transaction.atomic():
        Shipment.objects.filter(pk=shipment.pk).update(declared_value=Decimal("-5"))
    with pytest.raises(IntegrityError), transaction.atomic():
        Shipment.objects.filter(pk=shipment.pk).update(currency="XYZ")
    with pytest.raises(IntegrityError), transaction.atomic():
        Shipment.objects.filter(pk=shipment.pk).update(required_at_site_date=date(2000, 1, 1))
    with pytest.raises(IntegrityError), transaction.atomic():
        Shipment.objects.filter(pk=shipment.pk).update(status="teleported")


@pytest.mark.django_db
def test_status_cannot_be_assigned_directly(world):
    shipment = world.shipment()
    with pytest.raises(AttributeError, match="Direct status modification is not allowed"):
        shipment.status = "approved"
