"""Deadline sweep against its SQL floor: seed N checklist documents with mixed due dates, then time the bare SQL
that selects the same due rows, the first sweep (the set-based INSERT … SELECT that creates every due reminder, as
the beat task runs it before handing delivery to the notifications queue), and a steady-state sweep that finds
nothing new, with the peak memory of each. Then, for the record, the delivery of those reminders by one in-process
worker (claiming chunks, writing every recipient's notification, queuing e-mails), which the beat task spreads over
the notifications workers.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_sweep .venv/bin/python bench/deadline_sweep.py \
        --documents 1000000

Runs in a throw-away test database (test_<name> next to the one DATABASE_URL names). Seeding is set-based
(INSERT … SELECT over generate_series), so PostgreSQL is required. The sweep queues its e-mail tasks to a real
broker of its own (the settings' filesystem transport under a temporary IOR_VAR_DIR, never a shared Redis whose
workers would pick them up) instead of running them in-process as the test settings do: sending mail is the
workers' job, not the sweep's.

Memory is the growth of the resident set during each sweep, sampled from /proc so that the timing is not disturbed:
tracemalloc's bookkeeping slows Python code several times over, too much to run over a million-document first sweep.
The steady sweep, cheap, is also run once under tracemalloc.
Target: the sweep within 2x the bare SQL, memory flat in the number of documents."""

import argparse
import json
import os
import shutil
import sys
import tempfile
import threading
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
VAR_DIR = tempfile.mkdtemp(prefix="ior-bench-")
os.environ["IOR_VAR_DIR"] = VAR_DIR
for variable in ("REDIS_URL", "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND"):
    os.environ.pop(variable, None)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ior_platform.settings.test")
os.environ.setdefault("LOG_LEVEL", "ERROR")

import django  # noqa: E402

django.setup()

from datetime import timedelta  # noqa: E402

from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from documents.deadlines import reminder_days, reminders_create_due, reminders_deliver  # noqa: E402
from ior_platform.celery import app as celery_app  # noqa: E402
from parties.models import EmailMode, Notification, NotificationPreference  # noqa: E402
from shipments.models import Shipment  # noqa: E402
from tests.factories import OrganizationFactory, ShipmentFactory, TrialFactory, UserFactory  # noqa: E402

DOCS_PER_SHIPMENT = 20
DUE_SPREAD_DAYS = 180  # due dates spread evenly over ±180 days around today


