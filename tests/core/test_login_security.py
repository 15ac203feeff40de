"""Sign-in lockout (django-axes: 100 failures in an hour lock the account and the address for an hour), its audit
trail, the password policy, the session's new key at sign-in and the idle and absolute session limits."""

import logging
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from axes.models import AccessAttempt
from django.contrib.sessions.backends.db import SessionStore
from django.test import override_settings
from django.urls import reverse

from documents.signatures import WrongPassword, signer_verify
from ior_platform.core.audit import verify_chains
from ior_platform.core.models import AuditEvent
from parties.api_keys import api_key_issue
from tests.factories import DEMO_PASSWORD, UserFactory

LOGIN = "/accounts/login/"
ADMIN_LOGIN = "/admin/login/"
ATTACKER = "203.0.113.7"
ELSEWHERE = "198.51.100.20"
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def at_t0():
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


def sign_in(client, username, password, *, path=LOGIN, ip=ATTACKER):
    return client.post(path, {"username": username, "password": password}, REMOTE_ADDR=ip)


def fail(client, username, times, *, path=LOGIN, ip=ATTACKER):
    return [sign_in(client, username, f"guess-{n}", path=path, ip=ip).status_code for n in range(times)]


def signed_in_as(client) -> str | None:
    return client.session.get("_auth_user_id")


def test_the_101st_sign_in_within_an_hour_is_refused_even_with_the_right_password(client, world, at_t0):
    statuses = fail(client, "alice", 100)
    # The 100th failure starts the lockout, so its own answer is already the lockout page.
    assert statuses[:99] == [200] * 99
    assert statuses[99] == 429

    response = sign_in(client, "alice", DEMO_PASSWORD)

    assert response.status_code == 429
    assert response["Retry-After"] == "3600"
    html = response.content.decode()
    assert "Sign-in is paused for 1 hour" in html
    assert "100 failed sign-in attempts" in html
    assert 'class="navbar' in html  # the site's layout, not axes' plain text
    assert signed_in_as(client) is None


def test_failures_spread_over_more_than_an_hour_do_not_lock(client, world, at_t0):
    fail(client, "alice", 99)
    at_t0.shift(timedelta(hours=1, minutes=1))
    assert fail(client, "alice", 1) == [200]
    assert sign_in(client, "alice", DEMO_PASSWORD).status_code == 302


def test_a_lockout_is_an_audit_event_of_the_accounts_organization(client, world, at_t0):
    fail(client, "alice", 100)
    sign_in(client, "alice", DEMO_PASSWORD)
    fail(client, "alice", 5)

    locked = AuditEvent.objects.get(action="security.login_locked_out")
    assert locked.chain == f"organization:{world.sponsor_a.pk}"
    assert locked.organization == world.sponsor_a
    assert locked.target_id == str(world.alice.pk)
    assert locked.changes == {"failed_attempts": [None, 100], "locked": [False, True]}
    assert ATTACKER in locked.reason and "1 hour" in locked.reason
    # Refused attempts during the lockout are neither counted nor written to the trail.
    assert AuditEvent.objects.filter(action="security.login_failed").count() == 100
    assert not AuditEvent.objects.filter(action="security.login_succeeded").exists()
    assert verify_chains()[1] == []


def test_after_the_cool_off_the_right_password_works_again(client, world, at_t0):
    fail(client, "alice", 100)
    at_t0.shift(timedelta(minutes=59))
    assert sign_in(client, "alice", DEMO_PASSWORD).status_code == 429

    at_t0.shift(timedelta(minutes=2))
    response = sign_in(client, "alice", DEMO_PASSWORD)

    assert response.status_code == 302
    assert response["Location"] == reverse("home")
    assert signed_in_as(client) == str(world.alice.pk)
    assert not AccessAttempt.objects.filter(username="alice").exists()
    succeeded = AuditEvent.objects.get(action="security.login_succeeded")
    assert succeeded.actor == world.alice
    assert succeeded.chain == f"organization:{world.sponsor_a.pk}"


def test_the_admin_sign_in_is_locked_too(client, db, at_t0):
    UserFactory(username="sid", organization=None, is_staff=True, is_superuser=True)
    statuses = [
        client.post(LOGIN, {"username": "sid", "password": f"guess-{n}", "next": "/admin/"}, REMOTE_ADDR=ATTACKER)
        for n in range(100)
    ]
    assert [r.status_code for r in statuses[:99]] == [200] * 99

    # The admin's own form hands over to the site's sign-in (ior_platform/urls.py); either way no password gets in.
    admin = sign_in(client, "sid", DEMO_PASSWORD, path=ADMIN_LOGIN)
    assert admin.status_code == 429 or admin["Location"].startswith(LOGIN)
    assert signed_in_as(client) is None
    site = client.post(LOGIN, {"username": "sid", "password": DEMO_PASSWORD, "next": "/admin/"}, REMOTE_ADDR=ATTACKER)
    assert site.status_code == 429
    assert signed_in_as(client) is None
    assert client.get("/admin/").status_code == 302
    # Platform staff belong to no organization: their events extend the platform's chain.
    assert AuditEvent.objects.get(action="security.login_locked_out").chain == "platform"


