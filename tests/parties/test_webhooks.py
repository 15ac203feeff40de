"""Webhooks: signatures, the SSRF checks at save and at connect time, delivery with retries, who receives which
events, and the /api/v1/webhooks/ endpoints.

No test reaches beyond this machine: DNS answers come from the `network` fixture and connections go only to the
loopback receiver a test starts itself (the address check is relaxed for exactly that one address)."""

import json
import socket
import threading
import time
import uuid
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from documents.models import DocumentReminder, DocumentVersion
from documents.services import document_review, document_version_upload
from ior_platform.core.errors import NotPermitted, TransitionRefused
from ior_platform.core.models import AuditEvent
from parties import webhooks
from parties.choices import DeliveryStatus, WebhookEvent
from parties.models import WebhookDelivery, WebhookEndpoint
from parties.tasks import deliver_webhook
from parties.webhooks import (
    MAX_ATTEMPTS,
    webhook_delivery_attempt,
    webhook_endpoint_create,
    webhook_endpoint_update,
    webhook_signature,
    webhook_signature_verify,
    webhooks_emit,
    webhooks_emit_document_overdue,
    webhooks_emit_excursion,
    webhooks_emit_shipment_status_changed,
)
from shipments import services
from tests.conftest import pdf_file
from tests.factories import OrganizationFactory

PUBLIC_IP = "93.184.216.34"
EVERY_EVENT = list(webhooks.SUBSCRIBABLE_EVENTS)


class Network:
    """DNS answers by name, and a record of every connection a webhook opens."""

    def __init__(self):
        self.dns: dict[str, list[str]] = {}
        self.opened: list[tuple[str, int]] = []
        self.allowed: set[tuple[str, int]] = set()


@pytest.fixture(autouse=True)
def network(monkeypatch):
    net = Network()
    real_getaddrinfo = socket.getaddrinfo
    real_open = webhooks._open_connection

    def getaddrinfo(host, port, family=0, type=0, proto=0, flags=0):
        answer = net.dns.get(host)
        if callable(answer):
            answer = answer()
        if answer is not None:
            return [
                (socket.AF_INET6, socket.SOCK_STREAM, 6, "", (ip, port, 0, 0))
                if ":" in ip
                else (socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port))
                for ip in answer
            ]
        # Numeric hosts only: the suite never asks a real DNS server.
        return real_getaddrinfo(host, port, family, type, proto, flags | socket.AI_NUMERICHOST)

    def open_connection(address, port, timeout):
        net.opened.append((address, port))
        if (address, port) not in net.allowed:
            raise ConnectionRefusedError(f"tests connect nowhere but their own receiver, not {address}:{port}")
        return real_open(address, port, timeout)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(webhooks, "_open_connection", open_connection)
    return net


class Receiver:
    """A webhook receiver on 127.0.0.1 answering `status` (and `headers`), keeping every request it got."""

    def __init__(self):
        self.status = 200
        self.headers: dict[str, str] = {}
        self.body = b""
        self.requests: list[dict] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                receiver.requests.append(
                    {"path": self.path, "headers": dict(self.headers), "body": self.rfile.read(length)}
                )
                self.send_response(receiver.status)
                for name, value in receiver.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(receiver.body)))
                self.end_headers()
                self.wfile.write(receiver.body)

            def log_message(self, *args):
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://receiver.test:{self.port}/hooks?source=ior"


