"""Settings shared by every environment. Everything that differs between machines comes from the environment."""

import os
from datetime import timedelta
from email.utils import getaddresses
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from ior_platform.settings.storage import storages_from_env

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(os.environ.get("IOR_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value.lower() in {"1", "true", "yes", "on"}:
        return True
    if value.lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {value!r}")


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEFAULT_SECRET_KEY = "insecure-development-key-do-not-use-in-production"  # noqa: S105
SECRET_KEY = os.environ.get("SECRET_KEY", DEFAULT_SECRET_KEY)
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_fsm",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "axes",
    "ior_platform.core",
    "parties",
    "compliance",
    "shipments",
    "documents",
]

MIDDLEWARE = [
    "ior_platform.core.request_id.RequestIdMiddleware",
    # Outside everything else, so that every response carries the headers, the health checks' and errors' too.
    "ior_platform.core.security.SecurityHeadersMiddleware",
    "ior_platform.core.metrics.MetricsMiddleware",
    "ior_platform.core.health.HealthCheckMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    # Before anything that serves a page: an unverified session of a user with (or owing) a second factor goes no
    # further than the verify and setup pages (ior_platform/core/mfa.py).
    "ior_platform.core.mfa.MfaRequiredMiddleware",
    "ior_platform.core.api.authentication.AuditChannelMiddleware",
    "ior_platform.core.middleware.UserTimeZoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # After MessageMiddleware: it leaves the reason for the sign-out on the sign-in page.
    "ior_platform.core.security.IdleTimeoutMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: it turns a lockout flagged during authentication into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "ior_platform.urls"
WSGI_APPLICATION = "ior_platform.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "parties.context_processors.unread_count",
                "shipments.context_processors.drafting",
            ],
        },
    },
]

# The embedded default is a SQLite file, so a fresh machine needs no database server. Web, worker and
# beat write to it at once: WAL and IMMEDIATE transactions avoid "database is locked" under that load.
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'db.sqlite3'}",
        conn_max_age=int(os.environ.get("DB_CONN_MAX_AGE", "0")),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA busy_timeout=5000; PRAGMA synchronous=NORMAL;",
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "parties.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Sign-in lockout (django-axes). AxesStandaloneBackend refuses a locked-out attempt before any password is checked;
# every authenticate() with a request counts: the sign-in page and the admin's. The e-signature's password
# re-entry calls check_password, not authenticate(), and keeps its own stricter lock (documents/signatures.py);
# API keys and API sessions never authenticate with a password.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = int(os.environ.get("AXES_FAILURE_LIMIT", "100"))
AXES_COOLOFF_TIME = timedelta(hours=float(os.environ.get("AXES_COOLOFF_HOURS", "1")))
# Either parameter locks on its own: an account under guesses from many addresses (a botnet gets no more than
# AXES_FAILURE_LIMIT guesses an hour against any one account), and an address guessing across many accounts
# (password spraying). The price is that anyone can lock a known username for an hour; at 100 failures a real user
# never trips it by mistake, and the lockout is an audit event of the account's organization. Username and address
# together would let an attacker with many addresses guess without limit.
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
# A locked-out attempt is neither checked nor counted, so the lock ends a fixed cool-off after it began however
# often a locked account is tried; a success clears the failures counted against that account and address.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_RESET_ON_SUCCESS = True
AXES_HANDLER = "ior_platform.core.security.AuditedAxesHandler"
AXES_LOCKOUT_CALLABLE = "ior_platform.core.security.lockout_response"
AXES_CLIENT_IP_CALLABLE = "ior_platform.core.security.client_ip"
# The number of reverse proxies in front of the web service that append to X-Forwarded-For (the load balancer,
# nginx); 0 when clients connect directly. See ior_platform/core/security.py client_ip.
TRUSTED_PROXY_COUNT = int(os.environ.get("TRUSTED_PROXY_COUNT", "0"))

