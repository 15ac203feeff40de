"""Webhooks: the URLs an organization subscribes to events, the events sent to them, and their signed delivery.

Every request is a POST of a JSON envelope `{"id", "event", "created_at", "data"}` with the headers
`X-IOR-Event`, `X-IOR-Delivery` (the event id: the same on every retry, for de-duplication), `X-IOR-Timestamp`
(unix seconds) and `X-IOR-Signature: t=<timestamp>,v1=<hex HMAC-SHA256 of "<timestamp>.<body>" keyed with the
endpoint's secret>`. Receivers check it with `webhook_signature_verify` (or its few lines in their language).

The target is checked when it is saved and again before every connection: https only (http too when DEBUG), no
credentials in the URL, any port, and every address its host resolves to must be public (no loopback, private,
link-local or cloud-metadata, shared, multicast, reserved or unspecified address, nor one of those embedded in an
IPv6 address). The connection then goes to the very address that was checked, with the hostname kept for the Host
header, SNI and certificate check, so a DNS answer that changes after the check (rebinding) reaches nothing
internal. Redirects are never followed: a 3xx is a failed attempt.

Which organizations receive an event is the tenancy rule: an endpoint's organization gets the events of the
shipments it can see, and the payload carries only what every party of a shipment sees (ids, reference, statuses,
document type and due date, times), never another party's internal data."""

import hashlib
import hmac
import http.client
import ipaddress
import json
import logging
import random
import secrets
import socket
import ssl
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from types import SimpleNamespace
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from ior_platform.core.audit import record_event
from ior_platform.core.errors import NotPermitted, TransitionRefused
from ior_platform.core.tenancy import sees_everything, shipment_rule
from parties.choices import DeliveryStatus, MemberRole, WebhookEvent
from parties.models import Organization, WebhookDelivery, WebhookEndpoint

logger = logging.getLogger(__name__)

SECRET_PREFIX = "whsec_"  # noqa: S105 (the public start of every secret)
SUBSCRIBABLE_EVENTS = tuple(e for e in WebhookEvent.values if e != WebhookEvent.PING)
MAX_ENDPOINTS_PER_ORGANIZATION = 20

CONNECT_TIMEOUT = 5
READ_TIMEOUT = 10
SIGNATURE_TOLERANCE = 300
USER_AGENT = "IOR-Platform-Webhooks/1"
RESPONSE_EXCERPT_BYTES = 2048

# Eight attempts: the first at once, then pauses of 1, 4, 16 and 64 minutes, about 4 hours, then 8 hours twice,
# each ±25 %: about a day in all, enough to ride out a receiver's weekend deploy or outage.
MAX_ATTEMPTS = 8
RETRY_BASE_SECONDS = 60
RETRY_MAX_SECONDS = 8 * 3600
# An attempt holds its delivery this long (longer than a task may run): a duplicate message finds it claimed, and
# a worker that died mid-attempt leaves it to be taken again afterwards.
CLAIM_SECONDS = 300
# A retry's message may reach a worker whose clock runs a little ahead of the sender's.
EARLY_TOLERANCE = timedelta(seconds=30)
# The sweep re-queues a due delivery only once its own message had time to arrive.
REQUEUE_GRACE = timedelta(minutes=2)

# Events whose ids are derived from what caused them, so a retried task emits nothing twice.
EVENT_NAMESPACE = uuid.UUID("5b0f0d1e-6c1a-4e8e-9a53-7d0a3c1f2b61")

SHARED_ADDRESS_SPACE = ipaddress.ip_network("100.64.0.0/10")
NAT64_PREFIX = ipaddress.ip_network("64:ff9b::/96")
NAT64_LOCAL_PREFIX = ipaddress.ip_network("64:ff9b:1::/48")

_jitter = random.SystemRandom()


# --- The target URL -------------------------------------------------------------------------------------------


class UnsafeWebhookUrl(ValueError):
    """The URL may not be called: its scheme, credentials, or an address its host resolves to."""


@dataclass(frozen=True)
class WebhookTarget:
    """A checked URL, pinned to the public address it resolved to."""

    scheme: str
    host: str
    port: int
    path: str
    address: str


