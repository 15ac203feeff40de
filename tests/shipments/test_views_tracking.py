"""Tracking events on the shipment page: merged with the transitions in time order on the timeline, the "Add
tracking event" form for those who may record (htmx and plain POST, errors next to the fields), none for the others,
a query count that does not grow with the events, and charlie's 404."""

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from ior_platform.core.audit import record_event
from shipments.choices import ShipmentStatus as S
from shipments.models import Shipment, TrackingEvent
from shipments.tracking.services import tracking_event_record
from tests.conftest import force_status, warm_query_counts
from tests.shipments.test_views_detail import page, section

T0 = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def shipment(world):
    shipment = world.shipment()
    Shipment.objects.filter(pk=shipment.pk).update(created_at=timezone.now() - timedelta(days=2))
    return force_status(shipment, S.IN_TRANSIT)


def form_url(shipment) -> str:
    return reverse("shipments:tracking_event_add", args=[shipment.reference])


def local(moment: datetime) -> str:
    """A time as the form's datetime-local input sends it, in the signed-in user's zone (UTC for the personas)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M")


def post_data(**kwargs) -> dict:
    data = {
        "occurred_at": local(timezone.now() - timedelta(minutes=30)),
        "code": "arrived",
        "location": "GRU, São Paulo",
        "country": "BR",
        "description": "Arrived at the destination airport",
    }
    data.update(kwargs)
    return data


def test_the_timeline_merges_transitions_and_tracking_events_by_when_they_happened(client, world):
    with time_machine.travel(T0, tick=False):
        shipment = world.shipment()
        record_event(actor=world.alice, action="shipment.created", target=shipment, shipment=shipment)
    shipment = force_status(shipment, S.IN_TRANSIT)
    with time_machine.travel(T0 + timedelta(hours=2), tick=False):
        record_event(
            actor=world.cora,
            action="shipment.arrive",
            target=shipment,
            changes={"status": ["in_transit", "customs_clearance"]},
            shipment=shipment,
        )
    with time_machine.travel(T0 + timedelta(hours=3), tick=False):
        # Recorded late, after the arrival transition, but it happened before it.
        tracking_event_record(
            actor=world.cora,
            shipment=shipment,
            occurred_at=T0 + timedelta(hours=1),
            code="departed",
            location="RDU, Raleigh-Durham",
            country="US",
            description="Departed on LH 8161",
        )
        tracking_event_record(
            actor=world.ivan,
            shipment=shipment,
            occurred_at=T0 + timedelta(hours=2, minutes=30),
            code="in_customs",
            location="GRU, São Paulo",
        )
    timeline = section(page(client, world.alice, shipment), "timeline")
    positions = [
        timeline.index(title) for title in ("Draft created", "Departed", "Arrived at destination customs", "In customs")
    ]
    assert positions == sorted(positions)
    departed = section(timeline, f"tracking-event-{TrackingEvent.objects.get(code='departed').pk}")
    assert "RDU, Raleigh-Durham, United States" in departed
    assert "Departed on LH 8161" in departed
    assert "Recorded by Cora (ColdChain Couriers)" in departed
    assert "1 Mar 2027 13:00" in departed, "when it happened"
    assert "1 Mar 2027 15:00" in departed, "when it was recorded"


def test_tracking_times_are_shown_in_the_readers_time_zone(client, world, shipment):
    world.alice.time_zone = "America/Sao_Paulo"
    world.alice.save(update_fields=["time_zone"])
    event = tracking_event_record(
        actor=world.cora, shipment=shipment, occurred_at=timezone.now(), code="arrived", location="GRU"
    )
    entry = section(page(client, world.alice, shipment), f"tracking-event-{event.pk}")
    assert "-03" in entry
    assert " UTC" not in entry


@pytest.mark.parametrize("persona", ["cora", "ivan", "eddie"])
def test_those_who_may_record_get_the_form(client, world, shipment, persona):
    timeline = section(page(client, getattr(world, persona), shipment), "timeline")
    assert "Add tracking event" in timeline
    assert f'hx-post="{form_url(shipment)}"' in timeline
    assert 'hx-target="#timeline"' in timeline
    assert 'name="occurred_at"' in timeline and 'type="datetime-local"' in timeline


@pytest.mark.parametrize("persona", ["alice", "victor", "rita", "sam"])
def test_others_do_not_get_the_form(client, world, shipment, persona):
    timeline = section(page(client, getattr(world, persona), shipment), "timeline")
    assert "Add tracking event" not in timeline
    assert 'id="tracking-event-form"' not in timeline


def test_no_form_before_approval(client, world):
    draft = world.shipment()
    assert 'id="tracking-event-form"' not in page(client, world.cora, draft)


def test_an_htmx_post_answers_the_refreshed_timeline_with_the_event(client, world, shipment):
    client.force_login(world.cora)
    response = client.post(form_url(shipment), post_data(), HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    body = response.content.decode()
    assert body.startswith('<section class="card shadow-sm mb-4" id="timeline"')
    event = TrackingEvent.objects.get()
    assert (event.code, event.country, event.via, event.recorded_by) == ("arrived", "BR", "page", world.cora)
    assert f'id="tracking-event-{event.pk}"' in body
    assert "GRU, São Paulo, Brazil" in body
    assert "is-invalid" not in body, "a fresh form follows a recorded event"


def test_a_plain_post_redirects_to_the_timeline(client, world, shipment):
    client.force_login(world.cora)
    response = client.post(form_url(shipment), post_data())
    assert response.status_code == 302
    assert response["Location"] == f"{shipment.get_absolute_url()}#timeline"
    assert TrackingEvent.objects.filter(shipment=shipment, code="arrived").exists()
    assert "Arrived at GRU, São Paulo added to the timeline." in client.get(response["Location"]).content.decode()


def test_htmx_errors_are_shown_next_to_their_fields(client, world, shipment):
    client.force_login(world.cora)
    response = client.post(form_url(shipment), post_data(location=""), HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert "<details open>" in response.content.decode()
    form = section(response.content.decode(), "tracking-event-form")
    tag = re.search(r'<input[^>]*id="tracking-event-location"[^>]*>', form).group(0)
    assert "is-invalid" in tag and 'aria-describedby="tracking-event-location-error"' in tag
    location = form[form.index('id="tracking-event-location"') :]
    assert location.index('id="tracking-event-location-error"') < location.index('name="country"')
    assert "Say where, e.g. &quot;JFK, New York&quot;." in location

    future = local(timezone.now() + timedelta(hours=2))
    response = client.post(form_url(shipment), post_data(occurred_at=future), HTTP_HX_REQUEST="true")
    form = section(response.content.decode(), "tracking-event-form")
    when = form[form.index('id="tracking-event-occurred_at"') :]
    assert when.index("This time is in the future") < when.index('name="code"'), "the service's refusal on its field"
    assert not TrackingEvent.objects.exists()


def test_a_plain_post_with_errors_renders_the_page_with_them(client, world, shipment):
    client.force_login(world.cora)
    response = client.post(form_url(shipment), post_data(country="XX"))
    assert response.status_code == 400
    form = section(response.content.decode(), "tracking-event-form")
    assert 'id="tracking-event-country-error"' in form
    assert 'value="GRU, São Paulo"' in form, "what was typed stays"
    assert not TrackingEvent.objects.exists()


def test_a_sponsor_posting_anyway_is_told_who_may(client, world, shipment):
    client.force_login(world.alice)
    response = client.post(form_url(shipment), post_data(), HTTP_HX_REQUEST="true")
    assert "may record tracking events of this shipment" in response.content.decode()
    assert not TrackingEvent.objects.exists()


def test_charlie_gets_404_on_the_form_url(client, world, shipment):
    client.force_login(world.charlie)
    for headers in ({}, {"HTTP_HX_REQUEST": "true"}):
        response = client.post(form_url(shipment), post_data(), **headers)
        assert response.status_code == 404
        assert shipment.reference not in response.content.decode()
    assert client.get(shipment.get_absolute_url()).status_code == 404
    assert not TrackingEvent.objects.exists()


def _scans(shipment, world, count: int) -> None:
    recorders = (world.cora, world.ivan, world.eddie)
    for n in range(count):
        tracking_event_record(
            actor=recorders[n % len(recorders)],
            shipment=shipment,
            occurred_at=timezone.now() - timedelta(minutes=count - n),
            code="info",
            location=f"Hub {n}",
            country="US",
        )


@pytest.mark.parametrize("persona", ["alice", "cora"])
def test_queries_do_not_grow_with_tracking_events(client, world, persona):
    small, large = (force_status(world.shipment(), S.IN_TRANSIT) for _ in range(2))
    for shipment in (small, large):
        Shipment.objects.filter(pk=shipment.pk).update(created_at=timezone.now() - timedelta(days=1))
    _scans(small, world, 3)
    _scans(large, world, 6)
    client.force_login(getattr(world, persona))
    counts, response = warm_query_counts(client, [s.get_absolute_url() for s in (small, large)])
    assert counts[0] == counts[1], counts
    assert section(response.content.decode(), "timeline").count("is-tracking") == 6
