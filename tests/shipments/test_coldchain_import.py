"""Importing a logger's export into a shipment through the service, `manage.py import_temperature_log` and the API:
who may, when, what is stored, and that a file which cannot be read stores nothing."""

import os
from datetime import UTC, datetime
from io import StringIO
from pathlib import Path

import numpy as np
import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command

from ior_platform.core.errors import ConflictError, NotPermitted, TransitionRefused
from ior_platform.core.models import AuditEvent
from shipments.coldchain import parsing as coldchain_parsing
from shipments.coldchain import services as coldchain_services
from shipments.coldchain.selectors import cold_chain_summary
from shipments.coldchain.services import temperature_log_import
from shipments.models import Excursion, Shipment, TemperatureLog, TemperatureSeries
from tests.conftest import force_status

DATA = Path(__file__).resolve().parent.parent / "data" / "coldchain"
START = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def trace_csv(*, minutes: int = 24 * 60, spikes=((600, 620, 9.0),), start: datetime = START) -> bytes:
    """A 2–8 °C logger trace a reading a minute at 5 °C, with `spikes` as (first minute, end minute, °C)."""
    values = np.full(minutes, 5.0)
    for first, end, temperature in spikes:
        values[first:end] = temperature
    stamps = np.datetime64(start.replace(tzinfo=None)) + np.arange(minutes) * np.timedelta64(60, "s")
    rows = "\n".join(f"{s}Z,{v:.1f}" for s, v in zip(stamps.astype(str), values, strict=True))
    return f"Serial Number: TT-42\nTimestamp,Temperature (°C)\n{rows}\n".encode()


