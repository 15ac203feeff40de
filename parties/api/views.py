"""Parties over the API: the organizations the caller may see, their own inbox and e-mail preference, and their
organization's API keys."""

import json

import django_filters
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.http import HttpResponse
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view
from rest_framework import filters, mixins, permissions, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from ior_platform.core.api.idempotency import idempotency_finish
from ior_platform.core.api.viewsets import IntegrationAPIView, IntegrationMixin, TenantReadOnlyViewSet
from ior_platform.core.errors import NotPermitted
from parties.api.serializers import (
    ApiCallSerializer,
    ApiKeyIssueInputSerializer,
    ApiKeyRevokeInputSerializer,
    ApiKeySerializer,
    IssuedApiKeySerializer,
    MarkedReadSerializer,
    NotificationPreferenceInputSerializer,
    NotificationPreferenceSerializer,
    NotificationSerializer,
    OrganizationDetailSerializer,
    OrganizationSerializer,
    UnreadCountSerializer,
)
from parties.api_keys import api_key_issue, api_key_revoke
from parties.choices import PartyRole
from parties.models import ApiCall, ApiKey, EmailMode, Notification, NotificationPreference, Organization
from parties.notifications import mark_read, preference_set
from parties.selectors import notification_list

# Organizations

ORGANIZATION_EXAMPLE = {
    "id": 7,
    "name": "Brasil IOR Ltda",
    "legal_name": "Brasil Importadora de Registro Ltda",
    "country": "BR",
    "country_name": "Brazil",
    "roles": ["ior"],
    "registration_number": "12.345.678/0001-90",
    "website": "https://ior.example.com.br",
    "is_active": True,
    "is_own": False,
    "updated_at": "2026-03-02T14:05:00Z",
}


class OrganizationFilter(django_filters.FilterSet):
    role = django_filters.ChoiceFilter(
        choices=PartyRole.choices, method="filter_role", help_text="Only organizations taking this role."
    )
    country = django_filters.CharFilter(method="filter_country", help_text="ISO 3166-1 alpha-2 code, e.g. BR.")

    class Meta:
        model = Organization
        fields = ["role", "country"]

    def filter_role(self, queryset, name, value):
        return queryset.filter(roles__role=value)

    def filter_country(self, queryset, name, value):
        return queryset.filter(country=value.upper())


@extend_schema_view(
    list=extend_schema(
        summary="Organizations you may see",
        description="Your own organization, the sponsors you act for (or the CROs acting for you), and every "
        "party of a shipment you can see, with their roles and country. Search by name with `search`.",
        tags=["parties"],
        examples=[OpenApiExample("Organizations", value=ORGANIZATION_EXAMPLE, response_only=True)],
    ),
    retrieve=extend_schema(
        summary="One organization",
        description="Addresses, contacts and licences are given for your own organization only; for any other "
        "organization they are `null`: a partner's people and licences are its own to share.",
        tags=["parties"],
        examples=[
            OpenApiExample(
                "A partner",
                value={**ORGANIZATION_EXAMPLE, "addresses": None, "contacts": None, "licences": None},
                response_only=True,
            ),
            OpenApiExample(
                "Your own organization",
                value={
                    **ORGANIZATION_EXAMPLE,
                    "is_own": True,
                    "addresses": [
                        {
                            "id": 3,
                            "label": "Warehouse",
                            "line1": "Rua Augusta 100",
                            "line2": "",
                            "city": "São Paulo",
                            "region": "SP",
                            "postal_code": "01305-000",
                            "country": "BR",
                        }
                    ],
                    "contacts": [
                        {
                            "id": 4,
                            "name": "Ana Costa",
                            "function": "Regulatory",
                            "email": "ana@example.com",
                            "phone": "",
                        }
                    ],
                    "licences": [
                        {
                            "id": 5,
                            "licence_type": "import_licence",
                            "number": "AFE-1234567",
                            "issuing_authority": "ANVISA",
                            "country": "BR",
                            "valid_from": "2025-01-01",
                            "valid_until": "2027-12-31",
                        }
                    ],
                },
                response_only=True,
            ),
        ],
    ),
)
class OrganizationViewSet(TenantReadOnlyViewSet):
    queryset = Organization.objects.all()
    serializer_class = OrganizationSerializer
    filter_backends = [DjangoFilterBackend, filters.SearchFilter]
    filterset_class = OrganizationFilter
    search_fields = ["name", "legal_name"]

    def refine_queryset(self, queryset):
        return queryset.prefetch_related("roles")

    def get_serializer_class(self):
        return OrganizationDetailSerializer if self.action == "retrieve" else OrganizationSerializer


