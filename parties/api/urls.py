from django.urls import path

from parties.api.views import ApiKeyViewSet, NotificationPreferenceView, NotificationViewSet, OrganizationViewSet

urlpatterns = [
    path("notification-preferences/me/", NotificationPreferenceView.as_view(), name="notification-preferences-me"),
]


def register(router) -> None:
    router.register("organizations", OrganizationViewSet, basename="organization")
    router.register("notifications", NotificationViewSet, basename="notification")
    router.register("api-keys", ApiKeyViewSet, basename="api-key")
