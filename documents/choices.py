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