def address_refusal(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """Why a webhook may not connect to `ip`, or None for a public address."""
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is None and ip in NAT64_PREFIX:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:
            inner = address_refusal(embedded)
            if inner:
                return f"{ip} embeds {inner}"
        if ip in NAT64_LOCAL_PREFIX:
            return f"{ip} is a local NAT64 address"
        if ip.is_site_local:
            return f"{ip} is a site-local address"
    # Most specific first: 127.0.0.1 and 169.254.169.254 are "private" too, but say what they are.
    for flag, kind in (
        ("is_unspecified", "an unspecified"),
        ("is_loopback", "a loopback"),
        ("is_link_local", "a link-local (cloud metadata)"),
        ("is_multicast", "a multicast"),
        ("is_reserved", "a reserved"),
        ("is_private", "a private"),
    ):
        if getattr(ip, flag):
            return f"{ip} is {kind} address"
    if ip.version == 4 and ip in SHARED_ADDRESS_SPACE:
        return f"{ip} is a shared (carrier-grade NAT) address"
    if not ip.is_global:
        return f"{ip} is not a public address"
    return None


def _resolve(host: str, port: int) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    try:
        # getaddrinfo also reads the shorthand forms of IPv4 (2130706433, 0x7f000001, 017700000001, 127.1): they
        # are judged by the address they really are.
        answers = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise UnsafeWebhookUrl(f"the host {host} could not be resolved ({exc})") from None
    addresses = []
    for family, _, _, _, sockaddr in answers:
        if family not in (socket.AF_INET, socket.AF_INET6):
            continue
        addresses.append(ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0]))
    if not addresses:
        raise UnsafeWebhookUrl(f"the host {host} has no IPv4 or IPv6 address")
    return addresses


def webhook_url_check(url: str) -> WebhookTarget:
    """Check `url` and resolve its host; the target pinned to a checked address. Raises UnsafeWebhookUrl.
    Called when an endpoint is saved and again before every connection."""
    if not url or len(url) > 500:
        raise UnsafeWebhookUrl("give a URL of at most 500 characters")
    if any(ord(c) <= 0x20 or ord(c) == 0x7F for c in url):
        raise UnsafeWebhookUrl("the URL contains spaces or control characters")
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    allowed = ("https", "http") if settings.DEBUG else ("https",)
    if scheme not in allowed:
        raise UnsafeWebhookUrl("the URL must use https")
    if "@" in parts.netloc:
        raise UnsafeWebhookUrl("the URL must not contain a user name or password")
    if not parts.hostname:
        raise UnsafeWebhookUrl("the URL has no host")
    try:
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError:
        raise UnsafeWebhookUrl("the URL's port is not a number from 1 to 65535") from None
    if not 0 < port < 65536:
        raise UnsafeWebhookUrl("the URL's port is not a number from 1 to 65535")
    try:
        host = parts.hostname.encode("idna").decode("ascii")
    except UnicodeError:
        raise UnsafeWebhookUrl("the URL's host is not a valid domain name") from None
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    if not path.isascii():
        raise UnsafeWebhookUrl("percent-encode the URL's path and query")
    addresses = _resolve(host, port)
    for address in addresses:
        refusal = address_refusal(address)
        if refusal:
            raise UnsafeWebhookUrl(f"the host {host} resolves to {refusal}")
    return WebhookTarget(scheme=scheme, host=host, port=port, path=path, address=str(addresses[0]))


def _url_for_save(url: str) -> str:
    url = (url or "").strip()
    try:
        webhook_url_check(url)
    except UnsafeWebhookUrl as exc:
        raise ValidationError({"url": [f"This URL cannot receive webhooks: {exc}."]}) from None
    return url


# --- Signing --------------------------------------------------------------------------------------------------


def _as_bytes(body: bytes | str) -> bytes:
    return body.encode() if isinstance(body, str) else body


