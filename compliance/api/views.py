"""Compliance over the API: the permit ledger of the trials the caller may see, the country knowledge base (public
reference data), and preflight of a proposed shipment."""

from collections import defaultdict
from decimal import Decimal

import django_filters
from django.db.models import DecimalField, ExpressionWrapper, F, Prefetch, Q, Sum, Value
from django.db.models.functions import Coalesce
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, permissions, viewsets
from rest_framework.response import Response

from compliance.api.serializers import (
    CountryProfileSerializer,
    PermitSerializer,
    PreflightInputSerializer,
    PreflightResultSerializer,
)
from compliance.choices import DocumentType, TradeDirection
from compliance.models import CountryProfile, DocumentRequirement, Permit, PermitLine
from compliance.preflight import Proposal, ProposedItem, preflight
from ior_platform.core.api.pagination import CappedCursorPagination
from ior_platform.core.api.viewsets import IntegrationAPIView, IntegrationMixin, TenantReadOnlyViewSet

QUANTITY = DecimalField(max_digits=12, decimal_places=3)


def lines_with_quantities():
    """Permit lines with what approved shipments drew from them and what is left, as compliance.permits counts it
    (released draws given back), computed in the query that fetches the lines."""
    drawn = Coalesce(
        Sum("drawdowns__quantity", filter=Q(drawdowns__released_at__isnull=True)),
        Value(Decimal(0)),
        output_field=QUANTITY,
    )
    return PermitLine.objects.annotate(drawn=drawn).annotate(
        remaining=ExpressionWrapper(F("authorised_quantity") - F("drawn"), output_field=QUANTITY)
    )


# Permits

LINE_EXAMPLE = {
    "id": 3,
    "product_name": "ABC-123 100 mg vial",
    "unit": "vial",
    "granted": "1000.000",
    "drawn": "240.000",
    "remaining": "760.000",
}
PERMIT_EXAMPLE = {
    "id": 11,
    "permit_type": "import_permit",
    "title": "Import permit / licence",
    "number": "LI-26/0001",
    "authority": "ANVISA",
    "holder": {"id": 7, "name": "Brasil IOR Ltda"},
    "trial": {"id": 2, "protocol_number": "SPA-301"},
    "country": "BR",
    "direction": "import",
    "valid_from": "2026-01-10",
    "valid_until": "2026-07-09",
    "notes": "",
    "created_at": "2026-01-10T12:00:00Z",
    "lines": [LINE_EXAMPLE],
}


class PermitFilter(django_filters.FilterSet):
    # A number, not a choice of trials: an id you cannot see gives an empty list, exactly like one that does not exist.
    trial = django_filters.NumberFilter(field_name="trial_id", help_text="Trial id.")
    country = django_filters.CharFilter(method="filter_country", help_text="ISO 3166-1 alpha-2 code, e.g. BR.")
    direction = django_filters.ChoiceFilter(choices=TradeDirection.choices)
    permit_type = django_filters.ChoiceFilter(choices=DocumentType.choices)
    valid_on = django_filters.DateFilter(method="filter_valid_on", help_text="Only permits valid on this date.")

    class Meta:
        model = Permit
        fields = ["trial", "country", "direction", "permit_type", "valid_on"]

    def filter_country(self, queryset, name, value):
        return queryset.filter(country=value.upper())

    def filter_valid_on(self, queryset, name, value):
        return queryset.filter(valid_from__lte=value, valid_until__gte=value)


@extend_schema_view(
    list=extend_schema(
        summary="Permits of the trials you may see",
        description="Import permits, test licences, export licences and NOLs, with each product line's quantity "
        "granted, drawn by approved shipments and remaining.",
        tags=["compliance"],
        examples=[OpenApiExample("Permits", value=PERMIT_EXAMPLE, response_only=True)],
    ),
    retrieve=extend_schema(
        summary="One permit",
        tags=["compliance"],
        examples=[OpenApiExample("Permit", value=PERMIT_EXAMPLE, response_only=True)],
    ),
)
class PermitViewSet(TenantReadOnlyViewSet):
    queryset = Permit.objects.all()
    serializer_class = PermitSerializer
    filter_backends = [DjangoFilterBackend]
    filterset_class = PermitFilter

    def refine_queryset(self, queryset):
        return queryset.select_related("holder", "trial").prefetch_related(
            Prefetch("lines", queryset=lines_with_quantities())
        )


