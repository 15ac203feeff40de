"""Shipments, their items, lifecycle transitions and audit trail; trials and sites. Thin views: they check the
request's shape, call the services with `actor=request.user` and answer with the fresh object and its ETag."""

import re

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.db.models import Max, Prefetch
from django.http import Http404
from django.urls import reverse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.filters import SearchFilter
from rest_framework.response import Response

from documents.models import Document
from documents.signatures import WrongPassword
from ior_platform.core.api.filters import FilterBackend
from ior_platform.core.api.pagination import CappedCursorPagination
from ior_platform.core.api.viewsets import TenantReadOnlyViewSet, TenantViewSet
from ior_platform.core.errors import ConflictError, DomainError, NotPermitted, TransitionRefused
from ior_platform.core.tenancy import PARTY_FIELDS
from parties.models import Organization
from shipments.api.filters import ShipmentFilter, SiteFilter, StableOrderingFilter, TrialFilter
from shipments.api.serializers import (
    ROW_VALUES,
    TRANSITION_INPUT_SERIALIZERS,
    AuditEventSerializer,
    BulkResponseSerializer,
    ComplianceRecheckInputSerializer,
    ReturnInputSerializer,
    ShipmentBulkInputSerializer,
    ShipmentCreateInputSerializer,
    ShipmentDetailSerializer,
    ShipmentItemInputSerializer,
    ShipmentItemSerializer,
    ShipmentRowSerializer,
    ShipmentUpdateInputSerializer,
    SiteSerializer,
    TrialSerializer,
    flatten_errors,
    shipment_rows,
    validated,
)
from shipments.models import Shipment, ShipmentItem, Site, Trial
from shipments.rules import TRANSITION_LABELS, TRANSITION_VERBS
from shipments.selectors import shipment_audit_trail
from shipments.services import (
    SYSTEM_TRANSITIONS,
    TRANSITION_SERVICES,
    shipment_compliance_recheck,
    shipment_create,
    shipment_create_return,
    shipment_item_add,
    shipment_item_remove,
    shipment_item_update,
    shipment_update,
)

TAG = "shipments"
ITEM_PATH = re.compile(r"^items\[\d+\]\.")
LIFECYCLE_TAG = "shipment lifecycle"
SHIPMENT_EXAMPLE = {
    "id": 42,
    "reference": "SHP-2503-4F2A1C",
    "status": "draft",
    "status_label": "Draft",
    "trial": {"id": 3, "protocol_number": "SPA-301"},
    "sponsor": {"id": 1, "name": "Sponsor A Pharma"},
    "ior": {"id": 5, "name": "Brasil IOR Ltda"},
    "eor": {"id": 6, "name": "US Export Services"},
    "consignee": {"id": 9, "name": "Hospital São Paulo"},
    "broker": None,
    "courier": None,
    "origin_country": "US",
    "destination_country": "BR",
    "route_kind": "international",
    "temperature_class": "refrigerated",
    "planned_ship_date": "2025-04-01",
    "required_at_site_date": None,
    "return_of": None,
    "status_changed_at": "2025-03-01T09:00:00Z",
    "created_at": "2025-03-01T09:00:00Z",
    "updated_at": "2025-03-01T09:00:00Z",
}
DRAFT_EXAMPLE = {
    "origin_country": "US",
    "origin_address": "1 Depot Way, Memphis, TN",
    "destination_country": "BR",
    "destination_address": "Av. Paulista 1000, São Paulo",
    "temperature_class": "refrigerated",
    "planned_ship_date": "2025-04-01",
    "declared_value": "12000.00",
    "currency": "USD",
    "ior": 5,
    "eor": 6,
    "consignee": 9,
}
ITEM_EXAMPLE = {
    "product_name": "ABC-123 100 mg vial",
    "category": "imp",
    "hs_code": "300215",
    "quantity": "120",
    "unit": "vial",
    "lot_number": "L0042",
    "expiry_date": "2026-12-31",
    "unit_value": "100.00",
}
CREATE_EXAMPLE = {"trial": 3, "reference": "RTSM-000123", **DRAFT_EXAMPLE, "items": [ITEM_EXAMPLE]}
TRANSITION_EXAMPLES = {
    "approve": {"password": "your password", "comment": "Dossier complete; permits valid."},
    "dispatch": {"airway_bill": "020-12345675", "tracking_number": "1Z999AA10123456784"},
    "clear": {"customs_entry_number": "DI-25/0001234-5", "duties_actual": "0.00"},
    "reject": {"reason": "The CoA does not cover lot L0042."},
    "hold": {"reason": "Documentary check by the customs authority."},
    "release": {"reason": "Documents accepted."},
    "return_to_origin": {"reason": "Import permit refused at the border."},
    "destroy": {"reason": "Temperature excursion; destroyed under customs supervision."},
    "cancel": {"reason": "The site closed enrolment."},
}
NO_INPUT = {
    "application/json": {
        "type": "object",
        "properties": {},
        "additionalProperties": False,
        "description": "No inputs: send an empty object or no body.",
    }
}
ITEM_ID = OpenApiParameter("item_id", OpenApiTypes.INT, OpenApiParameter.PATH, description="The item's id.")


