"""What the parties API accepts (input serializers: explicit fields, unknown ones refused) and what it answers
(output serializers: read-only)."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from ior_platform.core.api.serializers import StrictInputSerializer
from parties.choices import ApiScope, PartyRole
from parties.models import (
    Address,
    ApiCall,
    ApiKey,
    Contact,
    EmailMode,
    Licence,
    Notification,
    NotificationPreference,
    Organization,
    User,
)


class OrganizationAddressSerializer(serializers.ModelSerializer):
    class Meta:
        model = Address
        fields = ["id", "label", "line1", "line2", "city", "region", "postal_code", "country"]
        read_only_fields = fields


class OrganizationContactSerializer(serializers.ModelSerializer):
    class Meta:
        model = Contact
        fields = ["id", "name", "function", "email", "phone"]
        read_only_fields = fields


class OrganizationLicenceSerializer(serializers.ModelSerializer):
    class Meta:
        model = Licence
        fields = ["id", "licence_type", "number", "issuing_authority", "country", "valid_from", "valid_until"]
        read_only_fields = fields


class OrganizationSerializer(serializers.ModelSerializer):
    roles = serializers.SerializerMethodField(help_text="The roles the organization takes in shipments.")
    # Not format "uri": empty when unknown.
    website = serializers.CharField(read_only=True, help_text="Web address, or empty.")
    is_own = serializers.SerializerMethodField(help_text="Whether this is the caller's own organization.")

    class Meta:
        model = Organization
        fields = [
            "id",
            "name",
            "legal_name",
            "country",
            "country_name",
            "roles",
            "registration_number",
            "website",
            "is_active",
            "is_own",
            "updated_at",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.ListField(child=serializers.ChoiceField(choices=PartyRole.choices)))
    def get_roles(self, organization) -> list[str]:
        return sorted(organization.role_set)

    def get_is_own(self, organization) -> bool:
        request = self.context.get("request")
        return request is not None and organization.pk == request.user.organization_id


class OrganizationDetailSerializer(OrganizationSerializer):
    """Addresses, contacts and licences are the organization's own business: shown to its members only, `null`
    (not shared) for its partners, who reach it through the shipment's parties."""

    addresses = serializers.SerializerMethodField()
    contacts = serializers.SerializerMethodField()
    licences = serializers.SerializerMethodField()

    class Meta(OrganizationSerializer.Meta):
        fields = [*OrganizationSerializer.Meta.fields, "addresses", "contacts", "licences"]
        read_only_fields = fields

    def _own(self, organization, related: str, serializer_class):
        if not self.get_is_own(organization):
            return None
        return serializer_class(getattr(organization, related).all(), many=True).data

    @extend_schema_field(OrganizationAddressSerializer(many=True, allow_null=True))
    def get_addresses(self, organization):
        return self._own(organization, "addresses", OrganizationAddressSerializer)

    @extend_schema_field(OrganizationContactSerializer(many=True, allow_null=True))
    def get_contacts(self, organization):
        return self._own(organization, "contacts", OrganizationContactSerializer)

    @extend_schema_field(OrganizationLicenceSerializer(many=True, allow_null=True))
    def get_licences(self, organization):
        return self._own(organization, "licences", OrganizationLicenceSerializer)


# Notifications


class NotificationSerializer(serializers.ModelSerializer):
    shipment_reference = serializers.CharField(source="shipment.reference", read_only=True, allow_null=True)
    is_read = serializers.BooleanField(read_only=True)
    link = serializers.CharField(read_only=True, help_text="Where to see it on the platform, or empty.")

    class Meta:
        model = Notification
        fields = [
            "id",
            "kind",
            "subject",
            "body",
            "link",
            "shipment",
            "shipment_reference",
            "created_at",
            "read_at",
            "is_read",
        ]
        read_only_fields = fields


class UnreadCountSerializer(serializers.Serializer):
    unread = serializers.IntegerField(read_only=True, help_text="Unread notifications in your inbox.")


class MarkedReadSerializer(serializers.Serializer):
    marked = serializers.IntegerField(read_only=True, help_text="How many notifications this call marked read.")


class NotificationPreferenceSerializer(serializers.ModelSerializer):
    class Meta:
        model = NotificationPreference
        fields = ["email_mode", "digest_hour"]
        read_only_fields = fields


class NotificationPreferenceInputSerializer(StrictInputSerializer):
    email_mode = serializers.ChoiceField(
        choices=EmailMode.choices, help_text="immediate: one e-mail each; digest: one a day; off: inbox only."
    )
    digest_hour = serializers.IntegerField(
        min_value=0,
        max_value=23,
        required=False,
        allow_null=True,
        help_text="Hour of the day in your time zone after which the digest goes out; unchanged when omitted.",
    )


# API keys


class ApiKeyUserSerializer(serializers.ModelSerializer):
    name = serializers.CharField(source="__str__", read_only=True)

    class Meta:
        model = User
        fields = ["id", "username", "name"]
        read_only_fields = fields


class ApiKeySerializer(serializers.ModelSerializer):
    """A key as anyone in its organization may see it: never its secret, nor the secret's hash."""

    owner = ApiKeyUserSerializer(read_only=True, help_text="The user the key acts as.")
    created_by = ApiKeyUserSerializer(read_only=True)
    revoked_by = ApiKeyUserSerializer(read_only=True, allow_null=True)
    is_usable = serializers.BooleanField(read_only=True, help_text="Neither revoked nor expired.")

    class Meta:
        model = ApiKey
        fields = [
            "id",
            "prefix",
            "name",
            "owner",
            "scope",
            "created_at",
            "created_by",
            "expires_at",
            "last_used_at",
            "revoked_at",
            "revoked_by",
            "is_usable",
        ]
        read_only_fields = fields


class IssuedApiKeySerializer(ApiKeySerializer):
    secret = serializers.CharField(
        read_only=True,
        allow_null=True,
        help_text="The whole key, to send as `Authorization: Bearer <secret>`. Shown in this response only: "
        "the platform keeps its hash, never the key. Null on an Idempotency-Key replay.",
    )

    class Meta(ApiKeySerializer.Meta):
        fields = [*ApiKeySerializer.Meta.fields, "secret"]
        read_only_fields = fields


class ApiKeyIssueInputSerializer(StrictInputSerializer):
    name = serializers.CharField(max_length=100, help_text="What the key is for, e.g. 'RTSM production'.")
    scope = serializers.ChoiceField(
        choices=ApiScope.choices, default=ApiScope.READ, help_text="read: GET only; write: also changes data."
    )
    owner = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.none(),
        required=False,
        error_messages={"does_not_exist": "No such user in your organization."},
        help_text="Id of the user of your organization the key acts as; you when omitted.",
    )
    expires_at = serializers.DateTimeField(
        required=False, allow_null=True, help_text="When the key stops working (UTC); never when omitted."
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        organization_id = getattr(getattr(request, "user", None), "organization_id", None)
        if organization_id is not None:
            self.fields["owner"].queryset = User.objects.filter(organization_id=organization_id)


class ApiKeyRevokeInputSerializer(StrictInputSerializer):
    reason = serializers.CharField(
        max_length=500, required=False, allow_blank=True, help_text="Why, for the audit trail."
    )


class ApiCallSerializer(serializers.ModelSerializer):
    class Meta:
        model = ApiCall
        fields = ["id", "occurred_at", "method", "path", "status_code", "remote_addr", "owner"]
        read_only_fields = fields