def upload(content: bytes, name: str = "logger.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="text/csv")


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


@pytest.fixture
def shipment(world, media):
    """Sponsor A's refrigerated shipment, in transit."""
    return force_status(world.shipment(temperature_class="refrigerated"), "in_transit")


def stored() -> tuple:
    return (
        TemperatureLog.objects.count(),
        TemperatureSeries.objects.count(),
        Excursion.objects.count(),
        AuditEvent.objects.filter(action__startswith="temperature_log.").count(),
    )


def files_in(media: Path) -> list[Path]:
    return [p for p in media.rglob("*") if p.is_file()]


HUNDRED_MB = 100 * 2**20
BOUNDARY = "logger-export-boundary-7f3a9c"


def multipart_with_garbage(path: Path, *, fields: dict[str, str], size: int = HUNDRED_MB) -> Path:
    """A multipart/form-data body on disk: `fields`, then a "file" part of `size` bytes of random garbage (one random
    MiB repeated), written a MiB at a time so that no test holds it in memory."""
    chunk = os.urandom(2**20)
    with path.open("wb") as body:
        for name, value in fields.items():
            body.write(f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
        body.write(
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="garbage.csv"\r\n'
            "Content-Type: text/csv\r\n\r\n".encode()
        )
        for _ in range(size // len(chunk)):
            body.write(chunk)
        body.write(chunk[: size % len(chunk)])
        body.write(f"\r\n--{BOUNDARY}--\r\n".encode())
    return path


def post_streamed(client, url: str, body: Path, **headers):
    """POST `body` as it is on disk: Django's test client would build the whole body in memory first."""
    content_type = f"multipart/form-data; boundary={BOUNDARY}"
    with body.open("rb") as stream:
        environ = {"CONTENT_TYPE": content_type, "CONTENT_LENGTH": str(body.stat().st_size), "wsgi.input": stream}
        return client.generic("POST", url, "", content_type, **environ, **headers)


# --- the service ----------------------------------------------------------------------------------------------------


def test_a_20_minute_spike_to_9_degrees_gives_one_excursion_of_20_minutes(world, shipment, media, monkeypatch):
    detected = []
    original_hook = coldchain_services.excursions_detected

    def hook(shipment, excursions, **kwargs):
        detected.append((shipment.pk, [e.pk for e in excursions]))
        original_hook(shipment, excursions, **kwargs)

    monkeypatch.setattr(coldchain_services, "excursions_detected", hook)
    log = temperature_log_import(
        actor=world.sam, shipment=shipment, logger_serial="TT-42", uploaded_file=upload(trace_csv())
    )
    excursion = Excursion.objects.get()
    assert (excursion.shipment, excursion.log) == (shipment, log)
    assert excursion.direction == "above"
    assert excursion.duration_minutes == 20
    assert excursion.started_at == datetime(2026, 3, 1, 18, 0, tzinfo=UTC)
    assert excursion.ended_at == datetime(2026, 3, 1, 18, 20, tzinfo=UTC)
    assert excursion.peak_temperature == 9.0
    assert detected == [(shipment.pk, [excursion.pk])]
    assert (log.reading_count, log.minutes_above, log.minutes_below) == (1440, 20, 0)
    assert (log.min_temperature, log.max_temperature) == (5.0, 9.0)
    assert (log.range_low, log.range_high) == (2.0, 8.0)
    assert log.first_reading_at == START and log.uploaded_by == world.sam
    assert log.delta_h == 83.144 and log.mean_kinetic_temperature > log.mean_temperature
    times, temperatures = TemperatureSeries.objects.get(log=log).arrays()
    assert times.size == 1440 and times[0] == int(START.timestamp()) and temperatures[600] == 9.0
    with log.file.open("rb") as stored_file:
        assert stored_file.read() == trace_csv()
    actions = list(AuditEvent.objects.filter(shipment=shipment).values_list("action", flat=True))
    assert actions[-2:] == ["temperature_log.imported", "temperature_log.excursions_detected"]
    hook_event = AuditEvent.objects.get(action="temperature_log.excursions_detected")
    assert hook_event.changes["excursion_count"] == [None, 1]
    assert hook_event.changes["budget_exceeded"] == [None, False]


def test_a_20_minute_spike_to_8_6_written_with_quoted_decimal_commas_gives_one_excursion(world, shipment):
    values = ["8,6" if 600 <= minute < 620 else "5,0" for minute in range(1440)]
    stamps = np.datetime64("2026-03-01T08:00") + np.arange(1440) * np.timedelta64(60, "s")
    rows = "\n".join(f'{stamp}Z,"{value}"' for stamp, value in zip(stamps.astype(str), values, strict=True))
    content = f"Serial Number: TT-42\nTimestamp,Temperature (°C)\n{rows}\n".encode()
    log = temperature_log_import(
        actor=world.sam, shipment=shipment, logger_serial="TT-42", uploaded_file=upload(content)
    )
    assert log.source_details["fast_blocks"] == 1
    assert (log.max_temperature, log.minutes_above) == (8.6, 20)
    excursion = Excursion.objects.get()
    assert (excursion.direction, excursion.duration_minutes, excursion.peak_temperature) == ("above", 20, 8.6)
    assert excursion.started_at == datetime(2026, 3, 1, 18, 0, tzinfo=UTC)
    assert Shipment.objects.get(pk=shipment.pk).quarantine_status == "quarantined"


def test_a_clean_trace_records_no_excursion_and_calls_no_hook(world, shipment, monkeypatch):
    monkeypatch.setattr(coldchain_services, "excursions_detected", lambda *a, **k: pytest.fail("called"))
    log = temperature_log_import(
        actor=world.alice, shipment=shipment, logger_serial="TT-1", uploaded_file=upload(trace_csv(spikes=()))
    )
    assert log.excursions.count() == 0 and log.minutes_above == 0


@pytest.mark.parametrize("persona", ["alice", "carl", "cora", "sam", "ivan", "rita"])
def test_the_sponsor_courier_site_and_importer_of_record_may_upload(world, shipment, persona):
    temperature_log_import(
        actor=getattr(world, persona), shipment=shipment, logger_serial="TT", uploaded_file=upload(trace_csv())
    )
    assert TemperatureLog.objects.count() == 1


@pytest.mark.parametrize("persona", ["victor", "eddie", "bruno"])
def test_viewers_the_exporter_of_record_and_the_broker_may_not(world, shipment, persona):
    with pytest.raises(NotPermitted):
        temperature_log_import(
            actor=getattr(world, persona), shipment=shipment, logger_serial="TT", uploaded_file=upload(trace_csv())
        )
    assert stored() == (0, 0, 0, 0)


def test_charlie_is_answered_as_if_the_shipment_did_not_exist(world, shipment):
    with pytest.raises(Shipment.DoesNotExist):
        temperature_log_import(
            actor=world.charlie, shipment=shipment, logger_serial="TT", uploaded_file=upload(trace_csv())
        )
    assert stored() == (0, 0, 0, 0)


@pytest.mark.parametrize("status", ["draft", "permit_collection", "dossier_review", "cancelled"])
def test_no_logs_before_approval_or_on_a_cancelled_shipment(world, shipment, status):
    shipment = force_status(shipment, status)
    with pytest.raises(TransitionRefused, match="once the shipment is approved"):
        temperature_log_import(
            actor=world.sam, shipment=shipment, logger_serial="TT", uploaded_file=upload(trace_csv())
        )


def test_a_log_may_be_filed_after_delivery(world, shipment):
    shipment = force_status(shipment, "delivered")
    temperature_log_import(actor=world.sam, shipment=shipment, logger_serial="TT", uploaded_file=upload(trace_csv()))
    assert TemperatureLog.objects.filter(shipment=shipment).exists()


MALFORMED = {
    "no header": (b"2026-03-01T08:00:00Z,5.0\n2026-03-01T08:01:00Z,5.0\n", "line 1: no header row"),
    "text in a temperature cell": (b"Timestamp,Temp\n2026-03-01 08:00,5.0\n2026-03-01 08:01,n/a\n", "line 3: 'n/a'"),
    "out of order": (b"Timestamp,Temp\n2026-03-01 08:05,5.0\n2026-03-01 08:01,5.0\n", "line 3: readings out of order"),
    "an unquoted decimal comma": (
        b"Timestamp,Temp\n2026-03-01 08:00,5,5\n",
        "line 2: the header names 2 columns, this row has 3",
    ),
    "empty": (b"", "the file is empty"),
    "garbage": (bytes(range(256)) * 400, "not a text file"),
    "a spreadsheet": (b"PK\x03\x04" + b"\x00" * 100, "Excel workbook"),
}


@pytest.mark.parametrize("case", MALFORMED, ids=list(MALFORMED))
def test_a_malformed_file_is_refused_with_its_line_and_nothing_is_stored(world, shipment, media, case):
    content, message = MALFORMED[case]
    before = stored()
    with pytest.raises(ValidationError) as refused:
        temperature_log_import(actor=world.sam, shipment=shipment, logger_serial="TT", uploaded_file=upload(content))
    assert message in refused.value.message_dict["file"][0]
    assert stored() == before
    assert files_in(media) == []


def test_a_failure_after_the_file_is_written_leaves_neither_rows_nor_file(world, shipment, media, monkeypatch):
    def hook(*args, **kwargs):
        raise RuntimeError("notification backend down")

    monkeypatch.setattr(coldchain_services, "excursions_detected", hook)
    with pytest.raises(RuntimeError):
        temperature_log_import(
            actor=world.sam, shipment=shipment, logger_serial="TT", uploaded_file=upload(trace_csv())
        )
    assert stored() == (0, 0, 0, 0)
    assert files_in(media) == []


def test_the_same_file_twice_is_a_conflict(world, shipment):
    temperature_log_import(actor=world.sam, shipment=shipment, logger_serial="TT", uploaded_file=upload(trace_csv()))
    with pytest.raises(ConflictError, match="already imported"):
        temperature_log_import(
            actor=world.ivan, shipment=shipment, logger_serial="TT", uploaded_file=upload(trace_csv())
        )
    assert stored() == (1, 1, 1, 2)


def test_the_shipment_counts_time_out_of_range_once_over_its_loggers(world, shipment):
    first = trace_csv(spikes=((600, 620, 9.0),))
    second = trace_csv(spikes=((610, 640, 8.6), (900, 905, 1.0)))
    temperature_log_import(actor=world.sam, shipment=shipment, logger_serial="A", uploaded_file=upload(first))
    temperature_log_import(actor=world.sam, shipment=shipment, logger_serial="B", uploaded_file=upload(second))
    summary = cold_chain_summary(shipment=shipment)
    assert summary.excursion_count == 3 and summary.log_count == 2
    assert (summary.minutes_above, summary.minutes_below) == (40, 5)  # 18:00–18:40 once, not 20 + 30
    assert summary.minutes_out_of_range == 45
    assert summary.excursion_budget_minutes == 30 and summary.budget_exceeded
    last_hook = AuditEvent.objects.filter(action="temperature_log.excursions_detected").last()
    assert last_hook.changes["budget_exceeded"] == [None, True]


def test_a_shipment_budget_of_its_own_overrides_the_class_default(world, shipment):
    Shipment.objects.filter(pk=shipment.pk).update(excursion_budget_minutes=60, qualified_duration_hours=72)
    shipment.refresh_from_db()
    temperature_log_import(actor=world.sam, shipment=shipment, logger_serial="A", uploaded_file=upload(trace_csv()))
    summary = cold_chain_summary(shipment=shipment)
    assert (summary.excursion_budget_minutes, summary.qualified_duration_hours) == (60, 72)
    assert not summary.budget_exceeded and summary.budget_left_minutes == 40


def test_times_without_offset_are_read_in_the_zone_given(world, shipment):
    content = b"Time,Temp\n2026-07-01 12:00,5\n2026-07-01 12:01,5\n"
    log = temperature_log_import(
        actor=world.sam, shipment=shipment, logger_serial="T", uploaded_file=upload(content), tz="Europe/Berlin"
    )
    assert log.first_reading_at == datetime(2026, 7, 1, 10, 0, tzinfo=UTC)
    assert log.source_details["timezone"] == "Europe/Berlin"


@pytest.mark.parametrize(("serial", "tz", "field"), [("  ", "UTC", "logger_serial"), ("T", "Mars/Olympus", "timezone")])
def test_bad_inputs_are_refused_before_the_file_is_read(world, shipment, serial, tz, field):
    with pytest.raises(ValidationError) as refused:
        temperature_log_import(
            actor=world.sam, shipment=shipment, logger_serial=serial, uploaded_file=upload(trace_csv()), tz=tz
        )
    assert field in refused.value.message_dict


# --- the command ----------------------------------------------------------------------------------------------------


def test_the_command_prints_the_analysis_and_the_excursion(world, shipment, tmp_path):
    path = tmp_path / "TT-42.csv"
    path.write_bytes(trace_csv())
    out = StringIO()
    call_command("import_temperature_log", shipment.reference, str(path), "--as", "sam", stdout=out)
    text = out.getvalue()
    assert f"{shipment.reference}: logger TT-42, 1,440 readings" in text  # the serial the file names
    assert "MKT" in text and "above range 20 min" in text
    assert "1 excursion:" in text
    assert "above 2026-03-01 18:00:00 to 2026-03-01 18:20:00 UTC, 20 min, peak 9.00 °C" in text
    assert TemperatureLog.objects.get().uploaded_by == world.sam


def test_the_command_reads_the_file_once_to_find_its_serial_and_import_it(world, shipment, tmp_path, monkeypatch):
    reads = []
    original = coldchain_parsing.parse_logger_file

    def counting(*args, **kwargs):
        reads.append(args)
        return original(*args, **kwargs)

    monkeypatch.setattr(coldchain_parsing, "parse_logger_file", counting)
    monkeypatch.setattr(coldchain_services, "parse_logger_file", counting)
    path = tmp_path / "TT-42.csv"
    path.write_bytes(trace_csv())
    call_command("import_temperature_log", shipment.reference, str(path), stdout=StringIO())
    assert len(reads) == 1
    assert TemperatureLog.objects.get().logger_serial == "TT-42"


def test_the_command_asks_for_a_serial_the_file_does_not_name(world, shipment, tmp_path):
    path = tmp_path / "anonymous.csv"
    path.write_bytes(b"Timestamp,Temp\n2026-03-01 08:00,5.0\n")
    with pytest.raises(CommandError, match=r"anonymous\.csv does not name its logger; give --serial"):
        call_command("import_temperature_log", shipment.reference, str(path), stdout=StringIO())
    assert stored() == (0, 0, 0, 0)


def test_the_command_imports_a_vendor_export_as_the_platform(world, shipment):
    out = StringIO()
    call_command(
        "import_temperature_log", shipment.reference, str(DATA / "ct20_preamble_latin1.csv"), "--tz", "UTC", stdout=out
    )
    log = TemperatureLog.objects.get()
    assert log.logger_serial == "CT20-558812" and log.uploaded_by is None
    assert log.minutes_below == 20
    assert "1 excursion:" in out.getvalue() and "below" in out.getvalue()
    assert AuditEvent.objects.get(action="temperature_log.imported").actor_label == "system"


def test_the_command_imports_a_toa5_file_with_a_serial_given(world, shipment):
    out = StringIO()
    call_command(
        "import_temperature_log",
        shipment.reference,
        str(DATA / "toa5_cr1000.dat"),
        "--serial",
        "CR1000-41277",
        stdout=out,
    )
    log = TemperatureLog.objects.get()
    assert (log.layout, log.logger_serial, log.reading_count, log.minutes_above) == ("toa5", "CR1000-41277", 12, 30)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["SHP-NOPE", "x.csv"], "no shipment SHP-NOPE"),
        (["{ref}", "{bad}", "--serial", "S"], "file: line 3: 'n/a' is not a temperature"),
        (["{ref}", "{good}", "--as", "nobody"], "no active user 'nobody'"),
        (["{ref}", "{good}", "--as", "eddie"], "only editors"),
        (["{ref}", "/does/not/exist.csv", "--serial", "S"], "cannot read"),
    ],
)
def test_the_command_fails_with_one_line(world, shipment, tmp_path, args, message):
    bad, good = tmp_path / "bad.csv", tmp_path / "good.csv"
    bad.write_bytes(MALFORMED["text in a temperature cell"][0])
    good.write_bytes(trace_csv())
    args = [a.format(ref=shipment.reference, bad=bad, good=good) for a in args]
    with pytest.raises(CommandError) as failed:
        call_command("import_temperature_log", *args, stdout=StringIO())
    assert message in str(failed.value)
    assert "\n" not in str(failed.value)
    assert stored() == (0, 0, 0, 0)


