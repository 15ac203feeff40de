"""Notifications: an inbox row per recipient, e-mailed at once after commit or gathered into a daily digest.

Every recipient passes the tenancy rule for the shipment a notification is about, both when it is written and
when it is e-mailed, so nobody learns about a shipment they may not see."""

import functools
import re
import zoneinfo
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import NamedTuple

from celery import shared_task
from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, connection, transaction
from django.db.models import IntegerField, Value
from django.utils import timezone

from ior_platform.core.celery_tasks import DurableTask, is_transient
from ior_platform.core.models import TaskClaim
from ior_platform.core.tenancy import restrict
from parties.models import EmailMode, Notification, NotificationPreference, User

DIGEST_WINDOW = timedelta(days=1)
# Immediate e-mails per task in notify_bulk: few enough that a batch is sent well within the task time limit.
EMAIL_BATCH = 100
# Organizations per visibility query in notify_bulk, within SQLite's limit on the terms of a UNION.
VISIBILITY_BATCH = 100


def _may_see(user, shipment) -> bool:
    from shipments.models import Shipment

    return restrict(Shipment.objects.filter(pk=shipment.pk), user).exists()


def _email_modes(user_ids: Iterable[int]) -> dict[int, str]:
    chosen = dict(
        NotificationPreference.objects.filter(user_id__in=list(user_ids)).values_list("user_id", "email_mode")
    )
    return {pk: chosen.get(pk, EmailMode.IMMEDIATE) for pk in user_ids}


def notify(*, recipients: Iterable[User], kind: str, subject: str, body: str, shipment=None) -> list[Notification]:
    """Put a notification in each recipient's inbox and, for those who want it at once, e-mail it after commit."""
    unique = {user.pk: user for user in recipients if user.is_active}
    if shipment is not None:
        unique = {pk: user for pk, user in unique.items() if _may_see(user, shipment)}
    if not unique:
        return []
    link = f"{settings.SITE_URL}{shipment.get_absolute_url()}" if shipment is not None else ""
    now = timezone.now()
    created = Notification.objects.bulk_create(
        Notification(
            recipient=user, shipment=shipment, kind=kind, subject=subject, body=body, link=link, created_at=now
        )
        for user in unique.values()
    )
    modes = _email_modes(unique)
    for notification in created:
        if modes[notification.recipient_id] == EmailMode.IMMEDIATE and notification.recipient.email:
            transaction.on_commit(partial(email_notification.delay, notification.pk))
    return created


@dataclass(frozen=True)
class ShipmentMessage:
    """One message about a shipment for some users, as notify_bulk takes it: plain values, no model instances."""

    recipient_ids: Sequence[int]
    kind: str
    subject: str
    body: str
    shipment_id: int
    shipment_reference: str


class _Addressee(NamedTuple):
    organization_id: int | None
    staff: bool
    email: str
    email_mode: str

    @property
    def wants_email_now(self) -> bool:
        return self.email_mode == EmailMode.IMMEDIATE and bool(self.email)


def notify_bulk(*, messages: Iterable[ShipmentMessage]) -> list[int]:
    """notify() for many messages about shipments, in a number of queries that does not grow with them: the same
    inbox rows, the same tenancy and preference rules, and the immediate e-mails queued after commit a batch per
    task. Returns the ids of the notifications written."""
    messages = list(messages)
    rows = User.objects.filter(
        pk__in={pk for message in messages for pk in message.recipient_ids}, is_active=True
    ).values_list("pk", "organization_id", "is_staff", "is_superuser", "email", "notification_preference__email_mode")
    users = {
        pk: _Addressee(organization_id, is_staff or is_superuser, email, mode or EmailMode.IMMEDIATE)
        for pk, organization_id, is_staff, is_superuser, email, mode in rows
    }
    visible = _visible_to_organizations(
        organization_ids={user.organization_id for user in users.values() if user.organization_id and not user.staff},
        shipment_ids={message.shipment_id for message in messages},
    )
    links: dict[int, str] = {}
    addressed: list[tuple[ShipmentMessage, str, list[int]]] = []
    for message in messages:
        if message.shipment_id not in links:
            links[message.shipment_id] = f"{settings.SITE_URL}{shipment_url(message.shipment_reference)}"
        recipient_ids = [
            pk
            for pk in dict.fromkeys(message.recipient_ids)
            if pk in users and (users[pk].staff or (users[pk].organization_id, message.shipment_id) in visible)
        ]
        if recipient_ids:
            addressed.append((message, links[message.shipment_id], recipient_ids))
    insert = _insert_postgresql if connection.vendor == "postgresql" else _insert_orm
    created = insert(addressed, timezone.now())
    immediate = sorted(pk for pk, recipient_id in created if users[recipient_id].wants_email_now)
    for start in range(0, len(immediate), EMAIL_BATCH):
        email_notifications.delay_on_commit(immediate[start : start + EMAIL_BATCH])
    return sorted(pk for pk, _ in created)


