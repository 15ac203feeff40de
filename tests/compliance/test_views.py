"""The country pages (public reference data for every signed-in user) and the permit ledger pages (permits through
their trial's tenancy, drawdowns through their shipments')."""

import re
from datetime import date
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from compliance.models import CountryProfile, Permit, PermitDrawdown, PermitLine
from tests.conftest import days
from tests.factories import CountryProfileFactory, DocumentRequirementFactory, OrganizationFactory

COUNTRY_LIST = reverse("compliance:country_list")
PERMIT_LIST = reverse("compliance:permit_list")


def country_url(code: str) -> str:
    return reverse("compliance:country_detail", args=[code])


def permit_url(permit) -> str:
    return reverse("compliance:permit_detail", args=[permit.pk])


@pytest.fixture
def brazil(db) -> CountryProfile:
    profile = CountryProfileFactory(
        country="BR",
        regulatory_authority="Agência Nacional de Vigilância Sanitária",
        regulatory_authority_acronym="ANVISA",
        regulatory_authority_url="https://www.gov.br/anvisa/pt-br",
        local_ior_mandatory=True,
        standard_vat_rate=None,
        cold_chain_notes="Keep temperature evidence available for the inspection.",
        last_verified_on=date(2026, 11, 23),
        sources=[
            {"fact": "regulatory_authority", "source": "https://www.gov.br/anvisa/pt-br", "verified_on": "2026-11-23"},
            {"fact": "local_ior_mandatory", "source": "IN RFB 1984/2020, Art. 2", "verified_on": "2026-11-20"},
            {"fact": "standard_vat_rate", "note": "Brazil has no single VAT rate."},
        ],
    )
    for category in ("imp", "device"):
        DocumentRequirementFactory(
            country=profile,
            product_category=category,
            document_type="import_permit",
            title="ANVISA consent on the import licence (LI)",
            lead_time_days=20,
            legal_basis="RDC ANVISA 81/2008, Chapter XXVI",
            source="https://licempre.com.br/know-the-codes-for-importing-products-for-clinical-research",
            verified_on=date(2026, 11, 23),
        )
    DocumentRequirementFactory(
        country=profile,
        direction="export",
        document_type="export_declaration",
        title="Declaração Única de Exportação",
        provided_by="eor",
        lead_time_days=None,
        legal_basis="IN RFB 1702/2017",
        source="IN RFB 1702/2017",
        verified_on=date(2026, 11, 21),
    )
    DocumentRequirementFactory(country=profile, document_type="packing_list", is_active=False, title="Retired list")
    return profile


def make_permit(world, *, number: str, valid_until, valid_from=None, trial=None, quantity=1000) -> Permit:
    permit = Permit.objects.create(
        permit_type="import_permit",
        holder=world.ior,
        trial=trial or world.trial,
        country="BR",
        direction="import",
        authority="ANVISA",
        number=number,
        valid_from=valid_from or days(-30),
        valid_until=valid_until,
    )
    PermitLine.objects.create(
        permit=permit, product_name="ABC-123 100 mg vial", authorised_quantity=quantity, unit="vial"
    )
    return permit


def draw(permit: Permit, shipment, quantity, *, released=False) -> PermitDrawdown:
    return PermitDrawdown.objects.create(
        line=permit.lines.get(),
        shipment=shipment,
        item=shipment.items.first(),
        quantity=Decimal(quantity),
        released_at=timezone.now() if released else None,
    )


def query_count(client, url: str) -> tuple[int, str]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries), response.content.decode()


def test_anonymous_is_sent_to_sign_in(client, world, brazil, brazil_permit):
    for url in (COUNTRY_LIST, country_url("BR"), PERMIT_LIST, permit_url(brazil_permit)):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))


# Countries


def test_country_list_shows_coverage_in_name_order(client, world, brazil):
    CountryProfileFactory(country="DE", regulatory_authority_acronym="BfArM")
    client.force_login(world.charlie)
    body = client.get(COUNTRY_LIST).content.decode()
    assert body.index("Brazil") < body.index("Germany")
    assert f'href="{country_url("BR")}"' in body
    assert "1 to import · 1 to export" in body
    assert "2 of 5 product categories" in body
    assert "No requirements recorded" in body
    assert "ANVISA" in body
    assert "23 Nov 2026" in body


def test_country_list_links_the_permits_the_user_may_see(client, world, brazil, brazil_permit):
    client.force_login(world.alice)
    assert f'href="{PERMIT_LIST}?country=BR">1</a>' in client.get(COUNTRY_LIST).content.decode()
    client.force_login(world.charlie)
    assert f'href="{PERMIT_LIST}?country=BR"' not in client.get(COUNTRY_LIST).content.decode()


