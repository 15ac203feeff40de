from django.utils.functional import SimpleLazyObject

from shipments.forms import creatable_trials


def drafting(request):
    """Whether the user may draft shipments, worked out only on pages that ask (one query)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"may_draft": False}
    return {"may_draft": SimpleLazyObject(lambda: bool(creatable_trials(user).exists()))}
