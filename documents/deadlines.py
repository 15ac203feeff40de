"""Chasing checklist documents before and after their due dates.

Deadlines live in the database: each sweep looks at every open document and works out the one stage it has
reached today, so a sweep missed (the beat down for a day) costs nothing and catching up sends only the most recent
stage, never the ones skipped. The sweep is one set-based INSERT … SELECT of the (document, stage) reminders that
do not exist yet, under a unique key, with sweeps serialized by a lock, so two sweeps at once create each once.
Delivery is separate and can run on several workers: unsent reminders are claimed chunk by chunk with a conditional
UPDATE (SKIP LOCKED on PostgreSQL) and notified in the claiming transaction, so each is sent once; a chunk's
notifications are written from value rows in a fixed number of queries."""

from collections import Counter
from datetime import date, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Case, CharField, Value, When
from django.utils import timezone

from documents.choices import DocumentStatus
from documents.models import Document, DocumentReminder, ReminderStage
from parties.choices import MemberRole
from parties.models import Membership
from parties.notifications import ShipmentMessage, notify_bulk
from parties.webhooks import webhooks_emit_document_overdue
from shipments.choices import ShipmentStatus

CHASED_DOCUMENT_STATUSES = (DocumentStatus.REQUESTED, DocumentStatus.REJECTED)
CHASED_SHIPMENT_STATUSES = (ShipmentStatus.PERMIT_COLLECTION, ShipmentStatus.DOSSIER_REVIEW)
ACTING_ROLES = (MemberRole.EDITOR, MemberRole.MANAGER)
DELIVERY_CHUNK = 1000


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


def chase_document_deadlines(*, today: date | None = None, chunk_size: int = DELIVERY_CHUNK) -> dict[str, int]:
    """Sweep, then deliver what is due, in this process (`manage.py chase_deadlines`). Returns how many reminders of
    each stage were sent. The beat task instead sweeps and hands delivery to the notifications queue."""
    reminders_create_due(today=today)
    return reminders_deliver(today=today, chunk_size=chunk_size)


# Two sweeps serialize on this PostgreSQL advisory lock (taken for the sweep's transaction), so the second one's
# NOT EXISTS sees the first one's committed reminders. Cheaper than ON CONFLICT, whose speculative insertion measured
# at over a third of a first sweep's time; the unique index stays as the guard. (Cutting a large sweep into id
# ranges inserted on parallel connections was measured too, on PostgreSQL 15: no faster, the parts contend for the
# same table's and indexes' pages.)
SWEEP_LOCK = 0x10C_DEAD


def reminders_create_due(*, today: date | None = None) -> int:
    """The sweep: one INSERT … SELECT creates the reminder of the stage each open document has reached today, unless
    that (document, stage) has one already; returns how many it created. Set-based, so its cost is the one query
    over the open documents, whatever their number. Two sweeps at once: the second waits for the first (SWEEP_LOCK
    on PostgreSQL, the single writer on SQLite), then creates nothing. The reminders are created unsent; delivery
    claims them (reminders_deliver)."""
    today = today or timezone.localdate()
    wanted = (
        _open_documents(today)
        .annotate(stage=_stage_case(today))
        .filter(stage__isnull=False)
        .order_by()
        .values_list("id", "due_date", "stage")
    )
    wanted_sql, params = wanted.query.sql_with_params()
    table = connection.ops.quote_name(DocumentReminder._meta.db_table)
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [SWEEP_LOCK])
            # Unsent reminders a server crash loses with the last commits are created again by the next sweep.
            cursor.execute("SET LOCAL synchronous_commit TO OFF")
        cursor.execute(
            f"INSERT INTO {table} (document_id, due_date, stage, created_at) "  # noqa: S608
            f"SELECT wanted.id, wanted.due_date, wanted.stage, %s FROM ({wanted_sql}) AS wanted "
            f"WHERE NOT EXISTS (SELECT 1 FROM {table} AS reminder "
            "WHERE reminder.document_id = wanted.id AND reminder.stage = wanted.stage)",
            [timezone.now(), *params],
        )
        return max(cursor.rowcount, 0)