def test_country_page_shows_each_fact_with_its_source_and_verified_date(client, world, brazil):
    client.force_login(world.rita)
    response = client.get(country_url("BR"))
    assert response.status_code == 200
    body = response.content.decode()
    assert "Agência Nacional de Vigilância Sanitária (ANVISA)" in body
    assert 'href="https://www.gov.br/anvisa/pt-br" rel="noopener noreferrer" target="_blank" title=' in body
    assert ">gov.br/anvisa/pt-br</a>" in body
    assert "IN RFB 1984/2020, Art. 2" in body
    assert "verified 20 Nov 2026" in body
    assert "Brazil has no single VAT rate." in body
    assert "Keep temperature evidence available for the inspection." in body


def test_country_page_lists_requirements_once_per_document_with_legal_basis(client, world, brazil):
    client.force_login(world.rita)
    body = client.get(country_url("br")).content.decode()
    imports = body[body.index('data-testid="requirements-import"') : body.index('data-testid="requirements-export"')]
    assert imports.count("ANVISA consent on the import licence (LI)") == 1
    assert "Investigational medicinal product, Medical device" in imports or (
        "Medical device, Investigational medicinal product" in imports
    )
    assert "20 days" in imports
    assert "RDC ANVISA 81/2008, Chapter XXVI" in imports
    assert ">licempre.com.br/know-the-codes-for-importing-pr…</a>" in imports
    assert "Retired list" not in body
    exports = body[body.index('data-testid="requirements-export"') :]
    assert "Declaração Única de Exportação" in exports
    assert "Exporter of record" in exports
    assert "IN RFB 1702/2017" in exports
    assert "21 Nov 2026" in exports


@pytest.mark.parametrize("code", ["XX", "DE"])
def test_a_country_without_a_profile_is_404(client, world, brazil, code):
    client.force_login(world.rita)
    assert client.get(country_url(code)).status_code == 404
    assert client.get("/countries/BRA/").status_code == 404


def test_country_page_queries_do_not_grow_with_the_requirements(client, world, brazil):
    types = [
        "commercial_invoice",
        "packing_list",
        "certificate_of_analysis",
        "gmp_certificate",
        "qp_release",
        "ethics_approval",
        "safety_data_sheet",
        "certificate_of_origin",
        "temperature_record",
    ]
    for code, count in (("DE", 3), ("ES", 9)):
        profile = CountryProfileFactory(country=code)
        for document_type in types[:count]:
            DocumentRequirementFactory(country=profile, document_type=document_type, source="https://example.test/x")
    client.force_login(world.rita)
    few, body = query_count(client, country_url("DE"))
    assert body.count('<td><span class="fw-medium">') == 3
    many, body = query_count(client, country_url("ES"))
    assert body.count('<td><span class="fw-medium">') == 9
    assert many == few


# Permits


def test_permit_list_shows_remaining_quantities_and_expiry(client, world):
    ok = make_permit(world, number="LI-OK", valid_until=days(200))
    make_permit(world, number="LI-SOON", valid_until=days(10))
    make_permit(world, number="LI-GONE", valid_until=days(-1), valid_from=days(-400))
    shipment = world.shipment()
    draw(ok, shipment, 250)
    client.force_login(world.alice)
    body = client.get(PERMIT_LIST).content.decode()
    rows = {number: body[body.index(f">{number}</a>") :][:2500] for number in ("LI-OK", "LI-SOON", "LI-GONE")}
    assert body.index("LI-GONE") < body.index("LI-SOON") < body.index("LI-OK")
    assert f'href="{permit_url(ok)}"' in body
    assert "<strong>750</strong> of 1000 vials" in rows["LI-OK"]
    assert "Valid</span>" in rows["LI-OK"]
    assert "Expires in 10 days" in rows["LI-SOON"]
    assert "Expired</span>" in rows["LI-GONE"]
    assert re.search(r'<tr class="permit-row-expiring" data-state="expiring">\s*<td[^>]*><a[^>]*>LI-SOON', body)
    assert re.search(r'<tr class="permit-row-expired" data-state="expired">\s*<td[^>]*><a[^>]*>LI-GONE', body)
    assert "Brasil IOR Ltda" in body
    assert "SPA-301" in body
    assert "Brazil" in body


def test_permit_list_filters_and_ignores_bad_input(client, world):
    make_permit(world, number="LI-OK", valid_until=days(200))
    make_permit(world, number="LI-GONE", valid_until=days(-1), valid_from=days(-400))
    client.force_login(world.alice)
    body = client.get(PERMIT_LIST, {"state": "expired"}).content.decode()
    assert "LI-GONE" in body
    assert "LI-OK" not in body
    body = client.get(PERMIT_LIST, {"state": "valid", "country": "br", "trial": world.trial.pk}).content.decode()
    assert "LI-OK" in body
    assert "LI-GONE" not in body
    body = client.get(PERMIT_LIST, {"trial": world.trial_b.pk, "country": "DE"}).content.decode()
    assert "LI-OK" in body
    assert "LI-GONE" in body
    for bad in ({"page": "abc"}, {"page": "999"}, {"state": "bogus"}, {"trial": "x'"}, {"country": "ZZZ"}):
        response = client.get(PERMIT_LIST, bad)
        assert response.status_code == 200
        assert "LI-OK" in response.content.decode()
    assert 'data-testid="permits-empty"' in client.get(PERMIT_LIST, {"state": "upcoming"}).content.decode()


