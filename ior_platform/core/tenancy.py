"""Who may see what: the one rule every read goes through (API, pages, selectors, tasks, PDFs, e-mails).

An organization sees the shipments it plays a role in; a CRO also sees the shipments of the sponsors
that authorised it; platform staff see everything. Everything else (items, documents, trials,
organizations, audit events) is visible through the shipments it belongs to. An object outside the
rule is simply absent from the queryset, so views answer 404, exactly as for a missing one."""

from django.db.models import Q, QuerySet
from django.utils import timezone

PARTY_FIELDS = ("sponsor", "ior", "eor", "consignee", "broker", "courier")


def sees_everything(user) -> bool:
    return bool(user and user.is_active and (user.is_superuser or user.is_staff))


def _authorising_sponsors(organization_id: int) -> QuerySet:
    """The sponsors whose current authorisation lets `organization_id` act for them as a CRO."""
    from parties.models import SponsorAuthorisation

    today = timezone.now().date()
    return (
        SponsorAuthorisation.objects.filter(cro_id=organization_id, revoked_at__isnull=True, valid_from__lte=today)
        .filter(Q(valid_until__isnull=True) | Q(valid_until__gte=today))
        .values("sponsor_id")
    )


def acting_sponsor_ids(organization_id: int) -> Q:
    """Organizations `organization_id` acts for as sponsor: itself, and as a CRO the sponsors that authorised it."""
    return Q(pk=organization_id) | Q(pk__in=_authorising_sponsors(organization_id))


def shipment_rule(user) -> Q:
    org_id = user.organization_id
    parties = Q()
    for field in PARTY_FIELDS[1:]:
        parties |= Q(**{f"{field}_id": org_id})
    # The sponsor side without a detour through the organization table: every shipment list pays for this clause.
    return parties | Q(sponsor_id=org_id) | Q(sponsor_id__in=_authorising_sponsors(org_id))


def visible_shipments(user) -> QuerySet:
    from shipments.models import Shipment

    return restrict(Shipment.objects.all(), user)


def _rule(kind: str, user) -> Q:
    from parties.models import Organization

    if kind == "shipment":
        return shipment_rule(user)
    if kind == "own_organization":
        # Credentials and integrations: only the organization's own users, never its partners or CROs.
        return Q(pk=user.organization_id)
    shipments = visible_shipments(user)
    if kind == "trial":
        return Q(sponsor__in=Organization.objects.filter(acting_sponsor_ids(user.organization_id))) | Q(
            pk__in=shipments.values("trial_id")
        )
    if kind == "organization":
        from parties.models import SponsorAuthorisation

        their_cros = SponsorAuthorisation.objects.filter(sponsor_id=user.organization_id).values("cro_id")
        rule = acting_sponsor_ids(user.organization_id) | Q(pk__in=their_cros)
        for field in PARTY_FIELDS:
            rule |= Q(pk__in=shipments.values(f"{field}_id"))
        return rule
    if kind == "audit":
        return Q(shipment__in=shipments.values("pk")) | Q(shipment__isnull=True, organization_id=user.organization_id)
    raise ValueError(f"unknown tenancy rule {kind!r}")


def _prefixed(q: Q, prefix: str) -> Q:
    if not prefix:
        return q
    clone = Q.create(connector=q.connector, negated=q.negated)
    for child in q.children:
        clone.children.append(_prefixed(child, prefix) if isinstance(child, Q) else (prefix + child[0], child[1]))
    return clone


def restrict(queryset: QuerySet, user) -> QuerySet:
    """`queryset` narrowed to what `user` may see. Models declare `tenancy = "rule"` or `("rule", "path__")`."""
    if sees_everything(user):
        return queryset
    if not user or not user.is_authenticated or not user.is_active or not user.organization_id:
        return queryset.none()
    tenancy = queryset.model.tenancy
    kind, prefix = (tenancy, "") if isinstance(tenancy, str) else tenancy
    return queryset.filter(_prefixed(_rule(kind, user), prefix))


class TenantQuerySet(QuerySet):
    def for_user(self, user) -> QuerySet:
        return restrict(self, user)
