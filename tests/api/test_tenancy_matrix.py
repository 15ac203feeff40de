"""The tenancy matrix, generated from the URL configuration: every API route and every method it answers.

- charlie (sponsor B) with a write key, on each of sponsor A's objects: 404, and nothing of sponsor A in the body;
- carl (a CRO authorised by sponsor A only), on each of sponsor B's objects: the same;
- a read-only key on its own organization's objects: every write is refused with 403;
- on list routes, an outsider's list holds nothing of the other sponsor.
A route added later is covered without touching this file; one whose objects it cannot build fails loudly."""

import re
import uuid
from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from django.core.files.base import ContentFile
from django.urls import get_resolver
from django.urls.resolvers import URLPattern, URLResolver
from rest_framework.test import APIClient

from compliance.models import Permit, PermitLine
from documents.models import Document, DocumentVersion, DossierArtifact
from ior_platform.core.audit import record_event
from parties.models import ApiCall, ApiKey, Notification, Organization, WebhookDelivery, WebhookEndpoint
from shipments.models import Excursion, Shipment, ShipmentItem, Site, TemperatureLog, TrackingEvent, Trial
from tests.factories import ShipmentFactory, ShipmentItemFactory, SiteFactory, temperature_log_for

PUBLIC_REFERENCE_ROUTES = {"countries/"}  # country profiles and requirements: the same for every caller
WRITE_METHODS = {"post", "put", "patch", "delete"}


@dataclass
class Route:
    path: str  # the regex, relative to /api/v1/
    kwargs: list[str]
    methods: list[str]
    model: type | None

    def url(self, values: dict) -> str:
        path = self.path.lstrip("^").rstrip("$")
        for name in self.kwargs:
            path = re.sub(rf"\(\?P<{name}>[^)]*\)", str(values[name]), path)
        return "/api/v1/" + path.replace("\\", "")

    def __str__(self) -> str:
        return self.path


def _walk(patterns, prefix=""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern), pattern


def api_routes() -> list[Route]:
    routes = []
    for full, pattern in _walk(get_resolver().url_patterns):
        if not full.startswith("api/v1/") or "format" in pattern.pattern.regex.groupindex:
            continue
        callback = pattern.callback
        view_class = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
        actions = getattr(callback, "actions", None)
        if actions:
            methods = sorted(actions)
        else:
            methods = sorted(m for m in ("get", "post", "put", "patch", "delete") if hasattr(view_class, m))
        queryset = getattr(view_class, "queryset", None)
        routes.append(
            Route(
                path=full.removeprefix("api/v1/"),
                kwargs=list(pattern.pattern.regex.groupindex),
                methods=methods,
                model=queryset.model if queryset is not None else None,
            )
        )
    return routes


ROUTES = api_routes()
DETAIL_ROUTES = [
    r for r in ROUTES if r.kwargs and not any(r.path.lstrip("^").startswith(p) for p in PUBLIC_REFERENCE_ROUTES)
]
LIST_ROUTES = [r for r in ROUTES if not r.kwargs]


def _pdf() -> ContentFile:
    return ContentFile(b"%PDF-1.4\n% tenancy matrix\n%%EOF\n", name="permit.pdf")


@dataclass
class TenantObjects:
    """One of everything a sponsor's side of the platform holds, and the strings that would betray it."""

    by_model: dict
    by_kwarg: dict
    sentinels: list[str]


def build_tenant(*, trial, editor, manager, ior, eor, site_org, label) -> TenantObjects:
    shipment = ShipmentFactory(
        trial=trial, ior=ior, eor=eor, consignee=site_org, created_by=editor, reference=f"{label}-SECRET-1"
    )
    item = ShipmentItemFactory(shipment=shipment, product_name=f"{label} secret compound")
    site = SiteFactory(trial=trial, organization=site_org, name=f"{label} secret pharmacy")
    document = Document.objects.create(
        shipment=shipment,
        side="import",
        document_type="import_permit",
        owed_by_role="ior",
        owed_by=ior,
        due_date=date.today() + timedelta(days=10),
        title=f"{label} secret permit",
    )
    version = DocumentVersion(
        document=document,
        number=1,
        original_name=f"{label}-secret.pdf",
        size=30,
        content_type="application/pdf",
        sha256="0" * 64,
        uploaded_by=editor,
    )
    version.file.save(f"{label}-secret.pdf", _pdf(), save=False)
    version.save()
    dossier = DossierArtifact.objects.create(shipment=shipment, requested_by=editor)
    notification = Notification.objects.create(
        recipient=editor, shipment=shipment, kind="shipment.submit", subject=f"{label} secret subject", body="x"
    )
    permit = Permit.objects.create(
        permit_type="import_permit",
        holder=ior or manager.organization,
        trial=trial,
        country="BR",
        authority="ANVISA",
        number=f"{label}-SECRET-PERMIT",
        valid_from=date.today() - timedelta(days=30),
        valid_until=date.today() + timedelta(days=300),
    )
    PermitLine.objects.create(permit=permit, product_name=f"{label} secret compound", authorised_quantity=100)
    key = ApiKey.objects.create(
        organization=manager.organization,
        owner=manager,
        name=f"{label} secret key",
        prefix=f"ior_{label.lower()[:4]}mtx1",
        secret_hash="0" * 64,
        created_by=manager,
    )
    call = ApiCall.objects.create(key=key, owner=manager, method="GET", path="/api/v1/", status_code=200)
    endpoint = WebhookEndpoint.objects.create(
        organization=manager.organization,
        url=f"https://{label.lower()}-secret.example.com/hook",
        events=["shipment.status_changed"],
        secret="whsec_secret",
        created_by=manager,
    )
    delivery = WebhookDelivery.objects.create(
        endpoint=endpoint, event_id=uuid.uuid4(), event="shipment.status_changed", payload={"reference": "x"}
    )
    event = record_event(actor=editor, action="shipment.note", target=shipment, shipment=shipment)
    log = temperature_log_for(shipment, uploaded_by=editor, serial=f"{label}-SECRET-LOGGER")
    tracking = TrackingEvent.objects.create(
        shipment=shipment,
        occurred_at=shipment.created_at,
        code="arrived",
        location=f"{label} secret airport",
        external_id=f"{label}-SECRET-SCAN",
        recorded_by=editor,
    )
    by_model = {
        Shipment: shipment,
        ShipmentItem: item,
        Trial: trial,
        Site: site,
        Document: document,
        DocumentVersion: version,
        DossierArtifact: dossier,
        Notification: notification,
        Permit: permit,
        ApiKey: key,
        ApiCall: call,
        WebhookEndpoint: endpoint,
        WebhookDelivery: delivery,
        Organization: manager.organization,
        TemperatureLog: log,
        Excursion: log.excursions.get(),
        TrackingEvent: tracking,
        type(event): event,
    }
    by_kwarg = {
        "shipment_pk": shipment.pk,
        "shipment_id": shipment.pk,
        "item_pk": item.pk,
        "item_id": item.pk,
        "document_pk": document.pk,
        "version_pk": version.pk,
        "dossier_pk": dossier.pk,
        "endpoint_pk": endpoint.pk,
        "webhook_pk": endpoint.pk,
        "key_pk": key.pk,
    }
    sentinels = [
        shipment.reference,
        f"{label} secret",
        f"{label}-SECRET",
        f"{label.lower()}-secret",
        trial.protocol_number,
    ]
    return TenantObjects(by_model=by_model, by_kwarg=by_kwarg, sentinels=sentinels)