def seed(documents: int) -> None:
    """Half the documents are owed by the sponsor, half by the IOR; each organization has an editor (immediate
    e-mail) and a manager (digest at the sponsor, inbox only at the IOR), so a reminder notifies two users and an
    escalation three or four."""
    if connection.vendor != "postgresql":
        raise SystemExit("this benchmark seeds with PostgreSQL's generate_series: set DATABASE_URL=postgres://...")
    sponsor = OrganizationFactory(name="Bench Sponsor", roles=["sponsor"])
    ior = OrganizationFactory(name="Bench IOR", country="BR", roles=["ior"])
    UserFactory(username="bench-sponsor-editor", organization=sponsor, roles=["editor"])
    manager = UserFactory(username="bench-sponsor-manager", organization=sponsor, roles=["manager"])
    UserFactory(username="bench-ior-editor", organization=ior, roles=["editor"])
    ior_manager = UserFactory(username="bench-ior-manager", organization=ior, roles=["manager"])
    NotificationPreference.objects.create(user=manager, email_mode=EmailMode.DIGEST)
    NotificationPreference.objects.create(user=ior_manager, email_mode=EmailMode.OFF)
    trial = TrialFactory(sponsor=sponsor, protocol_number="BENCH-1")
    template = ShipmentFactory(trial=trial, ior=ior, reference="BENCH-000000")
    Shipment.objects.filter(pk=template.pk).update(status="permit_collection")
    shipments = documents // DOCS_PER_SHIPMENT
    today = timezone.localdate()
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO shipments_shipment (reference, trial_id, sponsor_id, ior_id, origin_country, origin_address,"
            " destination_country, destination_address, route_kind, temperature_class, planned_ship_date,"
            " incoterm, declared_value, currency, airway_bill, tracking_number, customs_entry_number,"
            " duties_payer, duty_exemption_applied, status, status_changed_at, created_at, updated_at,"
            " compliance_flag, quarantine_status)"
            " SELECT 'BENCH-' || lpad(g::text, 6, '0'), trial_id, sponsor_id, ior_id, origin_country, origin_address,"
            " destination_country, destination_address, route_kind, temperature_class, planned_ship_date,"
            " incoterm, declared_value, currency, '', '', '', '', false, 'permit_collection', now(), now(),"
            " now(), '', quarantine_status FROM shipments_shipment, generate_series(1, %s) g WHERE id = %s",
            [shipments - 1, template.pk],
        )
        cursor.execute(
            "INSERT INTO documents_document (shipment_id, side, document_type, title, owed_by_role, owed_by_id,"
            " due_date, legal_basis, source, status, declared_lines, created_at, updated_at)"
            " SELECT s.id, CASE WHEN d %% 2 = 0 THEN 'import' ELSE 'export' END, 'type_' || d, '',"
            " CASE WHEN d %% 2 = 0 THEN 'ior' ELSE 'sponsor' END, CASE WHEN d %% 2 = 0 THEN s.ior_id END,"
            " %s::date + ((s.id * 7 + d * 13) %% (2 * %s + 1) - %s)::int, '', '', 'requested', '[]'::jsonb,"
            " now(), now()"
            " FROM shipments_shipment s, generate_series(1, %s) d WHERE s.reference LIKE 'BENCH-%%'",
            [today, DUE_SPREAD_DAYS, DUE_SPREAD_DAYS, DOCS_PER_SHIPMENT],
        )
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


def bare_insert_seconds(today) -> float:
    """The write floor of a first sweep: the same due rows, stage left constant, inserted by bare SQL into a scratch
    copy of the reminders table with its indexes (a rolled-back transaction, so nothing stays)."""
    horizon = today + timedelta(days=max(reminder_days()))
    with connection.cursor() as cursor:
        cursor.execute("BEGIN")
        cursor.execute("SET LOCAL synchronous_commit TO OFF")
        cursor.execute("CREATE TABLE floor_reminders (LIKE documents_documentreminder INCLUDING ALL)")
        started = time.perf_counter()
        cursor.execute(
            "INSERT INTO floor_reminders (id, document_id, due_date, stage, created_at)"
            " SELECT d.id, d.id, d.due_date, 'd7', now() FROM documents_document d"
            " JOIN shipments_shipment s ON s.id = d.shipment_id"
            " WHERE d.status IN ('requested', 'rejected') AND s.status IN ('permit_collection', 'dossier_review')"
            " AND d.due_date <= %s",
            [horizon],
        )
        elapsed = time.perf_counter() - started
        cursor.execute("ROLLBACK")
    return elapsed


class PeakRss:
    """The growth of the process's resident memory over its level at the start, sampled from /proc in a thread:
    unlike tracemalloc, it does not slow the sweep it watches."""

    def __enter__(self):
        self.baseline = self.peak = self._rss()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._done.set()
        self._thread.join()
        self.peak = max(self.peak, self._rss())

    @property
    def growth(self) -> int:
        return self.peak - self.baseline

    def _sample(self):
        while not self._done.wait(0.01):
            self.peak = max(self.peak, self._rss())

    @staticmethod
    def _rss() -> int:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def timed_sweep(today) -> tuple[float, int, int]:
    with PeakRss() as rss:
        started = time.perf_counter()
        created = reminders_create_due(today=today)
        elapsed = time.perf_counter() - started
    return elapsed, created, rss.growth


