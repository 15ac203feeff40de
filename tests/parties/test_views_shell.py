"""The inbox and preferences pages: what they show, marking read (plain POST and htmx), forged input, tenancy, the
time zone preference and constant query counts. The older behaviours are in test_notifications.py."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from parties.context_processors import unread_count
from parties.models import Notification, NotificationPreference
from parties.selectors import notification_list

INBOX = "/notifications/"
# Session, user, memberships, unread count, the preference: nothing on the page is a list that grows.
PREFERENCES_MAX_QUERIES = 7


def _note(user, subject="Hello", shipment=None, **extra):
    return Notification.objects.create(
        recipient=user, subject=subject, body="Body text", kind="test", shipment=shipment, **extra
    )


def _inbox_queries(client, count):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("parties:inbox"))
    assert response.status_code == 200
    assert response.content.decode().count('class="list-group-item notification') == count
    return len(queries)


def test_inbox_is_served_at_notifications():
    assert reverse("parties:inbox") == INBOX


@pytest.mark.parametrize("name", ["parties:inbox", "parties:preferences"])
def test_anonymous_is_sent_to_sign_in(client, db, name):
    response = client.get(reverse(name))
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next={reverse(name)}"


def test_anonymous_cannot_mark_anything_read(client, world):
    note = _note(world.alice)
    response = client.post(reverse("parties:mark_read"), {"all": "1"})
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    note.refresh_from_db()
    assert note.read_at is None


def test_inbox_links_each_notification_to_its_shipment_with_the_time_and_reference(world, client):
    shipment = world.shipment()
    _note(world.alice, "Dossier rejected", shipment=shipment)
    client.force_login(world.alice)
    html = client.get(INBOX).content.decode()
    assert f'<strong><a href="{shipment.get_absolute_url()}">Dossier rejected</a></strong>' in html
    assert f"Shipment {shipment.reference}" in html
    assert "1 unread" in html
    assert "times in UTC" in html


def test_inbox_shows_the_unread_filter_and_marks_all_read_only_when_something_is_unread(world, client):
    _note(world.alice, "Seen", read_at=timezone.now())
    _note(world.alice, "New one")
    client.force_login(world.alice)
    unread_only = client.get(INBOX, {"show": "unread"}).content.decode()
    assert "New one" in unread_only and "Seen" not in unread_only
    assert 'name="all"' in unread_only
    Notification.objects.update(read_at=timezone.now())
    everything = client.get(INBOX).content.decode()
    assert "New one" in everything and "Seen" in everything
    assert 'name="all"' not in everything
    assert "All read" in everything


def test_inbox_empty_state_says_what_will_appear_and_where_to_go(world, client):
    client.force_login(world.alice)
    html = client.get(INBOX).content.decode()
    assert "Your inbox is empty" in html
    assert f'href="{reverse("home")}"' in html
    unread = client.get(INBOX, {"show": "unread"}).content.decode()
    assert "No unread notifications" in unread


@pytest.mark.parametrize("query", [{"page": "abc"}, {"page": "-3"}, {"page": "99999999999999999999"}, {"show": "x"}])
def test_inbox_survives_bad_query_strings(world, client, query):
    _note(world.alice, "Still here")
    client.force_login(world.alice)
    response = client.get(INBOX, query)
    assert response.status_code == 200
    assert "Still here" in response.content.decode()


def test_inbox_pages_keep_the_filter_in_their_links(world, client):
    for i in range(60):
        _note(world.alice, f"Note {i}")
    client.force_login(world.alice)
    html = client.get(INBOX, {"show": "unread"}).content.decode()
    assert 'href="/notifications/?show=unread&amp;page=2"' in html
    assert "Page 1 of 2" in html
    second = client.get(INBOX, {"show": "unread", "page": "2"}).content.decode()
    assert 'href="/notifications/?show=unread"' in second
    assert second.count('class="list-group-item notification') == 10


def test_inbox_queries_do_not_grow_with_the_notifications(world, client):
    shipment = world.shipment()
    client.force_login(world.alice)
    for i in range(5):
        _note(world.alice, f"Note {i}", shipment=shipment)
    few = _inbox_queries(client, 5)
    for i in range(10):
        _note(world.alice, f"More {i}", shipment=world.shipment())
    assert _inbox_queries(client, 15) == few


def test_charlie_sees_none_of_sponsor_a_in_his_inbox(world, client):
    _note(world.alice, "For alice", shipment=world.shipment())
    _note(world.charlie, "About sponsor A", shipment=world.shipment())
    client.force_login(world.charlie)
    html = client.get(INBOX).content.decode()
    assert "For alice" not in html
    assert "About sponsor A" not in html
    assert "Your inbox is empty" in html


def test_charlie_cannot_mark_alices_notification_read(world, client):
    note = _note(world.alice)
    client.force_login(world.charlie)
    response = client.post(reverse("parties:mark_read"), {"ids": [note.pk]}, HTTP_HX_REQUEST="true")
    assert response.status_code == 404
    client.post(reverse("parties:mark_read"), {"ids": [note.pk]})
    note.refresh_from_db()
    assert note.read_at is None


def test_mark_one_read_with_htmx_returns_the_row_and_the_new_count(world, client):
    first, _second = _note(world.alice, "First"), _note(world.alice, "Second")
    client.force_login(world.alice)
    response = client.post(reverse("parties:mark_read"), {"ids": [first.pk]}, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert response.status_code == 200
    assert html.startswith(f'<li class="list-group-item notification" id="notification-{first.pk}">')
    assert "<strong>" not in html and "Mark read" not in html
    assert '<span id="inbox-unread-summary" hx-swap-oob="true">1 unread</span>' in html
    first.refresh_from_db()
    assert first.read_at is not None


def test_mark_one_read_without_javascript_returns_to_the_same_page_and_filter(world, client):
    note = _note(world.alice)
    client.force_login(world.alice)
    response = client.post(reverse("parties:mark_read"), {"ids": [note.pk], "show": "unread", "page": "2"})
    assert response.status_code == 302
    assert response["Location"] == "/notifications/?show=unread&page=2"
    note.refresh_from_db()
    assert note.read_at is not None


def test_mark_all_read_says_how_many(world, client):
    _note(world.alice), _note(world.alice)
    client.force_login(world.alice)
    response = client.post(reverse("parties:mark_read"), {"all": "1"}, follow=True)
    assert "Marked 2 notifications read." in response.content.decode()
    assert not Notification.objects.filter(recipient=world.alice, read_at__isnull=True).exists()


@pytest.mark.parametrize(
    "data",
    [
        {"ids": ["²"]},
        {"ids": ["abc"]},
        {"ids": ["-1"]},
        {"ids": [str(2**70)]},
        {"ids": ["9" * 5000]},
        {"page": "x", "all": "1"},
        {"show": "everything", "all": "1"},
        {},
    ],
)
def test_forged_mark_read_posts_are_refused_without_marking_anything(world, client, data):
    note = _note(world.alice)
    client.force_login(world.alice)
    page = client.post(reverse("parties:mark_read"), data, follow=True)
    assert page.status_code == 200
    assert "could not be marked read" in page.content.decode()
    assert client.post(reverse("parties:mark_read"), data, HTTP_HX_REQUEST="true").status_code == 400
    note.refresh_from_db()
    assert note.read_at is None


def test_mark_read_refuses_get(world, client):
    client.force_login(world.alice)
    assert client.get(reverse("parties:mark_read")).status_code == 405


def test_inbox_badge_and_api_count_what_the_inbox_shows(world, client, api_as, django_assert_num_queries):
    _note(world.carl, "About sponsor A", shipment=world.shipment())
    _note(world.carl, "General")
    world.cro.sponsor_authorisations.update(revoked_at=timezone.now())
    request = RequestFactory().get("/")
    request.user = world.carl
    with django_assert_num_queries(1):
        assert unread_count(request) == {"unread_notifications": 1}
    assert [n.subject for n in notification_list(user=world.carl)] == ["General"]
    assert api_as(world.carl).get("/api/v1/notifications/unread-count/").json() == {"unread": 1}
    client.force_login(world.carl)
    assert "1 unread" in client.get(INBOX).content.decode()


def test_notification_list_is_newest_first_and_only_the_users_own(world):
    older = _note(world.alice, "Older")
    Notification.objects.filter(pk=older.pk).update(created_at=timezone.now() - timedelta(days=1))
    _note(world.alice, "Newer")
    _note(world.mona, "Mona's")
    assert [n.subject for n in notification_list(user=world.alice)] == ["Newer", "Older"]


def test_inbox_times_are_in_the_users_zone(world, client):
    world.alice.time_zone = "Asia/Tokyo"
    world.alice.save(update_fields=["time_zone"])
    _note(world.alice, created_at=datetime(2026, 12, 4, 12, 15, tzinfo=UTC))
    client.force_login(world.alice)
    html = client.get(INBOX).content.decode()
    assert "4 Dec 2026 21:15 JST (Asia/Tokyo)" in html
    assert "times in Asia/Tokyo" in html


# Preferences


def test_preferences_show_the_current_choices(world, client):
    NotificationPreference.objects.create(user=world.alice, email_mode="digest", digest_hour=18)
    world.alice.time_zone = "America/Sao_Paulo"
    world.alice.save(update_fields=["time_zone"])
    client.force_login(world.alice)
    html = client.get(reverse("parties:preferences")).content.decode()
    assert 'value="digest" checked' in html
    assert '<option value="18" selected>18:00</option>' in html
    assert '<option value="America/Sao_Paulo" selected>Sao Paulo</option>' in html
    assert '<optgroup label="America">' in html
    assert f'href="{reverse("password_change")}"' in html


def test_preferences_save_the_mode_hour_and_time_zone(world, client):
    client.force_login(world.alice)
    response = client.post(
        reverse("parties:preferences"),
        {"email_mode": "off", "digest_hour": "6", "time_zone": "America/Sao_Paulo"},
        follow=True,
    )
    assert "Your preferences are saved." in response.content.decode()
    preference = NotificationPreference.objects.get(user=world.alice)
    assert (preference.email_mode, preference.digest_hour) == ("off", 6)
    world.alice.refresh_from_db()
    assert world.alice.time_zone == "America/Sao_Paulo"
    assert "(America/Sao_Paulo)" in response.content.decode()


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"email_mode": "digest", "time_zone": "Mars/Olympus_Mons"}, "time_zone"),
        ({"email_mode": "digest", "digest_hour": "24"}, "digest_hour"),
        ({"email_mode": "digest", "digest_hour": "seven"}, "digest_hour"),
        ({"email_mode": "weekly"}, "email_mode"),
        ({}, "email_mode"),
    ],
)
def test_preferences_show_errors_next_to_the_field_and_save_nothing(world, client, data, field):
    client.force_login(world.alice)
    response = client.post(reverse("parties:preferences"), data)
    html = response.content.decode()
    assert response.status_code == 200
    assert f'<div class="invalid-feedback{" d-block" if field == "email_mode" else ""}" id="id_{field}-errors">' in html
    assert "is-invalid" in html
    assert not NotificationPreference.objects.filter(user=world.alice).exists()
    world.alice.refresh_from_db()
    assert world.alice.time_zone == "UTC"


def test_preferences_of_one_user_never_touch_another(world, client):
    client.force_login(world.charlie)
    client.post(reverse("parties:preferences"), {"email_mode": "off", "time_zone": "Europe/Berlin"})
    world.alice.refresh_from_db()
    assert world.alice.time_zone == "UTC"
    assert not NotificationPreference.objects.filter(user=world.alice).exists()


def _preferences_queries(client) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("parties:preferences"))
    assert response.status_code == 200
    return len(queries)


def test_preferences_queries_are_few_and_do_not_grow_with_the_notifications(
    world, client, django_assert_max_num_queries
):
    NotificationPreference.objects.create(user=world.alice, email_mode="digest", digest_hour=18)
    client.force_login(world.alice)
    for i in range(3):
        _note(world.alice, f"Note {i}", shipment=world.shipment())
    client.get(reverse("parties:preferences"))
    few = _preferences_queries(client)
    for i in range(9):
        _note(world.alice, f"More {i}", shipment=world.shipment())
    assert _preferences_queries(client) == few
    with django_assert_max_num_queries(PREFERENCES_MAX_QUERIES):
        client.get(reverse("parties:preferences"))