def test_a_locked_account_and_address_leave_other_accounts_and_addresses_alone(client, world, at_t0):
    fail(client, "alice", 100, ip=ATTACKER)

    assert sign_in(client, "mona", DEMO_PASSWORD, ip=ELSEWHERE).status_code == 302
    client.logout()
    # The lockout holds for the account from anywhere, and for the address whichever account it tries.
    assert sign_in(client, "alice", DEMO_PASSWORD, ip=ELSEWHERE).status_code == 429
    assert sign_in(client, "mona", DEMO_PASSWORD, ip=ATTACKER).status_code == 429


def test_spraying_unknown_usernames_locks_the_address_without_writing_the_audit_trail(client, world, at_t0, caplog):
    with caplog.at_level(logging.WARNING, logger="ior_platform.core.security"):
        for n in range(100):
            sign_in(client, f"nobody{n}", "guess")

    assert sign_in(client, "alice", DEMO_PASSWORD).status_code == 429
    assert sign_in(client, "alice", DEMO_PASSWORD, ip=ELSEWHERE).status_code == 302
    assert not AuditEvent.objects.filter(action__startswith="security.").exclude(action="security.login_succeeded")
    assert "failed sign-in for unknown username 'nobody0' from 203.0.113.7" in caplog.text
    assert f"sign-in locked for {ATTACKER} after 100 failures" in caplog.text


def test_each_failed_and_successful_sign_in_is_audited(client, world, at_t0):
    assert sign_in(client, "alice", "not-it").status_code == 200
    assert sign_in(client, "alice", DEMO_PASSWORD).status_code == 302

    failed, succeeded = AuditEvent.objects.filter(action__startswith="security.").order_by("sequence")
    assert (failed.action, failed.actor, failed.changes) == (
        "security.login_failed",
        None,
        {"failed_attempts": [None, 1]},
    )
    assert failed.reason == f"wrong password from {ATTACKER}"
    assert (succeeded.action, succeeded.actor) == ("security.login_succeeded", world.alice)
    assert succeeded.reason == f"signed in from {ATTACKER}"


@override_settings(AXES_FAILURE_LIMIT=10)
def test_a_success_clears_the_failures_counted_so_far(client, world, at_t0):
    fail(client, "alice", 9)
    assert sign_in(client, "alice", DEMO_PASSWORD).status_code == 302
    client.logout()
    assert fail(client, "alice", 9) == [200] * 9
    assert fail(client, "alice", 1) == [429]


def test_the_signature_password_is_not_counted_by_the_sign_in_lockout(world, at_t0):
    for _ in range(2):
        with pytest.raises(WrongPassword):
            signer_verify(actor=world.alice, password="wrong")
    assert not AccessAttempt.objects.exists()


@override_settings(AXES_FAILURE_LIMIT=10)
def test_an_api_key_keeps_working_while_its_owners_sign_in_is_locked(client, world, at_t0):
    _, secret = api_key_issue(actor=world.mona, organization=world.sponsor_a, owner=world.alice, name="RTSM")
    fail(client, "alice", 10)
    assert sign_in(client, "alice", DEMO_PASSWORD).status_code == 429

    response = client.get("/api/v1/shipments/", headers={"Authorization": f"Bearer {secret}"})

    assert response.status_code == 200


# Password policy: 12 characters at least, and not a common password.


@pytest.mark.parametrize(
    ("password", "error"),
    [
        ("Cold-Chain1", "This password is too short. It must contain at least 12 characters."),
        ("password1234", "This password is too common."),
    ],
)
def test_password_change_refuses_a_short_or_common_password(client, world, password, error):
    assert len("Cold-Chain1") == 11
    client.force_login(world.alice)
    response = client.post(
        reverse("password_change"),
        {"old_password": DEMO_PASSWORD, "new_password1": password, "new_password2": password},
    )
    assert response.status_code == 200
    assert error in response.context["form"].errors["new_password2"]
    assert error in response.content.decode()
    world.alice.refresh_from_db()
    assert world.alice.check_password(DEMO_PASSWORD)


