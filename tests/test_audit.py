"""The audit trail is hash-chained per shipment; verify_audit finds a rewritten, removed or reordered event."""

import pytest
from django.core.management import CommandError, call_command

from ior_platform.core.audit import verify_chains
from ior_platform.core.models import AuditEvent
from shipments import services


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
    "tamper",
    [
        lambda e: AuditEvent.objects.filter(pk=e.pk).update(reason="Nothing to see"),
        lambda e: AuditEvent.objects.filter(pk=e.pk).update(changes={"status": ["draft", "approved"]}),
        lambda e: AuditEvent.objects.filter(pk=e.pk).delete(),
    ],
    ids=["reason rewritten", "values rewritten", "event removed"],
)
def test_verify_audit_finds_the_first_broken_link(trail, tamper, capsys):
    shipment, _ = trail
    first = AuditEvent.objects.filter(shipment=shipment).order_by("sequence").first()
    tamper(first)
    with pytest.raises(CommandError, match="1 audit chain"):
        call_command("verify_audit")
    assert f"BROKEN chain=shipment:{shipment.pk}" in capsys.readouterr().err
    _, broken = verify_chains()
    assert [link.chain for link in broken] == [f"shipment:{shipment.pk}"]