# --- the API --------------------------------------------------------------------------------------------------------


def logs_url(shipment) -> str:
    return f"/api/v1/shipments/{shipment.pk}/temperature-logs/"


def post_log(client, shipment, content: bytes, **extra):
    data = {"logger_serial": "TT-42", "file": upload(content)}
    return client.post(logs_url(shipment), data, format="multipart", **extra)


def test_the_api_imports_a_log_and_answers_its_excursions(world, shipment, api_as):
    response = post_log(api_as(world.sam), shipment, trace_csv(), HTTP_IDEMPOTENCY_KEY="upload-1")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert response["Location"].endswith(f"/api/v1/temperature-logs/{body['id']}/")
    assert (body["reading_count"], body["minutes_above"], body["excursion_count"]) == (1440, 20.0, 1)
    assert body["temperature_range"] == {"low": 2.0, "high": 8.0, "label": "2 to 8 °C"}
    assert body["uploaded_by"] == "Sam"
    [excursion] = body["excursions"]
    assert excursion["direction"] == "above" and excursion["duration_minutes"] == 20.0
    assert excursion["started_at"] == "2026-03-01T18:00:00Z"


def test_a_retried_upload_with_its_idempotency_key_imports_once(world, shipment, api_as):
    client = api_as(world.sam)
    first = post_log(client, shipment, trace_csv(), HTTP_IDEMPOTENCY_KEY="upload-1")
    again = post_log(client, shipment, trace_csv(), HTTP_IDEMPOTENCY_KEY="upload-1")
    assert first.status_code == again.status_code == 201
    assert first.json()["id"] == again.json()["id"]
    assert TemperatureLog.objects.count() == 1


