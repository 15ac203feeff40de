"""The documents API: a shipment's checklist, uploading, downloading and reviewing versions, and its dossier PDF.

Collections hang under the shipment they belong to (`/shipments/{shipment_pk}/documents/`,
`/shipments/{shipment_pk}/dossiers/`); each object is then addressed by its own id (`/documents/{id}/`,
`/document-versions/{id}/`, `/dossiers/{id}/`), which every response carries as `url` or `download_url`.
Every lookup goes through the tenancy rule: another organization's shipment, document, version or dossier is a 404,
exactly like one that does not exist. Who may upload or review is decided by the services."""

import re

from django.db.models import Exists, OuterRef, Prefetch
from django.http import FileResponse, Http404, HttpResponse
from django.utils.http import content_disposition_header
from django_filters import rest_framework as filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.filters import OrderingFilter
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.reverse import reverse

from documents import uploads
from documents.api.serializers import (
    DocumentDetailSerializer,
    DocumentSerializer,
    DocumentVersionSerializer,
    DossierRequestInputSerializer,
    DossierSerializer,
    ReviewInputSerializer,
    VersionUploadInputSerializer,
)
from documents.choices import ArtifactStatus, DocumentStatus
from documents.dossier import dossier_download, dossier_request
from documents.models import Document, DocumentVersion, DossierArtifact
from documents.services import document_review, document_version_open, document_version_upload
from documents.views import DOWNLOAD_HEADERS
from ior_platform.core.api.errors import PreconditionFailed
from ior_platform.core.api.schema import ErrorSerializer
from ior_platform.core.api.viewsets import TenantViewSet, if_match_holds
from ior_platform.core.errors import ConflictError
from shipments.api import shipment_or_404

DOCUMENTS_TAG = "documents"
DOSSIERS_TAG = "dossiers"

SHIPMENT_PK = OpenApiParameter(
    "shipment_pk", OpenApiTypes.INT, OpenApiParameter.PATH, description="The shipment's id (`id` in /shipments/)."
)
VERSION_MEDIA_TYPES = (uploads.PDF, uploads.PNG, uploads.JPEG, uploads.DOCX, uploads.XLSX)


def _people(queryset):
    return queryset.select_related("uploaded_by", "reviewed_by")


def _newest_version_only() -> Prefetch:
    # One row per document however many versions it has: a list page costs the same whatever the history.
    newer = DocumentVersion.objects.filter(document=OuterRef("document"), number__gt=OuterRef("number"))
    return Prefetch(
        "versions", queryset=_people(DocumentVersion.objects.filter(~Exists(newer))), to_attr="current_versions"
    )


def _document_with_history(user, pk: int) -> Document:
    return (
        Document.objects.for_user(user)
        .select_related("owed_by")
        .prefetch_related(Prefetch("versions", queryset=_people(DocumentVersion.objects.all())))
        .get(pk=pk)
    )


class DownloadsAnswerErrorsInJson:
    """A client asking for `Accept: application/pdf` gets the file; its errors (404, 409) still come as JSON rather
    than a 406 for the error's format."""

    download_actions = frozenset({"download"})

    def perform_content_negotiation(self, request, force=False):
        return super().perform_content_negotiation(request, force=force or self.action in self.download_actions)


def _error(description: str, example: dict) -> OpenApiResponse:
    return OpenApiResponse(
        ErrorSerializer, description, [OpenApiExample(example["detail"][:40], value=example, response_only=True)]
    )


