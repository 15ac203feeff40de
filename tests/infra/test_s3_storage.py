"""Document files in an S3-compatible bucket (DOCUMENT_STORAGE=s3): the switch refuses a half configuration, and with
the bucket mocked by moto every path that stores or reads a file works through it: an upload from the shipment page,
the download that re-checks the SHA-256 (409 once the object is altered or gone), the dossier PDF, and the backup
that copies each file with its hash."""

import hashlib
import json
import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import boto3
import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command
from django.urls import reverse
from moto import mock_aws

from documents.dossier import dossier_request
from documents.models import DocumentVersion, DossierArtifact
from ior_platform.core.models import AuditEvent
from ior_platform.settings.storage import storages_from_env
from shipments import services
from tests.conftest import pdf_bytes
from tests.documents.test_dossier import request_rendered, sign
from tests.documents.test_uploads import media_files, upload
from tests.factories import DEMO_PASSWORD
from tests.shipments.test_services import walk_dossier

ROOT = Path(__file__).resolve().parents[2]
BUCKET = "ior-documents-test"
REGION = "eu-central-1"
PREFIX = "ior"
S3_ENV = {
    "DOCUMENT_STORAGE": "s3",
    "AWS_STORAGE_BUCKET_NAME": BUCKET,
    "AWS_S3_REGION_NAME": REGION,
    "AWS_ACCESS_KEY_ID": "testing-key",
    "AWS_SECRET_ACCESS_KEY": "testing-secret",
    "AWS_LOCATION": PREFIX,
}


# The switch, as a pure function of the environment.


def test_without_a_switch_documents_stay_on_the_file_system():
    assert storages_from_env({})["default"] == {"BACKEND": "django.core.files.storage.FileSystemStorage"}
    assert storages_from_env({"DOCUMENT_STORAGE": "filesystem"})["default"]["BACKEND"].endswith("FileSystemStorage")


def test_s3_takes_every_option_from_the_environment():
    environ = {
        **S3_ENV,
        "DOCUMENT_STORAGE": "S3",
        "AWS_S3_ENDPOINT_URL": "https://minio.internal:9000",
        "AWS_S3_ADDRESSING_STYLE": "path",
        "AWS_LOCATION": "/ior/",
    }
    default = storages_from_env(environ)["default"]
    assert default["BACKEND"] == "storages.backends.s3.S3Storage"
    options = default["OPTIONS"]
    assert {key: options[key] for key in ("bucket_name", "region_name", "endpoint_url", "addressing_style")} == {
        "bucket_name": BUCKET,
        "region_name": REGION,
        "endpoint_url": "https://minio.internal:9000",
        "addressing_style": "path",
    }
    assert (options["access_key"], options["secret_key"], options["security_token"]) == (
        "testing-key",
        "testing-secret",
        None,
    )
    assert options["location"] == "ior"
    # Private objects, signed short-lived URLs, and a stored file is never replaced by another of the same name.
    assert options["default_acl"] is None
    assert options["querystring_auth"] is True
    assert options["file_overwrite"] is False


def test_s3_without_keys_leaves_credentials_to_the_machine_role():
    options = storages_from_env({"DOCUMENT_STORAGE": "s3", "AWS_STORAGE_BUCKET_NAME": BUCKET})["default"]["OPTIONS"]
    assert (options["access_key"], options["secret_key"], options["region_name"], options["endpoint_url"]) == (
        None,
        None,
        None,
        None,
    )
    assert options["addressing_style"] is None


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"DOCUMENT_STORAGE": "s3"}, "DOCUMENT_STORAGE=s3 needs AWS_STORAGE_BUCKET_NAME"),
        ({**S3_ENV, "AWS_SECRET_ACCESS_KEY": ""}, "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set together"),
        ({**S3_ENV, "AWS_ACCESS_KEY_ID": " "}, "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set together"),
        ({"AWS_STORAGE_BUCKET_NAME": BUCKET}, "AWS_STORAGE_BUCKET_NAME is set but DOCUMENT_STORAGE is not s3"),
        ({"DOCUMENT_STORAGE": "gcs"}, "DOCUMENT_STORAGE must be filesystem or s3, not 'gcs'"),
        ({**S3_ENV, "AWS_S3_ADDRESSING_STYLE": "dns"}, "AWS_S3_ADDRESSING_STYLE must be one of auto, path, virtual"),
        ({**S3_ENV, "AWS_S3_ENDPOINT_URL": "minio:9000"}, "AWS_S3_ENDPOINT_URL must be an http\\(s\\):// address"),
    ],
)
def test_a_half_configuration_is_refused_naming_the_variable(environ, message):
    with pytest.raises(ImproperlyConfigured, match=message) as refused:
        storages_from_env(environ)
    assert "\n" not in str(refused.value)


