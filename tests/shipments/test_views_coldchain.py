"""The cold chain on the shipment page: the card (range, pack-out, summary, chart, logs with their excursions),
uploading a logger's export with htmx and without, the quarantine banner and sponsor QA's signed disposition in its
modal, the pack-out clock in a customs hold; who may do what, charlie's 404, and a query count that does not grow with
the logs."""

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from documents.models import ElectronicSignature
from shipments.choices import QuarantineStatus
from shipments.coldchain.services import temperature_log_import
from shipments.models import ColdChainDisposition, Excursion, Shipment, TemperatureLog, TemperatureSeries
from tests.conftest import force_status, warm_query_counts
from tests.factories import DEMO_PASSWORD, UserFactory
from tests.shipments.test_coldchain_import import (
    MALFORMED,
    START,
    multipart_with_garbage,
    post_streamed,
    trace_csv,
    upload,
)
from tests.shipments.test_views_detail import section

HTMX = {"HTTP_HX_REQUEST": "true"}
BAD_FILE = b"Timestamp,Temp\n2026-03-01 08:00,5.0\n2026-03-01 08:01,n/a\n"


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


@pytest.fixture
def shipment(world, media):
    """Sponsor A's refrigerated shipment, in transit."""
    return force_status(world.shipment(temperature_class="refrigerated"), "in_transit")


@pytest.fixture
def quinn(world):
    """Sponsor A's quality assurance."""
    return UserFactory(username="quinn", first_name="Quinn", organization=world.sponsor_a, roles=["qa"])


def upload_url(shipment) -> str:
    return reverse("shipments:temperature_log_upload", args=[shipment.reference])


def disposition_url(shipment) -> str:
    return reverse("shipments:coldchain_disposition", args=[shipment.reference])


def page(client, user, shipment) -> str:
    client.force_login(user)
    response = client.get(shipment.get_absolute_url())
    assert response.status_code == 200
    return response.content.decode()


def import_log(world, shipment, serial="TT-42", **trace) -> TemperatureLog:
    return temperature_log_import(
        actor=world.sam,
        shipment=shipment,
        logger_serial=serial,
        uploaded_file=upload(trace_csv(**trace), name=f"{serial}.csv"),
    )


def stored() -> tuple[int, int, int]:
    return TemperatureLog.objects.count(), TemperatureSeries.objects.count(), Excursion.objects.count()


def files_in(media) -> list:
    return [p for p in media.rglob("*") if p.is_file()]


def invalid_feedback(html: str, field_id: str) -> str:
    match = re.search(rf'<div class="invalid-feedback[^"]*" id="{field_id}-error">(.*?)</div>', html, re.S)
    return match.group(1) if match else ""


# --- who sees and who may ---------------------------------------------------------------------------------------------


def test_anonymous_posts_are_sent_to_sign_in(client, shipment):
    for url in (upload_url(shipment), disposition_url(shipment)):
        response = client.post(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))


def test_charlie_gets_404_and_stores_nothing(client, world, shipment, media):
    client.force_login(world.charlie)
    assert client.get(shipment.get_absolute_url()).status_code == 404
    response = client.post(upload_url(shipment), {"logger_serial": "TT-42", "file": upload(trace_csv())}, **HTMX)
    assert response.status_code == 404
    assert shipment.reference not in response.content.decode()
    response = client.post(disposition_url(shipment), {"decision": "release", "reason": "x", "password": "y"})
    assert response.status_code == 404
    assert stored() == (0, 0, 0)
    assert files_in(media) == []


@pytest.mark.parametrize("persona", ["victor", "eddie"])
def test_a_viewer_or_the_exporter_sees_why_and_cannot_upload(client, world, shipment, persona, media):
    user = getattr(world, persona)
    card = section(page(client, user, shipment), "cold-chain")
    assert 'id="temperature-log-form"' not in card
    refusal = section(card, "temperature-log-refusal")
    assert "may upload temperature logs of this shipment." in refusal
    response = client.post(upload_url(shipment), {"logger_serial": "TT-42", "file": upload(trace_csv())})
    assert response.status_code == 400
    form = section(response.content.decode(), "cold-chain")
    assert "may upload temperature logs of this shipment." in form
    assert stored() == (0, 0, 0)
    assert files_in(media) == []


