"""Two-factor sign-in: a TOTP authenticator app (RFC 6238) with ten one-time backup codes, on django-otp.

Who must use it is one rule, `mfa_required`; anyone else may turn it on. A session of a user who has a second factor,
or owes one, reaches nothing but the verify and setup pages until the factor is given (`MfaRequiredMiddleware`), and
the admin site refuses such a session on its own too (`VerifiedAdminSite`), so no gap in the middleware opens it.
Wrong codes are throttled by django-otp's per-device back-off (1, 2, 4, 8 ... seconds) and each one is audited."""

import math
import re
from base64 import b32encode
from urllib.parse import urlsplit

import django_otp
import segno
from django.conf import settings
from django.contrib.admin import AdminSite
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django_otp.admin import OTPAdminSite
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from ior_platform.core.audit import record_event
from ior_platform.core.errors import DomainError, NotPermitted
from parties.choices import MemberRole, PartyRole
from parties.models import Membership

BACKUP_CODE_COUNT = 10
TOTP_DEVICE_NAME = "Authenticator app"
BACKUP_DEVICE_NAME = "Backup codes"
TOTP_PATTERN = re.compile(r"[0-9]{6}")
# StaticToken.random_token(): five random bytes in lower-case base32.
BACKUP_PATTERN = re.compile(r"[a-z2-7]{8}")


class MfaRefused(DomainError):
    """A code was wrong, malformed, reused or throttled, or a password re-entry failed; the reason is shown."""


def _owing_roles() -> dict[str, Exists]:
    """The memberships that oblige a user to a second factor, as conditions on a user row: one query answers them
    with whatever else is asked of that row (see `mfa_status`)."""
    return {
        "reviews_or_signs": Exists(
            Membership.objects.filter(user=OuterRef("pk"), role__in=(MemberRole.REVIEWER, MemberRole.QA))
        ),
        "manages_ior_or_eor": Exists(
            Membership.objects.filter(
                user=OuterRef("pk"),
                role=MemberRole.MANAGER,
                user__organization__roles__role__in=(PartyRole.IOR, PartyRole.EOR),
            )
        ),
    }


def mfa_status(user) -> tuple[bool, bool]:
    """(enrolled, required) for a signed-in user, in one query: the middleware asks it on every request of a
    session that has not given a second factor, which is every request of a user who has none.

    Required of staff, who see and change every organization's records. The issue names IOR reviewers; we take
    everyone whose decision is a regulated record, since a stolen password would let someone take it in their name:
    - reviewers, wherever they work: the role exists to approve or reject (dossiers at an importer of record,
      restricted-party matches at an exporter of record), and an organization may take the IOR role later;
    - quality assurance, who sign the release, rejection or destruction of goods after a temperature excursion;
    - managers of an importer or exporter of record, who return or destroy goods and clear screening matches.
    Editors and viewers, and managers elsewhere, may turn it on for themselves."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False, False
    row = (
        get_user_model()
        ._default_manager.filter(pk=user.pk)
        .annotate(enrolled=Exists(TOTPDevice.objects.filter(user=OuterRef("pk"), confirmed=True)), **_owing_roles())
        .values("enrolled", "reviews_or_signs", "manages_ior_or_eor")
        .first()
    )
    if row is None:
        return False, False
    required = user.is_staff or user.is_superuser or row["reviews_or_signs"] or row["manages_ior_or_eor"]
    return row["enrolled"], required


def mfa_required(user) -> bool:
    """Whether the user must sign in with a second factor (the rule is explained at `mfa_status`)."""
    return mfa_status(user)[1]


def session_verified(user) -> bool:
    """Whether this request's session gave the second factor. False without django-otp's middleware (which puts
    `is_verified` on the user), so a missing middleware closes the door rather than opening it."""
    is_verified = getattr(user, "is_verified", None)
    return callable(is_verified) and is_verified()


def mfa_enabled(user) -> bool:
    return getattr(user, "is_authenticated", False) and TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def backup_codes_left(user) -> int:
    return StaticToken.objects.filter(device__user=user, device__confirmed=True).count()


def totp_secret(device: TOTPDevice) -> str:
    """The key in base32 in groups of four, as authenticator apps accept it typed in."""
    secret = b32encode(device.bin_key).decode()
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def totp_qr_svg(device: TOTPDevice) -> str:
    """The otpauth:// URI as an inline SVG QR code: no image request and no script, so the strict CSP allows it."""
    qr = segno.make(device.config_url, error="m")
    return qr.svg_inline(scale=5, border=4, dark="#000", light="#fff", title="QR code for your authenticator app")


