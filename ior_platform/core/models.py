from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import models


class AuditEventQuerySet(models.QuerySet):
    def for_user(self, user):
        from ior_platform.core.tenancy import restrict

        return restrict(self, user)


class AuditEvent(models.Model):
    """One change that matters in the regulated record: who did what to which object, when and why.
    Append-only; each event carries the hash of the previous event in its chain, so a rewrite shows."""

    chain = models.CharField(max_length=64, help_text="The hash chain this event extends, e.g. shipment:42.")
    sequence = models.PositiveBigIntegerField()
    occurred_at = models.DateTimeField(db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="audit_events"
    )
    actor_label = models.CharField(max_length=200, help_text="The actor's name at the time, kept if the user changes.")
    organization = models.ForeignKey(
        "parties.Organization", null=True, blank=True, on_delete=models.PROTECT, related_name="audit_events"
    )
    shipment = models.ForeignKey(
        "shipments.Shipment", null=True, blank=True, on_delete=models.PROTECT, related_name="audit_events"
    )
    target_type = models.ForeignKey(ContentType, on_delete=models.PROTECT)
    target_id = models.CharField(max_length=64)
    target_repr = models.CharField(max_length=300)
    action = models.CharField(max_length=64)
    changes = models.JSONField(default=dict, blank=True, help_text="Field name to [old, new].")
    reason = models.TextField(blank=True)
    via = models.CharField(
        max_length=120,
        blank=True,
        help_text="The channel when not the browser, e.g. the API key used.",
    )
    prev_hash = models.CharField(max_length=64, blank=True)
    hash = models.CharField(max_length=64, unique=True)

    objects = AuditEventQuerySet.as_manager()

    tenancy = "audit"

    class Meta:
        ordering = ["occurred_at", "id"]
        constraints = [
            # Two writers extending one chain at once collide here instead of forking the chain.
            models.UniqueConstraint(fields=["chain", "sequence"], name="auditevent_chain_sequence_unique"),
        ]
        indexes = [models.Index(fields=["target_type", "target_id"]), models.Index(fields=["shipment", "sequence"])]

    def __str__(self) -> str:
        return f"{self.occurred_at:%Y-%m-%d %H:%M:%S} UTC {self.actor_label} {self.action} {self.target_repr}"

    @property
    def action_display(self) -> str:
        """'shipment.submit_dossier' reads as 'Shipment: submit dossier'."""
        subject, _, verb = self.action.partition(".")
        return f"{subject.capitalize()}: {verb.replace('_', ' ')}" if verb else self.action.replace("_", " ")


class TaskClaim(models.Model):
    """A unit of background work that has been done, keyed so that a retried or duplicated task
    finds its claim and does nothing twice."""

    key = models.CharField(max_length=200, unique=True)
    claimed_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.key


class DeadLetter(models.Model):
    """A background job (a notice, a dossier, a screening) that failed for good and so did not happen: kept with
    its error until staff have put the matter right by hand and acknowledged it."""

    task_name = models.CharField(max_length=200, db_index=True)
    task_id = models.CharField(max_length=255, unique=True)
    args = models.JSONField(default=list, blank=True)
    kwargs = models.JSONField(default=dict, blank=True)
    exception_type = models.CharField(max_length=200)
    exception_message = models.TextField(blank=True)
    traceback = models.TextField(blank=True, help_text="The end of the traceback, where the error was raised.")
    retries = models.PositiveSmallIntegerField(default=0, help_text="Retries before giving up; 0 if not retryable.")
    failed_at = models.DateTimeField(db_index=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="resolved_dead_letters"
    )
    resolution_note = models.TextField(blank=True, help_text="What was done instead, e.g. the notice sent by hand.")

    class Meta:
        ordering = ["-failed_at", "-id"]

    def __str__(self) -> str:
        return f"{self.task_name}[{self.task_id}]"


class IdempotencyRecord(models.Model):
    """The first answer to a POST made with an `Idempotency-Key`, replayed when a client retries the same request,
    so a network failure on the client's side never books a shipment twice."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=500)
    request_hash = models.CharField(max_length=64, help_text="SHA-256 of method, path and body.")
    status_code = models.PositiveSmallIntegerField(null=True, blank=True, help_text="Empty while the first is running.")
    response_body = models.BinaryField(blank=True, default=b"")
    response_headers = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="idempotencyrecord_user_key_unique")]

    def __str__(self) -> str:
        return f"{self.user_id} {self.method} {self.path} [{self.key}]"
