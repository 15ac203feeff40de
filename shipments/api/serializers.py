"""What the shipment API reads (input serializers: explicit fields, anything else refused) and writes (output
serializers, read-only). Input serializers only check shapes and types; the services decide the rest."""

import inspect
from collections.abc import Mapping
from datetime import UTC

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from compliance.choices import ProductCategory, TemperatureClass
from documents.models import Document
from ior_platform.core.api.serializers import StrictInputSerializer
from ior_platform.core.models import AuditEvent
from parties.models import Organization
from shipments.choices import DutiesPayer, Incoterm, QuantityUnit, TrialPhase
from shipments.models import Shipment, ShipmentItem, Site, Trial
from shipments.selectors import transition_options
from shipments.services import REASON_REQUIRED, TRANSITION_SERVICES

MAX_BULK = 500

# ---------------------------------------------------------------------------------------------------------------
# Input


def flatten_errors(detail, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested errors as one level, named like the services name them: `items[1].quantity`."""
    if isinstance(detail, Mapping):
        flat: dict[str, list[str]] = {}
        for key, value in detail.items():
            name = f"{prefix}[{key}]" if isinstance(key, int) else f"{prefix}.{key}" if prefix else key
            flat.update(flatten_errors(value, name))
        return flat
    if isinstance(detail, list) and detail and all(isinstance(d, Mapping | list) for d in detail):
        flat = {}
        for index, value in enumerate(detail):
            flat.update(flatten_errors(value, f"{prefix}[{index}]"))
        return flat
    messages = detail if isinstance(detail, list) else [detail]
    return {prefix or "non_field_errors": [str(m) for m in messages]} if messages else {}


def validated(serializer_class, data, **kwargs) -> dict:
    """The serializer's validated data, or a 400 in the API's one error shape."""
    serializer = serializer_class(data=data, **kwargs)
    if not serializer.is_valid():
        raise serializers.ValidationError(flatten_errors(serializer.errors))
    return dict(serializer.validated_data)


# Refuses fields it does not declare, so a client setting status, sponsor or an approval learns it at once instead
# of seeing it silently ignored. (A comment, not a docstring: the schema would print it on every input.)
@extend_schema_field(OpenApiTypes.INT)
class PreloadedPrimaryKeyRelatedField(serializers.PrimaryKeyRelatedField):
    """Looks the id up in `context["preloaded"][Model]` first: a bulk request loads every id it names at once
    instead of once per row. Ids not preloaded are looked up as usual, within the field's queryset."""

    model = None  # for fields whose queryset depends on the request

    def to_internal_value(self, data):
        model = self.queryset.model if self.queryset is not None else self.model
        preloaded = self.context.get("preloaded", {}).get(model)
        if preloaded is not None and isinstance(data, int | str) and not isinstance(data, bool):
            try:
                found = preloaded.get(int(data))
            except ValueError:
                found = None
            if found is not None:
                return found
        return super().to_internal_value(data)


@extend_schema_field(OpenApiTypes.INT)
class VisibleSiteField(PreloadedPrimaryKeyRelatedField):
    model = Site

    def get_queryset(self):
        return Site.objects.for_user(self.context["request"].user)


@extend_schema_field(OpenApiTypes.INT)
class VisibleTrialField(PreloadedPrimaryKeyRelatedField):
    model = Trial

    def get_queryset(self):
        return Trial.objects.for_user(self.context["request"].user)


def _party(role: str):
    return PreloadedPrimaryKeyRelatedField(
        queryset=Organization.objects.all(),
        required=False,
        allow_null=True,
        help_text=f"The {role} organization's id.",
    )


class ShipmentItemInputSerializer(StrictInputSerializer):
    product_name = serializers.CharField(max_length=200)
    category = serializers.ChoiceField(choices=ProductCategory.choices)
    hs_code = serializers.CharField(max_length=10, required=False, allow_blank=True, help_text="6, 8 or 10 digits.")
    quantity = serializers.DecimalField(max_digits=12, decimal_places=3)
    unit = serializers.ChoiceField(choices=QuantityUnit.choices, required=False)
    lot_number = serializers.CharField(max_length=50, required=False, allow_blank=True)
    expiry_date = serializers.DateField(required=False, allow_null=True)
    unit_value = serializers.DecimalField(max_digits=14, decimal_places=2, required=False)
    un_number = serializers.CharField(
        max_length=6, required=False, allow_blank=True, help_text="For dangerous goods, e.g. UN1845."
    )

    class Meta:
        ref_name = "ShipmentItemInput"


# The fields a sponsor (or its CRO) sets on a draft: the services' DRAFT_FIELDS.
class ShipmentDraftInputSerializer(StrictInputSerializer):
    site = VisibleSiteField(required=False, allow_null=True, help_text="A site of the shipment's trial.")
    ior = _party("importer of record")
    eor = _party("exporter of record")
    consignee = _party("consignee")
    broker = _party("customs broker")
    courier = _party("courier")
    origin_country = serializers.CharField(max_length=2, help_text="ISO 3166-1 alpha-2, e.g. US.")
    origin_address = serializers.CharField()
    destination_country = serializers.CharField(max_length=2, help_text="ISO 3166-1 alpha-2, e.g. BR.")
    destination_address = serializers.CharField()
    temperature_class = serializers.ChoiceField(choices=TemperatureClass.choices)
    planned_ship_date = serializers.DateField()
    required_at_site_date = serializers.DateField(required=False, allow_null=True)
    incoterm = serializers.ChoiceField(choices=Incoterm.choices, required=False)
    declared_value = serializers.DecimalField(max_digits=14, decimal_places=2, required=False)
    currency = serializers.CharField(max_length=3, required=False, help_text="ISO 4217, e.g. EUR.")
    duties_estimated = serializers.DecimalField(max_digits=14, decimal_places=2, required=False, allow_null=True)
    duties_payer = serializers.ChoiceField(choices=DutiesPayer.choices, required=False, allow_blank=True)
    qualified_duration_hours = serializers.IntegerField(
        min_value=1,
        max_value=10_000,
        required=False,
        allow_null=True,
        help_text="Hours the pack-out is qualified to hold its range; null for the temperature class's default.",
    )
    excursion_budget_minutes = serializers.IntegerField(
        min_value=0,
        max_value=100_000,
        required=False,
        allow_null=True,
        help_text="Minutes out of range the product tolerates in total; null for the temperature class's default.",
    )


class ShipmentCreateInputSerializer(ShipmentDraftInputSerializer):
    trial = VisibleTrialField(help_text="The trial's id; the shipment's sponsor is the trial's sponsor.")
    reference = serializers.CharField(
        max_length=40, required=False, help_text="Your own unique reference; one is generated when omitted."
    )
    items = ShipmentItemInputSerializer(many=True, required=False)

    class Meta:
        ref_name = "ShipmentCreateInput"


class ShipmentUpdateInputSerializer(ShipmentDraftInputSerializer):
    class Meta:
        ref_name = "ShipmentUpdateInput"


@extend_schema_field(ShipmentCreateInputSerializer(many=True))
class BulkRowsField(serializers.ListField):
    """Each row is validated on its own by the view, so one bad row does not refuse the others."""


class ShipmentBulkInputSerializer(StrictInputSerializer):
    shipments = BulkRowsField(
        child=serializers.DictField(), min_length=1, max_length=MAX_BULK, help_text=f"1 to {MAX_BULK} drafts."
    )


class ReturnInputSerializer(StrictInputSerializer):
    planned_ship_date = serializers.DateField(help_text="When the goods are to leave the site; not in the past.")
    reason = serializers.CharField(required=False, allow_blank=True, max_length=2000)


class ComplianceRecheckInputSerializer(StrictInputSerializer):
    note = serializers.CharField(
        required=False, allow_blank=True, max_length=2000, help_text="What was checked, for the audit trail."
    )


def _reason(required: bool):
    return serializers.CharField(
        required=required,
        allow_blank=not required,
        max_length=2000,
        help_text="Why, for the audit trail." + (" Required." if required else ""),
    )


# The inputs a transition service may take, by parameter name. A service with a parameter missing here fails at
# import, so a new input cannot slip into the API untyped.
TRANSITION_FIELDS = {
    "reason": _reason,
    "password": lambda required: serializers.CharField(
        required=required,
        write_only=True,
        trim_whitespace=False,
        style={"input_type": "password"},
        help_text="Your own password, re-entered. Sending it signs the dossier electronically with the meaning "
        "'approved' (21 CFR Part 11): your name, the meaning, the time in UTC and the hash of the dossier are "
        "recorded. Three wrong passwords within 15 minutes lock signing for a while.",
    ),
    "comment": lambda required: serializers.CharField(
        required=required,
        allow_blank=True,
        max_length=2000,
        help_text="Printed with the signature and kept as the approval's reason.",
    ),
    "airway_bill": lambda required: serializers.CharField(
        required=required, allow_blank=True, max_length=50, help_text="Air waybill number."
    ),
    "tracking_number": lambda required: serializers.CharField(
        required=required, allow_blank=True, max_length=100, help_text="The courier's tracking number."
    ),
    "customs_entry_number": lambda required: serializers.CharField(
        required=required, allow_blank=True, max_length=100, help_text="The import declaration's number."
    ),
    "duties_actual": lambda required: serializers.DecimalField(
        max_digits=14,
        decimal_places=2,
        required=required,
        allow_null=True,
        help_text="Duties and taxes actually paid.",
    ),
}


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))


