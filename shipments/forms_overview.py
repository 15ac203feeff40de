"""The filters of the dashboard and of the shipment list. Their choices are what the user may see: the trials
through the tenancy rule, the countries of the visible shipments."""

from django import forms

from compliance.choices import TemperatureClass
from shipments.choices import ShipmentStatus
from shipments.models import Trial


class TrialChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Trial) -> str:
        return f"{obj.protocol_number} · {obj.title}"


def _trial_field(user) -> TrialChoiceField:
    return TrialChoiceField(
        queryset=Trial.objects.for_user(user).order_by("protocol_number"),
        required=False,
        empty_label="All trials",
        label="Trial",
        error_messages={"invalid_choice": "That trial is not one of yours."},
    )


class DashboardFilterForm(forms.Form):
    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["trial"] = _trial_field(user)
        attrs = self.fields["trial"].widget.attrs
        attrs["class"] = "form-select form-select-sm trial-select"
        if self.is_bound and "trial" in self.errors:
            attrs["class"] += " is-invalid"
            attrs["aria-describedby"] = "trial-error"


class ShipmentListForm(forms.Form):
    q = forms.CharField(
        required=False,
        max_length=40,
        label="Reference",
        strip=True,
        widget=forms.TextInput(attrs={"type": "search", "placeholder": "e.g. SHP-2612", "autocomplete": "off"}),
    )
    status = forms.MultipleChoiceField(
        choices=ShipmentStatus.choices, required=False, widget=forms.CheckboxSelectMultiple
    )
    origin = forms.ChoiceField(required=False, label="Origin")
    destination = forms.ChoiceField(required=False, label="Destination")
    temperature = forms.ChoiceField(
        choices=[("", "Any temperature"), *TemperatureClass.choices], required=False, label="Temperature"
    )
    ship_from = forms.DateField(required=False, label="Ships from", widget=forms.DateInput(attrs={"type": "date"}))
    ship_to = forms.DateField(required=False, label="Ships until", widget=forms.DateInput(attrs={"type": "date"}))
    at_risk = forms.BooleanField(required=False, label="At risk only")

    # The field order of the rendered form; `trial` is added per user.
    field_order = ["q", "status", "trial", "origin", "destination", "temperature", "ship_from", "ship_to", "at_risk"]

    def __init__(self, *args, user, origins: list[tuple[str, str]], destinations: list[tuple[str, str]], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["trial"] = _trial_field(user)
        self.fields["origin"].choices = [("", "Any origin"), *origins]
        self.fields["destination"].choices = [("", "Any destination"), *destinations]
        self.order_fields(self.field_order)
        for name, field in self.fields.items():
            if name in ("status", "at_risk"):
                field.widget.attrs["class"] = "form-check-input"
            elif isinstance(field.widget, forms.Select):
                field.widget.attrs["class"] = "form-select form-select-sm"
            else:
                field.widget.attrs["class"] = "form-control form-control-sm"
        if self.is_bound:
            for name in self.errors:
                if name in self.fields and name not in ("status", "at_risk"):
                    self.fields[name].widget.attrs["class"] += " is-invalid"
                    self.fields[name].widget.attrs["aria-describedby"] = f"{name}-error"

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("ship_from"), cleaned.get("ship_to")
        if start and end and start > end:
            self.add_error("ship_to", "The end of the range is before its start.")
        return cleaned

    def valid_filters(self) -> dict:
        """The filters that are valid; an invalid one is shown with its error and left out, not the whole search."""
        self.is_valid()
        return {name: value for name, value in self.cleaned_data.items() if name not in self.errors}

    @property
    def active(self) -> bool:
        return any(self.valid_filters().values())
