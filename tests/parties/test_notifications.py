from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.conf import settings
from django.core import mail
from django.db import transaction
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone

from documents.deadlines import chase_document_deadlines
from documents.models import Document
from ior_platform.core.models import AuditEvent
from parties.context_processors import unread_count
from parties.models import EmailMode, Notification, NotificationPreference
from parties.notifications import email_notification, mark_read, notify, send_digests
from shipments import services
from shipments.choices import ShipmentStatus as S
from shipments.models import Shipment
from tests.conftest import force_status


def _note(user, subject="Hello", shipment=None, **extra):
    link = f"http://testserver{shipment.get_absolute_url()}" if shipment else ""
    return Notification.objects.create(
        recipient=user, subject=subject, body="Body", kind="test", shipment=shipment, link=link, **extra
    )


def test_notify_writes_the_inbox_and_emails_after_commit_with_a_link(world, django_capture_on_commit_callbacks):
    shipment = world.shipment()
    with django_capture_on_commit_callbacks() as callbacks:
        created = notify(recipients=[world.alice, world.rita], kind="test", subject="S", body="B", shipment=shipment)
    assert {n.recipient for n in created} == {world.alice, world.rita}
    assert mail.outbox == []
    for callback in callbacks:
        callback()
    assert sorted(m.to[0] for m in mail.outbox) == ["alice@example.test", "rita@example.test"]
    assert f"{settings.SITE_URL}{shipment.get_absolute_url()}" in mail.outbox[0].body
    assert all(n.link.endswith(shipment.get_absolute_url()) for n in created)


def test_immediate_mail_is_sent_once_even_if_the_task_runs_twice(world):
    notification = _note(world.alice)
    assert email_notification(notification.pk) is True
    assert email_notification(notification.pk) is False
    assert len(mail.outbox) == 1
    assert Notification.objects.get(pk=notification.pk).emailed_at is not None


@pytest.mark.parametrize("mode", [EmailMode.DIGEST, EmailMode.OFF])
def test_digest_and_off_modes_are_not_emailed_at_once(world, mode, django_capture_on_commit_callbacks):
    NotificationPreference.objects.create(user=world.alice, email_mode=mode)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        notify(recipients=[world.alice], kind="test", subject="S", body="B", shipment=world.shipment())
    assert callbacks == []
    assert mail.outbox == []
    assert Notification.objects.filter(recipient=world.alice).count() == 1


def test_digest_sends_one_email_a_day_listing_the_last_days_notifications(world):
    NotificationPreference.objects.create(user=world.alice, email_mode=EmailMode.DIGEST, digest_hour=7)
    NotificationPreference.objects.create(user=world.mona, email_mode=EmailMode.DIGEST, digest_hour=7)
    shipment = world.shipment()
    start = datetime.combine(timezone.localdate(), datetime.min.time(), tzinfo=UTC).replace(hour=6)
    with time_machine.travel(start, tick=False) as traveller:
        stale = _note(world.alice, "Two days old", shipment=shipment)
        Notification.objects.filter(pk=stale.pk).update(created_at=timezone.now() - timedelta(days=2))
        for subject in ("First", "Second", "Third"):
            _note(world.alice, subject, shipment=shipment)
        assert send_digests() == 0  # before the chosen hour

        traveller.shift(timedelta(hours=2))
        assert send_digests() == 1  # mona has nothing, so gets nothing
        assert send_digests() == 0
        assert len(mail.outbox) == 1
        digest = mail.outbox[0]
        assert digest.to == ["alice@example.test"]
        assert all(s in digest.body for s in ("First", "Second", "Third"))
        assert "Two days old" not in digest.body
        assert shipment.get_absolute_url() in digest.body

        _note(world.alice, "Later that day", shipment=shipment)
        traveller.shift(timedelta(hours=3))
        assert send_digests() == 0
        traveller.shift(timedelta(days=1))
        assert send_digests() == 1
        assert "Later that day" in mail.outbox[1].body
        assert "First" not in mail.outbox[1].body


