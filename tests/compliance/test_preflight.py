"""Preflight on the real country data, and the earliest ship date as the critical path of lead times."""

import json
from datetime import date, timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from hypothesis import given, settings
from hypothesis import strategies as st

from compliance.loader import load_regulatory_data
from compliance.preflight import Proposal, ProposedItem, earliest_ship_date, preflight
from tests.conftest import days
from tests.factories import CountryProfileFactory, DocumentRequirementFactory, LicenceFactory


@pytest.fixture
def regulatory_data(db):
    load_regulatory_data()


def propose(origin, destination, **overrides):
    fields = {
        "origin": origin,
        "destination": destination,
        "items": [ProposedItem(category="imp", quantity=Decimal(100), product_name="ABC-123")],
        "temperature_class": "refrigerated",
        "declared_value": Decimal(10000),
        "currency": "USD",
        "planned_ship_date": days(60),
    }
    fields.update(overrides)
    return preflight(Proposal(**fields))


def test_us_to_brazil_lists_anvisa_import_consent_owed_by_the_ior(regulatory_data):
    result = propose("US", "BR")
    consent = [d for d in result.documents if d.side == "import" and d.document_type == "import_permit"]
    assert len(consent) == 1
    assert "ANVISA" in consent[0].title
    assert consent[0].provided_by == "ior"
    assert consent[0].source
    assert "no IOR assigned, and Brazil requires one" in result.blockers
    assert [p.permit_type for p in result.permits if p.side == "import"] == ["import_permit"]


def test_us_to_india_needs_the_ct17_test_licence(regulatory_data):
    result = propose("US", "IN")
    licences = [d for d in result.documents if d.document_type == "test_licence"]
    assert len(licences) == 1
    assert "CT-17" in licences[0].title
    assert licences[0].provided_by == "ior"
    assert result.earliest_ship_date >= date.today() + timedelta(days=licences[0].lead_time_days or 0)


def test_a_shipment_within_the_eu_needs_no_import_permit(regulatory_data):
    result = propose("DE", "FR")
    assert result.route_kind == "customs_union"
    assert not [d for d in result.documents if d.document_type == "import_permit"]
    assert result.taxes == []


def test_every_loaded_fact_has_a_source(regulatory_data):
    from compliance.models import CountryProfile, DocumentRequirement

    assert CountryProfile.objects.count() >= 25
    for profile in CountryProfile.objects.all():
        for fact in profile.sources:
            if fact.get("source") is None:
                assert set(fact) <= {"fact", "note"}, (profile.country, fact)
        for name in ("regulatory_authority", "customs_authority"):
            if getattr(profile, name):
                assert any(s["fact"] == name and s["source"] for s in profile.sources), (profile.country, name)
    assert not DocumentRequirement.objects.filter(source="").exists()
    assert not DocumentRequirement.objects.filter(verified_on__isnull=True).exists()


def test_duties_and_vat_are_estimated_exempt_or_unknown(db):
    CountryProfileFactory(country="CL", standard_vat_rate=Decimal(19), standard_duty_rate=Decimal(6))
    CountryProfileFactory(country="AU", imp_duty_exempt=True, standard_vat_rate=Decimal(10))
    CountryProfileFactory(country="BR")
    chile = {t.tax: t for t in propose("US", "CL").taxes}
    assert (chile["import duty"].status, chile["import duty"].amount) == ("estimated", Decimal("600.00"))
    assert (chile["import VAT"].status, chile["import VAT"].amount) == ("estimated", Decimal("2014.00"))
    australia = {t.tax: t for t in propose("US", "AU").taxes}
    assert australia["import duty"].status == "exempt"
    assert australia["import VAT"].amount == Decimal("1000.00")
    brazil = {t.tax: t for t in propose("US", "BR").taxes}
    assert brazil["import duty"].status == brazil["import VAT"].status == "unknown"


def test_blockers_name_an_expired_licence_and_warn_of_a_late_ship_date(world):
    DocumentRequirementFactory(country__country="BR", lead_time_days=45)
    world.ior.licences.update(valid_until=days(10))
    result = propose("US", "BR", ior=world.ior, planned_ship_date=days(20))
    assert any("import licence" in b and "expired" in b for b in result.blockers)
    assert result.earliest_ship_date == days(45)
    assert any("is before the earliest feasible ship date" in w for w in result.warnings)


