"""Why a transition cannot proceed now. Each guard returns the reasons as sentences a user can act on;
an empty list means the way is clear. Guards read, never write."""

from django.utils import timezone

from compliance.choices import TemperatureClass
from compliance.consistency import consistency_reasons
from compliance.models import CountryProfile
from compliance.permits import permit_reasons, permit_validity_reasons
from compliance.preflight import licence_reasons, screening_reasons
from documents.choices import DocumentStatus
from ior_platform.core.codes import country_name
from shipments.choices import QuarantineStatus, RouteKind, ShipmentStatus

Q = QuarantineStatus
S = ShipmentStatus
# Goods customs has released can no longer be held and then returned or destroyed; after sponsor QA rejected them
# following a temperature excursion they may still go back (a rejection) or be destroyed (either decision).
AFTER_CLEARANCE = frozenset({S.CLEARED, S.OUT_FOR_DELIVERY})
COLD_CHAIN_EXITS = {
    "return_to_origin": frozenset({Q.REJECTED}),
    "destroy": frozenset({Q.REJECTED, Q.DESTRUCTION_ORDERED}),
}
QUARANTINE_REASONS = {
    Q.QUARANTINED: "goods are in quarantine after a temperature excursion: a sponsor QA disposition is required",
    Q.REJECTED: "sponsor QA rejected the goods after a temperature excursion: return them to origin instead",
    Q.DESTRUCTION_ORDERED: "sponsor QA ordered the goods destroyed after a temperature excursion: record their "
    "destruction instead",
}


def _item_expiry_reasons(shipment) -> list[str]:
    reasons = []
    for item in shipment.items.all():
        if item.expiry_date and item.expiry_date < shipment.planned_ship_date:
            lot = f" lot {item.lot_number}" if item.lot_number else ""
            reasons.append(
                f"{item.product_name}{lot} expires on {item.expiry_date:%Y-%m-%d}, before the planned ship date"
            )
    return reasons


def _submit(shipment) -> list[str]:
    reasons = []
    if not shipment.items.exists():
        reasons.append("the shipment has no items")
    if shipment.route_kind == RouteKind.INTERNATIONAL:
        if shipment.ior_id is None:
            profile = CountryProfile.objects.filter(country=shipment.destination_country).first()
            if profile and profile.local_ior_mandatory:
                reasons.append(f"no IOR assigned, and {country_name(shipment.destination_country)} requires one")
            else:
                reasons.append("no importer of record assigned for an international shipment")
        if shipment.eor_id is None:
            reasons.append("no exporter of record assigned for an international shipment")
    if shipment.consignee_id is None:
        reasons.append("no consignee assigned to receive the goods")
    if shipment.planned_ship_date < timezone.localdate():
        reasons.append(f"the planned ship date {shipment.planned_ship_date:%Y-%m-%d} is in the past")
    if not shipment.declared_value:
        reasons.append("the declared value is zero")
    reasons.extend(_item_expiry_reasons(shipment))
    reasons.extend(screening_reasons(_parties(shipment)))
    return reasons


def _documents_not_in(shipment, statuses: set[str], wording: str) -> list[str]:
    missing = [doc for doc in shipment.documents.all() if doc.status not in statuses]
    if not missing:
        return []
    rejected = [d for d in missing if d.status == DocumentStatus.REJECTED]
    names = ", ".join(d.label for d in missing)
    noun = "document" if len(missing) == 1 else "documents"
    reason = f"{len(missing)} required {noun} {wording}: {names}"
    if rejected:
        reason += f" ({len(rejected)} rejected, awaiting a new version)"
    return [reason]


def _submit_dossier(shipment) -> list[str]:
    return _documents_not_in(shipment, {DocumentStatus.UPLOADED, DocumentStatus.APPROVED}, "not uploaded yet")


def _parties(shipment):
    return [shipment.sponsor, shipment.ior, shipment.eor, shipment.consignee, shipment.broker]


