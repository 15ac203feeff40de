"""The cold-chain API: uploading a logger's export to a shipment, reading its logs and excursions, where the
shipment stands against its temperature range (with its quarantine and pack-out clock), and sponsor QA's signed
disposition of goods in quarantine.

Collections hang under their shipment (`/shipments/{shipment_pk}/temperature-logs/`, `.../excursions/`,
`.../cold-chain/`); each log and excursion is then addressed by its own id (`/temperature-logs/{id}/`,
`/excursions/{id}/`). Everything is looked up through the tenancy rule, so another organization's shipment, log or
excursion is a 404 like a missing one. Who may upload, and when, is the service's to decide."""

from django.db.models import Count, Prefetch
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import mixins, serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.reverse import reverse

from documents.api.serializers import person_name
from documents.signatures import WrongPassword
from ior_platform.core.api.errors import PreconditionFailed
from ior_platform.core.api.pagination import CappedCursorPagination
from ior_platform.core.api.schema import ErrorSerializer
from ior_platform.core.api.serializers import StrictInputSerializer, named_choice_field, named_choice_field_class
from ior_platform.core.api.viewsets import IntegrationAPIView, TenantViewSet, if_match_holds
from shipments.api import shipment_or_404
from shipments.choices import DispositionDecision, ExcursionDirection, LoggerLayout, QuarantineStatus
from shipments.coldchain.selectors import cold_chain_quarantine, cold_chain_summary, pack_out_time_left
from shipments.coldchain.services import REASON_MAX_LENGTH, coldchain_disposition_record, temperature_log_import
from shipments.models import ColdChainDisposition, Excursion, TemperatureLog

TAG = "cold chain"
SHIPMENT_PK = OpenApiParameter(
    "shipment_pk", OpenApiTypes.INT, OpenApiParameter.PATH, description="The shipment's id (`id` in /shipments/)."
)


class ByFirstReading(CappedCursorPagination):
    ordering = ("first_reading_at", "id")


class ByStart(CappedCursorPagination):
    ordering = ("started_at", "id")


# --- serializers ----------------------------------------------------------------------------------------------------


class TemperatureLogUploadInputSerializer(StrictInputSerializer):
    logger_serial = serializers.CharField(max_length=64, help_text="The logger's serial number, as printed on it.")
    # Empty files pass here so that the import service gives the one message for them whatever the entry point.
    file = serializers.FileField(
        allow_empty_file=True,
        help_text="The logger's export: delimited text with a header naming a time and a temperature column, or a "
        "Campbell Scientific TOA5 file. At most 80 MB.",
    )
    timezone = serializers.CharField(
        required=False,
        default="UTC",
        max_length=64,
        help_text="IANA zone of times the file writes without an offset, e.g. `Europe/Berlin`. Default UTC.",
    )


class TemperatureRangeSerializer(serializers.Serializer):
    low = serializers.FloatField(allow_null=True, help_text="Lowest temperature in range, °C; null: no floor.")
    high = serializers.FloatField(allow_null=True, help_text="Highest temperature in range, °C; null: no ceiling.")
    label = serializers.CharField()

    def to_representation(self, instance):
        return {"low": instance.low, "high": instance.high, "label": str(instance)}


class ExcursionSerializer(serializers.ModelSerializer):
    direction = named_choice_field("ExcursionDirectionEnum", ExcursionDirection.choices)
    url = serializers.SerializerMethodField()

    class Meta:
        model = Excursion
        fields = [
            "id",
            "shipment",
            "log",
            "direction",
            "started_at",
            "ended_at",
            "duration_minutes",
            "peak_temperature",
            "ends_with_log",
            "detected_at",
            "url",
        ]
        read_only_fields = fields

    def get_url(self, excursion) -> str:
        return reverse("v1:excursions-detail", args=[excursion.pk], request=self.context.get("request"))


