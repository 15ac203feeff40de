from celery import shared_task

from documents.dossier import dossier_render
from documents.services import documents_expire_lapsed


@shared_task(acks_late=True)
def expire_lapsed_documents() -> int:
    return documents_expire_lapsed()


@shared_task(acks_late=True)
def render_dossier(artifact_id: int) -> str:
    """Safe to deliver twice: dossier_render claims the artifact, and a second delivery finds it claimed."""
    return dossier_render(artifact_id=artifact_id).status
