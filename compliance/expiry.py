"""Chasing permits and importer licences that run out before an open shipment's planned ship date. Like the
document deadlines, the state lives in the database: each (permit or licence, shipment) warning is a unique row,
so a repeated or concurrent sweep warns once."""

from django.db import IntegrityError, transaction
from django.db.models import F, Q

from compliance.models import ExpiryReminder, Permit
from parties.choices import LicenceType, MemberRole
from parties.models import Licence, User
from parties.notifications import notify
from shipments.choices import ShipmentStatus
from shipments.models import Shipment

# Until the goods leave, a lapsing authorisation can still be renewed in time.
OPEN_STATUSES = (
    ShipmentStatus.PERMIT_COLLECTION,
    ShipmentStatus.DOSSIER_REVIEW,
    ShipmentStatus.APPROVED,
    ShipmentStatus.EXPORT_CLEARED,
)
ACTING_ROLES = (MemberRole.EDITOR, MemberRole.MANAGER)


def _warn_once(*, key: str, shipment: Shipment, expires_on, subject: str, body: str, recipients, **subject_of) -> bool:
    try:
        with transaction.atomic():
            ExpiryReminder.objects.create(key=key, shipment=shipment, expires_on=expires_on, **subject_of)
            notify(recipients=recipients, kind="compliance.expiry", subject=subject, body=body, shipment=shipment)
    except IntegrityError:
        return False
    return True


def chase_expiries() -> dict[str, int]:
    """Warn the holder (and the sponsor) of every permit or import licence that expires before the planned ship
    date of an open shipment it is needed for. Returns how many warnings of each kind this sweep sent."""
    sent = {"permit": 0, "licence": 0}
    lapsing_permits = (
        Permit.objects.filter(
            Q(direction="import", country=F("trial__shipments__destination_country"))
            | Q(direction="export", country=F("trial__shipments__origin_country")),
            trial__shipments__status__in=OPEN_STATUSES,
            valid_until__lt=F("trial__shipments__planned_ship_date"),
        )
        .annotate(shipment_id=F("trial__shipments__id"))
        .select_related("holder")
        .order_by("pk")
    )
    for permit in lapsing_permits.iterator(chunk_size=500):
        shipment = Shipment.objects.select_related("sponsor").get(pk=permit.shipment_id)
        recipients = User.objects.filter(
            Q(organization=permit.holder) | Q(organization=shipment.sponsor),
            is_active=True,
            memberships__role__in=ACTING_ROLES,
        ).distinct()
        title = f"{permit.get_permit_type_display()} {permit.number}"
        sent["permit"] += _warn_once(
            key=f"permit:{permit.pk}:shipment:{shipment.pk}",
            shipment=shipment,
            permit=permit,
            expires_on=permit.valid_until,
            subject=f"[{shipment.reference}] {title} expires before the planned ship date",
            body=(
                f"{title} ({permit.authority}) is valid until {permit.valid_until:%Y-%m-%d}; shipment "
                f"{shipment.reference} is planned to ship on {shipment.planned_ship_date:%Y-%m-%d}. Renew it or "
                "re-plan the shipment."
            ),
            recipients=list(recipients),
        )
    lapsing_licences = (
        Licence.objects.filter(
            licence_type=LicenceType.IMPORT_LICENCE,
            organization__ior_shipments__status__in=OPEN_STATUSES,
            country=F("organization__ior_shipments__destination_country"),
            valid_until__lt=F("organization__ior_shipments__planned_ship_date"),
        )
        .annotate(shipment_id=F("organization__ior_shipments__id"))
        .order_by("pk")
    )
    for licence in lapsing_licences.iterator(chunk_size=500):
        shipment = Shipment.objects.select_related("sponsor").get(pk=licence.shipment_id)
        recipients = User.objects.filter(
            Q(organization_id=licence.organization_id, memberships__role=MemberRole.MANAGER)
            | Q(organization=shipment.sponsor, memberships__role__in=ACTING_ROLES),
            is_active=True,
        ).distinct()
        sent["licence"] += _warn_once(
            key=f"licence:{licence.pk}:shipment:{shipment.pk}",
            shipment=shipment,
            licence=licence,
            expires_on=licence.valid_until,
            subject=f"[{shipment.reference}] the IOR's import licence {licence.number} expires before shipping",
            body=(
                f"Import licence {licence.number} ({licence.issuing_authority}) is valid until "
                f"{licence.valid_until:%Y-%m-%d}; shipment {shipment.reference} is planned to ship on "
                f"{shipment.planned_ship_date:%Y-%m-%d}."
            ),
            recipients=list(recipients),
        )
    return sent
