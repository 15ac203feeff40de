"""Writes to shipments: drafting, the lifecycle's transitions and returns. Each service checks who may
act, changes the rows, writes the audit event in the same transaction, and dispatches follow-up work
only after the transaction commits."""

import secrets
from collections.abc import Callable
from datetime import date

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django_fsm import ConcurrentTransition

from compliance.permits import permit_draw_down, permit_release
from documents.choices import SignatureMeaning
from documents.services import checklist_create
from documents.signatures import signature_create, signatures_invalidate_if_changed, signer_verify
from ior_platform.core.audit import diff, record_event, snapshot
from ior_platform.core.errors import ConflictError, NotPermitted, TransitionRefused
from ior_platform.core.tenancy import PARTY_FIELDS, acting_sponsor_ids
from parties.models import Organization
from parties.screening import screening_blockers
from shipments.choices import ShipmentStatus
from shipments.guards import blockers, cold_chain_exit_open
from shipments.models import DATA_FIELDS, Shipment, ShipmentItem, Trial
from shipments.rules import TRANSITION_VERBS, refusal
from shipments.tasks import notify_shipment_event

# What a client may set on a draft; status, route kind, sponsor and the audit fields are the platform's.
# The pack-out's qualification and the excursion budget are set while drafting too, but are not in DATA_FIELDS: the
# signed dossier manifest vouches for the shipment's customs data, and the cold-chain record is signed on its own.
COLD_CHAIN_FIELDS = ("qualified_duration_hours", "excursion_budget_minutes")
DRAFT_FIELDS = ("site", *PARTY_FIELDS[1:], *DATA_FIELDS, *COLD_CHAIN_FIELDS)
ITEM_FIELDS = (
    "product_name",
    "category",
    "hs_code",
    "quantity",
    "unit",
    "lot_number",
    "expiry_date",
    "unit_value",
    "un_number",
)
# Transitions that must say why, for the record.
REASON_REQUIRED = {"reject", "hold", "return_to_origin", "destroy", "cancel"}
# Facts a transition records as it fires, besides a reason.
TRANSITION_INPUTS = {
    "dispatch": ("airway_bill", "tracking_number"),
    "clear": ("customs_entry_number",),
    "approve": ("password", "comment"),
}


def _new_reference() -> str:
    return f"SHP-{timezone.now():%y%m}-{secrets.token_hex(3).upper()}"


def _require_sponsor_editor(actor, sponsor_id: int) -> None:
    acts_for = bool(actor.organization_id) and (
        Organization.objects.filter(acting_sponsor_ids(actor.organization_id), pk=sponsor_id).exists()
    )
    if not (acts_for and actor.has_member_role("editor", "manager")):
        raise NotPermitted(
            "only editors or managers of the trial's sponsor (or a CRO it authorised) may draft shipments"
        )


def _reject_unknown(data: dict, allowed: tuple[str, ...]) -> None:
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise ValidationError(dict.fromkeys(unknown, "This field cannot be set here."))


def _validate_item_dates(shipment: Shipment, item: ShipmentItem) -> None:
    if item.expiry_date and shipment.planned_ship_date and item.expiry_date < shipment.planned_ship_date:
        raise ValidationError(
            {
                "expiry_date": f"Expires on {item.expiry_date:%Y-%m-%d}, before the planned ship date "
                f"{shipment.planned_ship_date:%Y-%m-%d}."
            }
        )


def _locked(actor, shipment: Shipment) -> Shipment:
    """The shipment's row, locked for this transaction, as the actor may see it. A stale caller gets a conflict."""
    try:
        current = Shipment.objects.for_user(actor).select_for_update().get(pk=shipment.pk)
    except Shipment.DoesNotExist:
        raise Shipment.DoesNotExist(f"No shipment {shipment.reference}") from None
    if current.status != shipment.status:
        raise ConflictError(
            f"shipment {current.reference} was changed by someone else meanwhile: it is now "
            f"{current.get_status_display().lower()}, not {shipment.get_status_display().lower()}"
        )
    return current