def webhook_signature(secret: str, timestamp: int, body: bytes | str) -> str:
    """The X-IOR-Signature header: `t=<timestamp>,v1=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + _as_bytes(body), hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def webhook_signature_verify(
    secret: str, body: bytes | str, header: str, tolerance: int = SIGNATURE_TOLERANCE, now: float | None = None
) -> bool:
    """Whether `header` (X-IOR-Signature) signs exactly `body` with `secret`, at most `tolerance` seconds ago.
    The timestamp is signed too, so an old request replayed later fails."""
    timestamp, candidates = None, []
    for item in (header or "").split(","):
        name, _, value = item.strip().partition("=")
        if name == "t" and value.isdigit():
            timestamp = int(value)
        elif name == "v1":
            candidates.append(value)
    if timestamp is None or not candidates:
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance:
        return False
    expected = webhook_signature(secret, timestamp, body).rpartition("v1=")[2]
    return any(hmac.compare_digest(expected, candidate) for candidate in candidates)


def _new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


# --- Endpoints ------------------------------------------------------------------------------------------------


def _require_webhook_manager(actor, organization: Organization) -> None:
    if sees_everything(actor):
        return
    if actor.organization_id != organization.pk or not actor.has_member_role(MemberRole.MANAGER):
        raise NotPermitted("Only a manager of the organization can manage its webhooks.")


def _clean_events(events) -> list[str]:
    if not isinstance(events, list | tuple) or not events:
        raise ValidationError({"events": ["Subscribe to at least one event."]})
    unknown = [e for e in events if e not in SUBSCRIBABLE_EVENTS]
    if unknown:
        raise ValidationError(
            {"events": [f"Unknown event {unknown[0]!r}; choose from {', '.join(SUBSCRIBABLE_EVENTS)}."]}
        )
    return list(dict.fromkeys(events))


def _clean_description(description) -> str:
    description = (description or "").strip()
    if len(description) > 200:
        raise ValidationError({"description": ["At most 200 characters."]})
    return description


def webhook_endpoint_create(
    *, actor, organization: Organization, url: str, events: list[str], description: str = ""
) -> tuple[WebhookEndpoint, str]:
    """Subscribe `url` to `events` for `organization`. Returns the endpoint and its signing secret, which is shown
    this once (and again only by rotating it)."""
    _require_webhook_manager(actor, organization)
    events = _clean_events(events)
    description = _clean_description(description)
    url = _url_for_save(url)
    secret = _new_secret()
    with transaction.atomic():
        # Locks the organization so two managers adding endpoints at once cannot both pass the limit.
        Organization.objects.select_for_update().get(pk=organization.pk)
        if WebhookEndpoint.objects.filter(organization=organization).count() >= MAX_ENDPOINTS_PER_ORGANIZATION:
            raise ValidationError(
                {"url": [f"An organization has at most {MAX_ENDPOINTS_PER_ORGANIZATION} webhook endpoints."]}
            )
        endpoint = WebhookEndpoint.objects.create(
            organization=organization,
            url=url,
            events=events,
            secret=secret,
            description=description,
            created_by=actor,
        )
        record_event(
            actor=actor,
            action="webhook.create",
            target=endpoint,
            changes={"url": [None, url], "events": [None, events]},
            organization=organization,
        )
    return endpoint, secret


_UNCHANGED = object()


def webhook_endpoint_update(
    *, actor, endpoint: WebhookEndpoint, url=_UNCHANGED, events=_UNCHANGED, description=_UNCHANGED, is_active=_UNCHANGED
) -> WebhookEndpoint:
    """Change an endpoint's URL, events, description, or pause it (`is_active=False`) and resume it."""
    _require_webhook_manager(actor, endpoint.organization)
    updates = {}
    if url is not _UNCHANGED:
        updates["url"] = _url_for_save(url)
    if events is not _UNCHANGED:
        updates["events"] = _clean_events(events)
    if description is not _UNCHANGED:
        updates["description"] = _clean_description(description)
    if is_active is not _UNCHANGED:
        updates["is_active"] = bool(is_active)
    with transaction.atomic():
        locked = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
        changes = {k: [getattr(locked, k), v] for k, v in updates.items() if getattr(locked, k) != v}
        if changes:
            for field, (_, value) in changes.items():
                setattr(locked, field, value)
            locked.save(update_fields=[*changes, "updated_at"])
            record_event(
                actor=actor, action="webhook.update", target=locked, changes=changes, organization=locked.organization
            )
    return locked


