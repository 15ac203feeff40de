"""The dashboard's and the list's reads: counts, the shipments at risk and why, deliveries under way, the list's
filters and sorts, the CSV rows. Always through the tenancy rule, in queries that do not grow with the shipments."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from compliance.models import Permit
from compliance.preflight import preflight, proposal_for
from documents.choices import DocumentStatus
from documents.models import Document
from parties.models import Licence
from shipments import overview
from shipments.choices import ShipmentStatus as S
from shipments.models import Shipment
from shipments.services import shipment_hold
from tests.conftest import days, force_status
from tests.factories import DocumentRequirementFactory, LicenceFactory, ShipmentItemFactory, TrialFactory


def _today():
    return timezone.localdate()


def _risks(user, **kwargs) -> dict[str, list[str]]:
    """Reference -> kinds of risk, for every shipment at risk that `user` may see."""
    rows, total = overview.at_risk(overview.visible_shipments(user=user, **kwargs), today=_today(), limit=1000)
    assert total == len(rows)
    return {row.shipment.reference: [risk.kind for risk in row.risks] for row in rows}


def _overdue_document(shipment, *, due_in=-2, status=DocumentStatus.REQUESTED, document_type="import_permit"):
    return Document.objects.create(
        shipment=shipment,
        side="import",
        document_type=document_type,
        title="Import consent",
        owed_by_role="ior",
        owed_by=shipment.ior,
        due_date=_today() + timedelta(days=due_in),
        status=status,
    )


# Counts


def test_status_counts_follow_the_lifecycle_and_leave_out_empty_statuses(world):
    world.shipment()
    world.shipment()
    force_status(world.shipment(), S.IN_TRANSIT)
    force_status(world.shipment(), S.CANCELLED)
    tallies = overview.status_counts(overview.visible_shipments(user=world.alice))
    assert [(t.key, t.label, t.count) for t in tallies] == [
        ("draft", "Draft", 2),
        ("in_transit", "In transit", 1),
        ("cancelled", "Cancelled", 1),
    ]


def test_destination_counts_name_countries_most_first_and_group_the_rest(world):
    for country, n in (("BR", 3), ("IN", 2), ("MX", 1), ("ZA", 1)):
        for _ in range(n):
            world.shipment(destination_country=country)
    shipments = overview.visible_shipments(user=world.alice)
    tallies = overview.destination_counts(shipments, bars=2)
    assert [(t.key, t.label, t.count) for t in tallies] == [
        ("BR", "Brazil", 3),
        ("IN", "India", 2),
        ("", "2 other countries", 2),
    ]
    assert [t.label for t in overview.destination_counts(shipments)] == ["Brazil", "India", "Mexico", "South Africa"]


def test_charlie_counts_none_of_sponsor_a(world):
    world.shipment()
    force_status(world.shipment(), S.CUSTOMS_HOLD)
    board = overview.dashboard(user=world.charlie, today=_today())
    assert board.total == 0
    assert board.by_status == board.by_destination == board.at_risk == board.upcoming == []
    assert board.at_risk_total == 0


def test_the_ior_and_the_cro_see_sponsor_a_on_their_dashboards(world):
    world.shipment()
    for user in (world.carl, world.rita, world.eddie):
        assert overview.dashboard(user=user, today=_today()).total == 1


def test_trial_filter_counts_only_that_trial(world):
    other_trial = TrialFactory(sponsor=world.sponsor_a, protocol_number="SPA-302")
    world.shipment()
    world.shipment(trial=other_trial)
    world.shipment(trial=other_trial)
    assert overview.dashboard(user=world.alice, today=_today(), trial=other_trial).total == 2
    assert overview.dashboard(user=world.alice, today=_today()).total == 3


# Risks, each reason on its own


def test_customs_hold_is_a_risk_with_the_hold_reason(world):
    shipment = force_status(world.shipment(), S.CUSTOMS_CLEARANCE)
    shipment_hold(actor=world.ivan, shipment=shipment, reason="Customs query on the HS classification")
    rows, total = overview.at_risk(overview.visible_shipments(user=world.alice), today=_today())
    assert total == 1
    [risk] = rows[0].risks
    assert risk.kind == "customs_hold"
    assert risk.detail == "Customs query on the HS classification"


def test_overdue_requested_or_rejected_documents_are_a_risk_while_the_dossier_is_put_together(world):
    collecting = force_status(world.shipment(), S.PERMIT_COLLECTION)
    _overdue_document(collecting, due_in=-5)
    _overdue_document(collecting, due_in=-1, status=DocumentStatus.REJECTED, document_type="import_licence")
    uploaded = force_status(world.shipment(), S.DOSSIER_REVIEW)
    _overdue_document(uploaded, status=DocumentStatus.UPLOADED)
    due_later = force_status(world.shipment(), S.PERMIT_COLLECTION)
    _overdue_document(due_later, due_in=3)
    left = force_status(world.shipment(), S.IN_TRANSIT)
    _overdue_document(left)

    assert _risks(world.alice) == {collecting.reference: ["documents_overdue"]}
    rows, _ = overview.at_risk(overview.visible_shipments(user=world.alice), today=_today())
    [risk] = rows[0].risks
    assert risk.title == "2 documents overdue"
    assert risk.detail.startswith("Import consent (import), due ")
    assert "owed by Brasil IOR Ltda" in risk.detail


@pytest.mark.usefixtures("requirements")
def test_a_draft_planned_before_the_earliest_feasible_date_is_a_risk(world):
    # Brazil's import permit takes 20 days (the `requirements` fixture): the earliest feasible date is in 20 days.
    too_soon = world.shipment(planned_ship_date=days(14))
    in_time = world.shipment(planned_ship_date=days(25))
    submitted = force_status(world.shipment(planned_ship_date=days(14)), S.PERMIT_COLLECTION)
    domestic = world.shipment(origin_country="BR", planned_ship_date=days(2))

    risks = _risks(world.alice)
    assert risks == {too_soon.reference: ["before_earliest_date"]}
    assert in_time.reference not in risks and submitted.reference not in risks and domestic.reference not in risks
    rows, _ = overview.at_risk(overview.visible_shipments(user=world.alice), today=_today())
    assert f"{days(20):%-d %b %Y} at the earliest" in rows[0].risks[0].detail


@pytest.mark.usefixtures("requirements")
def test_the_longest_lead_time_is_the_preflights_earliest_ship_date(world):
    DocumentRequirementFactory(
        country__country="BR",
        document_type="certificate_of_analysis",
        provided_by="sponsor",
        lead_time_days=40,
        temperature_class="frozen",
    )
    DocumentRequirementFactory(
        country__country="BR",
        document_type="commercial_invoice",
        provided_by="sponsor",
        lead_time_days=35,
        min_declared_value=Decimal("50000"),
        value_currency="USD",
    )
    DocumentRequirementFactory(
        country__country="BR",
        document_type="gmp_certificate",
        provided_by="sponsor",
        lead_time_days=60,
        is_active=False,
    )
    DocumentRequirementFactory(
        country__country="BR",
        document_type="safety_data_sheet",
        provided_by="sponsor",
        lead_time_days=45,
        product_category="device",
    )
    cases = [
        world.shipment(),  # 20: the permit; frozen, high-value, inactive and device requirements do not apply
        world.shipment(temperature_class="frozen"),  # 40
        world.shipment(declared_value=Decimal("60000")),  # 35
        world.shipment(declared_value=Decimal("60000"), currency="EUR"),  # 35: another currency cannot compare
    ]
    device = world.shipment()
    ShipmentItemFactory(shipment=device, category="device")  # 45
    cases.append(device)
    leads = dict(
        overview.visible_shipments(user=world.alice)
        .annotate(lead=overview.longest_lead_time())
        .values_list("reference", "lead")
    )
    assert [leads[s.reference] for s in cases] == [20, 40, 35, 35, 45]
    for shipment in cases:
        expected = preflight(proposal_for(shipment)).earliest_ship_date
        assert _today() + timedelta(days=leads[shipment.reference]) == expected


def test_a_permit_running_out_before_the_ship_date_is_a_risk_until_the_goods_leave(world, brazil_permit):
    lapsing = force_status(world.shipment(planned_ship_date=days(200)), S.APPROVED)
    draft = world.shipment(planned_ship_date=days(190))
    covered = force_status(world.shipment(planned_ship_date=days(100)), S.PERMIT_COLLECTION)
    left = force_status(world.shipment(planned_ship_date=days(200)), S.IN_TRANSIT)

    risks = _risks(world.alice)
    assert risks == {lapsing.reference: ["permit_lapses"], draft.reference: ["permit_lapses"]}
    assert covered.reference not in risks and left.reference not in risks
    rows, _ = overview.at_risk(overview.visible_shipments(user=world.alice), today=_today())
    assert f"LI-26/0001 (ANVISA) expires on {days(180):%-d %b %Y}" in rows[0].risks[0].detail


def test_a_renewed_permit_takes_over_from_the_lapsing_one(world, brazil_permit):
    world.shipment(planned_ship_date=days(200))
    Permit.objects.create(
        permit_type="import_permit",
        holder=world.ior,
        trial=world.trial,
        country="BR",
        direction="import",
        authority="ANVISA",
        number="LI-26/0002",
        valid_from=days(170),
        valid_until=days(400),
    )
    assert _risks(world.alice) == {}


def test_an_ior_import_licence_running_out_before_the_ship_date_is_a_risk(world):
    Licence.objects.filter(organization=world.ior).update(valid_until=days(10))
    lapsing = world.shipment(planned_ship_date=days(14))
    in_time = world.shipment(planned_ship_date=days(7))
    assert _risks(world.alice) == {lapsing.reference: ["licence_lapses"]}
    assert in_time.reference not in _risks(world.alice)

    LicenceFactory(organization=world.ior, valid_from=days(5), valid_until=days(400))
    assert _risks(world.alice) == {}


def test_reasons_add_up_on_one_shipment(world, brazil_permit):
    Licence.objects.filter(organization=world.ior).update(valid_until=days(150))
    shipment = force_status(world.shipment(planned_ship_date=days(200)), S.PERMIT_COLLECTION)
    _overdue_document(shipment)
    assert _risks(world.alice) == {shipment.reference: ["documents_overdue", "permit_lapses", "licence_lapses"]}


def test_at_risk_shows_the_soonest_first_and_counts_them_all(world):
    shipments = [force_status(world.shipment(planned_ship_date=days(n)), S.CUSTOMS_HOLD) for n in (9, 3, 6)]
    rows, total = overview.at_risk(overview.visible_shipments(user=world.alice), today=_today(), limit=2)
    assert total == 3
    assert [r.shipment.reference for r in rows] == [shipments[1].reference, shipments[2].reference]
    assert rows[0].risks[0].detail == "No reason was recorded with the hold."


def test_charlie_sees_no_risks_of_sponsor_a(world, brazil_permit):
    shipment = force_status(world.shipment(planned_ship_date=days(200)), S.PERMIT_COLLECTION)
    _overdue_document(shipment)
    force_status(world.shipment(), S.CUSTOMS_HOLD)
    assert len(_risks(world.alice)) == 2
    assert _risks(world.charlie) == {}


# Under way


def test_upcoming_deliveries_are_the_shipments_under_way_needed_soonest_first(world):
    late = force_status(world.shipment(required_at_site_date=days(30)), S.IN_TRANSIT)
    soon = force_status(world.shipment(required_at_site_date=days(20)), S.OUT_FOR_DELIVERY)
    undated = force_status(world.shipment(), S.CUSTOMS_HOLD)
    force_status(world.shipment(), S.DELIVERED)
    world.shipment()
    upcoming = overview.upcoming_deliveries(overview.visible_shipments(user=world.alice))
    assert [s.reference for s in upcoming] == [soon.reference, late.reference, undated.reference]


# Query counts


def _dashboard_queries(world, batches: int) -> tuple[int, int]:
    """Add `batches` of four shipments, three at risk for every kind of reason, the earlier batches shipping first
    so that the rows shown hold every kind; then the dashboard's queries and how many shipments are at risk."""
    start = Shipment.objects.count() // 4
    for i in range(start, start + batches):
        collecting = force_status(world.shipment(planned_ship_date=days(3 + 3 * i), items=2), S.PERMIT_COLLECTION)
        _overdue_document(collecting)  # and the IOR's licence lapses first
        force_status(world.shipment(planned_ship_date=days(4 + 3 * i)), S.CUSTOMS_HOLD)
        world.shipment(planned_ship_date=days(5 + 3 * i))  # before the earliest date, and the licence lapses first
        force_status(world.shipment(planned_ship_date=days(5), required_at_site_date=days(19)), S.IN_TRANSIT)
    with CaptureQueriesContext(connection) as queries:
        board = overview.dashboard(user=world.alice, today=_today())
    kinds = {risk.kind for row in board.at_risk for risk in row.risks}
    assert kinds == {"documents_overdue", "customs_hold", "before_earliest_date", "licence_lapses"}
    return len(queries), board.at_risk_total


