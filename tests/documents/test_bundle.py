"""The shipment's electronic copy: data, document hashes, signatures and the audit chain, in one JSON file."""

import json
from io import StringIO
from itertools import pairwise

import pytest
from django.core.management import CommandError, call_command

from ior_platform.core.audit import verify_chains
from shipments import services
from tests.factories import DEMO_PASSWORD, UserFactory
from tests.shipments.test_services import walk_dossier


@pytest.fixture
def approved(world, requirements, brazil_permit):
    shipment = walk_dossier(world, services.shipment_submit(actor=world.alice, shipment=world.shipment()))
    return services.shipment_approve(actor=world.rita, shipment=shipment, password=DEMO_PASSWORD)


def test_record_download_holds_hashes_signatures_and_the_audit_chain(client, world, approved):
    client.force_login(world.alice)
    response = client.get(f"/shipments/{approved.reference}/record.json")
    assert response.status_code == 200
    assert response["Content-Disposition"] == f'attachment; filename="{approved.reference}-record.json"'
    record = json.loads(response.content)
    assert record["shipment"]["status"] == "approved"
    versions = [v for doc in record["documents"] for v in doc["versions"]]
    assert {v["sha256"] for v in versions} == set(approved.documents.values_list("versions__sha256", flat=True))
    assert [s["meaning"] for s in record["signatures"]] == ["approved"]
    assert record["signatures"][0]["manifest_sha256"] == record["manifest_sha256"]
    trail = record["audit_trail"]
    assert [e["sequence"] for e in trail] == list(range(1, len(trail) + 1))
    assert all(later["prev_hash"] == earlier["hash"] for earlier, later in pairwise(trail))
    assert verify_chains()[1] == []


def test_charlie_gets_404_for_the_record(client, world, approved):
    client.force_login(world.charlie)
    assert client.get(f"/shipments/{approved.reference}/record.json").status_code == 404


def test_export_bundle_command(world, approved, tmp_path):
    UserFactory(username="root", organization=None, is_staff=True, is_superuser=True)
    target = tmp_path / "record.json"
    call_command("export_bundle", approved.reference, output=target, stdout=StringIO())
    assert json.loads(target.read_text())["shipment"]["reference"] == approved.reference
    with pytest.raises(CommandError, match="no shipment NOPE"):
        call_command("export_bundle", "NOPE", stdout=StringIO())
    with pytest.raises(CommandError, match="cannot write"):
        call_command("export_bundle", approved.reference, output=tmp_path / "missing" / "x.json", stdout=StringIO())