@transaction.atomic
def shipment_create(*, actor, trial: Trial, items: list[dict] | None = None, reference: str = "", **data) -> Shipment:
    """Draft a shipment of `trial`, optionally with its items."""
    _reject_unknown(data, DRAFT_FIELDS)
    if not Trial.objects.for_user(actor).filter(pk=trial.pk).exists():
        raise Trial.DoesNotExist(f"No trial {trial.pk}")
    _require_sponsor_editor(actor, trial.sponsor_id)
    shipment = Shipment(
        trial=trial, sponsor_id=trial.sponsor_id, created_by=actor, reference=reference or _new_reference(), **data
    )
    shipment.full_clean()
    shipment.save()
    for position, item_data in enumerate(items or [], start=1):
        _item_create(shipment, position, item_data)
    record_event(
        actor=actor,
        action="shipment.created",
        target=shipment,
        changes={
            name: [None, getattr(shipment, name)] for name in ("reference", *DRAFT_FIELDS) if getattr(shipment, name)
        },
        shipment=shipment,
    )
    return shipment


def _item_create(shipment: Shipment, position: int, data: dict) -> ShipmentItem:
    _reject_unknown(data, ITEM_FIELDS)
    item = ShipmentItem(shipment=shipment, position=position, **data)
    try:
        item.full_clean(exclude=["shipment"])
        _validate_item_dates(shipment, item)
    except ValidationError as exc:
        raise ValidationError({f"items[{position - 1}].{k}": v for k, v in exc.message_dict.items()}) from exc
    item.save()
    return item


def _require_draft(actor, shipment: Shipment) -> Shipment:
    locked = _locked(actor, shipment)
    denied = refusal(locked, actor, "edit_draft")
    if denied:
        raise NotPermitted(denied)
    if locked.status != ShipmentStatus.DRAFT:
        raise TransitionRefused(
            f"only a draft can be edited; {locked.reference} is {locked.get_status_display().lower()}"
        )
    return locked


@transaction.atomic
def shipment_update(*, actor, shipment: Shipment, **data) -> Shipment:
    _reject_unknown(data, DRAFT_FIELDS)
    locked = _require_draft(actor, shipment)
    before = snapshot(locked, data)
    for name, value in data.items():
        setattr(locked, name, value)
    locked.full_clean()
    for item in locked.items.all():
        try:
            _validate_item_dates(locked, item)
        except ValidationError:
            raise ValidationError(
                {"planned_ship_date": f"{item.product_name} expires on {item.expiry_date:%Y-%m-%d}, before this date."}
            ) from None
    locked.save()
    changes = diff(locked, before, data)
    if changes:
        record_event(actor=actor, action="shipment.updated", target=locked, changes=changes, shipment=locked)
    return locked


@transaction.atomic
def shipment_item_add(*, actor, shipment: Shipment, **data) -> ShipmentItem:
    locked = _require_draft(actor, shipment)
    position = (locked.items.aggregate(p=Max("position"))["p"] or 0) + 1
    item = _item_create(locked, position, data)
    record_event(
        actor=actor,
        action="shipment.item_added",
        target=item,
        changes={name: [None, getattr(item, name)] for name in ITEM_FIELDS if getattr(item, name)},
        shipment=locked,
    )
    return item


@transaction.atomic
def shipment_item_update(*, actor, item: ShipmentItem, **data) -> ShipmentItem:
    _reject_unknown(data, ITEM_FIELDS)
    locked = _require_draft(actor, item.shipment)
    item = ShipmentItem.objects.get(pk=item.pk, shipment=locked)
    before = snapshot(item, data)
    for name, value in data.items():
        setattr(item, name, value)
    item.full_clean(exclude=["shipment"])
    _validate_item_dates(locked, item)
    item.save()
    changes = diff(item, before, data)
    if changes:
        record_event(actor=actor, action="shipment.item_updated", target=item, changes=changes, shipment=locked)
    return item


