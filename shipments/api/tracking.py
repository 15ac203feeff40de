"""The tracking-events API: what the courier reports on the way, under its shipment
(`/shipments/{shipment_pk}/tracking-events/`). Listing is newest first; recording goes through tracking_event_record,
which decides who may record and when. Sending an event whose `external_id` the shipment already holds answers 200
with the event on record and writes nothing, so a courier's system may re-send its feed."""

from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status
from rest_framework.response import Response

from documents.api.serializers import person_name
from ior_platform.core.api.errors import PreconditionFailed
from ior_platform.core.api.pagination import CappedCursorPagination
from ior_platform.core.api.schema import ErrorSerializer
from ior_platform.core.api.serializers import StrictInputSerializer, named_choice_field_class
from ior_platform.core.api.viewsets import TenantViewSet, if_match_holds
from shipments.api import shipment_or_404
from shipments.api.coldchain import SHIPMENT_PK
from shipments.choices import RecordedVia, TrackingEventCode
from shipments.models import TrackingEvent
from shipments.tracking.services import tracking_event_record

TAG = "tracking"
TrackingEventCodeField = named_choice_field_class("TrackingEventCodeEnum", TrackingEventCode.choices)


class NewestFirst(CappedCursorPagination):
    ordering = ("-occurred_at", "-id")


class TrackingEventInputSerializer(StrictInputSerializer):
    occurred_at = serializers.DateTimeField(
        help_text="When it happened, ISO 8601 with an offset (without one, UTC). At most 10 minutes ahead of now, "
        "and not before the shipment was created."
    )
    code = TrackingEventCodeField(help_text="What happened.")
    location = serializers.CharField(
        max_length=TrackingEvent.LOCATION_MAX_LENGTH, help_text='Where, e.g. "JFK, New York".'
    )
    country = serializers.CharField(
        required=False, allow_blank=True, default="", help_text="ISO 3166-1 alpha-2 code of where it happened."
    )
    description = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=TrackingEvent.DESCRIPTION_MAX_LENGTH
    )
    external_id = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=TrackingEvent.EXTERNAL_ID_MAX_LENGTH,
        help_text="The courier's own id of the event. Sent again, it answers the event on record with 200.",
    )


class TrackingEventSerializer(serializers.ModelSerializer):
    code = TrackingEventCodeField()
    code_label = serializers.CharField(source="get_code_display", help_text="The code in words.")
    recorded_by = serializers.SerializerMethodField(help_text="Who recorded it; null for the platform itself.")
    via = serializers.CharField(help_text="How it came: `page` (the shipment page), `api` or `platform`.")

    class Meta:
        model = TrackingEvent
        fields = [
            "id",
            "shipment",
            "occurred_at",
            "code",
            "code_label",
            "location",
            "country",
            "description",
            "external_id",
            "recorded_by",
            "recorded_at",
            "via",
        ]
        read_only_fields = fields

    def get_recorded_by(self, event) -> str | None:
        return person_name(event.recorded_by)


EVENT_EXAMPLE = {
    "id": 512,
    "shipment": 1204,
    "occurred_at": "2026-03-04T06:40:00Z",
    "code": "arrived",
    "code_label": "Arrived",
    "location": "GRU, São Paulo",
    "country": "BR",
    "description": "Arrived at destination airport; handed to the bonded warehouse.",
    "external_id": "KC-88231-0007",
    "recorded_by": "Sanne de Vries",
    "recorded_at": "2026-03-04T06:41:12Z",
    "via": "api",
}


def _error(description: str, example: dict) -> OpenApiResponse:
    return OpenApiResponse(
        ErrorSerializer, description, [OpenApiExample(example["detail"][:40], value=example, response_only=True)]
    )


@extend_schema_view(
    list=extend_schema(
        summary="List a shipment's tracking events",
        description="What the courier reported, newest first. 404 when the shipment does not exist or is not one "
        "you may see.",
        tags=[TAG],
        parameters=[SHIPMENT_PK],
        examples=[
            OpenApiExample(
                "A page", value={"next": None, "previous": None, "results": [EVENT_EXAMPLE]}, response_only=True
            )
        ],
    )
)
class ShipmentTrackingEventViewSet(mixins.ListModelMixin, TenantViewSet):
    queryset = TrackingEvent.objects.all()
    serializer_class = TrackingEventSerializer
    filter_backends = []
    pagination_class = NewestFirst

    def refine_queryset(self, queryset):
        return queryset.filter(shipment_id=self.kwargs["shipment_pk"]).select_related("recorded_by")

    def list(self, request, *args, **kwargs):
        # An unknown or invisible shipment is a 404, not an empty list that would confirm nothing.
        shipment_or_404(request.user, kwargs["shipment_pk"])
        return super().list(request, *args, **kwargs)

    @extend_schema(
        summary="Record a tracking event",
        description="Staff (editors, managers) of the shipment's courier, importer of record or exporter of record "
        "record what happened to the goods, from approval until the shipment is closed. Events are never changed: "
        "a correction is a new event. An `exception` tells the sponsor and the importer of record. An "
        "`external_id` the shipment already holds answers 200 with the event on record and writes nothing. "
        "`If-Match` takes the shipment's ETag.",
        tags=[TAG],
        parameters=[SHIPMENT_PK],
        request=TrackingEventInputSerializer,
        responses={
            201: OpenApiResponse(
                TrackingEventSerializer, "The event recorded.", [OpenApiExample("Recorded", EVENT_EXAMPLE)]
            ),
            200: OpenApiResponse(
                TrackingEventSerializer,
                "The `external_id` was already recorded on this shipment: the event on record, nothing written.",
                [OpenApiExample("Already recorded", EVENT_EXAMPLE)],
            ),
            400: _error(
                "Invalid input: see `errors` for each field.",
                {
                    "detail": "Invalid input.",
                    "errors": {"occurred_at": ["This time is in the future: give the time the event happened."]},
                },
            ),
            403: _error(
                "A read-only key, or your organization may not record this shipment's tracking events.",
                {
                    "detail": "only editors or managers of the shipment's courier or exporter of record or importer of "
                    "record may record tracking events of this shipment",
                    "reasons": ["only editors or managers of … may record tracking events of this shipment"],
                },
            ),
            409: _error(
                "The shipment takes no tracking events in its state.",
                {
                    "detail": "tracking events can be recorded once the shipment is approved and until it is "
                    "closed; this shipment is a draft",
                    "reasons": ["tracking events can be recorded once the shipment is approved …"],
                },
            ),
        },
        examples=[
            OpenApiExample(
                "Arrived",
                value={
                    "occurred_at": "2026-03-04T06:40:00Z",
                    "code": "arrived",
                    "location": "GRU, São Paulo",
                    "country": "BR",
                    "description": "Arrived at destination airport; handed to the bonded warehouse.",
                    "external_id": "KC-88231-0007",
                },
                request_only=True,
            )
        ],
    )
    def create(self, request, *args, **kwargs):
        shipment = shipment_or_404(request.user, kwargs["shipment_pk"])
        given = TrackingEventInputSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        if not if_match_holds(request, shipment):
            raise PreconditionFailed()
        event = tracking_event_record(
            actor=request.user, shipment=shipment, via=RecordedVia.API, **given.validated_data
        )
        answer = status.HTTP_200_OK if event.replayed else status.HTTP_201_CREATED
        event = TrackingEvent.objects.select_related("recorded_by").get(pk=event.pk)
        return Response(TrackingEventSerializer(event, context=self.get_serializer_context()).data, status=answer)
