"""Two-factor sign-in: who must use it, setting it up, the code after the password, backup codes, throttling, the
audit, and what an unverified session can reach (pages, htmx, the API, the admin). People sign in here through the
real sign-in form: the suite's force_login gives the second factor, which these tests must not assume."""

import re
from datetime import timedelta

import pytest
import time_machine
from django.conf import settings
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import totp
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from ior_platform.core.errors import NotPermitted
from ior_platform.core.mfa import MfaRefused, mfa_enroll, mfa_required, mfa_reset
from ior_platform.core.models import AuditEvent
from tests.conftest import current_code, second_factor
from tests.factories import DEMO_PASSWORD, OrganizationFactory, UserFactory

pytestmark = pytest.mark.django_db

VERIFY = reverse("mfa:verify")
SETUP = reverse("mfa:setup")
REVIEWS = reverse("reviews:queue")


def sign_in(client, user):
    """The password step only, through the sign-in form."""
    response = client.post(reverse("login"), {"username": user.username, "password": DEMO_PASSWORD})
    assert response.status_code == 302, f"{user.username} could not sign in"
    return response


def verified(client) -> bool:
    return DEVICE_ID_SESSION_KEY in client.session


def codes_near_now(device) -> set[str]:
    """The codes the device accepts now (its tolerance is one step either side)."""
    return {
        f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits, drift=drift):06d}"
        for drift in (-1, 0, 1)
    }


def wrong_code(device) -> str:
    accepted = codes_near_now(device)
    return next(code for code in (f"{n:06d}" for n in range(123456, 999999, 7919)) if code not in accepted)


def events(user, action: str):
    return AuditEvent.objects.filter(actor=user, action=action)


def enrol(user) -> tuple[TOTPDevice, list[str]]:
    device = TOTPDevice.objects.create(user=user, name="phone", confirmed=False)
    codes = mfa_enroll(actor=user, device=device, code=current_code(device))
    device.refresh_from_db()
    TOTPDevice.objects.filter(pk=device.pk).update(last_t=-1)
    return device, codes


# --- Who must use it ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("org_roles", "member_roles", "staff", "expected"),
    [
        (None, [], True, True),
        (["ior"], ["reviewer"], False, True),
        (["eor"], ["reviewer"], False, True),
        (["sponsor"], ["reviewer"], False, True),
        (["sponsor"], ["qa"], False, True),
        (["ior"], ["manager"], False, True),
        (["eor"], ["manager"], False, True),
        (["sponsor"], ["manager"], False, False),
        (["ior"], ["editor"], False, False),
        (["sponsor"], ["editor", "viewer"], False, False),
    ],
)
def test_mfa_is_required_of_staff_reviewers_qa_and_managers_of_an_ior_or_eor(org_roles, member_roles, staff, expected):
    organization = OrganizationFactory(roles=org_roles) if org_roles else None
    user = UserFactory(organization=organization, roles=member_roles, is_staff=staff)
    assert mfa_required(user) is expected


# --- Staff and the admin -----------------------------------------------------------------------------------------


def test_staff_signed_in_with_the_password_only_cannot_reach_the_admin(client):
    staff = UserFactory(username="root", organization=None, is_staff=True, is_superuser=True)
    device = second_factor(staff)
    sign_in(client, staff)
    response = client.get("/admin/")
    assert response.status_code == 302
    assert response["Location"] == f"{VERIFY}?next=%2Fadmin%2F"
    assert client.get("/admin/parties/user/")["Location"].startswith(VERIFY)

    client.post(VERIFY, {"code": current_code(device), "next": "/admin/"})
    assert client.get("/admin/").status_code == 200


def test_staff_without_a_device_is_sent_to_set_one_up(client):
    staff = UserFactory(username="root", organization=None, is_staff=True)
    sign_in(client, staff)
    assert client.get("/admin/")["Location"] == f"{SETUP}?next=%2Fadmin%2F"