def webhook_endpoint_delete(*, actor, endpoint: WebhookEndpoint) -> None:
    """Remove an endpoint and its delivery log; a delivery in flight finds nothing to send."""
    _require_webhook_manager(actor, endpoint.organization)
    with transaction.atomic():
        locked = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
        record_event(
            actor=actor,
            action="webhook.delete",
            target=locked,
            changes={"url": [locked.url, None], "events": [locked.events, None]},
            organization=locked.organization,
        )
        locked.delete()


def webhook_secret_rotate(*, actor, endpoint: WebhookEndpoint) -> tuple[WebhookEndpoint, str]:
    """A new signing secret, shown this once. Requests signed from now on use it; the old one stops verifying."""
    _require_webhook_manager(actor, endpoint.organization)
    secret = _new_secret()
    with transaction.atomic():
        locked = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
        locked.secret = secret
        locked.save(update_fields=["secret", "updated_at"])
        record_event(actor=actor, action="webhook.rotate_secret", target=locked, organization=locked.organization)
    return locked, secret


def webhook_endpoint_ping(*, actor, endpoint: WebhookEndpoint) -> WebhookDelivery:
    """Send a `ping` event to the endpoint now, whatever it subscribed to, to check it receives and verifies."""
    _require_webhook_manager(actor, endpoint.organization)
    if not endpoint.is_active:
        raise TransitionRefused("the endpoint is paused; activate it before testing it")
    with transaction.atomic():
        delivery = WebhookDelivery.objects.create(
            endpoint=endpoint,
            event_id=uuid.uuid4(),
            event=WebhookEvent.PING,
            payload={"endpoint": endpoint.pk, "organization": endpoint.organization_id, "message": "ping"},
            next_attempt_at=timezone.now(),
        )
        _dispatch_on_commit([delivery.pk])
    return delivery


def webhook_delivery_redeliver(*, actor, delivery: WebhookDelivery) -> WebhookDelivery:
    """Send a delivered or failed event again, with its original event id, and a fresh set of attempts."""
    _require_webhook_manager(actor, delivery.endpoint.organization)
    with transaction.atomic():
        locked = WebhookDelivery.objects.select_for_update().select_related("endpoint").get(pk=delivery.pk)
        if locked.status == DeliveryStatus.PENDING:
            raise TransitionRefused("this delivery is still being attempted")
        if not locked.endpoint.is_active:
            raise TransitionRefused("the endpoint is paused; activate it before redelivering")
        before = locked.status
        locked.status = DeliveryStatus.PENDING
        locked.attempts = 0
        locked.next_attempt_at = timezone.now()
        locked.save(update_fields=["status", "attempts", "next_attempt_at"])
        record_event(
            actor=actor,
            action="webhook.redeliver",
            target=locked,
            changes={"status": [before, locked.status]},
            organization=locked.endpoint.organization,
        )
        _dispatch_on_commit([locked.pk])
    return locked


# --- Emitting events ------------------------------------------------------------------------------------------


def _dispatch_on_commit(delivery_ids: list[int]) -> None:
    from parties.tasks import deliver_webhook

    for delivery_id in delivery_ids:
        deliver_webhook.delay_on_commit(delivery_id)


def _json_safe(payload: dict) -> dict:
    return json.loads(json.dumps(payload, cls=DjangoJSONEncoder))


def _seen_by(organization_ids: set[int], shipment_ids: set[int]) -> dict[int, set[int]]:
    """For each organization, which of `shipment_ids` it may see: the tenancy rule, asked as that organization."""
    from shipments.models import Shipment

    seen = {}
    for organization_id in organization_ids:
        rule = shipment_rule(SimpleNamespace(organization_id=organization_id))
        seen[organization_id] = set(
            Shipment.objects.filter(rule, pk__in=shipment_ids).order_by().values_list("pk", flat=True)
        )
    return seen


@dataclass(frozen=True)
class _Event:
    event_id: uuid.UUID
    shipment_id: int | None
    payload: dict


