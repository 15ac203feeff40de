from django.urls import path

from compliance.api.views import CountryProfileViewSet, PermitViewSet, PreflightView

urlpatterns = [
    path("preflight/", PreflightView.as_view(), name="preflight"),
]


def register(router) -> None:
    router.register("permits", PermitViewSet, basename="permit")
    router.register("countries", CountryProfileViewSet, basename="country")
