"""/api/v1/: one router for every app's viewsets, plus the schema and its Swagger UI."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import DefaultRouter

from compliance.api.urls import register as register_compliance
from documents.api.urls import register as register_documents
from ior_platform.core.security import API_DOCS_CONTENT_SECURITY_POLICY, content_security_policy
from parties.api.urls import register as register_parties
from parties.api.webhooks import register as register_webhooks
from shipments.api.urls import register as register_shipments

router = DefaultRouter()
router.include_root_view = False
for register in (register_shipments, register_documents, register_parties, register_compliance, register_webhooks):
    register(router)

v1_patterns = [
    path("", include(router.urls)),
    path("", include("shipments.api.urls")),
    path("", include("documents.api.urls")),
    path("", include("parties.api.urls")),
    path("", include("compliance.api.urls")),
]

urlpatterns = [
    path("v1/", include((v1_patterns, "api"), namespace="v1")),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # Swagger UI's start-up script as a file of its own (?script), so the page runs under script-src 'self'.
    path(
        "docs/",
        content_security_policy(API_DOCS_CONTENT_SECURITY_POLICY)(
            SpectacularSwaggerSplitView.as_view(url_name="api-schema")
        ),
        name="api-docs",
    ),
]