def _has_subscribers(event: str) -> bool:
    return any(
        event in events for events in WebhookEndpoint.objects.filter(is_active=True).values_list("events", flat=True)
    )


def _emit(event: str, events: list[_Event], organization_ids: Iterable[int] | None = None) -> list[int]:
    """One delivery per (event, active endpoint subscribed to it) of the organizations that may see its shipment,
    written in the caller's transaction and sent after it commits. An event id already delivered to an endpoint
    is skipped, so emitting again (a retried task) sends nothing twice. Returns the new deliveries' ids."""
    if not events:
        return []
    endpoints = WebhookEndpoint.objects.filter(is_active=True).only("pk", "organization_id", "events")
    if organization_ids is not None:
        endpoints = endpoints.filter(organization_id__in=list(organization_ids))
    # Filtered here, not in SQL: JSON containment is not portable, and the endpoints are few.
    subscribed = [endpoint for endpoint in endpoints if event in endpoint.events]
    if not subscribed:
        return []
    shipment_ids = {e.shipment_id for e in events if e.shipment_id is not None}
    seen = _seen_by({endpoint.organization_id for endpoint in subscribed}, shipment_ids) if shipment_ids else {}
    now = timezone.now()
    rows = []
    for item in events:
        if item.shipment_id is None and organization_ids is None:
            raise ValueError("an event names its shipment or the organizations that receive it")
        payload = _json_safe(item.payload)
        for endpoint in subscribed:
            if item.shipment_id is not None and item.shipment_id not in seen[endpoint.organization_id]:
                continue
            rows.append(
                WebhookDelivery(
                    endpoint_id=endpoint.pk,
                    event_id=item.event_id,
                    event=event,
                    payload=payload,
                    created_at=now,
                    next_attempt_at=now,
                )
            )
    if not rows:
        return []
    WebhookDelivery.objects.bulk_create(rows, ignore_conflicts=True)
    created = list(
        WebhookDelivery.objects.filter(
            event_id__in={row.event_id for row in rows},
            endpoint_id__in={row.endpoint_id for row in rows},
            created_at=now,
            attempts=0,
        ).values_list("pk", flat=True)
    )
    _dispatch_on_commit(created)
    return created


def webhooks_emit(
    *,
    event: str,
    payload: dict,
    shipment_id: int | None = None,
    organization_ids: Iterable[int] | None = None,
    event_id: uuid.UUID | None = None,
) -> list[int]:
    """Emit one event to the subscribed endpoints of `organization_ids` (all organizations when None), only to
    those that may see `shipment_id`. Call inside the transaction of the change: a rollback emits nothing.
    `payload` must hold only what every receiving organization may see. Returns the deliveries' ids."""
    if event not in SUBSCRIBABLE_EVENTS:
        raise ValueError(f"unknown webhook event {event!r}")
    return _emit(event, [_Event(event_id or uuid.uuid4(), shipment_id, payload)], organization_ids)


def _shipment_data(shipment_id: int, reference: str, status: str) -> dict:
    return {"id": shipment_id, "reference": reference, "status": status}


def _document_data(document) -> dict:
    return {
        "id": document.pk,
        "document_type": document.document_type,
        "side": document.side,
        "status": document.status,
        "owed_by_role": document.owed_by_role,
        "due_date": document.due_date,
    }


def webhooks_emit_shipment_status_changed(*, audit_event) -> list[int]:
    """`shipment.status_changed` for an audit event that changed a shipment's status (others emit nothing). The
    event id comes from the audit event, so the task that calls this may be retried."""
    if audit_event is None or audit_event.shipment_id is None:
        return []
    change = (audit_event.changes or {}).get("status")
    if not change or len(change) < 2 or change[0] == change[1]:
        return []
    old, new = change[0], change[1]
    shipment = audit_event.shipment
    payload = {
        "shipment": _shipment_data(shipment.pk, shipment.reference, new),
        "from_status": old,
        "to_status": new,
        "transition": audit_event.action.removeprefix("shipment."),
        "occurred_at": audit_event.occurred_at,
    }
    item = _Event(uuid.uuid5(EVENT_NAMESPACE, f"audit-event:{audit_event.pk}"), shipment.pk, payload)
    return _emit(WebhookEvent.SHIPMENT_STATUS_CHANGED, [item])