class TemperatureLogSerializer(serializers.ModelSerializer):
    filename = serializers.CharField(source="original_name", help_text="The uploader's file name, for display only.")
    sha256 = serializers.CharField(help_text="SHA-256 of the file as uploaded.")
    layout = named_choice_field("LoggerLayoutEnum", LoggerLayout.choices)
    uploaded_by = serializers.SerializerMethodField(help_text="The uploader's name; null for an operator's import.")
    temperature_range = TemperatureRangeSerializer(help_text="The range the readings were judged against.")
    excursion_count = serializers.SerializerMethodField()
    url = serializers.SerializerMethodField()

    class Meta:
        model = TemperatureLog
        fields = [
            "id",
            "shipment",
            "logger_serial",
            "filename",
            "size",
            "sha256",
            "layout",
            "uploaded_by",
            "uploaded_at",
            "reading_count",
            "first_reading_at",
            "last_reading_at",
            "temperature_range",
            "min_temperature",
            "max_temperature",
            "mean_temperature",
            "mean_kinetic_temperature",
            "delta_h",
            "minutes_above",
            "minutes_below",
            "excursion_count",
            "url",
        ]
        read_only_fields = fields

    def get_uploaded_by(self, log) -> str | None:
        return person_name(log.uploaded_by)

    def get_excursion_count(self, log) -> int:
        counted = getattr(log, "excursion_count", None)
        return counted if counted is not None else len(log.excursions.all())

    def get_url(self, log) -> str:
        return reverse("v1:temperature-logs-detail", args=[log.pk], request=self.context.get("request"))


class TemperatureLogDetailSerializer(TemperatureLogSerializer):
    excursions = ExcursionSerializer(many=True, read_only=True)
    source_details = serializers.JSONField(
        read_only=True, help_text="How the file was read: encoding, delimiter, header line, columns, time zone."
    )

    class Meta(TemperatureLogSerializer.Meta):
        fields = [*TemperatureLogSerializer.Meta.fields, "source_details", "excursions"]
        read_only_fields = fields


class ColdChainSummarySerializer(serializers.Serializer):
    temperature_class = serializers.CharField()
    temperature_range = TemperatureRangeSerializer()
    qualified_duration_hours = serializers.IntegerField(
        help_text="Hours the pack-out holds its range: the shipment's own figure or its class's default."
    )
    excursion_budget_minutes = serializers.IntegerField(
        help_text="Minutes out of range allowed in total: the shipment's own figure or its class's default."
    )
    log_count = serializers.IntegerField()
    excursion_count = serializers.IntegerField()
    minutes_above = serializers.FloatField()
    minutes_below = serializers.FloatField()
    minutes_out_of_range = serializers.FloatField(
        help_text="Time any logger read out of range, each minute counted once however many loggers saw it."
    )
    budget_exceeded = serializers.BooleanField()
    budget_left_minutes = serializers.FloatField()


DispositionDecisionField = named_choice_field_class("DispositionDecisionEnum", DispositionDecision.choices)


class DispositionInputSerializer(StrictInputSerializer):
    decision = DispositionDecisionField(
        help_text="`release`: the goods may be delivered and used; `reject`: they go back to origin; `destroy`: they "
        "are destroyed where they are.",
    )
    reason = serializers.CharField(
        max_length=REASON_MAX_LENGTH, help_text="Why: the assessment behind the decision, printed with the signature."
    )
    password = serializers.CharField(
        max_length=256,
        trim_whitespace=False,
        write_only=True,
        help_text="Your own sign-in password, re-entered: it is your electronic signature. Three wrong ones in 15 "
        "minutes lock signing for a while.",
    )


class DispositionSignatureSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    meaning = serializers.CharField(source="get_meaning_display", help_text="What the signature means, in words.")
    signer_name = serializers.CharField()
    signer_organization = serializers.CharField()
    signed_at = serializers.DateTimeField()
    manifest_sha256 = serializers.CharField(
        help_text="SHA-256 of what was signed: the shipment's logs and excursions, the decision and its reason."
    )


class ColdChainDispositionSerializer(serializers.ModelSerializer):
    decision = DispositionDecisionField()
    decided_by = serializers.SerializerMethodField(help_text="The QA signer's name.")
    signature = DispositionSignatureSerializer()

    class Meta:
        model = ColdChainDisposition
        fields = [
            "id",
            "shipment",
            "decision",
            "reason",
            "decided_by",
            "decided_at",
            "quarantined_at",
            "excursion_count",
            "minutes_out_of_range",
            "signature",
        ]
        read_only_fields = fields

    def get_decided_by(self, disposition) -> str | None:
        return person_name(disposition.decided_by)