# A reference of these characters is the same quoted or not, so its URL is the pattern's with it put in.
PLAIN_REFERENCE = re.compile(r"[A-Za-z0-9._~-]+")
REFERENCE_SLOT = "REFERENCE-SLOT"


@functools.cache
def _shipment_url_pattern() -> str:
    from shipments.models import Shipment

    return Shipment(reference=REFERENCE_SLOT).get_absolute_url()


def shipment_url(reference: str) -> str:
    """Shipment.get_absolute_url() from the reference alone, without building a Shipment (and resolving the URL
    again) for each of a sweep's many thousand messages."""
    if PLAIN_REFERENCE.fullmatch(reference):
        return _shipment_url_pattern().replace(REFERENCE_SLOT, reference)
    from shipments.models import Shipment

    return Shipment(reference=reference).get_absolute_url()


def _insert_orm(addressed, now) -> list[tuple[int, int]]:
    created = Notification.objects.bulk_create(
        Notification(
            recipient_id=pk,
            shipment_id=message.shipment_id,
            kind=message.kind,
            subject=message.subject,
            body=message.body,
            link=link,
            created_at=now,
        )
        for message, link, recipient_ids in addressed
        for pk in recipient_ids
    )
    return [(n.pk, n.recipient_id) for n in created]


def _insert_postgresql(addressed, now) -> list[tuple[int, int]]:
    """The same rows as _insert_orm in one statement. Each message's text travels once, however many recipients it
    has, and no model instance is built: on a deadline sweep's thousands of rows per chunk, that is most of the
    time bulk_create would take."""
    if not addressed:
        return []
    table = connection.ops.quote_name(Notification._meta.db_table)
    recipients = [(index, pk) for index, (_, _, recipient_ids) in enumerate(addressed, 1) for pk in recipient_ids]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (recipient_id, shipment_id, kind, subject, body, link, created_at) "  # noqa: S608
            "SELECT r.recipient_id, m.shipment_id, m.kind, m.subject, m.body, m.link, %s "
            "FROM unnest(%s::bigint[], %s::bigint[]) AS r (message, recipient_id) "
            "JOIN unnest(%s::bigint[], %s::text[], %s::text[], %s::text[], %s::text[]) WITH ORDINALITY "
            "AS m (shipment_id, kind, subject, body, link, message) ON m.message = r.message "
            "RETURNING id, recipient_id",
            [
                now,
                [index for index, _ in recipients],
                [pk for _, pk in recipients],
                [message.shipment_id for message, _, _ in addressed],
                [message.kind for message, _, _ in addressed],
                [message.subject for message, _, _ in addressed],
                [message.body for message, _, _ in addressed],
                [link for _, link, _ in addressed],
            ],
        )
        return cursor.fetchall()


def _visible_to_organizations(*, organization_ids: set[int], shipment_ids: set[int]) -> set[tuple[int, int]]:
    """The (organization, shipment) pairs where the organization's users may see the shipment, by the one tenancy
    rule. For a user who is not staff that rule depends on their organization alone, so one stand-in user per
    organization asks it for everyone there."""
    from shipments.models import Shipment

    candidates = Shipment.objects.filter(pk__in=shipment_ids).order_by()
    organization_ids = sorted(organization_ids)
    visible: set[tuple[int, int]] = set()
    for start in range(0, len(organization_ids), VISIBILITY_BATCH):
        queries = [
            restrict(candidates, User(organization_id=org, is_active=True))
            .annotate(viewer_organization=Value(org, output_field=IntegerField()))
            .values_list("viewer_organization", "pk")
            for org in organization_ids[start : start + VISIBILITY_BATCH]
        ]
        visible.update(queries[0].union(*queries[1:], all=True))
    return visible


def _body_with_link(notification: Notification) -> str:
    return f"{notification.body}\n\nOpen it: {notification.link}" if notification.link else notification.body


def notification_email(*, notification_id: int) -> bool:
    """E-mail one notification, once: the conditional UPDATE claims it, so a duplicate delivery sends nothing.
    The claim commits only with the mail sent, so a failed send is retried."""
    with transaction.atomic():
        now = timezone.now()
        if not Notification.objects.filter(pk=notification_id, emailed_at__isnull=True).update(emailed_at=now):
            return False
        notification = Notification.objects.select_related("recipient", "shipment").get(pk=notification_id)
        recipient = notification.recipient
        # Access may have been withdrawn since it was written (a revoked CRO authorisation, say).
        if not recipient.is_active or not recipient.email:
            return False
        if notification.shipment is not None and not _may_see(recipient, notification.shipment):
            return False
        send_mail(
            notification.subject,
            _body_with_link(notification),
            settings.DEFAULT_FROM_EMAIL,
            [recipient.email],
            fail_silently=False,
        )
    return True