def _document_events(documents, extra=None) -> list[_Event]:
    now = timezone.now()
    return [
        _Event(
            uuid.uuid4(),
            document.shipment_id,
            {
                "shipment": _shipment_data(document.shipment_id, document.shipment.reference, document.shipment.status),
                "document": _document_data(document),
                "occurred_at": now,
                **(extra or {}),
            },
        )
        for document in documents
    ]


def webhooks_emit_documents_requested(*, documents: Iterable) -> list[int]:
    """`document.requested` for each checklist document that has just become owed (with its `shipment` loaded)."""
    return _emit(WebhookEvent.DOCUMENT_REQUESTED, _document_events(list(documents)))


def webhooks_emit_document_reviewed(*, document) -> list[int]:
    """`document.approved` or `document.rejected`, after a review set the document's status."""
    from documents.choices import DocumentStatus

    events = {
        DocumentStatus.APPROVED: WebhookEvent.DOCUMENT_APPROVED,
        DocumentStatus.REJECTED: WebhookEvent.DOCUMENT_REJECTED,
    }
    event = events.get(document.status)
    if event is None:
        return []
    return _emit(event, _document_events([document]))


def webhooks_emit_document_overdue(*, reminder_ids: Iterable[int]) -> list[int]:
    """`document.overdue` for the deadline sweep's reminders of the overdue and escalated stages (the others are
    ignored), in the sweep's transaction. The event id comes from the reminder, which is sent once per stage, so
    a document is announced overdue once and once more if escalated (`stage` says which)."""
    from documents.models import DocumentReminder, ReminderStage

    if not _has_subscribers(WebhookEvent.DOCUMENT_OVERDUE):
        return []  # the common case, and the sweep calls this for every chunk of a first run
    reminders = (
        DocumentReminder.objects.filter(
            pk__in=list(reminder_ids), stage__in=[ReminderStage.OVERDUE, ReminderStage.ESCALATED]
        )
        .select_related("document__shipment")
        .order_by("pk")
    )
    events = [
        _Event(
            uuid.uuid5(EVENT_NAMESPACE, f"document-reminder:{reminder.pk}"),
            reminder.document.shipment_id,
            {
                "shipment": _shipment_data(
                    reminder.document.shipment_id,
                    reminder.document.shipment.reference,
                    reminder.document.shipment.status,
                ),
                "document": _document_data(reminder.document),
                "stage": reminder.stage,
                "occurred_at": reminder.notified_at or reminder.created_at,
            },
        )
        for reminder in reminders
    ]
    return _emit(WebhookEvent.DOCUMENT_OVERDUE, events)


def _excursion_event(
    shipment,
    *,
    excursion_id: int | str,
    started_at,
    ended_at=None,
    min_celsius=None,
    max_celsius=None,
    allowed_min_celsius=None,
    allowed_max_celsius=None,
    **more,
) -> _Event:
    payload = {
        "shipment": _shipment_data(shipment.pk, shipment.reference, shipment.status),
        "excursion": {
            "id": excursion_id,
            "started_at": started_at,
            "ended_at": ended_at,
            "min_celsius": min_celsius,
            "max_celsius": max_celsius,
            "allowed_min_celsius": allowed_min_celsius,
            "allowed_max_celsius": allowed_max_celsius,
            **more,
        },
        "occurred_at": started_at,
    }
    return _Event(uuid.uuid5(EVENT_NAMESPACE, f"excursion:{shipment.pk}:{excursion_id}"), shipment.pk, payload)


def webhooks_emit_excursion(
    *,
    shipment,
    excursion_id: int | str,
    started_at,
    ended_at=None,
    min_celsius=None,
    max_celsius=None,
    allowed_min_celsius=None,
    allowed_max_celsius=None,
) -> list[int]:
    """`shipment.excursion`: the shipment's temperature left its allowed range. `excursion_id` makes a repeated
    call emit nothing new."""
    item = _excursion_event(
        shipment,
        excursion_id=excursion_id,
        started_at=started_at,
        ended_at=ended_at,
        min_celsius=min_celsius,
        max_celsius=max_celsius,
        allowed_min_celsius=allowed_min_celsius,
        allowed_max_celsius=allowed_max_celsius,
    )
    return _emit(WebhookEvent.EXCURSION, [item])


