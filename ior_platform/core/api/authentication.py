"""API keys for systems (`Authorization: Bearer ior_…`); the browser uses its session with CSRF."""

from datetime import timedelta

from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from ior_platform.core.audit import audit_channel

LAST_USED_RESOLUTION = timedelta(minutes=1)


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """Authenticates as the key's owner; `request.auth` is the ApiKey, which scopes and throttles read."""

    keyword = "Bearer"

    def authenticate(self, request):
        from parties.api_keys import api_key_lookup
        from parties.models import ApiKey

        header = authentication.get_authorization_header(request).decode("latin-1").split()
        if not header or header[0] != self.keyword:
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Send the key as 'Authorization: Bearer <key>'.")
        key = api_key_lookup(header[1])
        if key is None:
            raise exceptions.AuthenticationFailed("Unknown, expired or revoked API key.")
        now = timezone.now()
        if key.last_used_at is None or key.last_used_at < now - LAST_USED_RESOLUTION:
            # Coarse on purpose: one write a minute per key, not one per call (every call is in ApiCall anyway).
            ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        audit_channel.set(f"API key {key.prefix} ({key.name})"[:120])
        return key.owner, key

    def authenticate_header(self, request):
        return f'{self.keyword} realm="api"'


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = ApiKeyAuthentication
    name = "apiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An API key issued to your organization: `Authorization: Bearer ior_xxxxxxxx_…`.",
        }


class AuditChannelMiddleware:
    """Clears the audit channel around each request, so a key named in one request never leaks into the next."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = audit_channel.set("")
        try:
            return self.get_response(request)
        finally:
            audit_channel.reset(token)
