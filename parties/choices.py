from django.db import models


class PartyRole(models.TextChoices):
    SPONSOR = "sponsor", "Sponsor"
    CRO = "cro", "CRO"
    IOR = "ior", "Importer of record"
    EOR = "eor", "Exporter of record"
    BROKER = "broker", "Customs broker"
    CONSIGNEE = "consignee", "Consignee / site"
    COURIER = "courier", "Courier"


class MemberRole(models.TextChoices):
    VIEWER = "viewer", "Viewer"
    EDITOR = "editor", "Editor"
    REVIEWER = "reviewer", "Reviewer"
    MANAGER = "manager", "Manager"
    # Good Distribution Practice gives the decision on goods after a temperature excursion to the owner's quality
    # unit, not to whoever ships or manages them.
    QA = "qa", "Quality assurance"


class LicenceType(models.TextChoices):
    IMPORT_LICENCE = "import_licence", "Import licence"
    EXPORT_LICENCE = "export_licence", "Export licence"
    WHOLESALE_DISTRIBUTION = "wholesale_distribution", "Wholesale distribution authorisation"
    GDP_CERTIFICATE = "gdp_certificate", "GDP certificate"
    GMP_CERTIFICATE = "gmp_certificate", "GMP certificate"
    CUSTOMS_BROKER = "customs_broker", "Customs broker licence"
    CONTROLLED_SUBSTANCES = "controlled_substances", "Controlled substances licence"
    DANGEROUS_GOODS = "dangerous_goods", "Dangerous goods certification"


class ApiScope(models.TextChoices):
    READ = "read", "Read"
    WRITE = "write", "Read and write"


class WebhookEvent(models.TextChoices):
    SHIPMENT_STATUS_CHANGED = "shipment.status_changed", "Shipment status changed"
    DOCUMENT_REQUESTED = "document.requested", "Document requested"
    DOCUMENT_REJECTED = "document.rejected", "Document rejected"
    DOCUMENT_APPROVED = "document.approved", "Document approved"
    DOCUMENT_OVERDUE = "document.overdue", "Document overdue"
    EXCURSION = "shipment.excursion", "Temperature excursion"
    # Sent only on request, to check an endpoint; never subscribed to.
    PING = "ping", "Ping (test)"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SUCCEEDED = "succeeded", "Delivered"
    FAILED = "failed", "Failed"
