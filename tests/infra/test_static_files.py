"""Static files under the production settings: collected with hashed names into STATIC_ROOT, then served by WhiteNoise
from the WSGI app (the image has no other web server) with a cache header long enough for browsers and the proxy to
keep them, which only the hash in the name makes safe."""

import json
import re
import secrets
import subprocess
import sys

import pytest

from tests.infra.test_deploy_config import ROOT, production_env

HOST = "ior.example.org"
ONE_YEAR = 365 * 24 * 3600

# Runs under the production settings. The big third-party bundles (the API docs' Swagger UI and ReDoc, DRF's
# browsable API, the admin's) are left out of the collection: the sign-in page links none of them, and compressing
# them takes a minute.
SCRIPT = f"""
import json, re, sys
import django
django.setup()
from django.core.management import call_command
from django.test import Client

call_command(
    "collectstatic", "--noinput", "-i", "drf_spectacular_sidecar", "-i", "rest_framework", "-i", "admin", verbosity=0
)
# Created after collectstatic: WhiteNoise indexes STATIC_ROOT when the app loads, as it does when gunicorn starts.
client = Client(HTTP_HOST={HOST!r})
page = client.get("/accounts/login/", secure=True)
links = re.findall(r'(?:src|href)="(/static/[^"]+)"', page.content.decode())
served = {{}}
for link in links:
    response = client.get(link, secure=True)
    served[link] = {{
        "status": response.status_code,
        "cache_control": response.get("Cache-Control"),
        "bytes": len(b"".join(response.streaming_content)) if response.streaming else len(response.content),
    }}
    response.close()
print(json.dumps({{"page": page.status_code, "served": served}}))
"""


@pytest.mark.slow
def test_the_sign_in_pages_static_files_are_served_by_whitenoise_with_a_long_cache(tmp_path):
    env = production_env(
        tmp_path, SECRET_KEY=secrets.token_urlsafe(50), ALLOWED_HOSTS=HOST, STATIC_ROOT=str(tmp_path / "static")
    )
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True, timeout=180, check=False
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])

    assert result["page"] == 200
    served = result["served"]
    assert any(link.endswith(".css") for link in served) and any(link.endswith(".js") for link in served), served
    for link, answer in served.items():
        # The manifest storage's content hash in the name, e.g. app.50175b508d9b.css.
        assert re.search(r"\.[0-9a-f]{12}\.\w+$", link), link
        assert answer["status"] == 200, link
        assert answer["bytes"] > 0, link
        directives = [directive.strip() for directive in answer["cache_control"].split(",")]
        max_age = int(next(d for d in directives if d.startswith("max-age=")).removeprefix("max-age="))
        assert max_age >= ONE_YEAR, (link, answer["cache_control"])
        assert "immutable" in directives and "public" in directives, (link, answer["cache_control"])
