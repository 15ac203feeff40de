"""What the compliance API answers (country knowledge, the permit ledger, preflight results) and what a preflight
request may contain."""

from decimal import Decimal

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from compliance.choices import DocumentType, ProductCategory, TemperatureClass, TradeDirection
from compliance.models import CountryProfile, DocumentRequirement, Permit, PermitLine
from ior_platform.core.api.serializers import StrictInputSerializer
from ior_platform.core.codes import validate_country, validate_currency
from parties.choices import PartyRole
from parties.models import Organization
from shipments.choices import RouteKind
from shipments.models import Trial

QUANTITY = {"max_digits": 12, "decimal_places": 3, "read_only": True}


# The permit ledger


class PermitLineSerializer(serializers.ModelSerializer):
    granted = serializers.DecimalField(source="authorised_quantity", **QUANTITY, help_text="Authorised in total.")
    drawn = serializers.DecimalField(**QUANTITY, help_text="Taken by approved shipments (released draws excluded).")
    remaining = serializers.DecimalField(**QUANTITY, help_text="Granted minus drawn: what shipments can still use.")

    class Meta:
        model = PermitLine
        fields = ["id", "product_name", "unit", "granted", "drawn", "remaining"]
        read_only_fields = fields


class PermitHolderSerializer(serializers.ModelSerializer):
    class Meta:
        model = Organization
        fields = ["id", "name"]
        read_only_fields = fields


class PermitTrialSerializer(serializers.ModelSerializer):
    class Meta:
        model = Trial
        fields = ["id", "protocol_number"]
        read_only_fields = fields


class PermitSerializer(serializers.ModelSerializer):
    title = serializers.CharField(source="get_permit_type_display", read_only=True)
    holder = PermitHolderSerializer(read_only=True)
    trial = PermitTrialSerializer(read_only=True)
    lines = PermitLineSerializer(many=True, read_only=True)

    class Meta:
        model = Permit
        fields = [
            "id",
            "permit_type",
            "title",
            "number",
            "authority",
            "holder",
            "trial",
            "country",
            "direction",
            "valid_from",
            "valid_until",
            "notes",
            "created_at",
            "lines",
        ]
        read_only_fields = fields


# Country knowledge


class CountrySourceSerializer(serializers.Serializer):
    fact = serializers.CharField(read_only=True, help_text="The profile field the source backs.")
    source = serializers.CharField(read_only=True, help_text="URL or legal reference.")
    verified_on = serializers.CharField(read_only=True, allow_null=True, help_text="ISO date it was last checked.")
    note = serializers.CharField(read_only=True, required=False)


class CountryRequirementSerializer(serializers.ModelSerializer):
    title = serializers.CharField(source="display_title", read_only=True)
    temperature_class = serializers.ChoiceField(
        choices=TemperatureClass.choices, allow_blank=True, read_only=True, help_text="Empty: applies to every class."
    )

    class Meta:
        model = DocumentRequirement
        fields = [
            "id",
            "direction",
            "product_category",
            "temperature_class",
            "min_declared_value",
            "value_currency",
            "document_type",
            "title",
            "provided_by",
            "lead_time_days",
            "validity_days",
            "legal_basis",
            "source",
            "verified_on",
            "version",
            "notes",
        ]
        read_only_fields = fields


class CountryProfileSerializer(serializers.ModelSerializer):
    country_name = serializers.CharField(read_only=True)
    # Not format "uri": empty where no source gives one.
    regulatory_authority_url = serializers.CharField(read_only=True, help_text="Web address, or empty.")
    customs_authority_url = serializers.CharField(read_only=True, help_text="Web address, or empty.")
    sources = CountrySourceSerializer(many=True, read_only=True)
    requirements = CountryRequirementSerializer(
        many=True, read_only=True, help_text="The current version of each requirement; superseded ones are left out."
    )

    class Meta:
        model = CountryProfile
        fields = [
            "country",
            "country_name",
            "regulatory_authority",
            "regulatory_authority_acronym",
            "regulatory_authority_url",
            "customs_authority",
            "customs_authority_acronym",
            "customs_authority_url",
            "clinical_import_authorisation",
            "local_ior_mandatory",
            "imp_duty_exempt",
            "imp_vat_exempt",
            "standard_vat_rate",
            "standard_duty_rate",
            "typical_clearance_days",
            "cold_chain_notes",
            "sources",
            "last_verified_on",
            "updated_at",
            "requirements",
        ]
        read_only_fields = fields


