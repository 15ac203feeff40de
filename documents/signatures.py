"""Electronic signatures on dossiers (21 CFR Part 11 §11.50, §11.70, §11.200): the signer re-enters their
password, the signature records who, what it means, when (UTC) and the SHA-256 of the canonical manifest,
and a later change to what was signed invalidates it and sends the shipment back to review."""

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from documents.choices import SignatureMeaning
from documents.manifest import dossier_manifest, manifest_sha256, normalised
from documents.models import ElectronicSignature, SigningAttempt
from ior_platform.core.audit import record_event
from ior_platform.core.errors import NotPermitted
from parties.webhooks import webhooks_emit_shipment_status_changed

MAX_FAILURES = 3
LOCK_WINDOW = timedelta(minutes=15)


class SigningLocked(NotPermitted):
    """Too many wrong passwords: signing is locked for this user for a while."""


class WrongPassword(NotPermitted):
    """The re-entered password is not the signer's."""


def signing_locked_until(user):
    """When the user may sign again, or None. Counted from the failures since their last successful signature."""
    since = timezone.now() - LOCK_WINDOW
    attempts = list(SigningAttempt.objects.filter(user=user, attempted_at__gte=since).order_by("-attempted_at"))
    failures = []
    for attempt in attempts:
        if attempt.succeeded:
            break
        failures.append(attempt)
    if len(failures) >= MAX_FAILURES:
        return failures[0].attempted_at + LOCK_WINDOW
    return None


def signer_verify(*, actor, password: str) -> None:
    """Check the re-entered password. Every attempt is recorded in a transaction of its own, so a failure counts
    even though the signing it was for is rolled back; the third failure in a row locks signing."""
    locked_until = signing_locked_until(actor)
    if locked_until:
        raise SigningLocked(f"signing is locked until {locked_until:%H:%M} UTC after {MAX_FAILURES} wrong passwords")
    ok = bool(password) and actor.check_password(password)
    with transaction.atomic():
        SigningAttempt.objects.create(user=actor, attempted_at=timezone.now(), succeeded=ok)
        if not ok and signing_locked_until(actor):
            record_event(
                actor=actor,
                action="security.signing_locked",
                target=actor,
                changes={"failed_attempts": [None, MAX_FAILURES]},
                reason=f"{MAX_FAILURES} wrong passwords at signing within {int(LOCK_WINDOW.total_seconds() // 60)} min",
                organization=actor.organization,
            )
    if not ok:
        raise WrongPassword("the password is not correct; the dossier was not signed")


def signature_create(
    *, actor, shipment, meaning: str, comment: str = "", manifest: dict | None = None
) -> ElectronicSignature:
    """Sign the dossier as it is stored now, or `manifest` when the decision is about something else (sponsor QA's
    disposition signs the excursion record). Call inside the transaction that makes the decision."""
    manifest = normalised(dossier_manifest(shipment) if manifest is None else manifest)
    signature = ElectronicSignature.objects.create(
        shipment=shipment,
        signer=actor,
        signer_name=actor.get_full_name() or actor.get_username(),
        signer_organization=str(actor.organization or "platform staff"),
        meaning=meaning,
        signed_at=timezone.now(),
        manifest=manifest,
        manifest_sha256=manifest_sha256(manifest),
        comment=comment,
    )
    record_event(
        actor=actor,
        action="signature.signed",
        target=signature,
        changes={"meaning": [None, meaning], "manifest_sha256": [None, signature.manifest_sha256]},
        reason=comment,
        shipment=shipment,
    )
    return signature


def _what_changed(signed: dict, current: dict) -> str:
    changed = []
    for key in ("shipment", "parties", "trial", "items"):
        if signed.get(key) != current.get(key):
            if key == "shipment":
                fields = sorted(k for k in current[key] if signed[key].get(k) != current[key].get(k))
                changed.append("shipment data (" + ", ".join(fields) + ")")
            else:
                changed.append(key)
    signed_docs = {(d["side"], d["document_type"]): d for d in signed.get("documents", [])}
    for doc in current.get("documents", []):
        if signed_docs.get((doc["side"], doc["document_type"])) != doc:
            changed.append(f"{doc['document_type'].replace('_', ' ')} ({doc['side']})")
    return ", ".join(changed) or "the dossier"


def signatures_invalidate_if_changed(*, shipment, actor=None) -> list[ElectronicSignature]:
    """Compare the valid signatures with the dossier as stored now; invalidate those that no longer match and send
    an approved shipment back to dossier review (its permit quantities are given back until it is approved again).
    Returns the signatures invalidated."""
    from compliance.permits import permit_release
    from shipments.choices import ShipmentStatus
    from shipments.models import Shipment

    with transaction.atomic():
        locked = Shipment.objects.select_for_update().get(pk=shipment.pk)
        valid = list(locked.signatures.filter(invalidated_at__isnull=True, meaning=SignatureMeaning.APPROVED))
        if not valid:
            return []
        current = normalised(dossier_manifest(locked))
        digest = manifest_sha256(current)
        stale = [s for s in valid if s.manifest_sha256 != digest]
        if not stale:
            return []
        reason = f"changed after signing: {_what_changed(stale[-1].manifest, current)}"
        now = timezone.now()
        for signature in stale:
            signature.invalidated_at, signature.invalidation_reason = now, reason
            signature.save(update_fields=["invalidated_at", "invalidation_reason"])
            record_event(
                actor=actor,
                action="signature.invalidated",
                target=signature,
                changes={"valid": [True, False]},
                reason=reason,
                shipment=locked,
            )
        if locked.status in (ShipmentStatus.APPROVED, ShipmentStatus.EXPORT_CLEARED):
            old = locked.status
            locked.reopen_review()
            locked.status_changed_at = now
            locked.save()
            permit_release(shipment=locked)
            event = record_event(
                actor=actor,
                action="shipment.reopen_review",
                target=locked,
                changes={"status": [old, locked.status]},
                reason=reason,
                shipment=locked,
            )
            webhooks_emit_shipment_status_changed(audit_event=event)
        return stale