def test_dashboard_queries_do_not_grow_with_the_shipments(world):
    DocumentRequirementFactory(country__country="BR", lead_time_days=90)
    Licence.objects.filter(organization=world.ior).update(valid_until=days(2))
    few, at_risk_few = _dashboard_queries(world, 3)
    many, at_risk_many = _dashboard_queries(world, 6)
    assert (at_risk_few, at_risk_many) == (9, 27)
    assert few == many


# The list


def test_shipment_table_filters(world):
    other_trial = TrialFactory(sponsor=world.sponsor_a, protocol_number="SPA-302")
    target = force_status(
        world.shipment(
            reference="SHP-2612-ABC",
            trial=other_trial,
            origin_country="DE",
            destination_country="IN",
            temperature_class="frozen",
            planned_ship_date=days(30),
        ),
        S.IN_TRANSIT,
    )
    world.shipment(reference="SHP-2612-XYZ", planned_ship_date=days(30))
    force_status(world.shipment(reference="SHP-2701-ABC", planned_ship_date=days(5)), S.IN_TRANSIT)

    def refs(**filters):
        return {s.reference for s in overview.shipment_table(user=world.alice, filters=filters, sort="")}

    assert refs(q="2612") == {"SHP-2612-ABC", "SHP-2612-XYZ"}
    assert refs(q="abc") == {"SHP-2612-ABC", "SHP-2701-ABC"}
    assert refs(status=["in_transit"]) == {"SHP-2612-ABC", "SHP-2701-ABC"}
    assert refs(status=["in_transit", "draft"]) == {"SHP-2612-ABC", "SHP-2612-XYZ", "SHP-2701-ABC"}
    assert refs(trial=other_trial) == {target.reference}
    assert refs(origin="DE") == refs(destination="IN") == refs(temperature="frozen") == {target.reference}
    assert refs(ship_from=days(10)) == {"SHP-2612-ABC", "SHP-2612-XYZ"}
    assert refs(ship_to=days(10)) == {"SHP-2701-ABC"}
    assert refs(ship_from=days(10), ship_to=days(40), status=["in_transit"], q="ABC") == {target.reference}
    assert refs(q="2612", status=[], trial=None, origin="") == {"SHP-2612-ABC", "SHP-2612-XYZ"}
    assert overview.shipment_table(user=world.charlie, filters={}, sort="").count() == 0