class AuditPagination(CappedCursorPagination):
    ordering = "sequence"


def _with_detail(queryset, user):
    """What the full representation reads, in a fixed number of queries."""
    return (
        queryset.with_parties()
        .select_related("site")
        .prefetch_related(
            "items",
            Prefetch(
                "documents",
                queryset=Document.objects.select_related("owed_by").annotate(current_version=Max("versions__number")),
            ),
            # A return the user is no party to stays out of sight, like any other shipment.
            Prefetch(
                "returns",
                queryset=Shipment.objects.for_user(user).only("id", "reference", "status").order_by("id"),
                to_attr="visible_returns",
            ),
        )
    )


def _fresh(view, pk: int) -> Shipment:
    shipment = _with_detail(view.get_queryset(), view.request.user).get(pk=pk)
    _attach_return_of(shipment, view.request.user)
    return shipment


def _attach_return_of(shipment: Shipment, user) -> None:
    shipment.visible_return_of = (
        Shipment.objects.for_user(user).filter(pk=shipment.return_of_id).only("id", "reference", "status").first()
        if shipment.return_of_id
        else None
    )


def _transition_action(name: str):
    """The POST action that fires transition `name` through its service."""
    service = TRANSITION_SERVICES[name]
    input_serializer = TRANSITION_INPUT_SERIALIZERS[name]

    def fire(self, request, pk=None):
        data = self.detail_input(input_serializer)
        try:
            shipment = self.locked_call(lambda locked: service(actor=request.user, shipment=locked, **data))
        except WrongPassword as exc:
            # A mistyped password is bad input to correct, not a lack of rights.
            raise serializers.ValidationError({"password": exc.reasons}) from None
        return self.detail_response(shipment.pk)

    fire.__name__ = fire.__qualname__ = f"fire_{name}"
    example = TRANSITION_EXAMPLES.get(name, {})
    fire = action(detail=True, methods=["post"], url_path=name, url_name=name.replace("_", "-"))(fire)
    return extend_schema(
        operation_id=f"shipments_{name}",
        summary=TRANSITION_LABELS[name],
        description=f"Fire the `{name}` transition: {TRANSITION_VERBS[name]} the shipment. Refused with 409 and "
        "every reason (the guard's, or the current status) when it cannot proceed now; 403 when your organization "
        "or role may not fire it. Send `If-Match` with the ETag you read to be sure nothing changed meanwhile."
        + (
            " The password re-entered is your electronic signature; a wrong one answers 400."
            if name == "approve"
            else ""
        ),
        tags=[LIFECYCLE_TAG],
        # An empty serializer would vanish from the schema; a transition without inputs takes an empty object.
        request=input_serializer if input_serializer().fields else NO_INPUT,
        responses={200: ShipmentDetailSerializer},
        examples=[OpenApiExample(TRANSITION_LABELS[name], value=example, request_only=True)],
    )(fire)


