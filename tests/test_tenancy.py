"""One rule decides who sees what. charlie of sponsor B must get nothing of sponsor A anywhere."""

import re
import uuid
from decimal import Decimal
from io import StringIO

import pytest
from django.apps import apps
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from compliance.models import ExpiryReminder, PermitDrawdown
from documents.deadlines import chase_document_deadlines
from documents.models import DossierArtifact
from documents.services import document_version_upload
from documents.signatures import signature_create
from ior_platform.core.models import AuditEvent
from ior_platform.core.tenancy import restrict
from parties.models import Address, ApiCall, ApiKey, Contact, Organization, WebhookDelivery, WebhookEndpoint
from parties.screening import organization_screen
from shipments import selectors, services
from shipments.models import Shipment, TrackingEvent
from tests.conftest import pdf_file
from tests.factories import (
    ShipmentFactory,
    SiteFactory,
    UserFactory,
    cold_chain_disposition_for,
    temperature_log_for,
)

TENANT_MODELS = [m for m in apps.get_models() if hasattr(m, "tenancy")]


@pytest.fixture
def a_shipment(world, requirements, brazil_permit):
    """Sponsor A's shipment with a site, a checklist, an uploaded version and audit events."""
    SiteFactory(trial=world.trial, organization=world.site)
    Address.objects.create(organization=world.sponsor_a, label="HQ", line1="1 Main St", city="Boston", country="US")
    Contact.objects.create(organization=world.sponsor_a, name="Ann Logistics")
    shipment = services.shipment_submit(actor=world.alice, shipment=world.shipment())
    document_version_upload(actor=world.ivan, document=shipment.documents.first(), uploaded_file=pdf_file())
    PermitDrawdown.objects.create(
        line=brazil_permit.lines.get(), shipment=shipment, item=shipment.items.get(), quantity=Decimal(1)
    )
    call_command("load_screening_list", "tests/data/screening/csl_sample.csv", stdout=StringIO())
    organization_screen(organization=world.sponsor_a)
    signature_create(actor=world.rita, shipment=shipment, meaning="approved")
    DossierArtifact.objects.create(shipment=shipment, requested_by=world.alice)
    chase_document_deadlines(today=shipment.documents.first().due_date)
    ExpiryReminder.objects.create(
        key="test", shipment=shipment, permit=brazil_permit, expires_on=brazil_permit.valid_until
    )
    key = ApiKey.objects.create(
        organization=world.sponsor_a,
        owner=world.alice,
        name="RTSM",
        prefix="ior_tenancy1",
        secret_hash="0" * 64,
        created_by=world.mona,
    )
    ApiCall.objects.create(key=key, owner=world.alice, method="GET", path="/api/v1/shipments/", status_code=200)
    endpoint = WebhookEndpoint.objects.create(
        organization=world.sponsor_a,
        url="https://hooks.sponsor-a.example/ior",
        events=["shipment.status_changed"],
        secret="whsec_a",
        created_by=world.mona,
    )
    WebhookDelivery.objects.create(
        endpoint=endpoint, event_id=uuid.uuid4(), event="shipment.status_changed", payload={"reference": "x"}
    )
    temperature_log_for(shipment, uploaded_by=world.sam)
    TrackingEvent.objects.create(
        shipment=shipment, occurred_at=timezone.now(), code="picked_up", location="JFK", recorded_by=world.cora
    )
    quality = UserFactory(username="quinn", organization=world.sponsor_a, roles=["qa"])
    cold_chain_disposition_for(shipment, decided_by=quality)
    return shipment


def test_every_tenant_model_is_covered():
    names = {m.__name__ for m in TENANT_MODELS}
    assert {
        "Organization",
        "Trial",
        "Site",
        "Shipment",
        "ShipmentItem",
        "Document",
        "DocumentVersion",
        "AuditEvent",
    } <= (names)


@pytest.mark.parametrize("model", TENANT_MODELS, ids=lambda m: m.__name__)
def test_charlie_sees_nothing_of_sponsor_a(world, a_shipment, model):
    visible = restrict(model.objects.all(), world.charlie)
    sponsor_a_rows = {
        "Organization": lambda: Organization.objects.exclude(pk=world.sponsor_b.pk),
        "Trial": lambda: model.objects.filter(sponsor=world.sponsor_a),
        "AuditEvent": lambda: AuditEvent.objects.filter(shipment__isnull=False),
    }.get(model.__name__, model.objects.all)()
    assert sponsor_a_rows.exists()
    assert not visible.filter(pk__in=sponsor_a_rows.values("pk")).exists()


