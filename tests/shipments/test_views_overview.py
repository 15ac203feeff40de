"""The dashboard at "/", the shipment list and its CSV export, as pages."""

import csv
import io
import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from shipments.choices import ShipmentStatus as S
from shipments.models import Shipment
from tests.conftest import days, force_status
from tests.factories import TrialFactory

DASHBOARD = reverse("home")
LIST = reverse("shipments:list")
EXPORT = reverse("shipments:export")


def _csv(response) -> list[list[str]]:
    assert response.streaming
    text = b"".join(response.streaming_content).decode("utf-8")
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))


def _references(html: str) -> list[str]:
    return [ref for ref in re.findall(r'href="/shipments/([^/"]+)/"', html) if ref != "new"]


def test_anonymous_is_sent_to_sign_in(client, world):
    for url in (DASHBOARD, LIST, EXPORT):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))


# Dashboard


def test_dashboard_shows_counts_charts_risks_and_deliveries(client, world):
    world.trial.title = "A phase III study of ABC-123"
    world.trial.save()
    world.shipment(destination_country="IN")
    held = force_status(world.shipment(), S.CUSTOMS_HOLD)
    moving = force_status(world.shipment(required_at_site_date=days(20)), S.IN_TRANSIT)
    client.force_login(world.alice)
    response = client.get(DASHBOARD)
    assert response.status_code == 200
    html = response.content.decode()
    board = response.context["board"]
    assert (board.total, board.preparing, board.under_way, board.at_risk_total) == (3, 1, 2, 1)
    # The charts: SVG with a title and a description, a text alternative, bars linking to the filtered list.
    assert 'role="img" aria-labelledby="chart-status-title chart-status-desc"' in html
    assert '<title id="chart-status-title">Shipments by status</title>' in html
    assert "3 shipments in all. Draft: 1, In transit: 1, Customs hold: 1." in html
    assert "India: 1" in html and "Brazil: 2" in html
    assert '<th scope="row">Customs hold</th><td>1</td>' in html
    assert f'href="{LIST}?status=customs_hold"' in html
    assert f'href="{LIST}?destination=BR"' in html
    assert f'href="{LIST}?at_risk=on"' in html
    # At risk and under way, by name, with their shipments' pages.
    at_risk = html[html.index('id="at-risk"') : html.index('id="upcoming-heading"')]
    assert held.get_absolute_url() in at_risk and "Held by customs" in at_risk
    assert "United States → Brazil" in at_risk
    upcoming = html[html.index('id="upcoming-heading"') :]
    assert moving.get_absolute_url() in upcoming and held.get_absolute_url() in upcoming
    assert f"{days(20):%-d %b %Y}" in upcoming
    # The trial filter names trials by protocol number and title.
    assert "SPA-301 · A phase III study of ABC-123" in html


def test_dashboard_filters_by_trial(client, world):
    other = TrialFactory(sponsor=world.sponsor_a, protocol_number="SPA-302", title="Extension study")
    world.shipment()
    in_other = world.shipment(trial=other)
    force_status(in_other, S.CUSTOMS_HOLD)
    client.force_login(world.alice)
    response = client.get(DASHBOARD, {"trial": other.pk})
    assert response.context["board"].total == 1
    html = response.content.decode()
    assert "SPA-302 · Extension study" in html
    assert f'<option value="{other.pk}" selected>' in html
    assert f'href="{LIST}?status=customs_hold&amp;trial={other.pk}"' in html


def test_dashboard_refuses_another_sponsors_trial_and_shows_all(client, world):
    world.shipment()
    client.force_login(world.alice)
    for bad in (world.trial_b.pk, "abc", "-1", "99999999999999999999999", "1.5"):
        response = client.get(DASHBOARD, {"trial": bad})
        assert response.status_code == 200
        assert response.context["board"].total == 1
        assert "That trial is not one of yours." in response.content.decode()
    assert world.trial_b.protocol_number not in client.get(DASHBOARD).content.decode()


