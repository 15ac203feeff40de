"""One JSON shape for every API error: {"detail": ..., "errors": {field: [...]}, "reasons": [...]}.

`errors` appears on 400 (field name to messages), `reasons` on 409 and 403 (what blocks the request)."""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from ior_platform.core.errors import ConflictError, NotPermitted, TransitionRefused


class PreconditionFailed(exceptions.APIException):
    status_code = status.HTTP_412_PRECONDITION_FAILED
    default_detail = "The object changed since you read it (If-Match does not match its ETag); fetch it again."
    default_code = "precondition_failed"


class IdempotencyConflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "idempotency_conflict"


class Replay(Exception):
    """Raised to answer a retried POST with the response its Idempotency-Key already got."""

    def __init__(self, response):
        self.response = response
        super().__init__("idempotent replay")


def _field_errors(detail) -> dict:
    if isinstance(detail, dict):
        return detail
    return {"non_field_errors": detail if isinstance(detail, list) else [detail]}


def exception_handler(exc, context):
    if isinstance(exc, Replay):
        return exc.response
    if isinstance(exc, TransitionRefused | ConflictError):
        return Response({"detail": str(exc), "reasons": exc.reasons}, status=status.HTTP_409_CONFLICT)
    if isinstance(exc, NotPermitted):
        return Response({"detail": str(exc), "reasons": exc.reasons}, status=status.HTTP_403_FORBIDDEN)
    if isinstance(exc, DjangoValidationError):
        errors = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        return Response({"detail": "Invalid input.", "errors": errors}, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, Http404):
        # DRF's message names the model ("No Shipment matches"); another tenant's object must look like nothing.
        exc = exceptions.NotFound()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        response.data = {"detail": "Invalid input.", "errors": _field_errors(exc.detail)}
    elif isinstance(response.data, dict) and "detail" not in response.data:
        response.data = {"detail": "Invalid input.", "errors": response.data}
    elif isinstance(response.data, list):
        response.data = {"detail": "Invalid input.", "errors": {"non_field_errors": response.data}}
    return response


def server_error(request, *args, **kwargs):
    """500 for the whole site: the JSON error shape under /api/, the site's page elsewhere. 500.html is rendered
    without a request (the failure may lie in the database or a context processor), so it stands alone."""
    from django.http import JsonResponse
    from django.views import defaults

    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Server error. It was recorded; retry later."}, status=500)
    return defaults.server_error(request, *args, **kwargs)


def page_not_found(request, exception, *args, **kwargs):
    """404 for the whole site: an unknown URL under /api/ answers in the API's JSON error shape too. The page never
    shows the exception's text: a missing object and another tenant's must read the same."""
    from django.http import JsonResponse
    from django.views import defaults

    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Not found."}, status=404)
    return defaults.page_not_found(request, exception, *args, **kwargs)


def permission_denied(request, exception, *args, **kwargs):
    """403 for the whole site, for a PermissionDenied raised outside DRF (which answers its own): JSON under /api/,
    the site's page with the reason elsewhere."""
    from django.http import JsonResponse
    from django.views import defaults

    if request.path.startswith("/api/"):
        detail = str(exception) or "You may not do this."
        return JsonResponse({"detail": detail, "reasons": [detail]}, status=403)
    return defaults.permission_denied(request, exception, *args, **kwargs)
