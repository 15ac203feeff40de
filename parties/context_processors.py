from parties.selectors import notification_list


def unread_count(request) -> dict:
    """The inbox badge: one COUNT over exactly what the inbox shows, and none at all for anonymous visitors."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"unread_notifications": notification_list(user=user).filter(read_at__isnull=True).count()}