def test_an_ambient_shipment_without_logs_has_no_card_a_refrigerated_one_invites_the_first_log(client, world, media):
    ambient = force_status(world.shipment(temperature_class="ambient"), "in_transit")
    assert 'id="cold-chain"' not in page(client, world.sam, ambient)
    refrigerated = force_status(world.shipment(temperature_class="refrigerated"), "in_transit")
    card = section(page(client, world.sam, refrigerated), "cold-chain")
    assert "No logger record yet." in card
    assert "2 to 8 °C" in card
    assert f'hx-post="{upload_url(refrigerated)}"' in card and 'enctype="multipart/form-data"' in card
    assert "<svg" not in card
    import_log(world, ambient)
    assert 'id="cold-chain"' in page(client, world.sam, ambient)


# --- uploading --------------------------------------------------------------------------------------------------------


def test_an_htmx_upload_answers_the_card_with_the_excursion_and_the_quarantine(client, world, shipment):
    client.force_login(world.sam)
    response = client.post(
        upload_url(shipment),
        {"logger_serial": "TT-42", "file": upload(trace_csv(), name="tt42-export.csv"), "timezone": ""},
        **HTMX,
    )
    assert response.status_code == 200
    assert response["HX-Trigger"] == "documents-changed"
    card = response.content.decode()
    assert card.startswith('<section class="card shadow-sm mb-4" id="cold-chain"')
    assert "Logger TT-42: 1,440 readings from “tt42-export.csv” stored, 1 excursion found." in card
    excursion = section(card, f"excursion-{Excursion.objects.get().pk}")
    assert "Above range" in excursion
    assert "1 Mar 2026 18:00 UTC</time> to <time" in excursion and "1 Mar 2026 18:20 UTC" in excursion
    assert "<strong>20 min</strong>, peak 9.0 °C" in excursion
    assert 'data-quarantine="quarantined"' in card
    assert "Goods in quarantine since" in section(card, "quarantine-banner")
    assert card.count('class="chart-excursion"') == 2  # the wide chart and the narrow one
    assert 'role="img" aria-labelledby="cold-chain-chart-title cold-chain-chart-desc"' in card
    assert "9.0 °C" in section(card, "cold-chain-summary")
    budget = section(card, "cold-chain-budget")
    assert re.search(r"20 <span[^>]*>of 30 min</span>", budget) and "10 min left" in budget
    assert Shipment.objects.get(pk=shipment.pk).quarantine_status == QuarantineStatus.QUARANTINED


def test_a_plain_upload_redirects_to_the_card_with_a_message(client, world, shipment):
    client.force_login(world.alice)
    response = client.post(upload_url(shipment), {"logger_serial": "TT-42", "file": upload(trace_csv(spikes=()))})
    assert response.status_code == 302
    assert response["Location"] == f"{shipment.get_absolute_url()}#cold-chain"
    body = client.get(response["Location"]).content.decode()
    assert "Logger TT-42: 1,440 readings from “logger.csv” stored, no excursion." in body
    logs = section(body, "temperature-logs")
    assert "TT-42" in logs and "Alice" in logs
    assert 'data-quarantine="' not in section(body, "cold-chain")


def test_a_bad_file_shows_its_line_next_to_the_field_and_stores_nothing(client, world, shipment, media):
    client.force_login(world.sam)
    response = client.post(
        upload_url(shipment), {"logger_serial": "TT-42", "file": upload(BAD_FILE, name="bad.csv")}, **HTMX
    )
    assert response.status_code == 200
    card = response.content.decode()
    error = invalid_feedback(card, "temperature-log-file")
    assert error.startswith("line 3: &#x27;n/a&#x27;")
    assert 'class="form-control is-invalid" aria-invalid="true" aria-describedby="temperature-log-file-error"' in card
    assert 'value="TT-42"' in card
    assert "HX-Trigger" not in response
    assert stored() == (0, 0, 0)
    assert files_in(media) == []


def test_without_htmx_a_bad_file_re_renders_the_page_with_the_error_in_place(client, world, shipment, media):
    client.force_login(world.sam)
    response = client.post(upload_url(shipment), {"logger_serial": "TT-42", "file": upload(b"")})
    assert response.status_code == 400
    body = response.content.decode()
    assert invalid_feedback(section(body, "cold-chain"), "temperature-log-file") == "the file is empty"
    assert 'value="TT-42"' in section(body, "temperature-log-form")
    assert shipment.reference in section(body, "shipment-actions")
    assert stored() == (0, 0, 0)


