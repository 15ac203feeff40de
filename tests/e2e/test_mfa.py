"""Two-factor sign-in in a real browser: an IOR reviewer with no authenticator yet signs in with the password, is
sent to set one up, reads the key off the page as an app would, confirms it with a code, gets the backup codes and
reaches the review queue; signing in again asks for a code, and a backup code does."""

import re
from base64 import b32decode

import pytest
from django_otp.oath import TOTP
from playwright.sync_api import expect

from ior_platform.core.models import AuditEvent
from tests.e2e.conftest import PASSWORD, screenshot

pytestmark = pytest.mark.django_db(transaction=True)


def sign_in_with_password(page, user) -> None:
    page.goto("/reviews/")
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state("networkidle")


@pytest.mark.parametrize(
    "viewport", [{"width": 1280, "height": 900}, {"width": 390, "height": 844}], ids=["wide", "phone"]
)
def test_reviewer_sets_up_an_authenticator_and_reaches_the_review_queue(
    chromium, live_server, browser_problems, world, viewport
):
    rita = world.rita
    rita.set_password(PASSWORD)
    rita.save(update_fields=["password"])
    context = chromium.new_context(base_url=live_server.url, viewport=viewport)
    try:
        page = browser_problems.watch(context.new_page())
        sign_in_with_password(page, rita)
        expect(page).to_have_url(re.compile(r"/accounts/mfa/setup/\?next=%2Freviews%2F$"))
        qr = page.get_by_test_id("mfa-qr").locator("svg")
        expect(qr).to_be_visible()
        assert qr.bounding_box()["width"] >= 150
        overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 1, f"the setup page scrolls sideways by {overflow}px"
        name = "wide" if viewport["width"] > 800 else "phone"
        screenshot(page, f"mfa-setup-{name}")

        page.get_by_label("6-digit code").fill("12345")
        page.get_by_role("button", name="Turn on two-factor sign-in").click()
        expect(page.get_by_text("The code from your authenticator app has 6 digits; this one has 5.")).to_be_visible()
        screenshot(page, f"mfa-setup-error-{name}")

        secret = page.get_by_test_id("mfa-secret").inner_text().replace(" ", "")
        page.get_by_label("6-digit code").fill(f"{TOTP(b32decode(secret)).token():06d}")
        page.get_by_role("button", name="Turn on two-factor sign-in").click()
        codes = page.get_by_test_id("backup-codes").locator("li")
        expect(codes).to_have_count(10)
        backup_code = codes.first.inner_text().strip()
        assert re.fullmatch(r"[a-z2-7]{8}", backup_code)
        screenshot(page, f"mfa-backup-codes-{name}")
        page.get_by_role("link", name="I have saved them: continue").click()
        expect(page).to_have_url(re.compile(r"/reviews/$"))
        expect(page.get_by_role("heading", name="Review queue")).to_be_visible()

        # A new session asks for the code; a backup code does instead, once.
        context.clear_cookies()
        sign_in_with_password(page, rita)
        expect(page).to_have_url(re.compile(r"/accounts/mfa/verify/\?next=%2Freviews%2F$"))
        screenshot(page, f"mfa-verify-{name}")
        page.get_by_label("6-digit code").fill(backup_code)
        page.get_by_role("button", name="Verify").click()
        expect(page.get_by_role("heading", name="Review queue")).to_be_visible()
        assert AuditEvent.objects.filter(actor=rita, action="security.mfa_backup_code_used").count() == 1

        page.goto("/accounts/mfa/")
        expect(page.get_by_test_id("mfa-status")).to_have_text("On")
        expect(page.get_by_text("9 backup codes left.")).to_be_visible()
        expect(page.get_by_role("button", name="Turn off two-factor sign-in")).to_have_count(0)
        screenshot(page, f"mfa-manage-{name}")
    finally:
        context.close()
