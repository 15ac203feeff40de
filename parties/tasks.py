"""Background work that follows changes to organizations. Tasks take ids, are dispatched after commit,
and find work already done, so a retry or a duplicate delivery records nothing twice."""

from celery import shared_task

from ior_platform.core.celery_tasks import DurableTask
from parties.models import Organization
from parties.screening import ScreeningUnavailable, current_index, organization_screen
from parties.webhooks import webhook_delivery_attempt, webhooks_requeue_due


@shared_task(base=DurableTask, acks_late=True)
def screen_organization(organization_id: int) -> int | None:
    """Screen an organization against the restricted-party lists; the id of the screening, or None."""
    organization = Organization.objects.filter(pk=organization_id).first()
    if organization is None:
        return None
    latest = organization.screenings.first()
    list_changed_at = current_index().updated_at
    if latest and latest.screened_at >= max(m for m in (organization.updated_at, list_changed_at) if m):
        return latest.pk
    try:
        return organization_screen(organization=organization).pk
    except ScreeningUnavailable:
        # Nothing loaded yet; export clearance screens the organization once a list is.
        return None


@shared_task(base=DurableTask, acks_late=True)
def deliver_webhook(delivery_id: int) -> str:
    """One attempt of a webhook delivery, if it is due and not claimed; it schedules its own retry."""
    return webhook_delivery_attempt(delivery_id=delivery_id)


@shared_task(base=DurableTask, acks_late=True)
def requeue_due_webhook_deliveries() -> int:
    """Periodic: queue again the webhook deliveries whose message was lost."""
    return webhooks_requeue_due()