@extend_schema_view(
    list=extend_schema(
        summary="List shipments",
        description="The shipments your organization plays a part in, newest first unless `ordering` says "
        "otherwise. For incremental sync, pass `updated_since` with the time of your last sync and "
        "`ordering=updated_at`, and follow `next` until it is null.",
        tags=[TAG],
        examples=[
            OpenApiExample(
                "A page",
                value={
                    "next": "https://…/api/v1/shipments/?cursor=cD0yMDI1",
                    "previous": None,
                    "results": [SHIPMENT_EXAMPLE],
                },
                response_only=True,
            )
        ],
    ),
    retrieve=extend_schema(
        summary="Get a shipment",
        description="The whole shipment: parties, items, the document checklist, and the transitions open from its "
        "status, each allowed or refused for you with the reasons. The `ETag` header is what `If-Match` takes.",
        tags=[TAG],
        examples=[OpenApiExample("Draft", value=SHIPMENT_EXAMPLE, response_only=True)],
    ),
)
class ShipmentViewSet(TenantViewSet):
    queryset = Shipment.objects.all()
    serializer_class = ShipmentDetailSerializer
    lookup_value_regex = "[0-9]+"
    filter_backends = [FilterBackend, SearchFilter, StableOrderingFilter]
    filterset_class = ShipmentFilter
    search_fields = ["reference"]
    ordering_fields = ["planned_ship_date", "updated_at", "reference", "status", "created_at"]
    ordering = ["-id"]

    def get_serializer_class(self):
        return ShipmentRowSerializer if self.action == "list" else ShipmentDetailSerializer

    def refine_queryset(self, queryset):
        if self.action == "list":
            # Party names come in one query for the page (shipment_rows): joining six organizations costs the
            # planner more than the rows cost to read.
            return queryset.values(*ROW_VALUES)
        if self.action == "retrieve":
            return _with_detail(queryset, self.request.user)
        return queryset

    def locked_call(self, call, *, touch: bool = False):
        """Run `call(locked_shipment)` with the row locked and `If-Match` checked (412 when stale).

        A refusal is raised only after the transaction ends: services keep some records of a refused attempt in
        savepoints of their own (a wrong signing password counts towards the lock-out; a screening stays on record),
        and the refusal must not roll those back. `touch` marks the shipment changed for a change to its items."""
        failure = None
        with transaction.atomic():
            locked = self.get_locked_object()
            try:
                result = call(locked)
            except (DomainError, DjangoValidationError) as exc:
                failure = exc
            else:
                if touch:
                    Shipment.objects.filter(pk=locked.pk).update(updated_at=timezone.now())
        if failure is not None:
            raise failure
        return result

    def detail_input(self, serializer_class, **kwargs) -> dict:
        """The request body of an action on one shipment, checked after the shipment itself: whoever may not see it
        gets the same 404 whatever they send."""
        self.get_object()
        return validated(serializer_class, self.request.data, context=self.get_serializer_context(), **kwargs)

    def detail_response(self, pk: int, status_code: int = status.HTTP_200_OK) -> Response:
        shipment = _fresh(self, pk)
        response = Response(ShipmentDetailSerializer(shipment, context=self.get_serializer_context()).data, status_code)
        return self.set_etag(response, shipment)

    def list(self, request):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(shipment_rows(page))

    def retrieve(self, request, pk=None):
        shipment = self.get_object()
        _attach_return_of(shipment, request.user)
        return self.set_etag(Response(self.get_serializer(shipment).data), shipment)

    @extend_schema(
        summary="Draft a shipment",
        description="Creates a draft of one of your trials (a CRO: of a sponsor that authorised it), with its items. "
        "Only the fields listed are accepted; status, sponsor and the audit fields are the platform's, and sending "
        "them answers 400. Send an `Idempotency-Key` so a retry never books twice.",
        tags=[TAG],
        request=ShipmentCreateInputSerializer,
        responses={201: ShipmentDetailSerializer},
        examples=[OpenApiExample("Draft with one item", value=CREATE_EXAMPLE, request_only=True)],
    )
    def create(self, request):
        data = validated(ShipmentCreateInputSerializer, request.data, context=self.get_serializer_context())
        shipment = shipment_create(actor=request.user, **data)
        response = self.detail_response(shipment.pk, status.HTTP_201_CREATED)
        response["Location"] = reverse("v1:shipments-detail", kwargs={"pk": shipment.pk})
        return response

    @extend_schema(
        summary="Change a draft",
        description="Changes the fields sent, while the shipment is a draft (409 with the reason otherwise).",
        tags=[TAG],
        request=ShipmentUpdateInputSerializer,
        responses={200: ShipmentDetailSerializer},
        examples=[OpenApiExample("Move the ship date", value={"planned_ship_date": "2025-04-15"}, request_only=True)],
    )
    def partial_update(self, request, pk=None):
        data = self.detail_input(ShipmentUpdateInputSerializer, partial=True)
        shipment = self.locked_call(lambda locked: shipment_update(actor=request.user, shipment=locked, **data))
        return self.detail_response(shipment.pk)

    @extend_schema(
        summary="Add an item to a draft",
        tags=[TAG],
        request=ShipmentItemInputSerializer,
        responses={201: ShipmentItemSerializer},
        examples=[OpenApiExample("An IMP lot", value=ITEM_EXAMPLE, request_only=True)],
    )
    @action(detail=True, methods=["post"], url_path="items", url_name="items")
    def item_add(self, request, pk=None):
        data = self.detail_input(ShipmentItemInputSerializer)
        try:
            item = self.locked_call(
                lambda locked: shipment_item_add(actor=request.user, shipment=locked, **data), touch=True
            )
        except DjangoValidationError as exc:
            # The service names fields by the item's place in the shipment (`items[2].quantity`); here the body is
            # the one item.
            if not hasattr(exc, "error_dict"):
                raise
            raise DjangoValidationError(
                {ITEM_PATH.sub("", name): messages for name, messages in exc.message_dict.items()}
            ) from None
        return Response(ShipmentItemSerializer(item).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Change an item of a draft",
        tags=[TAG],
        parameters=[ITEM_ID],
        request=ShipmentItemInputSerializer,
        responses={200: ShipmentItemSerializer},
        examples=[OpenApiExample("Correct the quantity", value={"quantity": "100"}, request_only=True)],
    )
    @action(detail=True, methods=["patch"], url_path=r"items/(?P<item_id>[0-9]+)", url_name="item")
    def item_update(self, request, pk=None, item_id=None):
        data = self.detail_input(ShipmentItemInputSerializer, partial=True)

        def update(locked):
            return shipment_item_update(actor=request.user, item=self._item(locked, item_id), **data)

        item = self.locked_call(update, touch=True)
        return Response(ShipmentItemSerializer(item).data)

    @extend_schema(
        summary="Remove an item from a draft",
        tags=[TAG],
        parameters=[ITEM_ID],
        request=None,
        responses={204: None},
        examples=[OpenApiExample("Removed", value=None, response_only=True, status_codes=["204"])],
    )
    @item_update.mapping.delete
    def item_remove(self, request, pk=None, item_id=None):
        self.locked_call(
            lambda locked: shipment_item_remove(actor=request.user, item=self._item(locked, item_id)), touch=True
        )
        return Response(status=status.HTTP_204_NO_CONTENT)

    @staticmethod
    def _item(shipment: Shipment, item_id) -> ShipmentItem:
        item = ShipmentItem.objects.filter(shipment=shipment, pk=item_id).select_related("shipment").first()
        if item is None:
            raise Http404
        return item

    @extend_schema(
        summary="Re-check changed requirements",
        description="An IOR reviewer takes in country requirements that changed since submission: documents they now "
        "demand are added to the checklist and the compliance flag is lifted. 409 when nothing is flagged.",
        tags=[LIFECYCLE_TAG],
        request=ComplianceRecheckInputSerializer,
        responses={200: ShipmentDetailSerializer},
        examples=[OpenApiExample("Re-checked", value={"note": "ANVISA RDC 2025 adds a CoA."}, request_only=True)],
    )
    @action(detail=True, methods=["post"], url_path="compliance-recheck", url_name="compliance-recheck")
    def compliance_recheck(self, request, pk=None):
        data = self.detail_input(ComplianceRecheckInputSerializer)
        shipment = self.locked_call(
            lambda locked: shipment_compliance_recheck(actor=request.user, shipment=locked, **data)
        )
        return self.detail_response(shipment.pk)

    @extend_schema(
        summary="Draft the return of a delivered shipment",
        description="Creates a new draft bringing the goods back: the route reversed, exporter and importer of "
        "record swapped. 409 unless the shipment was delivered. Answers with the new draft.",
        tags=[LIFECYCLE_TAG],
        request=ReturnInputSerializer,
        responses={201: ShipmentDetailSerializer},
        examples=[
            OpenApiExample(
                "Unused kits back to the depot",
                value={"planned_ship_date": "2025-09-01", "reason": "Study closed"},
                request_only=True,
            )
        ],
    )
    @action(detail=True, methods=["post"], url_path="return", url_name="return")
    def create_return(self, request, pk=None):
        data = self.detail_input(ReturnInputSerializer)
        returned = self.locked_call(lambda locked: shipment_create_return(actor=request.user, shipment=locked, **data))
        response = self.detail_response(returned.pk, status.HTTP_201_CREATED)
        response["Location"] = reverse("v1:shipments-detail", kwargs={"pk": returned.pk})
        return response

    @extend_schema(
        summary="The shipment's audit trail",
        description="Every recorded change to the shipment, in order, with the hash chain that shows tampering.",
        tags=[TAG],
        responses={200: AuditEventSerializer(many=True)},
        examples=[
            OpenApiExample(
                "Created",
                value={
                    "next": None,
                    "previous": None,
                    "results": [
                        {
                            "sequence": 1,
                            "occurred_at": "2025-03-01T09:00:00Z",
                            "actor_label": "Alice Editor",
                            "action": "shipment.created",
                            "target_repr": "SHP-2503-4F2A1C",
                            "changes": {"destination_country": [None, "BR"]},
                            "reason": "",
                            "via": "API key ior_ab12cd34 (RTSM production)",
                            "prev_hash": "",
                            "hash": "5f1c…",
                        }
                    ],
                },
                response_only=True,
            )
        ],
    )
    @action(detail=True, methods=["get"], url_path="audit", pagination_class=AuditPagination, filter_backends=[])
    def audit(self, request, pk=None):
        shipment = self.get_object()
        page = self.paginate_queryset(shipment_audit_trail(user=request.user, shipment=shipment))
        return self.get_paginated_response(AuditEventSerializer(page, many=True).data)

    @extend_schema(
        summary="Draft many shipments at once",
        description="Up to 500 drafts, each validated and created on its own: a bad row is reported and the others "
        "are still created. Always 200 when the request itself is well-formed; see each row's `status`.",
        tags=[TAG],
        request=ShipmentBulkInputSerializer,
        responses={200: BulkResponseSerializer},
        examples=[
            OpenApiExample("Two drafts", value={"shipments": [CREATE_EXAMPLE, CREATE_EXAMPLE]}, request_only=True),
            OpenApiExample(
                "One created, one refused",
                value={
                    "created": 1,
                    "failed": 1,
                    "results": [
                        {"index": 0, "status": "created", "id": 42, "reference": "RTSM-000123"},
                        {
                            "index": 1,
                            "status": "error",
                            "status_code": 400,
                            "errors": {"reference": ["Shipment with this Reference already exists."]},
                        },
                    ],
                },
                response_only=True,
            ),
        ],
    )
    @action(detail=False, methods=["post"], url_path="bulk", url_name="bulk")
    def bulk(self, request):
        rows = validated(ShipmentBulkInputSerializer, request.data)["shipments"]
        context = {**self.get_serializer_context(), "preloaded": _preload(rows, request.user)}
        results = [self._bulk_row(index, row, context) for index, row in enumerate(rows)]
        created = sum(1 for r in results if r["status"] == "created")
        return Response({"created": created, "failed": len(results) - created, "results": results})

    def _bulk_row(self, index: int, row: dict, context: dict) -> dict:
        serializer = ShipmentCreateInputSerializer(data=row, context=context)
        if not serializer.is_valid():
            return _bulk_error(index, 400, flatten_errors(serializer.errors))
        try:
            # Its own transaction (a savepoint inside another): a failing row undoes only itself.
            shipment = shipment_create(actor=self.request.user, **serializer.validated_data)
        except DjangoValidationError as exc:
            errors = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
            return _bulk_error(index, 400, errors)
        except NotPermitted as exc:
            return _bulk_error(index, 403, {"non_field_errors": exc.reasons})
        except (TransitionRefused, ConflictError) as exc:
            return _bulk_error(index, 409, {"non_field_errors": exc.reasons})
        return {"index": index, "status": "created", "id": shipment.pk, "reference": shipment.reference}


