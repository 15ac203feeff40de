"""Chasing checklist documents before and after their due dates.

Deadlines live in the database: each sweep looks at every open document and works out the one stage it has
reached today, so a sweep missed (the beat down for a day) costs nothing and catching up sends only the most recent
stage, never the ones skipped. Each (document, stage) is a unique row, inserted with conflicts ignored and then
claimed by a conditional UPDATE of notified_at, so two sweeps at once notify once."""

from collections import Counter
from datetime import date, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Case, CharField, Value, When
from django.utils import timezone

from documents.choices import DocumentStatus
from documents.models import Document, DocumentReminder, ReminderStage
from parties.choices import MemberRole
from parties.models import User
from parties.notifications import notify
from shipments.choices import ShipmentStatus

CHASED_DOCUMENT_STATUSES = (DocumentStatus.REQUESTED, DocumentStatus.REJECTED)
CHASED_SHIPMENT_STATUSES = (ShipmentStatus.PERMIT_COLLECTION, ShipmentStatus.DOSSIER_REVIEW)
ACTING_ROLES = (MemberRole.EDITOR, MemberRole.MANAGER)


def reminder_days() -> list[int]:
    """The days before the due date that have a reminder, largest first, limited to the stages that exist."""
    configured = getattr(settings, "DEADLINE_REMINDER_DAYS", [7, 3, 1])
    return sorted({int(d) for d in configured if f"d{int(d)}" in ReminderStage.values}, reverse=True)


def escalation_days() -> int:
    return int(getattr(settings, "DEADLINE_ESCALATION_DAYS", 3))


def stage_reached(due_date: date, today: date) -> str | None:
    """The most recent stage a document due on `due_date` has reached on `today`, or None if none yet."""
    days_left = (due_date - today).days
    if days_left < 0:
        return ReminderStage.ESCALATED if -days_left >= escalation_days() else ReminderStage.OVERDUE
    if days_left == 0:
        return ReminderStage.DUE
    reached = [d for d in reminder_days() if days_left <= d]
    return f"d{min(reached)}" if reached else None


def _stage_case(today: date) -> Case:
    """stage_reached() as SQL, so the sweep picks each open document's stage in the database."""
    whens = [
        When(due_date__lte=today - timedelta(days=escalation_days()), then=Value(ReminderStage.ESCALATED)),
        When(due_date__lt=today, then=Value(ReminderStage.OVERDUE)),
        When(due_date=today, then=Value(ReminderStage.DUE)),
    ]
    whens += [
        When(due_date__lte=today + timedelta(days=days), then=Value(f"d{days}")) for days in sorted(reminder_days())
    ]
    return Case(*whens, default=Value(None), output_field=CharField())


def _open_documents(today: date):
    horizon = today + timedelta(days=max(reminder_days(), default=0))
    return Document.objects.filter(
        status__in=CHASED_DOCUMENT_STATUSES, shipment__status__in=CHASED_SHIPMENT_STATUSES, due_date__lte=horizon
    )


def chase_document_deadlines(*, today: date | None = None, chunk_size: int = 1000) -> dict[str, int]:
    """Remind the owing parties of open checklist documents, once per stage. Returns how many of each stage
    this sweep sent.

    Set-based: one INSERT … SELECT creates the reminders every open document has reached (conflicts with those
    already there are ignored), then the unsent ones are claimed and notified chunk by chunk, so memory does not
    grow with the number of documents."""
    today = today or timezone.localdate()
    due = (
        _open_documents(today)
        .annotate(stage=_stage_case(today))
        .filter(stage__isnull=False)
        .order_by()
        .values_list("pk", "due_date", "stage")
    )
    select_sql, params = due.query.sql_with_params()
    table = connection.ops.quote_name(DocumentReminder._meta.db_table)
    with connection.cursor() as cursor:
        # "WHERE true" keeps SQLite from reading ON CONFLICT as part of the SELECT.
        cursor.execute(
            f"INSERT INTO {table} (document_id, due_date, stage, created_at) "  # noqa: S608
            f"SELECT wanted.*, %s FROM ({select_sql}) AS wanted WHERE true "
            "ON CONFLICT (document_id, stage) DO NOTHING",
            [timezone.now(), *params],
        )
    # Only the stage each document has reached now is sent; an older unsent stage stays unsent (catch-up rule).
    # A reminder a crashed sweep inserted but never sent is picked up here too.
    unsent = (
        DocumentReminder.objects.filter(notified_at__isnull=True, document__in=_open_documents(today))
        .values_list("pk", "stage", "document__due_date")
        .order_by("pk")
    )
    sent: Counter[str] = Counter()
    cache: dict = {}
    batch: list[int] = []
    for pk, stage, due_date in unsent.iterator(chunk_size=chunk_size):
        if stage_reached(due_date, today) != stage:
            continue
        batch.append(pk)
        if len(batch) >= chunk_size:
            sent.update(_claim_and_notify(batch, cache))
            batch = []
    if batch:
        sent.update(_claim_and_notify(batch, cache))
    return dict(sent)


