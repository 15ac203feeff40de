"""The browser-facing protections: security headers with a Content-Security-Policy on every response, the idle and
absolute session limits, and the sign-in lockout's client address, audit trail and page (django-axes counts the
failures; this module decides what is recorded and what a locked-out person sees)."""

import logging
from functools import wraps
from urllib.parse import urlsplit

from axes.handlers.database import AxesDatabaseHandler
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model, logout
from django.contrib.auth.views import redirect_to_login
from django.db import IntegrityError, transaction
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import render, resolve_url
from django.utils import timezone

from ior_platform.core.audit import record_event

log = logging.getLogger(__name__)

# Everything the UI loads is its own: scripts and styles come from static/ (no inline <script>, no style=""), the
# SVG charts use presentation attributes, which CSP does not govern. htmx is told not to inject its indicator
# <style> (base.html's htmx-config) and never to eval.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
# Swagger UI (drf-spectacular's page) ships an inline <style> block and sets style attributes as it renders; its
# own start-up script is served as a file (SpectacularSwaggerSplitView), so only styles are relaxed, on that page.
API_DOCS_CONTENT_SECURITY_POLICY = CONTENT_SECURITY_POLICY.replace(
    "style-src 'self'", "style-src 'self' 'unsafe-inline'"
)
DOWNLOAD_CONTENT_SECURITY_POLICY = "sandbox"
PERMISSIONS_POLICY = (
    "accelerometer=(), autoplay=(), camera=(), display-capture=(), geolocation=(), gyroscope=(), magnetometer=(), "
    "microphone=(), midi=(), payment=(), usb=()"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "Permissions-Policy": PERMISSIONS_POLICY,
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
}

IDLE_KEY = "security_last_seen"
STARTED_KEY = "security_signed_in_at"
# The last-seen time is written back only when it moved by more than this: a session save per minute of activity,
# not one per request (htmx polls every second while a dossier renders).
ACTIVITY_RESOLUTION_SECONDS = 60


class SecurityHeadersMiddleware:
    """Adds the security headers to every response that does not set its own: a document download keeps its
    stricter `sandbox` policy, the API docs their relaxed one; any other attachment gets `sandbox` too."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if response.get("Content-Disposition", "").startswith("attachment"):
            # A download is never a page of ours: sandboxed, like a document's (documents/views.py), which also
            # spares a PDF opened in the browser's viewer the page policy its own inline styles would break.
            response.headers.setdefault("Content-Security-Policy", DOWNLOAD_CONTENT_SECURITY_POLICY)
        for header, value in SECURITY_HEADERS.items():
            response.headers.setdefault(header, value)
        return response


def content_security_policy(policy: str):
    """A view's own Content-Security-Policy, which SecurityHeadersMiddleware then leaves alone."""

    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            response = view(request, *args, **kwargs)
            response.headers["Content-Security-Policy"] = policy
            return response

        return wrapped

    return decorator


def _is_api_key_request(request) -> bool:
    # Only under /api/, where the key (not the session) is what authenticates: elsewhere the header would let a
    # stolen session cookie dodge the timeout.
    return request.path.startswith("/api/") and request.headers.get("Authorization", "").startswith("Bearer ")


def idle_timeout_message() -> str:
    minutes = settings.SESSION_IDLE_TIMEOUT_MINUTES
    return f"You were signed out after {minutes} minute{'' if minutes == 1 else 's'} without activity. Sign in again."


def start_session_clock(session) -> None:
    """Stamp a new sign-in's session, inside the save login() makes anyway, so the first page after it writes
    nothing."""
    now = int(timezone.now().timestamp())
    session[STARTED_KEY] = now
    session[IDLE_KEY] = now