def _bulk_error(index: int, code: int, errors: dict) -> dict:
    return {"index": index, "status": "error", "status_code": code, "errors": errors}


def _ids(rows: list[dict], *fields: str) -> set[int]:
    found = set()
    for row in rows:
        for field in fields:
            value = row.get(field)
            if isinstance(value, str) and value.isdigit():
                value = int(value)
            # Only what a primary key can hold: a larger number is no row, and the database would refuse the query.
            if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**63:
                found.add(value)
    return found


def _preload(rows: list[dict], user) -> dict:
    """Every trial, site and organization the rows name, in three queries, within what the user may see."""
    return {
        Trial: Trial.objects.for_user(user).in_bulk(_ids(rows, "trial")),
        Site: Site.objects.for_user(user).in_bulk(_ids(rows, "site")),
        Organization: Organization.objects.in_bulk(_ids(rows, *PARTY_FIELDS[1:])),
    }


for _name in TRANSITION_SERVICES:
    if _name not in SYSTEM_TRANSITIONS:
        setattr(ShipmentViewSet, f"fire_{_name}", _transition_action(_name))


@extend_schema_view(
    list=extend_schema(
        summary="List trials",
        description="Your organization's trials (a CRO: those of the sponsors that authorised it) and the trials of "
        "shipments you take part in.",
        tags=["trials and sites"],
        examples=[
            OpenApiExample(
                "A page",
                value={
                    "next": None,
                    "previous": None,
                    "results": [
                        {
                            "id": 3,
                            "protocol_number": "SPA-301",
                            "title": "ABC-123 in moderate asthma",
                            "sponsor": {"id": 1, "name": "Sponsor A Pharma"},
                            "phase": "3",
                            "therapeutic_area": "Respiratory",
                            "eu_ct_number": "",
                            "is_active": True,
                            "created_at": "2025-01-10T08:00:00Z",
                        }
                    ],
                },
                response_only=True,
            )
        ],
    ),
    retrieve=extend_schema(
        summary="Get a trial",
        tags=["trials and sites"],
        examples=[
            OpenApiExample(
                "Trial",
                value={"id": 3, "protocol_number": "SPA-301", "title": "ABC-123 in moderate asthma"},
                response_only=True,
            )
        ],
    ),
)
class TrialViewSet(TenantReadOnlyViewSet):
    queryset = Trial.objects.all()
    serializer_class = TrialSerializer
    lookup_value_regex = "[0-9]+"
    filter_backends = [FilterBackend, SearchFilter, StableOrderingFilter]
    filterset_class = TrialFilter
    search_fields = ["protocol_number", "title"]
    ordering_fields = ["protocol_number", "created_at"]
    ordering = ["-id"]

    def refine_queryset(self, queryset):
        return queryset.select_related("sponsor")


