"""/api/v1/webhooks/: an organization's webhook endpoints, their delivery log, test pings and redeliveries.

Every member of the organization may read its endpoints and deliveries (a read-scoped key too); only its managers
change them. The signing secret appears twice only: in the answer that creates an endpoint and in the one that
rotates its secret."""

from django.db import transaction
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from ior_platform.core.api.serializers import StrictInputSerializer, named_choice_field_class
from ior_platform.core.api.viewsets import TenantViewSet
from ior_platform.core.errors import NotPermitted
from parties.choices import DeliveryStatus, WebhookEvent
from parties.models import WebhookDelivery, WebhookEndpoint
from parties.webhooks import (
    SUBSCRIBABLE_EVENTS,
    webhook_delivery_redeliver,
    webhook_endpoint_create,
    webhook_endpoint_delete,
    webhook_endpoint_ping,
    webhook_endpoint_update,
    webhook_secret_rotate,
)

TAGS = ["webhooks"]
URL_HELP = (
    "https URL of your receiver (any port). Its host must resolve only to public addresses: loopback, private, "
    "link-local and metadata addresses are refused, now and before every delivery. Redirects are not followed."
)


SUBSCRIBABLE_CHOICES = [(value, label) for value, label in WebhookEvent.choices if value in SUBSCRIBABLE_EVENTS]
SubscribableEventField = named_choice_field_class("WebhookSubscribableEventEnum", SUBSCRIBABLE_CHOICES)
WebhookEventField = named_choice_field_class("WebhookEventEnum", WebhookEvent.choices)
DeliveryStatusField = named_choice_field_class("WebhookDeliveryStatusEnum", DeliveryStatus.choices)


class FlatErrorsInputSerializer(StrictInputSerializer):
    """Errors as one flat list of messages per field, also for the items of a list."""

    def to_internal_value(self, data):
        try:
            return super().to_internal_value(data)
        except serializers.ValidationError as exc:
            # The error shape is one flat list of messages per field, also for the items of a list.
            if isinstance(exc.detail, dict):
                raise serializers.ValidationError({name: _flat(value) for name, value in exc.detail.items()}) from None
            raise


def _flat(detail) -> list[str]:
    if isinstance(detail, dict):
        return [
            f"item {int(key) + 1}: {message}" if str(key).isdigit() else f"{key}: {message}"
            for key, value in detail.items()
            for message in _flat(value)
        ]
    if isinstance(detail, list):
        return [message for item in detail for message in _flat(item)]
    return [str(detail)]


class WebhookEndpointCreateInput(FlatErrorsInputSerializer):
    url = serializers.CharField(max_length=500, help_text=URL_HELP)
    events = serializers.ListField(child=SubscribableEventField(), allow_empty=False, help_text="Events to receive.")
    description = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class WebhookEndpointUpdateInput(FlatErrorsInputSerializer):
    url = serializers.CharField(max_length=500, required=False, help_text=URL_HELP)
    events = serializers.ListField(child=SubscribableEventField(), allow_empty=False, required=False)
    description = serializers.CharField(max_length=200, required=False, allow_blank=True)
    is_active = serializers.BooleanField(required=False, help_text="false pauses deliveries; true resumes them.")


class WebhookEndpointSerializer(serializers.ModelSerializer):
    events = serializers.ListField(child=SubscribableEventField())

    class Meta:
        model = WebhookEndpoint
        fields = ["id", "url", "events", "description", "is_active", "created_at", "updated_at"]
        read_only_fields = fields


class WebhookEndpointWithSecretSerializer(WebhookEndpointSerializer):
    secret = serializers.SerializerMethodField(
        help_text="Signing secret (`whsec_…`): shown only in this answer. Verify X-IOR-Signature with it."
    )

    class Meta(WebhookEndpointSerializer.Meta):
        fields = [*WebhookEndpointSerializer.Meta.fields, "secret"]
        read_only_fields = fields

    def get_secret(self, obj) -> str:
        return self.context["secret"]


class WebhookDeliverySerializer(serializers.ModelSerializer):
    endpoint = serializers.IntegerField(source="endpoint_id", read_only=True)
    event = WebhookEventField(read_only=True)
    status = DeliveryStatusField(read_only=True)

    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "endpoint",
            "event",
            "event_id",
            "status",
            "attempts",
            "response_status",
            "last_error",
            "created_at",
            "last_attempt_at",
            "next_attempt_at",
            "delivered_at",
        ]
        read_only_fields = fields


class WebhookDeliveryDetailSerializer(WebhookDeliverySerializer):
    payload = serializers.JSONField(read_only=True, help_text="The `data` of the event as sent.")

    class Meta(WebhookDeliverySerializer.Meta):
        fields = [*WebhookDeliverySerializer.Meta.fields, "payload"]
        read_only_fields = fields