def test_staff_reset_a_lost_authenticator_in_the_admin_and_it_is_audited(client):
    staff = UserFactory(username="root", organization=None, is_staff=True, is_superuser=True)
    rita = UserFactory(username="rita", roles=["reviewer"])
    enrol(rita)
    assert StaticDevice.objects.filter(user=rita).exists()
    client.force_login(staff)  # with the staff member's own second factor (tests/conftest.py)
    response = client.post(
        "/admin/parties/user/", {"action": "reset_second_factor", "_selected_action": [rita.pk]}, follow=True
    )
    assert response.status_code == 200
    assert "Two-factor sign-in reset for rita." in response.content.decode()
    assert not TOTPDevice.objects.filter(user=rita).exists()
    assert not StaticDevice.objects.filter(user=rita).exists()
    event = AuditEvent.objects.get(action="security.mfa_reset")
    assert (event.actor, event.target_repr, event.changes) == (staff, str(rita), {"mfa": [True, False]})
    assert "authenticator lost" in event.reason
    # Rita's next sign-in sets up a new authenticator.
    client.logout()
    sign_in(client, rita)
    assert client.get(REVIEWS)["Location"].startswith(SETUP)


def test_only_verified_staff_may_reset_a_second_factor():
    rita = UserFactory(username="rita", roles=["reviewer"])
    second_factor(rita)
    manager = UserFactory(username="mona", roles=["manager"])
    manager.is_verified = lambda: True
    unverified_staff = UserFactory(username="root", organization=None, is_staff=True)
    unverified_staff.is_verified = lambda: False
    for actor in (manager, unverified_staff):
        with pytest.raises(NotPermitted):
            mfa_reset(actor=actor, user=rita, reason="asked by phone")
    verified_staff = UserFactory(username="ops", organization=None, is_staff=True)
    verified_staff.is_verified = lambda: True
    with pytest.raises(MfaRefused):
        mfa_reset(actor=verified_staff, user=rita, reason="  ")
    assert TOTPDevice.objects.filter(user=rita).exists()
    assert not AuditEvent.objects.filter(action="security.mfa_reset").exists()


def test_the_device_admin_shows_no_key_and_deletes_nothing(client):
    staff = UserFactory(username="root", organization=None, is_staff=True, is_superuser=True)
    rita = UserFactory(username="rita", roles=["reviewer"])
    device = second_factor(rita)
    client.force_login(staff)
    page = client.get(f"/admin/otp_totp/totpdevice/{device.pk}/change/")
    assert page.status_code == 200
    assert device.key not in page.content.decode()
    assert client.post(f"/admin/otp_totp/totpdevice/{device.pk}/delete/", {"post": "yes"}).status_code == 403
    assert TOTPDevice.objects.filter(pk=device.pk).exists()
    codes = client.get("/admin/otp_static/staticdevice/")
    assert codes.status_code == 200


def test_the_admin_itself_refuses_an_unverified_staff_session_without_the_middleware(client):
    staff = UserFactory(username="root", organization=None, is_staff=True, is_superuser=True)
    device = second_factor(staff)
    without = [m for m in settings.MIDDLEWARE if m != "ior_platform.core.mfa.MfaRequiredMiddleware"]
    with override_settings(MIDDLEWARE=without):
        sign_in(client, staff)
        for path in ("/admin/", "/admin/parties/user/", f"/admin/parties/user/{staff.pk}/change/"):
            response = client.get(path)
            assert response.status_code == 302, path
            assert response["Location"].startswith("/admin/login/"), path
        # The admin's own sign-in form is not a way around the second factor either.
        assert client.get("/admin/login/?next=/admin/")["Location"] == f"{VERIFY}?next=%2Fadmin%2F"
        client.post(VERIFY, {"code": current_code(device)})
        assert client.get("/admin/").status_code == 200


def test_the_admin_fails_closed_without_django_otps_middleware(client):
    staff = UserFactory(username="root", organization=None, is_staff=True, is_superuser=True)
    client.force_login(staff)
    without = [m for m in settings.MIDDLEWARE if "otp" not in m.lower() and "mfa" not in m]
    with override_settings(MIDDLEWARE=without):
        assert client.get("/admin/")["Location"] == "/admin/login/?next=/admin/"
        assert client.get("/admin/login/?next=/admin/")["Location"] == f"{VERIFY}?next=%2Fadmin%2F"


