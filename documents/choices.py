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


class ArtifactStatus(models.TextChoices):
    PENDING = "pending", "Waiting to render"
    RENDERING = "rendering", "Rendering"
    READY = "ready", "Ready"
    FAILED = "failed", "Failed"