def _production(env: dict, code: str) -> subprocess.CompletedProcess:
    environ = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AWS_", "DOCUMENT_STORAGE", "DJANGO_SETTINGS_MODULE"))
    }
    environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "ior_platform.settings.production",
            "SECRET_KEY": "s3-switch-test-" + "k" * 20 + "0123456789abcdefghij",
            **env,
        }
    )
    return subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); from django.conf import settings; {code}"],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_production_settings_store_documents_in_the_bucket_the_environment_names():
    done = _production(S3_ENV, "import json; print(json.dumps(settings.STORAGES['default']))")
    assert done.returncode == 0, done.stderr
    default = json.loads(done.stdout)
    assert default["BACKEND"] == "storages.backends.s3.S3Storage"
    assert default["OPTIONS"]["bucket_name"] == BUCKET


def test_production_settings_refuse_s3_without_a_bucket():
    done = _production({"DOCUMENT_STORAGE": "s3"}, "print('started')")
    assert done.returncode != 0
    assert "started" not in done.stdout
    assert done.stderr.strip().splitlines()[-1] == (
        "django.core.exceptions.ImproperlyConfigured: "
        "DOCUMENT_STORAGE=s3 needs AWS_STORAGE_BUCKET_NAME (the bucket documents go to)"
    )


# Every path that stores or reads a document file, against a mocked bucket.


@pytest.fixture
def bucket(settings, tmp_path):
    """A private bucket in moto, and STORAGES switched to it exactly as the environment would switch it."""
    settings.MEDIA_ROOT = tmp_path / "media"
    with mock_aws():
        client = boto3.client(
            "s3", region_name=REGION, aws_access_key_id="testing-key", aws_secret_access_key="testing-secret"
        )
        client.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        settings.STORAGES = storages_from_env(S3_ENV)
        yield client


def object_key(name: str) -> str:
    return f"{PREFIX}/{name}"


def stored_bytes(client, name: str) -> bytes:
    return client.get_object(Bucket=BUCKET, Key=object_key(name))["Body"].read()


@pytest.fixture
def permit(world, requirements):
    shipment = services.shipment_submit(actor=world.alice, shipment=world.shipment())
    return shipment.documents.get(document_type="import_permit")


def test_an_upload_from_the_shipment_page_lands_in_the_bucket_and_downloads_verified(
    client, world, permit, bucket, settings
):
    content = pdf_bytes(b"permit in the bucket")
    client.force_login(world.ivan)
    response = client.post(reverse("documents:upload", args=[permit.pk]), {"file": upload("permit.pdf", content)})
    assert response.status_code == 302
    version = DocumentVersion.objects.get(document=permit)
    assert version.file.name.startswith(f"documents/{permit.shipment_id}/")
    assert stored_bytes(bucket, version.file.name) == content
    assert media_files(settings) == set(), "nothing is written to the local disk"
    head = bucket.head_object(Bucket=BUCKET, Key=object_key(version.file.name))
    assert head["ContentLength"] == version.size == len(content)

    client.force_login(world.rita)
    response = client.get(reverse("documents:download", args=[version.pk]))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == content
    assert response["Content-Disposition"] == 'attachment; filename="permit.pdf"'
    assert not AuditEvent.objects.filter(action="document.integrity_failure").exists()