def test_admin_sign_in_sends_strangers_to_the_sites_sign_in(client):
    assert client.get("/admin/login/?next=/admin/")["Location"] == f"{reverse('login')}?next=%2Fadmin%2F"


# --- Setting it up -----------------------------------------------------------------------------------------------


def test_reviewer_without_a_device_sets_one_up_and_reaches_the_review_queue(client, world):
    sign_in(client, world.rita)
    response = client.get(REVIEWS)
    assert response["Location"] == f"{SETUP}?next=%2Freviews%2F"

    page = client.get(response["Location"])
    html = page.content.decode()
    assert page.status_code == 200
    assert '<svg width="' in html and 'class="segno"' in html
    assert "<script" not in html.split("<main", 1)[1]
    device = TOTPDevice.objects.get(user=world.rita, confirmed=False)
    secret = re.search(r'data-testid="mfa-secret">([A-Z2-7 ]+)<', html).group(1)
    assert secret.replace(" ", "") == __import__("base64").b32encode(device.bin_key).decode()
    assert client.get(SETUP).content.decode().count(secret) == 1, "a reload shows the same key"

    done = client.post(SETUP, {"code": current_code(device), "next": REVIEWS})
    assert done.status_code == 200
    codes = re.findall(r"<li>([a-z2-7]{8})</li>", done.content.decode())
    assert len(set(codes)) == 10
    assert set(StaticToken.objects.filter(device__user=world.rita).values_list("token", flat=True)) == set(codes)
    assert f'href="{REVIEWS}"' in done.content.decode()
    assert verified(client)
    assert client.get(REVIEWS).status_code == 200
    assert events(world.rita, "security.mfa_enrolled").count() == 1
    # Shown once: the setup page now just moves on.
    assert client.get(SETUP)["Location"] == "/"


def test_setup_rotates_the_session_key(client, world):
    sign_in(client, world.rita)
    device = TOTPDevice.objects.create(user=world.rita, confirmed=False)
    before = client.session.session_key
    client.post(SETUP, {"code": current_code(device)})
    assert client.session.session_key != before
    assert verified(client)


def test_setup_refuses_a_wrong_code_and_a_backup_code(client, world):
    sign_in(client, world.rita)
    client.get(SETUP)
    device = TOTPDevice.objects.get(user=world.rita)
    response = client.post(SETUP, {"code": wrong_code(device)})
    assert response.status_code == 200
    assert "not the one your app shows now" in response.content.decode()
    with time_machine.travel(timezone.now() + timedelta(seconds=5)):
        response = client.post(SETUP, {"code": "abcd2345"})
    assert response.status_code == 200
    assert "6-digit code your authenticator app shows" in response.content.decode()
    assert not TOTPDevice.objects.filter(user=world.rita, confirmed=True).exists()
    assert not verified(client)


def test_an_enrolled_but_unverified_session_cannot_set_up_another_device(client, world):
    enrol(world.rita)
    sign_in(client, world.rita)
    assert client.get(SETUP)["Location"].startswith(VERIFY)
    assert client.post(SETUP, {"code": "123456"})["Location"].startswith(VERIFY)
    assert TOTPDevice.objects.filter(user=world.rita).count() == 1


# --- The code after the password ---------------------------------------------------------------------------------


def test_enrolled_reviewer_gives_the_code_and_goes_where_they_were_going(client, world):
    device, _ = enrol(world.rita)
    sign_in(client, world.rita)
    bounced = client.get(REVIEWS)
    assert bounced["Location"] == f"{VERIFY}?next=%2Freviews%2F"
    page = client.get(bounced["Location"]).content.decode()
    assert 'name="next" value="/reviews/"' in page
    before = client.session.session_key
    response = client.post(VERIFY, {"code": current_code(device), "next": REVIEWS})
    assert response["Location"] == REVIEWS
    assert client.session.session_key != before
    assert client.get(REVIEWS).status_code == 200


