"""Drafting, guards that explain themselves, the checklist snapshot, returns, bad input, after-commit dispatch."""

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from compliance.models import CountryProfile
from documents.choices import DocumentStatus
from documents.services import document_review, document_version_upload
from ior_platform.core.audit import verify_chains
from ior_platform.core.errors import ConflictError, NotPermitted, TransitionRefused
from ior_platform.core.models import AuditEvent
from shipments import services
from shipments.choices import ShipmentStatus as S
from shipments.models import Shipment, ShipmentItem
from shipments.tasks import notify_shipment_event
from tests.conftest import days, force_status, pdf_file
from tests.factories import DEMO_PASSWORD, temperature_log_for

VALID_DRAFT = {
    "origin_country": "US",
    "origin_address": "1 Depot Way, Memphis, TN",
    "destination_country": "BR",
    "destination_address": "Av. Paulista 1000, São Paulo",
    "temperature_class": "refrigerated",
    "declared_value": Decimal("5000"),
    "currency": "USD",
}
VALID_ITEM = {"product_name": "ABC-123 100 mg", "category": "imp", "hs_code": "300215", "quantity": Decimal("10")}


def create(world, actor=None, items=None, **overrides):
    data = {**VALID_DRAFT, "planned_ship_date": days(20), "ior": world.ior, "eor": world.eor, "consignee": world.site}
    data.update(overrides)
    return services.shipment_create(actor=actor or world.alice, trial=world.trial, items=items, **data)


def test_create_drafts_with_items_and_audits(world):
    shipment = create(world, items=[VALID_ITEM, {**VALID_ITEM, "product_name": "Placebo"}])
    assert shipment.status == S.DRAFT
    assert shipment.sponsor == world.sponsor_a
    assert shipment.route_kind == "international"
    assert [i.product_name for i in shipment.items.all()] == ["ABC-123 100 mg", "Placebo"]
    event = AuditEvent.objects.get(shipment=shipment)
    assert event.action == "shipment.created"
    assert event.changes["destination_country"] == [None, "BR"]


def test_cro_may_draft_for_the_sponsor_that_authorised_it(world):
    assert create(world, actor=world.carl).sponsor == world.sponsor_a


@pytest.mark.parametrize(
    ("overrides", "items", "field"),
    [
        ({"origin_country": "XX"}, None, "origin_country"),
        ({"destination_country": "br"}, None, "destination_country"),
        ({"currency": "EURO"}, None, "currency"),
        ({"declared_value": Decimal("-1")}, None, "declared_value"),
        ({"required_at_site_date": days(5)}, None, "required_at_site_date"),
        ({"status": "approved"}, None, "status"),
        ({}, [{**VALID_ITEM, "quantity": Decimal("-3")}], "items[0].quantity"),
        ({}, [{**VALID_ITEM, "quantity": Decimal("0")}], "items[0].quantity"),
        ({}, [VALID_ITEM, {**VALID_ITEM, "expiry_date": days(10)}], "items[1].expiry_date"),
        ({}, [{**VALID_ITEM, "hs_code": "30.02"}], "items[0].hs_code"),
        ({}, [{**VALID_ITEM, "un_number": "1845"}], "items[0].un_number"),
        ({}, [{**VALID_ITEM, "category": "food"}], "items[0].category"),
    ],
)
def test_bad_input_names_the_field_and_writes_nothing(world, overrides, items, field):
    with pytest.raises(ValidationError) as invalid:
        create(world, items=items, **overrides)
    assert field in invalid.value.message_dict
    assert not Shipment.objects.exists()
    assert not ShipmentItem.objects.exists()
    assert not AuditEvent.objects.exists()


def test_expiry_message_names_both_dates(world):
    with pytest.raises(ValidationError) as invalid:
        create(world, items=[{**VALID_ITEM, "expiry_date": days(10)}])
    assert invalid.value.message_dict["items[0].expiry_date"] == [
        f"Expires on {days(10):%Y-%m-%d}, before the planned ship date {days(20):%Y-%m-%d}."
    ]


def test_viewer_and_other_sponsor_cannot_draft(world):
    with pytest.raises(NotPermitted):
        create(world, actor=world.victor)
    world.shipment()  # the IOR now sees the trial through a shipment, but drafting stays the sponsor's
    with pytest.raises(NotPermitted):
        create(world, actor=world.rita)
    with pytest.raises(type(world.trial).DoesNotExist):
        create(world, actor=world.charlie)