@transaction.atomic
def shipment_item_remove(*, actor, item: ShipmentItem) -> None:
    locked = _require_draft(actor, item.shipment)
    item = ShipmentItem.objects.get(pk=item.pk, shipment=locked)
    record_event(
        actor=actor, action="shipment.item_removed", target=item, changes={"item": [str(item), None]}, shipment=locked
    )
    item.delete()


# Transitions the platform fires itself; nobody is offered them.
SYSTEM_TRANSITIONS = {"reopen_review"}


def transitions_from(shipment: Shipment) -> list[str]:
    """Names of the transitions people may fire from the shipment's current state, guards not yet evaluated. A way
    out that only a cold-chain disposition opens is offered only once it is open."""
    return [
        t.name
        for t in shipment.get_all_status_transitions()
        if t.source in (shipment.status, "*")
        and t.name not in SYSTEM_TRANSITIONS
        and cold_chain_exit_open(shipment, t.name)
    ]


def transition_refusals(shipment: Shipment, actor, name: str) -> list[str]:
    """Every reason `actor` cannot fire `name` on `shipment` now, without changing anything."""
    if name not in transitions_from(shipment):
        return [f"cannot {TRANSITION_VERBS[name]} a shipment that is {shipment.get_status_display().lower()}"]
    denied = refusal(shipment, actor, name)
    return ([denied] if denied else []) + blockers(shipment, name)


def _fire(
    *,
    actor,
    shipment: Shipment,
    name: str,
    reason: str = "",
    updates: dict | None = None,
    after: Callable[[Shipment], None] | None = None,
) -> Shipment:
    reason = (reason or "").strip()
    if name in REASON_REQUIRED and not reason:
        raise ValidationError({"reason": f"Say why you {TRANSITION_VERBS[name]} this shipment."})
    try:
        with transaction.atomic():
            locked = _locked(actor, shipment)
            before = snapshot(locked, ["status", *(updates or {})])
            for field, value in (updates or {}).items():
                setattr(locked, field, value)
            denied = refusal(locked, actor, name)
            if denied:
                raise NotPermitted(denied)
            reasons = transition_refusals(locked, actor, name)
            if reasons:
                raise TransitionRefused(reasons)
            getattr(locked, name)()
            locked.status_changed_at = timezone.now()
            locked.save()
            if after:
                after(locked)
            event = record_event(
                actor=actor,
                action=f"shipment.{name}",
                target=locked,
                changes=diff(locked, before, before.keys()),
                reason=reason,
                shipment=locked,
            )
            notify_shipment_event.delay_on_commit(event.pk)
    except ConcurrentTransition:
        raise ConflictError(f"shipment {shipment.reference} was changed by someone else meanwhile; reload it") from None
    return locked


def shipment_submit(*, actor, shipment: Shipment) -> Shipment:
    def snapshot_checklist(locked: Shipment) -> None:
        checklist_create(shipment=locked)

    return _fire(actor=actor, shipment=shipment, name="submit", after=snapshot_checklist)


def shipment_submit_dossier(*, actor, shipment: Shipment) -> Shipment:
    return _fire(actor=actor, shipment=shipment, name="submit_dossier", updates={"dossier_submitted_by": actor})


def shipment_approve(*, actor, shipment: Shipment, password: str, comment: str = "") -> Shipment:
    """Approve the dossier with the reviewer's electronic signature (password re-entered)."""
    visible = Shipment.objects.for_user(actor).get(pk=shipment.pk)
    denied = refusal(visible, actor, "approve")
    if denied:
        raise NotPermitted(denied)
    if visible.dossier_submitted_by_id == actor.pk:
        raise NotPermitted("you submitted this dossier, so someone else must sign its approval")
    # The password is checked before the approval's transaction, so a wrong one is counted even though the
    # approval is refused.
    signer_verify(actor=actor, password=password)

    def sign_and_draw_down(locked: Shipment) -> None:
        permit_draw_down(shipment=locked)
        signature_create(actor=actor, shipment=locked, meaning=SignatureMeaning.APPROVED, comment=comment)

    return _fire(actor=actor, shipment=shipment, name="approve", reason=comment, after=sign_and_draw_down)


