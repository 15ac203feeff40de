"""Reads of shipments, always through the tenancy rule."""

from dataclasses import dataclass

from django.db.models import Count, Prefetch, QuerySet

from documents.models import Document, DocumentVersion
from ior_platform.core.models import AuditEvent
from shipments.models import Shipment
from shipments.rules import TRANSITION_LABELS
from shipments.services import REASON_REQUIRED, TRANSITION_INPUTS, transition_refusals, transitions_from


def shipment_list(*, user, status: str = "", trial_id: int | None = None) -> QuerySet[Shipment]:
    shipments = Shipment.objects.for_user(user).with_parties().annotate(item_count=Count("items"))
    if status:
        shipments = shipments.filter(status=status)
    if trial_id:
        shipments = shipments.filter(trial_id=trial_id)
    return shipments.order_by("planned_ship_date", "reference")


def shipment_get(*, user, reference: str) -> Shipment:
    """The shipment with its parties, items and checklist; raises Shipment.DoesNotExist outside the user's view."""
    return (
        Shipment.objects.for_user(user)
        .with_parties()
        .select_related("site", "return_of")
        .prefetch_related(
            "items",
            Prefetch(
                "documents",
                queryset=Document.objects.select_related("owed_by").prefetch_related(
                    Prefetch("versions", queryset=DocumentVersion.objects.select_related("uploaded_by"))
                ),
            ),
            "ior__licences",
            "signatures",
        )
        .get(reference=reference)
    )


def shipment_audit_trail(*, user, shipment: Shipment) -> QuerySet[AuditEvent]:
    return AuditEvent.objects.for_user(user).filter(shipment=shipment).order_by("sequence")


@dataclass(frozen=True)
class TransitionOption:
    name: str
    label: str
    allowed: bool
    reasons: list[str]
    needs_reason: bool
    inputs: tuple[str, ...]


def transition_options(*, user, shipment: Shipment) -> list[TransitionOption]:
    """The transitions open from the shipment's state, each allowed or refused for this user with the reasons."""
    options = []
    for name in transitions_from(shipment):
        reasons = transition_refusals(shipment, user, name)
        options.append(
            TransitionOption(
                name=name,
                label=TRANSITION_LABELS[name],
                allowed=not reasons,
                reasons=reasons,
                needs_reason=name in REASON_REQUIRED,
                inputs=TRANSITION_INPUTS.get(name, ()),
            )
        )
    return options