# Countries

COUNTRY_EXAMPLE = {
    "country": "BR",
    "country_name": "Brazil",
    "regulatory_authority": "Agência Nacional de Vigilância Sanitária",
    "regulatory_authority_acronym": "ANVISA",
    "regulatory_authority_url": "https://www.gov.br/anvisa/",
    "customs_authority": "Receita Federal",
    "customs_authority_acronym": "RFB",
    "customs_authority_url": "https://www.gov.br/receitafederal/",
    "clinical_import_authorisation": "Licença de Importação (LI)",
    "local_ior_mandatory": True,
    "imp_duty_exempt": True,
    "imp_vat_exempt": False,
    "standard_vat_rate": "18.00",
    "standard_duty_rate": None,
    "typical_clearance_days": 10,
    "cold_chain_notes": "",
    "sources": [
        {"fact": "local_ior_mandatory", "source": "RDC 81/2008", "verified_on": "2026-01-15"},
    ],
    "last_verified_on": "2026-01-15",
    "updated_at": "2026-01-15T08:00:00Z",
    "requirements": [
        {
            "id": 40,
            "direction": "import",
            "product_category": "imp",
            "temperature_class": "",
            "min_declared_value": None,
            "value_currency": "",
            "document_type": "import_permit",
            "title": "ANVISA import consent (LI)",
            "provided_by": "ior",
            "lead_time_days": 20,
            "validity_days": 90,
            "legal_basis": "RDC 81/2008",
            "source": "https://www.gov.br/anvisa/",
            "verified_on": "2026-01-15",
            "version": 2,
            "notes": "",
        }
    ],
}


class CountryPagination(CappedCursorPagination):
    ordering = "country"


