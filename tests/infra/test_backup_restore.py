"""The restore drill: build a shipment with uploaded documents, a signed approval, a rendered dossier and a logger
file, back it up with `manage.py backup`, restore it into a fresh database and an empty media folder, and prove
nothing was lost: every table's row count, the audit chains, every file's SHA-256. On PostgreSQL (pg_dump and
pg_restore into a scratch database) and on the embedded SQLite default."""

import hashlib
import json
import uuid
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from documents.dossier import dossier_request
from documents.models import DocumentVersion, DossierArtifact
from ior_platform.core import backup
from ior_platform.core.audit import verify_chains
from ior_platform.core.models import AuditEvent
from shipments import services
from shipments.models import TemperatureLog
from tests.conftest import force_status
from tests.factories import DEMO_PASSWORD
from tests.shipments.test_coldchain_import import trace_csv, upload
from tests.shipments.test_services import walk_dossier

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def record(world, requirements, brazil_permit, media):
    """An approved shipment (documents, e-signature, dossier PDF) and a refrigerated one with a logger file."""
    from shipments.coldchain.services import temperature_log_import

    shipment = walk_dossier(world, services.shipment_submit(actor=world.alice, shipment=world.shipment()))
    approved = services.shipment_approve(actor=world.rita, shipment=shipment, password=DEMO_PASSWORD)
    artifact = dossier_request(actor=world.alice, shipment=approved)
    artifact.refresh_from_db()
    assert artifact.status == "ready", artifact.error
    cold = force_status(world.shipment(temperature_class="refrigerated"), "in_transit")
    temperature_log_import(actor=world.sam, shipment=cold, logger_serial="TT-42", uploaded_file=upload(trace_csv()))
    assert DocumentVersion.objects.count() == 2 and TemperatureLog.objects.count() == 1
    return approved


def live_counts() -> dict[str, int]:
    with connection.cursor() as cursor:
        return backup.row_counts(cursor, "postgresql" if connection.vendor == "postgresql" else "sqlite")


def run_backup(tmp_path: Path) -> Path:
    out = StringIO()
    call_command("backup", "--output", str(tmp_path / "backups"), stdout=out)
    folder = Path(out.getvalue().strip())
    assert folder.parent == tmp_path / "backups" and folder.name.startswith("ior-backup-")
    assert [p.name for p in folder.parent.iterdir()] == [folder.name], "no partial folder is left behind"
    return folder


def assert_restored(manifest: dict, target: dict, media_root: Path) -> None:
    with backup.dbapi_cursor(target) as cursor:
        assert backup.row_counts(cursor, backup._vendor(target)) == manifest["tables"]
    with backup.django_alias(target) as alias:
        checked, broken = verify_chains(AuditEvent.objects.using(alias))
        assert (checked, broken) == (manifest["tables"]["core_auditevent"], [])
        assert AuditEvent.objects.using(alias).filter(action="signature.signed").count() == 1
    for entry in manifest["files"]:
        assert hashlib.sha256((media_root / entry["name"]).read_bytes()).hexdigest() == entry["sha256"]


def drill(tmp_path: Path, target_url: str, target: dict) -> dict:
    counts = live_counts()
    folder = run_backup(tmp_path)
    manifest = json.loads((folder / "manifest.json").read_text())

    assert manifest["tables"] == counts
    last = AuditEvent.objects.order_by("-id").first()
    assert manifest["audit_head"]["id"] == last.pk and manifest["audit_head"]["hash"] == last.hash
    assert manifest["migrations"]["core"] and manifest["app"]["version"] and manifest["taken_at"].endswith("Z")
    expected = {
        *DocumentVersion.objects.values_list("file", "sha256"),
        *DossierArtifact.objects.exclude(file="").values_list("file", "sha256"),
        *TemperatureLog.objects.values_list("file", "sha256"),
    }
    assert {(entry["name"], entry["sha256"]) for entry in manifest["files"]} == expected
    assert len(expected) == 4

    restored_media = tmp_path / "restored-media"
    out = StringIO()
    call_command("restore", str(folder), "--database-url", target_url, "--media-root", str(restored_media), stdout=out)
    assert out.getvalue().startswith("OK: restored")
    assert_restored(manifest, target, restored_media)

    with pytest.raises(CommandError, match="refusing to restore"):
        call_command("restore", str(folder), "--database-url", target_url, "--media-root", str(tmp_path / "empty"))
    return manifest


@pytest.fixture
def scratch_postgres():
    """A fresh, empty PostgreSQL database for the restore, dropped afterwards."""
    settings_dict = connection.settings_dict
    name = f"helper_backup_drill_{uuid.uuid4().hex[:10]}"
    admin = backup._pg_connect({**settings_dict, "NAME": "postgres"}, autocommit=True)
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield {**settings_dict, "NAME": name}
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.mark.postgres
def test_restore_drill_on_postgresql_gives_back_every_row_event_and_file(record, tmp_path, scratch_postgres):
    target = scratch_postgres
    password = f":{target['PASSWORD']}" if target.get("PASSWORD") else ""
    host = f"{target.get('HOST') or '127.0.0.1'}:{target.get('PORT') or 5432}"
    url = f"postgres://{target['USER']}{password}@{host}/{target['NAME']}"
    manifest = drill(tmp_path, url, target)
    assert manifest["database"]["vendor"] == "postgresql" and manifest["database"]["file"] == "database.dump"


def test_restore_drill_on_sqlite_gives_back_every_row_event_and_file(record, tmp_path):
    if connection.vendor != "sqlite":
        pytest.skip("the SQLite drill runs on the embedded default; the PostgreSQL one covers this server")
    target_path = tmp_path / "restored.sqlite3"
    manifest = drill(tmp_path, f"sqlite:///{target_path}", backup.parse_database_url(f"sqlite:///{target_path}"))
    assert manifest["database"]["vendor"] == "sqlite"


def test_backup_refuses_a_file_whose_bytes_no_longer_match_its_hash(record, tmp_path, media):
    version = DocumentVersion.objects.first()
    (media / version.file.name).write_bytes(b"%PDF-1.4 altered")
    with pytest.raises(CommandError, match=f"does not match its recorded SHA-256: {version.file.name}"):
        call_command("backup", "--output", str(tmp_path / "backups"))
    assert list((tmp_path / "backups").iterdir()) == [], "a refused backup leaves nothing behind"


def test_backup_without_pg_dump_fails_with_one_line(record, tmp_path, monkeypatch):
    if connection.vendor != "postgresql":
        pytest.skip("pg_dump is only needed on PostgreSQL")
    monkeypatch.setenv("PATH", str(tmp_path / "nowhere"))
    with pytest.raises(CommandError, match="pg_dump is not installed"):
        call_command("backup", "--output", str(tmp_path / "backups"))