VERSION_EXAMPLE = {
    "id": 812,
    "document": 311,
    "number": 2,
    "filename": "LI-26-0001 ANVISA consent.pdf",
    "size": 184233,
    "content_type": "application/pdf",
    "sha256": "9f2c4d0f0c8e8a3b7a1d5e6f4b3c2a1908f7e6d5c4b3a29180706f5e4d3c2b1a",
    "uploaded_at": "2026-03-02T14:05:31Z",
    "uploaded_by": "Ivan Editor",
    "review_status": "pending",
    "reviewed_by": None,
    "reviewed_at": None,
    "review_comment": "",
    "download_url": "https://ior.example.com/api/v1/document-versions/812/download/",
}
DOCUMENT_EXAMPLE = {
    "id": 311,
    "shipment": 1204,
    "requirement": 17,
    "title": "Licença de importação (LI)",
    "document_type": "import_permit",
    "document_type_label": "Import permit / licence",
    "side": "import",
    "owed_by_role": "ior",
    "owed_by": {"id": 9, "name": "Brasil IOR Ltda"},
    "due_date": "2026-03-10",
    "status": "uploaded",
    "valid_from": None,
    "valid_until": None,
    "legal_basis": "RDC 81/2008",
    "updated_at": "2026-03-02T14:05:31Z",
    "current_version": VERSION_EXAMPLE,
    "url": "https://ior.example.com/api/v1/documents/311/",
}
REVIEWED_VERSION_EXAMPLE = {
    **VERSION_EXAMPLE,
    "review_status": "rejected",
    "reviewed_by": "Rita Reviewer",
    "reviewed_at": "2026-03-03T09:12:00Z",
    "review_comment": "The consent names the wrong site; ask ANVISA for an amendment.",
}
DOSSIER_EXAMPLE = {
    "id": 57,
    "shipment": 1204,
    "status": "ready",
    "progress": 100,
    "requested_at": "2026-03-04T10:00:02Z",
    "requested_by": "Alice Editor",
    "rendered_at": "2026-03-04T10:00:09Z",
    "size": 412877,
    "pages": 6,
    "sha256": "3b1f0c7e2d9a8b6c5f4e3d2c1b0a99887766554433221100ffeeddccbbaa9988",
    "manifest_sha256": "aa01bb02cc03dd04ee05ff06a7b8c9d0e1f2a3b4c5d6e7f8091a2b3c4d5e6f70",
    "signature_count": 1,
    "error": "",
    "url": "https://ior.example.com/api/v1/dossiers/57/",
    "download_url": "https://ior.example.com/api/v1/dossiers/57/download/",
}


class DocumentFilter(filters.FilterSet):
    status = filters.MultipleChoiceFilter(
        choices=DocumentStatus.choices, help_text="Repeat to match several: `?status=requested&status=rejected`."
    )

    class Meta:
        model = Document
        fields = ["status", "side", "document_type", "owed_by_role"]


@extend_schema_view(
    list=extend_schema(
        summary="List a shipment's checklist documents",
        description="Each document the shipment's route requires: who owes it, by when, its status and its newest "
        "version. The checklist is created when the shipment is submitted; a draft has none. "
        "404 when the shipment does not exist or is not one you may see.",
        tags=[DOCUMENTS_TAG],
        parameters=[SHIPMENT_PK],
        examples=[OpenApiExample("A checklist page", value=[DOCUMENT_EXAMPLE], response_only=True)],
    )
)
class ShipmentDocumentViewSet(mixins.ListModelMixin, TenantViewSet):
    queryset = Document.objects.all()
    serializer_class = DocumentSerializer
    filter_backends = [filters.DjangoFilterBackend, OrderingFilter]
    filterset_class = DocumentFilter
    ordering_fields = ["id", "due_date"]
    ordering = "id"

    def refine_queryset(self, queryset):
        return (
            queryset.filter(shipment_id=self.kwargs["shipment_pk"])
            .select_related("owed_by")
            .prefetch_related(_newest_version_only())
        )

    def list(self, request, *args, **kwargs):
        # An unknown or invisible shipment is a 404, not an empty checklist that would confirm nothing.
        shipment_or_404(request.user, kwargs["shipment_pk"])
        return super().list(request, *args, **kwargs)


