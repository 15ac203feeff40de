"""CSRF on every cookie-authenticated endpoint: the API used with the browser's session, htmx posts and forms need
the token; a request with an API key carries no cookie to forge and needs none."""

import pytest
from django.test import Client
from django.urls import reverse

from parties.api_keys import api_key_issue
from parties.models import Notification

READ_ALL = "/api/v1/notifications/read-all/"


@pytest.fixture
def browser(world):
    """A browser signed in as alice, with the CSRF cookie a page of ours would have given it."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.alice)
    client.get(reverse("home"))
    return client


def unread(user) -> int:
    return Notification.objects.filter(recipient=user, read_at__isnull=True).count()


@pytest.fixture
def inbox(world):
    Notification.objects.create(
        recipient=world.alice, kind="document.d3", subject="A document is due", body="Due soon."
    )
    return world.alice


def test_an_api_post_with_the_session_and_no_token_is_refused_in_the_apis_error_shape(browser, inbox):
    response = browser.post(READ_ALL)

    assert response.status_code == 403
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["detail"].startswith("CSRF Failed: CSRF token missing")
    assert set(body) <= {"detail", "reasons"}
    assert unread(inbox) == 1


def test_an_api_post_with_the_session_and_its_token_succeeds(browser, inbox):
    token = browser.cookies["csrftoken"].value

    response = browser.post(READ_ALL, headers={"X-CSRFToken": token})

    assert response.status_code == 200
    assert response.json() == {"marked": 1}
    assert unread(inbox) == 0


def test_an_api_post_with_a_forged_token_is_refused(browser, inbox):
    response = browser.post(READ_ALL, headers={"X-CSRFToken": "x" * 32})
    assert response.status_code == 403
    assert response.json()["detail"].startswith("CSRF Failed")
    assert unread(inbox) == 1


def test_an_api_key_needs_no_csrf_token(world, inbox):
    _, secret = api_key_issue(
        actor=world.mona, organization=world.sponsor_a, owner=world.alice, name="RTSM", scope="write"
    )
    client = Client(enforce_csrf_checks=True)

    response = client.post(READ_ALL, headers={"Authorization": f"Bearer {secret}"})

    assert response.status_code == 200
    assert response.json() == {"marked": 1}


def test_an_htmx_post_without_the_token_is_refused(browser, inbox):
    note = Notification.objects.get(recipient=inbox)

    response = browser.post(reverse("parties:mark_read"), {"ids": [note.pk]}, headers={"HX-Request": "true"})

    assert response.status_code == 403
    assert "This form has expired" in response.content.decode()
    assert unread(inbox) == 1


def test_an_htmx_post_with_the_token_from_the_page_succeeds(browser, inbox):
    note = Notification.objects.get(recipient=inbox)
    page = browser.get(reverse("parties:inbox")).content.decode()
    # base.html hands htmx the token for every request it makes.
    assert 'hx-headers=\'{"X-CSRFToken": "' in page
    token = page.split('"X-CSRFToken": "', 1)[1].split('"', 1)[0]

    response = browser.post(
        reverse("parties:mark_read"), {"ids": [note.pk]}, headers={"HX-Request": "true", "X-CSRFToken": token}
    )

    assert response.status_code == 200
    assert unread(inbox) == 0


def test_the_sign_in_form_needs_its_token(world):
    client = Client(enforce_csrf_checks=True)
    response = client.post(reverse("login"), {"username": "alice", "password": "Correct-Horse-Battery-9"})
    assert response.status_code == 403
    assert "_auth_user_id" not in client.session
