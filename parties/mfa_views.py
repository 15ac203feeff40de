"""The two-factor pages: the code after the password, setting up an authenticator app, and the account's two-factor
card (turn it off, new backup codes). The rules and the audit live in ior_platform/core/mfa.py."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render, resolve_url
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.safestring import mark_safe
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from ior_platform.core.errors import NotPermitted
from ior_platform.core.mfa import (
    MfaRefused,
    backup_codes_left,
    mark_verified,
    mfa_backup_codes_renew,
    mfa_device_pending,
    mfa_disable,
    mfa_enabled,
    mfa_enroll,
    mfa_required,
    mfa_verify,
    session_verified,
    totp_qr_svg,
    totp_secret,
)
from parties.mfa_forms import CodeForm, PasswordForm

LOW_ON_BACKUP_CODES = 3


def _next_url(request, default: str = "home") -> str:
    candidate = request.POST.get("next") or request.GET.get("next")
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return resolve_url(default)


def _with_next(name: str, next_url: str) -> str:
    return f"{reverse(name)}?{urlencode({'next': next_url})}"


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def verify(request):
    user = request.user
    next_url = _next_url(request)
    if session_verified(user):
        return redirect(next_url)
    if not mfa_enabled(user):
        return redirect(_with_next("mfa:setup", next_url) if mfa_required(user) else next_url)
    form = CodeForm(request.POST if request.method == "POST" else None)
    if form.is_valid():
        try:
            device = mfa_verify(actor=user, code=form.cleaned_data["code"])
        except MfaRefused as exc:
            form.add_error("code", exc.reasons)
        else:
            mark_verified(request, device)
            left = backup_codes_left(user)
            if device.persistent_id.startswith("otp_static.") and left <= LOW_ON_BACKUP_CODES:
                plural = "" if left == 1 else "s"
                messages.warning(
                    request, f"You have {left} backup code{plural} left. Make new ones under Two-factor sign-in."
                )
            return redirect(next_url)
    return render(request, "accounts/mfa_verify.html", {"form": form, "next": next_url})


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def setup(request):
    user = request.user
    next_url = _next_url(request)
    if mfa_enabled(user):
        return redirect(next_url if session_verified(user) else _with_next("mfa:verify", next_url))
    device = mfa_device_pending(user=user)
    form = CodeForm(request.POST if request.method == "POST" else None, backup_allowed=False)
    if form.is_valid():
        try:
            codes = mfa_enroll(actor=user, device=device, code=form.cleaned_data["code"])
        except MfaRefused as exc:
            form.add_error("code", exc.reasons)
        else:
            device.refresh_from_db()
            mark_verified(request, device)
            # Answered here rather than after a redirect, so the codes are never stored anywhere but in the database.
            return render(
                request, "accounts/mfa_backup_codes.html", {"codes": codes, "next": next_url, "enrolled": True}
            )
    context = {
        "form": form,
        "next": next_url,
        "required": mfa_required(user),
        # segno's own markup from the device's key: nothing from the request reaches it.
        "qr_svg": mark_safe(totp_qr_svg(device)),  # noqa: S308
        "secret": totp_secret(device),
    }
    return render(request, "accounts/mfa_setup.html", context)


def _manage_page(request, *, disable_form=None, renew_form=None):
    user = request.user
    context = {
        "enabled": mfa_enabled(user),
        "required": mfa_required(user),
        "backup_left": backup_codes_left(user),
        "disable_form": disable_form or PasswordForm(prefix="disable"),
        "renew_form": renew_form or PasswordForm(prefix="renew"),
    }
    return render(request, "accounts/mfa_manage.html", context)


@never_cache
@login_required
@require_http_methods(["GET"])
def manage(request):
    return _manage_page(request)


@never_cache
@login_required
@require_POST
def disable(request):
    form = PasswordForm(request.POST, prefix="disable")
    if form.is_valid():
        try:
            mfa_disable(actor=request.user, password=form.cleaned_data["password"])
        except (MfaRefused, NotPermitted) as exc:
            form.add_error("password" if isinstance(exc, MfaRefused) else None, exc.reasons)
        else:
            messages.success(request, "Two-factor sign-in is off. Your password alone signs you in now.")
            return redirect("mfa:manage")
    return _manage_page(request, disable_form=form)


@never_cache
@login_required
@require_POST
def renew_backup_codes(request):
    form = PasswordForm(request.POST, prefix="renew")
    if form.is_valid():
        try:
            codes = mfa_backup_codes_renew(actor=request.user, password=form.cleaned_data["password"])
        except MfaRefused as exc:
            form.add_error("password", exc.reasons)
        else:
            return render(
                request,
                "accounts/mfa_backup_codes.html",
                {"codes": codes, "next": reverse("mfa:manage"), "enrolled": False},
            )
    return _manage_page(request, renew_form=form)


@never_cache
def admin_login(request):
    """The admin's own sign-in form would skip this site's second factor, its lockout and its audit: send people
    through the site's sign-in instead, and a signed-in user to whichever step they still owe."""
    next_url = _next_url(request, default="admin:index")
    user = request.user
    if not user.is_authenticated:
        return redirect(_with_next("login", next_url))
    if not user.is_staff:
        raise PermissionDenied("Your account has no access to the admin site.")
    if session_verified(user):
        return redirect(next_url)
    return redirect(_with_next("mfa:verify" if mfa_enabled(user) else "mfa:setup", next_url))
