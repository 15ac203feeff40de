"""Drafting in the browser: the create and edit forms with their item rows, saved through the services (whose
refusals land on the fields), and the live preflight panel."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from ior_platform.core.models import AuditEvent
from shipments.choices import ShipmentStatus as S
from shipments.models import Shipment, ShipmentItem
from tests.conftest import force_status
from tests.factories import OrganizationFactory, ShipmentItemFactory, SiteFactory, TrialFactory
from tests.shipments.test_views_detail import section

CREATE = reverse("shipments:create")
PREFLIGHT = reverse("shipments:preflight")


def day(n: int) -> str:
    return (timezone.localdate() + timedelta(days=n)).isoformat()


def management(total: int, initial: int = 0) -> dict:
    return {
        "items-TOTAL_FORMS": str(total),
        "items-INITIAL_FORMS": str(initial),
        "items-MIN_NUM_FORMS": "0",
        "items-MAX_NUM_FORMS": "100",
    }


@pytest.fixture(autouse=True)
def trial_site(world):
    """The São Paulo hospital is a site of sponsor A's trial, so sponsor A's people may name it as consignee."""
    return SiteFactory(trial=world.trial, organization=world.site, site_number="101", name="Hospital São Paulo")


def draft_data(world, **overrides) -> dict:
    data = {
        "trial": str(world.trial.pk),
        "ior": str(world.ior.pk),
        "eor": str(world.eor.pk),
        "consignee": str(world.site.pk),
        "broker": "",
        "courier": str(world.courier.pk),
        "site": "",
        "origin_country": "US",
        "origin_address": "1 Depot Way, Memphis, TN",
        "destination_country": "BR",
        "destination_address": "Av. Paulista 1000, São Paulo",
        "temperature_class": "refrigerated",
        "planned_ship_date": day(30),
        "required_at_site_date": "",
        "incoterm": "DAP",
        "declared_value": "24000.00",
        "currency": "USD",
        "duties_estimated": "",
        "duties_payer": "",
        **management(2),
        "items-0-product_name": "ABC-123 100 mg vial",
        "items-0-category": "imp",
        "items-0-quantity": "120",
        "items-0-unit": "vial",
        "items-0-unit_value": "200",
        "items-0-hs_code": "300215",
        "items-0-expiry_date": day(400),
        "items-1-product_name": "",
        "items-1-category": "",
        "items-1-quantity": "",
        "items-1-unit": "each",
        "items-1-unit_value": "0",
    }
    data.update(overrides)
    return data


def edit_data(shipment, **overrides) -> dict:
    """The edit form as the browser sends it back unchanged, plus `overrides`."""
    items = list(shipment.items.order_by("position", "pk"))
    data = {
        "site": str(shipment.site_id or ""),
        **{
            name: str(getattr(shipment, f"{name}_id") or "")
            for name in ("ior", "eor", "consignee", "broker", "courier")
        },
        "origin_country": shipment.origin_country,
        "origin_address": shipment.origin_address,
        "destination_country": shipment.destination_country,
        "destination_address": shipment.destination_address,
        "temperature_class": shipment.temperature_class,
        "planned_ship_date": shipment.planned_ship_date.isoformat(),
        "required_at_site_date": "",
        "incoterm": shipment.incoterm,
        "declared_value": str(shipment.declared_value),
        "currency": shipment.currency,
        "duties_estimated": "",
        "duties_payer": shipment.duties_payer,
        **management(len(items), len(items)),
    }
    for index, item in enumerate(items):
        data.update(
            {
                f"items-{index}-id": str(item.pk),
                f"items-{index}-product_name": item.product_name,
                f"items-{index}-category": item.category,
                f"items-{index}-quantity": str(item.quantity),
                f"items-{index}-unit": item.unit,
                f"items-{index}-unit_value": str(item.unit_value),
                f"items-{index}-hs_code": item.hs_code,
                f"items-{index}-lot_number": item.lot_number,
                f"items-{index}-expiry_date": item.expiry_date.isoformat() if item.expiry_date else "",
                f"items-{index}-un_number": item.un_number,
            }
        )
    data.update(overrides)
    return data


def edit_url(shipment) -> str:
    return reverse("shipments:edit", args=[shipment.reference])


# Who may draft.


def test_anonymous_is_sent_to_sign_in(client, world):
    shipment = world.shipment()
    for method, url in (("get", CREATE), ("get", edit_url(shipment)), ("post", PREFLIGHT)):
        response = getattr(client, method)(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize("persona", ["victor", "rita", "eddie"])
def test_who_may_not_draft_gets_403_on_the_create_page(client, world, persona):
    client.force_login(getattr(world, persona))
    response = client.get(CREATE)
    assert response.status_code == 403
    assert "Only editors or managers of a trial&#x27;s sponsor" in response.content.decode()
    assert client.post(CREATE, draft_data(world)).status_code == 403
    assert not Shipment.objects.exists()


def test_the_trial_choice_holds_only_the_users_own_trials_by_name(client, world):
    client.force_login(world.alice)
    body = client.get(CREATE).content.decode()
    assert f"{world.trial.protocol_number} – {world.trial.title}" in body
    assert world.trial_b.protocol_number not in body
    client.force_login(world.charlie)
    body = client.get(CREATE).content.decode()
    assert world.trial_b.protocol_number in body
    assert world.trial.protocol_number not in body
    assert world.site.name not in body, "another sponsor's consignee is not offered"


def test_charlie_cannot_draft_for_sponsor_a_or_open_its_drafts(client, world):
    shipment = world.shipment()
    client.force_login(world.charlie)
    response = client.post(CREATE, draft_data(world))
    assert response.status_code == 200
    assert "Select a valid choice" in section(response.content.decode(), "id_trial_error")
    assert not Shipment.objects.exclude(pk=shipment.pk).exists()
    assert client.get(edit_url(shipment)).status_code == 404
    assert client.post(edit_url(shipment), edit_data(shipment, declared_value="1")).status_code == 404
    assert Shipment.objects.get(pk=shipment.pk).declared_value == shipment.declared_value


# Creating.


def test_create_saves_the_draft_and_its_items_through_the_service(client, world):
    client.force_login(world.alice)
    response = client.post(CREATE, draft_data(world))
    shipment = Shipment.objects.get()
    assert response.status_code == 302
    assert response["Location"] == shipment.get_absolute_url()
    assert shipment.status == S.DRAFT
    assert shipment.sponsor == world.sponsor_a
    assert shipment.created_by == world.alice
    assert (shipment.ior, shipment.eor, shipment.consignee) == (world.ior, world.eor, world.site)
    item = shipment.items.get()
    assert (item.product_name, item.quantity, item.unit, item.position) == ("ABC-123 100 mg vial", 120, "vial", 1)
    assert AuditEvent.objects.filter(shipment=shipment, action="shipment.created", actor=world.alice).count() == 1
    body = client.get(response["Location"]).content.decode()
    assert f"Draft {shipment.reference} saved." in body


def test_a_cro_editor_drafts_for_the_sponsor_that_authorised_it(client, world):
    client.force_login(world.carl)
    assert client.post(CREATE, draft_data(world)).status_code == 302
    assert Shipment.objects.get().sponsor == world.sponsor_a


def test_errors_are_shown_next_to_their_fields_and_nothing_is_saved(client, world):
    client.force_login(world.alice)
    data = draft_data(
        world,
        origin_address="",
        required_at_site_date=day(10),
        **{
            "items-0-hs_code": "30.02",
            "items-1-product_name": "Logger",
            "items-1-category": "ancillary",
            "items-1-quantity": "2",
            "items-1-unit_value": "-5",
        },
    )
    response = client.post(CREATE, data)
    assert response.status_code == 200
    body = response.content.decode()
    assert "The draft was not saved." in body
    assert "This field is required." in section(body, "id_origin_address_error")
    assert "cannot be before the planned ship date" in section(body, "id_required_at_site_date_error")
    assert "An HS code is 6, 8 or 10 digits" in section(body, "id_items-0-hs_code_error")
    assert "Cannot be negative." in section(body, "id_items-1-unit_value_error")
    textarea = re.search(r"<textarea name=\"origin_address\"[^>]*>", body).group(0)
    assert 'class="form-control is-invalid"' in textarea
    assert 'aria-invalid="true" aria-describedby="id_origin_address_error"' in textarea
    assert 'value="Logger"' in body, "what was typed is kept"
    assert not Shipment.objects.exists()


def test_a_refusal_only_the_service_knows_lands_on_its_item_field(client, world):
    client.force_login(world.alice)
    response = client.post(CREATE, draft_data(world, **{"items-0-expiry_date": day(5)}))
    assert response.status_code == 200
    error = section(response.content.decode(), "id_items-0-expiry_date_error")
    assert "before the planned ship date" in error
    assert not Shipment.objects.exists()


@pytest.mark.parametrize(
    "forged",
    [
        {"items-TOTAL_FORMS": "abc"},
        {"items-TOTAL_FORMS": "5000"},
        {"temperature_class": "sauna"},
        {"origin_country": "XX"},
        {"ior": "999999"},
        {"items-0-id": "999999", "items-INITIAL_FORMS": "1"},
        {"planned_ship_date": "tomorrow"},
    ],
)
def test_forged_or_malformed_input_is_a_form_error(client, world, forged):
    client.force_login(world.alice)
    response = client.post(CREATE, draft_data(world, **forged))
    assert response.status_code == 200
    assert "The draft was not saved." in response.content.decode()
    assert not Shipment.objects.exists()


def test_the_create_page_has_an_item_template_and_a_preflight_panel(client, world):
    client.force_login(world.alice)
    body = client.get(CREATE).content.decode()
    assert 'name="items-TOTAL_FORMS" value="1"' in body
    assert "<template data-formset-template>" in body and "items-__prefix__-product_name" in body
    assert f'hx-post="{PREFLIGHT}"' in body
    assert 'hx-trigger="change from:#shipment-form, keyup delay:700ms from:#shipment-form"' in body
    assert "the origin country" in section(body, "preflight")
    assert '<script src="/static/js/formset.js" defer></script>' in body
    assert not re.search(r"<script(?![^>]*\bsrc=)", body)
    assert not re.search(r"\sstyle=\"", body)
    assert not re.search(r"\son[a-z]+=\"", body)


# Editing.


def test_edit_applies_changes_removals_and_additions_through_the_services(client, world):
    shipment = world.shipment(items=2)
    first, second = shipment.items.order_by("position")
    client.force_login(world.alice)
    page = client.get(edit_url(shipment)).content.decode()
    assert f'value="{first.pk}"' in page and 'value="120"' in page
    data = edit_data(
        shipment,
        declared_value="30000.00",
        **{
            "items-0-quantity": "150",
            "items-1-DELETE": "on",
            "items-TOTAL_FORMS": "3",
            "items-2-product_name": "Dry ice",
            "items-2-category": "ancillary",
            "items-2-quantity": "5",
            "items-2-unit": "each",
            "items-2-unit_value": "0",
            "items-2-un_number": "UN1845",
        },
    )
    response = client.post(edit_url(shipment), data)
    assert response.status_code == 302, response.content.decode()[:2000]
    shipment.refresh_from_db()
    assert shipment.declared_value == Decimal("30000.00")
    assert not ShipmentItem.objects.filter(pk=second.pk).exists()
    assert ShipmentItem.objects.get(pk=first.pk).quantity == 150
    assert shipment.items.get(product_name="Dry ice").un_number == "UN1845"
    actions = set(AuditEvent.objects.filter(shipment=shipment).values_list("action", flat=True))
    assert {"shipment.updated", "shipment.item_updated", "shipment.item_removed", "shipment.item_added"} <= actions


def test_an_edit_refused_in_one_row_keeps_nothing(client, world):
    shipment = world.shipment()
    client.force_login(world.alice)
    data = edit_data(
        shipment,
        declared_value="99999.00",
        **{
            "items-TOTAL_FORMS": "2",
            "items-1-product_name": "Expired kit",
            "items-1-category": "lab_kit",
            "items-1-quantity": "1",
            "items-1-unit": "kit",
            "items-1-unit_value": "10",
            "items-1-expiry_date": day(1),
        },
    )
    response = client.post(edit_url(shipment), data)
    assert response.status_code == 200
    assert "before the planned ship date" in section(response.content.decode(), "id_items-1-expiry_date_error")
    shipment.refresh_from_db()
    assert shipment.declared_value == Decimal("12000.00")
    assert shipment.items.count() == 1
    assert not AuditEvent.objects.filter(shipment=shipment, action__startswith="shipment.").exists()


def test_an_item_of_another_shipment_cannot_be_edited_through_this_one(client, world):
    shipment = world.shipment()
    other = world.shipment()
    foreign = other.items.get()
    client.force_login(world.alice)
    data = edit_data(shipment, **{"items-0-id": str(foreign.pk), "items-0-quantity": "1"})
    response = client.post(edit_url(shipment), data)
    assert response.status_code == 200
    assert ShipmentItem.objects.get(pk=foreign.pk).quantity == 120
    assert ShipmentItem.objects.get(shipment=shipment).quantity == 120


def test_only_a_draft_can_be_edited(client, world):
    shipment = force_status(world.shipment(), S.PERMIT_COLLECTION)
    client.force_login(world.alice)
    response = client.get(edit_url(shipment), follow=True)
    assert response.redirect_chain == [(shipment.get_absolute_url(), 302)]
    assert f"Only a draft can be edited; {shipment.reference} is permit collection." in response.content.decode()
    client.post(edit_url(shipment), edit_data(shipment, declared_value="1"))
    assert Shipment.objects.get(pk=shipment.pk).declared_value == Decimal("12000.00")


@pytest.mark.parametrize("persona", ["victor", "ivan"])
def test_who_may_not_edit_is_told_why(client, world, persona):
    shipment = world.shipment()
    client.force_login(getattr(world, persona))
    response = client.get(edit_url(shipment), follow=True)
    assert response.redirect_chain == [(shipment.get_absolute_url(), 302)]
    assert "may edit this shipment." in response.content.decode()
    client.post(edit_url(shipment), edit_data(shipment, declared_value="1"))
    assert Shipment.objects.get(pk=shipment.pk).declared_value == Decimal("12000.00")


def test_the_edit_page_costs_the_same_queries_for_more_items(client, world, requirements):
    small, large = world.shipment(items=2), world.shipment(items=2)
    for _ in range(4):
        ShipmentItemFactory(shipment=large)
    client.force_login(world.alice)
    counts = []
    for shipment in (small, large):
        client.get(edit_url(shipment))
        with CaptureQueriesContext(connection) as queries:
            response = client.get(edit_url(shipment))
        assert response.status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1], counts
    assert response.content.decode().count("data-item-row>") == 7


# The preflight panel.


def test_preflight_of_a_half_filled_form_says_what_is_missing(client, world):
    client.force_login(world.alice)
    response = client.post(PREFLIGHT, {**management(1), "origin_country": "US", "items-0-quantity": "lots"})
    assert response.status_code == 200
    body = response.content.decode()
    assert 'data-testid="preflight-missing"' in body
    assert "the destination country" in body and "the planned ship date" in body
    assert "at least one item with its category" in body
    assert "the origin country" not in body


def test_preflight_shows_documents_duties_and_the_earliest_ship_date(client, world, requirements):
    from compliance.models import CountryProfile

    CountryProfile.objects.filter(country="BR").update(
        standard_duty_rate=Decimal("10"), standard_vat_rate=Decimal("18"), imp_duty_exempt=False, imp_vat_exempt=False
    )
    client.force_login(world.alice)
    response = client.post(PREFLIGHT, draft_data(world, planned_ship_date=day(10)))
    body = response.content.decode()
    earliest = timezone.localdate() + timedelta(days=20)
    assert f'data-testid="earliest-ship-date">{earliest.strftime("%-d %b %Y")}<' in body
    assert "too early for the documents' lead times" in body
    assert "Brasil IOR Ltda · due" in body, "the owing party is named"
    assert "US Export Services · due" in body
    assert "Import duty (10%)" in body and "USD 2,400.00" in body
    assert "Import VAT (18%)" in body and "USD 4,752.00" in body
    assert "Expected in total" in body and "USD 7,152.00" in body


def test_preflight_of_the_edit_page_uses_the_saved_draft(client, world, requirements):
    shipment = world.shipment()
    client.force_login(world.alice)
    body = client.get(edit_url(shipment)).content.decode()
    assert f'<input type="hidden" name="trial" value="{shipment.trial_id}">' in body
    panel = section(body, "preflight")
    assert "Required documents" in panel and "Brasil IOR Ltda · due" in panel


def test_preflight_refuses_get_and_never_fails_on_garbage(client, world):
    client.force_login(world.alice)
    assert client.get(PREFLIGHT).status_code == 405
    garbage = {"items-TOTAL_FORMS": "-3", "planned_ship_date": "2026-13-45", "declared_value": "NaN", "trial": "x"}
    response = client.post(PREFLIGHT, garbage)
    assert response.status_code == 200
    assert 'data-testid="preflight-missing"' in response.content.decode()


def preflight_items(count: int) -> dict:
    categories = ["imp", "device", "ancillary", "lab_kit"]
    data = management(count)
    for index in range(count):
        data.update(
            {
                f"items-{index}-product_name": f"Product {index}",
                f"items-{index}-category": categories[index % len(categories)],
                f"items-{index}-quantity": "10",
                f"items-{index}-unit": "each",
                f"items-{index}-unit_value": "12.50",
                f"items-{index}-hs_code": "300215",
                f"items-{index}-expiry_date": day(400),
            }
        )
    return data


def test_preflight_queries_do_not_grow_with_the_items(client, world, requirements, brazil_permit):
    client.force_login(world.alice)
    route = {name: value for name, value in draft_data(world).items() if not name.startswith("items-")}
    client.post(PREFLIGHT, {**route, **preflight_items(1)})  # what a first request caches is not the point
    counts = []
    for items in (1, 10):
        with CaptureQueriesContext(connection) as queries:
            response = client.post(PREFLIGHT, {**route, **preflight_items(items)})
        assert response.status_code == 200
        assert "Required documents" in response.content.decode()
        counts.append(len(queries))
    assert counts[0] == counts[1], [q["sql"] for q in queries.captured_queries]


def test_charlie_posting_sponsor_a_trial_to_the_preflight_learns_nothing_of_it(
    client, world, requirements, brazil_permit
):
    client.force_login(world.charlie)
    response = client.post(PREFLIGHT, draft_data(world))
    assert response.status_code in (200, 404)
    body = response.content.decode()
    for secret in (
        world.trial.protocol_number,
        world.trial.title,
        world.site.name,
        brazil_permit.number,
        "ABC-123",
        "1,000",
    ):
        assert secret not in body, secret


def test_the_create_page_queries_do_not_grow_with_trials_sites_and_parties(client, world):
    def add(n: int) -> None:
        for _ in range(n):
            trial = TrialFactory(sponsor=world.sponsor_a)
            SiteFactory(trial=trial, organization=OrganizationFactory(country="BR", roles=["consignee"]))
            for role in ("ior", "eor", "broker", "courier"):
                OrganizationFactory(roles=[role])

    client.force_login(world.alice)
    add(2)
    client.get(CREATE)
    with CaptureQueriesContext(connection) as few:
        body = client.get(CREATE).content.decode()
    trials = body.count(
        '<option value="', body.index('name="trial"'), body.index("</select>", body.index('name="trial"'))
    )
    add(4)
    with CaptureQueriesContext(connection) as many:
        more = client.get(CREATE).content.decode()
    more_trials = more.count(
        '<option value="', more.index('name="trial"'), more.index("</select>", more.index('name="trial"'))
    )
    assert more_trials == trials + 4
    assert len(many) == len(few), [query["sql"] for query in many.captured_queries]


def test_the_cold_chain_fields_are_named_as_the_shipment_page_names_them(client, world):
    client.force_login(world.alice)
    body = client.get(CREATE).content.decode()
    assert '<label class="form-label" for="id_qualified_duration_hours">Pack-out qualified for (hours)</label>' in body
    assert '<label class="form-label" for="id_excursion_budget_minutes">Excursion budget (minutes)</label>' in body
    assert "Qualified duration hours" not in body and "Excursion budget minutes" not in body
