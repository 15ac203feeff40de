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


@shared_task(base=DurableTask, acks_late=True)
def chase_document_deadlines() -> dict[str, int]:
    """Safe to run twice at once: each (document, stage) reminder and each expiry warning is a unique row."""
    sent = deadlines.chase_document_deadlines()
    sent.update({f"expiry_{kind}": count for kind, count in chase_expiries().items()})
    return sent