def test_digest_follows_the_users_time_zone(world):
    world.alice.time_zone = "America/New_York"
    world.alice.save(update_fields=["time_zone"])
    NotificationPreference.objects.create(user=world.alice, email_mode=EmailMode.DIGEST, digest_hour=7)
    with time_machine.travel(datetime(2026, 1, 15, 8, 0, tzinfo=UTC), tick=False) as traveller:
        _note(world.alice)
        assert send_digests() == 0  # 03:00 in New York
        traveller.shift(timedelta(hours=4))
        assert send_digests() == 1


def test_inbox_lists_own_notifications_newest_first_unread_bold(world, client):
    old = _note(world.alice, "Older")
    Notification.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(hours=1))
    _note(world.alice, "Newer", read_at=timezone.now())
    _note(world.charlie, "Charlie's own")
    client.force_login(world.alice)
    html = client.get(reverse("parties:inbox")).content.decode()
    assert html.index("Newer") < html.index("Older")
    assert "<strong>Older</strong>" in html
    assert "<strong>Newer</strong>" not in html
    assert "Charlie&#x27;s own" not in html and "Charlie's own" not in html


def test_inbox_is_paginated_with_bounded_queries(world, client, django_assert_max_num_queries):
    shipment = world.shipment()
    for i in range(120):
        _note(world.alice, f"Note {i}", shipment=shipment)
    client.force_login(world.alice)
    with django_assert_max_num_queries(8):
        response = client.get(reverse("parties:inbox"))
    assert response.content.decode().count('name="ids"') == 50
    assert "Page 1 of 3" in response.content.decode()


def test_inbox_requires_login(client):
    assert client.get(reverse("parties:inbox")).status_code == 302


def test_mark_read_selected_all_and_never_someone_elses(world, client):
    first, second = _note(world.alice, "One"), _note(world.alice, "Two")
    charlies = _note(world.charlie, "Charlie")
    client.force_login(world.alice)
    client.post(reverse("parties:mark_read"), {"ids": [first.pk, charlies.pk]})
    first.refresh_from_db(), second.refresh_from_db(), charlies.refresh_from_db()
    assert first.read_at and not second.read_at and not charlies.read_at
    client.post(reverse("parties:mark_read"), {"all": "1"})
    second.refresh_from_db(), charlies.refresh_from_db()
    assert second.read_at and not charlies.read_at
    assert mark_read(user=world.charlie, notification_ids=[first.pk]) == 0


def test_badge_counts_unread_in_one_query(world, django_assert_num_queries):
    _note(world.alice), _note(world.alice), _note(world.alice, read_at=timezone.now())
    request = RequestFactory().get("/")
    request.user = world.alice
    with django_assert_num_queries(1):
        assert unread_count(request) == {"unread_notifications": 2}


def test_badge_costs_nothing_for_anonymous_visitors(db, django_assert_num_queries):
    from django.contrib.auth.models import AnonymousUser

    request = RequestFactory().get("/")
    request.user = AnonymousUser()
    with django_assert_num_queries(0):
        assert unread_count(request) == {}


def test_badge_is_in_the_header(world, client):
    _note(world.alice)
    client.force_login(world.alice)
    html = client.get(reverse("home")).content.decode()
    assert reverse("parties:inbox") in html
    assert 'data-testid="unread-badge">1</span>' in html


def test_preferences_form_saves_the_choice(world, client):
    client.force_login(world.alice)
    assert client.get(reverse("parties:preferences")).status_code == 200
    response = client.post(reverse("parties:preferences"), {"email_mode": "digest", "digest_hour": "9"})
    assert response.status_code == 302
    preference = NotificationPreference.objects.get(user=world.alice)
    assert (preference.email_mode, preference.digest_hour) == ("digest", 9)
    response = client.post(reverse("parties:preferences"), {"email_mode": "sometimes"})
    assert response.status_code == 200
    assert NotificationPreference.objects.get(user=world.alice).email_mode == "digest"


