"""Bulk drafting at scale: every row its own transaction, a bounded number of queries a row, and the full 500 rows
of one request."""

import time

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from shipments.api.serializers import ShipmentCreateInputSerializer
from shipments.models import Shipment
from shipments.services import shipment_create
from tests.shipments.test_api import draft_body


def bulk_create(world, api_as, count: int, bad_row: int, existing: int = 0):
    client = api_as(world.carl)
    rows = [draft_body(world, reference=f"RTSM-{n:04d}") for n in range(count)]
    rows[bad_row]["origin_country"] = "XX"
    statements = []

    def record(execute, sql, params, many, context):
        statements.append(sql)
        return execute(sql, params, many, context)

    started = time.perf_counter()
    # Counted by a wrapper, not CaptureQueriesContext: that keeps only the last 9,000.
    with connection.execute_wrapper(record):
        response = client.post(reverse("v1:shipments-bulk"), {"shipments": rows}, format="json")
    elapsed = time.perf_counter() - started
    assert response.status_code == 200
    body = response.json()
    assert (body["created"], body["failed"]) == (count - 1, 1)
    assert body["results"][bad_row]["errors"].keys() == {"origin_country"}
    assert Shipment.objects.count() == existing + count - 1
    return elapsed, len(statements) / count


def test_bulk_adds_no_queries_a_row_to_what_the_service_costs(world, api_as, rf):
    request = rf.post("/")
    request.user = world.carl
    serializer = ShipmentCreateInputSerializer(data=draft_body(world, reference="ALONE"), context={"request": request})
    assert serializer.is_valid(), serializer.errors
    with CaptureQueriesContext(connection) as alone:
        shipment_create(actor=world.carl, **serializer.validated_data)
    service_alone = len(alone)  # read now: the next request resets Django's query log
    _, per_row = bulk_create(world, api_as, 40, bad_row=20, existing=1)
    # Trials, sites and organizations named by the rows are loaded once for the batch; a row costs what
    # shipment_create costs (its visibility and role checks, full_clean, inserts, audit event), and no more.
    assert per_row <= service_alone + 1


def test_bulk_creates_the_full_500_drafts_of_one_request(world, api_as):
    _, per_row = bulk_create(world, api_as, 500, bad_row=250)
    assert per_row < 40


def test_ids_beyond_any_primary_key_are_a_row_error_not_a_crash(world, api_as):
    rows = [draft_body(world, reference="HUGE-1"), draft_body(world, reference="HUGE-2")]
    rows[0]["trial"] = 2**70
    rows[1]["consignee"] = str(2**64)
    response = api_as(world.carl).post(reverse("v1:shipments-bulk"), {"shipments": rows}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert (body["created"], body["failed"]) == (0, 2)
    assert body["results"][0]["errors"].keys() == {"trial"}
    assert body["results"][1]["errors"].keys() == {"consignee"}
