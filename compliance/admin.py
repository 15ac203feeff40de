from django.contrib import admin

from compliance.models import CountryProfile, DocumentRequirement
from ior_platform.core.admin import AuditedAdmin


class DocumentRequirementInline(admin.TabularInline):
    model = DocumentRequirement
    extra = 0
    fields = (
        "direction",
        "product_category",
        "temperature_class",
        "document_type",
        "provided_by",
        "lead_time_days",
        "validity_days",
        "source",
        "version",
        "is_active",
    )
    show_change_link = True


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
    search_fields = ("country__country", "document_type", "legal_basis", "source", "notes")
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
                    "provided_by",
                )
            },
        ),
        ("Timing", {"fields": ("lead_time_days", "validity_days")}),
        ("Provenance", {"fields": ("legal_basis", "source", "verified_on", "version", "is_active", "notes")}),
    )