def reminders_unsent() -> int:
    return DocumentReminder.objects.filter(notified_at__isnull=True).count()


def reminders_deliver(
    *, today: date | None = None, chunk_size: int = DELIVERY_CHUNK, max_chunks: int | None = None
) -> Counter:
    """Send unsent reminders chunk by chunk, each chunk claimed by a conditional UPDATE (on PostgreSQL over rows
    locked with SKIP LOCKED, so several workers drain at once without waiting on each other) and notified in the
    same transaction: a worker killed mid-chunk rolls the claim back and the chunk is sent by the next one. A
    reminder whose stage is no longer the one its document has reached (a later stage came first, or the document
    arrived) is deleted unsent: catching up sends only the most recent stage. Memory is one chunk."""
    today = today or timezone.localdate()
    sent: Counter[str] = Counter()
    labels = _display_labels()
    chunks = 0
    while max_chunks is None or chunks < max_chunks:
        chunks += 1
        with transaction.atomic(), connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                # A first sweep writes a few notifications per reminder; waiting at each chunk's commit for its WAL
                # to reach the disk is time delivery need not spend. A server crash may lose the last chunks, but
                # whole (claims with their notifications), so they are delivered again; an e-mail task's claim
                # commits synchronously, which flushes the WAL that wrote its notification first.
                cursor.execute("SET LOCAL synchronous_commit TO OFF")
            claimed = _claim_unsent(cursor, chunk_size)
            if not claimed:
                break
            sent.update(_notify(claimed, today, labels))
    return sent


# What a chunk's messages are written from: plain values joined in one query, no model instances.
REMINDER_FIELDS = (
    "stage",
    "document__title",
    "document__document_type",
    "document__side",
    "document__status",
    "document__due_date",
    "document__owed_by_role",
    "document__owed_by_id",
    "document__owed_by__name",
    "document__shipment_id",
    "document__shipment__reference",
    "document__shipment__origin_country",
    "document__shipment__destination_country",
    "document__shipment__planned_ship_date",
    "document__shipment__sponsor_id",
    "document__shipment__ior_id",
    "document__shipment__status",
)


def _display_labels() -> dict[str, dict[str, str]]:
    """get_FOO_display() of the fields a message shows, as dicts, in the language active for this sweep."""
    fields = ("document_type", "side", "status", "owed_by_role")
    return {name: {k: str(v) for k, v in Document._meta.get_field(name).flatchoices} for name in fields}


def _claim_unsent(cursor, chunk_size: int) -> list[int]:
    """Claim up to chunk_size unsent reminders, oldest first; the ids this transaction won."""
    table = connection.ops.quote_name(DocumentReminder._meta.db_table)
    skip_locked = " FOR UPDATE SKIP LOCKED" if connection.features.has_select_for_update_skip_locked else ""
    # On SQLite writers take turns (IMMEDIATE transactions), so the conditional UPDATE alone claims each row once.
    cursor.execute(
        f"UPDATE {table} SET notified_at = %s WHERE notified_at IS NULL AND id IN ("  # noqa: S608
        f"SELECT id FROM {table} WHERE notified_at IS NULL ORDER BY id LIMIT %s{skip_locked}) RETURNING id",
        [timezone.now(), chunk_size],
    )
    return sorted(row[0] for row in cursor.fetchall())


