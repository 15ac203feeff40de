"""Which documents a route requires: by side, category, temperature class and declared value."""

from decimal import Decimal

import pytest

from compliance.selectors import required_documents
from tests.factories import CountryProfileFactory, DocumentRequirementFactory


def resolve(**overrides):
    query = {
        "origin": "US",
        "destination": "BR",
        "route_kind": "international",
        "categories": {"imp"},
        "temperature_class": "refrigerated",
        "declared_value": Decimal("1000"),
        "currency": "USD",
    }
    query.update(overrides)
    return {(r.side, r.document_type): r for r in required_documents(**query)}


@pytest.mark.django_db
def test_requirements_filter_by_category_temperature_and_value():
    br = CountryProfileFactory(country="BR")
    DocumentRequirementFactory(country=br, document_type="import_permit", lead_time_days=20)
    DocumentRequirementFactory(country=br, document_type="temperature_record", temperature_class="frozen")
    DocumentRequirementFactory(
        country=br, document_type="certificate_of_origin", min_declared_value=Decimal("5000"), value_currency="USD"
    )
    DocumentRequirementFactory(country=br, document_type="safety_data_sheet", product_category="lab_kit")
    DocumentRequirementFactory(country=br, document_type="packing_list", is_active=False)
    assert set(resolve()) == {("import", "import_permit")}
    assert ("import", "temperature_record") in resolve(temperature_class="frozen")
    assert ("import", "certificate_of_origin") in resolve(declared_value=Decimal("5000"))
    assert ("import", "safety_data_sheet") in resolve(categories={"imp", "lab_kit"})


@pytest.mark.django_db
def test_same_document_for_two_categories_takes_the_longest_lead_time():
    br = CountryProfileFactory(country="BR")
    DocumentRequirementFactory(country=br, document_type="import_permit", lead_time_days=10)
    DocumentRequirementFactory(country=br, document_type="import_permit", product_category="device", lead_time_days=30)
    assert resolve(categories={"imp", "device"})[("import", "import_permit")].lead_time_days == 30


@pytest.mark.django_db
@pytest.mark.parametrize("route_kind", ["domestic", "customs_union"])
def test_no_customs_documents_without_a_customs_border(route_kind):
    DocumentRequirementFactory(country=CountryProfileFactory(country="BR"))
    assert resolve(route_kind=route_kind) == {}