# Preflight


class CountryCodeField(serializers.CharField):
    def __init__(self, **kwargs):
        kwargs.setdefault("min_length", 2)
        kwargs.setdefault("max_length", 2)
        super().__init__(**kwargs)
        self.validators.append(validate_country)

    def to_internal_value(self, data):
        return super().to_internal_value(data).upper()


class PreflightItemInputSerializer(StrictInputSerializer):
    category = serializers.ChoiceField(choices=ProductCategory.choices)
    quantity = serializers.DecimalField(max_digits=12, decimal_places=3, min_value=Decimal("0.001"), default=Decimal(1))
    product_name = serializers.CharField(
        max_length=200, required=False, default="", allow_blank=True, help_text="Matched against permit lines."
    )
    unit_value = serializers.DecimalField(max_digits=14, decimal_places=2, min_value=Decimal(0), default=Decimal(0))
    expiry_date = serializers.DateField(required=False, allow_null=True, default=None)


PARTY_HELP = "Id of an organization you can see (GET /api/v1/organizations/)."


def _party(label: str) -> serializers.PrimaryKeyRelatedField:
    return serializers.PrimaryKeyRelatedField(
        queryset=Organization.objects.none(),
        required=False,
        allow_null=True,
        error_messages={"does_not_exist": "No such organization."},
        help_text=f"The {label}. {PARTY_HELP}",
    )


class PreflightInputSerializer(StrictInputSerializer):
    """A proposed shipment. Trial and party ids that you cannot see are answered exactly like ids that do not exist."""

    trial = serializers.PrimaryKeyRelatedField(
        queryset=Trial.objects.none(),
        required=False,
        allow_null=True,
        error_messages={"does_not_exist": "No such trial."},
        help_text="Id of the trial, to check the permits it holds and default the sponsor.",
    )
    origin = CountryCodeField(help_text="ISO 3166-1 alpha-2 code the goods leave from, e.g. US.")
    destination = CountryCodeField(help_text="ISO 3166-1 alpha-2 code the goods go to, e.g. BR.")
    sponsor = _party("sponsor; the trial's sponsor when omitted")
    ior = _party("importer of record")
    eor = _party("exporter of record")
    consignee = _party("consignee (the site)")
    broker = _party("customs broker")
    courier = _party("courier")
    items = PreflightItemInputSerializer(
        many=True,
        required=False,
        max_length=500,
        help_text="The goods. Give `items`, or only `categories` for a quick estimate.",
    )
    categories = serializers.ListField(
        child=serializers.ChoiceField(choices=ProductCategory.choices),
        required=False,
        max_length=20,
        help_text="Product categories, when the items are not known yet.",
    )
    temperature_class = serializers.ChoiceField(choices=TemperatureClass.choices)
    declared_value = serializers.DecimalField(max_digits=14, decimal_places=2, min_value=Decimal(0))
    currency = serializers.CharField(min_length=3, max_length=3, validators=[validate_currency], help_text="ISO 4217.")
    planned_ship_date = serializers.DateField()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if request is not None:
            self.fields["trial"].queryset = Trial.objects.for_user(request.user).select_related("sponsor")
            for role in ("sponsor", "ior", "eor", "consignee", "broker", "courier"):
                self.fields[role].queryset = Organization.objects.for_user(request.user)

    def validate_currency(self, value: str) -> str:
        return value.upper()

    def validate(self, attrs):
        items, categories = attrs.get("items"), attrs.get("categories")
        if items and categories:
            raise serializers.ValidationError({"categories": ["Give items or categories, not both."]})
        if not items and not categories:
            raise serializers.ValidationError({"items": ["Give the items, or at least their categories."]})
        trial, sponsor = attrs.get("trial"), attrs.get("sponsor")
        if trial is not None and sponsor is not None and sponsor.pk != trial.sponsor_id:
            raise serializers.ValidationError({"sponsor": ["Not the sponsor of this trial."]})
        return attrs


