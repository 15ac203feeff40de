"""Query parameters of the shipment, trial and site lists."""

import django_filters
from django import forms
from django.db.models import Q
from rest_framework.filters import OrderingFilter

from ior_platform.core.tenancy import PARTY_FIELDS
from shipments.choices import ShipmentStatus
from shipments.models import Shipment, Site, Trial


class StableOrderingFilter(OrderingFilter):
    """Orders by the client's fields, then by id, so rows with equal values keep one order from page to page."""

    def get_ordering(self, request, queryset, view):
        ordering = super().get_ordering(request, queryset, view)
        if ordering and not any(term.lstrip("-") in ("id", "pk") for term in ordering):
            ordering = [*ordering, "-id" if ordering[0].startswith("-") else "id"]
        return ordering


class IdFilter(django_filters.NumberFilter):
    """An object's id: a whole number within the database's range, so an absurd one is a 400, not a server error."""

    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", 2**63 - 1)
        super().__init__(*args, **kwargs)


class UpperCaseCharFilter(django_filters.CharFilter):
    def filter(self, qs, value):
        return super().filter(qs, value.strip().upper() if value else value)


class ShipmentFilter(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(
        choices=ShipmentStatus.choices, help_text="One or more statuses: `?status=draft&status=approved`."
    )
    trial = IdFilter(field_name="trial_id", help_text="The trial's id.")
    origin = UpperCaseCharFilter(field_name="origin_country", help_text="ISO 3166-1 alpha-2 country of origin.")
    destination = UpperCaseCharFilter(
        field_name="destination_country", help_text="ISO 3166-1 alpha-2 country of destination."
    )
    party = IdFilter(
        method="filter_party",
        help_text="An organization's id in any role: sponsor, IOR, EOR, consignee, broker, courier.",
    )
    ship_date = django_filters.DateFromToRangeFilter(
        field_name="planned_ship_date",
        help_text="Planned ship date range, inclusive: `ship_date_after=2025-01-01&ship_date_before=2025-03-31`.",
    )
    updated_since = django_filters.IsoDateTimeFilter(
        field_name="updated_at",
        lookup_expr="gte",
        help_text="Incremental sync: shipments changed at or after this ISO-8601 time, e.g. 2025-01-31T09:00:00Z.",
    )

    class Meta:
        model = Shipment
        fields = ["status", "trial", "origin", "destination", "party", "ship_date", "updated_since"]

    def filter_party(self, queryset, name, value):
        if value is None:
            return queryset
        in_any_role = Q()
        for field in PARTY_FIELDS:
            in_any_role |= Q(**{f"{field}_id": value})
        return queryset.filter(in_any_role)


class TrialFilter(django_filters.FilterSet):
    sponsor = IdFilter(field_name="sponsor_id", help_text="The sponsor organization's id.")

    class Meta:
        model = Trial
        fields = ["sponsor", "is_active"]


class SiteFilter(django_filters.FilterSet):
    trial = IdFilter(field_name="trial_id", help_text="The trial's id.")
    country = UpperCaseCharFilter(field_name="country", help_text="ISO 3166-1 alpha-2 country of the site.")
    organization = IdFilter(field_name="organization_id", help_text="The site organization's id.")

    class Meta:
        model = Site
        fields = ["trial", "country", "organization"]