def shipment_reject(*, actor, shipment: Shipment, reason: str) -> Shipment:
    return _fire(actor=actor, shipment=shipment, name="reject", reason=reason)


def shipment_clear_export(*, actor, shipment: Shipment) -> Shipment:
    # Parties are screened again right before export clearance, so a list loaded since the last check counts.
    # The screening is a record of its own: it is kept even when the clearance is then refused.
    visible = Shipment.objects.for_user(actor).with_parties().get(pk=shipment.pk)
    with transaction.atomic():
        screening_blockers([visible.sponsor, visible.ior, visible.eor, visible.consignee, visible.broker], actor=actor)
    _recheck_signatures(actor, visible)
    return _fire(actor=actor, shipment=shipment, name="clear_export")


def _recheck_signatures(actor, shipment: Shipment) -> None:
    """Goods move only under a signature that still matches the dossier; a stale one sends it back to review."""
    if signatures_invalidate_if_changed(shipment=shipment, actor=actor):
        current = Shipment.objects.get(pk=shipment.pk)
        raise TransitionRefused(
            f"the dossier changed after it was signed, so {current.reference} is back in dossier review for a new "
            "signature"
        )


def shipment_dispatch(*, actor, shipment: Shipment, airway_bill: str = "", tracking_number: str = "") -> Shipment:
    _recheck_signatures(actor, Shipment.objects.for_user(actor).get(pk=shipment.pk))
    updates = {
        k: v.strip() for k, v in (("airway_bill", airway_bill), ("tracking_number", tracking_number)) if v and v.strip()
    }
    return _fire(actor=actor, shipment=shipment, name="dispatch", updates=updates)


def shipment_arrive(*, actor, shipment: Shipment) -> Shipment:
    return _fire(actor=actor, shipment=shipment, name="arrive")


def shipment_hold(*, actor, shipment: Shipment, reason: str) -> Shipment:
    return _fire(actor=actor, shipment=shipment, name="hold", reason=reason)


def shipment_release(*, actor, shipment: Shipment, reason: str = "") -> Shipment:
    return _fire(actor=actor, shipment=shipment, name="release", reason=reason)


def shipment_clear(*, actor, shipment: Shipment, customs_entry_number: str = "", duties_actual=None) -> Shipment:
    updates = {}
    if customs_entry_number and customs_entry_number.strip():
        updates["customs_entry_number"] = customs_entry_number.strip()
    if duties_actual is not None:
        if duties_actual < 0:
            raise ValidationError({"duties_actual": "Duties paid cannot be negative."})
        updates["duties_actual"] = duties_actual
    return _fire(actor=actor, shipment=shipment, name="clear", updates=updates)


def shipment_out_for_delivery(*, actor, shipment: Shipment) -> Shipment:
    return _fire(actor=actor, shipment=shipment, name="out_for_delivery")


def shipment_deliver(*, actor, shipment: Shipment) -> Shipment:
    return _fire(actor=actor, shipment=shipment, name="deliver")


def shipment_return_to_origin(*, actor, shipment: Shipment, reason: str) -> Shipment:
    return _fire(actor=actor, shipment=shipment, name="return_to_origin", reason=reason)


def shipment_destroy(*, actor, shipment: Shipment, reason: str) -> Shipment:
    return _fire(actor=actor, shipment=shipment, name="destroy", reason=reason)


def shipment_cancel(*, actor, shipment: Shipment, reason: str) -> Shipment:
    def give_back_permits(locked: Shipment) -> None:
        permit_release(shipment=locked)

    return _fire(actor=actor, shipment=shipment, name="cancel", reason=reason, after=give_back_permits)


