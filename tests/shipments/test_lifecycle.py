"""The shipment lifecycle of DOMAIN.md: every (state, transition) pair, who may fire what, and the guards'
reasons."""

from io import StringIO

import pytest
from django.core.management import call_command

from ior_platform.core.errors import NotPermitted, TransitionRefused
from ior_platform.core.models import AuditEvent
from shipments import services
from shipments.choices import ShipmentStatus as S
from shipments.models import Shipment
from tests.conftest import force_status
from tests.factories import DEMO_PASSWORD, temperature_log_for

# The machine as DOMAIN.md draws it: (state, transition) -> target. Every other pair must be refused.
EXPECTED = {
    (S.DRAFT, "submit"): S.PERMIT_COLLECTION,
    (S.PERMIT_COLLECTION, "submit_dossier"): S.DOSSIER_REVIEW,
    (S.DOSSIER_REVIEW, "approve"): S.APPROVED,
    (S.DOSSIER_REVIEW, "reject"): S.PERMIT_COLLECTION,
    (S.APPROVED, "clear_export"): S.EXPORT_CLEARED,
    (S.APPROVED, "dispatch"): S.IN_TRANSIT,
    (S.EXPORT_CLEARED, "dispatch"): S.IN_TRANSIT,
    (S.IN_TRANSIT, "arrive"): S.CUSTOMS_CLEARANCE,
    (S.CUSTOMS_CLEARANCE, "hold"): S.CUSTOMS_HOLD,
    (S.CUSTOMS_HOLD, "release"): S.CUSTOMS_CLEARANCE,
    (S.CUSTOMS_CLEARANCE, "clear"): S.CLEARED,
    (S.CLEARED, "out_for_delivery"): S.OUT_FOR_DELIVERY,
    (S.OUT_FOR_DELIVERY, "deliver"): S.DELIVERED,
    (S.CUSTOMS_HOLD, "return_to_origin"): S.RETURNED,
    (S.CUSTOMS_HOLD, "destroy"): S.DESTROYED,
    (S.DRAFT, "cancel"): S.CANCELLED,
    (S.PERMIT_COLLECTION, "cancel"): S.CANCELLED,
    (S.DOSSIER_REVIEW, "cancel"): S.CANCELLED,
    (S.APPROVED, "cancel"): S.CANCELLED,
}

# Who fires each transition in these tests, and with what input.
ACTOR = {
    "submit": "alice",
    "submit_dossier": "alice",
    "approve": "rita",
    "reject": "rita",
    "clear_export": "eddie",
    "dispatch": "eddie",
    "arrive": "ivan",
    "hold": "ivan",
    "release": "ivan",
    "clear": "ivan",
    "out_for_delivery": "cora",
    "deliver": "sam",
    "return_to_origin": "rita",
    "destroy": "imelda",
    "cancel": "alice",
}
ARGS = {
    "approve": {"password": DEMO_PASSWORD},
    "reject": {"reason": "CoA is for another lot"},
    "hold": {"reason": "Inspection of the cold boxes"},
    "return_to_origin": {"reason": "Import licence refused"},
    "destroy": {"reason": "Temperature excursion; sponsor instructed destruction"},
    "cancel": {"reason": "Site closed"},
    "dispatch": {"airway_bill": "020-12345675"},
    "clear": {"customs_entry_number": "DI-26/1234567-8"},
}


def fire(world, shipment, name):
    return services.TRANSITION_SERVICES[name](
        actor=getattr(world, ACTOR[name]), shipment=shipment, **ARGS.get(name, {})
    )


def domestic_route():
    return {"origin_country": "BR", "origin_address": "Depot, Campinas"}


@pytest.mark.parametrize("state", S.values)
@pytest.mark.parametrize("name", list(services.TRANSITION_SERVICES))
def test_every_state_and_transition(world, state, name):
    # Dispatch straight from approved is for routes without export clearance: a domestic route here.
    route = domestic_route() if (state, name) == (S.APPROVED, "dispatch") else {}
    shipment = force_status(world.shipment(**route), state)
    if name == "deliver":
        temperature_log_for(shipment, spike_to=None)  # cold goods are delivered with their temperature record
    target = EXPECTED.get((state, name))
    if target is None:
        with pytest.raises(TransitionRefused) as refused:
            fire(world, shipment, name)
        assert refused.value.reasons == [
            f"cannot {services.TRANSITION_VERBS[name]} a shipment that is {S(state).label.lower()}"
        ]
        assert Shipment.objects.get(pk=shipment.pk).status == state
        assert not AuditEvent.objects.filter(shipment=shipment).exists()
    else:
        fired = fire(world, shipment, name)
        assert fired.status == target
        assert Shipment.objects.get(pk=shipment.pk).status == target
        event = AuditEvent.objects.get(shipment=shipment, action__startswith="shipment.")
        assert event.action == f"shipment.{name}"
        assert event.changes["status"] == [state, target]
        assert event.actor == getattr(world, ACTOR[name])
        assert event.reason == ARGS.get(name, {}).get("reason", "")


