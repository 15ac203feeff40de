from django.urls import re_path

from shipments.api.coldchain import (
    ExcursionViewSet,
    ShipmentColdChainDispositionView,
    ShipmentColdChainView,
    ShipmentExcursionViewSet,
    ShipmentTemperatureLogViewSet,
    TemperatureLogViewSet,
)
from shipments.api.tracking import ShipmentTrackingEventViewSet
from shipments.api.views import ShipmentViewSet, SiteViewSet, TrialViewSet

# The same shape as the router's own lookups, so a malformed id reaches the view and gets the API's JSON 404.
SHIPMENT = r"shipments/(?P<shipment_pk>[^/.]+)"

urlpatterns = [
    re_path(rf"^{SHIPMENT}/cold-chain/$", ShipmentColdChainView.as_view(), name="shipment-cold-chain"),
    re_path(
        rf"^{SHIPMENT}/cold-chain/disposition/$",
        ShipmentColdChainDispositionView.as_view(),
        name="shipment-cold-chain-disposition",
    ),
]


def register(router) -> None:
    router.register("shipments", ShipmentViewSet, basename="shipments")
    router.register("trials", TrialViewSet, basename="trials")
    router.register("sites", SiteViewSet, basename="sites")
    router.register(f"{SHIPMENT}/temperature-logs", ShipmentTemperatureLogViewSet, basename="shipment-temperature-logs")
    router.register("temperature-logs", TemperatureLogViewSet, basename="temperature-logs")
    router.register(f"{SHIPMENT}/excursions", ShipmentExcursionViewSet, basename="shipment-excursions")
    router.register("excursions", ExcursionViewSet, basename="excursions")
    router.register(f"{SHIPMENT}/tracking-events", ShipmentTrackingEventViewSet, basename="shipment-tracking-events")
