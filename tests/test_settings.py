"""Settings come from the environment; production refuses to start on development defaults."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def load(settings_module: str, **env) -> subprocess.CompletedProcess:
    code = (
        "import django; django.setup(); from django.conf import settings; "
        "print(settings.DATABASES['default']['ENGINE'], settings.CELERY_BROKER_URL, settings.DEBUG)"
    )
    clean = {
        k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "DEBUG"}
    }
    clean.update(DJANGO_SETTINGS_MODULE=settings_module, **env)
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=clean, capture_output=True, text=True, timeout=60)


def test_embedded_default_needs_no_server(tmp_path):
    result = load("ior_platform.settings.local", IOR_VAR_DIR=str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["django.db.backends.sqlite3", "filesystem://", "True"]


def test_postgres_and_redis_are_switched_on_by_environment(tmp_path):
    result = load(
        "ior_platform.settings.local",
        IOR_VAR_DIR=str(tmp_path),
        DATABASE_URL="postgres://postgres@127.0.0.1:5432/ior",
        REDIS_URL="redis://127.0.0.1:6379/0",
        DEBUG="false",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["django.db.backends.postgresql", "redis://127.0.0.1:6379/0", "False"]


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "SECRET_KEY must be set"),
        ({"SECRET_KEY": "short"}, "SECRET_KEY must be set"),
        ({"SECRET_KEY": "x" * 60, "DEBUG": "true"}, "DEBUG must be off in production"),
        ({"SECRET_KEY": "x" * 60, "DEBUG": "maybe"}, "DEBUG must be true or false, not 'maybe'"),
    ],
)
def test_production_refuses_unsafe_settings(tmp_path, env, message):
    result = load("ior_platform.settings.production", IOR_VAR_DIR=str(tmp_path), **env)
    assert result.returncode != 0
    assert message in result.stderr


def test_production_starts_with_a_real_secret(tmp_path):
    result = load("ior_platform.settings.production", IOR_VAR_DIR=str(tmp_path), SECRET_KEY="k" * 64)
    assert result.returncode == 0, result.stderr
