"""`Idempotency-Key` on POST: the first response is kept for 24 hours and replayed to retries of the same request.

The key is claimed by inserting its row before the work starts (the unique constraint makes two concurrent
retries race for one row), and the response is written when the work is done. A request that failed with a
server error forgets its key, so the client's retry runs again."""

import hashlib
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.http import HttpResponse
from django.utils import timezone
from rest_framework import exceptions

from ior_platform.core.api.errors import IdempotencyConflict, Replay
from ior_platform.core.models import IdempotencyRecord

TTL = timedelta(hours=24)
REPLAYED_HEADERS = ("Content-Type", "ETag", "Location")


def request_hash(*, method: str, path: str, body: bytes) -> str:
    digest = hashlib.sha256()
    for part in (method.encode(), b"\0", path.encode(), b"\0", body):
        digest.update(part)
    return digest.hexdigest()


def idempotency_begin(*, user, key: str, method: str, path: str, body: bytes) -> IdempotencyRecord:
    """Claim `key` for this request, or raise Replay with the stored answer, or IdempotencyConflict."""
    if not key or len(key) > 255 or not key.isprintable():
        raise exceptions.ValidationError({"Idempotency-Key": ["Use 1 to 255 printable characters, e.g. a UUID."]})
    fingerprint = request_hash(method=method, path=path, body=body)
    now = timezone.now()
    IdempotencyRecord.objects.filter(user=user, key=key, created_at__lt=now - TTL).delete()
    try:
        with transaction.atomic():
            return IdempotencyRecord.objects.create(
                user=user, key=key, method=method, path=path, request_hash=fingerprint, created_at=now
            )
    except IntegrityError:
        pass
    first = IdempotencyRecord.objects.filter(user=user, key=key).first()
    if first is None:
        # The other request failed and forgot the key between our insert and this read; the client may retry.
        raise IdempotencyConflict("A request with this Idempotency-Key just failed; retry it.")
    if first.request_hash != fingerprint:
        raise IdempotencyConflict("This Idempotency-Key was used for a different request; use a new key.")
    if first.status_code is None:
        raise IdempotencyConflict("A request with this Idempotency-Key is still being processed; retry shortly.")
    response = HttpResponse(bytes(first.response_body), status=first.status_code)
    for name, value in first.response_headers.items():
        response[name] = value
    response["Idempotent-Replayed"] = "true"
    raise Replay(response)


def idempotency_finish(record: IdempotencyRecord, response) -> None:
    if response.status_code >= 500:
        idempotency_forget(record)
        return
    if hasattr(response, "render") and not response.is_rendered:
        response.render()
    record.status_code = response.status_code
    record.response_body = response.content
    record.response_headers = {name: response[name] for name in REPLAYED_HEADERS if response.has_header(name)}
    record.save(update_fields=["status_code", "response_body", "response_headers"])


def idempotency_forget(record: IdempotencyRecord) -> None:
    IdempotencyRecord.objects.filter(pk=record.pk, status_code__isnull=True).delete()


def idempotency_purge() -> int:
    deleted, _ = IdempotencyRecord.objects.filter(created_at__lt=timezone.now() - TTL).delete()
    return deleted
