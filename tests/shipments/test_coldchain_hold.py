"""Customs hold × cold chain: the pack-out clock runs from dispatch, and a shipment held at customs alerts its IOR and
its sponsor once when the time left falls within the margin, with time frozen to prove it is once, at the margin."""

import importlib
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.apps import apps
from django.urls import reverse

from ior_platform.core.audit import record_event
from ior_platform.core.models import AuditEvent
from parties.models import Notification
from shipments import services
from shipments.coldchain.packout import _alert, pack_out_margin_alert
from shipments.coldchain.selectors import pack_out_time_left
from shipments.models import Shipment
from shipments.tasks import alert_pack_out_margin
from tests.conftest import force_status

DISPATCH = datetime(2026, 5, 4, 6, 0, tzinfo=UTC)
KIND = "cold_chain.pack_out_margin"
IOR_AND_SPONSOR = {"rita", "ivan", "imelda", "alice", "mona", "victor"}


def at(hours: float, minutes: float = 0) -> datetime:
    return DISPATCH + timedelta(hours=hours, minutes=minutes)


def fresh(shipment) -> Shipment:
    return Shipment.objects.get(pk=shipment.pk)


def held(world, *, dispatched_at=DISPATCH, **fields) -> Shipment:
    """Sponsor A's refrigerated shipment (a 96-hour pack-out by default), dispatched at DISPATCH, in customs hold."""
    fields.setdefault("temperature_class", "refrigerated")
    shipment = force_status(world.shipment(**fields), "customs_hold")
    Shipment.objects.filter(pk=shipment.pk).update(dispatched_at=dispatched_at)
    return fresh(shipment)


def alerted() -> set[str]:
    return set(Notification.objects.filter(kind=KIND).values_list("recipient__username", flat=True))


def test_dispatch_starts_the_pack_out_clock(world):
    shipment = force_status(world.shipment(), "export_cleared")
    with time_machine.travel(DISPATCH, tick=False):
        dispatched = services.shipment_dispatch(actor=world.eddie, shipment=shipment, airway_bill="020-12345675")
    assert fresh(dispatched).dispatched_at == DISPATCH
    clock = pack_out_time_left(fresh(dispatched), now=at(10))
    assert (clock.expires_at, clock.hours_left, clock.in_customs_hold) == (at(96), 86, False)


def test_the_clock_reads_the_shipments_own_duration_or_its_class_default(world, settings):
    settings.COLD_CHAIN_PACK_OUT_MARGIN_HOURS = 12
    own = pack_out_time_left(held(world, qualified_duration_hours=72), now=at(70))
    assert (own.qualified_duration_hours, own.hours_left, own.below_margin, own.expired) == (72, 2, True, False)
    assert own.margin == timedelta(hours=12) and own.in_customs_hold
    ambient = pack_out_time_left(held(world, temperature_class="ambient"), now=at(130))
    assert (ambient.qualified_duration_hours, ambient.hours_left, ambient.expired) == (120, -10, True)


@pytest.mark.parametrize("status", ["approved", "delivered", "returned", "destroyed", "cancelled"])
def test_no_clock_before_dispatch_or_once_the_goods_are_handed_over(world, status):
    shipment = force_status(held(world), status)
    assert pack_out_time_left(shipment, now=at(1)) is None


def test_no_clock_without_a_dispatch_time(world):
    assert pack_out_time_left(held(world, dispatched_at=None), now=at(1)) is None


def test_the_hold_alert_fires_once_at_the_margin(world, django_capture_on_commit_callbacks):
    shipment = held(world)
    with time_machine.travel(at(71, 59), tick=False):
        assert pack_out_margin_alert() == 0
    assert not Notification.objects.exists() and fresh(shipment).pack_out_alerted_at is None

    with time_machine.travel(at(72), tick=False), django_capture_on_commit_callbacks(execute=True):
        assert alert_pack_out_margin.delay().get() == 1
    assert fresh(shipment).pack_out_alerted_at == at(72)
    assert alerted() == IOR_AND_SPONSOR
    notice = Notification.objects.filter(kind=KIND).first()
    assert notice.subject == f"[{shipment.reference}] Customs hold: 24 h 00 min left on the pack-out"
    assert "qualified for 96 h from dispatch on 2026-05-04 06:00 UTC" in notice.body
    assert "runs out at 2026-05-08 06:00 UTC" in notice.body
    event = AuditEvent.objects.get(action="cold_chain.pack_out_margin_reached")
    assert event.shipment_id == shipment.pk and event.changes["hours_left"] == [None, 24.0]

    for later in (at(72, 15), at(90), at(100)):
        with time_machine.travel(later, tick=False):
            assert pack_out_margin_alert() == 0
    assert Notification.objects.filter(kind=KIND).count() == len(IOR_AND_SPONSOR)
    assert AuditEvent.objects.filter(action="cold_chain.pack_out_margin_reached").count() == 1


