from django.contrib import admin

from documents.models import Document, DocumentVersion
from ior_platform.core.admin import AuditedAdmin, ReadOnlyAdminMixin

VERSION_FIELDS = (
    "number",
    "original_name",
    "stored_as",
    "size",
    "content_type",
    "sha256",
    "uploaded_by",
    "uploaded_at",
    "review_decision",
    "reviewed_by",
    "reviewed_at",
    "review_comment",
)


class StoredFileMixin:
    @admin.display(description="stored as")
    def stored_as(self, obj):
        # Uploads are not served from MEDIA_URL, so a link would lead nowhere; the name identifies the file.
        return obj.file.name


class DocumentVersionInline(StoredFileMixin, ReadOnlyAdminMixin, admin.TabularInline):
    """Uploads are immutable records: reviews happen through document_review, uploads through
    document_version_upload."""

    model = DocumentVersion
    extra = 0
    fields = VERSION_FIELDS
    readonly_fields = VERSION_FIELDS

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("uploaded_by", "reviewed_by")


@admin.register(Document)
class DocumentAdmin(AuditedAdmin):
    list_display = ("shipment", "document_type", "side", "owed_by_role", "owed_by", "due_date", "status")
    list_filter = ("status", "side", "document_type", "owed_by_role")
    search_fields = ("shipment__reference", "owed_by__name", "legal_basis")
    list_select_related = ("shipment", "owed_by")
    autocomplete_fields = ("shipment", "requirement", "owed_by")
    date_hierarchy = "due_date"
    inlines = (DocumentVersionInline,)
    # The status follows uploads and reviews (documents/services.py), each of which is audited there.
    readonly_fields = ("status", "created_at", "updated_at")
    # What the requirement said when the checklist was drawn up; the shipment's record, not to be rewritten.
    snapshot_fields = (
        "shipment",
        "requirement",
        "side",
        "document_type",
        "lead_time_days",
        "validity_days",
        "legal_basis",
        "source",
    )

    def get_readonly_fields(self, request, obj=None):
        if obj is not None:
            return (*self.readonly_fields, *self.snapshot_fields)
        return self.readonly_fields

    # Regulated record: the checklist entry and its uploads stay with the shipment.
    def has_delete_permission(self, request, obj=None):
        return False

    def audit_scope(self, obj) -> dict:
        return {"shipment": obj.shipment}


@admin.register(DocumentVersion)
class DocumentVersionAdmin(StoredFileMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("document", "number", "original_name", "size", "uploaded_by", "uploaded_at", "review_decision")
    list_filter = ("review_decision", "content_type")
    search_fields = ("original_name", "sha256", "document__shipment__reference")
    list_select_related = ("document__shipment", "uploaded_by")
    date_hierarchy = "uploaded_at"
    fields = ("document", *VERSION_FIELDS)
    readonly_fields = fields