# Sessions: signed out after SESSION_IDLE_TIMEOUT_MINUTES without a request and after SESSION_MAX_AGE_HOURS in
# all (ior_platform/core/security.py IdleTimeoutMiddleware); the cookie ends with the browser, for shared
# workstations at clinical sites. login() gives the session a new key, so a key planted before sign-in is worthless.
SESSION_IDLE_TIMEOUT_MINUTES = int(os.environ.get("SESSION_IDLE_TIMEOUT_MINUTES", "30"))
SESSION_MAX_AGE_HOURS = int(os.environ.get("SESSION_MAX_AGE_HOURS", "12"))
SESSION_COOKIE_AGE = SESSION_MAX_AGE_HOURS * 3600
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
# Two-factor sign-in (ior_platform/core/mfa.py): the name authenticator apps file the account under. No slash or
# colon: both have a meaning in the otpauth:// label.
OTP_TOTP_ISSUER = os.environ.get("OTP_TOTP_ISSUER", "IOR platform")

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", VAR_DIR / "staticfiles"))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "media/"
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", VAR_DIR / "media"))
# Document files on MEDIA_ROOT, or in an S3-compatible bucket with DOCUMENT_STORAGE=s3 (see settings/storage.py).
STORAGES = storages_from_env(os.environ)

EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "IOR platform <noreply@ior-platform.local>")
SERVER_EMAIL = os.environ.get("SERVER_EMAIL", DEFAULT_FROM_EMAIL)
SITE_URL = os.environ.get("SITE_URL", "http://127.0.0.1:8000").rstrip("/")
# Who hears of a background task that failed for good: "Ops <ops@example.com>, oncall@example.com".
ADMINS = [(name or address, address) for name, address in getaddresses([os.environ.get("ADMINS", "")]) if address]

# Celery. Without REDIS_URL / CELERY_BROKER_URL the broker is kombu's filesystem transport: a real
# queue between processes that needs no server, so `make run` works on a bare machine.
REDIS_URL = os.environ.get("REDIS_URL", "")
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL") or REDIS_URL or "filesystem://"
CELERY_BROKER_TRANSPORT_OPTIONS = {}
if CELERY_BROKER_URL.startswith("filesystem://"):
    _queue_dir = VAR_DIR / "broker"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue_dir / "queue"),
        "data_folder_out": str(_queue_dir / "queue"),
        "control_folder": str(_queue_dir / "control"),
        "store_processed": False,
        # kombu polls the folder; its default of one second would let a seeded backlog trickle out.
        "polling_interval": 0.1,
    }
    for _folder in ("queue", "control"):
        (_queue_dir / _folder).mkdir(parents=True, exist_ok=True)