def test_dispatch_from_approved_refused_when_origin_needs_export_clearance(world):
    shipment = force_status(world.shipment(), S.APPROVED)
    with pytest.raises(TransitionRefused) as refused:
        services.shipment_dispatch(actor=world.eddie, shipment=shipment, airway_bill="020-1")
    assert refused.value.reasons == ["export clearance in United States is required before dispatch"]


def test_clear_export_refused_for_route_without_customs_border(world):
    shipment = force_status(world.shipment(origin_country="DE", destination_country="FR"), S.APPROVED)
    with pytest.raises(TransitionRefused, match="needs no export clearance; dispatch it directly"):
        services.shipment_clear_export(actor=world.eddie, shipment=shipment)


# (transition, state it is fired from, a persona allowed, personas refused)
ROLE_CASES = [
    ("submit", S.DRAFT, "alice", ["victor", "rita", "eddie", "sam"]),
    ("submit", S.DRAFT, "carl", ["cora"]),
    ("submit_dossier", S.PERMIT_COLLECTION, "ivan", ["victor", "rita", "bruno"]),
    ("approve", S.DOSSIER_REVIEW, "rita", ["alice", "ivan", "mona", "eddie"]),
    ("reject", S.DOSSIER_REVIEW, "rita", ["alice", "imelda"]),
    ("clear_export", S.APPROVED, "bruno", ["alice", "rita", "victor"]),
    ("dispatch", S.EXPORT_CLEARED, "cora", ["alice", "sam"]),
    ("arrive", S.IN_TRANSIT, "bruno", ["alice", "eddie"]),
    ("hold", S.CUSTOMS_CLEARANCE, "bruno", ["alice", "cora"]),
    ("release", S.CUSTOMS_HOLD, "rita", ["alice", "sam"]),
    ("clear", S.CUSTOMS_CLEARANCE, "rita", ["mona", "eddie"]),
    ("out_for_delivery", S.CLEARED, "ivan", ["alice", "sam"]),
    ("deliver", S.OUT_FOR_DELIVERY, "sam", ["rita", "cora", "alice"]),
    ("return_to_origin", S.CUSTOMS_HOLD, "imelda", ["ivan", "alice"]),
    ("destroy", S.CUSTOMS_HOLD, "imelda", ["rita", "ivan", "mona"]),
    ("cancel", S.APPROVED, "mona", ["victor", "rita", "eddie"]),
]


@pytest.mark.parametrize(("name", "state", "allowed", "refused"), ROLE_CASES)
def test_only_the_right_party_and_role_may_fire(world, name, state, allowed, refused):
    shipment = force_status(world.shipment(), state)
    if name == "deliver":
        temperature_log_for(shipment, spike_to=None)
    for persona in refused:
        with pytest.raises(NotPermitted) as denied:
            services.TRANSITION_SERVICES[name](actor=getattr(world, persona), shipment=shipment, **ARGS.get(name, {}))
        assert denied.value.reasons[0].startswith("only ")
        assert Shipment.objects.get(pk=shipment.pk).status == state
    fired = services.TRANSITION_SERVICES[name](actor=getattr(world, allowed), shipment=shipment, **ARGS.get(name, {}))
    assert fired.status == EXPECTED[(state, name)]


def test_cro_loses_its_rights_when_the_sponsor_revokes_it(world):
    from django.utils import timezone

    shipment = world.shipment()
    world.cro.sponsor_authorisations.update(revoked_at=timezone.now())
    with pytest.raises(Shipment.DoesNotExist):
        services.shipment_submit(actor=world.carl, shipment=shipment)


@pytest.mark.parametrize("name", ["reject", "hold", "return_to_origin", "destroy", "cancel"])
def test_transitions_that_need_a_reason_refuse_without_one(world, name):
    state = next(s for (s, n) in EXPECTED if n == name)
    shipment = force_status(world.shipment(), state)
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as invalid:
        services.TRANSITION_SERVICES[name](actor=getattr(world, ACTOR[name]), shipment=shipment, reason="  ")
    assert "reason" in invalid.value.message_dict
    assert Shipment.objects.get(pk=shipment.pk).status == state


def test_graph_transitions_renders_the_machine():
    out = StringIO()
    call_command("graph_transitions", "shipments.Shipment", stdout=out)
    dot = out.getvalue()
    for state in S.values:
        assert state in dot
    assert "submit_dossier" in dot