class IdleTimeoutMiddleware:
    """Signs a browser session out after SESSION_IDLE_TIMEOUT_MINUTES without a request, and after
    SESSION_MAX_AGE_HOURS in all, however active (the session cookie alone would slide with every save).

    A page request is sent to the sign-in page with the reason; an htmx request gets HX-Redirect, so the browser
    navigates instead of swapping the sign-in page into a fragment; the API answers as to anyone signed out (its
    JSON 401). Requests with an API key carry no session and are not touched."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated or _is_api_key_request(request):
            return self.get_response(request)
        now = int(timezone.now().timestamp())
        session = request.session
        last_seen = session.get(IDLE_KEY)
        started = session.setdefault(STARTED_KEY, now)
        if last_seen is not None and now - last_seen > settings.SESSION_IDLE_TIMEOUT_MINUTES * 60:
            return self._sign_out(request, idle_timeout_message())
        if now - started > settings.SESSION_MAX_AGE_HOURS * 3600:
            hours = settings.SESSION_MAX_AGE_HOURS
            return self._sign_out(request, f"You were signed out after {hours} hours. Sign in again.")
        if last_seen is None or now - last_seen > ACTIVITY_RESOLUTION_SECONDS:
            session[IDLE_KEY] = now
        return self.get_response(request)

    def _sign_out(self, request, message: str):
        htmx = bool(request.headers.get("HX-Request"))
        logout(request)
        if request.path.startswith("/api/"):
            return self.get_response(request)
        messages.info(request, message)
        if htmx:
            next_path = _page_of_htmx_request(request)
        elif request.method == "GET":
            next_path = request.get_full_path()
        else:
            next_path = ""  # a form posted after the timeout cannot be replayed by the GET that follows sign-in
        login_url = redirect_to_login(next_path).url if next_path else resolve_url(settings.LOGIN_URL)
        if htmx:
            response = HttpResponse(status=204)
            response["HX-Redirect"] = login_url
            return response
        return HttpResponseRedirect(login_url)


def _page_of_htmx_request(request) -> str:
    """The page an htmx request came from (HX-Current-URL), when it is one of ours; the fragment's own URL would be
    no page to return to."""
    current = urlsplit(request.headers.get("HX-Current-URL", ""))
    if current.netloc != request.get_host():
        return ""
    return current.path + (f"?{current.query}" if current.query else "")


# Sign-in lockout (django-axes; settings in ior_platform/settings/base.py).


def client_ip(request) -> str | None:
    """The client's address for the lockout. Behind TRUSTED_PROXY_COUNT reverse proxies it is the entry that many
    places from the right of X-Forwarded-For (entries further left are the client's to invent); without the
    setting it is the socket's peer. Counting the proxy's own address instead would let one attacker lock
    everybody out at once."""
    proxies = settings.TRUSTED_PROXY_COUNT
    if proxies:
        forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
        if len(forwarded) >= proxies:
            return forwarded[-proxies]
    return request.META.get("REMOTE_ADDR") or None


def lockout_response(request, original_response=None, credentials=None):
    """The page a locked-out person sees (429, the site's layout), in place of axes' plain text."""
    cool_off_minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    response = render(
        request,
        "registration/locked_out.html",
        {
            "failure_limit": settings.AXES_FAILURE_LIMIT,
            "cool_off": _duration(cool_off_minutes),
        },
        status=429,
    )
    response["Retry-After"] = str(cool_off_minutes * 60)
    return response


def _duration(minutes: int) -> str:
    if minutes % 60 == 0:
        hours = minutes // 60
        return f"{hours} hour{'' if hours == 1 else 's'}"
    return f"{minutes} minute{'' if minutes == 1 else 's'}"


def _account(username: str | None):
    if not username:
        return None
    user_model = get_user_model()
    return user_model.objects.filter(**{user_model.USERNAME_FIELD: username}).select_related("organization").first()


def _record_security_event(*, user, actor, action: str, changes: dict, reason: str) -> None:
    """An event in the account's chain: its organization's, or the platform's for staff without one. Sign-ins of one
    organization may race for the chain's next sequence number; the loser's insert fails on the unique
    constraint and is tried again on top of the winner's event, so a busy morning never turns a sign-in into an
    error page."""
    for attempt in range(3):
        try:
            with transaction.atomic():
                record_event(
                    actor=actor,
                    action=action,
                    target=user,
                    changes=changes,
                    reason=reason,
                    organization=user.organization,
                )
            return
        except IntegrityError:
            if attempt == 2:
                log.exception("could not record %s for %s", action, user.get_username())


class AuditedAxesHandler(AxesDatabaseHandler):
    """axes' database handler, plus the audit trail of password sign-ins: each counted failure, the start of a
    lockout and each success are events in the account's chain.

    A username that is no account has no chain to write to: its failures stay in axes' own tables (they still
    count towards the address's lockout) and in the log. Writing attacker-chosen names at an attacker's pace into
    the platform chain would let anyone grow, and contend for, the regulated record."""

    def user_login_failed(self, sender, credentials: dict, request=None, **kwargs):
        # Set by the backend before the signal when the attempt was refused unchecked, because a lockout holds.
        refused = bool(getattr(request, "axes_locked_out", False))
        super().user_login_failed(sender, credentials, request=request, **kwargs)
        if request is None:
            return
        username = (credentials or {}).get(get_user_model().USERNAME_FIELD)
        ip_address = request.axes_ip_address
        if refused:
            # Not counted (AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT is off) and not audited: a lockout already
            # has its event, and an attacker hammering a locked account must not be able to flood the trail.
            log.warning("sign-in refused during a lockout: username %r from %s", username, ip_address)
            return
        user = _account(username)
        failures = request.axes_failures_since_start
        if user is None:
            log.warning("failed sign-in for unknown username %r from %s (%s failures)", username, ip_address, failures)
            if request.axes_locked_out:
                log.warning("sign-in locked for %s after %s failures", ip_address, failures)
            return
        _record_security_event(
            user=user,
            actor=None,
            action="security.login_failed",
            changes={"failed_attempts": [None, failures]},
            reason=f"wrong password from {ip_address}",
        )
        if request.axes_locked_out:
            _record_security_event(
                user=user,
                actor=None,
                action="security.login_locked_out",
                changes={"failed_attempts": [None, failures], "locked": [False, True]},
                reason=(
                    f"sign-in locked for {_duration(int(settings.AXES_COOLOFF_TIME.total_seconds() // 60))} after "
                    f"{failures} failed attempts for this account or from {ip_address}"
                ),
            )

    def user_logged_in(self, sender, request, user, **kwargs):
        super().user_logged_in(sender, request, user, **kwargs)
        if request is not None and hasattr(request, "session"):
            start_session_clock(request.session)
        # A login() without an HTTP request behind it (a bare HttpRequest, as the test client's force_login makes)
        # is no sign-in anyone made.
        if request is None or not request.method:
            return
        _record_security_event(
            user=user,
            actor=user,
            action="security.login_succeeded",
            changes={},
            reason=f"signed in from {request.axes_ip_address}",
        )