class QuarantineSerializer(serializers.Serializer):
    status = named_choice_field("QuarantineStatusEnum", QuarantineStatus.choices)
    label = serializers.CharField()
    quarantined_at = serializers.DateTimeField(
        allow_null=True, help_text="When the goods last went into quarantine; null if they never did."
    )
    blocks_delivery = serializers.BooleanField(
        help_text="Delivery cannot be confirmed: a disposition is awaited, or the goods were rejected or are to be "
        "destroyed."
    )
    disposition = ColdChainDispositionSerializer(allow_null=True, help_text="Sponsor QA's latest decision, if any.")


class PackOutClockSerializer(serializers.Serializer):
    dispatched_at = serializers.DateTimeField()
    qualified_duration_hours = serializers.IntegerField()
    expires_at = serializers.DateTimeField(help_text="Dispatch plus the qualified duration.")
    hours_left = serializers.FloatField(help_text="Negative once the pack-out has run out.")
    margin_hours = serializers.SerializerMethodField(help_text="Below this, a customs hold alerts the IOR and sponsor.")
    below_margin = serializers.BooleanField()
    expired = serializers.BooleanField()
    in_customs_hold = serializers.BooleanField()
    alerted_at = serializers.DateTimeField(allow_null=True, help_text="When the margin alert went out, if it did.")

    def get_margin_hours(self, clock) -> float:
        return clock.margin.total_seconds() / 3600


class ColdChainStatusSerializer(ColdChainSummarySerializer):
    quarantine = serializers.SerializerMethodField()
    pack_out = serializers.SerializerMethodField(
        help_text="The pack-out clock while the goods are on their way (dispatched, not yet delivered); else null."
    )

    @extend_schema_field(QuarantineSerializer)
    def get_quarantine(self, summary) -> dict:
        return QuarantineSerializer(self.context["quarantine"]).data

    @extend_schema_field(PackOutClockSerializer(allow_null=True))
    def get_pack_out(self, summary) -> dict | None:
        clock = self.context["pack_out"]
        return PackOutClockSerializer(clock).data if clock is not None else None


# --- examples -------------------------------------------------------------------------------------------------------

EXCURSION_EXAMPLE = {
    "id": 88,
    "shipment": 1204,
    "log": 31,
    "direction": "above",
    "started_at": "2026-03-04T10:00:00Z",
    "ended_at": "2026-03-04T10:20:00Z",
    "duration_minutes": 20.0,
    "peak_temperature": 9.0,
    "ends_with_log": False,
    "detected_at": "2026-03-05T08:12:40Z",
    "url": "https://ior.example.com/api/v1/excursions/88/",
}
LOG_EXAMPLE = {
    "id": 31,
    "shipment": 1204,
    "logger_serial": "TT4-0042817",
    "filename": "TT4-0042817.csv",
    "size": 84211,
    "sha256": "4c1f0e2d9a8b6c5f4e3d2c1b0a99887766554433221100ffeeddccbbaa998877",
    "layout": "csv",
    "uploaded_by": "Sam Site",
    "uploaded_at": "2026-03-05T08:12:40Z",
    "reading_count": 2881,
    "first_reading_at": "2026-03-03T08:00:00Z",
    "last_reading_at": "2026-03-05T08:00:00Z",
    "temperature_range": {"low": 2.0, "high": 8.0, "label": "2 to 8 °C"},
    "min_temperature": 3.9,
    "max_temperature": 9.0,
    "mean_temperature": 5.02,
    "mean_kinetic_temperature": 5.11,
    "delta_h": 83.144,
    "minutes_above": 20.0,
    "minutes_below": 0.0,
    "excursion_count": 1,
    "url": "https://ior.example.com/api/v1/temperature-logs/31/",
}
LOG_DETAIL_EXAMPLE = {
    **LOG_EXAMPLE,
    "source_details": {
        "encoding": "utf-8",
        "delimiter": ",",
        "header_line": 6,
        "time_column": "Date/Time",
        "temperature_column": "Temperature (°C)",
        "unit": "°C",
        "timezone": "UTC",
    },
    "excursions": [EXCURSION_EXAMPLE],
}
SUMMARY_EXAMPLE = {
    "temperature_class": "refrigerated",
    "temperature_range": {"low": 2.0, "high": 8.0, "label": "2 to 8 °C"},
    "qualified_duration_hours": 96,
    "excursion_budget_minutes": 30,
    "log_count": 2,
    "excursion_count": 1,
    "minutes_above": 20.0,
    "minutes_below": 0.0,
    "minutes_out_of_range": 20.0,
    "budget_exceeded": False,
    "budget_left_minutes": 10.0,
}
DISPOSITION_EXAMPLE = {
    "id": 7,
    "shipment": 1204,
    "decision": "release",
    "reason": "20 min at 9.0 °C is within the stability data (up to 25 °C for 48 h); MKT 5.1 °C.",
    "decided_by": "Quinn Quality",
    "decided_at": "2026-03-05T10:02:11Z",
    "quarantined_at": "2026-03-05T08:12:40Z",
    "excursion_count": 1,
    "minutes_out_of_range": 20.0,
    "signature": {
        "id": 19,
        "meaning": "Released after a temperature excursion",
        "signer_name": "Quinn Quality",
        "signer_organization": "Sponsor A Pharma",
        "signed_at": "2026-03-05T10:02:11Z",
        "manifest_sha256": "9d5e3f0a7c1b2e4d6f8a0b1c3d5e7f9a1b3c5d7e9f0a2b4c6d8e0f1a3b5c7d9e",
    },
}
STATUS_EXAMPLE = {
    **SUMMARY_EXAMPLE,
    "quarantine": {
        "status": "released",
        "label": "Released by sponsor QA",
        "quarantined_at": "2026-03-05T08:12:40Z",
        "blocks_delivery": False,
        "disposition": DISPOSITION_EXAMPLE,
    },
    "pack_out": {
        "dispatched_at": "2026-03-03T06:00:00Z",
        "qualified_duration_hours": 96,
        "expires_at": "2026-03-07T06:00:00Z",
        "hours_left": 43.95,
        "margin_hours": 24.0,
        "below_margin": False,
        "expired": False,
        "in_customs_hold": True,
        "alerted_at": None,
    },
}


