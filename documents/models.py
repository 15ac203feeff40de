import uuid

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from compliance.choices import DocumentType, TradeDirection
from documents.choices import ArtifactStatus, DocumentStatus, ReviewDecision, SignatureMeaning
from ior_platform.core.tenancy import TenantQuerySet
from parties.choices import PartyRole


def version_upload_path(instance: "DocumentVersion", filename: str) -> str:
    # The user's file name never reaches the file system: it could be a path, a device or a duplicate.
    return f"documents/{instance.document.shipment_id}/{uuid.uuid4().hex}"


class Document(models.Model):
    """One entry of a shipment's document checklist: a document a country requires on the export or import
    side, the party that owes it and by when. Its uploads are DocumentVersions."""

    shipment = models.ForeignKey("shipments.Shipment", on_delete=models.CASCADE, related_name="documents")
    requirement = models.ForeignKey(
        "compliance.DocumentRequirement", null=True, blank=True, on_delete=models.PROTECT, related_name="documents"
    )
    side = models.CharField(max_length=10, choices=TradeDirection.choices)
    document_type = models.CharField(max_length=40, choices=DocumentType.choices)
    title = models.CharField(max_length=200, blank=True, help_text="Snapshot of the requirement's local name.")
    owed_by_role = models.CharField(max_length=20, choices=PartyRole.choices)
    owed_by = models.ForeignKey(
        "parties.Organization", null=True, blank=True, on_delete=models.PROTECT, related_name="owed_documents"
    )
    due_date = models.DateField()
    lead_time_days = models.PositiveSmallIntegerField(null=True, blank=True, help_text="Snapshot at submission.")
    validity_days = models.PositiveIntegerField(null=True, blank=True, help_text="Snapshot at submission.")
    legal_basis = models.CharField(max_length=300, blank=True, help_text="Snapshot at submission.")
    source = models.CharField(max_length=500, blank=True, help_text="Snapshot at submission.")
    status = models.CharField(max_length=20, choices=DocumentStatus.choices, default=DocumentStatus.REQUESTED)
    valid_from = models.DateField(null=True, blank=True)
    valid_until = models.DateField(null=True, blank=True)
    declared_lines = models.JSONField(
        default=list,
        blank=True,
        help_text='What an invoice or permit states, for cross-checks: [{"product_name": ..., "quantity": ...}].',
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TenantQuerySet.as_manager()
    tenancy = ("shipment", "shipment__")

    class Meta:
        ordering = ["shipment", "side", "due_date", "document_type"]
        constraints = [
            models.UniqueConstraint(fields=["shipment", "side", "document_type"], name="document_once_per_side"),
            models.CheckConstraint(
                condition=Q(valid_until__isnull=True)
                | Q(valid_from__isnull=True)
                | Q(valid_until__gte=F("valid_from")),
                name="document_validity_ordered",
            ),
            models.CheckConstraint(condition=Q(status__in=DocumentStatus.values), name="document_status_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.shipment}: {self.label}"

    @property
    def label(self) -> str:
        return f"{self.title or self.get_document_type_display()} ({self.get_side_display().lower()})"


class DocumentVersion(models.Model):
    """One uploaded file for a checklist document. Versions are never overwritten; the newest is the one reviewed."""

    document = models.ForeignKey(Document, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField()
    file = models.FileField(upload_to=version_upload_path, max_length=300)
    original_name = models.CharField(max_length=255, help_text="For display only.")
    size = models.PositiveBigIntegerField()
    content_type = models.CharField(max_length=100)
    sha256 = models.CharField(max_length=64)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    uploaded_at = models.DateTimeField(auto_now_add=True)
    review_decision = models.CharField(max_length=10, choices=ReviewDecision.choices, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    review_comment = models.TextField(blank=True)

    objects = TenantQuerySet.as_manager()
    tenancy = ("shipment", "document__shipment__")

    class Meta:
        ordering = ["document", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["document", "number"], name="documentversion_number_unique"),
            models.CheckConstraint(condition=Q(size__gt=0), name="documentversion_not_empty"),
            models.CheckConstraint(
                condition=Q(review_decision="") | Q(reviewed_by__isnull=False, reviewed_at__isnull=False),
                name="documentversion_review_has_reviewer",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.document.label} v{self.number} ({self.original_name})"


class ElectronicSignature(models.Model):
    """A person's signature on a shipment's dossier (21 CFR Part 11): who, with what meaning, when, and the
    SHA-256 of exactly what was signed. A later change to what was signed invalidates it; it is never deleted."""

    shipment = models.ForeignKey("shipments.Shipment", on_delete=models.PROTECT, related_name="signatures")
    signer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="signatures")
    signer_name = models.CharField(max_length=200, help_text="The signer's printed name at the time of signing.")
    signer_organization = models.CharField(max_length=200)
    meaning = models.CharField(max_length=20, choices=SignatureMeaning.choices)
    signed_at = models.DateTimeField()
    manifest = models.JSONField(help_text="The canonical manifest that was signed.")
    manifest_sha256 = models.CharField(max_length=64)
    comment = models.TextField(blank=True)
    invalidated_at = models.DateTimeField(null=True, blank=True)
    invalidation_reason = models.TextField(blank=True)

    objects = TenantQuerySet.as_manager()
    tenancy = ("shipment", "shipment__")

    class Meta:
        ordering = ["shipment", "signed_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(invalidated_at__isnull=True) | ~Q(invalidation_reason=""),
                name="signature_invalidation_has_reason",
            ),
        ]

    def __str__(self) -> str:
        return (
            f"{self.signer_name}: {self.get_meaning_display()} {self.shipment} at {self.signed_at:%Y-%m-%d %H:%M} UTC"
        )

    @property
    def is_valid(self) -> bool:
        return self.invalidated_at is None


class SigningAttempt(models.Model):
    """One try at signing, kept so that repeated wrong passwords lock signing for that user."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="signing_attempts")
    attempted_at = models.DateTimeField(db_index=True)
    succeeded = models.BooleanField()

    def __str__(self) -> str:
        return f"{self.user} {'signed' if self.succeeded else 'failed'} at {self.attempted_at:%Y-%m-%d %H:%M}"


def artifact_upload_path(instance: "DossierArtifact", filename: str) -> str:
    return f"dossiers/{instance.shipment_id}/{uuid.uuid4().hex}.pdf"


class DossierArtifact(models.Model):
    """One rendering of a shipment's dossier as a PDF. Immutable once ready: a new rendering is a new artifact,
    and one that carries signatures is never replaced."""

    shipment = models.ForeignKey("shipments.Shipment", on_delete=models.PROTECT, related_name="dossier_artifacts")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField(auto_now_add=True)
    status = models.CharField(max_length=20, choices=ArtifactStatus.choices, default=ArtifactStatus.PENDING)
    progress = models.PositiveSmallIntegerField(default=0, help_text="Percent, for the progress bar.")
    file = models.FileField(upload_to=artifact_upload_path, max_length=300, blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    size = models.PositiveBigIntegerField(null=True, blank=True)
    pages = models.PositiveIntegerField(null=True, blank=True)
    manifest_sha256 = models.CharField(max_length=64, blank=True)
    signature_count = models.PositiveSmallIntegerField(default=0)
    rendered_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    objects = TenantQuerySet.as_manager()
    tenancy = ("shipment", "shipment__")

    class Meta:
        ordering = ["shipment", "-requested_at"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(status="ready") | (~Q(sha256="") & ~Q(file="")), name="dossierartifact_ready_has_file"
            ),
            models.CheckConstraint(condition=Q(progress__lte=100), name="dossierartifact_progress_percent"),
        ]

    def __str__(self) -> str:
        return f"Dossier {self.shipment} ({self.get_status_display()}, {self.requested_at:%Y-%m-%d %H:%M})"


# Stages belong in choices.py by the house rule; they live here only while that file is someone else's.
class ReminderStage(models.TextChoices):
    D7 = "d7", "7 days before due"
    D3 = "d3", "3 days before due"
    D1 = "d1", "1 day before due"
    DUE = "due", "Due today"
    OVERDUE = "overdue", "Overdue"
    ESCALATED = "escalated", "Escalated"


class DocumentReminder(models.Model):
    """One chase of the party that owes a checklist document: a stage before, on or after its due date. Each stage
    is sent at most once per document, however many sweeps run."""

    # A sweep creates reminders by the hundred thousand in one INSERT … SELECT from the documents table itself, so
    # each document_id exists when written; a database foreign key would re-check every row at commit, which
    # measured at twice the insert. Deletion still cascades, through the ORM (documents are deleted only with
    # their draft shipment). No index of its own either: the unique (document, stage) index leads with it.
    document = models.ForeignKey(
        Document, on_delete=models.CASCADE, related_name="reminders", db_index=False, db_constraint=False
    )
    stage = models.CharField(max_length=10, choices=ReminderStage.choices)
    due_date = models.DateField(help_text="The document's due date when the reminder was created.")
    created_at = models.DateTimeField(auto_now_add=True)
    notified_at = models.DateTimeField(null=True, blank=True, help_text="When delivery claimed and sent it.")

    objects = TenantQuerySet.as_manager()
    tenancy = ("shipment", "document__shipment__")

    class Meta:
        ordering = ["document", "created_at"]
        constraints = [
            models.UniqueConstraint(fields=["document", "stage"], name="documentreminder_once_per_stage"),
            models.CheckConstraint(
                condition=Q(stage__in=["d7", "d3", "d1", "due", "overdue", "escalated"]),
                name="documentreminder_stage_valid",
            ),
        ]
        # Delivery takes the oldest unsent reminders chunk after chunk: this index holds only those, so a claim
        # costs the same however many reminders were ever sent.
        indexes = [models.Index(fields=["id"], condition=Q(notified_at__isnull=True), name="documentreminder_unsent")]

    def __str__(self) -> str:
        return f"{self.document}: {self.get_stage_display()}"