def test_shipment_table_sorts(world):
    a = force_status(
        world.shipment(reference="SHP-A", destination_country="SE", planned_ship_date=days(20)), S.APPROVED
    )
    b = world.shipment(reference="SHP-B", destination_country="CH", planned_ship_date=days(10))
    c = force_status(
        world.shipment(reference="SHP-C", destination_country="BR", planned_ship_date=days(30)), S.DELIVERED
    )
    _, destinations = overview.countries_in_use(overview.visible_shipments(user=world.alice))
    assert [code for code, _ in destinations] == ["BR", "SE", "CH"]  # Brazil, Sweden, Switzerland

    def order(sort):
        table = overview.shipment_table(user=world.alice, filters={}, sort=sort, destinations=destinations)
        return [s.reference for s in table]

    assert order("reference") == ["SHP-A", "SHP-B", "SHP-C"]
    assert order("-reference") == ["SHP-C", "SHP-B", "SHP-A"]
    assert order("ship_date") == [b.reference, a.reference, c.reference]
    assert order("-ship_date") == [c.reference, a.reference, b.reference]
    assert order("status") == [b.reference, a.reference, c.reference]  # draft, approved, delivered
    assert order("destination") == [c.reference, a.reference, b.reference]
    assert order("-destination") == [b.reference, a.reference, c.reference]
    Shipment.objects.filter(pk=a.pk).update(updated_at=timezone.now() + timedelta(minutes=5))
    assert order("")[0] == a.reference
    assert order("bogus") == order("-updated") == order("--updated")
    assert order("updated")[-1] == a.reference