def test_dashboard_shows_charlie_none_of_sponsor_a(client, world):
    shipment = force_status(world.shipment(), S.CUSTOMS_HOLD)
    client.force_login(world.charlie)
    response = client.get(DASHBOARD)
    html = response.content.decode()
    assert response.context["board"].total == 0
    assert shipment.reference not in html
    assert world.trial.protocol_number not in html
    assert "No shipments yet" in html
    # Asking for sponsor A's trial by id changes nothing.
    response = client.get(DASHBOARD, {"trial": world.trial.pk})
    assert response.context["board"].total == 0
    assert world.trial.protocol_number not in response.content.decode()


def test_ior_staff_see_the_same_dashboard_for_their_shipments(client, world):
    held = force_status(world.shipment(), S.CUSTOMS_HOLD)
    world.shipment(ior=None)
    client.force_login(world.rita)
    response = client.get(DASHBOARD)
    assert response.context["board"].total == 1
    assert held.get_absolute_url() in response.content.decode()


def test_empty_dashboard_for_a_trial_offers_all_trials(client, world):
    other = TrialFactory(sponsor=world.sponsor_a, protocol_number="SPA-303")
    world.shipment()
    client.force_login(world.alice)
    html = client.get(DASHBOARD, {"trial": other.pk}).content.decode()
    assert "No shipments in SPA-303 yet" in html
    assert "Show all trials" in html


def test_dashboard_shows_the_pack_out_time_left_of_goods_on_their_way(client, world):
    held = force_status(world.shipment(temperature_class="refrigerated"), S.CUSTOMS_HOLD)
    moving = force_status(world.shipment(temperature_class="refrigerated"), S.IN_TRANSIT)
    now = timezone.now()
    Shipment.objects.filter(pk=held.pk).update(dispatched_at=now - timedelta(hours=80, minutes=1))
    Shipment.objects.filter(pk=moving.pk).update(dispatched_at=now - timedelta(hours=200))
    client.force_login(world.alice)
    body = client.get(reverse("home")).content.decode()
    # 96 h qualified for 2–8 °C, dispatched 80 h ago: under the 24 h margin, shown in red; the other has run out.
    assert re.search(r"Pack-out: 15 h 5\d min left\.", body)
    cells = re.findall(r'<td class="([^"]*)" data-label="Pack-out" data-testid="pack-out">([^<]*)<', body)
    assert any("text-danger" in css and re.fullmatch(r"15 h 5\d min left", text) for css, text in cells)
    assert any(text.startswith("ran out 4 d") for _, text in cells)


def _dashboard_queries(client, world, n: int) -> int:
    for i in range(n):
        force_status(world.shipment(items=2, planned_ship_date=days(30 + i)), S.CUSTOMS_HOLD)
        force_status(world.shipment(required_at_site_date=days(20)), S.IN_TRANSIT)
        world.shipment(destination_country=["BR", "IN", "MX"][i % 3])
    client.force_login(world.alice)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(DASHBOARD)
    assert response.context["board"].total == Shipment.objects.count()
    return len(queries)


@pytest.mark.usefixtures("requirements")
def test_dashboard_queries_do_not_grow_with_the_shipments(client, world):
    assert _dashboard_queries(client, world, 4) == _dashboard_queries(client, world, 8)


# The list


def test_list_shows_each_shipment_by_name(client, world):
    world.trial.title = "A phase III study of ABC-123"
    world.trial.save()
    shipment = force_status(world.shipment(items=3, destination_country="IN"), S.IN_TRANSIT)
    client.force_login(world.alice)
    response = client.get(LIST)
    html = response.content.decode()
    row = html[html.index(f'href="{shipment.get_absolute_url()}"') :]
    row = row[: row.index("</tr>")]
    assert "SPA-301" in row and "A phase III study of ABC-123" in row
    assert "United States → India" in row
    assert 'data-status="in_transit">In transit</span>' in row
    assert "Brasil IOR Ltda" in row
    assert "3 items" in row and "USD 36,000.00" in row
    local = timezone.localtime(Shipment.objects.get(pk=shipment.pk).updated_at)
    assert f"{local:%-d %b %Y %H:%M}" in row
    assert "1 shipment" in html