CELERY_RESULT_BACKEND = os.environ.get("CELERY_RESULT_BACKEND") or (REDIS_URL or None)
CELERY_TASK_IGNORE_RESULT = CELERY_RESULT_BACKEND is None
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = 120
CELERY_TASK_TIME_LIMIT = 180
# Separate queues so a burst of PDF rendering never delays a reminder; one worker may take all three.
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {
    "documents.tasks.render_dossier": {"queue": "pdf"},
    "shipments.tasks.notify_shipment_event": {"queue": "notifications"},
    "shipments.tasks.notify_cold_chain_event": {"queue": "notifications"},
    "documents.tasks.deliver_document_reminders": {"queue": "notifications"},
    "parties.notifications.email_notification": {"queue": "notifications"},
    "parties.notifications.send_notification_digests": {"queue": "notifications"},
    "parties.notifications.email_notifications": {"queue": "notifications"},
    # Their own queue: a slow receiver (up to 15 s an attempt) must not hold up e-mails.
    "parties.tasks.deliver_webhook": {"queue": "webhooks"},
    "parties.tasks.requeue_due_webhook_deliveries": {"queue": "webhooks"},
}
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE = {
    "requeue-webhook-deliveries": {
        "task": "parties.tasks.requeue_due_webhook_deliveries",
        "schedule": 5 * 60,
    },
    "purge-idempotency-records": {
        "task": "ior_platform.core.tasks.purge_idempotency_records",
        "schedule": 60 * 60,
    },
    "expire-lapsed-documents": {
        "task": "documents.tasks.expire_lapsed_documents",
        "schedule": 60 * 60,
    },
    "chase-document-deadlines": {
        "task": "documents.tasks.chase_document_deadlines",
        "schedule": int(os.environ.get("DEADLINE_SWEEP_MINUTES", "15")) * 60,
    },
    "send-notification-digests": {
        "task": "parties.notifications.send_notification_digests",
        "schedule": 60 * 60,
    },
    "alert-pack-out-margin": {
        "task": "shipments.tasks.alert_pack_out_margin",
        "schedule": 15 * 60,
    },
}

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "ior_platform.core.api.schema.IntegrationSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "ior_platform.core.api.authentication.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
        "ior_platform.core.api.permissions.KeyScopeAllows",
    ],
    "DEFAULT_FILTER_BACKENDS": [
        "ior_platform.core.api.filters.FilterBackend",
        "rest_framework.filters.SearchFilter",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_PAGINATION_CLASS": "ior_platform.core.api.pagination.CappedCursorPagination",
    "DEFAULT_THROTTLE_CLASSES": ["ior_platform.core.api.throttling.KeyOrUserRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"api": os.environ.get("API_THROTTLE_RATE", "600/min")},
    "EXCEPTION_HANDLER": "ior_platform.core.api.errors.exception_handler",
    "COERCE_DECIMAL_TO_STRING": True,
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "IOR/EOR clinical shipment platform API",
    "DESCRIPTION": (
        "Book, follow and feed clinical-trial shipments from your RTSM, CTMS or ERP. Authenticate with an API key "
        "(`Authorization: Bearer ior_…`) issued by your organization's manager. Times are UTC ISO-8601. Every error "
        "has the same shape. POSTs accept an `Idempotency-Key`; updates and transitions accept `If-Match`."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    # One enum per choice set, whatever the field is called (`side` and `direction` are both a TradeDirection).
    "ENUM_NAME_OVERRIDES": {
        "PartyRoleEnum": "parties.choices.PartyRole",
        "TradeDirectionEnum": "compliance.choices.TradeDirection",
        "ProductCategoryEnum": "compliance.choices.ProductCategory",
        "DocumentTypeEnum": "compliance.choices.DocumentType",
    },
    # Swagger UI from the installed sidecar package: served by us, no CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# Redis backs the cache (API throttling) when configured, so every web process shares one budget per key.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
if os.environ.get("REDIS_URL"):
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": os.environ["REDIS_URL"]}
    }

# Reminders before a checklist document's due date, and the days overdue after which it is escalated.
DEADLINE_REMINDER_DAYS = [int(d) for d in env_list("DEADLINE_REMINDER_DAYS", "7,3,1")]
DEADLINE_ESCALATION_DAYS = int(os.environ.get("DEADLINE_ESCALATION_DAYS", "3"))

DOCUMENT_UPLOAD_MAX_BYTES = int(os.environ.get("DOCUMENT_UPLOAD_MAX_BYTES", str(25 * 1024 * 1024)))

# Every line carries the request id (ior_platform/core/request_id.py). LOG_FORMAT=json writes one JSON object a
# line for a log shipper (the production default); plain text elsewhere, for people.
LOG_FORMAT = os.environ.get("LOG_FORMAT", "plain")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request": {"()": "ior_platform.core.request_id.RequestContextFilter"}},
    "formatters": {
        "plain": {"()": "ior_platform.core.request_id.plain_formatter"},
        "json": {"()": "ior_platform.core.request_id.json_formatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json" if LOG_FORMAT == "json" else "plain",
            "filters": ["request"],
        }
    },
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    # WeasyPrint logs every layout step at INFO; only its warnings matter to an operator.
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "weasyprint": {"level": "WARNING"},
        "fontTools": {"level": "WARNING"},
    },
}

# Cold chain: the activation energy of the mean kinetic temperature (kJ/mol; USP <1079.2> uses 83.144), and the
# largest logger export accepted (two years of readings a minute is some 30 to 60 MB).
COLD_CHAIN_MKT_DELTA_H = float(os.environ.get("COLD_CHAIN_MKT_DELTA_H", "83.144"))
COLD_CHAIN_LOG_MAX_BYTES = int(os.environ.get("COLD_CHAIN_LOG_MAX_BYTES", str(80 * 1024 * 1024)))
# A shipment in customs hold whose pack-out has less than this many hours left alerts its IOR and sponsor, once.
COLD_CHAIN_PACK_OUT_MARGIN_HOURS = float(os.environ.get("COLD_CHAIN_PACK_OUT_MARGIN_HOURS", "24"))

# /readyz gives each of its checks (database, Redis, broker) this many seconds. /metrics wants
# `Authorization: Bearer <METRICS_TOKEN>`; without a token it is open under DEBUG and absent (404) otherwise.
READYZ_TIMEOUT = float(os.environ.get("READYZ_TIMEOUT", "2"))
METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "")
# Further prometheus multi-process directories /metrics sums besides its own PROMETHEUS_MULTIPROC_DIR (comma-separated):
# in docker-compose the worker's, on a volume web shares, so the task counts show (ior_platform/core/metrics.py).
METRICS_SCRAPE_DIRS = env_list("METRICS_SCRAPE_DIRS")
