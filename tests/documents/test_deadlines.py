import threading
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
import time_machine
from django.core import mail
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from documents.choices import DocumentStatus
from documents.deadlines import chase_document_deadlines, stage_reached
from documents.models import Document, DocumentReminder
from parties.models import Notification
from shipments.choices import ShipmentStatus as S
from tests.conftest import force_status


def _morning(hour: int = 9) -> datetime:
    return datetime.combine(timezone.localdate(), datetime.min.time(), tzinfo=UTC).replace(hour=hour)


def _open_shipment(world, status=S.PERMIT_COLLECTION):
    return force_status(world.shipment(), status)


def _document(shipment, *, due_in: int, document_type="import_permit", owed_by=None, role="ior", **extra):
    return Document.objects.create(
        shipment=shipment,
        side="import",
        document_type=document_type,
        owed_by_role=role,
        owed_by=owed_by if owed_by is not None else shipment.ior,
        due_date=timezone.localdate() + timedelta(days=due_in),
        **extra,
    )


def _sweep(capture) -> dict:
    with capture(execute=True):
        return chase_document_deadlines()


def _notified(document) -> set[str]:
    return set(Notification.objects.filter(shipment=document.shipment).values_list("recipient__username", flat=True))


@pytest.mark.parametrize(
    ("due_in", "stage"),
    [
        (8, None),
        (7, "d7"),
        (4, "d7"),
        (3, "d3"),
        (2, "d3"),
        (1, "d1"),
        (0, "due"),
        (-1, "overdue"),
        (-2, "overdue"),
        (-3, "escalated"),
        (-30, "escalated"),
    ],
)
def test_stage_reached_is_the_most_recent_one(due_in, stage):
    today = timezone.localdate()
    assert stage_reached(today + timedelta(days=due_in), today) == stage


def test_seven_day_reminder_once_then_three_day_reminder(world, django_capture_on_commit_callbacks):
    with time_machine.travel(_morning(), tick=False) as traveller:
        document = _document(_open_shipment(world), due_in=7)

        assert _sweep(django_capture_on_commit_callbacks) == {"d7": 1}
        assert _notified(document) == {"ivan", "imelda"}
        assert sorted(m.to[0] for m in mail.outbox) == ["imelda@example.test", "ivan@example.test"]
        assert "due in 7 day(s)" in mail.outbox[0].subject
        assert document.shipment.get_absolute_url() in mail.outbox[0].body

        assert _sweep(django_capture_on_commit_callbacks) == {}
        assert len(mail.outbox) == 2
        assert Notification.objects.count() == 2

        traveller.shift(timedelta(days=4))
        assert _sweep(django_capture_on_commit_callbacks) == {"d3": 1}
        assert len(mail.outbox) == 4
        assert list(document.reminders.order_by("created_at").values_list("stage", flat=True)) == ["d7", "d3"]


def test_skipping_six_hours_of_sweeps_sends_each_due_reminder_once(world, django_capture_on_commit_callbacks):
    with time_machine.travel(_morning(21), tick=False) as traveller:
        shipment = _open_shipment(world)
        types = ["import_permit", "test_licence", "no_objection_letter", "commercial_invoice", "packing_list"]
        documents = {
            due_in: _document(shipment, due_in=due_in, document_type=kind)
            for due_in, kind in zip([8, 4, 2, 1, 0], types, strict=True)
        }
        late = _document(shipment, due_in=-1, document_type="qp_release")
        assert _sweep(django_capture_on_commit_callbacks) == {"d7": 1, "d3": 1, "d1": 1, "due": 1, "overdue": 1}

        traveller.shift(timedelta(hours=6))  # past midnight, with no sweep in between
        sent = _sweep(django_capture_on_commit_callbacks)

        assert sent == {"d7": 1, "d3": 1, "d1": 1, "due": 1, "overdue": 1}
        assert set(documents[8].reminders.values_list("stage", flat=True)) == {"d7"}
        assert set(documents[4].reminders.values_list("stage", flat=True)) == {"d7", "d3"}
        assert set(documents[0].reminders.values_list("stage", flat=True)) == {"due", "overdue"}
        assert set(late.reminders.values_list("stage", flat=True)) == {"overdue"}
        outbox = len(mail.outbox)
        assert _sweep(django_capture_on_commit_callbacks) == {}
        assert len(mail.outbox) == outbox
        assert DocumentReminder.objects.filter(notified_at__isnull=True).count() == 0


