from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html
from django.utils.http import urlencode

from ior_platform.core.admin import AuditedAdmin, CountryListFilter, ReadOnlyAdminMixin
from ior_platform.core.models import AuditEvent
from shipments.choices import ShipmentStatus
from shipments.models import Shipment, ShipmentItem, Site, TrackingEvent, Trial


class SiteInline(admin.TabularInline):
    model = Site
    extra = 0
    fields = ("site_number", "name", "organization", "principal_investigator", "country", "address")
    autocomplete_fields = ("organization",)
    show_change_link = True


@admin.register(Trial)
class TrialAdmin(AuditedAdmin):
    list_display = ("protocol_number", "title", "sponsor", "phase", "therapeutic_area", "is_active")
    list_filter = ("phase", "is_active")
    search_fields = ("protocol_number", "title", "eu_ct_number", "sponsor__name")
    list_select_related = ("sponsor",)
    autocomplete_fields = ("sponsor",)
    readonly_fields = ("created_at",)
    inlines = (SiteInline,)

    def audit_scope(self, obj) -> dict:
        return {"organization": obj.sponsor}


@admin.register(Site)
class SiteAdmin(AuditedAdmin):
    list_display = ("site_number", "name", "trial", "organization", "country")
    list_filter = (("country", CountryListFilter),)
    search_fields = ("site_number", "name", "principal_investigator", "trial__protocol_number", "organization__name")
    list_select_related = ("trial", "organization")
    autocomplete_fields = ("trial", "organization")

    def audit_scope(self, obj) -> dict:
        return {"organization": obj.trial.sponsor}


class ShipmentItemInline(admin.TabularInline):
    model = ShipmentItem
    extra = 0
    fields = (
        "position",
        "product_name",
        "category",
        "hs_code",
        "quantity",
        "unit",
        "lot_number",
        "expiry_date",
        "unit_value",
        "un_number",
    )

    # Goods declared in a submitted dossier may be corrected (and audited), never made to disappear.
    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and (obj is None or obj.status == ShipmentStatus.DRAFT)


@admin.register(Shipment)
class ShipmentAdmin(AuditedAdmin):
    list_display = ("reference", "trial", "status", "route", "sponsor", "ior", "planned_ship_date")
    list_filter = (
        "status",
        "temperature_class",
        "route_kind",
        ("origin_country", CountryListFilter),
        ("destination_country", CountryListFilter),
    )
    search_fields = ("reference", "airway_bill", "tracking_number", "customs_entry_number", "trial__protocol_number")
    list_select_related = ("trial", "sponsor", "ior")
    date_hierarchy = "planned_ship_date"
    autocomplete_fields = ("trial", "site", "return_of", "sponsor", "ior", "eor", "consignee", "broker", "courier")
    # The status is a protected FSM field: it moves only through the transitions in shipments/services.py,
    # which check guards and permissions and write the audit trail.
    readonly_fields = (
        "status",
        "route_kind",
        "created_by",
        "submitted_at",
        "dossier_submitted_by",
        "status_changed_at",
        "created_at",
        "updated_at",
        "audit_trail",
    )
    audit_derived_fields = ("route_kind",)
    inlines = (ShipmentItemInline,)
    fieldsets = (
        (None, {"fields": ("reference", "trial", "site", "return_of")}),
        (
            "Lifecycle",
            {
                "fields": (
                    "status",
                    "status_changed_at",
                    "submitted_at",
                    "dossier_submitted_by",
                    "created_by",
                    "created_at",
                    "updated_at",
                    "audit_trail",
                )
            },
        ),
        ("Parties", {"fields": ("sponsor", "ior", "eor", "consignee", "broker", "courier")}),
        (
            "Route",
            {
                "fields": (
                    "origin_country",
                    "origin_address",
                    "destination_country",
                    "destination_address",
                    "route_kind",
                )
            },
        ),
        (
            "Goods",
            {
                "fields": (
                    "temperature_class",
                    "planned_ship_date",
                    "required_at_site_date",
                    "incoterm",
                    ("declared_value", "currency"),
                )
            },
        ),
        (
            "Transport and customs",
            {
                "fields": (
                    "airway_bill",
                    "tracking_number",
                    "customs_entry_number",
                    "duties_estimated",
                    "duties_actual",
                    "duties_payer",
                    "duty_exemption_applied",
                )
            },
        ),
    )

    def get_readonly_fields(self, request, obj=None):
        # Documents, the dossier and e-mails quote the reference: once issued it stays.
        if obj is not None:
            return (*self.readonly_fields, "reference")
        return self.readonly_fields

    # Regulated record: a shipment that should not go ahead is cancelled through its lifecycle.
    def has_delete_permission(self, request, obj=None):
        return False

    def audit_scope(self, obj) -> dict:
        return {"shipment": obj}

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)

    @admin.display(description="route")
    def route(self, obj):
        return f"{obj.origin_country} → {obj.destination_country}"

    @admin.display(description="audit trail")
    def audit_trail(self, obj):
        if obj.pk is None:
            return "-"
        url = reverse("admin:core_auditevent_changelist")
        count = AuditEvent.objects.filter(shipment=obj).count()
        return format_html('<a href="{}?{}">{} events</a>', url, urlencode({"shipment__id__exact": obj.pk}), count)


@admin.register(TrackingEvent)
class TrackingEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Append-only: a wrong event is corrected by a later one, through the page or the API."""

    list_display = ("occurred_at", "shipment", "code", "location", "country", "recorded_by", "via")
    list_filter = ("code", "via")
    search_fields = ("shipment__reference", "location", "description", "external_id")
    list_select_related = ("shipment", "recorded_by")
    date_hierarchy = "occurred_at"
    ordering = ("-occurred_at", "-id")
    fields = (
        "shipment",
        "occurred_at",
        "code",
        "location",
        "country",
        "description",
        "external_id",
        "recorded_by",
        "recorded_at",
        "via",
    )
    readonly_fields = fields