def _notify(claimed: list[int], today: date, labels: dict[str, dict[str, str]]) -> Counter[str]:
    sent: Counter[str] = Counter()
    reminders, stale = [], []
    for row in DocumentReminder.objects.filter(pk__in=claimed).order_by("pk").values_list("pk", *REMINDER_FIELDS):
        reminder = dict(zip(REMINDER_FIELDS, row[1:], strict=True))
        still_due = (
            reminder["document__status"] in CHASED_DOCUMENT_STATUSES
            and reminder["document__shipment__status"] in CHASED_SHIPMENT_STATUSES
            and stage_reached(reminder["document__due_date"], today) == reminder["stage"]
        )
        if still_due:
            reminder["pk"] = row[0]
            reminders.append(reminder)
        else:
            stale.append(row[0])
    if stale:
        DocumentReminder.objects.filter(pk__in=stale).delete()
    if not reminders:
        return sent
    members = _members_by_organization(
        {r["document__owed_by_id"] or r["document__shipment__sponsor_id"] for r in reminders}
        | {r["document__shipment__sponsor_id"] for r in reminders if r["stage"] == ReminderStage.ESCALATED}
        | {r["document__shipment__ior_id"] for r in reminders if r["stage"] == ReminderStage.ESCALATED}
    )
    messages = []
    for reminder in reminders:
        stage = reminder["stage"]
        subject, body = _message(reminder, labels)
        messages.append(
            ShipmentMessage(
                recipient_ids=_recipients(reminder, members),
                kind=f"document.{stage}",
                subject=subject,
                body=body,
                shipment_id=reminder["document__shipment_id"],
                shipment_reference=reminder["document__shipment__reference"],
            )
        )
        sent[stage] += 1
    notify_bulk(messages=messages)
    webhooks_emit_document_overdue(reminder_ids=[r["pk"] for r in reminders])
    return sent


def _members_by_organization(organization_ids: set[int | None]) -> dict[tuple[int, str], list[int]]:
    """The active users of each organization who may act on a document (ACTING_ROLES) and who manage it
    (MemberRole.MANAGER), one query for a whole chunk."""
    members: dict[tuple[int, str], list[int]] = {}
    rows = (
        Membership.objects.filter(
            user__organization_id__in=organization_ids - {None}, user__is_active=True, role__in=ACTING_ROLES
        )
        .order_by("user_id")
        .values_list("user__organization_id", "role", "user_id")
    )
    for organization_id, role, user_id in rows:
        acting = members.setdefault((organization_id, "acting"), [])
        if user_id not in acting:
            acting.append(user_id)
        if role == MemberRole.MANAGER:
            members.setdefault((organization_id, "manager"), []).append(user_id)
    return members


def _recipients(reminder: dict, members: dict[tuple[int, str], list[int]]) -> list[int]:
    sponsor_id = reminder["document__shipment__sponsor_id"]
    users = members.get((reminder["document__owed_by_id"] or sponsor_id, "acting"), [])
    if reminder["stage"] != ReminderStage.ESCALATED:
        return users
    managers = members.get((reminder["document__shipment__ior_id"], "manager"), [])
    return [*users, *managers, *members.get((sponsor_id, "acting"), [])]


def _message(reminder: dict, labels: dict[str, dict[str, str]]) -> tuple[str, str]:
    stage = reminder["stage"]
    document_type, side = reminder["document__document_type"], reminder["document__side"]
    label = (
        f"{reminder['document__title'] or labels['document_type'].get(document_type, document_type)} "
        f"({labels['side'].get(side, side).lower()})"
    )
    due = f"{reminder['document__due_date']:%Y-%m-%d}"
    if stage == ReminderStage.DUE:
        headline = f"{label} is due today"
    elif stage == ReminderStage.OVERDUE:
        headline = f"{label} is overdue (was due {due})"
    elif stage == ReminderStage.ESCALATED:
        headline = f"Escalation: {label} is overdue since {due}"
    else:
        headline = f"{label} is due in {stage[1:]} day(s), on {due}"
    role, status = reminder["document__owed_by_role"], reminder["document__status"]
    owed_by = (
        reminder["document__owed_by__name"]
        if reminder["document__owed_by_id"]
        else labels["owed_by_role"].get(role, role)
    )
    reference = reminder["document__shipment__reference"]
    body = (
        f"{headline}.\n"
        f"Shipment {reference} ({reminder['document__shipment__origin_country']} → "
        f"{reminder['document__shipment__destination_country']}), "
        f"planned ship date {reminder['document__shipment__planned_ship_date']:%Y-%m-%d}.\n"
        f"Owed by: {owed_by}. Status: {labels['status'].get(status, status)}."
    )
    return f"[{reference}] {headline}", body
