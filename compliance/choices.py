"""The regulatory vocabulary: product categories, temperature classes and document types are the
terms country requirements are written in, and shipments use the same terms."""

from decimal import Decimal

from django.db import models


class TradeDirection(models.TextChoices):
    IMPORT = "import", "Import"
    EXPORT = "export", "Export"


class ProductCategory(models.TextChoices):
    IMP = "imp", "Investigational medicinal product"
    DEVICE = "device", "Medical device"
    BIOLOGICAL_SAMPLE = "biological_sample", "Biological sample"
    ANCILLARY = "ancillary", "Ancillary supplies"
    LAB_KIT = "lab_kit", "Laboratory kit"


class TemperatureClass(models.TextChoices):
    AMBIENT = "ambient", "Ambient (15–25 °C)"
    REFRIGERATED = "refrigerated", "Refrigerated (2–8 °C)"
    FROZEN = "frozen", "Frozen (−25 to −15 °C)"
    DEEP_FROZEN = "deep_frozen", "Deep frozen (≤ −60 °C)"
    CRYOGENIC = "cryogenic", "Cryogenic (≤ −150 °C)"


# (low, high) in °C; None where the class has no bound on that side.
TEMPERATURE_RANGES: dict[str, tuple[Decimal | None, Decimal | None]] = {
    TemperatureClass.AMBIENT: (Decimal(15), Decimal(25)),
    TemperatureClass.REFRIGERATED: (Decimal(2), Decimal(8)),
    TemperatureClass.FROZEN: (Decimal(-25), Decimal(-15)),
    TemperatureClass.DEEP_FROZEN: (None, Decimal(-60)),
    TemperatureClass.CRYOGENIC: (None, Decimal(-150)),
}


class DocumentType(models.TextChoices):
    IMPORT_PERMIT = "import_permit", "Import permit / licence"
    TEST_LICENCE = "test_licence", "Test licence"
    NO_OBJECTION_LETTER = "no_objection_letter", "No objection letter"
    EXPORT_LICENCE = "export_licence", "Export licence"
    EXPORT_DECLARATION = "export_declaration", "Export declaration"
    IMPORT_DECLARATION = "import_declaration", "Import declaration"
    COMMERCIAL_INVOICE = "commercial_invoice", "Commercial invoice"
    PROFORMA_INVOICE = "proforma_invoice", "Pro forma invoice"
    PACKING_LIST = "packing_list", "Packing list"
    CERTIFICATE_OF_ANALYSIS = "certificate_of_analysis", "Certificate of analysis"
    GMP_CERTIFICATE = "gmp_certificate", "GMP certificate"
    QP_RELEASE = "qp_release", "QP release certificate"
    ETHICS_APPROVAL = "ethics_approval", "Ethics committee approval"
    REGULATORY_APPROVAL = "regulatory_approval", "Clinical trial regulatory approval"
    SAFETY_DATA_SHEET = "safety_data_sheet", "Safety data sheet"
    DANGEROUS_GOODS_DECLARATION = "dangerous_goods_declaration", "Dangerous goods declaration"
    AIRWAY_BILL = "airway_bill", "Air waybill"
    CERTIFICATE_OF_ORIGIN = "certificate_of_origin", "Certificate of origin"
    TEMPERATURE_RECORD = "temperature_record", "Temperature record"
    MATERIAL_TRANSFER_AGREEMENT = "material_transfer_agreement", "Material transfer agreement"
    LETTER_OF_AUTHORISATION = "letter_of_authorisation", "Letter of authorisation"
    PERMIT_TO_IMPORT_BIOLOGICALS = "permit_to_import_biologicals", "Permit to import biological material"
    STANDARD_CLEARANCE_REPORT = "standard_clearance_report", "Standard clearance report"


# Document types that are themselves authorisations to move the goods: missing one blocks the route.
PERMIT_TYPES = frozenset(
    {
        DocumentType.IMPORT_PERMIT,
        DocumentType.TEST_LICENCE,
        DocumentType.NO_OBJECTION_LETTER,
        DocumentType.EXPORT_LICENCE,
        DocumentType.PERMIT_TO_IMPORT_BIOLOGICALS,
    }
)
