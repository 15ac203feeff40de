"""The Content-Security-Policy in a real browser: it is enforced (an injected inline script does not run), the API
docs work under their own policy, and the pages a signed-out person sees load cleanly under it."""

import pytest
from django.test import override_settings
from playwright.sync_api import expect

from tests.e2e.conftest import screenshot

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_injected_inline_script_is_refused(open_as, world, browser_problems):
    page = open_as(world.alice)
    page.goto("/")
    violations = []
    page.on("console", lambda msg: msg.type == "error" and violations.append(msg.text))

    ran = page.evaluate(
        """() => {
            const script = document.createElement("script");
            script.textContent = "window.injected = true";
            document.head.appendChild(script);
            return window.injected === true;
        }"""
    )

    assert ran is False
    page.wait_for_timeout(200)
    assert any("Content Security Policy" in text for text in violations), violations
    # The refusal was this test's doing; nothing else on the page may have failed.
    browser_problems[:] = [p for p in browser_problems if "Content Security Policy" not in p]


def test_htmx_swaps_work_under_the_policy(open_as, world, browser_problems):
    page = open_as(world.alice)
    page.goto("/shipments/new/")
    page.wait_for_load_state("networkidle")
    page.get_by_label("Trial").select_option(index=1)
    # The preflight panel is an htmx swap driven by the form's change events.
    expect(page.locator("#preflight")).not_to_be_empty()
    page.wait_for_load_state("networkidle")
    assert page.evaluate("htmx.config.includeIndicatorStyles") is False
    assert page.locator("head style").count() == 0


def test_the_api_docs_load_under_their_own_policy(open_as, world):
    page = open_as(world.alice)
    response = page.goto("/api/docs/")
    assert "style-src 'self' 'unsafe-inline'" in response.headers["content-security-policy"]
    assert "script-src 'self';" in response.headers["content-security-policy"]
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("IOR/EOR clinical shipment platform API")
    expect(page.locator(".opblock").first).to_be_visible()
    page.wait_for_load_state("networkidle")
    screenshot(page, "api-docs")


@pytest.mark.parametrize("path", ["/accounts/login/", "/accounts/password_reset/", "/admin/login/"])
def test_signed_out_pages_load_cleanly(chromium, live_server, browser_problems, path):
    context = chromium.new_context(base_url=live_server.url)
    page = browser_problems.watch(context.new_page())
    response = page.goto(path)
    page.wait_for_load_state("networkidle")
    assert response.status == 200
    assert page.locator("h1").count() == 1
    context.close()


@override_settings(AXES_FAILURE_LIMIT=2)
def test_the_lockout_page_loads_cleanly(chromium, live_server, world, browser_problems):
    context = chromium.new_context(base_url=live_server.url)
    page = browser_problems.watch(context.new_page())
    page.goto("/accounts/login/")
    for _ in range(2):
        page.get_by_label("Username").fill("alice")
        page.get_by_label("Password").fill("not-the-password")
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_load_state("networkidle")
    # The lockout answers 429, which Chromium reports as a failed resource; that one is expected.
    browser_problems[:] = [p for p in browser_problems if "429" not in p]
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign-in is paused for 1 hour")
    expect(page.get_by_role("link", name="Reset your password")).to_be_visible()
    screenshot(page, "sign-in-locked")
    context.close()


def test_admin_pages_work_under_the_policy(open_as, world, browser_problems):
    """The admin's own scripts (changelist actions, filters, date widgets) load from static files under the
    policy: an admin page with an inline script would show up here as a console error."""
    from tests.factories import UserFactory

    staff = UserFactory(username="root", organization=None, is_staff=True, is_superuser=True)
    shipment = world.shipment()
    page = open_as(staff)
    for path in (
        "/admin/",
        "/admin/shipments/shipment/",
        f"/admin/shipments/shipment/{shipment.pk}/change/",
        "/admin/core/auditevent/",
        "/admin/parties/user/",
    ):
        response = page.goto(path)
        page.wait_for_load_state("networkidle")
        assert response.status == 200, path
    # The changelist's action bar is driven by the admin's actions.js: selecting a row updates its counter.
    page.goto("/admin/parties/user/")
    assert page.evaluate("typeof django !== 'undefined' && typeof django.jQuery === 'function'")
    page.locator("input.action-select").first.check()
    expect(page.locator(".action-counter")).to_contain_text("1 of")
