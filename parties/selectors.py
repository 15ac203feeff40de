"""Reads of a user's own parties data: their notification inbox."""

from django.db.models import Q, QuerySet

from ior_platform.core.tenancy import visible_shipments
from parties.models import Notification


def notification_list(*, user) -> QuerySet[Notification]:
    """The user's inbox, newest first: the page, the API and the unread badge all count from this.

    A notification about a shipment the user can no longer see (a revoked CRO authorisation) drops out."""
    return Notification.objects.filter(recipient=user).filter(
        Q(shipment__isnull=True) | Q(shipment__in=visible_shipments(user).values("pk"))
    )
