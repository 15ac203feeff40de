"""Recording a courier's tracking event: who may, in which states, which times are refused, the courier's re-sent
events recorded once, the audit event, and an exception telling the sponsor and the IOR after commit."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from ior_platform.core.errors import NotPermitted, TransitionRefused
from ior_platform.core.models import AuditEvent
from parties.models import Notification
from shipments.choices import ShipmentStatus as S
from shipments.models import Shipment, TrackingEvent
from shipments.tracking.services import OPEN_FOR_TRACKING, tracking_event_record
from tests.conftest import force_status
from tests.factories import UserFactory


@pytest.fixture
def shipment(world):
    return force_status(world.shipment(), S.IN_TRANSIT)


def record(actor, shipment, **kwargs):
    given = {"occurred_at": timezone.now(), "code": "departed", "location": "JFK, New York", "country": "US"}
    given.update(kwargs)
    return tracking_event_record(actor=actor, shipment=shipment, **given)


@pytest.mark.parametrize("persona", ["cora", "ivan", "imelda", "eddie"])
def test_staff_of_the_courier_ior_and_eor_may_record(world, shipment, persona):
    event = record(getattr(world, persona), shipment)
    assert event.pk and event.recorded_by == getattr(world, persona)
    assert TrackingEvent.objects.filter(shipment=shipment).count() == 1


@pytest.mark.parametrize("persona", ["alice", "mona", "sam", "bruno", "rita", "carl"])
def test_other_parties_and_roles_are_refused_with_who_may(world, shipment, persona):
    with pytest.raises(NotPermitted) as refused:
        record(getattr(world, persona), shipment)
    assert "courier or exporter of record or importer of record may record tracking events" in str(refused.value)
    assert not TrackingEvent.objects.exists()


def test_a_courier_viewer_is_refused(world, shipment):
    viewer = UserFactory(username="cody", organization=world.courier, roles=["viewer"])
    with pytest.raises(NotPermitted):
        record(viewer, shipment)


def test_charlie_cannot_see_the_shipment_at_all(world, shipment):
    with pytest.raises(Shipment.DoesNotExist):
        record(world.charlie, shipment)
    assert not TrackingEvent.objects.exists()


@pytest.mark.parametrize("status", list(S))
def test_events_are_taken_from_approval_until_closed(world, status):
    shipment = force_status(world.shipment(), status)
    if status in OPEN_FOR_TRACKING:
        assert record(world.cora, shipment).pk
        return
    with pytest.raises(TransitionRefused) as refused:
        record(world.cora, shipment)
    assert f"this shipment is {status.label.lower()}" in str(refused.value)
    assert status in {S.DRAFT, S.PERMIT_COLLECTION, S.DOSSIER_REVIEW, S.CANCELLED}


def test_a_time_more_than_ten_minutes_ahead_is_refused_on_its_field(world, shipment):
    record(world.cora, shipment, occurred_at=timezone.now() + timedelta(minutes=9))
    with pytest.raises(ValidationError) as refused:
        record(world.cora, shipment, occurred_at=timezone.now() + timedelta(minutes=11))
    assert "in the future" in refused.value.message_dict["occurred_at"][0]
    assert TrackingEvent.objects.count() == 1


def test_a_time_before_the_shipment_was_created_is_refused(world, shipment):
    with pytest.raises(ValidationError) as refused:
        record(world.cora, shipment, occurred_at=shipment.created_at - timedelta(minutes=1))
    assert "before the shipment was created" in refused.value.message_dict["occurred_at"][0]


def test_a_naive_time_is_refused(world, shipment):
    with pytest.raises(ValidationError) as refused:
        record(world.cora, shipment, occurred_at=datetime.now())
    assert "time zone" in refused.value.message_dict["occurred_at"][0]


def test_bad_inputs_are_refused_field_by_field(world, shipment):
    with pytest.raises(ValidationError) as refused:
        record(world.cora, shipment, code="teleported", location="  ", country="XX", description="x" * 1001)
    errors = refused.value.message_dict
    assert set(errors) == {"code", "location", "country", "description"}
    assert "XX is not an ISO 3166-1 alpha-2 country code." in errors["country"]


def test_the_time_is_stored_in_utc_and_the_country_upper_case(world, shipment):
    with time_machine.travel(datetime(2027, 3, 4, 12, 0, tzinfo=UTC), tick=False):
        Shipment.objects.filter(pk=shipment.pk).update(created_at=datetime(2027, 3, 1, tzinfo=UTC))
        berlin = timezone.make_aware(datetime(2027, 3, 4, 9, 30), timezone=timezone.get_fixed_timezone(60))
        event = record(world.cora, shipment, occurred_at=berlin, country="de", location="  FRA,   Frankfurt ")
    event.refresh_from_db()
    assert event.occurred_at == datetime(2027, 3, 4, 8, 30, tzinfo=UTC)
    assert (event.country, event.location) == ("DE", "FRA, Frankfurt")


def test_an_external_id_sent_again_returns_the_event_on_record_and_writes_nothing(world, shipment):
    first = record(world.cora, shipment, external_id="KC-1")
    events_before = AuditEvent.objects.count()
    again = record(world.ivan, shipment, external_id="KC-1", code="arrived", location="GRU, São Paulo")
    assert again.pk == first.pk and again.replayed and not first.replayed
    assert again.code == "departed"
    assert TrackingEvent.objects.count() == 1
    assert AuditEvent.objects.count() == events_before
    other = force_status(world.shipment(), S.IN_TRANSIT)
    assert record(world.cora, other, external_id="KC-1").pk != first.pk, "an id is unique per shipment only"


def test_events_without_an_external_id_are_all_kept(world, shipment):
    record(world.cora, shipment)
    record(world.cora, shipment)
    assert TrackingEvent.objects.filter(shipment=shipment, external_id="").count() == 2


def test_recording_writes_the_audit_event_on_the_shipments_chain(world, shipment):
    event = record(world.cora, shipment, description="Loaded on LH 8160", external_id="KC-9")
    audit = AuditEvent.objects.get(action="tracking_event.recorded")
    assert audit.shipment_id == shipment.pk and audit.actor == world.cora
    assert audit.target_id == str(event.pk)
    assert audit.changes["code"] == [None, "departed"]
    assert audit.changes["external_id"] == [None, "KC-9"]
    assert audit.changes["via"] == [None, "page"]


def test_an_exception_notifies_the_sponsor_and_the_ior_after_commit(
    world, shipment, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        record(world.cora, shipment, code="exception", description="Pallet damaged at the ramp")
    assert not Notification.objects.exists(), "nobody hears of it before the commit"
    assert len(callbacks) == 1
    callbacks[0]()
    notified = set(Notification.objects.values_list("recipient__username", flat=True))
    assert notified == {"alice", "mona", "victor", "rita", "ivan", "imelda"}
    notification = Notification.objects.filter(kind="tracking_event.exception").first()
    assert "Courier exception at JFK, New York" in notification.subject
    assert "Pallet damaged at the ramp" in notification.body


def test_a_rolled_back_exception_tells_nobody(world, shipment, django_capture_on_commit_callbacks):
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        record(world.cora, shipment, code="exception")
        raise RuntimeError("the caller's transaction fails")
    assert callbacks == []
    assert not Notification.objects.exists()
    assert not TrackingEvent.objects.exists()


def test_other_codes_notify_nobody(world, shipment, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        record(world.cora, shipment, code="arrived")
    assert callbacks == []
    assert not Notification.objects.exists()
