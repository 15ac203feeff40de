"""Notifications: an inbox row per recipient, e-mailed at once after commit or gathered into a daily digest.

Every recipient passes the tenancy rule for the shipment a notification is about, both when it is written and
when it is e-mailed, so nobody learns about a shipment they may not see."""

import zoneinfo
from collections.abc import Iterable
from datetime import timedelta
from functools import partial

from celery import shared_task
from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.utils import timezone

from ior_platform.core.celery_tasks import DurableTask
from ior_platform.core.models import TaskClaim
from ior_platform.core.tenancy import restrict
from parties.models import EmailMode, Notification, NotificationPreference, User

DIGEST_WINDOW = timedelta(days=1)


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
