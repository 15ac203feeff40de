from shipments.api.views import ShipmentViewSet, SiteViewSet, TrialViewSet

urlpatterns = []


def register(router) -> None:
    router.register("shipments", ShipmentViewSet, basename="shipments")
    router.register("trials", TrialViewSet, basename="trials")
    router.register("sites", SiteViewSet, basename="sites")
