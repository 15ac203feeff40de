"""The pages: sign-in, the shipment list, one shipment with its actions."""

import pytest
from django.urls import reverse

from shipments.choices import ShipmentStatus as S
from shipments.models import Shipment
from tests.factories import DEMO_PASSWORD


def test_anonymous_is_sent_to_sign_in(client, world):
    shipment = world.shipment()
    for url in (reverse("home"), shipment.get_absolute_url()):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))


def test_sign_in_page_and_wrong_password(client, world):
    page = client.get(reverse("login"))
    assert page.status_code == 200
    assert b"Sign in" in page.content
    wrong = client.post(reverse("login"), {"username": "alice", "password": "nope"})
    assert wrong.status_code == 200
    assert b"Please enter a correct username and password" in wrong.content
    right = client.post(reverse("login"), {"username": "alice", "password": DEMO_PASSWORD})
    assert right.status_code == 302


def test_detail_shows_actions_with_reasons(client, world, django_assert_max_num_queries):
    shipment = world.shipment(consignee=None)
    client.force_login(world.alice)
    with django_assert_max_num_queries(25):
        response = client.get(shipment.get_absolute_url())
    body = response.content.decode()
    assert response.status_code == 200
    assert "Submit" in body
    assert "No consignee assigned to receive the goods" in body
    assert "Cancel shipment" in body


def test_viewer_sees_why_he_cannot_act(client, world):
    shipment = world.shipment()
    client.force_login(world.victor)
    body = client.get(shipment.get_absolute_url()).content.decode()
    assert "Only editors or managers of the shipment&#x27;s sponsor may submit this shipment" in body


def test_posting_a_transition_fires_it(client, world):
    shipment = world.shipment()
    client.force_login(world.alice)
    response = client.post(reverse("shipments:transition", args=[shipment.reference, "submit"]), follow=True)
    assert Shipment.objects.get(pk=shipment.pk).status == S.PERMIT_COLLECTION
    assert f"{shipment.reference} is now permit collection." in response.content.decode()


def test_posting_without_a_required_reason_changes_nothing(client, world):
    shipment = world.shipment()
    client.force_login(world.alice)
    response = client.post(reverse("shipments:transition", args=[shipment.reference, "cancel"]), follow=True)
    assert Shipment.objects.get(pk=shipment.pk).status == S.DRAFT
    assert "Say why you cancel this shipment." in response.content.decode()


@pytest.mark.parametrize("name", ["approve", "not_a_transition"])
def test_refused_or_unknown_transition_is_a_clear_answer(client, world, name):
    shipment = world.shipment()
    client.force_login(world.alice)
    response = client.post(reverse("shipments:transition", args=[shipment.reference, name]), follow=True)
    if name == "approve":
        assert response.status_code == 200
        assert "Only reviewers of the shipment&#x27;s importer of record may approve this shipment." in (
            response.content.decode()
        )
    else:
        assert response.status_code == 404
    assert Shipment.objects.get(pk=shipment.pk).status == S.DRAFT


def test_get_on_a_transition_is_not_allowed(client, world):
    shipment = world.shipment()
    client.force_login(world.alice)
    assert client.get(reverse("shipments:transition", args=[shipment.reference, "submit"])).status_code == 405
