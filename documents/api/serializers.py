"""What the documents API accepts (input serializers: only the fields a client may send, anything else refused) and
what it answers (output serializers: read-only)."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.reverse import reverse

from compliance.choices import TradeDirection
from documents.choices import ArtifactStatus, DocumentStatus, ReviewDecision
from documents.models import Document, DocumentVersion, DossierArtifact
from ior_platform.core.api.serializers import StrictInputSerializer, named_choice_field
from parties.choices import PartyRole

PENDING_REVIEW = "pending"
REVIEW_STATUSES = [(PENDING_REVIEW, "Awaiting review"), *ReviewDecision.choices]


class VersionUploadInputSerializer(StrictInputSerializer):
    # Empty files pass here so that the upload service, which checks every file the same way whatever its entry
    # point, gives the one message for them.
    file = serializers.FileField(
        allow_empty_file=True,
        help_text="The document: PDF, PNG, JPEG, DOCX or XLSX. Its type is read from its bytes, not its name.",
    )


class ReviewInputSerializer(StrictInputSerializer):
    decision = named_choice_field("ReviewDecisionEnum", ReviewDecision.choices)
    comment = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=4000,
        help_text="Why; required when rejecting, so the owing party knows what to fix.",
    )


class DossierRequestInputSerializer(StrictInputSerializer):
    """A rendering takes no parameters: it is always the shipment's dossier as stored when the worker starts."""


def person_name(user) -> str | None:
    if user is None:
        return None
    return user.get_full_name() or user.get_username()


class DocumentOwnerSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class DocumentVersionSerializer(serializers.ModelSerializer):
    filename = serializers.CharField(source="original_name", help_text="The uploader's file name, for display only.")
    content_type = serializers.CharField(help_text="Read from the file's bytes when it was uploaded.")
    sha256 = serializers.CharField(help_text="SHA-256 of the stored bytes; every download is checked against it.")
    uploaded_by = serializers.SerializerMethodField(help_text="The uploader's name.")
    review_status = serializers.SerializerMethodField(help_text="`pending` until a reviewer decides.")
    reviewed_by = serializers.SerializerMethodField(help_text="The reviewer's name.")
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = DocumentVersion
        fields = [
            "id",
            "document",
            "number",
            "filename",
            "size",
            "content_type",
            "sha256",
            "uploaded_at",
            "uploaded_by",
            "review_status",
            "reviewed_by",
            "reviewed_at",
            "review_comment",
            "download_url",
        ]
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.STR)
    def get_uploaded_by(self, version: DocumentVersion) -> str:
        return person_name(version.uploaded_by)

    @extend_schema_field(named_choice_field("VersionReviewStatusEnum", REVIEW_STATUSES))
    def get_review_status(self, version: DocumentVersion) -> str:
        return version.review_decision or PENDING_REVIEW

    def get_reviewed_by(self, version: DocumentVersion) -> str | None:
        return person_name(version.reviewed_by)

    @extend_schema_field(OpenApiTypes.URI)
    def get_download_url(self, version: DocumentVersion) -> str:
        return reverse("v1:document-versions-download", args=[version.pk], request=self.context.get("request"))


def current_version(document: Document) -> DocumentVersion | None:
    """The newest version: from the list views' prefetch of it alone, or else from all the prefetched versions."""
    newest = getattr(document, "current_versions", None)
    if newest is None:
        newest = document.versions.all()
    return max(newest, key=lambda version: version.number, default=None)


class DocumentSerializer(serializers.ModelSerializer):
    title = serializers.SerializerMethodField(help_text="The requirement's local name, or the document type's name.")
    document_type_label = serializers.CharField(source="get_document_type_display")
    side = named_choice_field("ChecklistSideEnum", TradeDirection.choices, help_text="Export or import side.")
    owed_by_role = named_choice_field("OwingRoleEnum", PartyRole.choices, help_text="The part that owes it.")
    status = named_choice_field("ChecklistStatusEnum", DocumentStatus.choices)
    owed_by = serializers.SerializerMethodField(help_text="The organization that owes the document, if assigned.")
    current_version = serializers.SerializerMethodField(help_text="The newest upload, the one that is reviewed.")
    url = serializers.SerializerMethodField()

    class Meta:
        model = Document
        fields = [
            "id",
            "shipment",
            "requirement",
            "title",
            "document_type",
            "document_type_label",
            "side",
            "owed_by_role",
            "owed_by",
            "due_date",
            "status",
            "valid_from",
            "valid_until",
            "legal_basis",
            "updated_at",
            "current_version",
            "url",
        ]
        read_only_fields = fields

    def get_title(self, document: Document) -> str:
        return document.title or document.get_document_type_display()

    @extend_schema_field(DocumentOwnerSerializer(allow_null=True))
    def get_owed_by(self, document: Document) -> dict | None:
        if document.owed_by is None:
            return None
        return {"id": document.owed_by_id, "name": document.owed_by.name}

    @extend_schema_field(DocumentVersionSerializer(allow_null=True))
    def get_current_version(self, document: Document) -> dict | None:
        version = current_version(document)
        return None if version is None else DocumentVersionSerializer(version, context=self.context).data

    @extend_schema_field(OpenApiTypes.URI)
    def get_url(self, document: Document) -> str:
        return reverse("v1:documents-detail", args=[document.pk], request=self.context.get("request"))


class DocumentDetailSerializer(DocumentSerializer):
    versions = serializers.SerializerMethodField(help_text="Every upload, newest first. None is ever deleted.")

    class Meta(DocumentSerializer.Meta):
        fields = [*DocumentSerializer.Meta.fields, "versions"]
        read_only_fields = fields

    @extend_schema_field(DocumentVersionSerializer(many=True))
    def get_versions(self, document: Document) -> list[dict]:
        versions = sorted(document.versions.all(), key=lambda version: version.number, reverse=True)
        return DocumentVersionSerializer(versions, many=True, context=self.context).data


class DossierSerializer(serializers.ModelSerializer):
    status = named_choice_field("DossierRenderStatusEnum", ArtifactStatus.choices)
    requested_by = serializers.SerializerMethodField(help_text="Who asked for it; null for an operator's rendering.")
    sha256 = serializers.CharField(help_text="SHA-256 of the PDF once ready; every download is checked against it.")
    manifest_sha256 = serializers.CharField(help_text="SHA-256 of the data the PDF shows, as signatures record it.")
    error = serializers.CharField(help_text="Why the rendering failed; empty otherwise.")
    url = serializers.SerializerMethodField()
    download_url = serializers.SerializerMethodField(help_text="Set once the status is `ready`.")

    class Meta:
        model = DossierArtifact
        fields = [
            "id",
            "shipment",
            "status",
            "progress",
            "requested_at",
            "requested_by",
            "rendered_at",
            "size",
            "pages",
            "sha256",
            "manifest_sha256",
            "signature_count",
            "error",
            "url",
            "download_url",
        ]
        read_only_fields = fields

    def get_requested_by(self, artifact: DossierArtifact) -> str | None:
        return person_name(artifact.requested_by)

    @extend_schema_field(OpenApiTypes.URI)
    def get_url(self, artifact: DossierArtifact) -> str:
        return reverse("v1:dossiers-detail", args=[artifact.pk], request=self.context.get("request"))

    @extend_schema_field(serializers.URLField(allow_null=True))
    def get_download_url(self, artifact: DossierArtifact) -> str | None:
        if artifact.status != ArtifactStatus.READY:
            return None
        return reverse("v1:dossiers-download", args=[artifact.pk], request=self.context.get("request"))