def test_the_api_lists_and_shows_logs_excursions_and_the_summary(
    world, shipment, api_as, django_assert_max_num_queries
):
    client = api_as(world.ivan)
    for serial, spikes in (("A", ((600, 620, 9.0),)), ("B", ((700, 705, 1.0),))):
        temperature_log_import(
            actor=world.sam, shipment=shipment, logger_serial=serial, uploaded_file=upload(trace_csv(spikes=spikes))
        )
    with django_assert_max_num_queries(12):
        listed = client.get(logs_url(shipment))
    assert listed.status_code == 200
    rows = listed.json()["results"]
    assert sorted((r["logger_serial"], r["excursion_count"]) for r in rows) == [("A", 1), ("B", 1)]
    detail = client.get(rows[0]["url"]).json()
    assert len(detail["excursions"]) == 1 and detail["source_details"]["header_line"] == 2
    excursions = client.get(f"/api/v1/shipments/{shipment.pk}/excursions/").json()["results"]
    assert [e["direction"] for e in excursions] == ["above", "below"]
    assert client.get(excursions[0]["url"]).json()["peak_temperature"] == 9.0
    summary = client.get(f"/api/v1/shipments/{shipment.pk}/cold-chain/").json()
    assert summary["minutes_out_of_range"] == 25.0 and summary["excursion_budget_minutes"] == 30
    assert summary["budget_exceeded"] is False and summary["qualified_duration_hours"] == 96