def transition_input_serializer(name: str) -> type[StrictInputSerializer]:
    """The request body of transition `name`: the keyword arguments its service takes besides actor and shipment."""
    fields = {}
    for parameter in inspect.signature(TRANSITION_SERVICES[name]).parameters.values():
        if parameter.name in ("actor", "shipment"):
            continue
        required = parameter.default is inspect.Parameter.empty or (
            parameter.name == "reason" and name in REASON_REQUIRED
        )
        fields[parameter.name] = TRANSITION_FIELDS[parameter.name](required)
    fields["Meta"] = type("Meta", (), {"ref_name": f"{_camel(name)}TransitionInput"})
    return type(f"{_camel(name)}TransitionInputSerializer", (StrictInputSerializer,), fields)


TRANSITION_INPUT_SERIALIZERS = {name: transition_input_serializer(name) for name in TRANSITION_SERVICES}


# ---------------------------------------------------------------------------------------------------------------
# Output


class ShipmentPartySerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(read_only=True)

    class Meta:
        ref_name = "ShipmentParty"


class ShipmentTrialRefSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    protocol_number = serializers.CharField(read_only=True)

    class Meta:
        ref_name = "ShipmentTrialRef"


class ShipmentSiteRefSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    site_number = serializers.CharField(read_only=True)
    name = serializers.CharField(read_only=True)

    class Meta:
        ref_name = "ShipmentSiteRef"


class ShipmentRefSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    reference = serializers.CharField(read_only=True)
    status = serializers.CharField(read_only=True)

    class Meta:
        ref_name = "ShipmentRef"


class ShipmentRowSerializer(serializers.ModelSerializer):
    """One line of the shipment list: enough to show it and to decide whether to fetch it whole."""

    status_label = serializers.CharField(source="get_status_display", read_only=True)
    trial = ShipmentTrialRefSerializer(read_only=True)
    sponsor = ShipmentPartySerializer(read_only=True)
    ior = ShipmentPartySerializer(read_only=True, allow_null=True)
    eor = ShipmentPartySerializer(read_only=True, allow_null=True)
    consignee = ShipmentPartySerializer(read_only=True, allow_null=True)
    broker = ShipmentPartySerializer(read_only=True, allow_null=True)
    courier = ShipmentPartySerializer(read_only=True, allow_null=True)
    status = serializers.CharField(read_only=True)
    origin_country = serializers.CharField(read_only=True)
    destination_country = serializers.CharField(read_only=True)

    class Meta:
        model = Shipment
        ref_name = "ShipmentRow"
        fields = [
            "id",
            "reference",
            "status",
            "status_label",
            "trial",
            "sponsor",
            "ior",
            "eor",
            "consignee",
            "broker",
            "courier",
            "origin_country",
            "destination_country",
            "route_kind",
            "temperature_class",
            "planned_ship_date",
            "required_at_site_date",
            "return_of",
            "status_changed_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class ShipmentItemSerializer(serializers.ModelSerializer):
    line_value = serializers.DecimalField(
        max_digits=27, decimal_places=2, read_only=True, help_text="Quantity × unit value."
    )

    class Meta:
        model = ShipmentItem
        ref_name = "ShipmentItem"
        fields = [
            "id",
            "position",
            "product_name",
            "category",
            "hs_code",
            "quantity",
            "unit",
            "lot_number",
            "expiry_date",
            "unit_value",
            "line_value",
            "un_number",
        ]
        read_only_fields = fields


class ChecklistDocumentSerializer(serializers.ModelSerializer):
    """One document the shipment's route requires, who owes it, by when, and where it stands."""

    label = serializers.CharField(read_only=True)
    status_label = serializers.CharField(source="get_status_display", read_only=True)
    owed_by = ShipmentPartySerializer(read_only=True, allow_null=True)
    current_version = serializers.IntegerField(
        read_only=True, allow_null=True, help_text="The newest version's number; null until something is uploaded."
    )

    class Meta:
        model = Document
        ref_name = "ChecklistDocument"
        fields = [
            "id",
            "label",
            "side",
            "document_type",
            "requirement",
            "owed_by_role",
            "owed_by",
            "due_date",
            "status",
            "status_label",
            "valid_from",
            "valid_until",
            "current_version",
        ]
        read_only_fields = fields


class TransitionOptionSerializer(serializers.Serializer):
    name = serializers.CharField(read_only=True, help_text="POST /api/v1/shipments/{id}/{name}/ fires it.")
    label = serializers.CharField(read_only=True)
    allowed = serializers.BooleanField(read_only=True, help_text="Whether you may fire it now.")
    reasons = serializers.ListField(
        child=serializers.CharField(), read_only=True, help_text="Everything that blocks it, for you, now."
    )
    needs_reason = serializers.BooleanField(read_only=True)
    inputs = serializers.SerializerMethodField(help_text="The fields its request body accepts.")

    class Meta:
        ref_name = "TransitionOption"

    def get_inputs(self, option) -> list[str]:
        return list(TRANSITION_INPUT_SERIALIZERS[option.name]().fields)


class ShipmentDetailSerializer(ShipmentRowSerializer):
    """A whole shipment: parties, route, items, the document checklist, and what this user may do next."""

    site = ShipmentSiteRefSerializer(read_only=True, allow_null=True)
    items = ShipmentItemSerializer(many=True, read_only=True)
    checklist = ChecklistDocumentSerializer(source="documents", many=True, read_only=True)
    transitions = serializers.SerializerMethodField(
        help_text="The transitions open from the current status, each allowed or refused for you with the reasons."
    )
    return_of = serializers.SerializerMethodField(help_text="The outbound shipment this one brings back.")
    returns = ShipmentRefSerializer(source="visible_returns", many=True, read_only=True)
    # Declared: a read-only field built from the model would not say that blank is a valid value.
    duties_payer = serializers.ChoiceField(choices=DutiesPayer.choices, allow_blank=True, read_only=True)

    class Meta(ShipmentRowSerializer.Meta):
        ref_name = "ShipmentDetail"
        fields = [
            *ShipmentRowSerializer.Meta.fields,
            "site",
            "origin_address",
            "destination_address",
            "incoterm",
            "declared_value",
            "currency",
            "airway_bill",
            "tracking_number",
            "customs_entry_number",
            "duties_estimated",
            "duties_actual",
            "duties_payer",
            "duty_exemption_applied",
            "compliance_flag",
            "compliance_flagged_at",
            "submitted_at",
            "items",
            "checklist",
            "transitions",
            "returns",
        ]
        read_only_fields = fields

    @extend_schema_field(TransitionOptionSerializer(many=True))
    def get_transitions(self, shipment) -> list[dict]:
        options = transition_options(user=self.context["request"].user, shipment=shipment)
        return TransitionOptionSerializer(options, many=True).data

    @extend_schema_field(ShipmentRefSerializer(allow_null=True))
    def get_return_of(self, shipment) -> dict | None:
        original = getattr(shipment, "visible_return_of", None)
        return ShipmentRefSerializer(original).data if original else None


class AuditEventSerializer(serializers.ModelSerializer):
    changes = serializers.SerializerMethodField(help_text="Field name to [old value, new value].")

    class Meta:
        model = AuditEvent
        ref_name = "ShipmentAuditEvent"
        fields = [
            "sequence",
            "occurred_at",
            "actor_label",
            "action",
            "target_repr",
            "changes",
            "reason",
            "via",
            "prev_hash",
            "hash",
        ]
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_changes(self, event) -> dict:
        return event.changes


class BulkResultSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text="The row's position in the request, from 0.")
    status = serializers.ChoiceField(choices=["created", "error"])
    id = serializers.IntegerField(required=False)
    reference = serializers.CharField(required=False)
    status_code = serializers.IntegerField(
        required=False, help_text="The HTTP status this row would have had alone: 400, 403 or 409."
    )
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="Field name to messages; `non_field_errors` for the row as a whole.",
    )

    class Meta:
        ref_name = "ShipmentBulkResult"


class BulkResponseSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    failed = serializers.IntegerField()
    results = BulkResultSerializer(many=True)

    class Meta:
        ref_name = "ShipmentBulkResponse"


class TrialSerializer(serializers.ModelSerializer):
    sponsor = ShipmentPartySerializer(read_only=True)
    phase = serializers.ChoiceField(choices=TrialPhase.choices, allow_blank=True, read_only=True)

    class Meta:
        model = Trial
        ref_name = "Trial"
        fields = [
            "id",
            "protocol_number",
            "title",
            "sponsor",
            "phase",
            "therapeutic_area",
            "eu_ct_number",
            "is_active",
            "created_at",
        ]
        read_only_fields = fields


class SiteSerializer(serializers.ModelSerializer):
    trial = ShipmentTrialRefSerializer(read_only=True)
    organization = ShipmentPartySerializer(read_only=True)

    class Meta:
        model = Site
        ref_name = "Site"
        fields = [
            "id",
            "trial",
            "organization",
            "site_number",
            "name",
            "principal_investigator",
            "address",
            "country",
        ]
        read_only_fields = fields


_STATUS_LABELS = dict(Shipment._meta.get_field("status").choices)
_PARTIES = ("sponsor", "ior", "eor", "consignee", "broker", "courier")
ROW_VALUES = (
    "id",
    "reference",
    "status",
    "trial_id",
    "trial__protocol_number",
    *(f"{party}_id" for party in _PARTIES),
    "origin_country",
    "destination_country",
    "route_kind",
    "temperature_class",
    "planned_ship_date",
    "required_at_site_date",
    "return_of_id",
    "status_changed_at",
    "created_at",
    "updated_at",
)