def test_catching_up_after_a_gap_sends_only_the_most_recent_stage(world, django_capture_on_commit_callbacks):
    with time_machine.travel(_morning(), tick=False):
        shipment = _open_shipment(world)
        soon = _document(shipment, due_in=1)
        forgotten = _document(shipment, due_in=-10, document_type="test_licence")

        assert _sweep(django_capture_on_commit_callbacks) == {"d1": 1, "escalated": 1}

        assert list(soon.reminders.values_list("stage", flat=True)) == ["d1"]
        assert list(forgotten.reminders.values_list("stage", flat=True)) == ["escalated"]


def test_escalation_reaches_the_ior_managers_and_the_sponsor(world, django_capture_on_commit_callbacks):
    with time_machine.travel(_morning(), tick=False):
        document = _document(
            _open_shipment(world, S.DOSSIER_REVIEW), due_in=-3, document_type="export_declaration", role="eor"
        )
        Document.objects.filter(pk=document.pk).update(owed_by=world.eor, side="export")

        assert _sweep(django_capture_on_commit_callbacks) == {"escalated": 1}

    assert _notified(document) == {"eddie", "imelda", "alice", "mona"}
    assert "Escalation" in Notification.objects.filter(recipient=world.imelda).get().subject


@pytest.mark.parametrize(
    ("shipment_status", "document_status"),
    [
        (S.DRAFT, DocumentStatus.REQUESTED),
        (S.APPROVED, DocumentStatus.REQUESTED),
        (S.CANCELLED, DocumentStatus.REQUESTED),
        (S.PERMIT_COLLECTION, DocumentStatus.UPLOADED),
        (S.PERMIT_COLLECTION, DocumentStatus.APPROVED),
    ],
)
def test_documents_no_longer_open_are_not_chased(world, shipment_status, document_status):
    _document(_open_shipment(world, shipment_status), due_in=1, status=document_status)
    assert chase_document_deadlines() == {}
    assert not DocumentReminder.objects.exists()
    assert not Notification.objects.exists()


def test_rejected_document_is_chased_again(world, django_capture_on_commit_callbacks):
    _document(_open_shipment(world), due_in=3, status=DocumentStatus.REJECTED)
    assert _sweep(django_capture_on_commit_callbacks) == {"d3": 1}


def test_reminder_days_and_escalation_are_configurable(world, settings, django_capture_on_commit_callbacks):
    settings.DEADLINE_REMINDER_DAYS = [7, 1]
    _document(_open_shipment(world), due_in=3)
    assert _sweep(django_capture_on_commit_callbacks) == {"d7": 1}
    settings.DEADLINE_ESCALATION_DAYS = 1
    assert stage_reached(timezone.localdate() - timedelta(days=1), timezone.localdate()) == "escalated"


def test_a_reminder_left_unsent_by_a_failed_sweep_is_sent_by_the_next(world, django_capture_on_commit_callbacks):
    document = _document(_open_shipment(world), due_in=1)
    DocumentReminder.objects.create(document=document, stage="d1", due_date=document.due_date)
    assert _sweep(django_capture_on_commit_callbacks) == {"d1": 1}
    assert len(mail.outbox) == 2


def test_command_prints_what_it_sent(world, django_capture_on_commit_callbacks):
    _document(_open_shipment(world), due_in=0)
    out = StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("chase_deadlines", stdout=out)
    assert "Due today: 1" in out.getvalue()
    assert "Reminders sent: 1" in out.getvalue()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_sweeps_at_once_create_and_send_each_reminder_once(world):
    shipment = _open_shipment(world)
    kinds = ["import_permit", "test_licence", "no_objection_letter", "commercial_invoice", "packing_list", "qp_release"]
    for due_in, kind in zip([7, 3, 1, 0, -1, -5], kinds, strict=True):
        _document(shipment, due_in=due_in, document_type=kind)
    barrier = threading.Barrier(2)
    results: list[dict] = []
    errors: list[BaseException] = []

    def sweep():
        try:
            barrier.wait()
            results.append(chase_document_deadlines())
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=sweep) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    total: dict[str, int] = {}
    for result in results:
        for stage, count in result.items():
            total[stage] = total.get(stage, 0) + count
    assert total == {"d7": 1, "d3": 1, "d1": 1, "due": 1, "overdue": 1, "escalated": 1}
    assert DocumentReminder.objects.count() == 6
    assert DocumentReminder.objects.filter(notified_at__isnull=True).count() == 0
    # Five stages to ivan and imelda; the escalation to imelda once (deduplicated), alice and mona.
    assert Notification.objects.count() == 5 * 2 + 4
    assert len(mail.outbox) == Notification.objects.count()
