"""Security headers on every response (ior_platform/core/security.py), and templates that the Content-Security-Policy
lets run: no inline script, handler or style anywhere a browser renders."""

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from documents.models import Document
from documents.services import document_version_upload
from ior_platform.core.security import CONTENT_SECURITY_POLICY
from shipments.choices import ShipmentStatus as S
from tests.conftest import force_status, pdf_file

EXPECTED = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
}


def assert_hardened(response, what):
    for header, value in EXPECTED.items():
        assert response.get(header) == value, f"{what}: {header} is {response.get(header)!r}"
    assert "camera=()" in response["Permissions-Policy"], what
    assert "geolocation=()" in response["Permissions-Policy"], what


def test_the_policy_allows_only_the_sites_own_scripts_and_styles():
    directives = dict(d.split(" ", 1) for d in CONTENT_SECURITY_POLICY.split("; "))
    assert directives["default-src"] == "'self'"
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["img-src"] == "'self' data:"
    assert directives["object-src"] == "'none'"
    assert directives["base-uri"] == "'self'"
    assert directives["form-action"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"


def test_signed_out_pages_carry_the_headers(client, db):
    for path in [reverse("login"), reverse("password_reset"), "/no/such/page/"]:
        assert_hardened(client.get(path), path)


def test_signed_in_pages_errors_and_the_api_carry_the_headers(client, world):
    shipment = world.shipment()
    client.force_login(world.alice)
    responses = {
        "dashboard": client.get(reverse("home")),
        "shipment list": client.get(reverse("shipments:list")),
        "shipment page": client.get(shipment.get_absolute_url()),
        "draft form": client.get(reverse("shipments:edit", args=[shipment.reference])),
        "htmx fragment": client.get(
            reverse("shipments:actions", args=[shipment.reference]), headers={"HX-Request": "1"}
        ),
        "404": client.get("/shipments/SHP-NOPE/"),
        "403": client.get(reverse("admin:index")),
        "API JSON": client.get("/api/v1/shipments/"),
        "API 404": client.get("/api/v1/nothing-here/"),
        "health": client.get("/healthz"),
    }
    assert responses["dashboard"].status_code == 200
    assert responses["404"].status_code == 404
    assert responses["API JSON"]["Content-Type"] == "application/json"
    for what, response in responses.items():
        assert_hardened(response, what)


def test_a_refused_form_carries_the_headers(world):
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.alice)
    response = client.post(reverse("parties:mark_read"), {"all": "1"})
    assert response.status_code == 403
    assert_hardened(response, "CSRF failure")


def test_a_document_download_keeps_its_sandbox(client, world):
    shipment = force_status(world.shipment(), S.PERMIT_COLLECTION)
    document = Document.objects.create(
        shipment=shipment,
        side="import",
        document_type="commercial_invoice",
        owed_by_role="sponsor",
        owed_by=world.sponsor_a,
        due_date=shipment.planned_ship_date,
    )
    version = document_version_upload(actor=world.alice, document=document, uploaded_file=pdf_file("invoice.pdf"))
    client.force_login(world.alice)

    response = client.get(reverse("documents:download", args=[version.pk]))

    assert response.status_code == 200
    assert response["Content-Security-Policy"] == "sandbox"
    assert response["X-Content-Type-Options"] == "nosniff"


def test_other_downloads_are_sandboxed_too(client, world):
    world.shipment()
    client.force_login(world.alice)
    response = client.get(reverse("shipments:export"))
    assert response["Content-Disposition"].startswith("attachment")
    assert response["Content-Security-Policy"] == "sandbox"


def test_the_api_docs_relax_only_styles(client, world):
    client.force_login(world.alice)
    page = client.get("/api/docs/")
    assert page.status_code == 200
    policy = page["Content-Security-Policy"]
    assert "script-src 'self';" in policy
    assert "style-src 'self' 'unsafe-inline';" in policy
    html = page.content.decode()
    # The start-up script is a file of its own, not inline.
    assert re.search(r"<script>\s*\S", html) is None
    script = client.get("/api/docs/?script=")
    assert script.status_code == 200
    assert "SwaggerUIBundle" in script.content.decode()


BROWSER_TEMPLATES = [
    path
    for path in (Path(settings.BASE_DIR) / "templates").rglob("*.html")
    # The dossier is rendered by WeasyPrint on the server, never by a browser under the policy.
    if "documents/pdf" not in path.as_posix()
]


@pytest.mark.parametrize("path", BROWSER_TEMPLATES, ids=lambda p: p.relative_to(settings.BASE_DIR).as_posix())
def test_templates_have_nothing_inline_the_policy_refuses(path):
    html = re.sub(r"{#.*?#}|{% comment %}.*?{% endcomment %}", "", path.read_text(), flags=re.S)
    assert re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html) is None, "inline <script>: move it to static/js"
    assert "<style" not in html, "<style> element: move it to static/css"
    assert re.search(r"\sstyle=", html) is None, "style attribute: use a class in static/css"
    assert re.search(r"\son[a-z]+=", html) is None, "inline event handler: bind it in static/js"
    assert "hx-on" not in html, "hx-on runs code through eval: bind it in static/js"
    assert "javascript:" not in html