def test_shipment_events_notify_the_parties_that_care(world, django_capture_on_commit_callbacks):
    shipment = force_status(world.shipment(), S.DOSSIER_REVIEW)
    Document.objects.create(
        shipment=shipment,
        side="export",
        document_type="export_declaration",
        owed_by_role="eor",
        owed_by=world.eor,
        due_date=timezone.localdate(),
    )
    with django_capture_on_commit_callbacks(execute=True):
        services.shipment_reject(actor=world.rita, shipment=shipment, reason="CoA missing")
    notified = set(Notification.objects.values_list("recipient__username", flat=True))
    assert notified == {"alice", "mona", "victor", "eddie"}
    assert all("CoA missing" in n.body for n in Notification.objects.all())
    assert len(mail.outbox) == 4


def test_transitions_nobody_waits_for_notify_nobody(world, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        services.shipment_submit(actor=world.alice, shipment=world.shipment())
    assert not Notification.objects.exists()
    assert mail.outbox == []


def test_rolled_back_transition_notifies_nobody(world, django_capture_on_commit_callbacks):
    shipment = world.shipment()
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        services.shipment_cancel(actor=world.alice, shipment=shipment, reason="Site closed")
        raise RuntimeError("the caller's transaction fails after the transition")
    assert callbacks == []
    assert not Notification.objects.exists()
    assert mail.outbox == []
    assert Shipment.objects.get(pk=shipment.pk).status == S.DRAFT


def test_charlie_never_hears_about_sponsor_a(world, django_capture_on_commit_callbacks):
    shipment = world.shipment()
    assert notify(recipients=[world.charlie], kind="test", subject="S", body="B", shipment=shipment) == []

    # A checklist entry wrongly owed by sponsor B, chased and then overdue enough to escalate.
    open_shipment = force_status(world.shipment(), S.PERMIT_COLLECTION)
    Document.objects.create(
        shipment=open_shipment,
        side="import",
        document_type="import_permit",
        owed_by_role="sponsor",
        owed_by=world.sponsor_b,
        due_date=timezone.localdate() - timedelta(days=5),
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert chase_document_deadlines() == {"escalated": 1}
        services.shipment_cancel(actor=world.alice, shipment=shipment, reason="Site closed")
    assert AuditEvent.objects.filter(action="shipment.cancel").exists()
    assert Notification.objects.exists()
    assert not Notification.objects.filter(recipient=world.charlie).exists()
    assert all("charlie@example.test" not in m.to for m in mail.outbox)


def test_access_withdrawn_before_the_email_goes_out_stops_it(world):
    notification = _note(world.carl, shipment=world.shipment())
    world.cro.sponsor_authorisations.update(revoked_at=timezone.now())
    assert email_notification(notification.pk) is False
    assert mail.outbox == []


def test_inbox_hides_notifications_about_shipments_no_longer_visible(world, client):
    _note(world.carl, "About sponsor A", shipment=world.shipment())
    world.cro.sponsor_authorisations.update(revoked_at=timezone.now())
    client.force_login(world.carl)
    assert "About sponsor A" not in client.get(reverse("parties:inbox")).content.decode()


def test_immediate_emails_lost_with_the_broker_are_queued_again(world, django_capture_on_commit_callbacks):
    from datetime import timedelta

    from django.core import mail
    from django.utils import timezone

    from parties.notifications import notify, requeue_unsent_emails

    shipment = world.shipment()
    # The commit's e-mail task is never run: as if it had been queued to a broker that then lost it.
    created = notify(recipients=[world.alice], kind="test", subject="Lost", body="body", shipment=shipment)
    Notification.objects.filter(pk=created[0].pk).update(created_at=timezone.now() - timedelta(minutes=30))
    assert requeue_unsent_emails() == 1
    assert [m.subject for m in mail.outbox] == ["Lost"]
    assert requeue_unsent_emails() == 0
