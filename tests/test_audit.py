"""The audit trail is hash-chained per shipment; verify_audit finds a rewritten, removed or reordered event.

The database refuses to rewrite or remove an event (tests/test_audit_append_only.py); these tests lift that guard
to play the part of someone with direct access to the database, and show that the chain still gives them away."""

import pytest
from django.core.management import CommandError, call_command

from ior_platform.core.audit import verify_chains
from ior_platform.core.models import AuditEvent
from shipments import services
from tests.conftest import audit_guard_lifted


@pytest.fixture
def trail(world):
    shipment = world.shipment()
    shipment = services.shipment_submit(actor=world.alice, shipment=shipment)
    services.shipment_cancel(actor=world.alice, shipment=shipment, reason="Protocol amended")
    other = services.shipment_cancel(actor=world.mona, shipment=world.shipment(), reason="Duplicate")
    return shipment, other


def test_events_chain_per_shipment(trail):
    shipment, other = trail
    first, second = AuditEvent.objects.filter(shipment=shipment).order_by("sequence")
    assert (first.sequence, second.sequence) == (1, 2)
    assert first.prev_hash == ""
    assert second.prev_hash == first.hash
    assert AuditEvent.objects.get(shipment=other).sequence == 1
    assert second.chain == f"shipment:{shipment.pk}"


def test_verify_audit_passes_on_an_intact_trail(trail, capsys):
    call_command("verify_audit")
    assert "OK: 3 audit events verified" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("tamper", "first_broken"),
    [
        (lambda e: AuditEvent.objects.filter(pk=e.pk).update(reason="Nothing to see"), 1),
        (lambda e: AuditEvent.objects.filter(pk=e.pk).update(changes={"status": ["draft", "approved"]}), 1),
        # The gap shows at the event after it.
        (lambda e: AuditEvent.objects.filter(pk=e.pk).delete(), 2),
    ],
    ids=["reason rewritten", "values rewritten", "event removed"],
)
def test_verify_audit_finds_the_first_broken_link(trail, tamper, first_broken, capsys):
    shipment, _ = trail
    events = {event.sequence: event for event in AuditEvent.objects.filter(shipment=shipment)}
    with audit_guard_lifted():
        tamper(events[1])

    with pytest.raises(CommandError, match="1 audit chain") as failed:
        call_command("verify_audit")

    assert failed.value.returncode == 1, "manage.py exits with the CommandError's return code"
    broken_event = events[first_broken]
    expected = f"BROKEN chain=shipment:{shipment.pk} sequence={first_broken} event={broken_event.pk}"
    assert expected in capsys.readouterr().err
    _, broken = verify_chains()
    assert [(link.chain, link.event_id) for link in broken] == [(f"shipment:{shipment.pk}", broken_event.pk)]
