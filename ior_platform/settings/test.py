"""The test suite. Runs on the embedded SQLite default unless DATABASE_URL points at PostgreSQL."""

import os
import tempfile

os.environ.setdefault("IOR_VAR_DIR", tempfile.mkdtemp(prefix="ior-test-"))

from .base import *

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# Tasks run in-process unless a test talks to a real broker and worker (marked `redis`).
CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["TEST"] = {"NAME": os.path.join(VAR_DIR, "test.sqlite3")}

# Throttling has its own tests with their own rate; elsewhere a test (or schemathesis) must never hit it.
REST_FRAMEWORK = {**REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"api": "1000000/min"}}