ENDPOINT_EXAMPLE = {
    "id": 7,
    "url": "https://rtsm.example.com/hooks/ior",
    "events": ["shipment.status_changed", "document.rejected"],
    "description": "RTSM production",
    "is_active": True,
    "created_at": "2026-11-23T19:41:00Z",
    "updated_at": "2026-11-23T19:41:00Z",
}
SECRET_EXAMPLE = {**ENDPOINT_EXAMPLE, "secret": "whsec_3q2-7wEXAMPLEq0Zf3lTXmNQyQ2a8u0s1cZ0l4rPp8w"}
DELIVERY_EXAMPLE = {
    "id": 311,
    "endpoint": 7,
    "event": "shipment.status_changed",
    "event_id": "0b8f6b7e-3f1c-5d36-9a50-2a7c1f0c9e11",
    "status": "pending",
    "attempts": 2,
    "response_status": 503,
    "last_error": "HTTP 503: Service Unavailable",
    "created_at": "2026-11-23T19:41:00Z",
    "last_attempt_at": "2026-11-23T19:42:05Z",
    "next_attempt_at": "2026-11-23T19:46:10Z",
    "delivered_at": None,
}
DELIVERY_DETAIL_EXAMPLE = {
    **DELIVERY_EXAMPLE,
    "payload": {
        "shipment": {"id": 42, "reference": "SHP-2026-0042", "status": "in_transit"},
        "from_status": "approved",
        "to_status": "in_transit",
        "transition": "dispatch",
        "occurred_at": "2026-11-23T19:40:59Z",
    },
}


def _example(name, value, *, request=False, status_codes=None):
    return OpenApiExample(name, value=value, request_only=request, response_only=not request, status_codes=status_codes)


