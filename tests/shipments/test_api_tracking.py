"""The tracking-events API: recording (201, or 200 for an event the courier sent again), listing newest first,
field messages in the one error shape, read-only keys refused, and charlie's 404 that says nothing."""

from datetime import timedelta

import pytest
from django.utils import timezone

from shipments.choices import ShipmentStatus as S
from shipments.models import Shipment, TrackingEvent
from tests.conftest import force_status


@pytest.fixture
def shipment(world):
    shipment = world.shipment()
    Shipment.objects.filter(pk=shipment.pk).update(created_at=timezone.now() - timedelta(days=2))
    return force_status(shipment, S.IN_TRANSIT)


def url(shipment) -> str:
    return f"/api/v1/shipments/{shipment.pk}/tracking-events/"


def body(**kwargs) -> dict:
    given = {
        "occurred_at": (timezone.now() - timedelta(minutes=5)).isoformat(),
        "code": "arrived",
        "location": "GRU, São Paulo",
        "country": "BR",
        "description": "Arrived at the destination airport",
    }
    given.update(kwargs)
    return given


def test_the_courier_records_an_event_and_gets_it_back_with_its_label_in_utc(world, shipment, api_as):
    response = api_as(world.cora).post(url(shipment), body(external_id="KC-1"), format="json")
    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["code"] == "arrived" and data["code_label"] == "Arrived"
    assert data["occurred_at"].endswith("Z") and data["recorded_at"].endswith("Z")
    assert data["recorded_by"] == "Cora" and data["via"] == "api"
    event = TrackingEvent.objects.get()
    assert (event.shipment_id, event.external_id, event.via) == (shipment.pk, "KC-1", "api")


def test_an_external_id_sent_again_answers_200_with_the_event_on_record(world, shipment, api_as):
    client = api_as(world.cora)
    first = client.post(url(shipment), body(external_id="KC-7"), format="json")
    again = client.post(url(shipment), body(external_id="KC-7", location="Elsewhere"), format="json")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["location"] == "GRU, São Paulo"
    assert TrackingEvent.objects.count() == 1


def test_the_list_is_newest_first(world, shipment, api_as):
    client = api_as(world.cora)
    now = timezone.now()
    for minutes, code in ((30, "picked_up"), (10, "arrived"), (20, "departed")):
        response = client.post(
            url(shipment), body(code=code, occurred_at=(now - timedelta(minutes=minutes)).isoformat()), format="json"
        )
        assert response.status_code == 201
    listed = api_as(world.alice).get(url(shipment))
    assert listed.status_code == 200
    assert [event["code"] for event in listed.json()["results"]] == ["arrived", "departed", "picked_up"]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("code", "teleported", "is not a valid choice"),
        ("country", "XX", "XX is not an ISO 3166-1 alpha-2 country code."),
        ("occurred_at", "yesterday-ish", "Datetime has wrong format"),
        ("location", "", "may not be blank"),
    ],
)
def test_bad_fields_answer_400_with_the_fields_message(world, shipment, api_as, field, value, message):
    response = api_as(world.cora).post(url(shipment), body(**{field: value}), format="json")
    assert response.status_code == 400
    data = response.json()
    assert data["detail"] == "Invalid input."
    assert any(message in text for text in data["errors"][field]), data
    assert not TrackingEvent.objects.exists()


def test_a_time_in_the_future_answers_400_on_occurred_at(world, shipment, api_as):
    future = (timezone.now() + timedelta(hours=1)).isoformat()
    response = api_as(world.cora).post(url(shipment), body(occurred_at=future), format="json")
    assert response.status_code == 400
    assert "in the future" in response.json()["errors"]["occurred_at"][0]


def test_an_unknown_or_server_side_field_is_refused(world, shipment, api_as):
    response = api_as(world.cora).post(url(shipment), body(recorded_by=1, colour="red"), format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == {"colour": ["Unknown field."], "recorded_by": ["Unknown field."]}


def test_a_read_only_key_is_refused_with_403(world, shipment, api_as):
    response = api_as(world.cora, scope="read").post(url(shipment), body(), format="json")
    assert response.status_code == 403
    assert "detail" in response.json()
    assert not TrackingEvent.objects.exists()


def test_the_sponsor_may_read_but_not_record(world, shipment, api_as):
    response = api_as(world.alice).post(url(shipment), body(), format="json")
    assert response.status_code == 403
    assert "may record tracking events" in response.json()["detail"]


def test_a_draft_answers_409_with_the_reason(world, api_as):
    draft = world.shipment()
    response = api_as(world.cora).post(url(draft), body(), format="json")
    assert response.status_code == 409
    assert "this shipment is draft" in response.json()["reasons"][0]


def test_charlie_gets_404_and_nothing_of_sponsor_a(world, shipment, api_as):
    TrackingEvent.objects.create(
        shipment=shipment, occurred_at=timezone.now(), code="arrived", location="Secret hub", recorded_by=world.cora
    )
    client = api_as(world.charlie)
    for response in (client.get(url(shipment)), client.post(url(shipment), body(), format="json")):
        assert response.status_code == 404
        text = response.content.decode()
        assert response.json() == {"detail": "Not found."}
        assert shipment.reference not in text and "Secret hub" not in text
    assert TrackingEvent.objects.count() == 1