def test_shipment_table_at_risk_only(world):
    held = force_status(world.shipment(reference="SHP-HELD", planned_ship_date=days(20)), S.CUSTOMS_HOLD)
    late = force_status(world.shipment(reference="SHP-LATE", planned_ship_date=days(10)), S.PERMIT_COLLECTION)
    _overdue_document(late)
    world.shipment(reference="SHP-FINE")
    table = overview.shipment_table(user=world.alice, filters={"at_risk": True}, sort="ship_date")
    assert [s.reference for s in table] == [late.reference, held.reference]
    assert overview.shipment_table(user=world.alice, filters={"at_risk": False}, sort="").count() == 3
    assert overview.shipment_table(user=world.charlie, filters={"at_risk": True}, sort="").count() == 0


def test_sort_key_falls_back_to_the_default():
    assert overview.sort_key("ship_date") == "ship_date"
    assert overview.sort_key("-status") == "-status"
    for bad in (None, "", "id", "-", "reference;drop", "--updated", "trial__sponsor"):
        assert overview.sort_key(bad) == overview.DEFAULT_SORT


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("=HYPERLINK(1)", "'=HYPERLINK(1)"),
        ("+1", "'+1"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("SHP-1", "SHP-1"),
        (None, ""),
        (Decimal("12.50"), "12.50"),
    ],
)
def test_csv_cells_never_start_like_a_formula(value, cell):
    assert overview.csv_safe(value) == cell
