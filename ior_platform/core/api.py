"""One JSON shape for every API error: {"detail": ..., "errors": {field: [...]}, "reasons": [...]}."""

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from ior_platform.core.errors import ConflictError, NotPermitted, TransitionRefused


def exception_handler(exc, context):
    if isinstance(exc, TransitionRefused | ConflictError):
        return Response({"detail": str(exc), "reasons": exc.reasons}, status=status.HTTP_409_CONFLICT)
    if isinstance(exc, NotPermitted):
        return Response({"detail": str(exc), "reasons": exc.reasons}, status=status.HTTP_403_FORBIDDEN)
    if isinstance(exc, DjangoValidationError):
        errors = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        return Response({"detail": "Invalid input.", "errors": errors}, status=status.HTTP_400_BAD_REQUEST)
    response = drf_exception_handler(exc, context)
    if response is not None and isinstance(response.data, dict) and "detail" not in response.data:
        response.data = {"detail": "Invalid input.", "errors": response.data}
    elif response is not None and isinstance(response.data, list):
        response.data = {"detail": "Invalid input.", "errors": {"non_field_errors": response.data}}
    return response
