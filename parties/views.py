"""The notification inbox: a user's own notifications, marking them read, and how they want them e-mailed and
their times shown."""

import functools
import zoneinfo
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from parties.models import EmailMode, NotificationPreference
from parties.notifications import mark_read
from parties.selectors import notification_list
from parties.services import user_preferences_set

PAGE_SIZE = 50
ROW_TEMPLATE = "parties/partials/_notification.html"
SHOW_CHOICES = {"all": "All", "unread": "Unread"}


def _inbox_url(*, show: str = "all", page: int | None = None) -> str:
    query = {key: value for key, value in (("show", show if show != "all" else None), ("page", page)) if value}
    return reverse("parties:inbox") + (f"?{urlencode(query)}" if query else "")


@login_required
def inbox(request):
    show = request.GET.get("show", "all")
    if show not in SHOW_CHOICES:
        show = "all"
    notifications = (
        notification_list(user=request.user)
        .select_related("shipment")
        .only("pk", "subject", "body", "link", "created_at", "read_at", "shipment__reference", "shipment__status")
    )
    if show == "unread":
        notifications = notifications.filter(read_at__isnull=True)
    page = Paginator(notifications, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "show": show,
        "show_choices": [(key, label, _inbox_url(show=key)) for key, label in SHOW_CHOICES.items()],
        "newer_url": _inbox_url(show=show, page=page.previous_page_number()) if page.has_previous() else "",
        "older_url": _inbox_url(show=show, page=page.next_page_number()) if page.has_next() else "",
        "time_zone": timezone.get_current_timezone_name(),
    }
    return render(request, "parties/inbox.html", context)


class NotificationIdsField(forms.Field):
    """Notification ids as posted by the inbox: whole numbers in the database's range, or a form error. Whose they
    are is not checked here: mark_read touches only the user's own notifications, so another's id marks nothing."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value) -> list[int]:
        if not value:
            return []
        values = value if isinstance(value, list | tuple) else [value]
        try:
            ids = [int(item) for item in values]
        except (TypeError, ValueError):
            raise forms.ValidationError("Not a notification.", code="invalid") from None
        if not all(0 < pk < 2**63 for pk in ids):
            raise forms.ValidationError("Not a notification.", code="invalid")
        return ids


class MarkReadForm(forms.Form):
    all = forms.BooleanField(required=False)
    ids = NotificationIdsField(required=False)
    show = forms.ChoiceField(choices=list(SHOW_CHOICES.items()), required=False)
    page = forms.IntegerField(min_value=1, max_value=1_000_000, required=False)

    def clean(self):
        cleaned = super().clean()
        if not self.errors and not cleaned.get("all") and not cleaned.get("ids"):
            raise forms.ValidationError("Choose the notifications to mark read.")
        return cleaned


@login_required
@require_POST
def inbox_mark_read(request):
    form = MarkReadForm(request.POST)
    htmx = bool(request.headers.get("HX-Request"))
    if not form.is_valid():
        if htmx:
            return HttpResponse("These notifications cannot be marked read.", status=400, content_type="text/plain")
        messages.error(request, "Those notifications could not be marked read: reload the inbox and try again.")
        return redirect("parties:inbox")
    data = form.cleaned_data
    marked = mark_read(user=request.user, notification_ids=None if data["all"] else data["ids"])
    if htmx and not data["all"] and len(data["ids"]) == 1:
        notification = notification_list(user=request.user).select_related("shipment").filter(pk=data["ids"][0]).first()
        if notification is None:
            raise Http404("No such notification")
        return render(request, ROW_TEMPLATE, {"n": notification, "swap_summary": True})
    if data["all"]:
        messages.success(request, f"Marked {marked} notification{'' if marked == 1 else 's'} read.")
    return redirect(_inbox_url(show=data["show"] or "all", page=data["page"]))


def _zone_label(name: str) -> str:
    return name.split("/", 1)[-1].replace("_", " ").replace("/", " / ")


@functools.cache
def time_zone_choices() -> list:
    """Every IANA zone the server knows, grouped by region (America, Europe, ...), UTC first."""
    regions: dict[str, list[tuple[str, str]]] = {}
    for name in sorted(zoneinfo.available_timezones()):
        if name == "UTC":
            continue
        region = name.split("/", 1)[0] if "/" in name else "Other"
        regions.setdefault(region, []).append((name, _zone_label(name)))
    others = regions.pop("Other", [])
    return [("UTC", "UTC"), *sorted(regions.items()), *([("Other", others)] if others else [])]


class PreferenceForm(forms.Form):
    email_mode = forms.ChoiceField(choices=EmailMode.choices, widget=forms.RadioSelect, label="E-mail me")
    digest_hour = forms.TypedChoiceField(
        choices=[(hour, f"{hour:02d}:00") for hour in range(24)],
        coerce=int,
        empty_value=None,
        required=False,
        label="Send the daily digest after",
        help_text="In your time zone. Used only with the daily digest.",
    )
    time_zone = forms.ChoiceField(
        choices=time_zone_choices,
        required=False,
        label="Time zone",
        help_text="Every time on these pages is shown in this zone, and named.",
    )


@login_required
def preferences(request):
    current = NotificationPreference.objects.filter(user=request.user).first()
    initial = {
        "email_mode": current.email_mode if current else EmailMode.IMMEDIATE,
        "digest_hour": current.digest_hour if current else 7,
        "time_zone": request.user.time_zone or "UTC",
    }
    form = PreferenceForm(request.POST if request.method == "POST" else None, initial=initial)
    if request.method == "POST" and form.is_valid():
        user_preferences_set(
            actor=request.user,
            email_mode=form.cleaned_data["email_mode"],
            digest_hour=form.cleaned_data["digest_hour"],
            time_zone=form.cleaned_data["time_zone"] or request.user.time_zone or "UTC",
        )
        messages.success(request, "Your preferences are saved.")
        return redirect("parties:preferences")
    return render(request, "parties/preferences.html", {"form": form, "now": timezone.now()})