@pytest.mark.parametrize("case", MALFORMED, ids=list(MALFORMED))
def test_every_malformed_file_is_shown_next_to_the_field_and_stores_nothing(client, world, shipment, media, case):
    content, message = MALFORMED[case]
    client.force_login(world.sam)
    response = client.post(upload_url(shipment), {"logger_serial": "TT-42", "file": upload(content)}, **HTMX)
    assert response.status_code == 200
    assert escape(message) in invalid_feedback(response.content.decode(), "temperature-log-file")
    assert "HX-Trigger" not in response
    assert stored() == (0, 0, 0)
    assert files_in(media) == []


@pytest.mark.parametrize("htmx", [True, False], ids=["htmx", "plain"])
def test_100_mb_of_garbage_is_refused_by_its_size_and_stores_nothing(
    client, world, shipment, media, tmp_path_factory, htmx
):
    body = multipart_with_garbage(tmp_path_factory.mktemp("upload") / "body", fields={"logger_serial": "TT-42"})
    client.force_login(world.sam)
    response = post_streamed(client, upload_url(shipment), body, **(HTMX if htmx else {}))
    assert response.status_code == (200 if htmx else 400)
    error = invalid_feedback(response.content.decode(), "temperature-log-file")
    assert error.startswith("the file is 100.0 MB; a logger export may be at most 80.0 MB")
    assert stored() == (0, 0, 0)
    assert files_in(media) == []


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"logger_serial": "  ", "timezone": ""}, "logger_serial", "This field is required."),
        ({"logger_serial": "TT", "timezone": "Mars/Olympus"}, "timezone", "is not a time zone name"),
    ],
)
def test_a_missing_serial_or_an_unknown_zone_is_shown_next_to_its_field(client, world, shipment, data, field, message):
    client.force_login(world.sam)
    response = client.post(upload_url(shipment), {**data, "file": upload(trace_csv())}, **HTMX)
    assert message in invalid_feedback(response.content.decode(), f"temperature-log-{field}")
    assert stored() == (0, 0, 0)


def test_the_same_file_twice_is_refused_above_the_form(client, world, shipment):
    import_log(world, shipment)
    client.force_login(world.sam)
    response = client.post(upload_url(shipment), {"logger_serial": "TT-42", "file": upload(trace_csv())}, **HTMX)
    form = section(response.content.decode(), "temperature-log-form")
    assert "This file was already imported into" in form and 'class="alert alert-danger' in form
    assert TemperatureLog.objects.count() == 1


def test_forged_or_missing_fields_are_form_errors_not_500(client, world, shipment):
    client.force_login(world.sam)
    response = client.post(upload_url(shipment), {"logger_serial": "x" * 500}, **HTMX)
    assert response.status_code == 200
    card = response.content.decode()
    assert "Ensure this value has at most 64 characters" in invalid_feedback(card, "temperature-log-logger_serial")
    assert "This field is required." in invalid_feedback(card, "temperature-log-file")
    assert client.get(upload_url(shipment)).status_code == 405


# --- the card ---------------------------------------------------------------------------------------------------------


def test_the_card_shows_range_summary_chart_and_each_log_with_its_excursions(client, world, shipment):
    world.alice.time_zone = "America/Sao_Paulo"
    world.alice.save()
    first = import_log(world, shipment, "TT-42")
    second = import_log(world, shipment, "ZX-9", spikes=((200, 230, 1.0),))
    card = section(page(client, world.alice, shipment), "cold-chain")
    assert "Refrigerated (2–8 °C)" in card
    assert "2 to 8 °C" in card and "96 h" in card and "30 min out of range" in card
    summary = section(card, "cold-chain-summary")
    assert "1.0 °C" in summary and "9.0 °C" in summary and "MKT" in summary
    budget = section(card, "cold-chain-budget")
    assert re.search(r"50 <span[^>]*>of 30 min</span>", budget)
    assert "Budget exceeded" in budget and "20 above, 30 below" in budget
    assert "2,880 readings from 2 logs" in card
    logs = section(card, "temperature-logs")
    assert "TT-42.csv" in logs and "ZX-9.csv" in logs and "Sam" in logs
    assert "1 Mar 2026 05:00 -03" in logs  # 08:00 UTC in the reader's zone
    below = section(logs, f"temperature-log-{second.pk}")
    assert "Below range" in below and "1 Mar 2026 08:20 -03" in below and "low 1.0 °C" in below
    assert "Above range" in section(logs, f"temperature-log-{first.pk}")
    assert "Time (America/Sao_Paulo)" in card
    assert "Logger TT-42" in card and "Logger ZX-9" in card  # the legend


