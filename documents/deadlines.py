"""Chasing checklist documents before and after their due dates.

Deadlines live in the database: each sweep looks at every open document and works out the one stage it has
reached today, so a sweep missed (the beat down for a day) costs nothing and catching up sends only the most recent
stage, never the ones skipped. Each (document, stage) is a unique row, inserted already claimed with conflicts
ignored (or, left unsent by a crashed sweep, claimed by a conditional UPDATE of notified_at), so two sweeps at once
notify once. A chunk's notifications are written from value rows in a fixed number of queries."""

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

    Set-based: one query over the open documents finds each one's current stage that has no reminder yet, or one a
    crashed sweep left unsent; its rows are then created or claimed and notified chunk by chunk, so memory does not
    grow with the number of documents. A sweep with nothing to send costs that one query."""
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
    # Joined on the stage reached today only: an older stage left unsent stays unsent (catch-up rule).
    pending_sql = (
        f"SELECT wanted.id, wanted.due_date, wanted.stage, reminder.id FROM ({wanted_sql}) AS wanted "  # noqa: S608
        f"LEFT JOIN {table} AS reminder ON reminder.document_id = wanted.id AND reminder.stage = wanted.stage "
        "WHERE reminder.id IS NULL OR reminder.notified_at IS NULL"
    )
    sent: Counter[str] = Counter()
    labels = _display_labels()
    # Most sweeps have less than a chunk to send: a plain query answers them, and PostgreSQL may run it in parallel,
    # which it never does for a server-side cursor. Only a full first chunk streams the rest through one; the rows
    # just sent no longer match.
    with connection.cursor() as cursor:
        cursor.execute(f"{pending_sql} LIMIT %s", [*params, chunk_size])
        rows = cursor.fetchall()
    if rows:
        sent.update(_claim_and_notify(rows, labels))
    if len(rows) == chunk_size:
        with connection.chunked_cursor() as pending:
            pending.execute(pending_sql, params)
            while rows := pending.fetchmany(chunk_size):
                sent.update(_claim_and_notify(rows, labels))
    return dict(sent)


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
)


def _display_labels() -> dict[str, dict[str, str]]:
    """get_FOO_display() of the fields a message shows, as dicts, in the language active for this sweep."""
    fields = ("document_type", "side", "status", "owed_by_role")
    return {name: {k: str(v) for k, v in Document._meta.get_field(name).flatchoices} for name in fields}


def _claim_and_notify(rows: list[tuple], labels: dict[str, dict[str, str]]) -> Counter[str]:
    sent: Counter[str] = Counter()
    now = timezone.now()
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # A first sweep writes a few notifications per reminder; waiting at each chunk's commit for its WAL to
            # reach the disk is time the sweep need not spend. A server crash may lose the last chunks committed, but
            # whole (reminders with their notifications), so the next sweep sends them again; and an e-mail task's
            # claim commits synchronously, which flushes the WAL that wrote its notification first.
            cursor.execute("SET LOCAL synchronous_commit TO OFF")
        missing = [
            (document_id, due_date, stage) for document_id, due_date, stage, reminder_id in rows if not reminder_id
        ]
        left_unsent = [reminder_id for *_, reminder_id in rows if reminder_id]
        claimed = _create_claimed(cursor, missing, now) + _claim_unsent(cursor, left_unsent, now)
        if not claimed:
            return sent
        reminders = [
            dict(zip(REMINDER_FIELDS, row, strict=True))
            for row in DocumentReminder.objects.filter(pk__in=claimed).order_by("pk").values_list(*REMINDER_FIELDS)
        ]
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
        webhooks_emit_document_overdue(reminder_ids=claimed)
    return sent


def _create_claimed(cursor, missing: list[tuple], now) -> list[int]:
    """Create reminders already claimed by this sweep; the ids of those it created. A second sweep inserting the same
    (document, stage) waits on the unique index for this one's commit and then creates nothing, so only one of them
    sends it; if this one rolls back, the other creates it."""
    if not missing:
        return []
    table = connection.ops.quote_name(DocumentReminder._meta.db_table)
    columns = "(document_id, due_date, stage, created_at, notified_at)"
    conflict = "ON CONFLICT (document_id, stage) DO NOTHING RETURNING id"
    if connection.vendor == "postgresql":
        # Three arrays rather than a placeholder per value: the driver's parsing of thousands of them costs more than
        # the insert.
        cursor.execute(
            f"INSERT INTO {table} {columns} SELECT *, %s, %s "  # noqa: S608
            f"FROM unnest(%s::bigint[], %s::date[], %s::text[]) {conflict}",
            [now, now, *(list(column) for column in zip(*missing, strict=True))],
        )
    else:
        values = ", ".join(["(%s, %s, %s, %s, %s)"] * len(missing))
        cursor.execute(
            f"INSERT INTO {table} {columns} VALUES {values} {conflict}",  # noqa: S608
            [value for row in missing for value in (*row, now, now)],
        )
    return [row[0] for row in cursor.fetchall()]


def _claim_unsent(cursor, reminder_ids: list[int], now) -> list[int]:
    """Claim reminders a crashed sweep created but never sent; the ids of those this sweep won."""
    if not reminder_ids:
        return []
    table = connection.ops.quote_name(DocumentReminder._meta.db_table)
    placeholders = ", ".join(["%s"] * len(reminder_ids))
    # On PostgreSQL a second sweep's UPDATE of the same rows waits for this one's commit and then finds them
    # claimed; RETURNING tells each sweep exactly which reminders are its own to send.
    cursor.execute(
        f"UPDATE {table} SET notified_at = %s WHERE notified_at IS NULL AND id IN ({placeholders}) "  # noqa: S608
        "RETURNING id",
        [now, *reminder_ids],
    )
    return [row[0] for row in cursor.fetchall()]


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
