"""Issuing, checking and revoking API keys.

A key is `ior_<8 prefix chars>_<40 secret chars>`. Only its SHA-256 is stored: keys are long random strings, so a
fast hash is as safe as a slow one and keeps every API call cheap. The prefix is public and finds the row."""

import hashlib
import hmac
import secrets
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from ior_platform.core.audit import record_event
from ior_platform.core.errors import NotPermitted
from ior_platform.core.tenancy import sees_everything
from parties.choices import ApiScope, MemberRole
from parties.models import ApiKey, Organization, User

KEY_PREFIX = "ior_"
_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"


def _random(length: int) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def hash_key(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def _require_key_manager(actor, organization: Organization) -> None:
    if sees_everything(actor):
        return
    if actor.organization_id != organization.pk or not actor.has_member_role(MemberRole.MANAGER):
        raise NotPermitted("Only a manager of the organization can issue or revoke its API keys.")


def api_key_issue(
    *,
    actor,
    organization: Organization,
    owner: User,
    name: str,
    scope: str = ApiScope.READ,
    expires_at: datetime | None = None,
) -> tuple[ApiKey, str]:
    """Issue a key acting as `owner`. Returns the key and its secret, which is never available again."""
    _require_key_manager(actor, organization)
    errors = {}
    if owner.organization_id != organization.pk or not owner.is_active:
        errors["owner"] = "The key's owner must be an active user of the organization."
    if scope not in ApiScope.values:
        errors["scope"] = f"Scope must be one of {', '.join(ApiScope.values)}."
    if not (name or "").strip():
        errors["name"] = "Say what the key is for."
    if expires_at is not None and expires_at <= timezone.now():
        errors["expires_at"] = "The expiry must be in the future."
    if errors:
        raise ValidationError(errors)
    prefix = KEY_PREFIX + _random(8)
    raw = f"{prefix}_{_random(40)}"
    with transaction.atomic():
        key = ApiKey.objects.create(
            organization=organization,
            owner=owner,
            name=name.strip(),
            prefix=prefix,
            secret_hash=hash_key(raw),
            scope=scope,
            expires_at=expires_at,
            created_by=actor,
        )
        record_event(
            actor=actor,
            action="apikey.issue",
            target=key,
            changes={"owner": [None, owner], "scope": [None, scope], "expires_at": [None, expires_at]},
            organization=organization,
        )
    return key, raw


def api_key_revoke(*, actor, key: ApiKey, reason: str = "") -> ApiKey:
    _require_key_manager(actor, key.organization)
    with transaction.atomic():
        locked = ApiKey.objects.select_for_update().get(pk=key.pk)
        if locked.revoked_at is None:
            locked.revoked_at = timezone.now()
            locked.revoked_by = actor
            locked.save(update_fields=["revoked_at", "revoked_by"])
            record_event(
                actor=actor,
                action="apikey.revoke",
                target=locked,
                changes={"revoked_at": [None, locked.revoked_at]},
                reason=reason,
                organization=locked.organization,
            )
    return locked


def api_key_lookup(raw: str) -> ApiKey | None:
    """The usable key `raw` names, or None. Compares the hash in constant time."""
    if not raw.startswith(KEY_PREFIX) or raw.count("_") != 2:
        return None
    prefix = raw.rsplit("_", 1)[0]
    try:
        key = ApiKey.objects.select_related("owner").get(prefix=prefix)
    except ApiKey.DoesNotExist:
        return None
    if not hmac.compare_digest(key.secret_hash, hash_key(raw)) or not key.is_usable:
        return None
    if not key.owner.is_active or key.owner.organization_id != key.organization_id:
        return None
    return key