@pytest.fixture
def receiver(network, settings, monkeypatch):
    """The loopback receiver, reached as http://receiver.test:<port>/. For these tests only, http is allowed (as
    under DEBUG) and 127.0.0.1 passes the address check; everything else is checked as in production."""
    settings.DEBUG = True
    real_refusal = webhooks.address_refusal
    monkeypatch.setattr(webhooks, "address_refusal", lambda ip: None if str(ip) == "127.0.0.1" else real_refusal(ip))
    server = Receiver()
    network.dns["receiver.test"] = ["127.0.0.1"]
    network.allowed.add(("127.0.0.1", server.port))
    thread = threading.Thread(target=server.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.server.shutdown()
    server.server.server_close()


@pytest.fixture
def scheduled(monkeypatch):
    """The retries the delivery task schedules, as (delivery id, countdown), instead of queuing them."""
    calls = []
    monkeypatch.setattr(deliver_webhook, "apply_async", lambda args, countdown=None: calls.append((*args, countdown)))
    return calls


@pytest.fixture
def dispatched(monkeypatch):
    """Deliveries queued after commit, recorded instead of sent."""
    calls = []
    monkeypatch.setattr(deliver_webhook, "delay", lambda delivery_id: calls.append(delivery_id))
    return calls


def endpoint_of(organization, user, url="https://hooks.example.com/ior", events=None, **kwargs):
    return WebhookEndpoint.objects.create(
        organization=organization,
        url=url,
        events=EVERY_EVENT if events is None else events,
        secret="whsec_test-secret",
        created_by=user,
        **kwargs,
    )


def pending_delivery(endpoint, **kwargs):
    values = {
        "endpoint": endpoint,
        "event_id": uuid.uuid4(),
        "event": WebhookEvent.SHIPMENT_STATUS_CHANGED,
        "payload": {"shipment": {"id": 1, "reference": "SHP-1", "status": "in_transit"}},
        "next_attempt_at": timezone.now(),
    }
    values.update(kwargs)
    return WebhookDelivery.objects.create(**values)


# --- Signatures -----------------------------------------------------------------------------------------------


def test_signature_verifies_with_the_secret_and_fails_with_another_secret_a_tampered_body_or_an_old_timestamp():
    body = b'{"event":"ping"}'
    now = int(time.time())
    header = webhook_signature("whsec_right", now, body)
    assert header.startswith(f"t={now},v1=")
    assert webhook_signature_verify("whsec_right", body, header)
    assert webhook_signature_verify("whsec_right", body.decode(), header)
    assert not webhook_signature_verify("whsec_wrong", body, header)
    assert not webhook_signature_verify("whsec_right", b'{"event":"pong"}', header)
    old = webhook_signature("whsec_right", now - 301, body)
    assert not webhook_signature_verify("whsec_right", body, old)
    assert webhook_signature_verify("whsec_right", body, old, tolerance=600)
    # The timestamp is signed: moving it forward to pass the tolerance breaks the signature.
    assert not webhook_signature_verify("whsec_right", body, old.replace(f"t={now - 301}", f"t={now}"))


@pytest.mark.parametrize("header", ["", "garbage", "t=abc,v1=00", "v1=00", "t=123", None])
def test_malformed_signature_headers_never_verify(header):
    assert not webhook_signature_verify("whsec_right", b"{}", header)


# --- The target URL: at save time ------------------------------------------------------------------------------

REFUSED_URLS = {
    "https://127.0.0.1/": "loopback",
    "https://169.254.169.254/latest/meta-data": "link-local",
    "https://[::1]/": "loopback",
    "https://2130706433/": "127.0.0.1 is a loopback",
    "https://0x7f000001/": "127.0.0.1 is a loopback",
    "https://017700000001/": "127.0.0.1 is a loopback",
    "https://127.1/": "127.0.0.1 is a loopback",
    "https://10.0.0.5/": "private",
    "https://172.16.3.4/": "private",
    "https://192.168.1.1/": "private",
    "https://[::ffff:127.0.0.1]/": "embeds 127.0.0.1 is a loopback",
    "https://[::ffff:169.254.169.254]/": "embeds 169.254.169.254 is a link-local",
    "https://[64:ff9b::a9fe:a9fe]/": "embeds 169.254.169.254",
    "https://[2002:7f00:1::]/": "embeds 127.0.0.1",
    "https://[fc00::1]/": "private",
    "https://[fe80::1]/": "link-local",
    "https://0.0.0.0/": "unspecified",
    "https://[::]/": "unspecified",
    "https://100.64.0.1/": "shared",
    "https://224.0.0.1/": "multicast",
    "https://240.0.0.1/": "reserved",
    "http://example.com/hook": "must use https",
    "ftp://example.com/hook": "must use https",
    "https://user:secret@example.com/hook": "user name or password",
    "https://example.com@127.0.0.1/": "user name or password",
    "https://example.com:99999/": "port",
    "https://exa mple.com/": "spaces",
    "https:///hook": "no host",
    "https://internal-and-public.example.com/": "10.1.2.3 is a private",
    "https://nowhere.example.com/": "could not be resolved",
}


@pytest.mark.parametrize(("url", "why"), REFUSED_URLS.items())
def test_unsafe_urls_are_refused(network, url, why):
    network.dns["example.com"] = [PUBLIC_IP]
    network.dns["internal-and-public.example.com"] = [PUBLIC_IP, "10.1.2.3"]
    with pytest.raises(webhooks.UnsafeWebhookUrl) as refused:
        webhooks.webhook_url_check(url)
    assert why in str(refused.value)
    assert network.opened == []


@pytest.mark.parametrize(
    "url", ["https://127.0.0.1/", "https://169.254.169.254/latest/meta-data", "https://[::1]/", "https://2130706433/"]
)
def test_unsafe_urls_are_refused_when_saved(world, network, url):
    with pytest.raises(ValidationError) as refused:
        webhook_endpoint_create(
            actor=world.mona, organization=world.sponsor_a, url=url, events=["shipment.status_changed"]
        )
    assert refused.value.message_dict["url"][0].startswith("This URL cannot receive webhooks: the host")
    assert not WebhookEndpoint.objects.exists()


def test_shorthand_ipv4_forms_are_read_by_the_resolver_as_the_loopback_address():
    # Why the check resolves instead of parsing: each of these is 127.0.0.1 to the operating system.
    for host in ("2130706433", "0x7f000001", "017700000001", "127.1"):
        answers = socket.getaddrinfo(host, 443, type=socket.SOCK_STREAM, flags=socket.AI_NUMERICHOST)
        assert {a[4][0] for a in answers} == {"127.0.0.1"}


def test_a_public_https_url_on_any_port_is_saved_with_a_secret_shown_once(world, network):
    network.dns["hooks.sponsor-a.example"] = [PUBLIC_IP, "2606:2800:220:1:248:1893:25c8:1946"]
    endpoint, secret = webhook_endpoint_create(
        actor=world.mona,
        organization=world.sponsor_a,
        url="https://hooks.sponsor-a.example:8443/ior",
        events=["document.rejected", "shipment.status_changed", "document.rejected"],
        description="RTSM",
    )
    assert secret.startswith("whsec_") and len(secret) > 40
    assert endpoint.secret == secret
    assert endpoint.events == ["document.rejected", "shipment.status_changed"]
    event = AuditEvent.objects.get(action="webhook.create")
    assert secret not in json.dumps(event.changes)
    assert network.opened == []


def test_http_is_allowed_only_under_debug(world, network, settings):
    network.dns["example.com"] = [PUBLIC_IP]
    settings.DEBUG = True
    endpoint, _ = webhook_endpoint_create(
        actor=world.mona, organization=world.sponsor_a, url="http://example.com/hook", events=EVERY_EVENT
    )
    assert endpoint.url == "http://example.com/hook"


def test_only_managers_of_the_organization_subscribe_and_events_must_be_known(world, network):
    network.dns["example.com"] = [PUBLIC_IP]
    for actor in (world.alice, world.victor, world.charlie, world.carl):
        with pytest.raises(NotPermitted):
            webhook_endpoint_create(
                actor=actor, organization=world.sponsor_a, url="https://example.com/", events=EVERY_EVENT
            )
    for events in ([], ["shipment.deleted"], ["ping"], "shipment.status_changed"):
        with pytest.raises(ValidationError) as invalid:
            webhook_endpoint_create(
                actor=world.mona, organization=world.sponsor_a, url="https://example.com/", events=events
            )
        assert "events" in invalid.value.message_dict


def test_a_changed_url_is_checked_again(world, network):
    network.dns["example.com"] = [PUBLIC_IP]
    endpoint, _ = webhook_endpoint_create(
        actor=world.mona, organization=world.sponsor_a, url="https://example.com/", events=EVERY_EVENT
    )
    with pytest.raises(ValidationError) as refused:
        webhook_endpoint_update(actor=world.mona, endpoint=endpoint, url="https://169.254.169.254/latest/meta-data")
    assert "link-local" in refused.value.message_dict["url"][0]
    endpoint.refresh_from_db()
    assert endpoint.url == "https://example.com/"


# --- The target URL: at connect time ---------------------------------------------------------------------------


@pytest.mark.parametrize("rebound_to", ["127.0.0.1", "169.254.169.254", "10.0.0.5", "::1", "::ffff:127.0.0.1"])
def test_dns_rebinding_between_save_and_connect_is_refused_without_connecting(world, network, scheduled, rebound_to):
    network.dns["hooks.example.com"] = [PUBLIC_IP]
    endpoint, _ = webhook_endpoint_create(
        actor=world.mona, organization=world.sponsor_a, url="https://hooks.example.com/ior", events=EVERY_EVENT
    )
    delivery = pending_delivery(endpoint)
    network.dns["hooks.example.com"] = [rebound_to]

    assert webhook_delivery_attempt(delivery_id=delivery.pk) == "retrying"

    delivery.refresh_from_db()
    assert network.opened == []
    assert delivery.status == DeliveryStatus.PENDING
    assert delivery.attempts == 1
    assert delivery.response_status is None
    assert delivery.last_error.startswith("Refused before connecting: the host hooks.example.com resolves to")
    assert rebound_to.removeprefix("::ffff:") in delivery.last_error


def test_the_connection_goes_to_the_checked_address_not_to_a_later_dns_answer(world, network, scheduled):
    answers = iter([[PUBLIC_IP], [PUBLIC_IP]])
    network.dns["hooks.example.com"] = lambda: next(answers, ["127.0.0.1"])
    endpoint, _ = webhook_endpoint_create(
        actor=world.mona, organization=world.sponsor_a, url="https://hooks.example.com:8443/ior", events=EVERY_EVENT
    )
    delivery = pending_delivery(endpoint)

    webhook_delivery_attempt(delivery_id=delivery.pk)

    # Resolved once at save and once at connect, then connected to that very address: a third answer, rebound to
    # the loopback, is never asked for. (The test network refuses the public address, so the attempt fails.)
    assert network.opened == [(PUBLIC_IP, 8443)]
    delivery.refresh_from_db()
    assert delivery.last_error.startswith("ConnectionRefusedError")


def test_a_redirect_is_not_followed_and_counts_as_a_failed_attempt(world, receiver, network, scheduled):
    receiver.status = 302
    receiver.headers = {"Location": "http://169.254.169.254/latest/meta-data/"}
    delivery = pending_delivery(endpoint_of(world.sponsor_a, world.mona, url=receiver.url))

    assert webhook_delivery_attempt(delivery_id=delivery.pk) == "retrying"

    delivery.refresh_from_db()
    assert len(receiver.requests) == 1
    assert network.opened == [("127.0.0.1", receiver.port)]
    assert delivery.status == DeliveryStatus.PENDING
    assert delivery.response_status == 302
    assert "redirects are not followed" in delivery.last_error
    assert "169.254.169.254" in delivery.last_error


# --- Delivering ------------------------------------------------------------------------------------------------


def test_a_delivery_to_a_200_endpoint_succeeds_once_signed_and_pinned(world, receiver, scheduled):
    endpoint = endpoint_of(world.sponsor_a, world.mona, url=receiver.url)
    delivery = pending_delivery(endpoint)

    assert webhook_delivery_attempt(delivery_id=delivery.pk) == "succeeded"
    assert webhook_delivery_attempt(delivery_id=delivery.pk) == "skipped"

    assert len(receiver.requests) == 1
    request = receiver.requests[0]
    headers = request["headers"]
    assert request["path"] == "/hooks?source=ior"
    # Connected to the pinned 127.0.0.1, but the Host header names the endpoint's host.
    assert headers["Host"] == f"receiver.test:{receiver.port}"
    assert headers["X-IOR-Event"] == "shipment.status_changed"
    assert headers["X-IOR-Delivery"] == str(delivery.event_id)
    assert abs(int(headers["X-IOR-Timestamp"]) - time.time()) < 5
    assert headers["X-IOR-Signature"].startswith(f"t={headers['X-IOR-Timestamp']},v1=")
    assert webhook_signature_verify(endpoint.secret, request["body"], headers["X-IOR-Signature"])
    assert not webhook_signature_verify("whsec_other", request["body"], headers["X-IOR-Signature"])
    body = json.loads(request["body"])
    assert body["id"] == str(delivery.event_id)
    assert body["event"] == "shipment.status_changed"
    assert body["data"] == delivery.payload
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SUCCEEDED
    assert delivery.attempts == 1
    assert delivery.response_status == 200
    assert delivery.delivered_at is not None
    assert delivery.next_attempt_at is None
    assert scheduled == []


def test_a_500_schedules_a_retry_with_growing_jittered_backoff(world, receiver, scheduled):
    receiver.status, receiver.body = 500, b"boom"
    delivery = pending_delivery(endpoint_of(world.sponsor_a, world.mona, url=receiver.url))

    assert webhook_delivery_attempt(delivery_id=delivery.pk) == "retrying"
    delivery.refresh_from_db()
    first_retry = delivery.next_attempt_at - delivery.last_attempt_at
    assert delivery.status == DeliveryStatus.PENDING
    assert (delivery.attempts, delivery.response_status, delivery.last_error) == (1, 500, "HTTP 500: boom")
    assert timedelta(seconds=45) <= first_retry <= timedelta(seconds=76)
    assert scheduled[0][0] == delivery.pk and 45 <= scheduled[0][1] <= 75

    # Not due yet: a duplicate message does nothing.
    assert webhook_delivery_attempt(delivery_id=delivery.pk) == "skipped"
    with time_machine.travel(delivery.next_attempt_at + timedelta(seconds=1)):
        assert webhook_delivery_attempt(delivery_id=delivery.pk) == "retrying"
    delivery.refresh_from_db()
    assert delivery.attempts == 2
    assert 180 <= scheduled[1][1] <= 300
    assert len(receiver.requests) == 2


def test_retry_pauses_grow_to_about_a_day_over_eight_attempts():
    low = sum(webhooks.retry_delay(n) for n in range(1, MAX_ATTEMPTS)) / 3600
    assert MAX_ATTEMPTS == 8
    assert 16 <= low <= 28
    assert all(
        webhooks.retry_delay(n) < webhooks.retry_delay(n + 1) * 2 for n in range(1, MAX_ATTEMPTS - 1)
    )  # jitter never reverses the growth by more than its ±25 %


def test_exhausted_retries_fail_the_delivery(world, receiver, scheduled):
    receiver.status = 503
    delivery = pending_delivery(endpoint_of(world.sponsor_a, world.mona, url=receiver.url), attempts=MAX_ATTEMPTS - 1)

    assert webhook_delivery_attempt(delivery_id=delivery.pk) == "failed"

    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.attempts == MAX_ATTEMPTS
    assert delivery.response_status == 503
    assert delivery.next_attempt_at is None
    assert scheduled == []
    assert webhook_delivery_attempt(delivery_id=delivery.pk) == "skipped"


def test_a_paused_endpoint_fails_its_pending_deliveries_without_sending(world, receiver, scheduled):
    delivery = pending_delivery(endpoint_of(world.sponsor_a, world.mona, url=receiver.url, is_active=False))
    assert webhook_delivery_attempt(delivery_id=delivery.pk) == "failed"
    assert receiver.requests == []
    delivery.refresh_from_db()
    assert "paused" in delivery.last_error


def test_the_sweep_requeues_only_deliveries_overdue_past_the_grace(world, dispatched):
    endpoint = endpoint_of(world.sponsor_a, world.mona)
    lost = pending_delivery(endpoint, next_attempt_at=timezone.now() - timedelta(minutes=10))
    pending_delivery(endpoint, next_attempt_at=timezone.now())
    pending_delivery(endpoint, next_attempt_at=timezone.now() - timedelta(hours=1), status=DeliveryStatus.FAILED)
    assert webhooks.webhooks_requeue_due() == 1
    assert dispatched == [lost.pk]


# --- Who receives which event ----------------------------------------------------------------------------------


@pytest.fixture
def endpoints(world):
    """An endpoint of sponsor A, its CRO, the IOR, sponsor B and an organization with no part in the shipment."""
    outsider = OrganizationFactory(name="Elsewhere Labs", country="FR", roles=["sponsor"])
    return {
        "sponsor_a": endpoint_of(world.sponsor_a, world.mona),
        "cro": endpoint_of(world.cro, world.carl),
        "ior": endpoint_of(world.ior, world.imelda),
        "sponsor_b": endpoint_of(world.sponsor_b, world.charlie),
        "outsider": endpoint_of(outsider, world.charlie),
    }


def receivers_of(event_name):
    return {d.endpoint_id for d in WebhookDelivery.objects.filter(event=event_name)}


def test_a_status_change_of_sponsor_a_reaches_only_organizations_that_see_the_shipment(
    world, endpoints, dispatched, django_capture_on_commit_callbacks
):
    shipment = world.shipment()
    with django_capture_on_commit_callbacks(execute=True):
        services.shipment_cancel(actor=world.alice, shipment=shipment, reason="Trial arm closed")

    deliveries = WebhookDelivery.objects.filter(event=WebhookEvent.SHIPMENT_STATUS_CHANGED)
    assert {d.endpoint_id for d in deliveries} == {endpoints[k].pk for k in ("sponsor_a", "cro", "ior")}
    assert sorted(dispatched) == sorted(d.pk for d in deliveries)
    payload = deliveries[0].payload
    assert set(payload) == {"shipment", "from_status", "to_status", "transition", "occurred_at"}
    assert payload["shipment"] == {"id": shipment.pk, "reference": shipment.reference, "status": "cancelled"}
    assert (payload["from_status"], payload["to_status"], payload["transition"]) == ("draft", "cancelled", "cancel")
    # The reason is the sponsor's own note, not for every party's systems.
    assert "Trial arm closed" not in json.dumps(payload)
    assert len({d.event_id for d in deliveries}) == 1


def test_emitting_the_same_audit_event_again_sends_nothing_twice(world, endpoints, dispatched):
    shipment = services.shipment_cancel(actor=world.alice, shipment=world.shipment(), reason="closed")
    event = AuditEvent.objects.get(action="shipment.cancel", shipment=shipment)
    first = webhooks_emit_shipment_status_changed(audit_event=event)
    assert len(first) == 3
    assert webhooks_emit_shipment_status_changed(audit_event=event) == []
    assert WebhookDelivery.objects.count() == 3


def test_unsubscribed_and_paused_endpoints_receive_nothing(world, dispatched):
    only_documents = endpoint_of(world.sponsor_a, world.mona, events=["document.rejected"])
    paused = endpoint_of(world.sponsor_a, world.mona, is_active=False)
    listening = endpoint_of(world.sponsor_a, world.mona, events=["shipment.status_changed"])
    shipment = world.shipment()
    webhooks_emit(event="shipment.status_changed", payload={"x": 1}, shipment_id=shipment.pk)
    assert receivers_of("shipment.status_changed") == {listening.pk}
    assert only_documents.deliveries.count() == paused.deliveries.count() == 0
    with pytest.raises(ValueError, match="unknown webhook event"):
        webhooks_emit(event="ping", payload={}, shipment_id=shipment.pk)


def test_a_rolled_back_change_emits_nothing(world, endpoints, django_capture_on_commit_callbacks):
    shipment = world.shipment()
    with django_capture_on_commit_callbacks() as callbacks, pytest.raises(RuntimeError), transaction.atomic():
        webhooks_emit(event="shipment.status_changed", payload={"x": 1}, shipment_id=shipment.pk)
        raise RuntimeError("the change failed")
    assert callbacks == []
    assert not WebhookDelivery.objects.exists()

    with django_capture_on_commit_callbacks() as callbacks, transaction.atomic():
        created = webhooks_emit(event="shipment.status_changed", payload={"x": 1}, shipment_id=shipment.pk)
    assert len(created) == 3
    assert len(callbacks) == 3


def test_documents_requested_and_reviewed_reach_the_shipment_parties(world, requirements, endpoints, dispatched):
    shipment = services.shipment_submit(actor=world.alice, shipment=world.shipment())
    requested = WebhookDelivery.objects.filter(event=WebhookEvent.DOCUMENT_REQUESTED)
    assert {d.endpoint_id for d in requested} == {endpoints[k].pk for k in ("sponsor_a", "cro", "ior")}
    assert requested.count() == 3 * shipment.documents.count()
    permit = shipment.documents.get(document_type="import_permit")
    sent = next(d.payload for d in requested if d.payload["document"]["id"] == permit.pk)
    assert sent["document"] == {
        "id": permit.pk,
        "document_type": "import_permit",
        "side": permit.side,
        "status": "requested",
        "owed_by_role": "ior",
        "due_date": permit.due_date.isoformat(),
    }
    assert sent["shipment"]["status"] == "permit_collection"

    version = document_version_upload(actor=world.ivan, document=permit, uploaded_file=pdf_file())
    document_review(actor=world.rita, version=version, decision="rejected", comment="Wrong consignee")
    rejected = WebhookDelivery.objects.filter(event=WebhookEvent.DOCUMENT_REJECTED)
    assert {d.endpoint_id for d in rejected} == {endpoints[k].pk for k in ("sponsor_a", "cro", "ior")}
    assert rejected[0].payload["document"]["status"] == "rejected"
    assert "Wrong consignee" not in json.dumps(rejected[0].payload)

    second = document_version_upload(actor=world.ivan, document=permit, uploaded_file=pdf_file(body=b"v2"))
    document_review(actor=world.rita, version=DocumentVersion.objects.get(pk=second.pk), decision="approved")
    assert receivers_of(WebhookEvent.DOCUMENT_APPROVED) == {endpoints[k].pk for k in ("sponsor_a", "cro", "ior")}


def test_overdue_reminders_emit_once_per_stage_and_earlier_stages_emit_nothing(
    world, requirements, endpoints, dispatched
):
    shipment = services.shipment_submit(actor=world.alice, shipment=world.shipment())
    permit = shipment.documents.get(document_type="import_permit")
    overdue = DocumentReminder.objects.create(document=permit, stage="overdue", due_date=permit.due_date)
    early = DocumentReminder.objects.create(document=permit, stage="d3", due_date=permit.due_date)

    created = webhooks_emit_document_overdue(reminder_ids=[overdue.pk, early.pk])
    assert webhooks_emit_document_overdue(reminder_ids=[overdue.pk, early.pk]) == []

    deliveries = WebhookDelivery.objects.filter(event=WebhookEvent.DOCUMENT_OVERDUE)
    assert sorted(created) == sorted(d.pk for d in deliveries)
    assert {d.endpoint_id for d in deliveries} == {endpoints[k].pk for k in ("sponsor_a", "cro", "ior")}
    assert deliveries[0].payload["stage"] == "overdue"
    assert deliveries[0].payload["document"]["id"] == permit.pk


def test_an_excursion_reaches_the_shipment_parties_once(world, endpoints, dispatched):
    shipment = world.shipment()
    started = timezone.now()
    first = webhooks_emit_excursion(
        shipment=shipment, excursion_id=17, started_at=started, max_celsius=9.5, allowed_max_celsius=8
    )
    again = webhooks_emit_excursion(shipment=shipment, excursion_id=17, started_at=started, max_celsius=9.5)
    assert len(first) == 3 and again == []
    payload = WebhookDelivery.objects.filter(event=WebhookEvent.EXCURSION).first().payload
    assert payload["excursion"]["id"] == 17
    assert payload["excursion"]["max_celsius"] == 9.5


# --- The API ---------------------------------------------------------------------------------------------------


@pytest.fixture
def public_dns(network):
    network.dns["hooks.sponsor-a.example"] = [PUBLIC_IP]
    return network


def url(name, *args):
    return reverse(f"v1:{name}", args=args)


def create_by_api(client, **body):
    body = {"url": "https://hooks.sponsor-a.example/ior", "events": ["shipment.status_changed"], **body}
    return client.post(url("webhook-list"), body, format="json")


def test_a_manager_subscribes_and_sees_the_secret_only_in_that_answer(world, api_as, public_dns):
    client = api_as(world.mona)
    created = create_by_api(client, description="RTSM")
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["secret"].startswith("whsec_")
    assert body["events"] == ["shipment.status_changed"]
    assert body["is_active"] is True
    assert created["ETag"]

    listed = client.get(url("webhook-list")).json()["results"]
    assert [e["id"] for e in listed] == [body["id"]]
    assert "secret" not in listed[0]
    detail = client.get(url("webhook-detail", body["id"]))
    assert detail.status_code == 200
    assert "secret" not in detail.json()
    assert body["secret"] not in detail.content.decode()


def test_create_refuses_unsafe_urls_unknown_fields_and_events(world, api_as, public_dns):
    client = api_as(world.mona)
    refused = create_by_api(client, url="https://169.254.169.254/latest/meta-data")
    assert refused.status_code == 400
    assert "link-local" in refused.json()["errors"]["url"][0]
    refused = create_by_api(client, url="https://2130706433/")
    assert "loopback" in refused.json()["errors"]["url"][0]
    mass = create_by_api(client, secret="whsec_mine", organization=world.sponsor_b.pk, is_active=False)
    assert mass.status_code == 400
    assert mass.json()["errors"] == {
        "is_active": ["Unknown field."],
        "organization": ["Unknown field."],
        "secret": ["Unknown field."],
    }
    bad_event = create_by_api(client, events=["shipment.status_changed", "shipment.deleted"])
    assert bad_event.status_code == 400
    assert bad_event.json()["errors"] == {"events": ['item 2: "shipment.deleted" is not a valid choice.']}
    assert not WebhookEndpoint.objects.exists()


def test_a_non_manager_cannot_create_and_a_read_key_may_only_list(world, api_as, public_dns):
    refused = create_by_api(api_as(world.alice))
    assert refused.status_code == 403
    assert refused.json()["reasons"] == ["Only a manager of the organization can manage its webhooks."]
    endpoint = endpoint_of(world.sponsor_a, world.mona)
    reader = api_as(world.mona, scope="read")
    assert reader.get(url("webhook-list")).status_code == 200
    assert reader.get(url("webhook-deliveries", endpoint.pk)).status_code == 200
    assert create_by_api(reader).status_code == 403
    assert reader.post(url("webhook-rotate-secret", endpoint.pk)).status_code == 403
    assert api_as(world.victor).get(url("webhook-list")).json()["results"][0]["id"] == endpoint.pk
    assert api_as(world.alice).patch(url("webhook-detail", endpoint.pk), {"is_active": False}).status_code == 403


def test_update_pause_etag_and_delete(world, api_as, public_dns):
    client = api_as(world.mona)
    endpoint = endpoint_of(world.sponsor_a, world.mona)
    etag = client.get(url("webhook-detail", endpoint.pk))["ETag"]
    paused = client.patch(url("webhook-detail", endpoint.pk), {"is_active": False}, HTTP_IF_MATCH=etag)
    assert paused.status_code == 200, paused.json()
    assert paused.json()["is_active"] is False
    stale = client.patch(url("webhook-detail", endpoint.pk), {"description": "x"}, HTTP_IF_MATCH=etag)
    assert stale.status_code == 412
    unknown = client.patch(url("webhook-detail", endpoint.pk), {"secret": "whsec_x"})
    assert unknown.status_code == 400
    assert unknown.json()["errors"] == {"secret": ["Unknown field."]}
    internal = client.patch(url("webhook-detail", endpoint.pk), {"url": "https://[::1]/"})
    assert internal.status_code == 400
    assert "loopback" in internal.json()["errors"]["url"][0]
    assert client.delete(url("webhook-detail", endpoint.pk)).status_code == 204
    assert not WebhookEndpoint.objects.exists()
    assert AuditEvent.objects.filter(action="webhook.delete").count() == 1


def test_rotate_secret_returns_a_new_secret_once(world, api_as):
    client = api_as(world.mona)
    endpoint = endpoint_of(world.sponsor_a, world.mona)
    rotated = client.post(url("webhook-rotate-secret", endpoint.pk))
    assert rotated.status_code == 200
    secret = rotated.json()["secret"]
    assert secret.startswith("whsec_") and secret != "whsec_test-secret"
    endpoint.refresh_from_db()
    assert endpoint.secret == secret
    assert secret not in client.get(url("webhook-detail", endpoint.pk)).content.decode()


def test_test_sends_a_ping_and_the_log_shows_it(world, api_as, django_capture_on_commit_callbacks):
    client = api_as(world.mona)
    endpoint = endpoint_of(world.sponsor_a, world.mona, events=["document.rejected"])
    with django_capture_on_commit_callbacks() as callbacks:
        pinged = client.post(url("webhook-test", endpoint.pk))
    assert pinged.status_code == 202
    assert pinged.json()["event"] == "ping"
    assert pinged.json()["status"] == "pending"
    assert len(callbacks) == 1
    log = client.get(url("webhook-deliveries", endpoint.pk)).json()["results"]
    assert [(d["id"], d["event"], d["attempts"]) for d in log] == [(pinged.json()["id"], "ping", 0)]
    assert set(log[0]) == {
        "id",
        "endpoint",
        "event",
        "event_id",
        "status",
        "attempts",
        "response_status",
        "last_error",
        "created_at",
        "last_attempt_at",
        "next_attempt_at",
        "delivered_at",
    }
    filtered = client.get(url("webhook-deliveries", endpoint.pk), {"status": "failed"}).json()["results"]
    assert filtered == []
    assert client.get(url("webhook-deliveries", endpoint.pk), {"status": "lost"}).status_code == 400
    detail = client.get(url("webhook-delivery-detail", log[0]["id"])).json()
    assert detail["payload"]["message"] == "ping"
    endpoint.is_active = False
    endpoint.save()
    refused = client.post(url("webhook-test", endpoint.pk))
    assert refused.status_code == 409
    assert "paused" in refused.json()["reasons"][0]


def test_redeliver_resets_a_finished_delivery_and_refuses_a_pending_one(world, api_as):
    client = api_as(world.mona)
    endpoint = endpoint_of(world.sponsor_a, world.mona)
    delivery = pending_delivery(endpoint)
    busy = client.post(url("webhook-delivery-redeliver", delivery.pk))
    assert busy.status_code == 409
    assert busy.json()["reasons"] == ["this delivery is still being attempted"]
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        status=DeliveryStatus.FAILED, attempts=MAX_ATTEMPTS, next_attempt_at=None
    )
    again = client.post(url("webhook-delivery-redeliver", delivery.pk))
    assert again.status_code == 202
    assert (again.json()["status"], again.json()["attempts"]) == ("pending", 0)
    assert again.json()["event_id"] == str(delivery.event_id)
    assert api_as(world.alice).post(url("webhook-delivery-redeliver", delivery.pk)).status_code == 403


