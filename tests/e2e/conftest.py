"""Browser tests: Playwright driving Debian's Chromium (never a downloaded browser) against a live server.

Every page a test visits is watched for console errors, failed requests for the page's own assets and uncaught
exceptions; a test fails on any of them. Screenshots go to var/screenshots/ when E2E_SCREENSHOTS is set."""

import os
import shutil
from pathlib import Path

import pytest

# Playwright's sync API runs an event loop in this thread; the live server and the test's own ORM calls are
# ordinary synchronous Django, which refuses to run beside a running loop unless told it is safe here.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("E2E_CHROMIUM", "/usr/bin/chromium")
PASSWORD = "Correct-Horse-Battery-9"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"


def pytest_collection_modifyitems(config, items):
    if shutil.which(CHROMIUM) or Path(CHROMIUM).exists():
        return
    if os.environ.get("E2E_REQUIRED"):
        raise pytest.UsageError(f"E2E_REQUIRED is set but there is no Chromium at {CHROMIUM}")
    skip = pytest.mark.skip(reason=f"no Chromium at {CHROMIUM}: apt-get install chromium (CI installs it)")
    for item in items:
        if "tests/e2e/" in str(item.fspath):
            item.add_marker(skip)


@pytest.fixture(scope="session")
def chromium():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield browser
        browser.close()


class Problems(list):
    """What went wrong in the browser while a test ran, as sentences."""

    def watch(self, page):
        page.on("console", lambda msg: msg.type == "error" and self.append(f"console error on {page.url}: {msg.text}"))
        page.on("pageerror", lambda exc: self.append(f"uncaught exception on {page.url}: {exc}"))
        page.on("requestfailed", self._request_failed)
        return page

    def _request_failed(self, request):
        # Chromium's own PDF viewer (a built-in extension) opening a downloaded dossier aborts its internal
        # chrome-extension:// stream when the page moves on: the browser's business, not a request of ours.
        if request.url.startswith("chrome-extension://"):
            return
        self.append(f"request failed: {request.method} {request.url} ({request.failure})")


@pytest.fixture
def browser_problems():
    problems = Problems()
    yield problems
    assert list(problems) == [], "\n".join(problems)


@pytest.fixture
def open_as(chromium, live_server, browser_problems):
    """A browser page signed in through the real sign-in form as the given user (password PASSWORD), and through the
    real two-factor page with a code of their authenticator when they have or owe one."""
    from ior_platform.core.mfa import mfa_enabled, mfa_required
    from tests.conftest import current_code, second_factor

    contexts = []

    def sign_in(user, *, viewport=None):
        user.set_password(PASSWORD)
        user.save(update_fields=["password"])
        fresh = type(user)._default_manager.get(pk=user.pk)
        device = second_factor(fresh) if mfa_required(fresh) or mfa_enabled(fresh) else None
        context = chromium.new_context(
            base_url=live_server.url, viewport=viewport or {"width": 1280, "height": 900}, accept_downloads=True
        )
        contexts.append(context)
        page = browser_problems.watch(context.new_page())
        page.goto("/accounts/login/")
        page.get_by_label("Username").fill(user.username)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_load_state("networkidle")
        assert "/accounts/login/" not in page.url, f"{user.username} could not sign in"
        if device is not None:
            assert "/accounts/mfa/verify/" in page.url, f"{user.username} was not asked for the second factor"
            page.get_by_label("6-digit code").fill(current_code(device))
            page.get_by_role("button", name="Verify").click()
            page.wait_for_load_state("networkidle")
            assert "/accounts/mfa/" not in page.url, f"{user.username} could not give the second factor"
        return page

    yield sign_in
    for context in contexts:
        context.close()


def screenshot(page, name: str) -> None:
    if os.environ.get("E2E_SCREENSHOTS"):
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        # caret="initial": hiding the caret makes Playwright set an inline style on inputs, which the
        # Content-Security-Policy refuses with a console error the test would then fail on.
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True, caret="initial")


@pytest.fixture
def sponsor_owes_everything(world):
    """Brazil asks the sponsor for a commercial invoice, the US for a packing list: all the sponsor's to upload."""
    from tests.factories import DocumentRequirementFactory

    return [
        DocumentRequirementFactory(
            country__country="BR",
            direction="import",
            document_type="commercial_invoice",
            provided_by="sponsor",
            lead_time_days=5,
        ),
        DocumentRequirementFactory(
            country__country="US",
            direction="export",
            document_type="packing_list",
            provided_by="sponsor",
            lead_time_days=2,
        ),
    ]