def test_charlie_gets_404_everywhere(world, shipment, api_as):
    log = temperature_log_import(
        actor=world.sam, shipment=shipment, logger_serial="TT", uploaded_file=upload(trace_csv())
    )
    charlie = api_as(world.charlie)
    for url in (
        logs_url(shipment),
        f"/api/v1/temperature-logs/{log.pk}/",
        f"/api/v1/shipments/{shipment.pk}/excursions/",
        f"/api/v1/excursions/{log.excursions.get().pk}/",
        f"/api/v1/shipments/{shipment.pk}/cold-chain/",
    ):
        response = charlie.get(url)
        assert response.status_code == 404, url
        assert response.json() == {"detail": "Not found."}
    response = post_log(charlie, shipment, trace_csv(spikes=()))
    assert response.status_code == 404
    assert TemperatureLog.objects.count() == 1


def test_a_malformed_upload_answers_400_with_the_line_and_stores_nothing(world, shipment, api_as, media):
    response = post_log(api_as(world.sam), shipment, MALFORMED["out of order"][0])
    assert response.status_code == 400
    assert response.json()["errors"]["file"] == [
        "line 3: readings out of order: this reading (2026-03-01 08:01:00 UTC) is earlier than the reading of "
        "line 2 (2026-03-01 08:05:00 UTC)"
    ]
    assert stored() == (0, 0, 0, 0)
    assert files_in(media) == []


