"""Routes of the documents API, registered on the shared /api/v1/ router (see documents/api/views.py for the shape)."""

from documents.api import views

# The same shape as the router's own lookups, so a malformed id reaches the view and gets the API's JSON 404.
SHIPMENT = r"shipments/(?P<shipment_pk>[^/.]+)"

urlpatterns = []


def register(router) -> None:
    router.register(f"{SHIPMENT}/documents", views.ShipmentDocumentViewSet, basename="shipment-documents")
    router.register("documents", views.DocumentViewSet, basename="documents")
    router.register("document-versions", views.DocumentVersionViewSet, basename="document-versions")
    router.register(f"{SHIPMENT}/dossiers", views.ShipmentDossierViewSet, basename="shipment-dossiers")
    router.register("dossiers", views.DossierViewSet, basename="dossiers")
