"""The UI's front-end packages are served from static/vendor, copied from the versions package.json pins."""

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
REMOTE_ASSET = re.compile(r"<(script|link)\b[^>]*\b(src|href)=[\"']?(https?:)?//", re.IGNORECASE)


@pytest.mark.parametrize(
    ("package", "folder", "main_file"),
    [("bootstrap", "bootstrap", "bootstrap.min.css"), ("htmx.org", "htmx", "htmx.min.js")],
)
def test_vendored_copy_is_the_pinned_version(package, folder, main_file):
    pinned = json.loads((ROOT / "package.json").read_text())["dependencies"][package]
    vendored = ROOT / "static" / "vendor" / folder
    assert (vendored / "VERSION").read_text().strip() == f"{package}@{pinned}"
    assert re.search(rf"\bv?{re.escape(pinned)}\b", (vendored / main_file).read_text())


def test_templates_load_no_script_or_stylesheet_from_another_host():
    templates = (ROOT / "templates").rglob("*.html")
    offenders = [str(path.relative_to(ROOT)) for path in templates if REMOTE_ASSET.search(path.read_text())]
    assert offenders == []


def test_favicon_ico_points_at_the_sites_icon_for_anyone(client, db):
    """Pages that name no icon (the admin's, the API docs') make browsers ask for /favicon.ico: never a 404."""
    response = client.get("/favicon.ico")
    assert response.status_code == 301
    assert response["Location"] == "/static/img/favicon.svg"
