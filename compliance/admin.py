from django.contrib import admin, messages

from compliance.models import CountryProfile, DocumentRequirement, Permit, PermitDrawdown, PermitLine
from compliance.services import EDITABLE, requirement_revise
from ior_platform.core.admin import AuditedAdmin, ReadOnlyAdminMixin


class DocumentRequirementInline(admin.TabularInline):
    model = DocumentRequirement
    extra = 0
    fields = (
        "direction",
        "product_category",
        "temperature_class",
        "document_type",
        "title",
        "provided_by",
        "lead_time_days",
        "validity_days",
        "source",
        "version",
        "is_active",
    )
    readonly_fields = fields
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        # Requirements are versioned: they are added and revised on their own page, never edited in place here.
        return False


@admin.register(CountryProfile)
class CountryProfileAdmin(AuditedAdmin):
    list_display = (
        "country",
        "country_name",
        "regulatory_authority_acronym",
        "customs_authority_acronym",
        "local_ior_mandatory",
        "typical_clearance_days",
        "last_verified_on",
    )
    list_filter = ("local_ior_mandatory", "imp_duty_exempt", "imp_vat_exempt")
    search_fields = (
        "country",
        "regulatory_authority",
        "regulatory_authority_acronym",
        "customs_authority",
        "customs_authority_acronym",
        "clinical_import_authorisation",
    )
    readonly_fields = ("updated_at",)
    inlines = (DocumentRequirementInline,)
    fieldsets = (
        (None, {"fields": ("country", "last_verified_on", "updated_at")}),
        (
            "Authorities",
            {
                "fields": (
                    "regulatory_authority",
                    "regulatory_authority_acronym",
                    "regulatory_authority_url",
                    "customs_authority",
                    "customs_authority_acronym",
                    "customs_authority_url",
                    "clinical_import_authorisation",
                    "local_ior_mandatory",
                )
            },
        ),
        (
            "Duties, taxes and delays",
            {
                "fields": (
                    "imp_duty_exempt",
                    "imp_vat_exempt",
                    "standard_vat_rate",
                    "standard_duty_rate",
                    "typical_clearance_days",
                    "cold_chain_notes",
                )
            },
        ),
        ("Sources", {"fields": ("sources",)}),
    )


@admin.register(DocumentRequirement)
class DocumentRequirementAdmin(AuditedAdmin):
    list_display = (
        "country",
        "direction",
        "product_category",
        "temperature_class",
        "document_type",
        "provided_by",
        "lead_time_days",
        "validity_days",
        "version",
        "is_active",
    )
    list_filter = ("country", "direction", "product_category", "document_type", "provided_by", "is_active")
    search_fields = ("country__country", "document_type", "title", "legal_basis", "source", "notes")
    readonly_fields = ("version",)

    def get_readonly_fields(self, request, obj=None):
        # What identifies a requirement cannot change; a different document is a different requirement.
        identity = ("country", "direction", "product_category", "temperature_class", "document_type")
        return (*self.readonly_fields, *identity) if obj else self.readonly_fields

    def save_model(self, request, obj, form, change):
        if not change:
            super().save_model(request, obj, form, change)
            return
        changes = {name: form.cleaned_data[name] for name in form.changed_data if name in EDITABLE}
        if changes:
            revised = requirement_revise(
                actor=request.user, requirement=DocumentRequirement.objects.get(pk=obj.pk), **changes
            )
            messages.info(request, f"Saved as version {revised.version}; version {obj.version} is kept, inactive.")
            obj.refresh_from_db()

    list_select_related = ("country",)
    autocomplete_fields = ("country",)
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "country",
                    "direction",
                    "product_category",
                    "temperature_class",
                    ("min_declared_value", "value_currency"),
                    "document_type",
                    "title",
                    "provided_by",
                )
            },
        ),
        ("Timing", {"fields": ("lead_time_days", "validity_days")}),
        ("Provenance", {"fields": ("legal_basis", "source", "verified_on", "version", "is_active", "notes")}),
    )


class PermitLineInline(admin.TabularInline):
    model = PermitLine
    extra = 1
    fields = ("product_name", "authorised_quantity", "unit")


@admin.register(Permit)
class PermitAdmin(AuditedAdmin):
    list_display = ("number", "permit_type", "country", "direction", "trial", "holder", "valid_from", "valid_until")
    list_filter = ("permit_type", "country", "direction")
    search_fields = ("number", "authority", "trial__protocol_number", "holder__name")
    list_select_related = ("trial", "holder")
    autocomplete_fields = ("holder", "trial")
    inlines = (PermitLineInline,)

    def audit_scope(self, obj) -> dict:
        return {"organization": obj.holder}


@admin.register(PermitDrawdown)
class PermitDrawdownAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("shipment", "line", "quantity", "drawn_at", "released_at")
    list_select_related = ("shipment", "line__permit")
    search_fields = ("shipment__reference", "line__permit__number", "line__product_name")