def test_an_object_altered_in_the_bucket_is_withheld_with_409_and_audited(client, world, permit, bucket):
    client.force_login(world.ivan)
    client.post(reverse("documents:upload", args=[permit.pk]), {"file": upload("permit.pdf", pdf_bytes())})
    version = DocumentVersion.objects.get(document=permit)
    altered = bytearray(stored_bytes(bucket, version.file.name))
    altered[len(altered) // 2] ^= 0x01
    bucket.put_object(Bucket=BUCKET, Key=object_key(version.file.name), Body=bytes(altered))

    client.force_login(world.rita)
    response = client.get(reverse("documents:download", args=[version.pk]))
    assert response.status_code == 409
    body = response.content.decode()
    assert "SHA-256 differs" in body
    assert "%PDF" not in body
    event = AuditEvent.objects.get(action="document.integrity_failure")
    assert event.changes["sha256"] == [version.sha256, hashlib.sha256(bytes(altered)).hexdigest()]


def test_an_object_deleted_from_the_bucket_is_reported_missing_not_a_500(client, world, permit, bucket):
    client.force_login(world.ivan)
    client.post(reverse("documents:upload", args=[permit.pk]), {"file": upload("permit.pdf", pdf_bytes())})
    version = DocumentVersion.objects.get(document=permit)
    bucket.delete_object(Bucket=BUCKET, Key=object_key(version.file.name))

    client.force_login(world.rita)
    response = client.get(reverse("documents:download", args=[version.pk]))
    assert response.status_code == 409
    assert "the stored file is missing" in response.content.decode()


def test_the_dossier_pdf_is_stored_in_the_bucket_and_checked_at_download(
    client, world, requirements, brazil_permit, bucket, django_capture_on_commit_callbacks
):
    shipment = walk_dossier(world, services.shipment_submit(actor=world.alice, shipment=world.shipment()))
    sign(world, shipment)
    artifact = request_rendered(world.alice, shipment, django_capture_on_commit_callbacks)
    assert artifact.status == "ready", artifact.error
    stored = stored_bytes(bucket, artifact.file.name)
    assert stored.startswith(b"%PDF")
    assert hashlib.sha256(stored).hexdigest() == artifact.sha256

    client.force_login(world.alice)
    url = reverse("dossiers:download", args=[artifact.pk])
    response = client.get(url)
    assert response.status_code == 200
    assert hashlib.sha256(response.content).hexdigest() == artifact.sha256

    bucket.put_object(Bucket=BUCKET, Key=object_key(artifact.file.name), Body=stored + b"% appended later\n")
    response = client.get(url)
    assert response.status_code == 409
    assert b"does not match" in response.content


@pytest.mark.django_db(transaction=True)
def test_a_backup_copies_every_file_from_the_bucket_and_refuses_an_altered_one(
    world, requirements, brazil_permit, bucket, tmp_path
):
    shipment = walk_dossier(world, services.shipment_submit(actor=world.alice, shipment=world.shipment()))
    approved = services.shipment_approve(actor=world.rita, shipment=shipment, password=DEMO_PASSWORD)
    artifact = dossier_request(actor=world.alice, shipment=approved)
    artifact.refresh_from_db()
    assert artifact.status == "ready", artifact.error
    names = {v.file.name for v in DocumentVersion.objects.all()} | {a.file.name for a in DossierArtifact.objects.all()}
    assert len(names) == 3

    out = StringIO()
    call_command("backup", "--output", str(tmp_path / "backups"), stdout=out)
    folder = Path(out.getvalue().strip())
    manifest = json.loads((folder / "manifest.json").read_text())
    assert {entry["name"] for entry in manifest["files"]} == names
    for entry in manifest["files"]:
        copied = (folder / "media" / entry["name"]).read_bytes()
        assert (
            hashlib.sha256(copied).hexdigest()
            == entry["sha256"]
            == hashlib.sha256(stored_bytes(bucket, entry["name"])).hexdigest()
        )

    # An object altered in the bucket stops the next backup, as a file altered on disk does.
    altered = sorted(names)[0]
    bucket.put_object(Bucket=BUCKET, Key=object_key(altered), Body=b"%PDF-1.4 altered")
    with pytest.raises(CommandError, match=f"does not match its recorded SHA-256: {altered}"):
        call_command("backup", "--output", str(tmp_path / "refused"))
    assert list((tmp_path / "refused").iterdir()) == []
