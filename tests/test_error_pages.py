"""The site's error pages (DEBUG is off in the test settings): 404 for a missing page and for another tenant's
shipment alike, 403 with its reason, 500 standing alone without a request, an expired form; the API keeps its
JSON shape for each."""

import re

import pytest
from django.core.exceptions import PermissionDenied
from django.template import loader
from django.test import Client
from django.urls import path, reverse

from ior_platform import urls as site_urls


def _boom(request):
    raise RuntimeError("a bug in a page")


def _forbidden(request):
    raise PermissionDenied("Only IOR reviewers approve dossiers.")


urlpatterns = [
    path("boom/", _boom),
    path("forbidden/", _forbidden),
    path("api/v1/boom-outside-drf/", _boom),
    path("api/v1/forbidden-outside-drf/", _forbidden),
    *site_urls.urlpatterns,
]
handler403 = site_urls.handler403
handler404 = site_urls.handler404
handler500 = site_urls.handler500

with_error_views = pytest.mark.urls(__name__)


def _main(response) -> str:
    """The page's main region: what the reader sees, without the per-request CSRF token in the <body> tag."""
    return re.search(r"<main.*</main>", response.content.decode(), re.DOTALL).group(0)


def test_unknown_url_shows_the_styled_404_page(client, world):
    client.force_login(world.alice)
    response = client.get("/no/such/page/")
    html = response.content.decode()
    assert response.status_code == 404
    assert 'data-testid="error-page" data-status="404"' in html
    assert "Page not found" in html
    assert "vendor/bootstrap/bootstrap.min.css" in html
    assert 'class="navbar navbar-expand-lg navbar-dark app-navbar"' in html
    assert f'href="{reverse("parties:inbox")}"' in html


def test_anonymous_unknown_url_shows_the_404_page_without_the_inbox(client, db):
    response = client.get("/no/such/page/")
    assert response.status_code == 404
    assert "Page not found" in response.content.decode()
    assert reverse("parties:inbox") not in response.content.decode()


def test_charlie_opening_sponsor_as_shipment_gets_the_same_404_page_as_a_missing_one(client, world):
    shipment = world.shipment()
    client.force_login(world.charlie)
    forbidden = client.get(shipment.get_absolute_url())
    missing = client.get(reverse("shipments:detail", args=["SHP-NO-SUCH-1"]))
    assert forbidden.status_code == missing.status_code == 404
    assert 'data-status="404"' in forbidden.content.decode()
    assert _main(forbidden) == _main(missing)
    assert shipment.reference not in forbidden.content.decode()
    assert "Sponsor A" not in forbidden.content.decode()


def test_unknown_api_url_still_answers_json(client, db):
    response = client.get("/api/v1/no-such-endpoint/")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


@with_error_views
def test_permission_denied_shows_the_styled_403_page_with_its_reason(client, world):
    client.force_login(world.victor)
    response = client.get("/forbidden/")
    html = response.content.decode()
    assert response.status_code == 403
    assert 'data-testid="error-page" data-status="403"' in html
    assert "You may not do this" in html
    assert "Only IOR reviewers approve dossiers." in html


@with_error_views
def test_permission_denied_under_the_api_answers_json(client, world):
    client.force_login(world.victor)
    response = client.get("/api/v1/forbidden-outside-drf/")
    assert response.status_code == 403
    assert response.json() == {
        "detail": "Only IOR reviewers approve dossiers.",
        "reasons": ["Only IOR reviewers approve dossiers."],
    }


@with_error_views
def test_a_crashing_page_shows_the_standalone_500_page(world):
    client = Client(raise_request_exception=False)
    client.force_login(world.alice)
    response = client.get("/boom/")
    html = response.content.decode()
    assert response.status_code == 500
    assert 'data-testid="error-page" data-status="500"' in html
    assert "Something went wrong on our side" in html
    assert "/static/vendor/bootstrap/bootstrap.min.css" in html
    assert "/static/css/app.css" in html
    assert "a bug in a page" not in html


@with_error_views
def test_a_crash_under_the_api_answers_json(world):
    client = Client(raise_request_exception=False)
    response = client.get("/api/v1/boom-outside-drf/")
    assert response.status_code == 500
    assert response.json() == {"detail": "Server error. It was recorded; retry later."}


def test_500_page_renders_with_no_request_and_no_database(db, django_assert_num_queries):
    with django_assert_num_queries(0):
        html = loader.get_template("500.html").render()
    assert "Something went wrong on our side" in html
    assert 'href="/"' in html
    assert "app-navbar" in html


def test_expired_form_shows_the_styled_csrf_page(db):
    client = Client(enforce_csrf_checks=True)
    response = client.post(reverse("login"), {"username": "alice", "password": "x"})
    assert response.status_code == 403
    html = response.content.decode()
    assert "This form has expired" in html
    assert 'data-status="403"' in html
    assert f'href="{reverse("login")}"' in html