TRANSITION_SERVICES: dict[str, Callable[..., Shipment]] = {
    "submit": shipment_submit,
    "submit_dossier": shipment_submit_dossier,
    "approve": shipment_approve,
    "reject": shipment_reject,
    "clear_export": shipment_clear_export,
    "dispatch": shipment_dispatch,
    "arrive": shipment_arrive,
    "hold": shipment_hold,
    "release": shipment_release,
    "clear": shipment_clear,
    "out_for_delivery": shipment_out_for_delivery,
    "deliver": shipment_deliver,
    "return_to_origin": shipment_return_to_origin,
    "destroy": shipment_destroy,
    "cancel": shipment_cancel,
}


@transaction.atomic
def shipment_compliance_recheck(*, actor, shipment: Shipment, note: str = "") -> Shipment:
    """An IOR reviewer takes in changed country requirements: documents they now demand are added to the checklist
    (nothing is removed: what was submitted stays on record) and the review flag is lifted."""
    locked = _locked(actor, shipment)
    denied = refusal(locked, actor, "recheck_compliance")
    if denied:
        raise NotPermitted(denied)
    if not locked.compliance_flag:
        raise TransitionRefused(f"{locked.reference} has no changed requirements to re-check")
    added = checklist_create(shipment=locked)
    flag = locked.compliance_flag
    locked.compliance_flag, locked.compliance_flagged_at = "", None
    locked.save(update_fields=["compliance_flag", "compliance_flagged_at", "updated_at"])
    record_event(
        actor=actor,
        action="shipment.compliance_rechecked",
        target=locked,
        changes={"compliance_flag": [flag, ""], "documents_added": [None, [d.label for d in added]]},
        reason=note,
        shipment=locked,
    )
    return locked


@transaction.atomic
def shipment_create_return(*, actor, shipment: Shipment, planned_ship_date: date, reason: str = "") -> Shipment:
    """Draft the return of a delivered shipment: the same goods, the route reversed, exporter and importer of
    record swapped (the outbound IOR is the exporter at the return's origin, and vice versa)."""
    original = Shipment.objects.for_user(actor).select_for_update().get(pk=shipment.pk)
    denied = refusal(original, actor, "create_return")
    if denied:
        raise NotPermitted(denied)
    if original.status != ShipmentStatus.DELIVERED:
        raise TransitionRefused(
            f"only a delivered shipment can be returned; {original.reference} is "
            f"{original.get_status_display().lower()}"
        )
    if planned_ship_date < timezone.localdate():
        raise ValidationError({"planned_ship_date": "The return's planned ship date cannot be in the past."})
    number = original.returns.count() + 1
    returned = Shipment(
        reference=f"{original.reference}-R{number}",
        trial=original.trial,
        return_of=original,
        sponsor=original.sponsor,
        ior=original.eor,
        eor=original.ior,
        consignee=original.eor or original.sponsor,
        broker=original.broker,
        courier=original.courier,
        origin_country=original.destination_country,
        origin_address=original.destination_address,
        destination_country=original.origin_country,
        destination_address=original.origin_address,
        temperature_class=original.temperature_class,
        planned_ship_date=planned_ship_date,
        incoterm=original.incoterm,
        declared_value=original.declared_value,
        currency=original.currency,
        duties_payer=original.duties_payer,
        created_by=actor,
    )
    returned.full_clean()
    returned.save()
    ShipmentItem.objects.bulk_create(
        [
            ShipmentItem(
                shipment=returned,
                position=item.position,
                product_name=item.product_name,
                category=item.category,
                hs_code=item.hs_code,
                quantity=item.quantity,
                unit=item.unit,
                lot_number=item.lot_number,
                expiry_date=item.expiry_date,
                unit_value=item.unit_value,
                un_number=item.un_number,
            )
            for item in original.items.all()
        ]
    )
    record_event(
        actor=actor,
        action="shipment.return_created",
        target=returned,
        changes={"return_of": [None, original.reference]},
        reason=reason,
        shipment=returned,
    )
    record_event(
        actor=actor,
        action="shipment.return_requested",
        target=original,
        changes={"returns": [None, returned.reference]},
        reason=reason,
        shipment=original,
    )
    return returned
