from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.http import HttpResponsePermanentRedirect
from django.templatetags.static import static
from django.urls import include, path

from ior_platform.core import health, metrics
from ior_platform.core.mfa import VerifiedAdminSite
from parties import mfa_views
from shipments import views_overview

# The admin refuses a session that has not given its second factor, whatever the middleware lets through.
admin.site.__class__ = VerifiedAdminSite


def favicon(request):
    """Browsers ask for /favicon.ico on pages that name no icon (the admin's, the API docs'): the site's icon."""
    return HttpResponsePermanentRedirect(static("img/favicon.svg"))


urlpatterns = [
    path("", views_overview.dashboard, name="home"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/mfa/", include("parties.mfa_urls")),
    path("accounts/", include("django.contrib.auth.urls")),
    path("shipments/", include("shipments.urls")),
    path("dossiers/", include("documents.dossier_urls")),
    path("documents/", include("documents.urls")),
    path("notifications/", include("parties.urls")),
    path("reviews/", include("documents.review_urls")),
    path("", include("compliance.urls")),
    path("api/", include("ior_platform.api_urls")),
    path("admin/login/", mfa_views.admin_login),
    path("admin/", admin.site.urls),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics.metrics_view, name="metrics"),
    path("favicon.ico", favicon, name="favicon"),
]

handler500 = "ior_platform.core.api.errors.server_error"
handler404 = "ior_platform.core.api.errors.page_not_found"
handler403 = "ior_platform.core.api.errors.permission_denied"