def test_update_only_while_draft_and_records_old_and_new(world):
    shipment = create(world, items=[VALID_ITEM])
    updated = services.shipment_update(actor=world.alice, shipment=shipment, declared_value=Decimal("7000"))
    event = AuditEvent.objects.filter(shipment=shipment, action="shipment.updated").get()
    assert event.changes == {"declared_value": ["5000.00", "7000"]} or event.changes["declared_value"][1] == "7000"
    services.shipment_submit(actor=world.alice, shipment=updated)
    with pytest.raises(TransitionRefused, match="only a draft can be edited"):
        services.shipment_update(actor=world.alice, shipment=Shipment.objects.get(pk=shipment.pk), declared_value=1)


def test_moving_ship_date_past_an_item_expiry_is_refused(world):
    shipment = create(world, items=[{**VALID_ITEM, "expiry_date": days(25)}])
    with pytest.raises(ValidationError) as invalid:
        services.shipment_update(actor=world.alice, shipment=shipment, planned_ship_date=days(30))
    assert "planned_ship_date" in invalid.value.message_dict
    assert Shipment.objects.get(pk=shipment.pk).planned_ship_date == days(20)


def test_submit_explains_everything_that_is_missing(world):
    CountryProfile.objects.create(country="BR", local_ior_mandatory=True)
    shipment = world.shipment(ior=None, eor=None, consignee=None, items=0, declared_value=0)
    with pytest.raises(TransitionRefused) as refused:
        services.shipment_submit(actor=world.alice, shipment=shipment)
    assert refused.value.reasons == [
        "the shipment has no items",
        "no IOR assigned, and Brazil requires one",
        "no exporter of record assigned for an international shipment",
        "no consignee assigned to receive the goods",
        "the declared value is zero",
    ]


def test_submit_refuses_lots_expiring_before_ship_date_and_past_dates(world):
    shipment = world.shipment(planned_ship_date=days(-1))
    shipment.items.update(expiry_date=days(-2), lot_number="L-OLD")
    with pytest.raises(TransitionRefused) as refused:
        services.shipment_submit(actor=world.alice, shipment=shipment)
    assert f"the planned ship date {days(-1):%Y-%m-%d} is in the past" in refused.value.reasons
    assert f"ABC-123 100 mg vial lot L-OLD expires on {days(-2):%Y-%m-%d}, before the planned ship date" in (
        refused.value.reasons
    )


def test_submit_snapshots_the_checklist_from_both_sides(world, requirements):
    shipment = services.shipment_submit(actor=world.alice, shipment=world.shipment())
    docs = {(d.side, d.document_type): d for d in shipment.documents.all()}
    assert set(docs) == {("import", "import_permit"), ("export", "export_declaration")}
    permit = docs[("import", "import_permit")]
    assert permit.owed_by == world.ior
    assert permit.due_date == shipment.planned_ship_date - timedelta(days=20)
    assert permit.status == DocumentStatus.REQUESTED
    assert docs[("export", "export_declaration")].owed_by == world.eor
    # A later edit of the requirement does not rewrite the submitted checklist.
    requirements[0].lead_time_days = 60
    requirements[0].save()
    assert shipment.documents.get(document_type="import_permit").lead_time_days == 20


def test_route_within_the_eu_needs_no_customs_documents(world, requirements):
    shipment = world.shipment(origin_country="DE", destination_country="FR", ior=None, eor=None)
    submitted = services.shipment_submit(actor=world.alice, shipment=shipment)
    assert submitted.route_kind == "customs_union"
    assert not submitted.documents.exists()


def walk_dossier(world, shipment):
    """Upload and approve every checklist document, then submit the dossier."""
    for document in shipment.documents.all():
        uploader = world.ivan if document.owed_by == world.ior else world.eddie
        version = document_version_upload(actor=uploader, document=document, uploaded_file=pdf_file())
        document_review(actor=world.rita, version=version, decision="approved")
    return services.shipment_submit_dossier(actor=world.alice, shipment=Shipment.objects.get(pk=shipment.pk))