def test_verify_never_sends_you_to_another_site(client, world):
    device, _ = enrol(world.rita)
    sign_in(client, world.rita)
    response = client.post(VERIFY, {"code": current_code(device), "next": "https://evil.example/"})
    assert response["Location"] == "/"


def test_a_wrong_code_is_a_form_error_and_an_audit_event(client, world):
    device, _ = enrol(world.rita)
    sign_in(client, world.rita)
    response = client.post(VERIFY, {"code": wrong_code(device)})
    html = response.content.decode()
    assert response.status_code == 200
    assert 'class="form-control form-control-lg font-monospace mfa-code is-invalid"' in html
    assert "That code is not right, or it was already used." in html
    event = events(world.rita, "security.mfa_verification_failed").get()
    assert event.changes == {"failures_in_a_row": [0, 1]}
    assert event.organization_id == world.ior.pk
    assert not verified(client)
    assert client.get(REVIEWS)["Location"].startswith(VERIFY)


def test_wrong_codes_are_throttled_even_when_the_next_one_is_right(client, world):
    device, _ = enrol(world.rita)
    sign_in(client, world.rita)
    start = timezone.now()
    for second in (0, 2, 5):
        with time_machine.travel(start + timedelta(seconds=second), tick=False):
            assert "That code is not right" in client.post(VERIFY, {"code": wrong_code(device)}).content.decode()
    # Three failures in a row: the next try waits 4 seconds, whatever it is.
    with time_machine.travel(start + timedelta(seconds=6), tick=False):
        response = client.post(VERIFY, {"code": current_code(device)})
    assert response.status_code == 200
    assert "Too many wrong codes: wait 3 seconds, then try again." in response.content.decode()
    assert not verified(client)
    assert events(world.rita, "security.mfa_verification_failed").count() == 4
    assert events(world.rita, "security.mfa_verification_failed").last().reason == "throttled: authenticator code"

    with time_machine.travel(start + timedelta(seconds=10), tick=False):
        assert client.post(VERIFY, {"code": current_code(device)})["Location"] == "/"
    assert verified(client)
    device.refresh_from_db()
    assert device.throttling_failure_count == 0


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("", "Enter the 6-digit code from your authenticator app."),
        ("   ", "Enter the 6-digit code from your authenticator app."),
        ("abcdef", "Enter the 6 digits your authenticator app shows, or one of your 8-character backup codes."),
        ("1234567", "The code from your authenticator app has 6 digits; this one has 7."),
        ("12345", "The code from your authenticator app has 6 digits; this one has 5."),
        ("１２３４５６", "Enter the 6 digits your authenticator app shows"),
        ("1" * 500, "Ensure this value has at most 32 characters (it has 500)."),
        ("<script>alert(1)</script>", "Enter the 6 digits your authenticator app shows"),
    ],
)
def test_malformed_codes_are_form_errors_not_attempts(client, world, typed, message):
    enrol(world.rita)
    sign_in(client, world.rita)
    response = client.post(VERIFY, {"code": typed})
    assert response.status_code == 200
    assert message in response.content.decode()
    assert "<script>alert(1)</script>" not in response.content.decode()
    assert not events(world.rita, "security.mfa_verification_failed").exists()


def test_a_code_with_spaces_is_accepted_and_a_used_code_is_not_accepted_again(client, world):
    device, _ = enrol(world.rita)
    code = current_code(device)
    sign_in(client, world.rita)
    assert client.post(VERIFY, {"code": f"{code[:3]} {code[3:]}"}).status_code == 302
    client.post(reverse("logout"))
    sign_in(client, world.rita)
    response = client.post(VERIFY, {"code": code})
    assert response.status_code == 200
    assert "already used" in response.content.decode()