def webhooks_emit_excursions(*, shipment, excursions: Iterable) -> list[int]:
    """`shipment.excursion` for each Excursion a logger import has just recorded (with its `log` in hand), in the
    import's transaction: one pass however many there are. The excursion's peak is its `max_celsius` above the range
    and its `min_celsius` below it; `direction`, `duration_minutes` and `quarantined` say the rest."""
    excursions = list(excursions)
    if not excursions or not _has_subscribers(WebhookEvent.EXCURSION):
        return []
    quarantined = shipment.quarantine_status == "quarantined"
    events = [
        _excursion_event(
            shipment,
            excursion_id=excursion.pk,
            started_at=excursion.started_at,
            ended_at=excursion.ended_at,
            min_celsius=excursion.peak_temperature if excursion.direction == "below" else None,
            max_celsius=excursion.peak_temperature if excursion.direction == "above" else None,
            allowed_min_celsius=excursion.log.range_low,
            allowed_max_celsius=excursion.log.range_high,
            direction=excursion.direction,
            duration_minutes=round(excursion.duration_minutes, 2),
            quarantined=quarantined,
        )
        for excursion in excursions
    ]
    return _emit(WebhookEvent.EXCURSION, events)


# --- Delivering -----------------------------------------------------------------------------------------------


def _open_connection(address: str, port: int, timeout: float) -> socket.socket:
    return socket.create_connection((address, port), timeout=timeout)


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to the checked address, never to what the hostname resolves to now; the Host header keeps the name."""

    def __init__(self, target: WebhookTarget):
        super().__init__(target.host, target.port, timeout=CONNECT_TIMEOUT)
        self.pinned_address = target.address

    def connect(self):
        self.sock = _open_connection(self.pinned_address, self.port, self.timeout)
        self.sock.settimeout(READ_TIMEOUT)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """As _PinnedHTTPConnection, with SNI and the certificate checked against the hostname."""

    def __init__(self, target: WebhookTarget):
        super().__init__(target.host, target.port, timeout=CONNECT_TIMEOUT, context=ssl.create_default_context())
        self.pinned_address = target.address

    def connect(self):
        sock = _open_connection(self.pinned_address, self.port, self.timeout)
        sock.settimeout(READ_TIMEOUT)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


@dataclass(frozen=True)
class PostOutcome:
    status: int | None
    error: str

    @property
    def succeeded(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def webhook_post(url: str, body: bytes, headers: dict[str, str]) -> PostOutcome:
    """POST `body` to `url` once: checked and pinned as at save time, no redirects followed. Never raises for
    what the network or the receiver does; the outcome says it."""
    try:
        target = webhook_url_check(url)
    except UnsafeWebhookUrl as exc:
        return PostOutcome(None, f"Refused before connecting: {exc}.")
    connection_class = _PinnedHTTPSConnection if target.scheme == "https" else _PinnedHTTPConnection
    connection = connection_class(target)
    try:
        connection.request("POST", target.path, body=body, headers=headers)
        response = connection.getresponse()
        excerpt = response.read(RESPONSE_EXCERPT_BYTES)
        location = response.getheader("Location") or ""
    except (OSError, http.client.HTTPException, ValueError) as exc:
        # Timeouts, refused connections, TLS and certificate errors, malformed answers: all a failed attempt.
        return PostOutcome(None, f"{type(exc).__name__}: {exc}"[:500])
    finally:
        connection.close()
    status = response.status
    if 200 <= status < 300:
        return PostOutcome(status, "")
    if 300 <= status < 400:
        return PostOutcome(status, f"HTTP {status}: redirects are not followed (Location: {location[:300]}).")
    text = excerpt.decode("utf-8", errors="replace").strip()[:300]
    return PostOutcome(status, f"HTTP {status}" + (f": {text}" if text else ""))


def webhook_body(delivery: WebhookDelivery) -> bytes:
    """The JSON sent for a delivery: the same bytes on every attempt."""
    envelope = {
        "id": str(delivery.event_id),
        "event": delivery.event,
        "created_at": delivery.created_at,
        "data": delivery.payload,
    }
    return json.dumps(envelope, cls=DjangoJSONEncoder, sort_keys=True, separators=(",", ":")).encode()


def retry_delay(attempts: int) -> float:
    """Seconds to wait after the `attempts`-th failed attempt: exponential, capped, with jitter so that the
    deliveries of one receiver's outage do not all come back at the same moment."""
    base = min(RETRY_BASE_SECONDS * 4 ** (attempts - 1), RETRY_MAX_SECONDS)
    return base * _jitter.uniform(0.75, 1.25)


