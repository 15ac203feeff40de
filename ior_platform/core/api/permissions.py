from rest_framework import permissions


class KeyScopeAllows(permissions.BasePermission):
    """A read-scoped API key may only read. Session users are limited by their roles in the services."""

    message = "This API key is read-only; issue a key with the write scope to change data."

    def has_permission(self, request, view):
        key = request.auth
        if key is None or not hasattr(key, "can_write") or request.method in permissions.SAFE_METHODS:
            return True
        return key.can_write
