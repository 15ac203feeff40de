"""The shipment list API against its SQL floor: seed N shipments on PostgreSQL, then time
`GET /api/v1/shipments/?page_size=100` (through Django's test client, authenticated with an API key, as an
integrator calls it) and, in the same run, the raw SQL that fetches the same page's rows and related data
(trial, six parties) and encodes them to JSON. Prints median and p95 of both, the ratio and the query count.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_api .venv/bin/python bench/api_shipments_list.py

Runs in a throw-away test database next to the one DATABASE_URL names. Target: within 3x the SQL floor, and the
same number of queries at page sizes 10 and 100."""

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("IOR_VAR_DIR", tempfile.mkdtemp(prefix="ior-bench-"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ior_platform.settings.test")
os.environ.setdefault("LOG_LEVEL", "WARNING")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from rest_framework.test import APIClient  # noqa: E402

from parties.api_keys import hash_key  # noqa: E402
from parties.models import ApiKey  # noqa: E402
from tests.factories import OrganizationFactory, ShipmentFactory, TrialFactory, UserFactory  # noqa: E402

PARTIES = ("sponsor", "ior", "eor", "consignee", "broker", "courier")


def seed(shipments: int):
    orgs = {role: OrganizationFactory(name=f"Bench {role}", roles=[role]) for role in PARTIES}
    sponsor = orgs["sponsor"]
    user = UserFactory(username="bench", organization=sponsor, roles=["editor"])
    trial = TrialFactory(sponsor=sponsor, protocol_number="BENCH-API")
    template = ShipmentFactory(
        trial=trial, reference="BAPI-0000000", **{role: orgs[role] for role in PARTIES if role != "sponsor"}
    )
    columns = (
        "trial_id, sponsor_id, ior_id, eor_id, consignee_id, broker_id, courier_id, origin_country, origin_address,"
        " destination_country, destination_address, route_kind, temperature_class, planned_ship_date, incoterm,"
        " declared_value, currency, airway_bill, tracking_number, customs_entry_number, duties_payer,"
        " duty_exemption_applied, status_changed_at, created_at, updated_at, compliance_flag, quarantine_status"
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO shipments_shipment (reference, status, {columns})"
            f" SELECT 'BAPI-' || lpad(g::text, 7, '0'),"
            " (ARRAY['draft','permit_collection','dossier_review','approved','in_transit','delivered'])[1 + g %% 6],"
            f" {columns.replace('planned_ship_date', 'planned_ship_date + (g %% 200)')}"
            " FROM shipments_shipment, generate_series(1, %s) g WHERE id = %s",
            [shipments - 1, template.pk],
        )
        cursor.execute("ANALYZE")
    raw = "ior_benchapi_" + "k" * 40
    ApiKey.objects.create(
        organization=sponsor,
        owner=user,
        name="bench",
        prefix="ior_benchapi",
        secret_hash=hash_key(raw),
        scope="read",
        created_by=user,
    )
    return user, raw


FLOOR_SQL = """
SELECT s.id, s.reference, s.status, s.origin_country, s.destination_country, s.route_kind, s.temperature_class,
       s.planned_ship_date, s.required_at_site_date, s.return_of_id, s.status_changed_at, s.created_at, s.updated_at,
       t.id, t.protocol_number,
       sp.id, sp.name, io.id, io.name, eo.id, eo.name, co.id, co.name, br.id, br.name, cu.id, cu.name
FROM shipments_shipment s
JOIN shipments_trial t ON t.id = s.trial_id
JOIN parties_organization sp ON sp.id = s.sponsor_id
LEFT JOIN parties_organization io ON io.id = s.ior_id
LEFT JOIN parties_organization eo ON eo.id = s.eor_id
LEFT JOIN parties_organization co ON co.id = s.consignee_id
LEFT JOIN parties_organization br ON br.id = s.broker_id
LEFT JOIN parties_organization cu ON cu.id = s.courier_id
WHERE s.sponsor_id = %s OR s.ior_id = %s OR s.eor_id = %s OR s.consignee_id = %s OR s.broker_id = %s
   OR s.courier_id = %s
ORDER BY s.id DESC
LIMIT %s
"""


def _party(row, at):
    return {"id": row[at], "name": row[at + 1]} if row[at] is not None else None


def floor_once(org_id: int, page_size: int) -> bytes:
    with connection.cursor() as cursor:
        cursor.execute(FLOOR_SQL, [org_id] * 6 + [page_size])
        rows = cursor.fetchall()
    results = [
        {
            "id": r[0],
            "reference": r[1],
            "status": r[2],
            "origin_country": r[3],
            "destination_country": r[4],
            "route_kind": r[5],
            "temperature_class": r[6],
            "planned_ship_date": r[7].isoformat(),
            "required_at_site_date": r[8].isoformat() if r[8] else None,
            "return_of": r[9],
            "status_changed_at": r[10].isoformat(),
            "created_at": r[11].isoformat(),
            "updated_at": r[12].isoformat(),
            "trial": {"id": r[13], "protocol_number": r[14]},
            "sponsor": _party(r, 15),
            "ior": _party(r, 17),
            "eor": _party(r, 19),
            "consignee": _party(r, 21),
            "broker": _party(r, 23),
            "courier": _party(r, 25),
        }
        for r in rows
    ]
    return json.dumps({"next": None, "previous": None, "results": results}).encode()


ROWS_SQL = """
SELECT s.id, s.reference, s.status, s.origin_country, s.destination_country, s.route_kind, s.temperature_class,
       s.planned_ship_date, s.required_at_site_date, s.return_of_id, s.status_changed_at, s.created_at, s.updated_at,
       t.id, t.protocol_number, s.sponsor_id, s.ior_id, s.eor_id, s.consignee_id, s.broker_id, s.courier_id
FROM shipments_shipment s
JOIN shipments_trial t ON t.id = s.trial_id
WHERE s.sponsor_id = %s OR s.ior_id = %s OR s.eor_id = %s OR s.consignee_id = %s OR s.broker_id = %s
   OR s.courier_id = %s
ORDER BY s.id DESC
LIMIT %s
"""


def floor_two_queries(org_id: int, page_size: int) -> bytes:
    """The same answer from the page's rows and one lookup of its parties' names (cheaper to plan than 7 joins)."""
    with connection.cursor() as cursor:
        cursor.execute(ROWS_SQL, [org_id] * 6 + [page_size])
        rows = cursor.fetchall()
        ids = sorted({pk for r in rows for pk in r[15:21] if pk is not None})
        cursor.execute("SELECT id, name FROM parties_organization WHERE id = ANY(%s)", [ids])
        names = dict(cursor.fetchall())

    def party(pk):
        return {"id": pk, "name": names[pk]} if pk is not None else None

    results = [
        {
            "id": r[0],
            "reference": r[1],
            "status": r[2],
            "origin_country": r[3],
            "destination_country": r[4],
            "route_kind": r[5],
            "temperature_class": r[6],
            "planned_ship_date": r[7].isoformat(),
            "required_at_site_date": r[8].isoformat() if r[8] else None,
            "return_of": r[9],
            "status_changed_at": r[10].isoformat(),
            "created_at": r[11].isoformat(),
            "updated_at": r[12].isoformat(),
            "trial": {"id": r[13], "protocol_number": r[14]},
            **{field: party(r[15 + i]) for i, field in enumerate(PARTIES)},
        }
        for r in rows
    ]
    return json.dumps({"next": None, "previous": None, "results": results}).encode()


def timed(fn, repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return times


def p95(values: list[float]) -> float:
    return sorted(values)[max(0, int(len(values) * 0.95) - 1)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shipments", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--page-size", type=int, default=100)
    parser.add_argument("--json", action="store_true", help="end with one JSON line of the figures, for scripts")
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        raise SystemExit("this benchmark needs PostgreSQL: set DATABASE_URL=postgres://...")

    from django.test.utils import setup_test_environment

    setup_test_environment()
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        started = time.perf_counter()
        user, raw = seed(args.shipments)
        print(f"seeded {args.shipments:,} shipments in {time.perf_counter() - started:.1f} s")
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
        url = f"/api/v1/shipments/?page_size={args.page_size}"

        def api_once():
            response = client.get(url)
            assert response.status_code == 200, response.content[:300]
            return response

        org = user.organization_id
        for _ in range(5):
            api_once()
            floor_once(org, args.page_size)
            floor_two_queries(org, args.page_size)
        body = api_once().json()
        assert len(body["results"]) == args.page_size
        # Interleaved, so a burst of load on the machine falls on all three alike.
        api_ms, joined_ms, split_ms = [], [], []
        for _ in range(args.requests):
            api_ms += timed(api_once, 1)
            joined_ms += timed(lambda: floor_once(org, args.page_size), 1)
            split_ms += timed(lambda: floor_two_queries(org, args.page_size), 1)
        # The floor is the faster of the two ways to write the SQL by hand.
        floor_ms = min(joined_ms, split_ms, key=statistics.median)
        counts = {}
        for size in (10, args.page_size):
            with CaptureQueriesContext(connection) as queries:
                assert client.get(f"/api/v1/shipments/?page_size={size}").status_code == 200
            counts[size] = len(queries)
        api_median, floor_median = statistics.median(api_ms), statistics.median(floor_ms)
        print(f"GET {url}  over {args.requests} requests, {args.shipments:,} shipments")
        print(f"  API                 median {api_median:7.2f} ms   p95 {p95(api_ms):7.2f} ms")
        print(f"  SQL, 7 joins        median {statistics.median(joined_ms):7.2f} ms   p95 {p95(joined_ms):7.2f} ms")
        print(f"  SQL, rows + names   median {statistics.median(split_ms):7.2f} ms   p95 {p95(split_ms):7.2f} ms")
        print(f"  SQL floor (faster)  median {floor_median:7.2f} ms   p95 {p95(floor_ms):7.2f} ms")
        print(f"  ratio               {api_median / floor_median:.2f}x the floor (target within 3x)")
        print(f"  queries             {counts} (page size -> queries, auth and call log included)")
        if args.json:
            figures = [
                {
                    "figure": f"GET shipments page of {args.page_size}, median ms ({args.shipments:,} shipments)",
                    "ours": api_median,
                    "reference": floor_median,
                    "reference_label": "hand-written SQL + JSON",
                    "target": 3.0,
                },
                {
                    "figure": "queries at page size 100 vs 10",
                    "ours": counts[args.page_size],
                    "reference": counts[10],
                    "reference_label": "queries at page size 10",
                    "target": "= 1x",
                },
            ]
            print(json.dumps({"bench": "api_shipments_list", "figures": figures}))
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
