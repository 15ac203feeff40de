"""The base of every API view: the tenancy rule on every queryset (subclasses cannot replace it), scopes,
throttling, Idempotency-Key on POST, ETag/If-Match, and a log line for every call made with an API key."""

import hashlib
from datetime import UTC

from django.db import transaction
from django.utils import timezone
from rest_framework import mixins, viewsets
from rest_framework.views import APIView

from ior_platform.core.api.errors import PreconditionFailed
from ior_platform.core.api.idempotency import idempotency_begin, idempotency_finish, idempotency_forget
from ior_platform.core.tenancy import restrict


def _multipart_fingerprint(request) -> bytes:
    # A multipart body can be larger than Django lets a view read whole, so fingerprint the parsed parts.
    digest = hashlib.sha256()
    for name in sorted(request.data.keys()):
        for value in request.data.getlist(name):
            digest.update(name.encode() + b"\0")
            if hasattr(value, "chunks"):
                for chunk in value.chunks():
                    digest.update(chunk)
                value.seek(0)
            else:
                digest.update(str(value).encode())
            digest.update(b"\0")
    return digest.digest()


def etag_for(obj) -> str:
    stamp = getattr(obj, "updated_at", None)
    raw = f"{obj._meta.label}:{obj.pk}:{stamp.isoformat() if stamp else ''}"
    return '"' + hashlib.sha256(raw.encode()).hexdigest()[:32] + '"'


def if_match_holds(request, obj) -> bool:
    header = request.headers.get("If-Match")
    if not header:
        return True
    tags = {tag.strip().removeprefix("W/") for tag in header.split(",")}
    return "*" in tags or etag_for(obj) in tags


class IntegrationMixin:
    """What every endpoint promises integrators, whatever it serves."""

    _idempotency = None

    def initial(self, request, *args, **kwargs):
        # The API speaks UTC whatever zone a page would show the same user.
        timezone.activate(UTC)
        key = request.headers.get("Idempotency-Key") if request.method == "POST" else None
        multipart = request.content_type.startswith("multipart/")
        # Read before authentication: the CSRF check parses (and so consumes) the body stream.
        body = request._request.body if key is not None and not multipart else None
        super().initial(request, *args, **kwargs)
        if key is not None:
            if body is None:
                body = _multipart_fingerprint(request)
            self._idempotency = idempotency_begin(
                user=request.user, key=key, method=request.method, path=request.get_full_path(), body=body
            )

    def handle_exception(self, exc):
        try:
            return super().handle_exception(exc)
        except Exception:
            # An unhandled error (a 500) must not leave the key claimed: the client's retry has to run.
            if self._idempotency is not None:
                idempotency_forget(self._idempotency)
                self._idempotency = None
            raise

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        if self._idempotency is not None:
            record, self._idempotency = self._idempotency, None
            idempotency_finish(record, response)
        key = getattr(request, "auth", None)
        if getattr(key, "prefix", None):
            from parties.models import ApiCall

            ApiCall.objects.create(
                key=key,
                owner_id=key.owner_id,
                method=request.method,
                path=request.get_full_path()[:500],
                status_code=response.status_code,
                remote_addr=request.META.get("REMOTE_ADDR") or None,
            )
        return response

    def set_etag(self, response, obj):
        response["ETag"] = etag_for(obj)
        return response


class TenantViewSetMixin(IntegrationMixin):
    """Subclasses set `queryset` and may narrow or prefetch in `refine_queryset`; what the user may see is
    decided here only, after their refinements, so no endpoint can forget it."""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "get_queryset" in cls.__dict__:
            raise TypeError(f"{cls.__name__} must not override get_queryset; refine it in refine_queryset()")

    def refine_queryset(self, queryset):
        return queryset

    def get_queryset(self):
        return restrict(self.refine_queryset(self.queryset.all()), self.request.user)

    def get_locked_object(self):
        """The object, locked for the rest of the transaction, after its If-Match check: call in `atomic()`."""
        obj = self.get_object()
        locked = type(obj).objects.select_for_update().get(pk=obj.pk)
        if not if_match_holds(self.request, locked):
            raise PreconditionFailed()
        return locked

    def atomic(self):
        return transaction.atomic()


class TenantViewSet(TenantViewSetMixin, viewsets.GenericViewSet):
    pass


class TenantReadOnlyViewSet(
    TenantViewSetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    pass


class IntegrationAPIView(IntegrationMixin, APIView):
    """For endpoints that serve no single model (preflight): same promises, no queryset."""