def test_parties_see_their_shipments_and_no_others(world, a_shipment):
    other_ior = UserFactory(
        username="otto", organization=world.broker.__class__.objects.create(name="Other IOR", country="IN")
    )
    for persona in ("alice", "mona", "victor", "carl", "rita", "eddie", "bruno", "cora", "sam"):
        assert list(Shipment.objects.for_user(getattr(world, persona))) == [a_shipment], persona
    assert not Shipment.objects.for_user(other_ior).exists()
    assert not Shipment.objects.for_user(world.charlie).exists()


def test_cro_sees_nothing_once_its_authorisation_is_revoked_or_lapsed(world, a_shipment):
    world.cro.sponsor_authorisations.update(valid_until=timezone.localdate() - timezone.timedelta(days=1))
    assert not Shipment.objects.for_user(world.carl).exists()
    world.cro.sponsor_authorisations.update(valid_until=None, revoked_at=timezone.now())
    assert not Shipment.objects.for_user(world.carl).exists()


def test_staff_see_everything_and_a_user_without_organization_nothing(world, a_shipment):
    staff = UserFactory(username="staff", organization=None, is_staff=True)
    loner = UserFactory(username="loner", organization=None)
    ShipmentFactory(trial=world.trial_b)
    assert Shipment.objects.for_user(staff).count() == 2
    assert not Shipment.objects.for_user(loner).exists()


def test_charlie_sees_his_own_sponsor_shipments(world, a_shipment):
    own = ShipmentFactory(trial=world.trial_b)
    assert list(selectors.shipment_list(user=world.charlie)) == [own]


def test_selectors_refuse_charlie(world, a_shipment):
    with pytest.raises(Shipment.DoesNotExist):
        selectors.shipment_get(user=world.charlie, reference=a_shipment.reference)
    assert not selectors.shipment_audit_trail(user=world.charlie, shipment=a_shipment).exists()
    assert a_shipment not in selectors.shipment_list(user=world.charlie)


def test_services_answer_charlie_as_if_the_shipment_did_not_exist(world, a_shipment):
    with pytest.raises(Shipment.DoesNotExist):
        services.shipment_cancel(actor=world.charlie, shipment=a_shipment, reason="mine now")
    with pytest.raises(Shipment.DoesNotExist):
        services.shipment_create_return(
            actor=world.charlie, shipment=a_shipment, planned_ship_date=timezone.localdate()
        )


def test_pages_answer_charlie_404(client, world, a_shipment):
    client.force_login(world.charlie)
    detail = client.get(a_shipment.get_absolute_url())
    assert detail.status_code == 404
    assert a_shipment.reference not in detail.content.decode()
    action = client.post(reverse("shipments:transition", args=[a_shipment.reference, "cancel"]), {"reason": "x"})
    assert action.status_code == 404
    assert Shipment.objects.get(pk=a_shipment.pk).status == a_shipment.status
    home = client.get(reverse("home"))
    assert home.status_code == 200
    assert a_shipment.reference not in home.content.decode()
    assert world.trial.protocol_number not in home.content.decode()


def test_missing_and_forbidden_look_the_same(client, world, a_shipment):
    client.force_login(world.charlie)
    forbidden = client.get(a_shipment.get_absolute_url())
    missing = client.get(reverse("shipments:detail", args=["SHP-DOES-NOT-EXIST"]))
    assert forbidden.status_code == missing.status_code == 404
    token = re.compile(rb'(name="csrfmiddlewaretoken" value="|"X-CSRFToken": ")[^"]+"')
    assert token.sub(b"", forbidden.content) == token.sub(b"", missing.content)


def test_admin_links_give_charlie_nothing(client, world, a_shipment):
    client.force_login(world.charlie)
    for url in (
        reverse("admin:shipments_shipment_change", args=[a_shipment.pk]),
        reverse("admin:shipments_shipment_changelist"),
        reverse("admin:core_auditevent_changelist"),
    ):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("admin:login"))
        assert a_shipment.reference not in response.content.decode()


@pytest.mark.parametrize("persona", ["carl", "rita", "eddie"])
def test_partners_and_cros_never_see_an_organizations_keys_or_webhooks(world, a_shipment, persona):
    user = getattr(world, persona)
    for model in (ApiKey, ApiCall, WebhookEndpoint, WebhookDelivery):
        assert not model.objects.for_user(user).exists(), model.__name__
    assert ApiKey.objects.for_user(world.victor).count() == 1