def _error(description: str, example: dict) -> OpenApiResponse:
    return OpenApiResponse(
        ErrorSerializer, description, [OpenApiExample(example["detail"][:40], value=example, response_only=True)]
    )


# --- views ----------------------------------------------------------------------------------------------------------


def _with_excursion_counts(queryset):
    return queryset.select_related("uploaded_by").annotate(excursion_count=Count("excursions"))


@extend_schema_view(
    list=extend_schema(
        summary="List a shipment's temperature logs",
        description="Each logger export uploaded to the shipment with its analysis, oldest readings first. 404 when "
        "the shipment does not exist or is not one you may see.",
        tags=[TAG],
        parameters=[SHIPMENT_PK],
        examples=[
            OpenApiExample(
                "A page", value={"next": None, "previous": None, "results": [LOG_EXAMPLE]}, response_only=True
            )
        ],
    )
)
class ShipmentTemperatureLogViewSet(mixins.ListModelMixin, TenantViewSet):
    queryset = TemperatureLog.objects.all()
    serializer_class = TemperatureLogSerializer
    filter_backends = []
    pagination_class = ByFirstReading
    parser_classes = [MultiPartParser, FormParser]

    def refine_queryset(self, queryset):
        return _with_excursion_counts(queryset.filter(shipment_id=self.kwargs["shipment_pk"]))

    def list(self, request, *args, **kwargs):
        # An unknown or invisible shipment is a 404, not an empty list that would confirm nothing.
        shipment_or_404(request.user, kwargs["shipment_pk"])
        return super().list(request, *args, **kwargs)

    @extend_schema(
        summary="Upload a temperature logger's export",
        description="A `multipart/form-data` POST with the logger's serial number and its export in the part "
        "`file`. The file is read (delimited text with a header naming a time and a temperature column, with or "
        "without the logger's preamble, `,` `;` or tab, decimal commas; or a Campbell Scientific TOA5 file) and "
        "analysed against the shipment's temperature range: minimum, maximum, mean, mean kinetic temperature, time "
        "above and below the range, and each excursion as an interval. A file that cannot be read is refused with "
        "400 and the line at fault, and nothing is stored. The sponsor, the courier, the consignee and the importer "
        "of record may upload, from approval until the shipment is closed. The same file twice answers 409. "
        "`If-Match` takes the shipment's ETag.",
        tags=[TAG],
        parameters=[SHIPMENT_PK],
        request={"multipart/form-data": TemperatureLogUploadInputSerializer},
        responses={
            201: OpenApiResponse(
                TemperatureLogDetailSerializer,
                "The stored log with its excursions; `Location` is its URL.",
                [OpenApiExample("Imported", value=LOG_DETAIL_EXAMPLE, response_only=True)],
            ),
            400: _error(
                "The file cannot be read as a logger export: see `errors.file` for the line at fault.",
                {"detail": "Invalid input.", "errors": {"file": ["line 214: 'ERR' is not a temperature"]}},
            ),
            403: _error(
                "A read-only key, or your organization may not upload this shipment's temperature logs.",
                {
                    "detail": "only editors, managers or reviewers of the shipment's consignee, courier, importer of "
                    "record or sponsor may upload temperature logs of this shipment",
                    "reasons": ["only … may upload temperature logs of this shipment"],
                },
            ),
            409: _error(
                "The shipment takes no logs in its state, or this file was already imported into it.",
                {
                    "detail": "temperature logs can be uploaded once the shipment is approved and until it is "
                    "closed; this shipment is a draft",
                    "reasons": ["temperature logs can be uploaded once the shipment is approved …"],
                },
            ),
            415: _error("The body is not multipart/form-data.", {"detail": 'Unsupported media type "x" in request.'}),
        },
    )
    def create(self, request, *args, **kwargs):
        shipment = shipment_or_404(request.user, kwargs["shipment_pk"])
        upload = TemperatureLogUploadInputSerializer(data=request.data)
        upload.is_valid(raise_exception=True)
        if not if_match_holds(request, shipment):
            raise PreconditionFailed()
        log = temperature_log_import(
            actor=request.user,
            shipment=shipment,
            logger_serial=upload.validated_data["logger_serial"],
            uploaded_file=upload.validated_data["file"],
            tz=upload.validated_data["timezone"],
        )
        log = _log_with_history(request.user, log.pk)
        location = reverse("v1:temperature-logs-detail", args=[log.pk], request=request)
        body = TemperatureLogDetailSerializer(log, context=self.get_serializer_context()).data
        return Response(body, status=status.HTTP_201_CREATED, headers={"Location": location})


