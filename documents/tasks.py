from celery import shared_task

from compliance.expiry import chase_expiries
from documents import deadlines
from documents.dossier import dossier_render
from documents.services import documents_expire_lapsed
from ior_platform.core.celery_tasks import DurableTask


@shared_task(base=DurableTask, acks_late=True)
def expire_lapsed_documents() -> int:
    return documents_expire_lapsed()


@shared_task(base=DurableTask, acks_late=True)
def render_dossier(artifact_id: int) -> str:
    """Safe to deliver twice: dossier_render claims the artifact, and a second delivery finds it claimed."""
    return dossier_render(artifact_id=artifact_id).status


# Workers that drain reminders at once after a sweep; each takes a share through SKIP LOCKED.
DELIVERY_FANOUT = 4
CHUNKS_PER_DELIVERY = 50


@shared_task(base=DurableTask, acks_late=True)
def chase_document_deadlines() -> dict[str, int]:
    """Safe to run twice at once: each (document, stage) reminder and each expiry warning is a unique row. Delivery
    goes to the notifications queue; reminders a lost delivery task left unsent are queued again by the next sweep."""
    created = deadlines.reminders_create_due()
    unsent = deadlines.reminders_unsent()
    if unsent:
        tasks = min(DELIVERY_FANOUT, -(-unsent // deadlines.DELIVERY_CHUNK))
        for _ in range(tasks):
            deliver_document_reminders.delay()
    return {"created": created, "unsent": unsent, **{f"expiry_{kind}": n for kind, n in chase_expiries().items()}}


@shared_task(base=DurableTask, acks_late=True)
def deliver_document_reminders() -> dict[str, int]:
    """Send up to CHUNKS_PER_DELIVERY chunks of unsent reminders, then hand the rest to a fresh task, so no task
    outlives its time limit. Safe to run on many workers at once and to deliver twice: each chunk is claimed."""
    sent = deadlines.reminders_deliver(chunk_size=deadlines.DELIVERY_CHUNK, max_chunks=CHUNKS_PER_DELIVERY)
    if sum(sent.values()) and deadlines.reminders_unsent():
        deliver_document_reminders.delay()
    return dict(sent)
