"""Writes to the country knowledge base made by staff (the loader makes the bulk ones)."""

from django.db import transaction
from django.db.models import Max

from compliance.loader import REQUIREMENT_CONTENT, flag_open_shipments
from compliance.models import DocumentRequirement
from ior_platform.core.audit import record_event
from ior_platform.core.errors import NotPermitted

EDITABLE = (*REQUIREMENT_CONTENT, "is_active")


@transaction.atomic
def requirement_revise(*, actor, requirement: DocumentRequirement, **changes) -> DocumentRequirement:
    """Replace a requirement by a new version carrying `changes`. The old version stays (inactive), because
    submitted shipments' checklists point at it; open shipments on the country's routes are flagged for review."""
    if not (actor.is_staff or actor.is_superuser):
        raise NotPermitted("only platform staff maintain the country requirements")
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise ValueError(f"cannot revise {', '.join(sorted(unknown))}")
    current = DocumentRequirement.objects.select_for_update().get(pk=requirement.pk)
    changed = {
        name: [getattr(current, name), value] for name, value in changes.items() if getattr(current, name) != value
    }
    if not changed:
        return current
    latest = DocumentRequirement.objects.filter(
        country=current.country,
        direction=current.direction,
        product_category=current.product_category,
        temperature_class=current.temperature_class,
        document_type=current.document_type,
    ).aggregate(v=Max("version"))["v"]
    current.is_active = False
    current.save(update_fields=["is_active"])
    revised = DocumentRequirement.objects.get(pk=current.pk)
    revised.pk = None
    revised.version = latest + 1
    revised.is_active = True
    for name, value in changes.items():
        setattr(revised, name, value)
    revised.full_clean()
    revised.save(force_insert=True)
    record_event(actor=actor, action="compliance.requirement_revised", target=revised, changes=changed)
    flag_open_shipments(
        country=current.country.country,
        directions={current.direction},
        reason=f"{current.country.country_name}'s requirement for {current.display_title} was revised",
    )
    return revised