def test_the_page_with_the_card_has_no_inline_script_style_or_handler(client, world, shipment, quinn):
    import_log(world, shipment)
    body = page(client, quinn, shipment)
    assert 'id="disposition-modal"' in body
    assert not re.search(r"<script(?![^>]*\bsrc=)", body)
    assert not re.search(r"\sstyle=\"", body)
    assert not re.search(r"\son[a-z]+=\"", body)
    assert "<style" not in body


def _grow(world, shipment, n):
    for index in range(n):
        import_log(world, shipment, f"L-{index}", spikes=((100 + index, 110 + index, 9.0),), start=START)


@pytest.mark.parametrize("persona", ["alice", "ivan"])
def test_queries_do_not_grow_with_logs_and_excursions(client, world, media, persona):
    small = force_status(world.shipment(temperature_class="refrigerated"), "in_transit")
    large = force_status(world.shipment(temperature_class="refrigerated"), "in_transit")
    _grow(world, small, 1)
    _grow(world, large, 3)
    client.force_login(getattr(world, persona))
    counts, response = warm_query_counts(client, [s.get_absolute_url() for s in (small, large)])
    assert counts[0] == counts[1], counts
    card = section(response.content.decode(), "cold-chain")
    assert card.count('<tbody id="temperature-log-') == 3
    assert card.count('class="excursion"') == 3
    assert card.count("<title>Logger L-") == 2 * 3  # one curve per log, in each of the two charts


def test_the_htmx_card_answer_needs_the_same_queries_with_one_or_three_logs(client, world, media):
    small = force_status(world.shipment(temperature_class="refrigerated"), "in_transit")
    large = force_status(world.shipment(temperature_class="refrigerated"), "in_transit")
    _grow(world, small, 1)
    _grow(world, large, 3)
    client.force_login(world.sam)
    counts = []
    for shipment in (small, large):
        with CaptureQueriesContext(connection) as queries:
            response = client.post(upload_url(shipment), {"logger_serial": "X", "file": upload(BAD_FILE)}, **HTMX)
        assert response.status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1], counts


# --- quarantine, disposition and the pack-out clock -------------------------------------------------------------------


def test_only_sponsor_qa_gets_the_disposition_modal(client, world, shipment, quinn):
    import_log(world, shipment)
    qa_card = section(page(client, quinn, shipment), "cold-chain")
    assert 'data-bs-target="#disposition-modal"' in qa_card
    modal = section(qa_card, "disposition-modal")
    assert f'hx-post="{disposition_url(shipment)}"' in modal
    for decision in ("release", "reject", "destroy"):
        assert f'value="{decision}"' in modal
    assert 'type="password" name="password"' in modal and 'autocomplete="current-password"' in modal
    assert "1 excursion, 20 min out of 2 to 8 °C against a budget of 30 min" in modal
    for persona in ("alice", "mona", "carl", "rita"):
        card = section(page(client, getattr(world, persona), shipment), "cold-chain")
        assert "Goods in quarantine since" in card
        assert "disposition-modal" not in card


def test_a_wrong_password_comes_back_in_the_modal_and_decides_nothing(client, world, shipment, quinn):
    import_log(world, shipment)
    client.force_login(quinn)
    response = client.post(
        disposition_url(shipment),
        {"decision": "release", "reason": "Stability data cover 20 min at 9 °C.", "password": "wrong"},
        **HTMX,
    )
    assert response.status_code == 200
    form = response.content.decode()
    assert form.startswith('<form id="disposition-form"')
    assert "the disposition was not recorded" in invalid_feedback(form, "disposition-password")
    assert 'value="release" class="form-check-input" id="disposition-decision_0" required checked' in form
    assert "Stability data cover 20 min at 9 °C." in form
    assert "wrong" not in form
    assert not ColdChainDisposition.objects.exists()
    assert Shipment.objects.get(pk=shipment.pk).quarantine_status == QuarantineStatus.QUARANTINED


def test_after_three_wrong_passwords_the_lock_is_shown_above_the_form(client, world, shipment, quinn):
    import_log(world, shipment)
    client.force_login(quinn)
    data = {"decision": "reject", "reason": "Too warm.", "password": "wrong"}
    for _ in range(3):
        client.post(disposition_url(shipment), data, **HTMX)
    response = client.post(disposition_url(shipment), {**data, "password": DEMO_PASSWORD}, **HTMX)
    errors = section(response.content.decode(), "disposition-errors")
    assert "Signing is locked until" in errors
    assert not ColdChainDisposition.objects.exists()