@extend_schema_view(
    retrieve=extend_schema(
        summary="Retrieve a checklist document with its version history",
        description="The `ETag` header is the document's version: send it as `If-Match` when uploading or "
        "reviewing, to act only on the document as you read it.",
        tags=[DOCUMENTS_TAG],
        examples=[
            OpenApiExample(
                "A document with two versions",
                value={**DOCUMENT_EXAMPLE, "versions": [VERSION_EXAMPLE, {**REVIEWED_VERSION_EXAMPLE, "id": 790}]},
                response_only=True,
            )
        ],
    )
)
class DocumentViewSet(mixins.RetrieveModelMixin, TenantViewSet):
    queryset = Document.objects.all()
    serializer_class = DocumentDetailSerializer

    def refine_queryset(self, queryset):
        queryset = queryset.select_related("owed_by", "shipment")
        if self.action == "retrieve":
            queryset = queryset.prefetch_related(Prefetch("versions", queryset=_people(DocumentVersion.objects.all())))
        return queryset

    def retrieve(self, request, *args, **kwargs):
        document = self.get_object()
        return self.set_etag(Response(self.get_serializer(document).data), document)

    @extend_schema(
        summary="Upload a new version of a document",
        description="A `multipart/form-data` POST with the file in the part `file`. The file's type is read from its "
        "bytes (PDF, PNG, JPEG, DOCX or XLSX; damaged, password-protected or macro-enabled files are refused), its "
        "size is capped, and its SHA-256 is recorded. A new version never replaces an old one; it resets the "
        "document to `uploaded` for review. Only the party that owes the document (or the importer of record) "
        "may upload, and only while the shipment collects permits or is in dossier review.",
        tags=[DOCUMENTS_TAG],
        request={"multipart/form-data": VersionUploadInputSerializer},
        responses={
            201: OpenApiResponse(
                DocumentVersionSerializer,
                "The stored version; `Location` is its URL.",
                [OpenApiExample("Uploaded", value={**VERSION_EXAMPLE, "number": 1}, response_only=True)],
            ),
            400: _error(
                "The file was refused: see `errors.file`.",
                {"detail": "Invalid input.", "errors": {"file": ["“scan.pdf” is not a readable PDF: it is damaged."]}},
            ),
            403: _error(
                "A read-only key, or your organization does not owe this document.",
                {
                    "detail": "only the party that owes this document, or the importer of record, may upload it",
                    "reasons": ["only the party that owes this document, or the importer of record, may upload it"],
                },
            ),
            409: _error(
                "The shipment's documents are closed, or the Idempotency-Key was used for another file.",
                {
                    "detail": "documents can be uploaded only during permit collection or dossier review; "
                    "this shipment is approved",
                    "reasons": [
                        "documents can be uploaded only during permit collection or dossier review; "
                        "this shipment is approved"
                    ],
                },
            ),
            415: _error("The body is not multipart/form-data.", {"detail": 'Unsupported media type "x" in request.'}),
        },
    )
    @action(detail=True, methods=["post"], url_path="versions", parser_classes=[MultiPartParser, FormParser])
    def upload(self, request, pk=None):
        document = self.get_object()
        if not if_match_holds(request, document):
            raise PreconditionFailed()
        upload = VersionUploadInputSerializer(data=request.data)
        upload.is_valid(raise_exception=True)
        version = document_version_upload(
            actor=request.user, document=document, uploaded_file=upload.validated_data["file"]
        )
        location = reverse("v1:document-versions-detail", args=[version.pk], request=request)
        body = DocumentVersionSerializer(version, context=self.get_serializer_context()).data
        return Response(body, status=status.HTTP_201_CREATED, headers={"Location": location})