def test_dossier_guards_count_documents_not_uploaded_and_not_approved(world, requirements, brazil_permit):
    shipment = services.shipment_submit(actor=world.alice, shipment=world.shipment())
    with pytest.raises(TransitionRefused) as refused:
        services.shipment_submit_dossier(actor=world.alice, shipment=shipment)
    assert refused.value.reasons == [
        "2 required documents not uploaded yet: Export declaration (export), Import permit / licence (import)"
    ]
    permit = shipment.documents.get(document_type="import_permit")
    document_version_upload(actor=world.ivan, document=permit, uploaded_file=pdf_file())
    declaration = shipment.documents.get(document_type="export_declaration")
    version = document_version_upload(actor=world.eddie, document=declaration, uploaded_file=pdf_file())
    document_review(actor=world.rita, version=version, decision="rejected", comment="Unsigned")
    with pytest.raises(TransitionRefused, match=r"1 required document not uploaded yet.*\(1 rejected"):
        services.shipment_submit_dossier(actor=world.alice, shipment=shipment)
    document_version_upload(actor=world.eddie, document=declaration, uploaded_file=pdf_file(body=b"signed"))
    in_review = services.shipment_submit_dossier(actor=world.alice, shipment=shipment)
    with pytest.raises(TransitionRefused) as refused:
        services.shipment_approve(actor=world.rita, shipment=in_review, password=DEMO_PASSWORD)
    assert refused.value.reasons == [
        "2 required documents not approved: Export declaration (export), Import permit / licence (import)"
    ]


def test_full_journey_to_delivery_keeps_an_intact_audit_chain(world, requirements, brazil_permit):
    shipment = services.shipment_submit(actor=world.alice, shipment=world.shipment())
    shipment = walk_dossier(world, shipment)
    shipment = services.shipment_approve(actor=world.rita, shipment=shipment, password=DEMO_PASSWORD)
    shipment = services.shipment_clear_export(actor=world.eddie, shipment=shipment)
    shipment = services.shipment_dispatch(actor=world.eddie, shipment=shipment, airway_bill="020-12345675")
    shipment = services.shipment_arrive(actor=world.bruno, shipment=shipment)
    shipment = services.shipment_hold(actor=world.bruno, shipment=shipment, reason="Documentary check")
    shipment = services.shipment_release(actor=world.bruno, shipment=shipment)
    shipment = services.shipment_clear(actor=world.ivan, shipment=shipment, customs_entry_number="DI-1")
    shipment = services.shipment_out_for_delivery(actor=world.cora, shipment=shipment)
    temperature_log_for(shipment, uploaded_by=world.sam, spike_to=None)
    shipment = services.shipment_deliver(actor=world.sam, shipment=shipment)
    assert shipment.status == S.DELIVERED
    assert shipment.airway_bill == "020-12345675"
    assert shipment.dossier_submitted_by == world.alice
    checked, broken = verify_chains()
    assert broken == []
    assert checked == AuditEvent.objects.count() == 11 + 2 + 2 + 1  # transitions, uploads, reviews, signature


def test_approve_refused_when_the_ior_licence_has_expired(world):
    world.ior.licences.update(valid_until=days(3), valid_from=days(-400))
    shipment = force_status(world.shipment(), S.DOSSIER_REVIEW)
    number = world.ior.licences.get().number
    with pytest.raises(TransitionRefused) as refused:
        services.shipment_approve(actor=world.rita, shipment=shipment, password=DEMO_PASSWORD)
    assert refused.value.reasons == [f"the IOR's import licence {number} expired on {days(3):%Y-%m-%d}"]


def test_dispatch_and_clear_need_their_numbers(world):
    shipment = force_status(world.shipment(), S.EXPORT_CLEARED)
    with pytest.raises(TransitionRefused, match="no air waybill or tracking number recorded"):
        services.shipment_dispatch(actor=world.eddie, shipment=shipment)
    shipment = force_status(shipment, S.CUSTOMS_CLEARANCE)
    with pytest.raises(TransitionRefused, match="no customs entry number recorded"):
        services.shipment_clear(actor=world.ivan, shipment=shipment)
    with pytest.raises(ValidationError):
        services.shipment_clear(actor=world.ivan, shipment=shipment, customs_entry_number="X", duties_actual=-5)


def test_return_mirrors_route_and_roles(world):
    outbound = force_status(world.shipment(), S.DELIVERED)
    returned = services.shipment_create_return(actor=world.alice, shipment=outbound, planned_ship_date=days(30))
    assert returned.status == S.DRAFT
    assert returned.return_of == outbound
    assert (returned.origin_country, returned.destination_country) == ("BR", "US")
    assert (returned.ior, returned.eor) == (world.eor, world.ior)
    assert returned.reference == f"{outbound.reference}-R1"
    assert [i.lot_number for i in returned.items.all()] == [i.lot_number for i in outbound.items.all()]
    assert AuditEvent.objects.filter(shipment=outbound, action="shipment.return_requested").exists()