def _approve(shipment) -> list[str]:
    reasons = []
    if shipment.compliance_flag:
        reasons.append(f"{shipment.compliance_flag} (an IOR reviewer must re-check the checklist)")
    reasons.extend(_documents_not_in(shipment, {DocumentStatus.APPROVED}, "not approved"))
    reasons.extend(_item_expiry_reasons(shipment))
    if shipment.route_kind == RouteKind.INTERNATIONAL and shipment.ior_id:
        reasons.extend(
            licence_reasons(shipment.ior, country=shipment.destination_country, day=shipment.planned_ship_date)
        )
    reasons.extend(consistency_reasons(shipment))
    reasons.extend(permit_reasons(shipment))
    reasons.extend(screening_reasons(_parties(shipment)))
    return reasons


def _clear_export(shipment) -> list[str]:
    if not shipment.needs_export_clearance:
        return [
            f"a {shipment.get_route_kind_display().lower()} shipment needs no export clearance; dispatch it directly"
        ]
    return screening_reasons(_parties(shipment))


def _dispatch(shipment) -> list[str]:
    reasons = []
    if shipment.status == ShipmentStatus.APPROVED and shipment.needs_export_clearance:
        reasons.append(f"export clearance in {country_name(shipment.origin_country)} is required before dispatch")
    if not (shipment.airway_bill or shipment.tracking_number):
        reasons.append("no air waybill or tracking number recorded")
    reasons.extend(permit_validity_reasons(shipment, on_day=max(timezone.localdate(), shipment.planned_ship_date)))
    return reasons


def _clear(shipment) -> list[str]:
    if shipment.route_kind == RouteKind.INTERNATIONAL and not shipment.customs_entry_number:
        return ["no customs entry number recorded"]
    return []


# The site confirms delivery with the temperature record (DOMAIN.md): goods that travel cold are delivered only once
# a logger file is on the shipment, because without one an excursion would never be found and nothing would put the
# goods in quarantine. Ambient goods (equipment, room-temperature products) often travel without a logger.
LOGGED_CLASSES = frozenset(
    {TemperatureClass.REFRIGERATED, TemperatureClass.FROZEN, TemperatureClass.DEEP_FROZEN, TemperatureClass.CRYOGENIC}
)


def _deliver(shipment) -> list[str]:
    reasons = []
    quarantine = QUARANTINE_REASONS.get(shipment.quarantine_status)
    if quarantine:
        reasons.append(quarantine)
    if shipment.temperature_class in LOGGED_CLASSES and not shipment.temperature_logs.exists():
        reasons.append(
            f"no temperature record: a {shipment.temperature_range} shipment is delivered with its logger file, "
            "uploaded on the shipment page"
        )
    return reasons


def cold_chain_exit_open(shipment, name: str) -> bool:
    """Whether `name` (return to origin, destroy) is open from a state after customs clearance: only for goods that
    sponsor QA decided may not be delivered. From any other state the lifecycle alone decides."""
    if shipment.status not in AFTER_CLEARANCE or name not in COLD_CHAIN_EXITS:
        return True
    return shipment.quarantine_status in COLD_CHAIN_EXITS[name]


def _cold_chain_exit(name: str, wording: str):
    def check(shipment) -> list[str]:
        if cold_chain_exit_open(shipment, name):
            return []
        return [
            f"goods cleared through customs are {wording} only after sponsor QA so decided following a temperature "
            "excursion"
        ]

    return check


GUARDS = {
    "submit": _submit,
    "submit_dossier": _submit_dossier,
    "approve": _approve,
    "clear_export": _clear_export,
    "dispatch": _dispatch,
    "clear": _clear,
    "deliver": _deliver,
    "return_to_origin": _cold_chain_exit("return_to_origin", "returned to origin"),
    "destroy": _cold_chain_exit("destroy", "destroyed"),
}


def blockers(shipment, name: str) -> list[str]:
    check = GUARDS.get(name)
    return check(shipment) if check else []