@extend_schema_view(
    retrieve=extend_schema(
        summary="Retrieve one version of a document",
        tags=[DOCUMENTS_TAG],
        examples=[OpenApiExample("A reviewed version", value=REVIEWED_VERSION_EXAMPLE, response_only=True)],
    )
)
class DocumentVersionViewSet(DownloadsAnswerErrorsInJson, mixins.RetrieveModelMixin, TenantViewSet):
    queryset = DocumentVersion.objects.all()
    serializer_class = DocumentVersionSerializer

    def refine_queryset(self, queryset):
        return queryset.select_related("uploaded_by", "reviewed_by", "document__shipment")

    @extend_schema(
        summary="Download a version's file",
        description="The stored bytes, exactly as uploaded, as an attachment with the content type read from them at "
        "upload. They are checked against the recorded size and SHA-256 first: a file that no longer matches is "
        "withheld with a 409 and the failure is recorded in the shipment's audit trail.",
        tags=[DOCUMENTS_TAG],
        responses={
            (200, *VERSION_MEDIA_TYPES): OpenApiResponse(
                OpenApiTypes.BINARY,
                "The file. `Content-Disposition: attachment; filename=...` carries the uploader's file name with "
                "the extension of what the file really is.",
            ),
            409: _error(
                "The stored file no longer matches what was uploaded; it is withheld.",
                {
                    "detail": "version 2 of Import permit / licence (import) does not match what was uploaded: "
                    "the stored file's SHA-256 differs from the one recorded at upload. It is withheld and the "
                    "failure has been recorded",
                    "reasons": ["version 2 of Import permit / licence (import) does not match what was uploaded"],
                },
            ),
        },
    )
    @action(detail=True, methods=["get"])
    def download(self, request, pk=None):
        version = self.get_object()
        file, content_type, filename = document_version_open(user=request.user, version=version)
        response = FileResponse(file, as_attachment=True, filename=filename, content_type=content_type)
        for header, value in DOWNLOAD_HEADERS.items():
            response[header] = value
        return response

    @extend_schema(
        summary="Approve or reject a version",
        description="An importer-of-record reviewer decides on the newest version of a document; a rejection needs "
        "a `comment` saying what to fix. Answers the document with its new status; its `ETag` is the document's. "
        "`If-Match` takes the document's ETag (from GET /documents/{id}/).",
        tags=[DOCUMENTS_TAG],
        request=ReviewInputSerializer,
        responses={
            200: DocumentDetailSerializer,
            400: _error(
                "No decision, or a rejection without a comment.",
                {
                    "detail": "Invalid input.",
                    "errors": {"comment": ["Say why the document is rejected, so the owing party can fix it."]},
                },
            ),
            403: _error(
                "A read-only key, or you are not a reviewer of the shipment's importer of record.",
                {
                    "detail": "only reviewers of the shipment's importer of record may review documents of this "
                    "shipment",
                    "reasons": [
                        "only reviewers of the shipment's importer of record may review documents of this shipment"
                    ],
                },
            ),
            409: _error(
                "Not reviewable: already reviewed, superseded by a newer version, or the documents are closed.",
                {
                    "detail": "this version was already approved",
                    "reasons": ["this version was already approved"],
                },
            ),
        },
        examples=[
            OpenApiExample("Approve", value={"decision": "approved"}, request_only=True),
            OpenApiExample(
                "Reject",
                value={"decision": "rejected", "comment": "The consent names the wrong site."},
                request_only=True,
            ),
            OpenApiExample(
                "The rejected document",
                value={
                    **DOCUMENT_EXAMPLE,
                    "status": "rejected",
                    "current_version": REVIEWED_VERSION_EXAMPLE,
                    "versions": [REVIEWED_VERSION_EXAMPLE],
                },
                response_only=True,
            ),
        ],
    )
    @action(detail=True, methods=["post"])
    def review(self, request, pk=None):
        version = self.get_object()
        if not if_match_holds(request, version.document):
            raise PreconditionFailed()
        review = ReviewInputSerializer(data=request.data)
        review.is_valid(raise_exception=True)
        document_review(actor=request.user, version=version, **review.validated_data)
        document = _document_with_history(request.user, version.document_id)
        body = DocumentDetailSerializer(document, context=self.get_serializer_context()).data
        return self.set_etag(Response(body), document)