@extend_schema_view(
    list=extend_schema(
        summary="List sites",
        description="The sites of the trials you may see.",
        tags=["trials and sites"],
        examples=[
            OpenApiExample(
                "A page",
                value={
                    "next": None,
                    "previous": None,
                    "results": [
                        {
                            "id": 7,
                            "trial": {"id": 3, "protocol_number": "SPA-301"},
                            "organization": {"id": 9, "name": "Hospital São Paulo"},
                            "site_number": "101",
                            "name": "Hospital São Paulo – Pharmacy",
                            "principal_investigator": "Dr. Ana Souza",
                            "address": "Rua Napoleão de Barros 715, São Paulo",
                            "country": "BR",
                        }
                    ],
                },
                response_only=True,
            )
        ],
    ),
    retrieve=extend_schema(
        summary="Get a site",
        tags=["trials and sites"],
        examples=[OpenApiExample("Site", value={"id": 7, "site_number": "101", "country": "BR"}, response_only=True)],
    ),
)
class SiteViewSet(TenantReadOnlyViewSet):
    queryset = Site.objects.all()
    serializer_class = SiteSerializer
    lookup_value_regex = "[0-9]+"
    filter_backends = [FilterBackend, SearchFilter, StableOrderingFilter]
    filterset_class = SiteFilter
    search_fields = ["name", "site_number"]
    ordering_fields = ["site_number", "name"]
    ordering = ["-id"]

    def refine_queryset(self, queryset):
        return queryset.select_related("trial", "organization")