def url_for(route: Route, tenant: TenantObjects) -> str:
    values = {}
    for name in route.kwargs:
        if name in ("pk", "id"):
            assert route.model in tenant.by_model, f"{route}: the matrix cannot build a {route.model}; add it"
            values[name] = tenant.by_model[route.model].pk
        else:
            assert name in tenant.by_kwarg, f"{route}: the matrix does not know the URL argument {name!r}; add it"
            values[name] = tenant.by_kwarg[name]
    return route.url(values)


@pytest.fixture
def tenants(world):
    site_b = Organization.objects.create(name="Klinikum Secret B", country="DE")
    a = build_tenant(
        trial=world.trial,
        editor=world.alice,
        manager=world.mona,
        ior=world.ior,
        eor=world.eor,
        site_org=world.site,
        label="Alpha",
    )
    b = build_tenant(
        trial=world.trial_b,
        editor=world.charlie,
        manager=world.charlie,
        ior=None,
        eor=None,
        site_org=site_b,
        label="Bravo",
    )
    return a, b


def _call(client, method: str, url: str):
    if method in ("get", "delete"):
        return getattr(client, method)(url)
    return getattr(client, method)(url, {}, format="json")


def _session_only(response) -> bool:
    """Managing API keys is refused to API keys themselves, before any object is looked up."""
    return response.status_code == 403 and response.json()["detail"].startswith("API keys cannot")


def _signed_in(user):
    client = APIClient()
    client.force_login(user)
    return client


def _assert_nothing_leaks(response, tenant: TenantObjects, where: str):
    body = response.content.decode(errors="replace")
    for sentinel in tenant.sentinels:
        assert sentinel not in body, f"{where}: the answer shows {sentinel!r}"


@pytest.mark.parametrize("route", DETAIL_ROUTES, ids=str)
def test_an_outsider_gets_404_on_every_method_of_every_detail_route(route, world, tenants, api_as):
    a, b = tenants
    for person, victim in ((world.charlie, a), (world.carl, b)):
        outsider = api_as(person)
        url = url_for(route, victim)
        for method in route.methods:
            response = _call(outsider, method, url)
            if _session_only(response):
                response = _call(_signed_in(person), method, url)
            assert response.status_code == 404, (
                f"{method.upper()} {url}: {response.status_code} {response.content[:300]}"
            )
            assert response.json() == {"detail": "Not found."}
            _assert_nothing_leaks(response, victim, f"{method.upper()} {url}")


@pytest.mark.parametrize("route", LIST_ROUTES, ids=str)
def test_an_outsiders_list_and_create_show_nothing_of_the_other_sponsor(route, world, tenants, api_as):
    a, _ = tenants
    charlie = api_as(world.charlie)
    for method in route.methods:
        response = _call(charlie, method, route.url({}))
        assert response.status_code < 500
        _assert_nothing_leaks(response, a, f"{method.upper()} {route}")


@pytest.mark.parametrize("route", [r for r in ROUTES if WRITE_METHODS & set(r.methods)], ids=str)
def test_a_read_only_key_cannot_write_anywhere(route, world, tenants, api_as):
    a, _ = tenants
    reader = api_as(world.mona, scope="read")
    url = url_for(route, a) if route.kwargs else route.url({})
    for method in sorted(WRITE_METHODS & set(route.methods)):
        if route.path.lstrip("^").startswith("preflight"):
            continue  # a computation, documented as allowed for read keys
        response = _call(reader, method, url)
        assert response.status_code == 403, f"{method.upper()} {url}: {response.status_code}"
        assert "read-only" in response.json()["detail"] or _session_only(response)


def test_the_matrix_covers_the_api():
    assert len(DETAIL_ROUTES) >= 20
    assert any(r.path.lstrip("^").startswith("shipments/") for r in DETAIL_ROUTES)