def test_a_backup_code_works_once_only(client, world):
    _, codes = enrol(world.rita)
    sign_in(client, world.rita)
    response = client.post(VERIFY, {"code": codes[0].upper()[:4] + "-" + codes[0][4:], "next": REVIEWS})
    assert response["Location"] == REVIEWS
    assert verified(client)
    assert StaticToken.objects.filter(device__user=world.rita).count() == 9
    assert events(world.rita, "security.mfa_backup_code_used").get().changes == {"backup_codes": [10, 9]}

    client.post(reverse("logout"))
    sign_in(client, world.rita)
    response = client.post(VERIFY, {"code": codes[0]})
    assert response.status_code == 200
    assert "That backup code is not right, or it was already used." in response.content.decode()
    assert not verified(client)
    assert events(world.rita, "security.mfa_verification_failed").get().reason == "wrong backup code"


def test_signing_in_with_one_of_the_last_backup_codes_warns(client, world):
    _, codes = enrol(world.rita)
    StaticToken.objects.filter(device__user=world.rita).exclude(token__in=codes[:3]).delete()
    sign_in(client, world.rita)
    page = client.post(VERIFY, {"code": codes[0]}, follow=True).content.decode()
    assert "You have 2 backup codes left." in page


# --- Users who may choose --------------------------------------------------------------------------------------


def test_a_sponsor_user_without_mfa_signs_in_with_the_password_alone(client, world):
    sign_in(client, world.alice)
    assert client.get("/").status_code == 200
    assert client.get(reverse("shipments:list")).status_code == 200
    assert client.get(reverse("mfa:manage")).status_code == 200


def test_a_sponsor_user_who_turns_mfa_on_must_then_give_the_code(client, world):
    sign_in(client, world.alice)
    manage = client.get(reverse("mfa:manage")).content.decode()
    assert 'data-testid="mfa-status">Off<' in manage
    client.get(SETUP)
    device = TOTPDevice.objects.get(user=world.alice)
    assert client.post(SETUP, {"code": current_code(device)}).status_code == 200
    assert 'data-testid="mfa-status">On<' in client.get(reverse("mfa:manage")).content.decode()

    client.post(reverse("logout"))
    sign_in(client, world.alice)
    assert client.get("/")["Location"] == f"{VERIFY}?next=%2F"
    TOTPDevice.objects.filter(pk=device.pk).update(last_t=-1)
    assert client.post(VERIFY, {"code": current_code(device)})["Location"] == "/"
    assert client.get("/").status_code == 200


def test_turning_mfa_off_needs_the_password_and_is_audited(client, world):
    enrol(world.alice)
    client.force_login(world.alice)
    response = client.post(reverse("mfa:disable"), {"disable-password": "not-it"})
    assert response.status_code == 200
    assert "That is not your password." in response.content.decode()
    assert TOTPDevice.objects.filter(user=world.alice).exists()
    response = client.post(reverse("mfa:disable"), {"disable-password": ""})
    assert "Enter your password to confirm it is you." in response.content.decode()

    response = client.post(reverse("mfa:disable"), {"disable-password": DEMO_PASSWORD})
    assert response["Location"] == reverse("mfa:manage")
    assert not TOTPDevice.objects.filter(user=world.alice).exists()
    assert not StaticDevice.objects.filter(user=world.alice).exists()
    assert events(world.alice, "security.mfa_disabled").count() == 1
    assert client.get("/").status_code == 200


def test_a_reviewer_cannot_turn_mfa_off(client, world):
    client.force_login(world.rita)
    response = client.post(reverse("mfa:disable"), {"disable-password": DEMO_PASSWORD})
    assert response.status_code == 200
    assert "Your role requires two-factor sign-in" in response.content.decode()
    assert TOTPDevice.objects.filter(user=world.rita, confirmed=True).exists()
    assert not events(world.rita, "security.mfa_disabled").exists()


