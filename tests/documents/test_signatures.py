"""Electronic signatures on dossier approval: password re-entry, lockout, separation of duties, invalidation."""

from decimal import Decimal

import pytest
import time_machine

from compliance.models import PermitDrawdown
from documents.manifest import dossier_manifest, manifest_sha256, normalised
from documents.models import ElectronicSignature, SigningAttempt
from documents.signatures import SigningLocked, WrongPassword
from ior_platform.core.errors import NotPermitted, TransitionRefused
from ior_platform.core.models import AuditEvent
from shipments import services
from shipments.choices import ShipmentStatus as S
from shipments.models import Shipment, ShipmentItem
from tests.factories import DEMO_PASSWORD, UserFactory
from tests.shipments.test_services import walk_dossier


@pytest.fixture
def in_review(world, requirements, brazil_permit):
    shipment = services.shipment_submit(actor=world.alice, shipment=world.shipment())
    return walk_dossier(world, shipment)


def test_approval_signature_binds_signer_meaning_time_and_manifest(world, in_review):
    approved = services.shipment_approve(actor=world.rita, shipment=in_review, password=DEMO_PASSWORD, comment="OK")
    signature = ElectronicSignature.objects.get(shipment=approved)
    assert (signature.signer, signature.meaning, signature.signer_name) == (world.rita, "approved", "Rita")
    assert signature.signer_organization == "Brasil IOR Ltda"
    assert signature.signed_at.utcoffset().total_seconds() == 0
    assert signature.manifest_sha256 == manifest_sha256(normalised(dossier_manifest(approved)))
    assert {d["sha256"] for d in signature.manifest["documents"]} == set(
        approved.documents.values_list("versions__sha256", flat=True)
    )
    assert AuditEvent.objects.filter(action="signature.signed", shipment=approved).count() == 1


def test_wrong_password_refuses_and_records_nothing(world, in_review):
    with pytest.raises(WrongPassword, match="the password is not correct"):
        services.shipment_approve(actor=world.rita, shipment=in_review, password="not-my-password")
    assert Shipment.objects.get(pk=in_review.pk).status == S.DOSSIER_REVIEW
    assert not ElectronicSignature.objects.exists()
    assert not AuditEvent.objects.filter(action__in=["shipment.approve", "signature.signed"]).exists()
    assert not PermitDrawdown.objects.exists()
    assert SigningAttempt.objects.get(user=world.rita).succeeded is False


def test_three_wrong_passwords_lock_signing_and_write_a_security_event(world, in_review):
    with time_machine.travel("2026-11-23 10:00Z", tick=False):
        for _ in range(3):
            with pytest.raises(WrongPassword):
                services.shipment_approve(actor=world.rita, shipment=in_review, password="guess")
        with pytest.raises(SigningLocked, match="signing is locked until 10:15 UTC"):
            services.shipment_approve(actor=world.rita, shipment=in_review, password=DEMO_PASSWORD)
    event = AuditEvent.objects.get(action="security.signing_locked")
    assert (event.actor, event.organization) == (world.rita, world.ior)
    with time_machine.travel("2026-11-23 10:16Z", tick=False):
        assert services.shipment_approve(actor=world.rita, shipment=in_review, password=DEMO_PASSWORD).status == (
            S.APPROVED
        )


def test_the_submitter_of_the_dossier_cannot_sign_it(world, requirements, brazil_permit):
    ines = UserFactory(username="ines", organization=world.ior, roles=["editor", "reviewer"])
    shipment = services.shipment_submit(actor=world.alice, shipment=world.shipment())
    shipment = walk_dossier(world, shipment)
    Shipment.objects.filter(pk=shipment.pk).update(dossier_submitted_by=ines)
    with pytest.raises(NotPermitted, match="you submitted this dossier"):
        services.shipment_approve(actor=ines, shipment=Shipment.objects.get(pk=shipment.pk), password=DEMO_PASSWORD)
    assert not SigningAttempt.objects.exists()


def test_a_change_after_signing_invalidates_and_sends_back_to_review(world, in_review, client):
    approved = services.shipment_approve(actor=world.rita, shipment=in_review, password=DEMO_PASSWORD)
    assert PermitDrawdown.objects.filter(shipment=approved, released_at__isnull=True).exists()
    ShipmentItem.objects.filter(shipment=approved).update(quantity=Decimal(500))
    with pytest.raises(TransitionRefused, match="the dossier changed after it was signed"):
        services.shipment_clear_export(actor=world.eddie, shipment=approved)
    signature = ElectronicSignature.objects.get(shipment=approved)
    assert not signature.is_valid
    assert signature.invalidation_reason == "changed after signing: items"
    reopened = Shipment.objects.get(pk=approved.pk)
    assert reopened.status == S.DOSSIER_REVIEW
    assert not PermitDrawdown.objects.filter(shipment=approved, released_at__isnull=True).exists()
    assert AuditEvent.objects.filter(shipment=approved, action="shipment.reopen_review").count() == 1
    client.force_login(world.alice)
    assert "invalidated: changed after signing: items" in client.get(reopened.get_absolute_url()).content.decode()


def test_an_unchanged_dossier_keeps_its_signature(world, in_review):
    approved = services.shipment_approve(actor=world.rita, shipment=in_review, password=DEMO_PASSWORD)
    cleared = services.shipment_clear_export(actor=world.eddie, shipment=approved)
    assert cleared.status == S.EXPORT_CLEARED
    assert ElectronicSignature.objects.get(shipment=approved).is_valid
