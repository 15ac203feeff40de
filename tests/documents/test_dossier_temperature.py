"""The dossier's temperature section: the requirement, the readings' figures, the chart in UTC, each logger's record
with its file's hash, every excursion, and sponsor QA's signed disposition; in a fixed number of queries however many
logs, and in the rendered PDF."""

import re
import subprocess

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from documents.dossier import dossier_context, dossier_html, dossier_request
from shipments.coldchain.services import coldchain_disposition_record, temperature_log_import
from shipments.models import Shipment
from tests.conftest import force_status
from tests.factories import DEMO_PASSWORD, UserFactory
from tests.shipments.test_coldchain_import import START, trace_csv, upload


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


@pytest.fixture
def shipment(world, media):
    return force_status(world.shipment(temperature_class="refrigerated"), "in_transit")


def import_log(world, shipment, serial, **trace):
    return temperature_log_import(
        actor=world.sam, shipment=shipment, logger_serial=serial, uploaded_file=upload(trace_csv(**trace))
    )


def section(html: str) -> str:
    start = html.index('<section id="temperature">')
    return html[start : html.index("</section>", start)]


def test_the_section_shows_figures_chart_logs_and_excursions_in_utc(world, shipment):
    log = import_log(world, shipment, "TT-42")
    import_log(world, shipment, "ZX-9", spikes=((200, 230, 1.0),))
    html = section(dossier_html(Shipment.objects.get(pk=shipment.pk)))
    assert '<span class="number">2</span>Temperature record' in html
    assert "Refrigerated (2–8 °C)" in html and "2 to 8 °C" in html
    assert "2,880 from 2 logs" in html
    assert "1.00 / 9.00 °C" in html
    assert re.search(r"<strong class=\"check-bad\">50\.0 min</strong> of a 30 min budget: exceeded", html)
    assert "In quarantine: awaiting sponsor QA" in html
    assert '<svg xmlns="http://www.w3.org/2000/svg" class="temperature-chart" id="dossier-temperature-chart"' in html
    assert "Time (UTC)" in html and "Times in UTC." in html
    assert log.sha256 in html
    rows = re.findall(r'<td class="check-bad">(Above|Below) range</td>', html)
    assert rows == ["Below", "Above"]  # in time order over both loggers
    assert "2026-03-01 18:00:00" in html and "2026-03-01 18:20:00" in html  # 600 minutes after 08:00 UTC


def test_a_signed_disposition_is_printed_with_its_signer(world, shipment):
    import_log(world, shipment, "TT-42")
    quinn = UserFactory(username="quinn", first_name="Quinn", organization=world.sponsor_a, roles=["qa"])
    disposition = coldchain_disposition_record(
        actor=quinn,
        shipment=shipment,
        decision="release",
        reason="Stability covers 20 min at 9 °C.",
        password=DEMO_PASSWORD,
    )
    html = section(dossier_html(Shipment.objects.get(pk=shipment.pk)))
    assert "Cold-chain disposition: Release: the goods may be delivered and used" in html
    assert "Stability covers 20 min at 9 °C." in html
    assert disposition.signature.manifest_sha256 in html
    assert '<strong class="check-ok">Released by sponsor QA</strong>' in html


@pytest.mark.parametrize(
    ("temperature_class", "message"),
    [
        ("refrigerated", "No logger record has been filed for this shipment."),
        ("ambient", "Ambient shipment; no logger record has been filed."),
    ],
)
def test_without_logs_the_section_says_so(world, media, temperature_class, message):
    plain = world.shipment(temperature_class=temperature_class)
    html = section(dossier_html(plain))
    assert message in html
    assert "<svg" not in html


def test_the_section_costs_the_same_queries_with_one_or_three_logs(world, media):
    small = force_status(world.shipment(temperature_class="refrigerated"), "in_transit")
    large = force_status(world.shipment(temperature_class="refrigerated"), "in_transit")
    import_log(world, small, "A", spikes=((100, 110, 9.0),))
    for index in range(3):
        import_log(world, large, f"L-{index}", spikes=((100 + index, 110 + index, 9.0),), start=START)
    counts = []
    for shipment in (small, large):
        with CaptureQueriesContext(connection) as queries:
            context = dossier_context(Shipment.objects.get(pk=shipment.pk))
            dossier_html(Shipment.objects.get(pk=shipment.pk))
        counts.append(len(queries))
    assert counts[0] == counts[1], counts
    assert len(context["temperature"].logs) == 3 and len(context["temperature"].excursions) == 3


def test_the_rendered_pdf_holds_the_temperature_section(world, shipment, django_capture_on_commit_callbacks):
    import_log(world, shipment, "TT-42")
    with django_capture_on_commit_callbacks(execute=True):
        artifact = dossier_request(actor=world.alice, shipment=shipment)
    artifact.refresh_from_db()
    assert artifact.status == "ready", artifact.error
    text = subprocess.run(["pdftotext", artifact.file.path, "-"], capture_output=True, check=True, text=True).stdout
    assert "2 Temperature record" in text
    assert "Temperature record (1 log, 1 excursion)" in text  # the contents on the cover
    assert "upper limit 8 °C" in text and "lower limit 2 °C" in text  # the chart's own text
    assert "Time (UTC)" in text
    assert "Above range" in text and "2026-03-01 18:00:00" in text
    assert "6 Audit trail" in text
