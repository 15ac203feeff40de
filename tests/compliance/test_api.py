"""The compliance API: the permit ledger by the tenancy rule with quantities left, the public country profiles with
their current requirements, and preflight of a proposed shipment (ids one may not see answered like missing ones)."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from compliance.models import Permit, PermitDrawdown, PermitLine
from tests.conftest import days
from tests.factories import CountryProfileFactory, DocumentRequirementFactory, TrialFactory

pytestmark = pytest.mark.django_db


def url(name: str, *args) -> str:
    return reverse(f"v1:{name}", args=args)


def results(response) -> list[dict]:
    assert response.status_code == 200, response.content
    return response.json()["results"]


def signed_in(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


def assert_constant_queries(client, path, django_assert_max_num_queries, *, small=2, large=20):
    with CaptureQueriesContext(connection) as queries:
        first = client.get(path, {"page_size": small})
    assert len(results(first)) == small
    with django_assert_max_num_queries(len(queries)):
        second = client.get(path, {"page_size": large})
    assert len(results(second)) > small


def permit(trial, holder, number, *, country="BR", valid_from=-10, valid_until=180, **extra) -> Permit:
    return Permit.objects.create(
        permit_type=extra.pop("permit_type", "import_permit"),
        holder=holder,
        trial=trial,
        country=country,
        direction=extra.pop("direction", "import"),
        authority=extra.pop("authority", "ANVISA"),
        number=number,
        valid_from=days(valid_from),
        valid_until=days(valid_until),
        **extra,
    )


# Permits


def test_permit_lines_show_granted_drawn_and_remaining(world, api_as, brazil_permit):
    line = brazil_permit.lines.get()
    first, second = world.shipment(), world.shipment()
    PermitDrawdown.objects.create(line=line, shipment=first, item=first.items.get(), quantity=Decimal(240))
    PermitDrawdown.objects.create(
        line=line, shipment=second, item=second.items.get(), quantity=Decimal(100), released_at=timezone.now()
    )
    PermitLine.objects.create(permit=brazil_permit, product_name="Placebo", authorised_quantity=50, unit="kit")
    rows = results(api_as(world.alice).get(url("permit-list")))
    assert len(rows) == 1
    body = rows[0]
    assert (body["number"], body["holder"]["name"], body["trial"]["protocol_number"]) == (
        "LI-26/0001",
        "Brasil IOR Ltda",
        "SPA-301",
    )
    assert [(r["product_name"], r["granted"], r["drawn"], r["remaining"]) for r in body["lines"]] == [
        ("ABC-123 100 mg vial", "1000.000", "240.000", "760.000"),
        ("Placebo", "50.000", "0.000", "50.000"),
    ]


def test_permits_filter_by_trial_country_and_validity_date(world, api_as, brazil_permit):
    other_trial = TrialFactory(sponsor=world.sponsor_a, protocol_number="SPA-302")
    permit(other_trial, world.ior, "LI-26/0002", valid_from=200, valid_until=300)
    permit(world.trial, world.eor, "EL-1", country="US", direction="export", permit_type="export_licence")
    client = api_as(world.alice)

    def numbers(**query):
        return sorted(row["number"] for row in results(client.get(url("permit-list"), query)))

    assert numbers(trial=world.trial.pk) == ["EL-1", "LI-26/0001"]
    assert numbers(country="br") == ["LI-26/0001", "LI-26/0002"]
    assert numbers(valid_on=days(250).isoformat()) == ["LI-26/0002"]
    assert numbers(valid_on=days(0).isoformat(), country="BR") == ["LI-26/0001"]
    assert numbers(direction="export") == ["EL-1"]
    assert numbers(trial=999999) == []


def test_permit_filters_refuse_malformed_values(world, api_as):
    response = api_as(world.alice).get(url("permit-list"), {"valid_on": "next tuesday", "trial": "abc"})
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"valid_on", "trial"}


def test_charlie_gets_404_on_sponsor_a_permits(world, api_as, brazil_permit):
    permit(world.trial_b, world.ior, "LI-B-1")
    client = api_as(world.charlie)
    response = client.get(url("permit-detail", brazil_permit.pk))
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}
    assert [row["number"] for row in results(client.get(url("permit-list")))] == ["LI-B-1"]
    assert results(client.get(url("permit-list"), {"trial": world.trial.pk})) == []


def test_cro_sees_the_permits_of_the_sponsor_it_acts_for(world, api_as, brazil_permit):
    body = api_as(world.carl).get(url("permit-detail", brazil_permit.pk)).json()
    assert body["lines"][0]["remaining"] == "1000.000"


def test_permit_list_query_count_is_constant_in_the_page_size(world, django_assert_max_num_queries):
    shipment = world.shipment()
    for n in range(8):
        created = permit(world.trial, world.ior, f"LI-{n}")
        for product in ("A", "B"):
            line = PermitLine.objects.create(permit=created, product_name=product, authorised_quantity=100)
            PermitDrawdown.objects.create(line=line, shipment=shipment, item=shipment.items.get(), quantity=1)
    assert_constant_queries(signed_in(world.alice), url("permit-list"), django_assert_max_num_queries)


# Countries


def test_countries_show_profiles_with_only_the_current_requirements(world, api_as):
    old = DocumentRequirementFactory(country__country="BR", title="Old consent", version=1, is_active=False)
    DocumentRequirementFactory(country=old.country, title="ANVISA consent", version=2, lead_time_days=20)
    profile = old.country
    profile.local_ior_mandatory = True
    profile.sources = [{"fact": "local_ior_mandatory", "source": "RDC 81/2008", "verified_on": "2026-01-15"}]
    profile.last_verified_on = days(-30)
    profile.save()
    CountryProfileFactory(country="US")
    rows = results(api_as(world.charlie, scope="read").get(url("country-list")))
    assert [row["country"] for row in rows] == ["BR", "US"]
    brazil = rows[0]
    assert brazil["country_name"] == "Brazil"
    assert brazil["local_ior_mandatory"] is True
    assert brazil["sources"] == [{"fact": "local_ior_mandatory", "source": "RDC 81/2008", "verified_on": "2026-01-15"}]
    assert brazil["last_verified_on"] == days(-30).isoformat()
    assert [(r["title"], r["version"], r["lead_time_days"]) for r in brazil["requirements"]] == [
        ("ANVISA consent", 2, 20)
    ]


def test_country_is_retrieved_by_its_iso_code(world, api_as, requirements):
    client = api_as(world.charlie)
    body = client.get(url("country-detail", "BR")).json()
    assert body["country"] == "BR"
    assert [r["document_type"] for r in body["requirements"]] == ["import_permit"]
    assert client.get("/api/v1/countries/br/").json()["country"] == "BR"
    missing = client.get(url("country-detail", "FR"))
    assert missing.status_code == 404
    assert missing.json() == {"detail": "Not found."}
    assert client.get("/api/v1/countries/BRA/").json() == {"detail": "Not found."}


def test_countries_need_authentication(db):
    assert APIClient().get(url("country-list")).status_code == 401


def test_country_list_query_count_is_constant_in_the_page_size(world, django_assert_max_num_queries):
    for code in ("BR", "US", "IN", "DE", "FR", "JP", "MX", "ZA"):
        for document_type in ("import_permit", "commercial_invoice"):
            DocumentRequirementFactory(country__country=code, document_type=document_type)
    assert_constant_queries(signed_in(world.alice), url("country-list"), django_assert_max_num_queries)


# Preflight


def proposal(world, **overrides) -> dict:
    body = {
        "trial": world.trial.pk,
        "origin": "US",
        "destination": "BR",
        "ior": world.ior.pk,
        "eor": world.eor.pk,
        "consignee": world.site.pk,
        "items": [{"category": "imp", "product_name": "ABC-123 100 mg vial", "quantity": "120"}],
        "temperature_class": "refrigerated",
        "declared_value": "12000.00",
        "currency": "USD",
        "planned_ship_date": days(30).isoformat(),
    }
    body.update(overrides)
    return {key: value for key, value in body.items() if value is not None}


@pytest.fixture
def brazil_taxes(requirements):
    profile = requirements[0].country
    profile.imp_duty_exempt = True
    profile.standard_vat_rate = Decimal("18.00")
    profile.save()
    return profile


def test_preflight_answers_documents_owners_permits_taxes_and_earliest_date(world, api_as, brazil_permit, brazil_taxes):
    world.shipment()
    response = api_as(world.alice).post(url("preflight"), proposal(world), format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["route_kind"] == "international"
    assert [(d["side"], d["document_type"], d["owed_by"], d["due_date"]) for d in body["documents"]] == [
        ("export", "export_declaration", "US Export Services", days(27).isoformat()),
        ("import", "import_permit", "Brasil IOR Ltda", days(10).isoformat()),
    ]
    [need] = body["permits"]
    assert need["covered"] is True
    [held] = need["held_permits"]
    assert (held["number"], held["valid_on_ship_date"]) == ("LI-26/0001", True)
    assert held["lines"][0]["remaining"] == "1000.000"
    assert [(t["tax"], t["status"], t["amount"]) for t in body["taxes"]] == [
        ("import duty", "exempt", "0.00"),
        ("import VAT", "estimated", "2160.00"),
    ]
    assert body["earliest_ship_date"] == days(20).isoformat()
    assert body["blockers"] == []


def test_preflight_names_blockers_and_accepts_categories_alone(world, api_as, requirements):
    requirements[0].country.local_ior_mandatory = True
    requirements[0].country.save()
    body = proposal(world, trial=None, ior=None, eor=None, consignee=None, items=None, categories=["imp", "imp"])
    response = api_as(world.alice).post(url("preflight"), body, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["blockers"] == ["no IOR assigned, and Brazil requires one"]
    assert response.json()["permits"][0]["held_permits"] == []


def test_preflight_defaults_the_sponsor_to_the_trials(world, api_as, requirements):
    world.shipment()
    DocumentRequirementFactory(
        country=requirements[0].country, document_type="certificate_of_analysis", provided_by="sponsor"
    )
    documents = api_as(world.alice).post(url("preflight"), proposal(world), format="json").json()["documents"]
    assert {d["document_type"]: d["owed_by"] for d in documents}["certificate_of_analysis"] == "Sponsor A Pharma"


def test_a_read_only_key_may_preflight(world, api_as, requirements):
    world.shipment()
    response = api_as(world.victor, scope="read").post(url("preflight"), proposal(world), format="json")
    assert response.status_code == 200


def test_charlie_naming_sponsor_as_trial_gets_the_same_400_as_a_missing_trial(world, api_as, requirements):
    client = api_as(world.charlie)
    hidden = client.post(url("preflight"), proposal(world, trial=world.trial.pk, ior=None, eor=None, consignee=None))
    missing = client.post(url("preflight"), proposal(world, trial=999999, ior=None, eor=None, consignee=None))
    assert hidden.status_code == missing.status_code == 400
    assert hidden.json() == missing.json() == {"detail": "Invalid input.", "errors": {"trial": ["No such trial."]}}
    assert "SPA-301" not in hidden.content.decode()


def test_charlie_naming_sponsor_a_parties_gets_the_same_400_as_missing_ones(world, api_as):
    world.shipment()
    client = api_as(world.charlie)
    hidden = client.post(url("preflight"), proposal(world, trial=None), format="json")
    missing = client.post(
        url("preflight"), proposal(world, trial=None, ior=999997, eor=999998, consignee=999999), format="json"
    )
    assert hidden.status_code == missing.status_code == 400
    expected = {field: ["No such organization."] for field in ("ior", "eor", "consignee")}
    assert hidden.json()["errors"] == missing.json()["errors"] == expected


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"origin": "XX"}, "origin", "XX is not an ISO 3166-1 alpha-2 country code."),
        ({"currency": "ZZZ"}, "currency", "ZZZ is not an ISO 4217 currency code."),
        ({"planned_ship_date": "soon"}, "planned_ship_date", "Date has wrong format."),
        ({"temperature_class": "warm"}, "temperature_class", '"warm" is not a valid choice.'),
        ({"declared_value": "-1"}, "declared_value", "greater than or equal to 0"),
        ({"items": []}, "items", "Give the items, or at least their categories."),
        ({"categories": ["imp"]}, "categories", "Give items or categories, not both."),
        ({"sponsor": "SPONSOR"}, "sponsor", "Incorrect type."),
        ({"status": "approved"}, "status", "Unknown field."),
        ({"destination": None}, "destination", "This field is required."),
    ],
)
def test_preflight_refuses_bad_input_field_by_field(world, api_as, overrides, field, message, requirements):
    world.shipment()
    response = api_as(world.alice).post(url("preflight"), proposal(world, **overrides), format="json")
    assert response.status_code == 400
    assert message in " ".join(response.json()["errors"][field])


def test_preflight_refuses_unknown_item_fields_and_a_sponsor_not_of_the_trial(world, api_as, requirements):
    world.shipment()
    client = api_as(world.alice)
    items = [{"category": "imp", "hs_code": "300215"}]
    response = client.post(url("preflight"), proposal(world, items=items), format="json")
    assert response.status_code == 400
    assert response.json()["errors"]["items"] == {"0": {"hs_code": ["Unknown field."]}}
    wrong_sponsor = client.post(url("preflight"), proposal(world, sponsor=world.cro.pk), format="json")
    assert wrong_sponsor.json()["errors"] == {"sponsor": ["Not the sponsor of this trial."]}


def test_preflight_needs_authentication(world):
    assert APIClient().post(url("preflight"), proposal(world), format="json").status_code == 401