def test_list_filters_and_keeps_them_in_the_export_link(client, world):
    wanted = force_status(world.shipment(reference="SHP-2612-AAA", destination_country="IN"), S.IN_TRANSIT)
    world.shipment(reference="SHP-2612-BBB", destination_country="IN")
    force_status(world.shipment(reference="SHP-2612-CCC"), S.IN_TRANSIT)
    client.force_login(world.alice)
    params = {"status": ["in_transit", "customs_hold"], "destination": "IN", "q": "2612", "sort": "reference"}
    response = client.get(LIST, params)
    html = response.content.decode()
    assert _references(html) == [wanted.reference]
    assert "1 shipment match these filters" in html
    assert response.context["selected_statuses"] == ["in_transit", "customs_hold"]
    export = response.context["export_url"]
    assert export.startswith(EXPORT + "?")
    assert "status=in_transit" in export and "status=customs_hold" in export and "destination=IN" in export
    rows = _csv(client.get(export))
    assert [row[0] for row in rows[1:]] == [wanted.reference]


def test_list_shows_the_shipments_at_risk_the_dashboard_counts(client, world):
    held = force_status(world.shipment(), S.CUSTOMS_HOLD)
    world.shipment(planned_ship_date=days(60))
    client.force_login(world.alice)
    html = client.get(LIST, {"at_risk": "on"}).content.decode()
    assert _references(html) == [held.reference]
    assert 'name="at_risk" class="form-check-input" id="id_at_risk" checked' in html
    rows = _csv(client.get(EXPORT, {"at_risk": "on"}))
    assert [row[0] for row in rows[1:]] == [held.reference]


def test_list_sorts_by_whitelisted_keys_only(client, world):
    for ref, n in (("SHP-B", 5), ("SHP-A", 9), ("SHP-C", 1)):
        world.shipment(reference=ref, planned_ship_date=days(n))
    client.force_login(world.alice)
    assert _references(client.get(LIST, {"sort": "reference"}).content.decode()) == ["SHP-A", "SHP-B", "SHP-C"]
    assert _references(client.get(LIST, {"sort": "-ship_date"}).content.decode()) == ["SHP-A", "SHP-B", "SHP-C"]
    assert _references(client.get(LIST, {"sort": "ship_date"}).content.decode()) == ["SHP-C", "SHP-B", "SHP-A"]
    html = client.get(LIST, {"sort": "ship_date"}).content.decode()
    assert 'aria-sort="ascending"' in html
    assert "sort=-ship_date" in html  # the column's link now reverses it
    for bad in ("id", "password", "trial__sponsor__name", "-", "?"):
        response = client.get(LIST, {"sort": bad})
        assert response.status_code == 200
        assert response.context["sort"] == "-updated"


def test_list_paginates_by_fifty_and_survives_bad_page_numbers(client, world):
    for i in range(120):
        world.shipment(reference=f"SHP-P-{i:03d}", items=0)
    client.force_login(world.alice)
    first = client.get(LIST, {"sort": "reference"})
    assert len(_references(first.content.decode())) == 50
    last = client.get(LIST, {"sort": "reference", "page": "3"})
    refs = _references(last.content.decode())
    assert refs[0] == "SHP-P-100" and len(refs) == 20
    assert "101–120 of 120" in last.content.decode()
    assert "?sort=reference&amp;page=2" in last.content.decode()
    for bad, number in (("abc", 1), ("0", 3), ("-4", 3), ("999", 3), ("99999999999999999999999", 3), ("1.5", 1)):
        response = client.get(LIST, {"page": bad})
        assert response.status_code == 200
        assert response.context["page"].number == number


def test_bad_filters_show_errors_and_are_left_out(client, world):
    world.shipment()
    client.force_login(world.alice)
    bad = {
        "status": ["bogus"],
        "trial": "99999999999999999999999",
        "origin": "ZZ",
        "temperature": "lukewarm",
        "ship_from": "2026-13-45",
        "q": "x" * 41,
    }
    response = client.get(LIST, bad)
    assert response.status_code == 200
    form = response.context["form"]
    assert set(form.errors) == set(bad)
    assert len(_references(response.content.decode())) == 1
    html = response.content.decode()
    assert "Some filters could not be used and were left out" in html
    assert 'class="form-control form-control-sm is-invalid"' in html
    reversed_range = client.get(LIST, {"ship_from": "2027-02-01", "ship_to": "2027-01-01"})
    assert "The end of the range is before its start." in reversed_range.content.decode()
    assert client.get(EXPORT, bad).status_code == 200
    assert client.get(LIST, {"q": "\x00"}).status_code == 200


