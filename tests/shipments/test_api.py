"""The shipments API: list, draft, change, items, every transition, returns, audit trail, bulk; trials and sites.
Tenancy (charlie gets 404), read-only keys, mass assignment, ETag/If-Match, Idempotency-Key, pagination."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from documents.models import ElectronicSignature, SigningAttempt
from ior_platform.core.models import AuditEvent
from shipments.api.serializers import TRANSITION_INPUT_SERIALIZERS, ShipmentUpdateInputSerializer
from shipments.choices import ShipmentStatus as S
from shipments.models import Shipment, ShipmentItem, Site
from shipments.services import DRAFT_FIELDS, ITEM_FIELDS, TRANSITION_SERVICES
from tests.conftest import days, force_status
from tests.factories import DEMO_PASSWORD, ShipmentFactory, temperature_log_for

ITEM = {"product_name": "ABC-123 100 mg vial", "category": "imp", "hs_code": "300215", "quantity": "10"}
NOT_FOUND = {"detail": "Not found."}


def draft_body(world, **overrides) -> dict:
    body = {
        "trial": world.trial.pk,
        "origin_country": "US",
        "origin_address": "1 Depot Way, Memphis, TN",
        "destination_country": "BR",
        "destination_address": "Av. Paulista 1000, São Paulo",
        "temperature_class": "refrigerated",
        "planned_ship_date": days(20).isoformat(),
        "declared_value": "5000.00",
        "currency": "USD",
        "ior": world.ior.pk,
        "eor": world.eor.pk,
        "consignee": world.site.pk,
        "items": [ITEM],
    }
    body.update(overrides)
    return body


def url(name: str, shipment=None, **kwargs) -> str:
    if shipment is not None:
        kwargs["pk"] = shipment.pk
    return reverse(f"v1:shipments-{name}", kwargs=kwargs)


def many(world, count: int, **fields) -> list[Shipment]:
    """Drafts of sponsor A written in one statement, for pagination and query-count tests."""
    defaults = {
        "trial": world.trial,
        "sponsor": world.sponsor_a,
        "ior": world.ior,
        "eor": world.eor,
        "consignee": world.site,
        "origin_country": "US",
        "origin_address": "Memphis",
        "destination_country": "BR",
        "destination_address": "São Paulo",
        "route_kind": "international",
        "temperature_class": "refrigerated",
        "planned_ship_date": days(14),
    }
    defaults.update(fields)
    return Shipment.objects.bulk_create([Shipment(reference=f"BULK-{n:05d}", **defaults) for n in range(count)])


# --- list --------------------------------------------------------------------------------------------------------


def test_list_shows_compact_rows_of_own_shipments_only(world, api_as):
    mine = world.shipment()
    theirs = ShipmentFactory(trial=world.trial_b)
    rows = api_as(world.alice).get(url("list")).json()["results"]
    assert [r["id"] for r in rows] == [mine.pk]
    row = rows[0]
    assert row["trial"] == {"id": world.trial.pk, "protocol_number": "SPA-301"}
    assert row["sponsor"] == {"id": world.sponsor_a.pk, "name": "Sponsor A Pharma"}
    assert row["ior"] == {"id": world.ior.pk, "name": "Brasil IOR Ltda"}
    assert (row["status"], row["status_label"]) == ("draft", "Draft")
    assert (row["origin_country"], row["destination_country"], row["route_kind"]) == ("US", "BR", "international")
    assert row["updated_at"].endswith("Z")
    charlie_rows = api_as(world.charlie).get(url("list")).json()["results"]
    assert [r["id"] for r in charlie_rows] == [theirs.pk]


def test_list_filters(world, api_as):
    draft = world.shipment(reference="SHP-ALPHA", planned_ship_date=days(10))
    approved = force_status(world.shipment(reference="SHP-BETA", planned_ship_date=days(30)), S.APPROVED)
    domestic = world.shipment(
        reference="SHP-GAMMA", destination_country="US", ior=None, broker=None, planned_ship_date=days(60)
    )
    cancelled = force_status(world.shipment(reference="SHP-DELTA"), S.CANCELLED)
    client = api_as(world.alice)

    def ids(**params):
        response = client.get(url("list"), params)
        assert response.status_code == 200, response.json()
        return {r["id"] for r in response.json()["results"]}

    assert ids(status=["draft", "approved"]) == {draft.pk, approved.pk, domestic.pk}
    assert ids(status="cancelled") == {cancelled.pk}
    assert ids(destination="us") == {domestic.pk}
    assert ids(origin="US", destination="BR") == {draft.pk, approved.pk, cancelled.pk}
    assert ids(party=world.broker.pk) == {draft.pk, approved.pk, cancelled.pk}
    assert ids(party=world.sponsor_a.pk) == {draft.pk, approved.pk, domestic.pk, cancelled.pk}
    assert ids(trial=world.trial.pk) == {draft.pk, approved.pk, domestic.pk, cancelled.pk}
    assert ids(trial=world.trial_b.pk) == set()
    assert ids(ship_date_after=days(20).isoformat(), ship_date_before=days(59).isoformat()) == {approved.pk}
    assert ids(search="gam") == {domestic.pk}
    assert client.get(url("list"), {"status": "shipped"}).status_code == 400
    absurd = client.get(url("list"), {"party": "99999999999999999999"})
    assert (absurd.status_code, list(absurd.json()["errors"])) == (400, ["party"])


def test_updated_since_returns_what_changed_at_or_after_the_time(world, api_as):
    old, recent = world.shipment(), world.shipment()
    an_hour_ago = timezone.now() - timedelta(hours=1)
    Shipment.objects.filter(pk=old.pk).update(updated_at=an_hour_ago - timedelta(minutes=5))
    client = api_as(world.alice)
    rows = client.get(url("list"), {"updated_since": an_hour_ago.isoformat()}).json()["results"]
    assert [r["id"] for r in rows] == [recent.pk]
    invalid = client.get(url("list"), {"updated_since": "yesterday"})
    assert invalid.status_code == 400
    assert "updated_since" in invalid.json()["errors"]


def test_ordering_by_ship_date_both_ways(world, api_as):
    late, early = world.shipment(planned_ship_date=days(40)), world.shipment(planned_ship_date=days(5))
    client = api_as(world.alice)
    ascending = client.get(url("list"), {"ordering": "planned_ship_date"}).json()["results"]
    assert [r["id"] for r in ascending] == [early.pk, late.pk]
    descending = client.get(url("list"), {"ordering": "-planned_ship_date"}).json()["results"]
    assert [r["id"] for r in descending] == [late.pk, early.pk]


def test_page_size_is_capped_at_200(world, api_as):
    many(world, 205)
    body = api_as(world.alice).get(url("list"), {"page_size": 1000}).json()
    assert len(body["results"]) == 200
    assert body["next"]


def test_cursor_next_walks_every_row_once_in_any_ordering(world, api_as):
    created = many(world, 7)
    Shipment.objects.filter(pk__in=[s.pk for s in created[:4]]).update(planned_ship_date=days(3))
    client = api_as(world.alice)
    for ordering in ("-id", "planned_ship_date", "-updated_at"):
        seen, link = [], url("list") + f"?page_size=3&ordering={ordering}"
        while link:
            body = client.get(link).json()
            seen += [r["id"] for r in body["results"]]
            link = body["next"]
        assert sorted(seen) == sorted(s.pk for s in created), ordering


def test_list_query_count_does_not_grow_with_page_size(world, api_as, django_assert_max_num_queries):
    many(world, 60)
    client = api_as(world.alice)
    client.get(url("list"), {"page_size": 1})  # the key's first use writes last_used_at once
    for size in (5, 50):
        with django_assert_max_num_queries(4):
            response = client.get(url("list"), {"page_size": size})
        assert len(response.json()["results"]) == size


# --- retrieve ----------------------------------------------------------------------------------------------------


def test_retrieve_has_parties_items_checklist_transitions_and_etag(world, api_as, requirements):
    shipment = force_status(world.shipment(), S.DRAFT)
    client = api_as(world.alice)
    client.post(url("submit", shipment))
    response = client.get(url("detail", shipment))
    assert response.status_code == 200
    assert response["ETag"].startswith('"')
    body = response.json()
    assert body["status"] == "permit_collection"
    assert body["consignee"] == {"id": world.site.pk, "name": "Hospital São Paulo"}
    assert [i["product_name"] for i in body["items"]] == ["ABC-123 100 mg vial"]
    permit = next(d for d in body["checklist"] if d["document_type"] == "import_permit")
    assert permit["owed_by"] == {"id": world.ior.pk, "name": "Brasil IOR Ltda"}
    assert (permit["owed_by_role"], permit["status"], permit["current_version"]) == ("ior", "requested", None)
    assert permit["requirement"] == requirements[0].pk
    assert permit["due_date"]
    options = {t["name"]: t for t in body["transitions"]}
    assert set(options) == {"submit_dossier", "cancel"}
    assert options["submit_dossier"]["allowed"] is False
    assert options["submit_dossier"]["reasons"][0].startswith("2 required documents not uploaded yet")
    assert options["cancel"] == {
        "name": "cancel",
        "label": "Cancel shipment",
        "allowed": True,
        "reasons": [],
        "needs_reason": True,
        "inputs": ["reason"],
    }


def test_transitions_explain_what_blocks_this_user(world, api_as):
    shipment = world.shipment()
    options = {t["name"]: t for t in api_as(world.victor).get(url("detail", shipment)).json()["transitions"]}
    assert options["submit"]["allowed"] is False
    assert "only editors or managers of the shipment's sponsor may submit" in options["submit"]["reasons"][0]


def test_retrieve_of_unknown_id_is_404(world, api_as):
    assert api_as(world.alice).get(url("detail", pk=999999)).json() == NOT_FOUND


# --- create and update -------------------------------------------------------------------------------------------


def test_create_drafts_with_items_and_answers_201_with_location_and_etag(world, api_as):
    response = api_as(world.alice).post(url("list"), draft_body(world, reference="RTSM-0001"), format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    shipment = Shipment.objects.get(pk=body["id"])
    assert (shipment.reference, shipment.status, shipment.sponsor) == ("RTSM-0001", S.DRAFT, world.sponsor_a)
    assert shipment.created_by == world.alice
    assert [i.quantity for i in shipment.items.all()] == [Decimal("10")]
    assert response["Location"] == url("detail", shipment)
    assert response["ETag"]
    assert body["items"][0]["hs_code"] == "300215"


def test_cro_books_for_the_sponsor_that_authorised_it(world, api_as):
    response = api_as(world.carl).post(url("list"), draft_body(world), format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["sponsor"] == {"id": world.sponsor_a.pk, "name": "Sponsor A Pharma"}


@pytest.mark.parametrize(
    ("field", "value"),
    [("status", "approved"), ("sponsor", "other"), ("created_by", "charlie"), ("route_kind", "domestic"), ("id", 7)],
)
def test_create_refuses_server_side_fields(world, api_as, field, value):
    value = {"other": world.sponsor_b.pk, "charlie": world.charlie.pk}.get(value, value)
    response = api_as(world.alice).post(url("list"), draft_body(world, **{field: value}), format="json")
    assert response.status_code == 400
    assert response.json() == {"detail": "Invalid input.", "errors": {field: ["Unknown field."]}}
    assert not Shipment.objects.exists()


def test_create_refuses_unknown_item_fields_by_path(world, api_as):
    body = draft_body(world, items=[ITEM, {**ITEM, "shipment": 1}])
    response = api_as(world.alice).post(url("list"), body, format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == {"items[1].shipment": ["Unknown field."]}


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"origin_country": "XX"}, "origin_country"),
        ({"currency": "EURO"}, "currency"),
        ({"planned_ship_date": "soon"}, "planned_ship_date"),
        ({"required_at_site_date": days(5).isoformat()}, "required_at_site_date"),
        ({"temperature_class": "warm"}, "temperature_class"),
        ({"items": [{**ITEM, "quantity": "0"}]}, "items[0].quantity"),
        ({"items": [{**ITEM, "hs_code": "30.02"}]}, "items[0].hs_code"),
        ({"items": [{**ITEM, "category": None}]}, "items[0].category"),
        ({"items": [{**ITEM, "expiry_date": days(3).isoformat()}]}, "items[0].expiry_date"),
        ({"destination_address": None}, "destination_address"),
    ],
)
def test_create_names_the_bad_field(world, api_as, overrides, field):
    response = api_as(world.alice).post(url("list"), draft_body(world, **overrides), format="json")
    assert response.status_code == 400
    assert field in response.json()["errors"], response.json()
    assert not Shipment.objects.exists()


def test_create_needs_the_required_fields(world, api_as):
    response = api_as(world.alice).post(url("list"), {}, format="json")
    assert response.status_code == 400
    assert {"trial", "origin_country", "planned_ship_date"} <= set(response.json()["errors"])


def test_create_on_another_sponsors_trial_is_an_unknown_trial(world, api_as):
    response = api_as(world.charlie).post(url("list"), draft_body(world), format="json")
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["trial"]
    assert "Sponsor A" not in response.content.decode()
    assert not Shipment.objects.exists()


def test_a_viewer_may_not_draft(world, api_as):
    response = api_as(world.victor).post(url("list"), draft_body(world), format="json")
    assert response.status_code == 403
    assert "editors or managers" in response.json()["reasons"][0]


def test_input_serializers_offer_exactly_what_the_services_accept():
    assert set(ShipmentUpdateInputSerializer().fields) == set(DRAFT_FIELDS)
    from shipments.api.serializers import ShipmentItemInputSerializer

    assert set(ShipmentItemInputSerializer().fields) == set(ITEM_FIELDS)


def test_update_changes_a_draft_and_returns_a_new_etag(world, api_as):
    shipment = world.shipment()
    client = api_as(world.alice)
    etag = client.get(url("detail", shipment))["ETag"]
    response = client.patch(
        url("detail", shipment), {"planned_ship_date": days(25).isoformat()}, format="json", HTTP_IF_MATCH=etag
    )
    assert response.status_code == 200, response.json()
    assert response.json()["planned_ship_date"] == days(25).isoformat()
    assert response["ETag"] != etag
    assert AuditEvent.objects.filter(shipment=shipment, action="shipment.updated").count() == 1


def test_update_with_stale_etag_is_412_and_changes_nothing(world, api_as):
    shipment = world.shipment()
    client = api_as(world.alice)
    etag = client.get(url("detail", shipment))["ETag"]
    client.patch(url("detail", shipment), {"origin_address": "Somewhere else"}, format="json")
    response = client.patch(url("detail", shipment), {"currency": "EUR"}, format="json", HTTP_IF_MATCH=etag)
    assert response.status_code == 412
    assert Shipment.objects.get(pk=shipment.pk).currency == "USD"


@pytest.mark.parametrize("field", ["status", "sponsor", "created_by", "route_kind", "id", "reference", "trial"])
def test_update_refuses_fields_a_client_cannot_set(world, api_as, field):
    shipment = world.shipment()
    response = api_as(world.alice).patch(url("detail", shipment), {field: 1}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == {field: ["Unknown field."]}


def test_update_after_submission_is_409_with_the_reason(world, api_as):
    shipment = force_status(world.shipment(), S.PERMIT_COLLECTION)
    response = api_as(world.alice).patch(url("detail", shipment), {"currency": "EUR"}, format="json")
    assert response.status_code == 409
    assert response.json()["reasons"] == [f"only a draft can be edited; {shipment.reference} is permit collection"]


def test_update_by_an_ior_user_is_403(world, api_as):
    response = api_as(world.ivan).patch(url("detail", world.shipment()), {"currency": "EUR"}, format="json")
    assert response.status_code == 403


def test_update_assigns_a_site_of_the_trial(world, api_as):
    from tests.factories import SiteFactory

    site = SiteFactory(trial=world.trial, organization=world.site)
    other = SiteFactory(trial=world.trial_b, organization=world.site)
    shipment = world.shipment()
    client = api_as(world.alice)
    assert client.patch(url("detail", shipment), {"site": site.pk}, format="json").json()["site"]["id"] == site.pk
    refused = client.patch(url("detail", shipment), {"site": other.pk}, format="json")
    assert refused.status_code == 400
    assert list(refused.json()["errors"]) == ["site"]


# --- Idempotency-Key ---------------------------------------------------------------------------------------------


def test_create_with_an_idempotency_key_books_once(world, api_as):
    client = api_as(world.alice)
    body = draft_body(world)
    first = client.post(url("list"), body, format="json", HTTP_IDEMPOTENCY_KEY="rtsm-42")
    again = client.post(url("list"), body, format="json", HTTP_IDEMPOTENCY_KEY="rtsm-42")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert again["Location"] == first["Location"]
    assert Shipment.objects.count() == 1
    other = client.post(url("list"), {**body, "currency": "EUR"}, format="json", HTTP_IDEMPOTENCY_KEY="rtsm-42")
    assert other.status_code == 409
    assert Shipment.objects.count() == 1


# --- items -------------------------------------------------------------------------------------------------------


def test_items_are_added_changed_and_removed_while_draft(world, api_as):
    shipment = world.shipment()
    client = api_as(world.alice)
    etag = client.get(url("detail", shipment))["ETag"]
    added = client.post(url("items", shipment), {**ITEM, "lot_number": "L9"}, format="json", HTTP_IF_MATCH=etag)
    assert added.status_code == 201, added.json()
    item_id = added.json()["id"]
    assert added.json()["position"] == 2
    assert client.get(url("detail", shipment))["ETag"] != etag, "an item change is a change of the shipment"
    changed = client.patch(url("item", shipment, item_id=item_id), {"quantity": "25"}, format="json")
    assert (changed.status_code, changed.json()["quantity"]) == (200, "25.000")
    removed = client.delete(url("item", shipment, item_id=item_id))
    assert removed.status_code == 204
    assert not ShipmentItem.objects.filter(pk=item_id).exists()
    actions = set(AuditEvent.objects.filter(shipment=shipment).values_list("action", flat=True))
    assert {"shipment.item_added", "shipment.item_updated", "shipment.item_removed"} <= actions


def test_item_errors(world, api_as):
    shipment, other = world.shipment(), world.shipment()
    client = api_as(world.alice)
    stale = client.get(url("detail", shipment))["ETag"]
    item = shipment.items.get()
    invalid = client.post(url("items", shipment), {**ITEM, "quantity": "-1"}, format="json")
    assert (invalid.status_code, list(invalid.json()["errors"])) == (400, ["quantity"])
    unknown = client.patch(url("item", shipment, item_id=item.pk), {"position": 9}, format="json")
    assert unknown.json()["errors"] == {"position": ["Unknown field."]}
    foreign = client.patch(url("item", other, item_id=item.pk), {"quantity": "2"}, format="json")
    assert (foreign.status_code, foreign.json()) == (404, NOT_FOUND)
    client.patch(url("detail", shipment), {"currency": "EUR"}, format="json")
    assert client.delete(url("item", shipment, item_id=item.pk), HTTP_IF_MATCH=stale).status_code == 412
    force_status(shipment, S.PERMIT_COLLECTION)
    closed = client.post(url("items", shipment), ITEM, format="json")
    assert closed.status_code == 409
    assert shipment.items.count() == 1


# --- transitions -------------------------------------------------------------------------------------------------


def test_submit_moves_to_permit_collection_with_a_new_etag(world, api_as):
    shipment = world.shipment()
    client = api_as(world.alice)
    etag = client.get(url("detail", shipment))["ETag"]
    response = client.post(url("submit", shipment), format="json", HTTP_IF_MATCH=etag)
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "permit_collection"
    assert response["ETag"] != etag
    event = AuditEvent.objects.get(shipment=shipment, action="shipment.submit")
    assert event.via.startswith("API key ior_")


def test_refused_transition_is_409_with_the_guards_reasons(world, api_as):
    shipment = world.shipment(consignee=None, planned_ship_date=days(-1))
    response = api_as(world.alice).post(url("submit", shipment))
    assert response.status_code == 409
    assert response.json()["reasons"] == [
        "no consignee assigned to receive the goods",
        f"the planned ship date {days(-1):%Y-%m-%d} is in the past",
    ]
    assert Shipment.objects.get(pk=shipment.pk).status == S.DRAFT


def test_transition_from_the_wrong_status_is_409(world, api_as):
    shipment = world.shipment()
    response = api_as(world.bruno).post(url("arrive", shipment))
    assert response.status_code == 409
    assert response.json()["reasons"] == ["cannot record the arrival of a shipment that is draft"]


def test_transition_by_the_wrong_party_is_403(world, api_as):
    shipment = force_status(world.shipment(), S.DOSSIER_REVIEW)
    response = api_as(world.alice).post(url("approve", shipment), {"password": DEMO_PASSWORD}, format="json")
    assert response.status_code == 403
    assert response.json()["reasons"] == [
        "only reviewers of the shipment's importer of record may approve this shipment"
    ]


def test_transition_needing_a_reason_is_400_without_one(world, api_as):
    shipment = world.shipment()
    client = api_as(world.alice)
    missing = client.post(url("cancel", shipment), {}, format="json")
    assert (missing.status_code, list(missing.json()["errors"])) == (400, ["reason"])
    blank = client.post(url("cancel", shipment), {"reason": "   "}, format="json")
    assert (blank.status_code, list(blank.json()["errors"])) == (400, ["reason"])
    done = client.post(url("cancel", shipment), {"reason": "Site closed"}, format="json")
    assert done.json()["status"] == "cancelled"
    assert AuditEvent.objects.get(shipment=shipment, action="shipment.cancel").reason == "Site closed"


def test_transition_refuses_unknown_fields(world, api_as):
    response = api_as(world.alice).post(url("submit", world.shipment()), {"status": "approved"}, format="json")
    assert response.json()["errors"] == {"status": ["Unknown field."]}


def test_transition_with_stale_etag_is_412_and_nothing_changes(world, api_as):
    shipment = world.shipment()
    client = api_as(world.alice)
    stale = client.get(url("detail", shipment))["ETag"]
    client.patch(url("detail", shipment), {"currency": "EUR"}, format="json")
    assert client.post(url("submit", shipment), HTTP_IF_MATCH=stale).status_code == 412
    assert Shipment.objects.get(pk=shipment.pk).status == S.DRAFT
    assert not AuditEvent.objects.filter(action="shipment.submit").exists()


def test_approve_signs_with_the_reviewers_password(world, api_as):
    shipment = force_status(world.shipment(), S.DOSSIER_REVIEW)
    body = {"password": DEMO_PASSWORD, "comment": "Complete"}
    response = api_as(world.rita).post(url("approve", shipment), body, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "approved"
    signature = ElectronicSignature.objects.get(shipment=shipment)
    assert (signature.signer, signature.meaning, signature.comment) == (world.rita, "approved", "Complete")
    assert "password" not in response.content.decode()


def test_approve_with_a_wrong_password_is_400_and_counts_towards_the_lock(world, api_as):
    shipment = force_status(world.shipment(), S.DOSSIER_REVIEW)
    client = api_as(world.rita)
    for _ in range(3):
        response = client.post(url("approve", shipment), {"password": "guess"}, format="json")
        assert response.status_code == 400
        assert response.json()["errors"] == {"password": ["the password is not correct; the dossier was not signed"]}
    assert SigningAttempt.objects.filter(user=world.rita, succeeded=False).count() == 3
    locked = client.post(url("approve", shipment), {"password": DEMO_PASSWORD}, format="json")
    assert locked.status_code == 403
    assert "signing is locked" in locked.json()["reasons"][0]
    assert Shipment.objects.get(pk=shipment.pk).status == S.DOSSIER_REVIEW
    missing = client.post(url("approve", shipment), {}, format="json")
    assert missing.json()["errors"] == {"password": ["This field is required."]}


def test_dispatch_records_the_air_waybill(world, api_as):
    shipment = force_status(world.shipment(), S.EXPORT_CLEARED)
    client = api_as(world.eddie)
    refused = client.post(url("dispatch", shipment), {}, format="json")
    assert refused.json()["reasons"] == ["no air waybill or tracking number recorded"]
    response = client.post(url("dispatch", shipment), {"airway_bill": "020-12345675"}, format="json")
    assert response.status_code == 200, response.json()
    assert (response.json()["status"], response.json()["airway_bill"]) == ("in_transit", "020-12345675")


def test_clear_records_entry_number_and_duties(world, api_as):
    shipment = force_status(world.shipment(), S.CUSTOMS_CLEARANCE)
    client = api_as(world.ivan)
    negative = client.post(
        url("clear", shipment), {"customs_entry_number": "DI-1", "duties_actual": "-5"}, format="json"
    )
    assert (negative.status_code, list(negative.json()["errors"])) == (400, ["duties_actual"])
    response = client.post(
        url("clear", shipment), {"customs_entry_number": "DI-1", "duties_actual": "12.50"}, format="json"
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["status"], body["customs_entry_number"], body["duties_actual"]) == ("cleared", "DI-1", "12.50")


@pytest.mark.parametrize(
    ("start", "name", "persona", "body", "end"),
    [
        (S.PERMIT_COLLECTION, "submit_dossier", "alice", {}, S.DOSSIER_REVIEW),
        (S.DOSSIER_REVIEW, "reject", "rita", {"reason": "CoA missing"}, S.PERMIT_COLLECTION),
        (S.APPROVED, "clear_export", "eddie", {}, S.EXPORT_CLEARED),
        (S.IN_TRANSIT, "arrive", "bruno", {}, S.CUSTOMS_CLEARANCE),
        (S.CUSTOMS_CLEARANCE, "hold", "bruno", {"reason": "Check"}, S.CUSTOMS_HOLD),
        (S.CUSTOMS_HOLD, "release", "bruno", {}, S.CUSTOMS_CLEARANCE),
        (S.CLEARED, "out_for_delivery", "cora", {}, S.OUT_FOR_DELIVERY),
        (S.OUT_FOR_DELIVERY, "deliver", "sam", {}, S.DELIVERED),
        (S.CUSTOMS_HOLD, "return_to_origin", "rita", {"reason": "Refused entry"}, S.RETURNED),
        (S.CUSTOMS_HOLD, "destroy", "imelda", {"reason": "Excursion"}, S.DESTROYED),
    ],
)
def test_each_transition_fires_through_its_endpoint(world, api_as, start, name, persona, body, end):
    shipment = force_status(world.shipment(), start)
    if name == "deliver":
        temperature_log_for(shipment, spike_to=None)  # cold goods are delivered with their temperature record
    response = api_as(getattr(world, persona)).post(url(name.replace("_", "-"), shipment), body, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == end


def test_every_person_facing_transition_has_an_endpoint_and_its_own_schema(world):
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    for name, serializer in TRANSITION_INPUT_SERIALIZERS.items():
        operation = schema["paths"][f"/api/v1/shipments/{{id}}/{name}/"]["post"]
        body = operation["requestBody"]["content"]["application/json"]["schema"]
        if serializer().fields:
            assert body["$ref"] == f"#/components/schemas/{serializer.Meta.ref_name}Request"
        else:
            assert (body["properties"], body["additionalProperties"]) == ({}, False)
        assert {"400", "403", "404", "409", "412"} <= set(operation["responses"])
    approve = schema["components"]["schemas"]["ApproveTransitionInputRequest"]
    assert approve["required"] == ["password"]


# --- compliance re-check and returns -----------------------------------------------------------------------------


def test_compliance_recheck_lifts_the_flag(world, api_as):
    shipment = force_status(world.shipment(), S.PERMIT_COLLECTION)
    client = api_as(world.rita)
    assert client.post(url("compliance-recheck", shipment), {}, format="json").status_code == 409
    Shipment.objects.filter(pk=shipment.pk).update(compliance_flag="Brazil's requirements changed")
    assert api_as(world.alice).post(url("compliance-recheck", shipment), {}, format="json").status_code == 403
    response = client.post(url("compliance-recheck", shipment), {"note": "Checked"}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["compliance_flag"] == ""


def test_return_drafts_the_way_back(world, api_as):
    outbound = force_status(world.shipment(), S.DELIVERED)
    client = api_as(world.alice)
    response = client.post(url("return", outbound), {"planned_ship_date": days(30).isoformat()}, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["return_of"] == {"id": outbound.pk, "reference": outbound.reference, "status": "delivered"}
    assert (body["origin_country"], body["destination_country"], body["status"]) == ("BR", "US", "draft")
    assert response["Location"] == url("detail", pk=body["id"])
    returns = client.get(url("detail", outbound)).json()["returns"]
    assert returns == [{"id": body["id"], "reference": f"{outbound.reference}-R1", "status": "draft"}]
    # The site received the outbound goods but is no party to their return: it is not shown to it.
    assert api_as(world.sam).get(url("detail", outbound)).json()["returns"] == []


def test_return_errors(world, api_as):
    in_transit = force_status(world.shipment(), S.IN_TRANSIT)
    client = api_as(world.alice)
    refused = client.post(url("return", in_transit), {"planned_ship_date": days(30).isoformat()}, format="json")
    assert refused.status_code == 409
    delivered = force_status(world.shipment(), S.DELIVERED)
    past = client.post(url("return", delivered), {"planned_ship_date": days(-1).isoformat()}, format="json")
    assert (past.status_code, list(past.json()["errors"])) == (400, ["planned_ship_date"])
    missing = client.post(url("return", delivered), {}, format="json")
    assert list(missing.json()["errors"]) == ["planned_ship_date"]
    assert Shipment.objects.count() == 2


# --- audit trail -------------------------------------------------------------------------------------------------


def test_audit_trail_lists_the_chain_in_order_and_pages(world, api_as):
    client = api_as(world.alice)
    created = client.post(url("list"), draft_body(world), format="json").json()
    shipment = Shipment.objects.get(pk=created["id"])
    client.post(url("submit", shipment))
    client.post(url("cancel", shipment), {"reason": "Not needed"}, format="json")
    first = client.get(url("audit", shipment), {"page_size": 2}).json()
    second = client.get(first["next"]).json()
    events = first["results"] + second["results"]
    assert [e["sequence"] for e in events] == [1, 2, 3]
    assert [e["action"] for e in events] == ["shipment.created", "shipment.submit", "shipment.cancel"]
    assert events[1]["prev_hash"] == events[0]["hash"]
    assert events[2]["reason"] == "Not needed"
    assert events[0]["via"].startswith("API key")
    assert events[1]["changes"]["status"] == ["draft", "permit_collection"]
    assert second["next"] is None


# --- bulk --------------------------------------------------------------------------------------------------------


def test_bulk_creates_the_valid_rows_and_reports_the_others(world, api_as):
    rows = [
        draft_body(world, reference="B-1"),
        draft_body(world, origin_country="XX"),
        draft_body(world, status="approved"),
        draft_body(world, reference="B-1"),
        draft_body(world, trial=world.trial_b.pk),
        draft_body(world, reference="B-2", items=[{**ITEM, "quantity": "0"}]),
        draft_body(world, reference="B-3"),
    ]
    response = api_as(world.alice).post(url("bulk"), {"shipments": rows}, format="json")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["created"], body["failed"]) == (2, 5)
    results = body["results"]
    assert [r["status"] for r in results] == ["created", "error", "error", "error", "error", "error", "created"]
    assert results[0]["reference"] == "B-1"
    assert list(results[1]["errors"]) == ["origin_country"]
    assert results[2]["errors"] == {"status": ["Unknown field."]}
    assert list(results[3]["errors"]) == ["reference"]
    assert list(results[4]["errors"]) == ["trial"]
    assert list(results[5]["errors"]) == ["items[0].quantity"]
    assert {r.get("status_code") for r in results[1:6]} == {400}
    assert set(Shipment.objects.values_list("reference", flat=True)) == {"B-1", "B-3"}
    assert not Shipment.objects.filter(reference="B-2").exists(), "a failing row leaves nothing behind"


def test_bulk_reports_rows_the_user_may_not_draft_as_403(world, api_as):
    response = api_as(world.victor).post(url("bulk"), {"shipments": [draft_body(world)]}, format="json")
    assert response.status_code == 200
    assert response.json()["results"][0]["status_code"] == 403


def test_bulk_refuses_more_than_500_or_none(world, api_as):
    client = api_as(world.alice)
    too_many = client.post(url("bulk"), {"shipments": [draft_body(world)] * 501}, format="json")
    assert too_many.status_code == 400
    assert list(too_many.json()["errors"]) == ["shipments"]
    empty = client.post(url("bulk"), {"shipments": []}, format="json")
    assert empty.status_code == 400
    assert not Shipment.objects.exists()


# --- tenancy and scopes ------------------------------------------------------------------------------------------


def charlie_requests(shipment, item_id):
    yield "get", url("detail", shipment), None
    yield "patch", url("detail", shipment), {"currency": "EUR"}
    yield "get", url("audit", shipment), None
    yield "post", url("items", shipment), ITEM
    yield "patch", url("item", shipment, item_id=item_id), {"quantity": "1"}
    yield "delete", url("item", shipment, item_id=item_id), None
    yield "post", url("compliance-recheck", shipment), {}
    yield "post", url("return", shipment), {"planned_ship_date": days(30).isoformat()}
    for name in TRANSITION_SERVICES:
        yield "post", url(name.replace("_", "-"), shipment), {"reason": "x", "password": DEMO_PASSWORD}


def test_charlie_gets_404_on_every_endpoint_of_sponsor_as_shipment(world, api_as):
    shipment = world.shipment()
    client = api_as(world.charlie)
    for method, path, body in charlie_requests(shipment, shipment.items.get().pk):
        response = getattr(client, method)(path, body, format="json")
        assert (response.status_code, response.json()) == (404, NOT_FOUND), (method, path)
    fresh = Shipment.objects.get(pk=shipment.pk)
    assert (fresh.status, fresh.currency, fresh.updated_at) == (S.DRAFT, "USD", shipment.updated_at)
    assert shipment.items.count() == 1
    assert not AuditEvent.objects.filter(shipment=shipment).exclude(action="shipment.created").exists()


def test_read_only_key_may_read_but_not_write(world, api_as):
    shipment = world.shipment()
    client = api_as(world.alice, scope="read")
    assert client.get(url("detail", shipment)).status_code == 200
    writes = [
        client.post(url("list"), draft_body(world), format="json"),
        client.post(url("bulk"), {"shipments": [draft_body(world)]}, format="json"),
        client.patch(url("detail", shipment), {"currency": "EUR"}, format="json"),
        client.post(url("submit", shipment)),
        client.post(url("items", shipment), ITEM, format="json"),
        client.delete(url("item", shipment, item_id=shipment.items.get().pk)),
        client.post(url("return", shipment), {"planned_ship_date": days(30).isoformat()}, format="json"),
    ]
    assert [w.status_code for w in writes] == [403] * len(writes)
    assert Shipment.objects.get(pk=shipment.pk).status == S.DRAFT
    assert Shipment.objects.count() == 1


def test_unauthenticated_calls_are_401(world, client):
    assert client.get(url("list")).status_code in (401, 403)


# --- trials and sites --------------------------------------------------------------------------------------------


def test_trials_are_read_only_and_tenant_scoped(world, api_as):
    client = api_as(world.alice)
    rows = client.get(reverse("v1:trials-list")).json()["results"]
    assert [r["protocol_number"] for r in rows] == ["SPA-301"]
    assert rows[0]["sponsor"] == {"id": world.sponsor_a.pk, "name": "Sponsor A Pharma"}
    assert client.get(reverse("v1:trials-list"), {"sponsor": world.sponsor_b.pk}).json()["results"] == []
    assert api_as(world.carl).get(reverse("v1:trials-detail", kwargs={"pk": world.trial.pk})).status_code == 200
    charlie = api_as(world.charlie)
    assert charlie.get(reverse("v1:trials-detail", kwargs={"pk": world.trial.pk})).json() == NOT_FOUND
    assert client.post(reverse("v1:trials-list"), {}, format="json").status_code == 405


def test_sites_are_read_only_and_tenant_scoped(world, api_as):
    from tests.factories import SiteFactory

    site = SiteFactory(trial=world.trial, organization=world.site, country="BR")
    SiteFactory(trial=world.trial_b, organization=world.site, country="DE")
    client = api_as(world.alice)
    rows = client.get(reverse("v1:sites-list")).json()["results"]
    assert [r["id"] for r in rows] == [site.pk]
    assert rows[0]["trial"] == {"id": world.trial.pk, "protocol_number": "SPA-301"}
    assert client.get(reverse("v1:sites-list"), {"country": "de"}).json()["results"] == []
    assert [r["id"] for r in client.get(reverse("v1:sites-list"), {"trial": world.trial.pk}).json()["results"]] == [
        site.pk
    ]
    charlie = api_as(world.charlie)
    assert charlie.get(reverse("v1:sites-detail", kwargs={"pk": site.pk})).json() == NOT_FOUND
    assert Site.objects.count() == 2


def test_the_fast_list_rows_are_exactly_what_the_row_serializer_documents(world):
    from shipments.api.serializers import ROW_VALUES, ShipmentRowSerializer, shipment_rows

    full = world.shipment(required_at_site_date=date.today() + timedelta(days=40))
    bare = world.shipment(ior=None, eor=None, broker=None, courier=None, consignee=None)
    returned = world.shipment(return_of=full)
    shipments = Shipment.objects.filter(pk__in=[full.pk, bare.pk, returned.pk]).order_by("pk")
    rows = shipment_rows(shipments.values(*ROW_VALUES))
    assert rows == ShipmentRowSerializer(shipments.select_related("trial", "sponsor", "ior"), many=True).data
    assert rows[1]["ior"] is None and rows[2]["return_of"] == full.pk
