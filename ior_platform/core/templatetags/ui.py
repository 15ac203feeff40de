"""Small pieces every page shows the same way: a moment in the reader's time zone with the zone named, and a
status as a coloured badge."""

from datetime import UTC, date, datetime

from django import template
from django.utils import timezone
from django.utils.html import format_html

register = template.Library()

# The tone of each status or decision, as Bootstrap's text-bg-* colour: one vocabulary for shipments, documents,
# reviews and dossiers. A status not listed is shown neutral.
TONES = {
    "draft": "secondary",
    "permit_collection": "info",
    "dossier_review": "primary",
    "approved": "success",
    "export_cleared": "success",
    "in_transit": "primary",
    "arrived": "info",
    "customs_clearance": "info",
    "customs_hold": "warning",
    "cleared": "success",
    "out_for_delivery": "primary",
    "delivered": "success",
    "returned": "secondary",
    "destroyed": "dark",
    "cancelled": "secondary",
    "requested": "warning",
    "uploaded": "info",
    "under_review": "primary",
    "rejected": "danger",
    "expired": "danger",
    "waived": "secondary",
    "pending": "secondary",
    "rendering": "info",
    "ready": "success",
    "failed": "danger",
    "overdue": "danger",
}


@register.filter
def when(value: datetime | None, style: str = "long") -> str:
    """An aware moment in the active (the user's) time zone, with the zone named: "4 Dec 2026 09:15 BRT
    (America/Sao_Paulo)"; style "short" leaves out the zone's full name."""
    if not value:
        return "—"
    if not isinstance(value, datetime):
        return value.strftime("%-d %b %Y") if isinstance(value, date) else str(value)
    if timezone.is_naive(value):
        value = timezone.make_aware(value, UTC)  # stored times are UTC; a naive one is taken as such
    zone = timezone.get_current_timezone()
    local = timezone.localtime(value, zone)
    text = f"{local:%-d %b %Y %H:%M} {local.tzname()}"
    return text if style == "short" or local.tzname() == str(zone) else f"{text} ({zone})"


@register.simple_tag
def status_badge(status: str, label: str = "") -> str:
    tone = TONES.get(str(status), "secondary")
    html = '<span class="badge text-bg-{} status-badge" data-status="{}">{}</span>'
    return format_html(html, tone, status, label or status)