@settings(max_examples=60, deadline=None)
@given(lead_times=st.lists(st.one_of(st.none(), st.integers(min_value=0, max_value=400)), max_size=12))
def test_earliest_ship_date_is_the_longest_known_lead_time(lead_times):
    today = date(2026, 11, 23)
    known = [d for d in lead_times if d is not None]
    result = earliest_ship_date(today=today, lead_times=lead_times)
    assert result == today + timedelta(days=max(known, default=0))
    assert all(result >= today + timedelta(days=d) for d in known)


@pytest.mark.django_db
@settings(max_examples=15, deadline=None)
@given(leads=st.lists(st.integers(min_value=0, max_value=200), min_size=1, max_size=5, unique=True))
def test_preflight_earliest_date_follows_the_requirements(leads):
    from compliance.models import CountryProfile, DocumentRequirement

    DocumentRequirement.objects.all().delete()
    CountryProfile.objects.all().delete()
    profile = CountryProfileFactory(country="BR")
    types = ["import_permit", "commercial_invoice", "packing_list", "certificate_of_analysis", "gmp_certificate"]
    for lead, document_type in zip(leads, types, strict=False):
        DocumentRequirementFactory(country=profile, document_type=document_type, lead_time_days=lead)
    result = propose("US", "BR", today=date(2026, 11, 23))
    assert result.earliest_ship_date == date(2026, 11, 23) + timedelta(days=max(leads))
    assert str(max(leads)) in result.critical_path


def test_preflight_command_prints_json(regulatory_data):
    out = StringIO()
    call_command(
        "preflight",
        origin="US",
        destination="BR",
        category=["imp"],
        temperature="refrigerated",
        ship_date=days(60).isoformat(),
        json=True,
        stdout=out,
    )
    answer = json.loads(out.getvalue())
    assert answer["route_kind"] == "international"
    assert any(d["document_type"] == "import_permit" and d["provided_by"] == "ior" for d in answer["documents"])
    assert {t["tax"] for t in answer["taxes"]} == {"import duty", "import VAT"}
    assert answer["earliest_ship_date"] >= date.today().isoformat()


def test_preflight_command_text_and_bad_input(regulatory_data):
    out = StringIO()
    call_command(
        "preflight",
        "--category=imp",
        "--category=lab_kit",
        origin="us",
        destination="in",
        temperature="frozen",
        ship_date=days(120).isoformat(),
        stdout=out,
    )
    text = out.getvalue()
    assert "Earliest feasible ship date" in text
    assert "CT-17" in text
    with pytest.raises(CommandError, match="--origin: 'XX' is not an ISO 3166-1"):
        call_command(
            "preflight", origin="XX", destination="BR", category=["imp"], temperature="frozen", ship_date="2027-01-01"
        )
    with pytest.raises(CommandError, match="--ship-date: 'soon' is not a date"):
        call_command(
            "preflight", origin="US", destination="BR", category=["imp"], temperature="frozen", ship_date="soon"
        )
    with pytest.raises(CommandError, match="--ior: no organization named 'Nobody'"):
        call_command(
            "preflight",
            origin="US",
            destination="BR",
            category=["imp"],
            temperature="frozen",
            ship_date="2027-01-01",
            ior="Nobody",
        )


def test_licence_for_another_country_does_not_count(world):
    CountryProfileFactory(country="BR", local_ior_mandatory=True)
    LicenceFactory(organization=world.ior, country="AR", number="AR-1")
    world.ior.licences.filter(country="BR").delete()
    result = propose("US", "BR", ior=world.ior)
    assert any("holds no import licence for Brazil" in b for b in result.blockers)


def test_no_licence_needed_where_no_local_licensed_importer_is_required(world):
    CountryProfileFactory(country="US", local_ior_mandatory=False)
    result = propose("BR", "US", ior=world.ior)
    assert not any("import licence" in b for b in result.blockers)


def test_preflight_permit_coverage_counts_what_is_left(world, brazil_permit):
    DocumentRequirementFactory(country__country="BR", document_type="import_permit")
    item = ProposedItem(category="imp", quantity=Decimal(1200), product_name="ABC-123 100 mg vial")
    result = propose("US", "BR", trial=world.trial, items=[item])
    assert [p.covered for p in result.permits] == [False]
    assert any("1000 of ABC-123 100 mg vial left, 1200 needed" in w for w in result.warnings)
    smaller = ProposedItem(category="imp", quantity=Decimal(10), product_name="ABC-123 100 mg vial")
    assert [p.covered for p in propose("US", "BR", trial=world.trial, items=[smaller]).permits] == [True]