@pytest.mark.parametrize("state", [S.IN_TRANSIT, S.DRAFT, S.CANCELLED])
def test_return_of_an_undelivered_shipment_is_refused(world, state):
    outbound = force_status(world.shipment(), state)
    with pytest.raises(TransitionRefused, match="only a delivered shipment can be returned"):
        services.shipment_create_return(actor=world.alice, shipment=outbound, planned_ship_date=days(30))
    assert Shipment.objects.count() == 1


def test_stale_caller_gets_a_conflict(world):
    shipment = world.shipment()
    stale = Shipment.objects.get(pk=shipment.pk)
    services.shipment_cancel(actor=world.alice, shipment=shipment, reason="Duplicate booking")
    with pytest.raises(ConflictError, match="changed by someone else meanwhile: it is now cancelled"):
        services.shipment_submit(actor=world.alice, shipment=stale)
    assert AuditEvent.objects.filter(shipment=shipment).count() == 1


def test_notification_is_dispatched_after_commit_and_sent_once(world, django_capture_on_commit_callbacks):
    shipment = world.shipment()
    with django_capture_on_commit_callbacks() as callbacks:
        services.shipment_cancel(actor=world.alice, shipment=shipment, reason="Site closed")
    assert len(callbacks) == 1
    assert mail.outbox == []
    with django_capture_on_commit_callbacks(execute=True):
        callbacks[0]()
    recipients = sorted(address for message in mail.outbox for address in message.to)
    assert "alice@example.test" in recipients
    assert "rita@example.test" in recipients
    assert "charlie@example.test" not in recipients
    assert all(shipment.reference in message.subject for message in mail.outbox)
    sent = len(mail.outbox)
    event = AuditEvent.objects.get(shipment=shipment)
    assert notify_shipment_event(event.pk) == 0
    assert len(mail.outbox) == sent


def test_rolled_back_transition_dispatches_nothing(world, django_capture_on_commit_callbacks):
    shipment = world.shipment()
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        services.shipment_cancel(actor=world.alice, shipment=shipment, reason="Site closed")
        raise RuntimeError("the caller's transaction fails after the transition")
    assert callbacks == []
    assert mail.outbox == []
    assert Shipment.objects.get(pk=shipment.pk).status == S.DRAFT
    assert not AuditEvent.objects.exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_connections_fire_at_once_exactly_one_wins(world):
    shipment = world.shipment()
    barrier = threading.Barrier(2)
    outcomes: dict[str, object] = {}

    def attempt(name, call):
        stale = Shipment.objects.get(pk=shipment.pk)
        barrier.wait()
        try:
            outcomes[name] = call(stale).status
        except ConflictError as exc:
            outcomes[name] = exc
        finally:
            connection.close()

    threads = [
        threading.Thread(
            target=attempt, args=("submit", lambda s: services.shipment_submit(actor=world.alice, shipment=s))
        ),
        threading.Thread(
            target=attempt,
            args=("cancel", lambda s: services.shipment_cancel(actor=world.mona, shipment=s, reason="Site closed")),
        ),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    conflicts = [o for o in outcomes.values() if isinstance(o, ConflictError)]
    wins = [o for o in outcomes.values() if not isinstance(o, ConflictError)]
    assert len(conflicts) == 1 and len(wins) == 1, outcomes
    assert "changed by someone else" in str(conflicts[0])
    final = Shipment.objects.get(pk=shipment.pk).status
    assert final == wins[0]
    events = AuditEvent.objects.filter(shipment=shipment)
    assert events.count() == 1
    assert events.get().changes["status"][1] == final


def test_time_is_stored_in_utc(world):
    shipment = services.shipment_submit(actor=world.alice, shipment=world.shipment())
    assert shipment.submitted_at.utcoffset() == timedelta(0)
    assert abs(shipment.submitted_at - timezone.now()) < timedelta(minutes=1)


def test_approve_needs_an_import_licence_for_the_destination_country(world):
    CountryProfile.objects.create(country="BR", local_ior_mandatory=True)
    world.ior.licences.update(country="IN")
    shipment = force_status(world.shipment(), S.DOSSIER_REVIEW)
    with pytest.raises(TransitionRefused) as refused:
        services.shipment_approve(actor=world.rita, shipment=shipment, password=DEMO_PASSWORD)
    assert refused.value.reasons == [
        "the IOR Brasil IOR Ltda holds no import licence for Brazil valid on the planned ship date"
    ]