@pytest.mark.parametrize("case", MALFORMED, ids=list(MALFORMED))
def test_every_malformed_upload_answers_400_with_its_line_and_stores_nothing(world, shipment, api_as, media, case):
    content, message = MALFORMED[case]
    response = post_log(api_as(world.sam), shipment, content)
    assert response.status_code == 400
    [error] = response.json()["errors"]["file"]
    assert message in error
    assert stored() == (0, 0, 0, 0)
    assert files_in(media) == []


@pytest.fixture
def garbage_body(tmp_path_factory) -> Path:
    """An upload of 100 MB of garbage as a multipart body, on disk outside MEDIA_ROOT."""
    return multipart_with_garbage(tmp_path_factory.mktemp("upload") / "body", fields={"logger_serial": "TT-42"})


def test_100_mb_of_garbage_is_refused_by_its_size_and_stores_nothing(
    world, shipment, api_as, media, garbage_body, monkeypatch
):
    monkeypatch.setattr(coldchain_parsing._HashingReader, "read", lambda *a: pytest.fail("the file was read"))
    response = post_streamed(api_as(world.sam), logs_url(shipment), garbage_body)
    assert response.status_code == 400
    assert response.json()["errors"]["file"] == [
        "the file is 100.0 MB; a logger export may be at most 80.0 MB (two years of readings a minute fit in well "
        "under that)"
    ]
    assert stored() == (0, 0, 0, 0)
    assert files_in(media) == []


def test_100_mb_of_garbage_under_a_raised_cap_is_refused_as_not_text(
    world, shipment, api_as, media, garbage_body, settings
):
    settings.COLD_CHAIN_LOG_MAX_BYTES = 200 * 2**20
    response = post_streamed(api_as(world.sam), logs_url(shipment), garbage_body)
    assert response.status_code == 400
    assert response.json()["errors"]["file"] == ["this is not a text file: it contains binary data"]
    assert stored() == (0, 0, 0, 0)
    assert files_in(media) == []


def test_the_api_refuses_by_role_state_and_body(world, shipment, api_as):
    assert post_log(api_as(world.victor), shipment, trace_csv()).status_code == 403
    assert post_log(api_as(world.eddie), shipment, trace_csv()).status_code == 403
    sam = api_as(world.sam)
    assert sam.post(logs_url(shipment), {"logger_serial": "x"}, format="json").status_code == 415
    missing = sam.post(logs_url(shipment), {"logger_serial": "x"}, format="multipart")
    assert missing.status_code == 400 and "file" in missing.json()["errors"]
    draft = world.shipment()
    refused = post_log(sam, draft, trace_csv())
    assert refused.status_code == 409 and "once the shipment is approved" in refused.json()["detail"]
    assert stored() == (0, 0, 0, 0)
