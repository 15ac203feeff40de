from parties.models import Notification


def unread_count(request) -> dict:
    """The inbox badge: one COUNT, and none at all for anonymous visitors."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"unread_notifications": Notification.objects.filter(recipient=user, read_at__isnull=True).count()}
