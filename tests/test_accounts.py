"""Signing in and out, changing and resetting a password: Django's views at their default URLs, in the site's
design, with errors next to their fields and the page asked for kept across sign-in."""

import re

import pytest
from django.core import mail
from django.urls import reverse

from tests.factories import DEMO_PASSWORD

NEW_PASSWORD = "Cold-Chain-Dossier-2031"


@pytest.mark.parametrize(
    ("name", "path"),
    [
        ("login", "/accounts/login/"),
        ("logout", "/accounts/logout/"),
        ("password_change", "/accounts/password_change/"),
        ("password_change_done", "/accounts/password_change/done/"),
        ("password_reset", "/accounts/password_reset/"),
        ("password_reset_done", "/accounts/password_reset/done/"),
        ("password_reset_complete", "/accounts/reset/done/"),
    ],
)
def test_accounts_live_at_djangos_default_urls(name, path):
    assert reverse(name) == path


def test_sign_in_page_is_a_card_with_labelled_fields_and_a_reset_link(client, db):
    html = client.get(reverse("login")).content.decode()
    assert '<label for="id_username" class="form-label">Username</label>' in html
    assert 'type="password" name="password" id="id_password"' in html
    assert 'autocomplete="current-password"' in html
    assert f'href="{reverse("password_reset")}"' in html
    assert "Sign in to continue" not in html


def test_sign_in_keeps_the_page_asked_for(client, world):
    shipment = world.shipment()
    bounced = client.get(shipment.get_absolute_url())
    page = client.get(bounced["Location"])
    html = page.content.decode()
    assert f'<input type="hidden" name="next" value="{shipment.get_absolute_url()}">' in html
    assert "Sign in to continue to the page you asked for." in html
    response = client.post(
        reverse("login"), {"username": "alice", "password": DEMO_PASSWORD, "next": shipment.get_absolute_url()}
    )
    assert response.status_code == 302
    assert response["Location"] == shipment.get_absolute_url()


def test_sign_in_never_sends_you_to_another_site(client, world):
    response = client.post(
        reverse("login"), {"username": "alice", "password": DEMO_PASSWORD, "next": "https://evil.example/"}
    )
    assert response["Location"] == reverse("home")


def test_wrong_password_is_an_alert_and_keeps_the_username_and_next(client, world):
    response = client.post(reverse("login"), {"username": "alice", "password": "nope", "next": "/notifications/"})
    html = response.content.decode()
    assert response.status_code == 200
    assert '<div class="alert alert-danger" role="alert">' in html
    assert "Please enter a correct username and password" in html
    assert 'value="alice"' in html
    assert 'name="next" value="/notifications/"' in html
    assert 'value="nope"' not in html


def test_empty_fields_show_their_errors_next_to_them(client, db):
    html = client.post(reverse("login"), {"username": "", "password": ""}).content.decode()
    assert 'class="form-control is-invalid"' in html
    assert '<div class="invalid-feedback" id="id_username-errors">This field is required.</div>' in html
    assert '<div class="invalid-feedback" id="id_password-errors">This field is required.</div>' in html


def test_sign_out_ends_the_session_and_lands_on_sign_in(client, world):
    client.force_login(world.alice)
    response = client.post(reverse("logout"), follow=True)
    assert response.redirect_chain == [(reverse("login"), 302)]
    assert 'name="username"' in response.content.decode()
    assert client.get(reverse("parties:inbox")).status_code == 302


def test_signed_out_page_offers_to_sign_in_again(rf, db):
    from django.contrib.auth.models import AnonymousUser
    from django.template import loader

    request = rf.get("/")
    request.user = AnonymousUser()
    html = loader.get_template("registration/logged_out.html").render({}, request)
    assert "You are signed out" in html
    assert f'href="{reverse("login")}"' in html


def test_password_change_needs_sign_in(client, db):
    response = client.get(reverse("password_change"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_password_change_shows_errors_next_to_each_field(client, world):
    client.force_login(world.alice)
    html = client.post(
        reverse("password_change"),
        {"old_password": "wrong", "new_password1": "abc", "new_password2": "abd"},
    ).content.decode()
    assert 'id="id_old_password-errors">Your old password was entered incorrectly.' in html
    assert 'id="id_new_password2-errors">The two password fields didn’t match.' in html
    world.alice.refresh_from_db()
    assert world.alice.check_password(DEMO_PASSWORD)


def test_password_change_succeeds_and_keeps_you_signed_in(client, world):
    client.force_login(world.alice)
    page = client.get(reverse("password_change")).content.decode()
    assert "Change your password" in page and 'autocomplete="new-password"' in page
    response = client.post(
        reverse("password_change"),
        {"old_password": DEMO_PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == reverse("password_change_done")
    assert "Your password is changed" in response.content.decode()
    world.alice.refresh_from_db()
    assert world.alice.check_password(NEW_PASSWORD)
    assert client.get(reverse("parties:inbox")).status_code == 200


def test_password_reset_mails_a_link_that_sets_a_new_password(client, world):
    form = client.get(reverse("password_reset")).content.decode()
    assert 'type="email" name="email"' in form
    response = client.post(reverse("password_reset"), {"email": "alice@example.test"}, follow=True)
    assert "Check your e-mail" in response.content.decode()
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.subject == "Choose a new password for the IOR/EOR platform"
    assert message.to == ["alice@example.test"]
    link = re.search(r"http://testserver(/accounts/reset/\S+/)", message.body).group(1)
    confirm = client.get(link, follow=True)
    assert "Choose a new password" in confirm.content.decode()
    done = client.post(
        confirm.redirect_chain[-1][0], {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}, follow=True
    )
    assert "Your new password is set" in done.content.decode()
    world.alice.refresh_from_db()
    assert world.alice.check_password(NEW_PASSWORD)


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("Short-pw-1", "This password is too short. It must contain at least 12 characters."),
        ("password1234", "This password is too common."),
    ],
)
def test_password_reset_holds_the_password_policy(client, world, password, message):
    client.post(reverse("password_reset"), {"email": "alice@example.test"})
    link = re.search(r"http://testserver(/accounts/reset/\S+/)", mail.outbox[0].body).group(1)
    confirm = client.get(link, follow=True)
    refused = client.post(confirm.redirect_chain[-1][0], {"new_password1": password, "new_password2": password})
    assert refused.status_code == 200
    assert message in refused.content.decode()
    world.alice.refresh_from_db()
    assert world.alice.check_password(DEMO_PASSWORD) and not world.alice.check_password(password)


def test_password_reset_for_an_unknown_address_looks_the_same_and_sends_nothing(client, db):
    response = client.post(reverse("password_reset"), {"email": "nobody@example.test"}, follow=True)
    assert "Check your e-mail" in response.content.decode()
    assert mail.outbox == []


def test_a_used_or_forged_reset_link_says_so(client, db):
    response = client.get(reverse("password_reset_confirm", args=["MQ", "set-password"]))
    html = response.content.decode()
    assert "This link no longer works" in html
    assert f'href="{reverse("password_reset")}"' in html