@extend_schema_view(
    list=extend_schema(
        summary="Country profiles",
        description="Public regulatory reference data, the same for every caller: authorities, whether a local "
        "IOR is mandatory, taxes, typical clearance, sources and when they were verified, and the current version "
        "of each document requirement.",
        tags=["compliance"],
        examples=[OpenApiExample("Countries", value=COUNTRY_EXAMPLE, response_only=True)],
    ),
    retrieve=extend_schema(
        summary="One country profile",
        description="By ISO 3166-1 alpha-2 code: `/api/v1/countries/BR/`.",
        tags=["compliance"],
        parameters=[
            OpenApiParameter("country", str, OpenApiParameter.PATH, description="ISO 3166-1 alpha-2 code, e.g. BR.")
        ],
        examples=[OpenApiExample("Brazil", value=COUNTRY_EXAMPLE, response_only=True)],
    ),
)
class CountryProfileViewSet(
    IntegrationMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Reference data about countries, not any tenant's: every signed-in caller reads all of it, so this view is
    not a TenantViewSet (CountryProfile carries no tenancy rule)."""

    queryset = CountryProfile.objects.prefetch_related(
        Prefetch("requirements", queryset=DocumentRequirement.objects.filter(is_active=True))
    )
    serializer_class = CountryProfileSerializer
    lookup_field = "country"
    pagination_class = CountryPagination
    filter_backends = []

    def retrieve(self, request, *args, **kwargs):
        self.kwargs[self.lookup_field] = self.kwargs[self.lookup_field].upper()
        return super().retrieve(request, *args, **kwargs)


# Preflight

PREFLIGHT_REQUEST = {
    "trial": 2,
    "origin": "US",
    "destination": "BR",
    "sponsor": 1,
    "ior": 7,
    "eor": 8,
    "consignee": 9,
    "items": [{"category": "imp", "product_name": "ABC-123 100 mg vial", "quantity": "120", "unit_value": "100.00"}],
    "temperature_class": "refrigerated",
    "declared_value": "12000.00",
    "currency": "USD",
    "planned_ship_date": "2026-05-04",
}
PREFLIGHT_RESPONSE = {
    "route_kind": "international",
    "documents": [
        {
            "side": "export",
            "country": "US",
            "document_type": "export_declaration",
            "title": "Electronic Export Information (EEI)",
            "provided_by": "eor",
            "owed_by": "US Export Services",
            "lead_time_days": 3,
            "due_date": "2026-05-01",
            "validity_days": None,
            "legal_basis": "15 CFR 30",
            "source": "https://www.census.gov/foreign-trade/",
        },
        {
            "side": "import",
            "country": "BR",
            "document_type": "import_permit",
            "title": "ANVISA import consent (LI)",
            "provided_by": "ior",
            "owed_by": "Brasil IOR Ltda",
            "lead_time_days": 20,
            "due_date": "2026-04-14",
            "validity_days": 90,
            "legal_basis": "RDC 81/2008",
            "source": "https://www.gov.br/anvisa/",
        },
    ],
    "permits": [
        {
            "side": "import",
            "country": "BR",
            "permit_type": "import_permit",
            "title": "ANVISA import consent (LI)",
            "covered": True,
            "held_permits": [
                {
                    "id": 11,
                    "number": "LI-26/0001",
                    "authority": "ANVISA",
                    "valid_from": "2026-01-10",
                    "valid_until": "2026-07-09",
                    "valid_on_ship_date": True,
                    "lines": [LINE_EXAMPLE],
                }
            ],
        }
    ],
    "taxes": [
        {
            "tax": "import duty",
            "country": "BR",
            "status": "exempt",
            "rate": None,
            "amount": "0.00",
            "currency": "USD",
            "note": "IMP exemption",
        },
        {
            "tax": "import VAT",
            "country": "BR",
            "status": "estimated",
            "rate": "18.00",
            "amount": "2160.00",
            "currency": "USD",
            "note": "",
        },
    ],
    "earliest_ship_date": "2026-03-22",
    "critical_path": "ANVISA import consent (LI) (20 days)",
    "blockers": [],
    "warnings": [],
}


def held_permits(*, user, trial) -> dict[tuple[str, str, str], list[Permit]]:
    if trial is None:
        return {}
    permits = (
        Permit.objects.for_user(user)
        .filter(trial=trial)
        .prefetch_related(Prefetch("lines", queryset=lines_with_quantities()))
        .order_by("valid_until", "pk")
    )
    grouped = defaultdict(list)
    for permit in permits:
        grouped[(permit.direction, permit.country, permit.permit_type)].append(permit)
    return grouped


class PreflightView(IntegrationAPIView):
    # A computation that changes nothing, so a read-only key may ask it even though it is a POST.
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(
        summary="Preflight a proposed shipment",
        description="What a shipment would need before it is booked: each document per side with who owes it and "
        "by when, the trial's permits with the quantities they have left, duties and VAT expected, the earliest "
        "feasible ship date, and the blockers. Nothing is stored, so read-only API keys may call it too. A trial "
        "or organization id you cannot see is refused exactly like one that does not exist. Give `items`, or just "
        "`categories` for a quick estimate.",
        request=PreflightInputSerializer,
        responses={200: PreflightResultSerializer},
        tags=["compliance"],
        examples=[
            OpenApiExample("US to Brazil", value=PREFLIGHT_REQUEST, request_only=True),
            OpenApiExample("Answer", value=PREFLIGHT_RESPONSE, response_only=True),
        ],
    )
    def post(self, request):
        serializer = PreflightInputSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        trial = data.get("trial")
        if data.get("items"):
            items = [ProposedItem(**item) for item in data["items"]]
        else:
            items = [ProposedItem(category=category) for category in dict.fromkeys(data["categories"])]
        proposal = Proposal(
            origin=data["origin"],
            destination=data["destination"],
            items=items,
            temperature_class=data["temperature_class"],
            declared_value=data["declared_value"],
            currency=data["currency"],
            planned_ship_date=data["planned_ship_date"],
            trial=trial,
            sponsor=data.get("sponsor") or (trial.sponsor if trial is not None else None),
            ior=data.get("ior"),
            eor=data.get("eor"),
            consignee=data.get("consignee"),
            broker=data.get("broker"),
            courier=data.get("courier"),
        )
        result = preflight(proposal)
        context = {
            "held_permits": held_permits(user=request.user, trial=trial),
            "planned_ship_date": proposal.planned_ship_date,
        }
        return Response(PreflightResultSerializer(result, context=context).data)
