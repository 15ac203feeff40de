"""OpenAPI: every operation documents the errors every endpoint can give, in the one error shape, with examples,
and the Idempotency-Key and If-Match headers where they apply. Views only describe what is theirs."""

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse
from rest_framework import serializers


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField(help_text="What went wrong, in one sentence.")
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="On 400: field name to its messages (`non_field_errors` for the request as a whole).",
    )
    reasons = serializers.ListField(
        child=serializers.CharField(),
        required=False,
        help_text="On 403 and 409: each reason the action is refused, e.g. a guard that is not met.",
    )

    class Meta:
        ref_name = "Error"


def _example(name: str, value: dict) -> list[OpenApiExample]:
    return [OpenApiExample(name, value=value, response_only=True)]


ERRORS = {
    "400": OpenApiResponse(
        ErrorSerializer,
        "Invalid input: see `errors` for the message of each field.",
        _example("Invalid", {"detail": "Invalid input.", "errors": {"planned_ship_date": ["Enter a valid date."]}}),
    ),
    "401": OpenApiResponse(
        ErrorSerializer,
        "No valid credentials (session or API key).",
        _example("Unauthenticated", {"detail": "Unknown, expired or revoked API key."}),
    ),
    "403": OpenApiResponse(
        ErrorSerializer,
        "Authenticated but not allowed: a read-only key writing, or a role that may not act.",
        _example(
            "Forbidden", {"detail": "This API key is read-only; issue a key with the write scope to change data."}
        ),
    ),
    "404": OpenApiResponse(
        ErrorSerializer,
        "No such object, or not one you may see.",
        _example("Not found", {"detail": "Not found."}),
    ),
    "409": OpenApiResponse(
        ErrorSerializer,
        "Refused in the object's current state (with the reasons), changed by someone else meanwhile, or an "
        "Idempotency-Key reused with a different request.",
        _example(
            "Refused",
            {
                "detail": "The import permit is missing",
                "reasons": ["The import permit is missing", "The commercial invoice is not approved"],
            },
        ),
    ),
    "412": OpenApiResponse(
        ErrorSerializer,
        "If-Match does not match the object's current ETag: it changed since you read it.",
        _example("Stale", {"detail": "The object changed since you read it (If-Match does not match its ETag)."}),
    ),
    "429": OpenApiResponse(
        ErrorSerializer,
        "Too many requests for this key or user; retry after the `Retry-After` header's seconds.",
        _example("Throttled", {"detail": "Request was throttled. Expected available in 12 seconds."}),
    ),
}

IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[\\x21-\\x7e]+$"},
    OpenApiParameter.HEADER,
    description="Any unique string (a UUID) of yours. A retry with the same key and body gets the first response "
    "again for 24 hours instead of repeating the action; the same key with another body is refused with 409.",
)
IF_MATCH = OpenApiParameter(
    "If-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description="The ETag you read. When it no longer matches, nothing is changed and the answer is 412.",
)


class IntegrationSchema(AutoSchema):
    def _is_detail_write(self) -> bool:
        return self.method in ("PUT", "PATCH", "DELETE") or (self.method == "POST" and "{" in self.path)

    def get_override_parameters(self):
        parameters = list(super().get_override_parameters())
        if self.method == "POST":
            parameters.append(IDEMPOTENCY_KEY)
        if self._is_detail_write():
            parameters.append(IF_MATCH)
        return parameters

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        codes = ["400", "401", "403", "404", "429"]
        if self.method != "GET":
            codes.append("409")
        if self._is_detail_write():
            codes.append("412")
        for code in codes:
            if code not in responses:
                responses[code] = self._get_response_for_code(ERRORS[code], code, direction=direction)
        return responses