class PreflightDocumentSerializer(serializers.Serializer):
    side = serializers.ChoiceField(choices=TradeDirection.choices, read_only=True)
    country = serializers.CharField(read_only=True)
    document_type = serializers.ChoiceField(choices=DocumentType.choices, read_only=True)
    title = serializers.CharField(read_only=True)
    provided_by = serializers.ChoiceField(choices=PartyRole.choices, read_only=True, help_text="The role that owes it.")
    owed_by = serializers.CharField(
        read_only=True, allow_null=True, help_text="The organization in that role, when the proposal names it."
    )
    lead_time_days = serializers.IntegerField(read_only=True, allow_null=True)
    due_date = serializers.DateField(read_only=True, help_text="Planned ship date minus the lead time.")
    validity_days = serializers.IntegerField(read_only=True, allow_null=True)
    legal_basis = serializers.CharField(read_only=True)
    source = serializers.CharField(read_only=True)


class PreflightHeldPermitSerializer(serializers.ModelSerializer):
    valid_on_ship_date = serializers.SerializerMethodField()
    lines = PermitLineSerializer(many=True, read_only=True)

    class Meta:
        model = Permit
        fields = ["id", "number", "authority", "valid_from", "valid_until", "valid_on_ship_date", "lines"]
        read_only_fields = fields

    def get_valid_on_ship_date(self, permit) -> bool:
        return permit.is_valid_on(self.context["planned_ship_date"])


class PreflightPermitSerializer(serializers.Serializer):
    side = serializers.ChoiceField(choices=TradeDirection.choices, read_only=True)
    country = serializers.CharField(read_only=True)
    permit_type = serializers.ChoiceField(choices=DocumentType.choices, read_only=True)
    title = serializers.CharField(read_only=True)
    covered = serializers.BooleanField(
        read_only=True, help_text="A permit valid on the ship date has enough left of every item."
    )
    held_permits = serializers.SerializerMethodField(
        help_text="The trial's permits of this kind, with the quantities granted, drawn and remaining."
    )

    @extend_schema_field(PreflightHeldPermitSerializer(many=True))
    def get_held_permits(self, need):
        held = self.context["held_permits"].get((need.side, need.country, need.permit_type), [])
        return PreflightHeldPermitSerializer(held, many=True, context=self.context).data


class PreflightTaxSerializer(serializers.Serializer):
    tax = serializers.CharField(read_only=True, help_text="import duty or import VAT")
    country = serializers.CharField(read_only=True)
    status = serializers.ChoiceField(
        choices=[("exempt", "exempt"), ("estimated", "estimated"), ("unknown", "unknown"), ("none", "none")],
        read_only=True,
    )
    rate = serializers.DecimalField(max_digits=5, decimal_places=2, read_only=True, allow_null=True)
    amount = serializers.DecimalField(max_digits=16, decimal_places=2, read_only=True, allow_null=True)
    currency = serializers.CharField(read_only=True)
    note = serializers.CharField(read_only=True)


class PreflightResultSerializer(serializers.Serializer):
    route_kind = serializers.ChoiceField(choices=RouteKind.choices, read_only=True)
    documents = PreflightDocumentSerializer(many=True, read_only=True, help_text="Export side first.")
    permits = PreflightPermitSerializer(many=True, read_only=True)
    taxes = PreflightTaxSerializer(many=True, read_only=True, help_text="Empty when no customs border is crossed.")
    earliest_ship_date = serializers.DateField(
        read_only=True, help_text="Today plus the longest lead time: documents are gathered in parallel."
    )
    critical_path = serializers.CharField(read_only=True)
    blockers = serializers.ListField(child=serializers.CharField(), read_only=True, help_text="What stops it.")
    warnings = serializers.ListField(child=serializers.CharField(), read_only=True)
