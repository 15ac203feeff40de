"""The pack-out's qualified duration and the excursion budget are set while drafting, in the API and the form; left
empty, the temperature class's defaults apply."""

from django.urls import reverse

from shipments.models import Shipment
from tests.shipments.test_api import draft_body, url


def test_the_api_sets_them_on_a_draft_and_refuses_nonsense(world, api_as):
    client = api_as(world.alice)
    created = client.post(
        url("list"), draft_body(world, qualified_duration_hours=72, excursion_budget_minutes=45), format="json"
    )
    assert created.status_code == 201, created.json()
    shipment = Shipment.objects.get(pk=created.json()["id"])
    assert (shipment.effective_qualified_duration_hours, shipment.effective_excursion_budget_minutes) == (72, 45)

    refused = client.post(url("list"), draft_body(world, qualified_duration_hours=0), format="json")
    assert refused.status_code == 400
    assert set(refused.json()["errors"]) == {"qualified_duration_hours"}

    defaults = client.post(url("list"), draft_body(world), format="json")
    plain = Shipment.objects.get(pk=defaults.json()["id"])
    assert plain.qualified_duration_hours is None
    assert plain.effective_qualified_duration_hours == 96  # refrigerated, the class default


def test_the_draft_form_has_them_in_a_cold_chain_section(client, world):
    draft = world.shipment()
    client.force_login(world.alice)
    body = client.get(reverse("shipments:edit", args=[draft.reference])).content.decode()
    assert "Cold chain" in body
    assert 'name="qualified_duration_hours"' in body
    assert 'name="excursion_budget_minutes"' in body