def parse_code(raw: str) -> tuple[str, str]:
    """('totp', '123456') or ('backup', 'abcd2345') from what a person typed, spaces and dashes allowed."""
    code = re.sub(r"[\s-]", "", raw or "").lower()
    if not code:
        raise MfaRefused("Enter the 6-digit code from your authenticator app.")
    if TOTP_PATTERN.fullmatch(code):
        return "totp", code
    if BACKUP_PATTERN.fullmatch(code):
        return "backup", code
    if code.isascii() and code.isdigit():
        raise MfaRefused(f"The code from your authenticator app has 6 digits; this one has {len(code)}.")
    raise MfaRefused("Enter the 6 digits your authenticator app shows, or one of your 8-character backup codes.")


def _wait_message(device) -> str | None:
    allowed, info = device.verify_is_allowed()
    if allowed:
        return None
    seconds = math.ceil((info["locked_until"] - timezone.now()).total_seconds()) if "locked_until" in info else 1
    return f"Too many wrong codes: wait {max(seconds, 1)} seconds, then try again."


# --- Enrolment ---------------------------------------------------------------------------------------------------


def mfa_device_pending(*, user) -> TOTPDevice:
    """The authenticator being set up: the same one on every visit, so a reload keeps the QR code already scanned."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("-pk").first()
    return device or TOTPDevice.objects.create(user=user, name=TOTP_DEVICE_NAME, confirmed=False)


def _issue_backup_codes(user) -> list[str]:
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name=BACKUP_DEVICE_NAME, confirmed=True)
    codes = set()
    while len(codes) < BACKUP_CODE_COUNT:
        codes.add(StaticToken.random_token())
    StaticToken.objects.bulk_create(StaticToken(device=device, token=code) for code in sorted(codes))
    return sorted(codes)


def mfa_enroll(*, actor, device: TOTPDevice, code: str) -> list[str]:
    """Confirm the authenticator with a code it shows now; return the backup codes, which are never shown again."""
    kind, code = parse_code(code)
    if kind != "totp":
        raise MfaRefused("Enter the 6-digit code your authenticator app shows for this account.")
    with transaction.atomic():
        locked = TOTPDevice.objects.select_for_update().filter(pk=device.pk, user=actor, confirmed=False).first()
        if locked is None or mfa_enabled(actor):
            raise MfaRefused("Two-factor sign-in is already set up for your account.")
        wait = _wait_message(locked)
        verified = wait is None and locked.verify_token(code)
        if verified:
            locked.confirmed = True
            locked.save(update_fields=["confirmed"])
            TOTPDevice.objects.filter(user=actor, confirmed=False).delete()
            codes = _issue_backup_codes(actor)
            record_event(
                actor=actor,
                action="security.mfa_enrolled",
                target=actor,
                changes={"mfa": [False, True], "backup_codes": [None, BACKUP_CODE_COUNT]},
                reason="authenticator app confirmed with a code",
            )
    # Raised after the block, so the failure count django-otp stored for the back-off is kept.
    if not verified:
        raise MfaRefused(wait or "That code is not the one your app shows now. Check the app's clock and try again.")
    return codes


# --- Sign-in -----------------------------------------------------------------------------------------------------


def mfa_verify(*, actor, code: str):
    """The device that accepts `code` (the authenticator, or a backup code, which is then used up); MfaRefused
    otherwise. Every refusal of a well-formed code is audited, throttled ones included: they are how a guessing
    attempt shows."""
    kind, code = parse_code(code)
    model = TOTPDevice if kind == "totp" else StaticDevice
    with transaction.atomic():
        device = model.objects.select_for_update().filter(user=actor, confirmed=True).order_by("pk").first()
        if device is None:
            message = (
                "You have no backup codes left: use your authenticator app."
                if kind == "backup"
                else "Two-factor sign-in is not set up for your account."
            )
            raise MfaRefused(message)
        failures_before = device.throttling_failure_count
        wait = _wait_message(device)
        verified = wait is None and device.verify_token(code)
        if verified and kind == "backup":
            left = device.token_set.count()
            record_event(
                actor=actor,
                action="security.mfa_backup_code_used",
                target=actor,
                changes={"backup_codes": [left + 1, left]},
                reason="signed in with a backup code",
            )
        elif not verified:
            record_event(
                actor=actor,
                action="security.mfa_verification_failed",
                target=actor,
                changes={"failures_in_a_row": [failures_before, device.throttling_failure_count]},
                reason=("throttled: " if wait else "wrong ")
                + ("authenticator code" if kind == "totp" else "backup code"),
            )
    if not verified:
        wrong = (
            "That code is not right, or it was already used. Enter the code your app shows now."
            if kind == "totp"
            else "That backup code is not right, or it was already used."
        )
        raise MfaRefused(wait or wrong)
    return device


# --- Turning it off, new backup codes ----------------------------------------------------------------------------


def _require_password(actor, password: str) -> None:
    if not password or not actor.check_password(password):
        raise MfaRefused("That is not your password.")


def mfa_disable(*, actor, password: str) -> None:
    """Remove the authenticator and the backup codes, for a user whose role does not require them."""
    if mfa_required(actor):
        raise NotPermitted("Your role requires two-factor sign-in, so it cannot be turned off.")
    _require_password(actor, password)
    _remove_devices(
        actor=actor,
        user=actor,
        action="security.mfa_disabled",
        reason="turned off by the user after re-entering the password",
    )


def _remove_devices(*, actor, user, action: str, reason: str) -> bool:
    """The authenticator and the backup codes gone, with the audit event if there was one."""
    with transaction.atomic():
        removed, _ = TOTPDevice.objects.filter(user=user).delete()
        StaticDevice.objects.filter(user=user).delete()
        if removed:
            record_event(actor=actor, action=action, target=user, changes={"mfa": [True, False]}, reason=reason)
    return bool(removed)


def mfa_backup_codes_renew(*, actor, password: str) -> list[str]:
    """Ten new backup codes; the old ones stop working."""
    _require_password(actor, password)
    if not mfa_enabled(actor):
        raise MfaRefused("Set up two-factor sign-in first.")
    with transaction.atomic():
        left = backup_codes_left(actor)
        codes = _issue_backup_codes(actor)
        record_event(
            actor=actor,
            action="security.mfa_backup_codes_renewed",
            target=actor,
            changes={"backup_codes": [left, BACKUP_CODE_COUNT]},
        )
    return codes


def mfa_reset(*, actor, user, reason: str) -> bool:
    """Staff remove a person's authenticator and backup codes (a lost phone): their next sign-in sets up a new one.
    Whoever removed a second factor, and why, is kept: it is how an account would be taken over. Returns whether
    there was anything to remove."""
    if not (actor.is_staff and session_verified(actor)):
        raise NotPermitted("Only platform staff who signed in with their own second factor may reset someone's.")
    if not reason.strip():
        raise MfaRefused("Say why the second factor is reset.")
    return _remove_devices(actor=actor, user=user, action="security.mfa_reset", reason=reason.strip())


# --- Enforcement -------------------------------------------------------------------------------------------------


class VerifiedAdminSite(OTPAdminSite):
    """The admin only for staff whose session gave the second factor."""

    def has_permission(self, request):
        return AdminSite.has_permission(self, request) and session_verified(request.user)


# Reachable before the second factor: the pages that take it, signing out, and what probes and browsers fetch.
OPEN_URL_NAMES = ("mfa:verify", "mfa:setup", "logout")
OPEN_PREFIXES = ("/healthz", "/readyz", "/metrics", "/favicon.ico")


class MfaRequiredMiddleware:
    """Holds an unverified session of a user with (or owing) a second factor at the verify or setup page.
    Pages are redirected, htmx requests get HX-Redirect, the API answers 403 in its error shape. Calls with an
    API key are left alone: a key is issued by a manager to a system, and there is no person to ask for a code."""

    def __init__(self, get_response):
        self.get_response = get_response
        self._open_paths: set[str] | None = None

    def __call__(self, request):
        if not self._is_open(request):
            refusal = self._refusal(request)
            if refusal is not None:
                return refusal
        return self.get_response(request)

    def _is_open(self, request) -> bool:
        if self._open_paths is None:
            self._open_paths = {reverse(name) for name in OPEN_URL_NAMES}
        path = request.path_info
        return (
            path in self._open_paths
            or path.startswith(OPEN_PREFIXES)
            or path.startswith("/" + settings.STATIC_URL.lstrip("/"))
            # The key authenticates before the session in the API (ApiKeyAuthentication), and a wrong key is a 401.
            or (path.startswith("/api/") and request.headers.get("Authorization", "").startswith("Bearer "))
        )

    def _refusal(self, request):
        user = request.user
        if not user.is_authenticated:
            return None
        if session_verified(user):
            return None
        enrolled, required = mfa_status(user)
        if not enrolled and not required:
            return None
        target = reverse("mfa:verify" if enrolled else "mfa:setup")
        htmx = bool(request.headers.get("HX-Request"))
        if request.path_info.startswith("/api/"):
            next_path = ""
        elif htmx:
            # Back to the page the fragment was for, not to the fragment; the verify page checks it is ours.
            current = urlsplit(request.headers.get("HX-Current-URL", ""))
            next_path = current.path + (f"?{current.query}" if current.query else "")
        else:
            next_path = request.get_full_path() if request.method == "GET" else ""
        if next_path:
            target += "?" + urlencode({"next": next_path})
        if request.path_info.startswith("/api/"):
            what = "verify your second factor" if enrolled else "set up two-factor sign-in"
            return JsonResponse(
                {
                    "detail": f"Sign-in is not complete: {what} at {target}, or call with an API key.",
                    "reasons": ["two-factor verification required"],
                },
                status=403,
            )
        if htmx:
            response = HttpResponse(status=200)
            response["HX-Redirect"] = target
            return response
        return redirect(target)


def mark_verified(request, device) -> None:
    """Record in the session that its user gave the second factor with `device`, under a new session key: the
    anonymous key before the password and the key after it but before the code are both worthless now."""
    django_otp.login(request, device)
    request.session.cycle_key()