def test_charlie_sees_none_of_sponsor_as_permits(client, world, brazil_permit):
    client.force_login(world.charlie)
    body = client.get(PERMIT_LIST).content.decode()
    assert "LI-26/0001" not in body
    assert "No permits yet" in body
    assert client.get(permit_url(brazil_permit)).status_code == 404
    assert client.get(reverse("compliance:permit_detail", args=[brazil_permit.pk + 100])).status_code == 404


def test_permit_ledger_lists_drawdowns_per_shipment_with_links(client, world, brazil_permit):
    first, second, cancelled = world.shipment(), world.shipment(), world.shipment()
    draw(brazil_permit, first, 120)
    draw(brazil_permit, second, 80)
    draw(brazil_permit, cancelled, 300, released=True)
    client.force_login(world.alice)
    response = client.get(permit_url(brazil_permit))
    assert response.status_code == 200
    body = response.content.decode()
    assert "Import permit / licence LI-26/0001" in body
    assert "ANVISA · held by Brasil IOR Ltda" in body
    line = body[body.index("<tr data-line=") :]
    assert re.search(r"1000 vials</td>\s*<td[^>]*>200</td>\s*<td[^>]*>800</td>", line)
    for shipment in (first, second, cancelled):
        assert f'<a href="{shipment.get_absolute_url()}">{shipment.reference}</a>' in body
    assert body.count("<tr data-entry=") == 3
    assert "−120 vials" in body
    assert "<s>300</s> vials" in body
    assert "Given back" in body
    assert 'data-testid="hidden-draws"' not in body


def test_draws_by_shipments_the_user_cannot_see_are_counted_but_not_named(client, world, brazil_permit):
    theirs = world.shipment()
    other_ior = OrganizationFactory(name="Another IOR", country="BR", roles=["ior"])
    hidden = world.shipment(ior=other_ior)
    draw(brazil_permit, theirs, 100)
    draw(brazil_permit, hidden, 40)
    client.force_login(world.rita)
    body = client.get(permit_url(brazil_permit)).content.decode()
    assert theirs.reference in body
    assert hidden.reference not in body
    assert "40 vials of ABC-123 100 mg vial drawn by shipments of other parties, counted in what remains." in body
    assert re.search(r"<td[^>]*>140</td>\s*<td[^>]*>860</td>", body)


def test_expired_and_expiring_permits_are_flagged_on_their_page(client, world):
    soon = make_permit(world, number="LI-SOON", valid_until=days(5))
    gone = make_permit(world, number="LI-GONE", valid_until=days(-1), valid_from=days(-400))
    client.force_login(world.alice)
    assert "within 30 days" in client.get(permit_url(soon)).content.decode()
    assert "This permit expired on" in client.get(permit_url(gone)).content.decode()


def test_permit_pages_queries_do_not_grow_with_rows(client, world):
    few_permit = make_permit(world, number="LI-FEW", valid_until=days(200))
    many_permit = make_permit(world, number="LI-MANY", valid_until=days(300))
    for _ in range(2):
        draw(few_permit, world.shipment(), 10)
    for _ in range(6):
        draw(many_permit, world.shipment(), 10)
    client.force_login(world.alice)
    few, body = query_count(client, permit_url(few_permit))
    assert body.count("<tr data-entry=") == 2
    many, body = query_count(client, permit_url(many_permit))
    assert body.count("<tr data-entry=") == 6
    assert many == few

    few, body = query_count(client, PERMIT_LIST)
    assert body.count("data-state=") == 2
    for number in range(4):
        make_permit(world, number=f"LI-X{number}", valid_until=days(100 + number))
    many, body = query_count(client, PERMIT_LIST)
    assert body.count("data-state=") == 6
    assert many == few


def test_country_list_queries_do_not_grow_with_the_countries(client, world, brazil_permit):
    def add_countries(codes) -> None:
        for code in codes:
            profile = CountryProfileFactory(country=code)
            for document_type in ("commercial_invoice", "packing_list"):
                DocumentRequirementFactory(
                    country=profile, document_type=document_type, source="https://example.test/x"
                )
            Permit.objects.filter(pk=make_permit(world, number=f"LI-{code}", valid_until=days(100)).pk).update(
                country=code
            )

    client.force_login(world.alice)
    add_countries(["DE", "ES", "FR"])
    client.get(COUNTRY_LIST)
    few, body = query_count(client, COUNTRY_LIST)
    assert all(f'href="{country_url(code)}"' in body for code in ("DE", "ES", "FR"))
    add_countries(["IT", "JP", "MX"])
    many, body = query_count(client, COUNTRY_LIST)
    assert all(f'href="{country_url(code)}"' in body for code in ("DE", "ES", "FR", "IT", "JP", "MX"))
    assert many == few