def _claim_and_notify(reminder_ids: list[int], cache: dict) -> Counter[str]:
    sent: Counter[str] = Counter()
    table = connection.ops.quote_name(DocumentReminder._meta.db_table)
    placeholders = ", ".join(["%s"] * len(reminder_ids))
    with transaction.atomic(), connection.cursor() as cursor:
        # On PostgreSQL a second sweep's UPDATE of the same rows waits for this one's commit and then finds them
        # claimed; RETURNING tells each sweep exactly which reminders are its own to send.
        cursor.execute(
            f"UPDATE {table} SET notified_at = %s WHERE notified_at IS NULL AND id IN ({placeholders}) "  # noqa: S608
            "RETURNING id",
            [timezone.now(), *reminder_ids],
        )
        claimed = [row[0] for row in cursor.fetchall()]
        reminders = DocumentReminder.objects.filter(pk__in=claimed).select_related(
            "document__shipment", "document__owed_by"
        )
        for reminder in reminders:
            document, stage = reminder.document, reminder.stage
            subject, body = _message(document, stage)
            notify(
                recipients=_recipients(document, stage, cache),
                kind=f"document.{stage}",
                subject=subject,
                body=body,
                shipment=document.shipment,
            )
            sent[stage] += 1
    return sent


def _members(organization_id, roles, cache: dict) -> list:
    """Active users of an organization holding one of `roles`, looked up once per sweep."""
    key = (organization_id, roles)
    if key not in cache:
        cache[key] = list(
            User.objects.filter(organization_id=organization_id, is_active=True, memberships__role__in=roles).distinct()
        )
    return cache[key]


def _recipients(document: Document, stage: str, cache: dict):
    shipment = document.shipment
    users = _members(document.owed_by_id or shipment.sponsor_id, ACTING_ROLES, cache)
    if stage != ReminderStage.ESCALATED:
        return users
    managers = _members(shipment.ior_id, (MemberRole.MANAGER,), cache) if shipment.ior_id else []
    return [*users, *managers, *_members(shipment.sponsor_id, ACTING_ROLES, cache)]


def _message(document: Document, stage: str) -> tuple[str, str]:
    shipment = document.shipment
    label = document.label
    due = f"{document.due_date:%Y-%m-%d}"
    if stage == ReminderStage.DUE:
        headline = f"{label} is due today"
    elif stage == ReminderStage.OVERDUE:
        headline = f"{label} is overdue (was due {due})"
    elif stage == ReminderStage.ESCALATED:
        headline = f"Escalation: {label} is overdue since {due}"
    else:
        headline = f"{label} is due in {stage[1:]} day(s), on {due}"
    owed_by = document.owed_by.name if document.owed_by else document.get_owed_by_role_display()
    body = (
        f"{headline}.\n"
        f"Shipment {shipment.reference} ({shipment.origin_country} → {shipment.destination_country}), "
        f"planned ship date {shipment.planned_ship_date:%Y-%m-%d}.\n"
        f"Owed by: {owed_by}. Status: {document.get_status_display()}."
    )
    return f"[{shipment.reference}] {headline}", body
