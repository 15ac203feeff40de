"""Writing and verifying the audit trail.

Events are hash-chained per shipment (and per organization for changes outside a shipment), not in
one platform-wide chain: a single chain would make every write in the platform wait on one lock.
A shipment's chain is extended only while its row is locked by the service doing the change, and
the (chain, sequence) unique constraint turns any other race into an error instead of a fork."""

import hashlib
import json
from collections.abc import Iterable
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC

from django.contrib.contenttypes.models import ContentType
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone

from ior_platform.core.models import AuditEvent

# Set for the length of a request made with an API key, so every event it causes names the key.
audit_channel: ContextVar[str] = ContextVar("audit_channel", default="")


class AuditEncoder(DjangoJSONEncoder):
    def default(self, o):
        if isinstance(o, models.Model):
            # A related object is recorded by id and by what it was called then: names change, ids don't.
            return {"id": o.pk, "label": str(o)}
        return super().default(o)


def _normalise(value):
    return json.loads(json.dumps(value, cls=AuditEncoder))


def event_digest(event: AuditEvent) -> str:
    payload = {
        "chain": event.chain,
        "sequence": event.sequence,
        "occurred_at": event.occurred_at.astimezone(UTC).isoformat(),
        "actor": event.actor_id,
        "actor_label": event.actor_label,
        "organization": event.organization_id,
        "shipment": event.shipment_id,
        "target_type": event.target_type_id,
        "target_id": event.target_id,
        "target_repr": event.target_repr,
        "action": event.action,
        "changes": event.changes,
        "reason": event.reason,
        "prev_hash": event.prev_hash,
    }
    if event.via:
        # Only when set, so events written before the field existed keep their digests.
        payload["via"] = event.via
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def diff(instance: models.Model, before: dict, fields: Iterable[str]) -> dict:
    """[old, new] for each of `fields` whose value differs from `before`."""
    changes = {}
    for name in fields:
        new = getattr(instance, name)
        if before.get(name) != new:
            changes[name] = [before.get(name), new]
    return changes


def snapshot(instance: models.Model, fields: Iterable[str]) -> dict:
    return {name: getattr(instance, name) for name in fields}


def record_event(
    *,
    actor,
    action: str,
    target: models.Model,
    changes: dict | None = None,
    reason: str = "",
    shipment=None,
    organization=None,
) -> AuditEvent:
    """Append an event to its chain. Call inside the transaction that makes the change."""
    if shipment is not None:
        chain = f"shipment:{shipment.pk}"
    elif organization is not None:
        chain = f"organization:{organization.pk}"
    else:
        chain = "platform"
    last = AuditEvent.objects.filter(chain=chain).order_by("-sequence").values("sequence", "hash").first()
    actor_label = ""
    if actor is not None:
        actor_label = actor.get_full_name() or actor.get_username()
    if organization is None and actor is not None:
        organization = getattr(actor, "organization", None)
    event = AuditEvent(
        chain=chain,
        sequence=(last["sequence"] + 1) if last else 1,
        occurred_at=timezone.now(),
        actor=actor,
        actor_label=actor_label or "system",
        organization=organization,
        shipment=shipment,
        target_type=ContentType.objects.get_for_model(target),
        target_id=str(target.pk),
        target_repr=str(target)[:300],
        action=action,
        changes=_normalise(changes or {}),
        reason=reason,
        via=audit_channel.get(),
        prev_hash=last["hash"] if last else "",
    )
    event.hash = event_digest(event)
    event.save(force_insert=True)
    return event


@dataclass(frozen=True)
class BrokenLink:
    event_id: int
    chain: str
    sequence: int
    problem: str


def verify_chains(queryset=None) -> tuple[int, list[BrokenLink]]:
    """Walk every chain in order; return how many events were checked and the first broken link of each chain."""
    events = (queryset if queryset is not None else AuditEvent.objects.all()).order_by("chain", "sequence")
    broken: list[BrokenLink] = []
    checked = 0
    chain, expected_prev, expected_seq, chain_broken = None, "", 1, False
    for event in events.iterator(chunk_size=2000):
        checked += 1
        if event.chain != chain:
            chain, expected_prev, expected_seq, chain_broken = event.chain, "", 1, False
        if chain_broken:
            continue
        problem = None
        if event.sequence != expected_seq:
            problem = f"sequence {event.sequence} where {expected_seq} was expected (an event is missing)"
        elif event.prev_hash != expected_prev:
            problem = "prev_hash does not match the previous event's hash"
        elif event_digest(event) != event.hash:
            problem = "the event's content does not match its hash (altered)"
        if problem:
            broken.append(BrokenLink(event.pk, event.chain, event.sequence, problem))
            chain_broken = True
        expected_prev, expected_seq = event.hash, event.sequence + 1
    return checked, broken
