from django.db import models


class DocumentStatus(models.TextChoices):
    REQUESTED = "requested", "Requested"
    UPLOADED = "uploaded", "Uploaded"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    EXPIRED = "expired", "Expired"


class ReviewDecision(models.TextChoices):
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"


class SignatureMeaning(models.TextChoices):
    REVIEWED = "reviewed", "Reviewed"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    # Sponsor QA's disposition of goods in quarantine after a temperature excursion: signed over the excursion
    # record, not over the dossier.
    COLD_CHAIN_RELEASE = "coldchain_release", "Released after a temperature excursion"
    COLD_CHAIN_REJECT = "coldchain_reject", "Rejected after a temperature excursion"
    COLD_CHAIN_DESTROY = "coldchain_destroy", "Destruction ordered after a temperature excursion"


# The meanings signed over the dossier's manifest: the ones the dossier PDF prints and checks against it.
DOSSIER_SIGNATURE_MEANINGS = frozenset(
    {SignatureMeaning.REVIEWED, SignatureMeaning.APPROVED, SignatureMeaning.REJECTED}
)


class ArtifactStatus(models.TextChoices):
    PENDING = "pending", "Waiting to render"
    RENDERING = "rendering", "Rendering"
    READY = "ready", "Ready"
    FAILED = "failed", "Failed"