def test_charlie_gets_404_on_sponsor_a_endpoints_and_deliveries(world, api_as, public_dns):
    endpoint = endpoint_of(world.sponsor_a, world.mona, url="https://hooks.sponsor-a.example/secret-path")
    delivery = pending_delivery(endpoint, status=DeliveryStatus.FAILED)
    charlie = api_as(world.charlie)
    answers = [
        charlie.get(url("webhook-detail", endpoint.pk)),
        charlie.patch(url("webhook-detail", endpoint.pk), {"description": "mine"}),
        charlie.delete(url("webhook-detail", endpoint.pk)),
        charlie.post(url("webhook-rotate-secret", endpoint.pk)),
        charlie.post(url("webhook-test", endpoint.pk)),
        charlie.get(url("webhook-deliveries", endpoint.pk)),
        charlie.get(url("webhook-delivery-detail", delivery.pk)),
        charlie.post(url("webhook-delivery-redeliver", delivery.pk)),
    ]
    for answer in answers:
        assert answer.status_code == 404
        assert answer.json() == {"detail": "Not found."}
    assert charlie.get(url("webhook-list")).json()["results"] == []
    endpoint.refresh_from_db()
    assert (endpoint.description, endpoint.secret) == ("", "whsec_test-secret")
    with pytest.raises(NotPermitted):
        webhook_endpoint_update(actor=world.charlie, endpoint=endpoint, description="mine")


