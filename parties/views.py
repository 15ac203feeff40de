"""The notification inbox: a user's own notifications, marking them read, and how they want them e-mailed."""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Q
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from ior_platform.core.tenancy import visible_shipments
from parties.models import EmailMode, Notification, NotificationPreference
from parties.notifications import mark_read, preference_set

PAGE_SIZE = 50


def _inbox(user):
    # A notification about a shipment the user can no longer see (a revoked CRO authorisation) drops out.
    return Notification.objects.filter(recipient=user).filter(
        Q(shipment__isnull=True) | Q(shipment__in=visible_shipments(user).values("pk"))
    )


@login_required
def inbox(request):
    page = Paginator(
        _inbox(request.user).only("pk", "subject", "body", "link", "kind", "created_at", "read_at"), PAGE_SIZE
    ).get_page(request.GET.get("page"))
    return render(request, "parties/inbox.html", {"page": page})


@login_required
@require_POST
def inbox_mark_read(request):
    if request.POST.get("all"):
        mark_read(user=request.user)
    else:
        ids = [int(pk) for pk in request.POST.getlist("ids") if pk.isdigit()]
        mark_read(user=request.user, notification_ids=ids)
    return redirect("parties:inbox")


class PreferenceForm(forms.Form):
    email_mode = forms.ChoiceField(choices=EmailMode.choices, widget=forms.RadioSelect, label="E-mail me")
    digest_hour = forms.IntegerField(
        min_value=0, max_value=23, label="Digest after (hour, your time zone)", required=False
    )


@login_required
def preferences(request):
    current = NotificationPreference.objects.filter(user=request.user).first()
    initial = {
        "email_mode": current.email_mode if current else EmailMode.IMMEDIATE,
        "digest_hour": current.digest_hour if current else 7,
    }
    form = PreferenceForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        preference_set(
            user=request.user,
            email_mode=form.cleaned_data["email_mode"],
            digest_hour=form.cleaned_data["digest_hour"],
        )
        messages.success(request, "Your notification preferences are saved.")
        return redirect("parties:preferences")
    return render(request, "parties/preferences.html", {"form": form})