def test_the_margin_is_a_setting(world, settings):
    settings.COLD_CHAIN_PACK_OUT_MARGIN_HOURS = 6
    held(world)
    with time_machine.travel(at(72), tick=False):
        assert pack_out_margin_alert() == 0
    with time_machine.travel(at(90), tick=False):
        assert pack_out_margin_alert() == 1


def test_a_hold_that_starts_past_the_pack_out_alerts_that_it_has_run_out(world):
    shipment = held(world)
    with time_machine.travel(at(100, 30), tick=False):
        assert pack_out_margin_alert() == 1
    notice = Notification.objects.filter(kind=KIND).first()
    assert notice.subject == f"[{shipment.reference}] Customs hold: the pack-out has run out"
    assert "ran out at 2026-05-08 06:00 UTC, 4 h 30 min ago" in notice.body


@pytest.mark.parametrize("status", ["in_transit", "customs_clearance", "cleared", "out_for_delivery"])
def test_only_a_customs_hold_alerts(world, status):
    force_status(held(world), status)
    with time_machine.travel(at(80), tick=False):
        assert pack_out_margin_alert() == 0


def test_two_sweeps_at_once_alert_once(world):
    shipment = held(world)
    with time_machine.travel(at(80), tick=False):
        assert _alert(shipment.pk, at(80)) is True
        assert _alert(shipment.pk, at(80)) is False
    assert Notification.objects.filter(kind=KIND).count() == len(IOR_AND_SPONSOR)


def test_charlie_is_never_alerted_and_gets_404_for_the_clock(world, api_as):
    shipment = held(world)
    held_b = force_status(world.shipment(trial=world.trial_b, ior=None, eor=None, consignee=None), "customs_hold")
    Shipment.objects.filter(pk=held_b.pk).update(dispatched_at=DISPATCH)
    with time_machine.travel(at(80), tick=False):
        assert pack_out_margin_alert() == 2
        assert api_as(world.charlie).get(reverse("v1:shipment-cold-chain", args=[shipment.pk])).status_code == 404

    def told(about) -> set[str]:
        return set(Notification.objects.filter(kind=KIND, shipment=about).values_list("recipient__username", flat=True))

    assert told(shipment) == IOR_AND_SPONSOR
    assert told(held_b) == {"charlie"}


def test_the_api_shows_the_time_left_during_the_hold(world, api_as):
    shipment = held(world)
    with time_machine.travel(at(80), tick=False):
        pack_out = api_as(world.ivan).get(reverse("v1:shipment-cold-chain", args=[shipment.pk])).json()["pack_out"]
    assert pack_out == {
        "dispatched_at": "2026-05-04T06:00:00Z",
        "qualified_duration_hours": 96,
        "expires_at": "2026-05-08T06:00:00Z",
        "hours_left": 16.0,
        "margin_hours": 24.0,
        "below_margin": True,
        "expired": False,
        "in_customs_hold": True,
        "alerted_at": None,
    }


def test_the_migration_takes_the_dispatch_time_of_earlier_shipments_from_their_audit_trail(world):
    shipment = force_status(world.shipment(), "customs_hold")
    with time_machine.travel(DISPATCH, tick=False):
        record_event(
            actor=world.eddie,
            action="shipment.dispatch",
            target=shipment,
            changes={"status": ["export_cleared", "in_transit"]},
            shipment=shipment,
        )
    untouched = force_status(world.shipment(), "approved")
    migration = importlib.import_module("shipments.migrations.0005_cold_chain_quarantine")
    migration.dispatched_at_from_audit(apps, None)
    assert fresh(shipment).dispatched_at == DISPATCH
    assert fresh(untouched).dispatched_at is None
