"""Deadline sweep against its SQL floor: seed N checklist documents with mixed due dates, then time one sweep,
its peak Python memory, and the bare SQL that selects the same due rows.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test .venv/bin/python bench/deadline_sweep.py --documents 1000000

Runs in a throw-away test database (test_<name> next to the one DATABASE_URL names, or SQLite under a temporary
IOR_VAR_DIR). Target: the sweep within 2x the bare SQL, memory flat in the number of documents."""

import argparse
import os
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("IOR_VAR_DIR", tempfile.mkdtemp(prefix="ior-bench-"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ior_platform.settings.test")
os.environ.setdefault("LOG_LEVEL", "WARNING")

import django  # noqa: E402

django.setup()

from datetime import timedelta  # noqa: E402

from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from documents.deadlines import chase_document_deadlines, reminder_days  # noqa: E402
from documents.models import DocumentReminder  # noqa: E402
from shipments.models import Shipment  # noqa: E402
from tests.factories import OrganizationFactory, ShipmentFactory, TrialFactory  # noqa: E402

DOCS_PER_SHIPMENT = 20
DUE_SPREAD_DAYS = 180  # due dates spread evenly over ±180 days around today


def seed(documents: int) -> None:
    sponsor = OrganizationFactory(name="Bench Sponsor", roles=["sponsor"])
    trial = TrialFactory(sponsor=sponsor, protocol_number="BENCH-1")
    template = ShipmentFactory(trial=trial, reference="BENCH-000000")
    Shipment.objects.filter(pk=template.pk).update(status="permit_collection")
    shipments = documents // DOCS_PER_SHIPMENT
    today = timezone.localdate()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "INSERT INTO shipments_shipment (reference, trial_id, sponsor_id, origin_country, origin_address,"
                " destination_country, destination_address, route_kind, temperature_class, planned_ship_date,"
                " incoterm, declared_value, currency, airway_bill, tracking_number, customs_entry_number,"
                " duties_payer, duty_exemption_applied, status, status_changed_at, created_at, updated_at,"
                " compliance_flag)"
                " SELECT 'BENCH-' || lpad(g::text, 6, '0'), trial_id, sponsor_id, origin_country, origin_address,"
                " destination_country, destination_address, route_kind, temperature_class, planned_ship_date,"
                " incoterm, declared_value, currency, '', '', '', '', false, 'permit_collection', now(), now(),"
                " now(), '' FROM shipments_shipment, generate_series(1, %s) g WHERE id = %s",
                [shipments - 1, template.pk],
            )
            cursor.execute(
                "INSERT INTO documents_document (shipment_id, side, document_type, title, owed_by_role, due_date,"
                " legal_basis, source, status, declared_lines, created_at, updated_at)"
                " SELECT s.id, CASE WHEN d %% 2 = 0 THEN 'import' ELSE 'export' END, 'type_' || d, '', 'sponsor',"
                " %s::date + ((s.id * 7 + d * 13) %% (2 * %s + 1) - %s)::int, '', '', 'requested', '[]'::jsonb,"
                " now(), now()"
                " FROM shipments_shipment s, generate_series(1, %s) d WHERE s.reference LIKE 'BENCH-%%'",
                [today, DUE_SPREAD_DAYS, DUE_SPREAD_DAYS, DOCS_PER_SHIPMENT],
            )
        else:
            raise SystemExit("this benchmark seeds with PostgreSQL's generate_series: set DATABASE_URL=postgres://...")
        cursor.execute("ANALYZE")


def bare_sql_seconds(today) -> tuple[float, int]:
    horizon = today + timedelta(days=max(reminder_days()))
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT d.id, d.due_date FROM documents_document d JOIN shipments_shipment s ON s.id = d.shipment_id"
            " WHERE d.status IN ('requested', 'rejected') AND s.status IN ('permit_collection', 'dossier_review')"
            " AND d.due_date <= %s",
            [horizon],
        )
        rows = cursor.fetchall()
    return time.perf_counter() - started, len(rows)


def timed_sweep(today) -> tuple[float, int, int]:
    tracemalloc.start()
    started = time.perf_counter()
    sent = chase_document_deadlines(today=today)
    elapsed = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return elapsed, sum(sent.values()), peak


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--documents", type=int, default=1_000_000)
    args = parser.parse_args()
    real_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    try:
        started = time.perf_counter()
        seed(args.documents)
        print(f"seeded {args.documents:,} documents in {time.perf_counter() - started:.1f} s on {connection.vendor}")
        today = timezone.localdate()
        bare, due_rows = bare_sql_seconds(today)
        first, sent, first_peak = timed_sweep(today)
        steady, sent_again, steady_peak = timed_sweep(today)
        reminders = DocumentReminder.objects.count()
        print(f"due rows (bare SQL):          {due_rows:>10,}  in {bare:.2f} s")
        print(
            f"first sweep:                  {sent:>10,} reminders sent in {first:.2f} s, "
            f"peak Python memory {first_peak / 2**20:.1f} MiB  -> {first / bare:.2f}x the bare SQL"
        )
        print(
            f"steady sweep (nothing new):   {sent_again:>10,} reminders sent in {steady:.2f} s, "
            f"peak Python memory {steady_peak / 2**20:.1f} MiB -> {steady / bare:.2f}x the bare SQL"
        )
        print(f"reminder rows: {reminders:,}; target: sweep within 2.00x the bare SQL, memory flat")
    finally:
        connection.creation.destroy_test_db(real_name, verbosity=0)


if __name__ == "__main__":
    main()