def _local_now(user, now):
    try:
        return now.astimezone(zoneinfo.ZoneInfo(user.time_zone or "UTC"))
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return now


def send_digests(*, now=None) -> int:
    """One e-mail per digest-mode user, once a day after their chosen hour, listing the notifications not yet
    e-mailed since that hour the day before. Returns how many digests went out."""
    now = now or timezone.now()
    sent = 0
    preferences = NotificationPreference.objects.filter(
        email_mode=EmailMode.DIGEST, user__is_active=True
    ).select_related("user")
    for preference in preferences:
        user = preference.user
        local = _local_now(user, now)
        if local.hour < preference.digest_hour or not user.email:
            continue
        try:
            with transaction.atomic():
                # One digest per user and local day; the key commits only with the mail sent.
                TaskClaim.objects.create(key=f"notification-digest:{user.pk}:{local.date():%Y-%m-%d}")
                since = local.replace(hour=preference.digest_hour, minute=0, second=0, microsecond=0) - DIGEST_WINDOW
                if _send_digest(user, now, since):
                    sent += 1
                else:
                    # Nothing to say yet: the day's digest stays open for what arrives later.
                    transaction.set_rollback(True)
        except IntegrityError:
            continue
    return sent


def _send_digest(user, now, since) -> bool:
    pending = list(
        Notification.objects.filter(recipient=user, emailed_at__isnull=True, created_at__gte=since)
        .select_related("shipment")
        .order_by("created_at", "pk")
    )
    # Claimed one by one, so one also e-mailed at once meanwhile (the user switched modes) is left out.
    pending = [
        n
        for n in pending
        if (n.shipment is None or _may_see(user, n.shipment))
        and Notification.objects.filter(pk=n.pk, emailed_at__isnull=True).update(emailed_at=now)
    ]
    if not pending:
        return False
    lines = [f"{len(pending)} notification(s) since {since:%Y-%m-%d %H:%M %Z}:", ""]
    for notification in pending:
        lines.append(f"- {notification.created_at:%Y-%m-%d %H:%M} UTC  {notification.subject}")
        if notification.link:
            lines.append(f"  {notification.link}")
    lines += ["", f"Your inbox: {settings.SITE_URL}/notifications/"]
    send_mail(
        f"Your daily digest: {len(pending)} notification(s)",
        "\n".join(lines),
        settings.DEFAULT_FROM_EMAIL,
        [user.email],
        fail_silently=False,
    )
    return True


def mark_read(*, user, notification_ids: Iterable[int] | None = None) -> int:
    """Mark the user's own notifications read: the given ones, or all when none are given."""
    unread = Notification.objects.filter(recipient=user, read_at__isnull=True)
    if notification_ids is not None:
        unread = unread.filter(pk__in=list(notification_ids))
    return unread.update(read_at=timezone.now())


def preference_set(*, user, email_mode: str, digest_hour: int | None = None) -> NotificationPreference:
    defaults = {"email_mode": email_mode}
    if digest_hour is not None:
        defaults["digest_hour"] = digest_hour
    preference, _ = NotificationPreference.objects.update_or_create(user=user, defaults=defaults)
    return preference


@shared_task(base=DurableTask, acks_late=True)
def email_notification(notification_id: int) -> bool:
    return notification_email(notification_id=notification_id)


@shared_task(base=DurableTask, acks_late=True)
def email_notifications(notification_ids: list[int]) -> int:
    """email_notification for a batch. Each one is claimed on its own, so a batch run again after a failure sends
    only those not sent yet. Returns how many were sent."""
    sent = 0
    for index, notification_id in enumerate(notification_ids):
        try:
            sent += notification_email(notification_id=notification_id)
        except Exception as exc:
            rest = notification_ids[index + 1 :]
            if rest and not is_transient(exc):
                # A refused mailbox is final and dead-letters this batch; the others must not wait on it.
                email_notifications.delay(rest)
            raise
    return sent


def requeue_unsent_emails(*, now=None, older_than=timedelta(minutes=10)) -> int:
    """Queue again the e-mail of immediate-mode notifications that should have gone out but did not: their task
    was lost with the broker (a Redis restart keeps nothing). The e-mail task's own claim makes a late duplicate
    harmless. Returns how many were queued."""
    now = now or timezone.now()
    stale = (
        Notification.objects.filter(
            emailed_at__isnull=True,
            created_at__lt=now - older_than,
            created_at__gte=now - DIGEST_WINDOW,
            recipient__is_active=True,
        )
        .exclude(recipient__email="")
        .exclude(recipient__notification_preference__email_mode__in=[EmailMode.DIGEST, EmailMode.OFF])
    )
    ids = list(stale.values_list("pk", flat=True)[:5000])
    for pk in ids:
        email_notification.delay(pk)
    return len(ids)


@shared_task(base=DurableTask, acks_late=True)
def send_notification_digests() -> int:
    requeue_unsent_emails()
    return send_digests()