def _utc(moment) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def shipment_rows(rows) -> list[dict]:
    """What ShipmentRowSerializer gives for a page of the list, built from `.values(*ROW_VALUES)` rows: model
    instances and nested DRF serializers spent most of a 100-row page's time on machinery. The parties' names come
    in one query for the whole page."""
    rows = list(rows)
    party_ids = {row[f"{party}_id"] for row in rows for party in _PARTIES} - {None}
    names = dict(Organization.objects.filter(pk__in=party_ids).values_list("pk", "name")) if party_ids else {}
    out = []
    for r in rows:
        row = {
            "id": r["id"],
            "reference": r["reference"],
            "status": r["status"],
            "status_label": _STATUS_LABELS.get(r["status"], r["status"]),
            "trial": {"id": r["trial_id"], "protocol_number": r["trial__protocol_number"]},
        }
        for party in _PARTIES:
            party_id = r[f"{party}_id"]
            row[party] = None if party_id is None else {"id": party_id, "name": names[party_id]}
        required = r["required_at_site_date"]
        row.update(
            {
                "origin_country": r["origin_country"],
                "destination_country": r["destination_country"],
                "route_kind": r["route_kind"],
                "temperature_class": r["temperature_class"],
                "planned_ship_date": r["planned_ship_date"].isoformat(),
                "required_at_site_date": required.isoformat() if required else None,
                "return_of": r["return_of_id"],
                "status_changed_at": _utc(r["status_changed_at"]),
                "created_at": _utc(r["created_at"]),
                "updated_at": _utc(r["updated_at"]),
            }
        )
        out.append(row)
    return out