def test_redeliver_of_a_paused_endpoint_is_refused(world):
    endpoint = endpoint_of(world.sponsor_a, world.mona, is_active=False)
    delivery = pending_delivery(endpoint, status=DeliveryStatus.FAILED)
    with pytest.raises(TransitionRefused, match="paused"):
        webhooks.webhook_delivery_redeliver(actor=world.mona, delivery=delivery)


@pytest.mark.parametrize("page_size", [5, 50])
def test_list_queries_do_not_grow_with_the_page(world, api_as, django_assert_max_num_queries, page_size):
    client = api_as(world.mona)
    endpoints = [endpoint_of(world.sponsor_a, world.mona) for _ in range(page_size)]
    for _ in range(page_size):
        pending_delivery(endpoints[0])
    with django_assert_max_num_queries(8):
        listed = client.get(url("webhook-list"), {"page_size": page_size})
    assert len(listed.json()["results"]) == page_size
    with django_assert_max_num_queries(8):
        log = client.get(url("webhook-deliveries", endpoints[0].pk), {"page_size": page_size})
    assert len(log.json()["results"]) == page_size


def test_the_deadline_sweep_announces_overdue_documents_once(
    world, requirements, endpoints, dispatched, django_capture_on_commit_callbacks
):
    from documents.deadlines import chase_document_deadlines

    shipment = services.shipment_submit(actor=world.alice, shipment=world.shipment())
    permit = shipment.documents.get(document_type="import_permit")
    with django_capture_on_commit_callbacks(execute=True):
        chase_document_deadlines(today=permit.due_date + timedelta(days=1))
        chase_document_deadlines(today=permit.due_date + timedelta(days=1))
    deliveries = WebhookDelivery.objects.filter(event=WebhookEvent.DOCUMENT_OVERDUE)
    assert {d.endpoint_id for d in deliveries} == {endpoints[k].pk for k in ("sponsor_a", "cro", "ior")}
    assert {d.payload["document"]["id"] for d in deliveries} == {permit.pk}
    assert len(dispatched) == len(deliveries)


def test_the_sweep_emits_no_webhook_when_nobody_subscribes(world, requirements):
    from documents.deadlines import chase_document_deadlines

    shipment = services.shipment_submit(actor=world.alice, shipment=world.shipment())
    permit = shipment.documents.get(document_type="import_permit")
    chase_document_deadlines(today=permit.due_date + timedelta(days=1))
    assert not WebhookDelivery.objects.exists()