def _log_with_history(user, pk: int) -> TemperatureLog:
    return (
        _with_excursion_counts(TemperatureLog.objects.for_user(user))
        .prefetch_related(Prefetch("excursions", queryset=Excursion.objects.order_by("started_at", "id")))
        .get(pk=pk)
    )


@extend_schema_view(
    retrieve=extend_schema(
        summary="Get a temperature log with its excursions",
        description="The log's analysis, how its file was read, and every excursion it showed.",
        tags=[TAG],
        examples=[OpenApiExample("A log with one excursion", value=LOG_DETAIL_EXAMPLE, response_only=True)],
    )
)
class TemperatureLogViewSet(mixins.RetrieveModelMixin, TenantViewSet):
    queryset = TemperatureLog.objects.all()
    serializer_class = TemperatureLogDetailSerializer

    def refine_queryset(self, queryset):
        return _with_excursion_counts(queryset).prefetch_related(
            Prefetch("excursions", queryset=Excursion.objects.order_by("started_at", "id"))
        )


@extend_schema_view(
    list=extend_schema(
        summary="List a shipment's excursions",
        description="Every interval a logger of the shipment read outside its temperature range, earliest first. "
        "Two loggers seeing the same spike give two excursions; the shipment's `cold-chain` summary counts the time "
        "once.",
        tags=[TAG],
        parameters=[SHIPMENT_PK],
        examples=[
            OpenApiExample(
                "A page", value={"next": None, "previous": None, "results": [EXCURSION_EXAMPLE]}, response_only=True
            )
        ],
    )
)
class ShipmentExcursionViewSet(mixins.ListModelMixin, TenantViewSet):
    queryset = Excursion.objects.all()
    serializer_class = ExcursionSerializer
    filter_backends = []
    pagination_class = ByStart

    def refine_queryset(self, queryset):
        return queryset.filter(shipment_id=self.kwargs["shipment_pk"])

    def list(self, request, *args, **kwargs):
        shipment_or_404(request.user, kwargs["shipment_pk"])
        return super().list(request, *args, **kwargs)


@extend_schema_view(
    retrieve=extend_schema(
        summary="Get an excursion",
        tags=[TAG],
        examples=[OpenApiExample("Above range", value=EXCURSION_EXAMPLE, response_only=True)],
    )
)
class ExcursionViewSet(mixins.RetrieveModelMixin, TenantViewSet):
    queryset = Excursion.objects.all()
    serializer_class = ExcursionSerializer