# Notifications

NOTIFICATION_EXAMPLE = {
    "id": 812,
    "kind": "shipment.reject",
    "subject": "SHP-2026-0042 was sent back to permit collection",
    "body": "Rita Reviewer rejected the dossier: the CoA expires before the ship date.",
    "link": "https://ior.example.com/shipments/SHP-2026-0042/",
    "shipment": 42,
    "shipment_reference": "SHP-2026-0042",
    "created_at": "2026-03-02T14:05:00Z",
    "read_at": None,
    "is_read": False,
}


class NotificationFilter(django_filters.FilterSet):
    unread = django_filters.BooleanFilter(
        field_name="read_at", lookup_expr="isnull", help_text="true: only unread; false: only read."
    )

    class Meta:
        model = Notification
        fields = ["unread"]


@extend_schema_view(
    list=extend_schema(
        summary="Your inbox",
        description="Your own notifications, newest first. `unread=true` for the unread ones only.",
        tags=["notifications"],
        examples=[OpenApiExample("Inbox", value=NOTIFICATION_EXAMPLE, response_only=True)],
    ),
    retrieve=extend_schema(
        summary="One of your notifications",
        description="Another user's notification answers 404.",
        tags=["notifications"],
        examples=[OpenApiExample("Notification", value=NOTIFICATION_EXAMPLE, response_only=True)],
    ),
)
class NotificationViewSet(IntegrationMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """A personal inbox, not tenant data: the rule is stricter than any organization's, the recipient alone.
    Notification rows carry no tenancy rule, so this view is not a TenantViewSet."""

    queryset = Notification.objects.none()
    serializer_class = NotificationSerializer
    filter_backends = [DjangoFilterBackend]
    filterset_class = NotificationFilter

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Notification.objects.none()
        return notification_list(user=self.request.user).select_related("shipment")

    @extend_schema(
        summary="Mark one notification read",
        description="Marking a read notification again changes nothing.",
        request=None,
        responses={200: NotificationSerializer},
        tags=["notifications"],
        examples=[
            OpenApiExample(
                "Read",
                value={**NOTIFICATION_EXAMPLE, "read_at": "2026-03-02T15:00:00Z", "is_read": True},
                response_only=True,
            )
        ],
    )
    @action(detail=True, methods=["post"])
    def read(self, request, pk=None):
        notification = self.get_object()
        mark_read(user=request.user, notification_ids=[notification.pk])
        notification.refresh_from_db(fields=["read_at"])
        return Response(self.get_serializer(notification).data)

    @extend_schema(
        summary="Mark your whole inbox read",
        request=None,
        responses={200: MarkedReadSerializer},
        tags=["notifications"],
        examples=[OpenApiExample("Marked", value={"marked": 12}, response_only=True)],
    )
    @action(detail=False, methods=["post"], url_path="read-all")
    def read_all(self, request):
        marked = mark_read(user=request.user)
        return Response({"marked": marked})

    @extend_schema(
        summary="How many notifications are unread",
        responses={200: UnreadCountSerializer},
        tags=["notifications"],
        examples=[OpenApiExample("Count", value={"unread": 3}, response_only=True)],
    )
    @action(detail=False, methods=["get"], url_path="unread-count", filter_backends=[])
    def unread_count(self, request):
        return Response({"unread": self.get_queryset().filter(read_at__isnull=True).count()})


class NotificationPreferenceView(IntegrationAPIView):
    def _current(self, user) -> NotificationPreference:
        found = NotificationPreference.objects.filter(user=user).first()
        return found or NotificationPreference(user=user, email_mode=EmailMode.IMMEDIATE)

    @extend_schema(
        summary="How you want your notifications e-mailed",
        description="Without a saved choice: immediately, digest hour 7.",
        responses={200: NotificationPreferenceSerializer},
        tags=["notifications"],
        examples=[OpenApiExample("Digest", value={"email_mode": "digest", "digest_hour": 7}, response_only=True)],
    )
    def get(self, request):
        return Response(NotificationPreferenceSerializer(self._current(request.user)).data)

    @extend_schema(
        summary="Change how you want your notifications e-mailed",
        description="`immediate`: one e-mail per notification; `digest`: one e-mail a day after `digest_hour` in "
        "your time zone; `off`: the inbox only. Omitting `digest_hour` keeps the current one. Last write wins: "
        "the preference is yours alone.",
        request=NotificationPreferenceInputSerializer,
        responses={200: NotificationPreferenceSerializer},
        tags=["notifications"],
        examples=[
            OpenApiExample("Daily digest at 8", value={"email_mode": "digest", "digest_hour": 8}, request_only=True),
            OpenApiExample("Saved", value={"email_mode": "digest", "digest_hour": 8}, response_only=True),
        ],
    )
    def put(self, request):
        serializer = NotificationPreferenceInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        preference = preference_set(user=request.user, **serializer.validated_data)
        return Response(NotificationPreferenceSerializer(preference).data)


# API keys

USER_REF_EXAMPLE = {"id": 12, "username": "mona", "name": "Mona Manager"}
API_KEY_EXAMPLE = {
    "id": 5,
    "prefix": "ior_k3x9a2mf",
    "name": "RTSM production",
    "owner": {"id": 31, "username": "rtsm-bot", "name": "RTSM integration"},
    "scope": "write",
    "created_at": "2026-03-01T09:00:00Z",
    "created_by": USER_REF_EXAMPLE,
    "expires_at": "2027-03-01T00:00:00Z",
    "last_used_at": "2026-03-02T14:05:00Z",
    "revoked_at": None,
    "revoked_by": None,
    "is_usable": True,
}


class SignedInOnly(permissions.BasePermission):
    """Keys are credentials of people: an integration holding one must not be able to mint or kill others."""

    message = "API keys cannot issue or revoke API keys: a manager does it signed in to the platform."

    def has_permission(self, request, view):
        return not getattr(request.auth, "prefix", None)


@extend_schema_view(
    list=extend_schema(
        summary="Your organization's API keys",
        description="Every key issued to your organization, revoked and expired ones included. A key's secret is "
        "shown once, when it is issued; lists show its public prefix only.",
        tags=["api keys"],
        examples=[OpenApiExample("Keys", value=API_KEY_EXAMPLE, response_only=True)],
    ),
    retrieve=extend_schema(
        summary="One of your organization's API keys",
        tags=["api keys"],
        examples=[OpenApiExample("Key", value=API_KEY_EXAMPLE, response_only=True)],
    ),
)
class ApiKeyViewSet(TenantReadOnlyViewSet):
    queryset = ApiKey.objects.all()
    serializer_class = ApiKeySerializer
    filter_backends = []

    def refine_queryset(self, queryset):
        return queryset.select_related("owner", "created_by", "revoked_by")

    def finalize_response(self, request, response, *args, **kwargs):
        record = None
        if isinstance(getattr(response, "data", None), dict) and "secret" in response.data:
            record, self._idempotency = self._idempotency, None
        response = super().finalize_response(request, response, *args, **kwargs)
        if record is not None:
            # The secret is stored nowhere, not even for an Idempotency-Key replay: a retry learns that the key was
            # issued, not its secret.
            body = json.dumps({**response.data, "secret": None}, cls=DjangoJSONEncoder)
            idempotency_finish(record, HttpResponse(body, content_type="application/json", status=response.status_code))
        return response

    def get_permissions(self):
        chosen = super().get_permissions()
        if self.action in ("create", "revoke"):
            # Before the scope check, so a read-only key is told the real reason too.
            chosen.insert(1, SignedInOnly())
        return chosen

    @extend_schema(
        summary="Issue an API key",
        description="Managers only, signed in (a call made with an API key is refused with 403). The response "
        "carries the whole key in `secret`: store it now, it is never shown again. A retry with the same "
        "Idempotency-Key answers the same key with `secret` null (the secret is stored nowhere): if it was lost, "
        "revoke that key and issue another.",
        request=ApiKeyIssueInputSerializer,
        responses={201: IssuedApiKeySerializer},
        tags=["api keys"],
        examples=[
            OpenApiExample(
                "Issue",
                value={"name": "RTSM production", "scope": "write", "owner": 31, "expires_at": "2027-03-01T00:00:00Z"},
                request_only=True,
            ),
            OpenApiExample(
                "Issued",
                value={**API_KEY_EXAMPLE, "secret": "ior_k3x9a2mf_" + "q" * 40},
                response_only=True,
                status_codes=["201"],
            ),
        ],
    )
    def create(self, request):
        serializer = ApiKeyIssueInputSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        if request.user.organization_id is None:
            raise NotPermitted("Platform staff issue keys with `manage.py issue_api_key`.")
        data = serializer.validated_data
        key, secret = api_key_issue(
            actor=request.user,
            organization=request.user.organization,
            owner=data.get("owner", request.user),
            name=data["name"],
            scope=data["scope"],
            expires_at=data.get("expires_at"),
        )
        key = self.get_queryset().get(pk=key.pk)
        key.secret = secret
        return Response(IssuedApiKeySerializer(key).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Revoke an API key",
        description="Managers only, signed in. The key fails authentication (401) from now on. Revoking a "
        "revoked key changes nothing.",
        request=ApiKeyRevokeInputSerializer,
        responses={200: ApiKeySerializer},
        tags=["api keys"],
        examples=[
            OpenApiExample("Revoke", value={"reason": "RTSM decommissioned"}, request_only=True),
            OpenApiExample(
                "Revoked",
                value={**API_KEY_EXAMPLE, "revoked_at": "2026-03-02T16:00:00Z", "revoked_by": USER_REF_EXAMPLE},
                response_only=True,
            ),
        ],
    )
    @action(detail=True, methods=["post"])
    def revoke(self, request, pk=None):
        serializer = ApiKeyRevokeInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        with transaction.atomic():
            key = self.get_locked_object()
            api_key_revoke(actor=request.user, key=key, reason=serializer.validated_data.get("reason", ""))
        return Response(self.get_serializer(self.get_queryset().get(pk=key.pk)).data)

    @extend_schema(
        summary="What a key did",
        description="Every call made with the key, newest first: method, path, the status answered, and from where.",
        responses={200: ApiCallSerializer(many=True)},
        tags=["api keys"],
        examples=[
            OpenApiExample(
                "Calls",
                value={
                    "id": 9001,
                    "occurred_at": "2026-03-02T14:05:00Z",
                    "method": "POST",
                    "path": "/api/v1/shipments/",
                    "status_code": 201,
                    "remote_addr": "203.0.113.7",
                    "owner": 31,
                },
                response_only=True,
            )
        ],
    )
    @action(detail=True, methods=["get"])
    def calls(self, request, pk=None):
        key = self.get_object()
        page = self.paginate_queryset(ApiCall.objects.for_user(request.user).filter(key=key))
        return self.get_paginated_response(ApiCallSerializer(page, many=True).data)