def webhook_delivery_attempt(*, delivery_id: int) -> str:
    """Make the delivery's next attempt if it is due and nobody else is making it; record the outcome and schedule
    the retry. Returns what happened: skipped, succeeded, retrying or failed."""
    now = timezone.now()
    claimed = WebhookDelivery.objects.filter(
        pk=delivery_id, status=DeliveryStatus.PENDING, next_attempt_at__lte=now + EARLY_TOLERANCE
    ).update(attempts=F("attempts") + 1, last_attempt_at=now, next_attempt_at=now + timedelta(seconds=CLAIM_SECONDS))
    if not claimed:
        return "skipped"
    delivery = WebhookDelivery.objects.select_related("endpoint").filter(pk=delivery_id).first()
    if delivery is None:
        # Its endpoint was deleted since the claim.
        return "skipped"
    endpoint = delivery.endpoint
    if not endpoint.is_active:
        outcome = PostOutcome(None, "The endpoint is paused; redeliver once it is active again.")
        final = True
    else:
        body = webhook_body(delivery)
        timestamp = int(time.time())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "X-IOR-Event": delivery.event,
            "X-IOR-Delivery": str(delivery.event_id),
            "X-IOR-Attempt": str(delivery.attempts),
            "X-IOR-Timestamp": str(timestamp),
            "X-IOR-Signature": webhook_signature(endpoint.secret, timestamp, body),
        }
        outcome = webhook_post(endpoint.url, body, headers)
        final = outcome.succeeded or delivery.attempts >= MAX_ATTEMPTS
    finished = timezone.now()
    fields = {"response_status": outcome.status, "last_error": outcome.error}
    if outcome.succeeded:
        fields |= {"status": DeliveryStatus.SUCCEEDED, "delivered_at": finished, "next_attempt_at": None}
        result = "succeeded"
    elif final:
        fields |= {"status": DeliveryStatus.FAILED, "next_attempt_at": None}
        result = "failed"
    else:
        delay = retry_delay(delivery.attempts)
        fields |= {"next_attempt_at": finished + timedelta(seconds=delay)}
        result = "retrying"
    # Only while the claim is still this attempt's: a redelivery meanwhile has reset the attempts.
    recorded = WebhookDelivery.objects.filter(
        pk=delivery.pk, status=DeliveryStatus.PENDING, attempts=delivery.attempts
    ).update(**fields)
    if recorded and result == "retrying":
        from parties.tasks import deliver_webhook

        deliver_webhook.apply_async((delivery.pk,), countdown=delay)
    logger.info("webhook delivery %s attempt %s: %s %s", delivery.pk, delivery.attempts, result, outcome.error)
    return result


def webhooks_requeue_due(*, limit: int = 1000) -> int:
    """Queue again the pending deliveries whose attempt is overdue: their message was lost with a broker or a
    worker. A duplicate of a message still on its way does no harm: the attempt is claimed."""
    from parties.tasks import deliver_webhook

    due = list(
        WebhookDelivery.objects.filter(
            status=DeliveryStatus.PENDING, next_attempt_at__lte=timezone.now() - REQUEUE_GRACE
        )
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )
    for delivery_id in due:
        deliver_webhook.delay(delivery_id)
    return len(due)
