from celery import shared_task

from documents.services import documents_expire_lapsed


@shared_task(acks_late=True)
def expire_lapsed_documents() -> int:
    return documents_expire_lapsed()
