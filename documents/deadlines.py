"""Chasing checklist documents before and after their due dates.

Deadlines live in the database: each sweep looks at every open document and works out the one stage it has
reached today, so a sweep missed (the beat down for a day) costs nothing and catching up sends only the most recent
stage, never the ones skipped. Each (document, stage) is a unique row, inserted with conflicts ignored and then
claimed by a conditional UPDATE of notified_at, so two sweeps at once notify once."""

from collections import Counter
from datetime import date, timedelta

from django.conf import settings
from django.db import transaction
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


def chase_document_deadlines(*, today: date | None = None) -> dict[str, int]:
    """Remind the owing parties of open checklist documents, once per stage. Returns how many of each stage
    this sweep sent."""
    today = today or timezone.localdate()
    horizon = today + timedelta(days=max(reminder_days(), default=0))
    documents = list(
        Document.objects.filter(
            status__in=CHASED_DOCUMENT_STATUSES,
            shipment__status__in=CHASED_SHIPMENT_STATUSES,
            due_date__lte=horizon,
        ).select_related("shipment", "owed_by")
    )
    wanted = {doc.pk: stage for doc in documents if (stage := stage_reached(doc.due_date, today))}
    if not wanted:
        return {}
    by_pk = {doc.pk: doc for doc in documents}
    DocumentReminder.objects.bulk_create(
        [DocumentReminder(document_id=pk, stage=stage, due_date=by_pk[pk].due_date) for pk, stage in wanted.items()],
        ignore_conflicts=True,
    )
    # Also picks up a reminder whose sweep died between inserting and notifying.
    unsent = DocumentReminder.objects.filter(document_id__in=list(wanted), notified_at__isnull=True).values_list(
        "pk", "document_id", "stage"
    )
    sent: Counter[str] = Counter()
    for pk, document_id, stage in unsent:
        if wanted[document_id] == stage and _claim_and_notify(pk, by_pk[document_id], stage):
            sent[stage] += 1
    return dict(sent)


def _claim_and_notify(reminder_id: int, document: Document, stage: str) -> bool:
    with transaction.atomic():
        # On PostgreSQL a second sweep's UPDATE waits for this one's commit and then matches no row.
        claimed = DocumentReminder.objects.filter(pk=reminder_id, notified_at__isnull=True).update(
            notified_at=timezone.now()
        )
        if not claimed:
            return False
        subject, body = _message(document, stage)
        notify(
            recipients=_recipients(document, stage),
            kind=f"document.{stage}",
            subject=subject,
            body=body,
            shipment=document.shipment,
        )
    return True


def _recipients(document: Document, stage: str):
    shipment = document.shipment
    owing = document.owed_by_id or shipment.sponsor_id
    users = User.objects.filter(organization_id=owing, is_active=True, memberships__role__in=ACTING_ROLES).distinct()
    if stage != ReminderStage.ESCALATED:
        return list(users)
    managers = User.objects.filter(
        organization_id=shipment.ior_id, is_active=True, memberships__role=MemberRole.MANAGER
    ).distinct()
    sponsor = User.objects.filter(
        organization_id=shipment.sponsor_id, is_active=True, memberships__role__in=ACTING_ROLES
    ).distinct()
    return [*users, *managers, *sponsor]


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