def test_a_missing_decision_or_reason_is_shown_next_to_its_field(client, world, shipment, quinn):
    import_log(world, shipment)
    client.force_login(quinn)
    response = client.post(disposition_url(shipment), {"decision": "keep", "password": DEMO_PASSWORD}, **HTMX)
    form = response.content.decode()
    assert "Select a valid choice." in invalid_feedback(form, "disposition-decision")
    assert "This field is required." in invalid_feedback(form, "disposition-reason")
    assert not ColdChainDisposition.objects.exists()


def test_a_signed_release_reloads_the_page_which_shows_the_decision(client, world, shipment, quinn):
    import_log(world, shipment)
    client.force_login(quinn)
    response = client.post(
        disposition_url(shipment),
        {"decision": "release", "reason": "Stability data cover 20 min at 9 °C.", "password": DEMO_PASSWORD},
        **HTMX,
    )
    assert response.status_code == 200
    assert response["HX-Redirect"] == f"{shipment.get_absolute_url()}#cold-chain"
    disposition = ColdChainDisposition.objects.get()
    assert disposition.decided_by == quinn
    assert ElectronicSignature.objects.filter(pk=disposition.signature_id).exists()
    body = client.get(shipment.get_absolute_url()).content.decode()
    assert "Your signed disposition of" in body and "Released by sponsor QA" in body
    record = section(body, "disposition-record")
    assert "Released by sponsor QA" in record and "Quinn" in record and "Stability data cover 20 min" in record
    assert "quarantine-banner" not in body and "disposition-modal" not in body


def test_without_htmx_a_refused_disposition_re_renders_the_page_with_the_form_inline(client, world, shipment, quinn):
    import_log(world, shipment)
    client.force_login(quinn)
    response = client.post(disposition_url(shipment), {"decision": "destroy", "reason": "", "password": "x"})
    assert response.status_code == 400
    card = section(response.content.decode(), "cold-chain")
    assert 'id="disposition-modal"' not in card
    assert "This field is required." in invalid_feedback(section(card, "disposition-form"), "disposition-reason")
    response = client.post(
        disposition_url(shipment), {"decision": "destroy", "reason": "Frozen solid.", "password": DEMO_PASSWORD}
    )
    assert response.status_code == 302
    assert Shipment.objects.get(pk=shipment.pk).quarantine_status == QuarantineStatus.DESTRUCTION_ORDERED


def test_a_cro_editor_cannot_record_a_disposition(client, world, shipment):
    import_log(world, shipment)
    client.force_login(world.carl)
    data = {"decision": "release", "reason": "ok", "password": DEMO_PASSWORD}
    response = client.post(disposition_url(shipment), data, **HTMX)
    assert "quality assurance staff of the shipment" in section(response.content.decode(), "disposition-errors")
    response = client.post(disposition_url(shipment), data, follow=True)
    assert response.redirect_chain == [(f"{shipment.get_absolute_url()}#cold-chain", 302)]
    assert "quality assurance staff of the shipment" in response.content.decode()
    assert not ColdChainDisposition.objects.exists()


def test_a_decision_when_none_is_awaited_is_refused_with_a_message(client, world, shipment, quinn):
    client.force_login(quinn)
    data = {"decision": "release", "reason": "ok", "password": DEMO_PASSWORD}
    response = client.post(disposition_url(shipment), data, follow=True)
    assert "has no goods in quarantine awaiting a disposition" in response.content.decode()
    assert not ColdChainDisposition.objects.exists()


def test_a_customs_hold_shows_the_pack_out_time_left(client, world, media):
    held = force_status(world.shipment(temperature_class="frozen"), "customs_hold")
    Shipment.objects.filter(pk=held.pk).update(dispatched_at=timezone.now() - timedelta(hours=90, minutes=1))
    clock = section(page(client, world.ivan, held), "pack-out-clock")
    assert "In customs hold: 5 h 5" in clock and "of pack-out left" in clock
    assert "qualified for 96 h from dispatch" in clock
    assert "alert-warning" in clock  # within the margin
    Shipment.objects.filter(pk=held.pk).update(dispatched_at=timezone.now() - timedelta(hours=100))
    clock = section(page(client, world.ivan, held), "pack-out-clock")
    assert "the pack-out ran out 4 h 0" in clock and "alert-danger" in clock
    in_transit = force_status(world.shipment(temperature_class="frozen"), "in_transit")
    Shipment.objects.filter(pk=in_transit.pk).update(dispatched_at=timezone.now() - timedelta(hours=10))
    body = page(client, world.ivan, in_transit)
    assert 'id="pack-out-clock"' not in body
    assert "(3 d 13 h left)" in section(body, "cold-chain")
