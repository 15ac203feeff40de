import smtplib
import threading
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
import time_machine
from django.conf import settings
from django.core import mail
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from documents import tasks
from documents.choices import DocumentStatus
from documents.deadlines import chase_document_deadlines, reminders_create_due, reminders_deliver, stage_reached
from documents.models import Document, DocumentReminder
from ior_platform.core.tenancy import visible_shipments
from parties import notifications as notifications_module
from parties.models import EmailMode, Notification, NotificationPreference, User
from parties.notifications import email_notifications
from shipments.choices import ShipmentStatus as S
from tests.conftest import force_status


def _morning(hour: int = 9) -> datetime:
    return datetime.combine(timezone.localdate(), datetime.min.time(), tzinfo=UTC).replace(hour=hour)


def _open_shipment(world, status=S.PERMIT_COLLECTION):
    return force_status(world.shipment(), status)


def _document(
    shipment, *, due_in: int, document_type="import_permit", owed_by=None, role="ior", side="import", **extra
):
    return Document.objects.create(
        shipment=shipment,
        side=side,
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


def _expected_message(document, stage) -> tuple[str, str]:
    """How the sweep worded a reminder when it built it from model instances, kept as the reference."""
    shipment = document.shipment
    label = document.label
    due = f"{document.due_date:%Y-%m-%d}"
    headline = {
        "due": f"{label} is due today",
        "overdue": f"{label} is overdue (was due {due})",
        "escalated": f"Escalation: {label} is overdue since {due}",
    }.get(stage, f"{label} is due in {stage[1:]} day(s), on {due}")
    owed_by = document.owed_by.name if document.owed_by else document.get_owed_by_role_display()
    body = (
        f"{headline}.\n"
        f"Shipment {shipment.reference} ({shipment.origin_country} → {shipment.destination_country}), "
        f"planned ship date {shipment.planned_ship_date:%Y-%m-%d}.\n"
        f"Owed by: {owed_by}. Status: {document.get_status_display()}."
    )
    return f"[{shipment.reference}] {headline}", body


def _expected_recipients(document, stage) -> set[str]:
    def acting(organization_id, roles=("editor", "manager")):
        return set(
            User.objects.filter(organization_id=organization_id, is_active=True, memberships__role__in=roles)
            .values_list("username", flat=True)
            .distinct()
        )

    shipment = document.shipment
    users = acting(document.owed_by_id or shipment.sponsor_id)
    if stage == "escalated":
        users |= acting(shipment.ior_id, ("manager",)) | acting(shipment.sponsor_id)
    return {u for u in users if visible_shipments(User.objects.get(username=u)).filter(pk=shipment.pk).exists()}


def test_chunked_sweep_writes_what_notify_wrote_for_each_reminder(world, django_capture_on_commit_callbacks):
    with time_machine.travel(_morning(), tick=False):
        first, second = _open_shipment(world), _open_shipment(world, S.DOSSIER_REVIEW)
        Document.objects.create(
            shipment=second,
            side="export",
            document_type="export_declaration",
            owed_by_role="eor",
            owed_by=world.eor,
            due_date=timezone.localdate() - timedelta(days=4),
            title="Shipper's export declaration",
        )
        _document(first, due_in=7)
        _document(first, due_in=2, document_type="test_licence", status=DocumentStatus.REJECTED)
        _document(first, due_in=0, document_type="commercial_invoice", role="sponsor", owed_by=world.sponsor_a)
        _document(first, due_in=-1, document_type="packing_list", role="sponsor")
        Document.objects.filter(shipment=first, document_type="packing_list").update(owed_by=None)
        _document(second, due_in=-9, document_type="import_permit")
        # Sponsor B owes it, but may not see sponsor A's shipment: charlie must hear nothing of it.
        _document(second, due_in=1, document_type="no_objection_letter", role="sponsor", owed_by=world.sponsor_b)
        link = {s.pk: f"{settings.SITE_URL}{s.get_absolute_url()}" for s in (first, second)}

        with django_capture_on_commit_callbacks(execute=True):
            sent = chase_document_deadlines(chunk_size=3)

    assert sent == {"d7": 1, "d3": 1, "due": 1, "overdue": 1, "escalated": 2, "d1": 1}
    expected = set()
    for reminder in DocumentReminder.objects.select_related("document__shipment", "document__owed_by"):
        subject, body = _expected_message(reminder.document, reminder.stage)
        for username in _expected_recipients(reminder.document, reminder.stage):
            shipment = reminder.document.shipment
            expected.add((username, f"document.{reminder.stage}", subject, body, link[shipment.pk], shipment.pk))
    written = set(
        Notification.objects.values_list("recipient__username", "kind", "subject", "body", "link", "shipment_id")
    )
    assert written == expected
    assert Notification.objects.count() == len(expected)
    assert not Notification.objects.filter(recipient=world.charlie).exists()
    assert {"eddie", "imelda", "alice", "mona"} <= {r[0] for r in written if r[1] == "document.escalated"}


def test_digest_and_inbox_only_recipients_get_no_email_from_the_sweep(world, django_capture_on_commit_callbacks):
    NotificationPreference.objects.create(user=world.imelda, email_mode=EmailMode.DIGEST)
    NotificationPreference.objects.create(user=world.alice, email_mode=EmailMode.OFF)
    document = _document(_open_shipment(world), due_in=-5)

    assert _sweep(django_capture_on_commit_callbacks) == {"escalated": 1}

    assert _notified(document) == {"ivan", "imelda", "alice", "mona"}
    assert sorted(m.to[0] for m in mail.outbox) == ["ivan@example.test", "mona@example.test"]
    assert set(Notification.objects.filter(emailed_at__isnull=False).values_list("recipient__username", flat=True)) == {
        "ivan",
        "mona",
    }


def test_inactive_and_viewer_users_are_not_reminded(world, django_capture_on_commit_callbacks):
    User.objects.filter(pk=world.ivan.pk).update(is_active=False)
    document = _document(_open_shipment(world), due_in=3)
    assert _sweep(django_capture_on_commit_callbacks) == {"d3": 1}
    assert _notified(document) == {"imelda"}


def test_the_immediate_emails_of_a_chunk_go_in_one_task_per_batch(world, django_capture_on_commit_callbacks):
    shipment = _open_shipment(world)
    for due_in, kind in zip([7, 3, 1], ["import_permit", "test_licence", "no_objection_letter"], strict=True):
        _document(shipment, due_in=due_in, document_type=kind)

    with django_capture_on_commit_callbacks() as callbacks:
        assert chase_document_deadlines() == {"d7": 1, "d3": 1, "d1": 1}
    assert len(callbacks) == 1
    callbacks[0]()
    assert len(mail.outbox) == 6
    ids = list(Notification.objects.values_list("pk", flat=True))
    assert email_notifications(ids) == 0, "each e-mail is claimed once, so a batch run again sends nothing"
    assert len(mail.outbox) == 6


def test_a_refused_mailbox_does_not_hold_back_the_rest_of_its_batch(world, monkeypatch):
    shipment = _open_shipment(world)
    notes = [
        Notification.objects.create(recipient=user, shipment=shipment, kind="test", subject="S", body="B")
        for user in (world.alice, world.mona, world.ivan)
    ]
    real_send = notifications_module.send_mail

    def send_mail(subject, body, sender, to, **kwargs):
        if to == ["mona@example.test"]:
            raise smtplib.SMTPRecipientsRefused({"mona@example.test": (550, b"no such user")})
        return real_send(subject, body, sender, to, **kwargs)

    monkeypatch.setattr(notifications_module, "send_mail", send_mail)
    with pytest.raises(smtplib.SMTPRecipientsRefused):
        email_notifications([n.pk for n in notes])
    assert sorted(m.to[0] for m in mail.outbox) == ["alice@example.test", "ivan@example.test"]


@pytest.mark.parametrize("documents", [4, 40])
def test_a_chunk_costs_the_same_few_queries_however_many_reminders_it_holds(
    world, documents, django_assert_max_num_queries, django_capture_on_commit_callbacks
):
    shipments = [_open_shipment(world) for _ in range(4)]
    kinds = ["import_permit", "test_licence", "no_objection_letter", "commercial_invoice", "packing_list"]
    for index in range(documents):
        shipment = shipments[index % len(shipments)]
        side = "import" if index // (len(shipments) * len(kinds)) == 0 else "export"
        kind = kinds[(index // len(shipments)) % len(kinds)]
        _document(shipment, due_in=index % 12 - 5, document_type=kind, side=side)
    Document.objects.filter(side="export").update(owed_by=world.eor, owed_by_role="eor")

    # The sweep: one INSERT … SELECT in a savepoint, with on PostgreSQL its lock and its asynchronous commit (5).
    # Per chunk:
    # savepoint and release, the asynchronous commit, the claim, the reminders' values, members, users, visibility,
    # the notifications and whether anyone subscribed to the document.overdue webhook (10); then one empty claim
    # ends delivery (4 with its savepoint).
    with django_capture_on_commit_callbacks() as callbacks, django_assert_max_num_queries(5 + 10 + 4):
        sent = chase_document_deadlines(chunk_size=100)
    assert sum(sent.values()) == documents
    assert len(callbacks) == 1


def test_the_sweep_creates_unsent_reminders_and_delivery_sends_them_once(world, django_capture_on_commit_callbacks):
    shipment = _open_shipment(world)
    document = _document(shipment, due_in=3)
    _document(shipment, due_in=20, document_type="test_licence")  # no stage reached yet

    assert reminders_create_due() == 1
    assert reminders_create_due() == 0
    reminder = DocumentReminder.objects.get()
    assert (reminder.document, reminder.stage, reminder.notified_at) == (document, "d3", None)
    assert not Notification.objects.exists()

    with django_capture_on_commit_callbacks(execute=True):
        assert reminders_deliver() == {"d3": 1}
        assert reminders_deliver() == {}
    assert _notified(document) == {"ivan", "imelda"}
    assert DocumentReminder.objects.get().notified_at is not None


def test_delivery_drops_a_reminder_overtaken_before_it_was_sent(world, django_capture_on_commit_callbacks):
    """Delivery stalled (workers down) while a document moved from its 7-day to its 3-day stage, and another arrived:
    only the 3-day reminder goes out; the stale ones are deleted unsent, not marked sent."""
    with time_machine.travel(_morning(), tick=False) as traveller:
        shipment = _open_shipment(world)
        chased = _document(shipment, due_in=7)
        arrived = _document(shipment, due_in=7, document_type="test_licence")
        assert reminders_create_due() == 2
        Document.objects.filter(pk=arrived.pk).update(status=DocumentStatus.UPLOADED)
        traveller.shift(timedelta(days=4))
        assert reminders_create_due() == 1

        with django_capture_on_commit_callbacks(execute=True):
            assert reminders_deliver() == {"d3": 1}

    assert list(DocumentReminder.objects.values_list("document_id", "stage")) == [(chased.pk, "d3")]
    assert Notification.objects.filter(kind="document.d3").count() == 2
    assert not Notification.objects.filter(kind="document.d7").exists()


def test_the_beat_task_sweeps_and_hands_delivery_to_the_notifications_queue(world, monkeypatch):
    queued = []
    monkeypatch.setattr(tasks.deliver_document_reminders, "delay", lambda: queued.append(1))
    shipment = _open_shipment(world)
    for due_in, kind in zip([7, 3, -1], ["import_permit", "test_licence", "packing_list"], strict=True):
        _document(shipment, due_in=due_in, document_type=kind)

    result = tasks.chase_document_deadlines()

    assert (result["created"], result["unsent"]) == (3, 3)
    assert queued == [1]  # three reminders fit in one chunk: one delivery task
    assert not Notification.objects.exists()
    assert settings.CELERY_TASK_ROUTES["documents.tasks.deliver_document_reminders"] == {"queue": "notifications"}


def test_a_delivery_task_hands_what_is_left_to_a_fresh_task(world, monkeypatch, django_capture_on_commit_callbacks):
    from documents import deadlines

    queued = []
    monkeypatch.setattr(tasks.deliver_document_reminders, "delay", lambda: queued.append(1))
    monkeypatch.setattr(deadlines, "DELIVERY_CHUNK", 1)
    monkeypatch.setattr(tasks, "CHUNKS_PER_DELIVERY", 2)
    shipment = _open_shipment(world)
    for due_in, kind in zip([7, 3, -1], ["import_permit", "test_licence", "packing_list"], strict=True):
        _document(shipment, due_in=due_in, document_type=kind)
    deadlines.reminders_create_due()

    with django_capture_on_commit_callbacks(execute=True):
        assert sum(tasks.deliver_document_reminders().values()) == 2
        assert queued == [1]
        assert tasks.deliver_document_reminders() == {"overdue": 1}
    assert queued == [1]
    assert not DocumentReminder.objects.filter(notified_at__isnull=True).exists()


def test_deleting_a_document_deletes_its_reminders(world):
    """The reminder's foreign key has no database constraint (the sweep's speed); the cascade is the ORM's."""
    document = _document(_open_shipment(world), due_in=3)
    assert reminders_create_due() == 1
    document.delete()
    assert not DocumentReminder.objects.exists()