def timed_delivery(today) -> tuple[float, int, int]:
    with PeakRss() as rss:
        started = time.perf_counter()
        sent = reminders_deliver(today=today)
        elapsed = time.perf_counter() - started
    return elapsed, sum(sent.values()), rss.growth


def traced_peak(today) -> int:
    tracemalloc.start()
    reminders_create_due(today=today)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--documents", type=int, default=1_000_000)
    parser.add_argument("--skip-delivery", action="store_true", help="time the sweeps only")
    parser.add_argument("--json", action="store_true", help="end with one JSON line of the figures, for scripts")
    args = parser.parse_args()
    celery_app.conf.task_always_eager = False
    real_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    try:
        started = time.perf_counter()
        seed(args.documents)
        print(f"seeded {args.documents:,} documents in {time.perf_counter() - started:.1f} s on {connection.vendor}")
        today = timezone.localdate()
        bare_sql_seconds(today)  # a cold cache would flatter the ratios
        bare, due_rows = bare_sql_seconds(today)
        write_floor = bare_insert_seconds(today)
        first, created, first_rss = timed_sweep(today)
        steady, created_again, steady_rss = timed_sweep(today)
        steady_traced = traced_peak(today)
        next_day, created_next_day, _ = timed_sweep(today + timedelta(days=1))
        mib = 2**20
        print(f"due rows (bare SQL):         {due_rows:>9,} in {bare:.2f} s")
        print(
            f"first sweep:                 {created:>9,} reminders created in {first:.2f} s "
            f"-> {first / bare:.2f}x the bare SQL; peak RSS growth {first_rss / mib:.1f} MiB"
        )
        print(
            f"  its write floor:           the same rows by a bare INSERT … SELECT in {write_floor:.2f} s "
            f"(the sweep is {first / write_floor:.2f}x that)"
        )
        print(
            f"steady sweep (nothing new):  {created_again:>9,} reminders in {steady:.2f} s -> {steady / bare:.2f}x "
            f"the bare SQL; peak RSS growth {steady_rss / mib:.1f} MiB, tracemalloc peak {steady_traced / mib:.2f} MiB"
        )
        print(
            f"next day's first sweep:      {created_next_day:>9,} reminders created in {next_day:.2f} s -> "
            f"{next_day / bare:.2f}x the bare SQL (documents that reached a new stage overnight)"
        )
        print("target: sweep within 2.00x the bare SQL, memory flat in the number of documents")
        if not args.skip_delivery:
            delivery, sent, delivery_rss = timed_delivery(today + timedelta(days=1))
            notifications = Notification.objects.count()
            print(
                f"delivery (one worker):       {sent:>9,} reminders, {notifications:,} notifications in "
                f"{delivery:.1f} s ({sent / delivery:,.0f} reminders/s); peak RSS growth {delivery_rss / mib:.1f} MiB"
            )
        if args.json:
            figures = [
                {
                    "figure": f"first sweep, s ({args.documents:,} documents, {created:,} reminders)",
                    "ours": first,
                    "reference": bare,
                    "reference_label": "bare SQL selecting the due rows",
                    "target": 2.0,
                },
                {
                    "figure": "first sweep against its write floor, s",
                    "ours": first,
                    "reference": write_floor,
                    "reference_label": "bare INSERT … SELECT of the same rows",
                    "target": None,
                },
                {
                    "figure": "steady sweep (nothing new), s",
                    "ours": steady,
                    "reference": bare,
                    "reference_label": "bare SQL selecting the due rows",
                    "target": 2.0,
                },
                {
                    "figure": "first sweep peak RSS growth, MiB",
                    "ours": first_rss / mib,
                    "reference": None,
                    "reference_label": "",
                    "target": "flat in documents",
                },
            ]
            print(json.dumps({"bench": "deadline_sweep", "figures": figures}))
    finally:
        connection.close()
        connection.creation.destroy_test_db(real_name, verbosity=0)
        shutil.rmtree(VAR_DIR, ignore_errors=True)


if __name__ == "__main__":
    main()
