from django.http import Http404

from shipments.models import Shipment


def shipment_or_404(user, pk) -> Shipment:
    """The shipment an API route's `{id}` names, if `user` may see it; otherwise (or for an id that is not one) a 404,
    the same for another tenant's shipment as for a missing one."""
    try:
        return Shipment.objects.for_user(user).get(pk=pk)
    except (Shipment.DoesNotExist, ValueError, TypeError):
        raise Http404 from None
