"""The shipment page's "Add tracking event" form. It checks only what the page can say next to a field; who may
record, and when, tracking_event_record decides (its refusals land on the fields too)."""

from django import forms

from ior_platform.core.codes import country_choices
from shipments.choices import TrackingEventCode
from shipments.models import TrackingEvent


class TrackingEventForm(forms.Form):
    occurred_at = forms.DateTimeField(
        label="When",
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text="In your time zone.",
        error_messages={"required": "Give the date and time of the event.", "invalid": "Enter a date and time."},
    )
    code = forms.ChoiceField(label="What happened", choices=TrackingEventCode.choices)
    location = forms.CharField(
        label="Where",
        max_length=TrackingEvent.LOCATION_MAX_LENGTH,
        error_messages={"required": 'Say where, e.g. "JFK, New York".'},
    )
    country = forms.ChoiceField(label="Country", required=False, choices=lambda: [("", "—"), *country_choices()])
    description = forms.CharField(
        label="Details",
        required=False,
        max_length=TrackingEvent.DESCRIPTION_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, auto_id="tracking-event-%s", **kwargs)
        self.fields["location"].widget.attrs.update({"placeholder": "JFK, New York", "autocomplete": "off"})

    def __getitem__(self, name):
        bound = super().__getitem__(name)
        attrs = bound.field.widget.attrs
        base = "form-select form-select-sm" if isinstance(bound.field.widget, forms.Select) else "form-control"
        if not isinstance(bound.field.widget, forms.Select):
            base += " form-control-sm"
        if self.is_bound and name in self.errors:
            attrs.update(
                {"class": f"{base} is-invalid", "aria-invalid": "true", "aria-describedby": f"{bound.auto_id}-error"}
            )
        else:
            attrs["class"] = base
            attrs.pop("aria-invalid", None)
            attrs.pop("aria-describedby", None)
        return bound