@extend_schema_view(
    list=extend_schema(
        summary="List a shipment's dossier renderings",
        description="Newest first. Each rendering is kept: a ready PDF is never re-rendered in place.",
        tags=[DOSSIERS_TAG],
        parameters=[SHIPMENT_PK],
        examples=[OpenApiExample("Renderings", value=[DOSSIER_EXAMPLE], response_only=True)],
    ),
    create=extend_schema(
        summary="Request a rendering of the shipment's dossier",
        description="Queues a new PDF of the dossier (cover, parties, items, duties, checklist with each document's "
        "status and hash, audit trail and signatures) and answers 202 at once; follow `url` (also in `Location`) "
        "until `status` is `ready` or `failed`. The body is empty. `If-Match` takes the shipment's ETag, to render "
        "only the shipment as you read it.",
        tags=[DOSSIERS_TAG],
        parameters=[SHIPMENT_PK],
        request=DossierRequestInputSerializer,
        responses={
            202: OpenApiResponse(
                DossierSerializer,
                "Queued; `Location` is the rendering's URL.",
                [
                    OpenApiExample(
                        "Queued",
                        value={
                            **DOSSIER_EXAMPLE,
                            "status": "pending",
                            "progress": 0,
                            "rendered_at": None,
                            "size": None,
                            "pages": None,
                            "sha256": "",
                            "manifest_sha256": "",
                            "signature_count": 0,
                            "download_url": None,
                        },
                        response_only=True,
                    )
                ],
            )
        },
    ),
)
class ShipmentDossierViewSet(mixins.ListModelMixin, mixins.CreateModelMixin, TenantViewSet):
    queryset = DossierArtifact.objects.all()
    serializer_class = DossierSerializer
    filter_backends = []

    def refine_queryset(self, queryset):
        return queryset.filter(shipment_id=self.kwargs["shipment_pk"]).select_related("requested_by")

    def list(self, request, *args, **kwargs):
        shipment_or_404(request.user, kwargs["shipment_pk"])
        return super().list(request, *args, **kwargs)

    def create(self, request, *args, **kwargs):
        shipment = shipment_or_404(request.user, kwargs["shipment_pk"])
        DossierRequestInputSerializer(data=request.data).is_valid(raise_exception=True)
        if not if_match_holds(request, shipment):
            raise PreconditionFailed()
        artifact = dossier_request(actor=request.user, shipment=shipment)
        location = reverse("v1:dossiers-detail", args=[artifact.pk], request=request)
        body = DossierSerializer(artifact, context=self.get_serializer_context()).data
        return Response(body, status=status.HTTP_202_ACCEPTED, headers={"Location": location})


@extend_schema_view(
    retrieve=extend_schema(
        summary="Follow a dossier rendering",
        description="`status` goes pending → rendering → ready (or failed, with `error`); `progress` is a percent. "
        "Poll every few seconds; `download_url` appears when it is ready.",
        tags=[DOSSIERS_TAG],
        examples=[
            OpenApiExample("Ready", value=DOSSIER_EXAMPLE, response_only=True),
            OpenApiExample(
                "Rendering",
                value={**DOSSIER_EXAMPLE, "status": "rendering", "progress": 60, "download_url": None},
                response_only=True,
            ),
        ],
    )
)
class DossierViewSet(DownloadsAnswerErrorsInJson, mixins.RetrieveModelMixin, TenantViewSet):
    queryset = DossierArtifact.objects.all()
    serializer_class = DossierSerializer

    def refine_queryset(self, queryset):
        return queryset.select_related("requested_by", "shipment")

    @extend_schema(
        summary="Download a ready dossier PDF",
        description="The PDF exactly as rendered, checked against its recorded SHA-256 before it is sent. "
        "409 while the rendering is not ready (or failed), or when the stored file no longer matches its hash.",
        tags=[DOSSIERS_TAG],
        responses={
            (200, uploads.PDF): OpenApiResponse(OpenApiTypes.BINARY, "The dossier PDF, as an attachment."),
            409: _error(
                "Not ready yet, failed, or the stored file no longer matches its SHA-256.",
                {
                    "detail": "this dossier is rendering; download it once its status is ready",
                    "reasons": ["this dossier is rendering; download it once its status is ready"],
                },
            ),
        },
    )
    @action(detail=True, methods=["get"])
    def download(self, request, pk=None):
        artifact = self.get_object()
        if artifact.status == ArtifactStatus.FAILED:
            raise ConflictError(f"this rendering failed ({artifact.error}); request a new one")
        if artifact.status != ArtifactStatus.READY:
            raise ConflictError(
                f"this dossier is {artifact.get_status_display().lower()}; download it once its status is ready"
            )
        try:
            content = dossier_download(user=request.user, artifact=artifact)
        except DossierArtifact.DoesNotExist:
            raise Http404 from None
        reference = re.sub(r"[^A-Za-z0-9._-]", "_", artifact.shipment.reference)
        filename = f"dossier-{reference}-{artifact.rendered_at or artifact.requested_at:%Y%m%dT%H%M%SZ}.pdf"
        response = HttpResponse(content, content_type=uploads.PDF)
        response["Content-Disposition"] = content_disposition_header(as_attachment=True, filename=filename)
        response["Content-Length"] = str(len(content))
        for header, value in DOWNLOAD_HEADERS.items():
            response[header] = value
        return response