def test_new_backup_codes_replace_the_old_ones(client, world):
    _, old = enrol(world.rita)
    client.force_login(world.rita)
    refused = client.post(reverse("mfa:backup_codes"), {"renew-password": "wrong"}).content.decode()
    assert "That is not your password." in refused
    assert set(StaticToken.objects.filter(device__user=world.rita).values_list("token", flat=True)) == set(old)
    response = client.post(reverse("mfa:backup_codes"), {"renew-password": DEMO_PASSWORD})
    new = re.findall(r"<li>([a-z2-7]{8})</li>", response.content.decode())
    assert len(new) == 10
    assert set(StaticToken.objects.filter(device__user=world.rita).values_list("token", flat=True)) == set(new)
    assert not set(old) & set(new)
    assert events(world.rita, "security.mfa_backup_codes_renewed").count() == 1


# --- What an unverified session reaches --------------------------------------------------------------------------


def test_htmx_request_of_an_unverified_session_gets_hx_redirect(client, world):
    enrol(world.rita)
    sign_in(client, world.rita)
    response = client.get(REVIEWS, headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert response["HX-Redirect"] == VERIFY
    assert response.content == b""
    fragment = client.get(
        "/shipments/new/preflight/",
        headers={"HX-Request": "true", "HX-Current-URL": "http://testserver/shipments/?status=draft"},
    )
    assert fragment["HX-Redirect"] == f"{VERIFY}?next=%2Fshipments%2F%3Fstatus%3Ddraft"


def test_api_call_with_an_unverified_session_is_403_in_the_api_error_shape(client, world):
    sign_in(client, world.rita)
    response = client.get("/api/v1/shipments/")
    assert response.status_code == 403
    body = response.json()
    assert body["reasons"] == ["two-factor verification required"]
    assert SETUP in body["detail"]


def test_api_key_calls_are_not_asked_for_a_second_factor(world, api_as):
    world.shipment()
    assert not TOTPDevice.objects.filter(user=world.rita).exists()
    response = api_as(world.rita).get("/api/v1/shipments/")
    assert response.status_code == 200


def test_an_unverified_session_still_reaches_sign_out_and_the_probes(client, world):
    sign_in(client, world.rita)
    assert client.get("/healthz").status_code == 200
    assert client.get(reverse("parties:preferences"))["Location"].startswith(SETUP)
    assert client.post(reverse("logout")).status_code == 302
    assert "_auth_user_id" not in client.session


# --- The demo ----------------------------------------------------------------------------------------------------


def test_demo_accounts_that_must_use_mfa_get_the_published_key_once(client, world):
    from ior_platform.core import demo

    users = {u.username: u for u in (world.rita, world.imelda, world.alice, world.ivan)}
    demo._seed_second_factors(users)
    demo._seed_second_factors(users)
    with_key = TOTPDevice.objects.filter(name=demo.DEMO_TOTP_DEVICE, confirmed=True)
    assert set(with_key.values_list("user__username", flat=True)) == {"rita", "imelda"}

    sign_in(client, world.rita)
    response = client.post(VERIFY, {"code": demo.demo_totp_code()})
    assert response["Location"] == "/"
    assert verified(client)


def test_demo_logins_name_the_key_and_how_to_get_the_code(world):
    from ior_platform.core import demo

    rita_like = demo.DemoLogin("rita", "Rita R", "rita@example.test", "Brasil IOR Ltda", ("reviewer",))
    alice_like = demo.DemoLogin("alice", "Alice A", "alice@example.test", "Sponsor A Pharma", ("editor",))
    assert "second factor" in demo.format_logins((rita_like, alice_like)).splitlines()[0]
    assert demo.DEMO_TOTP_SECRET not in demo.format_logins((rita_like, alice_like))

    demo._seed_second_factors({"rita": world.rita})
    printed = demo.format_logins((rita_like, alice_like))
    rows = {line.split()[0]: line for line in printed.splitlines()[2:4]}
    assert rows["rita"].endswith("demo code")
    assert rows["alice"].endswith("-")
    assert f"oathtool --totp -b {demo.DEMO_TOTP_SECRET}" in printed
    assert f"otpauth://totp/IOR%20platform:demo?secret={demo.DEMO_TOTP_SECRET}&issuer=IOR%20platform" in printed