class ShipmentColdChainView(IntegrationAPIView):
    @extend_schema(
        summary="Where a shipment stands against its temperature range",
        description="The range of its temperature class, its pack-out's qualified duration and excursion budget "
        "(its own figures or the class's defaults), the time out of range over all its logs against the budget, "
        "whether the goods are in quarantine after an excursion (and sponsor QA's latest disposition), and, while "
        "they are on their way, the time left on the pack-out.",
        tags=[TAG],
        parameters=[SHIPMENT_PK],
        responses={200: ColdChainStatusSerializer},
        examples=[OpenApiExample("Released, then held at customs", value=STATUS_EXAMPLE, response_only=True)],
    )
    def get(self, request, shipment_pk=None):
        shipment = shipment_or_404(request.user, shipment_pk)
        context = {
            "request": request,
            "quarantine": cold_chain_quarantine(shipment=shipment),
            "pack_out": pack_out_time_left(shipment),
        }
        return Response(ColdChainStatusSerializer(cold_chain_summary(shipment=shipment), context=context).data)


class ShipmentColdChainDispositionView(IntegrationAPIView):
    @extend_schema(
        summary="Record sponsor QA's disposition of goods in quarantine",
        description="After a temperature excursion the goods are in quarantine and delivery cannot be confirmed. "
        "Quality assurance staff of the shipment's sponsor itself (not a CRO acting for it) decide: `release` (the "
        "goods may be delivered), `reject` (they go back to origin) or `destroy`, with a reason, signing "
        "electronically by re-entering their password over the shipment's logs and excursions. A wrong password "
        "answers 400 and records nothing but the failed attempt; 403 for anyone else or while signing is locked; "
        "409 when no quarantine awaits a decision. `If-Match` takes the shipment's ETag.",
        tags=[TAG],
        parameters=[SHIPMENT_PK],
        request=DispositionInputSerializer,
        responses={
            201: OpenApiResponse(
                ColdChainDispositionSerializer,
                "The signed disposition; `Location` is the shipment's cold-chain status.",
                [OpenApiExample("Released", value=DISPOSITION_EXAMPLE, response_only=True)],
            ),
            400: _error(
                "Invalid input, or the password is not yours.",
                {
                    "detail": "Invalid input.",
                    "errors": {"password": ["the password is not correct; the disposition was not recorded"]},
                },
            ),
            403: _error(
                "Not quality assurance staff of the shipment's sponsor, or signing is locked.",
                {
                    "detail": "only quality assurance staff of the shipment's sponsor itself (not a CRO acting for "
                    "it) may record the cold-chain disposition of this shipment",
                    "reasons": ["only quality assurance staff of the shipment's sponsor itself …"],
                },
            ),
            409: _error(
                "No goods in quarantine awaiting a decision.",
                {
                    "detail": "SHP-2603-4F2A1C has no goods in quarantine awaiting a disposition; they are not in "
                    "quarantine",
                    "reasons": ["SHP-2603-4F2A1C has no goods in quarantine awaiting a disposition; …"],
                },
            ),
        },
        examples=[
            OpenApiExample(
                "Release",
                value={
                    "decision": "release",
                    "reason": "20 min at 9.0 °C is within the stability data; MKT 5.1 °C.",
                    "password": "your password",
                },
                request_only=True,
            )
        ],
    )
    def post(self, request, shipment_pk=None):
        shipment = shipment_or_404(request.user, shipment_pk)
        given = DispositionInputSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        if not if_match_holds(request, shipment):
            raise PreconditionFailed()
        try:
            disposition = coldchain_disposition_record(actor=request.user, shipment=shipment, **given.validated_data)
        except WrongPassword as exc:
            # A mistyped password is bad input to correct, not a lack of rights.
            raise serializers.ValidationError({"password": exc.reasons}) from None
        disposition = ColdChainDisposition.objects.select_related("decided_by", "signature").get(pk=disposition.pk)
        location = reverse("v1:shipment-cold-chain", args=[shipment.pk], request=request)
        body = ColdChainDispositionSerializer(disposition, context={"request": request}).data
        return Response(body, status=status.HTTP_201_CREATED, headers={"Location": location})