def test_empty_list_offers_to_clear_the_filters(client, world):
    world.shipment()
    client.force_login(world.alice)
    html = client.get(LIST, {"q": "NOTHING-LIKE-THIS"}).content.decode()
    assert "No shipments match these filters" in html
    assert f'href="{LIST}">Clear filters</a>' in html
    assert "Export CSV" not in html


def test_charlie_lists_and_exports_none_of_sponsor_a(client, world):
    shipment = world.shipment()
    client.force_login(world.charlie)
    html = client.get(LIST).content.decode()
    assert shipment.reference not in html
    assert "No shipments yet" in html
    assert world.trial.protocol_number not in html
    response = client.get(LIST, {"trial": world.trial.pk, "q": shipment.reference})
    assert shipment.reference not in _references(response.content.decode())
    assert "trial" in response.context["form"].errors
    rows = _csv(client.get(EXPORT, {"trial": world.trial.pk}))
    assert rows[1:] == []


def test_the_cro_lists_its_sponsors_shipments(client, world):
    shipment = world.shipment()
    client.force_login(world.carl)
    assert _references(client.get(LIST).content.decode()) == [shipment.reference]


def _list_queries(client, world, n: int, url: str) -> int:
    for i in range(n):
        world.shipment(items=2, destination_country=["BR", "IN", "MX"][i % 3])
    client.force_login(world.alice)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, {"sort": "destination", "status": ["draft"]})
        if response.streaming:
            assert len(_csv(response)) == Shipment.objects.count() + 1
    assert response.status_code == 200
    return len(queries)


@pytest.mark.parametrize("url", [LIST, EXPORT])
def test_list_and_export_queries_do_not_grow_with_the_shipments(client, world, url):
    assert _list_queries(client, world, 5, url) == _list_queries(client, world, 15, url)


# The CSV


def test_export_streams_every_page_of_the_filtered_sorted_list(client, world):
    for i in range(60):
        world.shipment(reference=f"SHP-E-{i:03d}")
    force_status(world.shipment(reference="SHP-E-HELD"), S.CUSTOMS_HOLD)
    client.force_login(world.alice)
    response = client.get(EXPORT, {"status": "draft", "sort": "-reference", "page": "2"})
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == f'attachment; filename="shipments-{timezone.localdate():%Y-%m-%d}.csv"'
    rows = _csv(response)
    assert rows[0][:4] == ["Reference", "Trial", "Trial title", "Status"]
    assert rows[0][-1] == "Updated (UTC)"
    assert [row[0] for row in rows[1:]] == [f"SHP-E-{i:03d}" for i in reversed(range(60))]
    first = dict(zip(rows[0], rows[1], strict=True))
    assert first["Status"] == "Draft"
    assert first["Destination country"] == "Brazil"
    assert first["Importer of record"] == "Brasil IOR Ltda"
    assert first["Items"] == "1"
    assert first["Declared value"] == "12000.00"


def test_export_names_the_readers_time_zone(client, world):
    world.alice.time_zone = "America/Sao_Paulo"
    world.alice.save()
    shipment = world.shipment()
    client.force_login(world.alice)
    rows = _csv(client.get(EXPORT))
    assert rows[0][-1] == "Updated (America/Sao_Paulo)"
    updated = Shipment.objects.get(pk=shipment.pk).updated_at
    assert rows[1][-1].endswith("-03:00")
    assert rows[1][-1][:16] == timezone.localtime(updated, timezone.get_fixed_timezone(-180)).isoformat()[:16]


def test_export_defuses_formulas(client, world):
    trial = TrialFactory(sponsor=world.sponsor_a, protocol_number="=1+1", title='=HYPERLINK("http://evil")')
    world.shipment(trial=trial, reference="@SUM(A1)")
    client.force_login(world.alice)
    row = _csv(client.get(EXPORT))[1]
    assert row[:3] == ["'@SUM(A1)", "'=1+1", """'=HYPERLINK("http://evil")"""]