def test_password_change_accepts_a_long_uncommon_password(client, world):
    client.force_login(world.alice)
    new = "Vial-Courier-Lisbon-42"
    response = client.post(
        reverse("password_change"), {"old_password": DEMO_PASSWORD, "new_password1": new, "new_password2": new}
    )
    assert response.status_code == 302
    world.alice.refresh_from_db()
    assert world.alice.check_password(new)


# Sessions.


def test_signing_in_gives_the_session_a_new_key(client, world):
    client.get(LOGIN)
    session = client.session
    session["planted"] = True
    session.save()
    before = session.session_key

    assert sign_in(client, "alice", DEMO_PASSWORD).status_code == 302

    after = client.cookies["sessionid"].value
    assert after != before
    assert not SessionStore().exists(before)
    assert client.session.get("_auth_user_id") == str(world.alice.pk)


def test_the_session_cookie_ends_with_the_browser(client, world):
    response = sign_in(client, "alice", DEMO_PASSWORD)
    assert response.cookies["sessionid"]["max-age"] == ""
    assert response.cookies["sessionid"]["httponly"]


def test_thirty_idle_minutes_sign_you_out_with_the_reason(client, world, at_t0):
    client.force_login(world.alice)
    assert client.get(reverse("home")).status_code == 200

    at_t0.shift(timedelta(minutes=31))
    response = client.get("/shipments/?status=draft")

    assert response.status_code == 302
    assert response["Location"] == f"{LOGIN}?next=/shipments/%3Fstatus%3Ddraft"
    page = client.get(response["Location"]).content.decode()
    assert "You were signed out after 30 minutes without activity" in page
    assert signed_in_as(client) is None


def test_activity_keeps_the_session_alive(client, world, at_t0):
    client.force_login(world.alice)
    for _ in range(8):
        assert client.get(reverse("home")).status_code == 200
        at_t0.shift(timedelta(minutes=29))
    assert signed_in_as(client) == str(world.alice.pk)


def test_the_last_activity_is_saved_at_most_once_a_minute(client, world, at_t0):
    client.force_login(world.alice)  # signing in starts the clock, in the session save it makes anyway
    assert "sessionid" not in client.get(reverse("home")).cookies
    at_t0.shift(timedelta(seconds=50))
    assert "sessionid" not in client.get(reverse("home")).cookies
    at_t0.shift(timedelta(seconds=20))
    assert "sessionid" in client.get(reverse("home")).cookies
    at_t0.shift(timedelta(seconds=30))
    assert "sessionid" not in client.get(reverse("home")).cookies


def test_an_htmx_request_of_an_idle_session_is_redirected_by_htmx(client, world, at_t0):
    client.force_login(world.alice)
    client.get(reverse("home"))
    at_t0.shift(timedelta(minutes=45))

    response = client.get(
        reverse("parties:inbox"),
        headers={"HX-Request": "true", "HX-Current-URL": "http://testserver/shipments/?q=SHP"},
    )

    assert response.status_code == 204
    assert response.content == b""
    assert response["HX-Redirect"] == f"{LOGIN}?next=/shipments/%3Fq%3DSHP"
    assert signed_in_as(client) is None


def test_an_idle_session_is_signed_out_of_the_api_too(client, world, at_t0):
    client.force_login(world.alice)
    client.get("/api/v1/shipments/")
    at_t0.shift(timedelta(minutes=31))

    response = client.get("/api/v1/shipments/")

    assert response.status_code == 401
    assert response.json() == {"detail": "Authentication credentials were not provided."}
    assert signed_in_as(client) is None


def test_api_keys_are_not_subject_to_the_idle_timeout(client, world, at_t0):
    _, secret = api_key_issue(actor=world.mona, organization=world.sponsor_a, owner=world.alice, name="RTSM")
    key = {"Authorization": f"Bearer {secret}"}
    assert client.get("/api/v1/shipments/", headers=key).status_code == 200
    at_t0.shift(timedelta(hours=5))
    assert client.get("/api/v1/shipments/", headers=key).status_code == 200


def test_a_session_ends_after_twelve_hours_however_active(client, world, at_t0):
    client.force_login(world.alice)
    for _ in range(int(12 * 60 / 20)):
        assert client.get(reverse("home")).status_code == 200
        at_t0.shift(timedelta(minutes=20))
    at_t0.shift(timedelta(minutes=1))

    response = client.get(reverse("home"), follow=True)

    assert response.redirect_chain[0][0].startswith(LOGIN)
    assert "You were signed out after 12 hours" in response.content.decode()


def test_an_authorization_header_on_a_page_does_not_dodge_the_idle_timeout(client, world, at_t0):
    client.force_login(world.alice)
    at_t0.shift(timedelta(minutes=31))
    response = client.get(reverse("home"), headers={"Authorization": "Bearer ior_made_up"})
    assert response.status_code == 302
    assert signed_in_as(client) is None
