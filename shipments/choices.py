from django.db import models


class ShipmentStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    PERMIT_COLLECTION = "permit_collection", "Permit collection"
    DOSSIER_REVIEW = "dossier_review", "Dossier review"
    APPROVED = "approved", "Approved"
    EXPORT_CLEARED = "export_cleared", "Export cleared"
    IN_TRANSIT = "in_transit", "In transit"
    CUSTOMS_CLEARANCE = "customs_clearance", "Customs clearance"
    CUSTOMS_HOLD = "customs_hold", "Customs hold"
    CLEARED = "cleared", "Cleared"
    OUT_FOR_DELIVERY = "out_for_delivery", "Out for delivery"
    DELIVERED = "delivered", "Delivered"
    RETURNED = "returned", "Returned to origin"
    DESTROYED = "destroyed", "Destroyed"
    CANCELLED = "cancelled", "Cancelled"


FINAL_STATUSES = frozenset(
    {ShipmentStatus.DELIVERED, ShipmentStatus.RETURNED, ShipmentStatus.DESTROYED, ShipmentStatus.CANCELLED}
)
# From approval on the goods are packed and on their way (or were): what happens to them physically, a logger's
# record or a courier's scan, is recorded from here until the shipment is closed, a cancelled one never having moved.
GOODS_MOVING_STATUSES = frozenset(
    {
        ShipmentStatus.APPROVED,
        ShipmentStatus.EXPORT_CLEARED,
        ShipmentStatus.IN_TRANSIT,
        ShipmentStatus.CUSTOMS_CLEARANCE,
        ShipmentStatus.CUSTOMS_HOLD,
        ShipmentStatus.CLEARED,
        ShipmentStatus.OUT_FOR_DELIVERY,
        ShipmentStatus.DELIVERED,
        ShipmentStatus.RETURNED,
        ShipmentStatus.DESTROYED,
    }
)


class RouteKind(models.TextChoices):
    """Derived from the two countries: whether goods cross a customs border at all."""

    DOMESTIC = "domestic", "Domestic"
    CUSTOMS_UNION = "customs_union", "Within the EU customs union"
    INTERNATIONAL = "international", "International"


class Incoterm(models.TextChoices):
    EXW = "EXW", "EXW – Ex works"
    FCA = "FCA", "FCA – Free carrier"
    CPT = "CPT", "CPT – Carriage paid to"
    CIP = "CIP", "CIP – Carriage and insurance paid to"
    DAP = "DAP", "DAP – Delivered at place"
    DPU = "DPU", "DPU – Delivered at place unloaded"
    DDP = "DDP", "DDP – Delivered duty paid"


class DutiesPayer(models.TextChoices):
    SPONSOR = "sponsor", "Sponsor"
    IOR = "ior", "Importer of record"
    CONSIGNEE = "consignee", "Consignee"


class QuantityUnit(models.TextChoices):
    EACH = "each", "each"
    VIAL = "vial", "vials"
    KIT = "kit", "kits"
    BOX = "box", "boxes"
    PACK = "pack", "packs"
    BOTTLE = "bottle", "bottles"
    SYRINGE = "syringe", "syringes"
    TUBE = "tube", "tubes"
    ML = "ml", "mL"
    G = "g", "g"


class TrialPhase(models.TextChoices):
    PHASE_1 = "1", "Phase I"
    PHASE_2 = "2", "Phase II"
    PHASE_3 = "3", "Phase III"
    PHASE_4 = "4", "Phase IV"


class ExcursionDirection(models.TextChoices):
    ABOVE = "above", "Above range"
    BELOW = "below", "Below range"


class LoggerLayout(models.TextChoices):
    """How a logger export was laid out: what the parser recognised, kept with the log for the record."""

    CSV = "csv", "Delimited text with a header row"
    TOA5 = "toa5", "Campbell Scientific TOA5"


class QuarantineStatus(models.TextChoices):
    """Where the goods stand after the temperature excursions of their shipment: held until the sponsor's quality
    assurance decides, then released, rejected or to be destroyed."""

    NONE = "none", "Not in quarantine"
    QUARANTINED = "quarantined", "In quarantine: awaiting sponsor QA"
    RELEASED = "released", "Released by sponsor QA"
    REJECTED = "rejected", "Rejected by sponsor QA"
    DESTRUCTION_ORDERED = "destruction_ordered", "Destruction ordered by sponsor QA"


class DispositionDecision(models.TextChoices):
    """What sponsor QA decides about goods in quarantine after a temperature excursion."""

    RELEASE = "release", "Release: the goods may be delivered and used"
    REJECT = "reject", "Reject: the goods go back to origin"
    DESTROY = "destroy", "Destroy: the goods are destroyed where they are"


DISPOSITION_OUTCOMES = {
    DispositionDecision.RELEASE: QuarantineStatus.RELEASED,
    DispositionDecision.REJECT: QuarantineStatus.REJECTED,
    DispositionDecision.DESTROY: QuarantineStatus.DESTRUCTION_ORDERED,
}


class TrackingEventCode(models.TextChoices):
    """What a courier's scan says happened to the goods."""

    PICKED_UP = "picked_up", "Picked up"
    DEPARTED = "departed", "Departed"
    ARRIVED = "arrived", "Arrived"
    IN_CUSTOMS = "in_customs", "In customs"
    CUSTOMS_RELEASED = "customs_released", "Released by customs"
    OUT_FOR_DELIVERY = "out_for_delivery", "Out for delivery"
    DELIVERED = "delivered", "Delivered"
    EXCEPTION = "exception", "Exception"
    INFO = "info", "Information"


class RecordedVia(models.TextChoices):
    PAGE = "page", "Shipment page"
    API = "api", "API"
    PLATFORM = "platform", "Platform"
