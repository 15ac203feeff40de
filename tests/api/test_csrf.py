"""CSRF on every cookie-authenticated endpoint: the API used with the browser's session, htmx posts and forms need
the token; a request with an API key carries no cookie to forge and needs none."""

import re

import pytest
from django.conf import settings
from django.test import Client
from django.urls import Resolver404, URLResolver, get_resolver, resolve, reverse
from django.urls.converters import IntConverter, PathConverter, SlugConverter, StringConverter, UUIDConverter
from django.urls.resolvers import RoutePattern

from parties.api_keys import api_key_issue
from parties.models import Notification
from tests.factories import UserFactory

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


# The sweep: every route the URL resolver knows, with each unsafe method, from a signed-in browser that holds the CSRF
# cookie (as a forged cross-site request would) but sends no token, must be refused by the CSRF check itself, not by
# a permission or a missing object, so that a view added later without protection, or exempted by mistake, fails here.

# Answer no unsafe method at all (405) and are exempt on purpose: probes and a scrape that use no session cookie
# (ior_platform/core/health.py, metrics.py). Being listed here, each must keep answering 405.
SAFE_ONLY = {"/healthz", "/readyz", "/metrics"}
UNSAFE_METHODS = ("post", "put", "patch", "delete")
SAMPLE_UUID = "0b5e4c1e-7d2a-4f1e-9c3b-2a6d8e0f1a2b"
SAMPLES = {
    IntConverter: "1",
    UUIDConverter: SAMPLE_UUID,
    SlugConverter: "x",
    StringConverter: "x",
    PathConverter: "x",
}
ROUTE_PARAMETER = re.compile(r"<(?:(?P<converter>[^>:]+):)?(?P<name>[^>]+)>")
REGEX_GROUP = re.compile(r"\(\?P<(?P<name>\w+)>(?P<regex>[^()]*)\)")


def _leaves(patterns, prefix=()):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _leaves(pattern.url_patterns, (*prefix, pattern.pattern))
        else:
            yield (*prefix, pattern.pattern)


def _regex_sample(match: re.Match) -> str:
    regex = match["regex"]
    # A number, a uuid, a slug, a country code, or the first of a list of choices (the admin's app labels).
    for candidate in ("1", SAMPLE_UUID, "x", "BR", regex.split("|")[0]):
        if re.fullmatch(regex, candidate):
            return candidate
    raise AssertionError(f"no sample value for ({match[0]})")


def _sample_path(parts) -> str:
    path = ""
    for part in parts:
        if isinstance(part, RoutePattern):
            converters = part.converters
            path += ROUTE_PARAMETER.sub(lambda m, c=converters: SAMPLES[type(c[m["name"]])], str(part))
        else:
            filled = REGEX_GROUP.sub(_regex_sample, str(part)).removeprefix("^").removesuffix("$")
            path += filled.replace("\\.", ".").replace("/?", "/")
    assert not set(path) & set("()[]?*+\\^$|"), f"left a regex in {path!r}"
    return "/" + path


def _unsafe_routes() -> list[str]:
    paths = set()
    for parts in _leaves(get_resolver().url_patterns):
        # DRF's format suffixes (shipments.json) repeat the views of the routes without one.
        if any("(?P<format>" in str(part) for part in parts):
            continue
        paths.add(_sample_path(parts))
    return sorted(paths)


ROUTES = _unsafe_routes()


def refused_by_csrf(response) -> bool:
    """Refused by Django's CSRF check (its failure page) or by DRF's (whatever the renderer: JSON, the schema's YAML,
    the Swagger page's HTML), not for another reason a 403 can have (a permission, a second factor still owed)."""
    if response.status_code != 403:
        return False
    detail = getattr(response, "data", None) or {}
    if isinstance(detail, dict) and str(detail.get("detail", "")).startswith("CSRF Failed"):
        return True
    return "403_csrf.html" in {template.name for template in response.templates}


@pytest.fixture
def forged_browser(db):
    client = Client(enforce_csrf_checks=True)
    client.force_login(UserFactory())
    client.cookies[settings.CSRF_COOKIE_NAME] = "a" * 32
    return client


def test_the_sweep_reaches_every_view_of_the_resolver():
    assert len(ROUTES) > 150
    unresolved = []
    for path in ROUTES:
        try:
            resolve(path)
        except Resolver404:
            unresolved.append(path)
    assert unresolved == []
    assert set(ROUTES) >= SAFE_ONLY


@pytest.mark.parametrize("method", UNSAFE_METHODS)
def test_an_unsafe_request_without_the_token_is_refused_by_the_csrf_check_on_every_route(forged_browser, method):
    # One test a method rather than a route: some 300 routes, each signing in afresh, would take minutes.
    answers = {path: getattr(forged_browser, method)(path) for path in ROUTES}
    assert {path: answers[path].status_code for path in SAFE_ONLY} == dict.fromkeys(SAFE_ONLY, 405)
    not_refused = {
        path: response.status_code
        for path, response in answers.items()
        if path not in SAFE_ONLY and not refused_by_csrf(response)
    }
    assert not_refused == {}
