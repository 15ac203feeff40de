"""A minimal API on the shared base classes, so the base's promises are tested apart from any real endpoint."""

from django.db import transaction
from django.urls import include, path
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.routers import DefaultRouter

from ior_platform import urls as site_urls
from ior_platform.core.api.viewsets import IntegrationAPIView, TenantViewSet
from ior_platform.core.audit import record_event
from shipments.models import Shipment


class EchoSerializer(serializers.Serializer):
    text = serializers.CharField(max_length=20)


class ShipmentRowSerializer(serializers.ModelSerializer):
    class Meta:
        model = Shipment
        fields = ["id", "reference", "status", "created_at"]


class ProbeViewSet(TenantViewSet):
    queryset = Shipment.objects.all()
    serializer_class = ShipmentRowSerializer

    def list(self, request):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    def retrieve(self, request, pk=None):
        shipment = self.get_object()
        return self.set_etag(Response(self.get_serializer(shipment).data), shipment)

    @action(detail=True, methods=["post"])
    def touch(self, request, pk=None):
        with transaction.atomic():
            shipment = self.get_locked_object()
            shipment.tracking_number = request.data.get("tracking_number", "")
            shipment.save()
            record_event(actor=request.user, action="shipment.touch", target=shipment, shipment=shipment)
        return self.set_etag(Response(self.get_serializer(shipment).data), shipment)


class EchoView(IntegrationAPIView):
    calls = 0

    def post(self, request):
        serializer = EchoSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        EchoView.calls += 1
        return Response({"echo": serializer.validated_data["text"], "call": EchoView.calls}, status=201)


class BoomView(IntegrationAPIView):
    def post(self, request):
        raise RuntimeError("boom")


router = DefaultRouter()
router.register("probe", ProbeViewSet, basename="probe")

handler500 = "ior_platform.core.api.errors.server_error"

urlpatterns = [
    *site_urls.urlpatterns,
    path("api/v1/", include(router.urls)),
    path("api/v1/echo/", EchoView.as_view()),
    path("api/v1/boom/", BoomView.as_view()),
]
