"""Writes to organizations and to a user's own settings. Each change to an organization is audited in its own
transaction; screening against the restricted-party lists follows after commit, in a worker that reads the committed
row."""

import zoneinfo

from django.core.exceptions import ValidationError
from django.db import transaction

from ior_platform.core.audit import diff, record_event, snapshot
from ior_platform.core.errors import NotPermitted
from ior_platform.core.tenancy import sees_everything
from parties.models import Organization, OrganizationRole
from parties.notifications import preference_set
from parties.tasks import screen_organization

ORGANIZATION_FIELDS = ("name", "legal_name", "country", "registration_number", "website", "is_active")
# Only these are compared with the lists; addresses are edited elsewhere and screened with them.
SCREENED_FIELDS = frozenset({"name", "legal_name"})


def _reject_unknown(data: dict) -> None:
    unknown = sorted(set(data) - set(ORGANIZATION_FIELDS))
    if unknown:
        raise ValidationError(dict.fromkeys(unknown, "This field cannot be set here."))


@transaction.atomic
def organization_create(*, actor, roles: tuple[str, ...] | list[str] = (), **data) -> Organization:
    """Add an organization with the roles it may take; it is screened once the transaction commits."""
    _reject_unknown(data)
    if not sees_everything(actor):
        raise NotPermitted("only platform staff may add organizations")
    organization = Organization(**data)
    organization.full_clean()
    organization.save()
    for role in dict.fromkeys(roles):
        party_role = OrganizationRole(organization=organization, role=role)
        party_role.full_clean(exclude=["organization"])
        party_role.save()
    changes = {name: [None, getattr(organization, name)] for name in ORGANIZATION_FIELDS}
    record_event(
        actor=actor,
        action="organization.created",
        target=organization,
        organization=organization,
        changes={**changes, "roles": [None, sorted(set(roles))]},
    )
    screen_organization.delay_on_commit(organization.pk)
    return organization


@transaction.atomic
def organization_update(*, actor, organization: Organization, **data) -> Organization:
    """Change an organization's particulars; a new name is screened again once the transaction commits."""
    _reject_unknown(data)
    own_manager = actor.organization_id == organization.pk and actor.has_member_role("manager")
    if not (sees_everything(actor) or own_manager):
        raise NotPermitted("only platform staff or the organization's managers may change it")
    locked = Organization.objects.select_for_update().get(pk=organization.pk)
    before = snapshot(locked, data)
    for name, value in data.items():
        setattr(locked, name, value)
    locked.full_clean()
    locked.save()
    changes = diff(locked, before, data)
    if changes:
        record_event(actor=actor, action="organization.updated", target=locked, organization=locked, changes=changes)
    if SCREENED_FIELDS & changes.keys():
        screen_organization.delay_on_commit(locked.pk)
    return locked


@transaction.atomic
def user_preferences_set(*, actor, email_mode: str, digest_hour: int | None, time_zone: str) -> None:
    """How `actor` wants notifications e-mailed and in which zone their times are shown. Their own settings, not a
    record of the trade, so not audited (the notification preference never was)."""
    try:
        zoneinfo.ZoneInfo(time_zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValidationError({"time_zone": f"“{time_zone}” is not a time zone."}) from None
    preference_set(user=actor, email_mode=email_mode, digest_hour=digest_hour)
    if time_zone != actor.time_zone:
        actor.time_zone = time_zone
        actor.save(update_fields=["time_zone"])