@extend_schema_view(
    list=extend_schema(
        summary="List your organization's webhook endpoints",
        tags=TAGS,
        responses=WebhookEndpointSerializer(many=True),
        examples=[_example("Endpoints", [ENDPOINT_EXAMPLE])],
    ),
    retrieve=extend_schema(
        summary="Get a webhook endpoint",
        tags=TAGS,
        responses=WebhookEndpointSerializer,
        examples=[_example("Endpoint", ENDPOINT_EXAMPLE)],
    ),
    create=extend_schema(
        summary="Subscribe a URL to events",
        description="Managers only. The answer holds the signing secret, which is never shown again.",
        tags=TAGS,
        request=WebhookEndpointCreateInput,
        responses={201: WebhookEndpointWithSecretSerializer},
        examples=[
            _example(
                "Subscribe",
                {
                    "url": ENDPOINT_EXAMPLE["url"],
                    "events": ENDPOINT_EXAMPLE["events"],
                    "description": "RTSM production",
                },
                request=True,
            ),
            _example("Created", SECRET_EXAMPLE),
        ],
    ),
    partial_update=extend_schema(
        summary="Change a webhook endpoint, or pause and resume it",
        description="Managers only. A new URL is checked as on creation.",
        tags=TAGS,
        request=WebhookEndpointUpdateInput,
        responses=WebhookEndpointSerializer,
        examples=[_example("Pause", {"is_active": False}, request=True), _example("Updated", ENDPOINT_EXAMPLE)],
    ),
    destroy=extend_schema(
        summary="Delete a webhook endpoint and its delivery log",
        description="Managers only.",
        tags=TAGS,
        responses={204: OpenApiResponse(description="Deleted.")},
    ),
)
class WebhookEndpointViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantViewSet):
    queryset = WebhookEndpoint.objects.all()
    serializer_class = WebhookEndpointSerializer
    lookup_value_regex = "[0-9]+"
    filter_backends = []

    def refine_queryset(self, queryset):
        return queryset.select_related("organization")

    def retrieve(self, request, *args, **kwargs):
        endpoint = self.get_object()
        return self.set_etag(Response(WebhookEndpointSerializer(endpoint).data), endpoint)

    def create(self, request, *args, **kwargs):
        data = WebhookEndpointCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        organization = request.user.organization
        if organization is None:
            raise NotPermitted("Webhooks belong to an organization, and your account has none.")
        endpoint, secret = webhook_endpoint_create(actor=request.user, organization=organization, **data.validated_data)
        body = WebhookEndpointWithSecretSerializer(endpoint, context={"secret": secret}).data
        return self.set_etag(Response(body, status=status.HTTP_201_CREATED), endpoint)

    def partial_update(self, request, *args, **kwargs):
        with transaction.atomic():
            locked = self.get_locked_object()
            data = WebhookEndpointUpdateInput(data=request.data)
            data.is_valid(raise_exception=True)
            endpoint = webhook_endpoint_update(actor=request.user, endpoint=locked, **data.validated_data)
        return self.set_etag(Response(WebhookEndpointSerializer(endpoint).data), endpoint)

    def destroy(self, request, *args, **kwargs):
        with transaction.atomic():
            webhook_endpoint_delete(actor=request.user, endpoint=self.get_locked_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="Rotate the signing secret",
        description="Managers only. The new secret is in this answer only; the old one stops verifying at once.",
        tags=TAGS,
        request=None,
        responses=WebhookEndpointWithSecretSerializer,
        examples=[_example("Rotated", SECRET_EXAMPLE)],
    )
    @action(detail=True, methods=["post"], url_path="rotate-secret", url_name="rotate-secret")
    def rotate_secret(self, request, pk=None):
        with transaction.atomic():
            endpoint, secret = webhook_secret_rotate(actor=request.user, endpoint=self.get_locked_object())
        body = WebhookEndpointWithSecretSerializer(endpoint, context={"secret": secret}).data
        return self.set_etag(Response(body), endpoint)

    @extend_schema(
        summary="Send a ping event to the endpoint",
        description="Managers only. Queues a signed `ping` event now, whatever the endpoint subscribed to; follow it "
        "in the delivery log.",
        tags=TAGS,
        request=None,
        responses={202: WebhookDeliverySerializer},
        examples=[
            _example(
                "Queued",
                {**DELIVERY_EXAMPLE, "event": "ping", "attempts": 0, "response_status": None, "last_error": ""},
                status_codes=["202"],
            )
        ],
    )
    @action(detail=True, methods=["post"], url_path="test", url_name="test")
    def send_test(self, request, pk=None):
        with transaction.atomic():
            delivery = webhook_endpoint_ping(actor=request.user, endpoint=self.get_locked_object())
        return Response(WebhookDeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        summary="The endpoint's delivery log",
        description="Newest first: each event sent, or being sent, with its attempts and the last outcome.",
        tags=TAGS,
        parameters=[
            OpenApiParameter("status", OpenApiTypes.STR, enum=DeliveryStatus.values, description="Only this status."),
            OpenApiParameter("event", OpenApiTypes.STR, enum=WebhookEvent.values, description="Only this event."),
        ],
        responses=WebhookDeliverySerializer(many=True),
        examples=[_example("Log", [DELIVERY_EXAMPLE])],
    )
    @action(detail=True, methods=["get"], url_path="deliveries", url_name="deliveries")
    def deliveries(self, request, pk=None):
        endpoint = self.get_object()
        deliveries = WebhookDelivery.objects.filter(endpoint=endpoint)
        for name, allowed in (("status", DeliveryStatus.values), ("event", WebhookEvent.values)):
            value = request.query_params.get(name)
            if value is None:
                continue
            if value not in allowed:
                raise serializers.ValidationError({name: [f"Choose one of: {', '.join(allowed)}."]})
            deliveries = deliveries.filter(**{name: value})
        page = self.paginate_queryset(deliveries)
        return self.get_paginated_response(WebhookDeliverySerializer(page, many=True).data)


@extend_schema_view(
    retrieve=extend_schema(
        summary="Get one webhook delivery, with its payload",
        tags=TAGS,
        responses=WebhookDeliveryDetailSerializer,
        examples=[_example("Delivery", DELIVERY_DETAIL_EXAMPLE)],
    ),
)
class WebhookDeliveryViewSet(mixins.RetrieveModelMixin, TenantViewSet):
    queryset = WebhookDelivery.objects.all()
    serializer_class = WebhookDeliveryDetailSerializer
    lookup_value_regex = "[0-9]+"
    filter_backends = []

    @extend_schema(
        summary="Send a delivered or failed event again",
        description="Managers only. Same event id (receivers de-duplicate on it), a fresh set of attempts. A delivery "
        "still being attempted, or one of a paused endpoint, is refused with 409.",
        tags=TAGS,
        request=None,
        responses={202: WebhookDeliverySerializer},
        examples=[_example("Queued again", {**DELIVERY_EXAMPLE, "attempts": 0}, status_codes=["202"])],
    )
    @action(detail=True, methods=["post"], url_path="redeliver", url_name="redeliver")
    def redeliver(self, request, pk=None):
        with transaction.atomic():
            delivery = webhook_delivery_redeliver(actor=request.user, delivery=self.get_locked_object())
        return Response(WebhookDeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)


def register(router) -> None:
    router.register("webhooks/deliveries", WebhookDeliveryViewSet, basename="webhook-delivery")
    router.register("webhooks", WebhookEndpointViewSet, basename="webhook")
