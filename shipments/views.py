"""Pages for people: the shipments a user may see, one shipment with its lifecycle actions, timeline and audit trail,
and drafting a shipment with a live preflight. Views call the same selectors and services as every other entry point."""

import copy
import inspect
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import FieldDoesNotExist, PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from compliance.choices import TradeDirection
from compliance.preflight import preflight
from documents.bundle import bundle_json, shipment_bundle
from documents.choices import DocumentStatus
from documents.views import checklist_context, split_upload_messages
from ior_platform.core.codes import country_name
from ior_platform.core.errors import DomainError
from parties.choices import PartyRole
from shipments import selectors, services
from shipments.choices import FINAL_STATUSES, RouteKind, ShipmentStatus
from shipments.forms import (
    ShipmentForm,
    apply_service_errors,
    creatable_trials,
    item_formset,
    proposal_from,
)
from shipments.models import Shipment, ShipmentItem, TrackingEvent, Trial
from shipments.rules import refusal
from shipments.tracking.forms import TrackingEventForm
from shipments.tracking.selectors import tracking_event_list
from shipments.tracking.services import tracking_refusal
from shipments.views_coldchain import cold_chain_context

S = ShipmentStatus
AUDIT_TRAIL_LIMIT = 300
# What a transition did, as the timeline says it.
TIMELINE_TITLES = {
    "shipment.created": "Draft created",
    "shipment.submit": "Submitted",
    "shipment.submit_dossier": "Dossier submitted for review",
    "shipment.approve": "Dossier approved and signed",
    "shipment.reject": "Dossier rejected",
    "shipment.reopen_review": "Sent back to dossier review",
    "shipment.clear_export": "Cleared for export",
    "shipment.dispatch": "Dispatched",
    "shipment.arrive": "Arrived at destination customs",
    "shipment.hold": "Put on customs hold",
    "shipment.release": "Released from customs hold",
    "shipment.clear": "Cleared customs",
    "shipment.out_for_delivery": "Out for delivery",
    "shipment.deliver": "Delivered",
    "shipment.return_to_origin": "Returned to origin",
    "shipment.destroy": "Destroyed",
    "shipment.cancel": "Cancelled",
    "shipment.return_created": "Return drafted",
    "shipment.return_requested": "Return requested",
    "shipment.compliance_flagged": "Country requirements changed",
    "shipment.compliance_rechecked": "Requirements re-checked",
    "signature.invalidated": "Signature invalidated",
}
# Facts the carriers and customs report, shown on the timeline entry that recorded them.
TRACKING_FACTS = {
    "airway_bill": "Air waybill",
    "tracking_number": "Tracking number",
    "customs_entry_number": "Customs entry",
    "duties_actual": "Duties paid",
    "returns": "Return",
    "return_of": "Return of",
}
STATUS_LABELS = {**dict(S.choices), **dict(DocumentStatus.choices)}
NOT_SHIPPED = {S.DRAFT, S.PERMIT_COLLECTION, S.DOSSIER_REVIEW, S.APPROVED, S.EXPORT_CLEARED}
INPUT_LABELS = {
    "airway_bill": "Air waybill",
    "tracking_number": "Tracking number",
    "customs_entry_number": "Customs entry number",
    "comment": "Comment (optional)",
    "password": "Your password",
}
CAUTIOUS_ACTIONS = {"reject", "hold", "return_to_origin", "destroy", "cancel"}
# Facts a transition's own form asks for: a guard that misses only these does not disable the button.
ANSWERED_IN_FORM = {"dispatch": ("airway_bill",), "clear": ("customs_entry_number",)}
# Set on the request by a plain (non-htmx) POST of the tracking form that failed, so the page shows its errors.
TRACKING_FORM_ATTR = "tracking_event_form"


def _visible_or_404(user, reference: str) -> Shipment:
    try:
        return selectors.shipment_get(user=user, reference=reference)
    except Shipment.DoesNotExist:
        raise Http404("No such shipment") from None


# The shipment page.


@dataclass
class ActionButton:
    name: str
    label: str
    allowed: bool
    reasons: list[str]
    needs_reason: bool
    inputs: list[tuple[str, str]]
    tone: str

    @property
    def needs_input(self) -> bool:
        return self.needs_reason or bool(self.inputs)


@dataclass
class TimelineEntry:
    at: datetime | date
    title: str
    status: str = ""
    status_label: str = ""
    previous_label: str = ""
    actor: str = ""
    organization: str = ""
    reason: str = ""
    facts: list[tuple[str, str]] = field(default_factory=list)
    upcoming: bool = False
    tracking: TrackingEvent | None = None


@dataclass
class AuditRow:
    event: object
    changes: list[tuple[str, str, str]]


def action_buttons(*, user, shipment: Shipment) -> list[ActionButton]:
    buttons = []
    first_allowed = True
    for option in selectors.transition_options(user=user, shipment=shipment):
        allowed, reasons = option.allowed, option.reasons
        if not allowed and option.name in ANSWERED_IN_FORM:
            # The form asks for what is missing (the air waybill, the customs entry), so only other reasons count.
            probe = copy.copy(shipment)
            for name in ANSWERED_IN_FORM[option.name]:
                setattr(probe, name, getattr(probe, name) or "entered in the form")
            reasons = services.transition_refusals(probe, user, option.name)
            allowed = not reasons
            reasons = reasons or option.reasons
        if option.name in CAUTIOUS_ACTIONS:
            tone = "outline-danger"
        elif allowed and first_allowed:
            tone, first_allowed = "primary", False
        else:
            tone = "outline-primary"
        buttons.append(
            ActionButton(
                name=option.name,
                label=option.label,
                allowed=allowed,
                reasons=[] if allowed else [_sentence(reason) for reason in reasons],
                needs_reason=option.needs_reason,
                inputs=[(name, INPUT_LABELS.get(name, name.replace("_", " ").capitalize())) for name in option.inputs],
                tone=tone,
            )
        )
    return buttons


def header_context(*, user, shipment: Shipment) -> dict:
    """The page header: the actions this user may take, the others with their reasons, and the draft's edit link."""
    actions = action_buttons(user=user, shipment=shipment)
    edit_refusal = refusal(shipment, user, "edit_draft") if shipment.status == S.DRAFT else None
    return {
        "shipment": shipment,
        "actions": actions,
        "refused_actions": [action for action in actions if not action.allowed],
        "may_edit": shipment.status == S.DRAFT and edit_refusal is None,
        "edit_refusal": _sentence(edit_refusal) if edit_refusal else "",
    }


def _sentence(reason: str) -> str:
    return reason[:1].upper() + reason[1:] + ("" if reason.endswith(".") else ".")


def _plain(value) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, dict):
        return str(value.get("label", value.get("id", "")))
    if isinstance(value, list):
        return ", ".join(_plain(v) for v in value) or "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    text = str(value)
    text = STATUS_LABELS.get(text, text)
    return text if len(text) <= 120 else f"{text[:117]}…"


def _field_label(name: str) -> str:
    try:
        field = Shipment._meta.get_field(name)
    except FieldDoesNotExist:
        field = None
    # A reverse relation ("excursions" of a cold-chain event) has no verbose name.
    return str(getattr(field, "verbose_name", None) or name.replace("_", " ")).capitalize()


def audit_rows(events) -> list[AuditRow]:
    return [
        AuditRow(
            event=event,
            changes=[
                (_field_label(name), _plain(values[0]), _plain(values[1]))
                for name, values in (event.changes or {}).items()
                if isinstance(values, list | tuple) and len(values) == 2
            ],
        )
        for event in events
    ]


def timeline(shipment: Shipment, events, tracking_events=()) -> list[TimelineEntry]:
    """The shipment's story in time order: its status changes with the facts recorded on the way (air waybill,
    tracking number, customs entry) and the courier's tracking events, then the dates still ahead."""
    entries = [
        TimelineEntry(
            at=event.occurred_at,
            title=event.get_code_display(),
            actor=(event.recorded_by.get_full_name() or event.recorded_by.get_username()) if event.recorded_by else "",
            organization=str(event.recorded_by.organization or "") if event.recorded_by else "",
            tracking=event,
        )
        for event in tracking_events
    ]
    for event in events:
        changes = event.changes or {}
        status_change = changes.get("status") if event.action.startswith("shipment.") else None
        if event.action not in TIMELINE_TITLES and not status_change:
            continue
        entry = TimelineEntry(
            at=event.occurred_at,
            title=TIMELINE_TITLES.get(event.action, event.action_display),
            actor=event.actor_label,
            organization=str(event.organization) if event.organization_id else "",
            reason=event.reason,
            facts=[
                (label, _plain(changes[name][1]))
                for name, label in TRACKING_FACTS.items()
                if isinstance(changes.get(name), list) and changes[name][1]
            ],
        )
        if status_change and isinstance(status_change, list) and len(status_change) == 2:
            entry.status = status_change[1] or ""
            entry.status_label = STATUS_LABELS.get(entry.status, entry.status)
            entry.previous_label = STATUS_LABELS.get(status_change[0] or "", "")
        elif event.action == "shipment.created":
            entry.status, entry.status_label = S.DRAFT, S.DRAFT.label
        entries.append(entry)
    # In time order; at the same instant a transition comes before the scan it gave rise to.
    entries.sort(key=lambda entry: (entry.at, entry.tracking is not None))
    if shipment.status not in FINAL_STATUSES:
        if shipment.status in NOT_SHIPPED:
            entries.append(TimelineEntry(at=shipment.planned_ship_date, title="Planned ship date", upcoming=True))
        if shipment.required_at_site_date:
            entries.append(TimelineEntry(at=shipment.required_at_site_date, title="Required at site", upcoming=True))
    return entries


@login_required
def shipment_detail(request, reference: str):
    shipment = _visible_or_404(request.user, reference)
    events = list(selectors.shipment_audit_trail(user=request.user, shipment=shipment).select_related("organization"))
    page_messages, upload_errors = split_upload_messages(request)
    items = list(shipment.items.all())
    return render(
        request,
        "shipments/detail.html",
        {
            **header_context(user=request.user, shipment=shipment),
            **checklist_context(user=request.user, shipment=shipment, upload_errors=upload_errors),
            "messages": page_messages,
            "parties": [
                ("Sponsor", shipment.sponsor),
                ("Importer of record", shipment.ior),
                ("Exporter of record", shipment.eor),
                ("Consignee", shipment.consignee),
                ("Customs broker", shipment.broker),
                ("Courier", shipment.courier),
            ],
            "items": items,
            "items_total": sum((item.line_value for item in items), Decimal(0)),
            **timeline_context(request, shipment, events),
            "audit_rows": audit_rows(events[::-1][:AUDIT_TRAIL_LIMIT]),
            "audit_total": len(events),
            "audit_limit": AUDIT_TRAIL_LIMIT,
            "artifacts": list(shipment.dossier_artifacts.all()[:5]),
            "signatures": list(shipment.signatures.all()),
            **cold_chain_context(request, shipment),
        },
    )


def timeline_context(request, shipment: Shipment, events, form: TrackingEventForm | None = None) -> dict:
    """The timeline card: transitions and tracking events in time order, and the tracking form for those who may
    record one now. A failed plain POST of the form comes back bound on the request."""
    may_record = tracking_refusal(shipment, request.user) is None
    form = form or getattr(request, TRACKING_FORM_ATTR, None)
    tracking_events = list(tracking_event_list(user=request.user, shipment=shipment))
    return {
        "shipment": shipment,
        "timeline": timeline(shipment, events, tracking_events),
        "tracking_form": (form or TrackingEventForm()) if may_record else None,
        # Someone who posted the form without the right to (a stale page, a shipment cancelled meanwhile) is told why.
        "tracking_refused": list(form.non_field_errors()) if form is not None and not may_record else [],
    }


@login_required
def shipment_actions(request, reference: str):
    """The page header with its actions, for htmx to refresh after something on the page changed them."""
    shipment = _visible_or_404(request.user, reference)
    return render(request, "shipments/partials/_actions.html", header_context(user=request.user, shipment=shipment))


@login_required
@require_POST
def shipment_transition(request, reference: str, name: str):
    shipment = _visible_or_404(request.user, reference)
    service = services.TRANSITION_SERVICES.get(name)
    if service is None:
        raise Http404("No such action")
    kwargs = {field: request.POST.get(field, "") for field in services.TRANSITION_INPUTS.get(name, ())}
    if "reason" in inspect.signature(service).parameters:
        kwargs["reason"] = request.POST.get("reason", "")
    try:
        fired = service(actor=request.user, shipment=shipment, **kwargs)
    except ValidationError as exc:
        for error in exc.messages:
            messages.error(request, error)
    except DomainError as exc:
        for reason in exc.reasons:
            messages.error(request, _sentence(reason))
    else:
        messages.success(request, f"{fired.reference} is now {fired.get_status_display().lower()}.")
    return redirect(shipment.get_absolute_url())


@login_required
def shipment_record(request, reference: str):
    """The shipment's electronic copy as a JSON download."""
    shipment = _visible_or_404(request.user, reference)
    response = HttpResponse(
        bundle_json(shipment_bundle(user=request.user, shipment=shipment)), content_type="application/json"
    )
    response["Content-Disposition"] = f'attachment; filename="{shipment.reference}-record.json"'
    response["X-Content-Type-Options"] = "nosniff"
    return response


# Drafting.


@dataclass
class PreflightDocument:
    title: str
    country: str
    owner: str
    due: date
    lead_time_days: int | None
    legal_basis: str


def _preflight_context(form: ShipmentForm, formset) -> dict:
    """The preflight panel: what is still missing to run it, or its answer arranged for reading."""
    proposal, missing = proposal_from(form, formset)
    if proposal is None:
        return {"missing": missing, "result": None}
    result = preflight(proposal)
    roles = dict(PartyRole.choices)
    sides = []
    for side, label in TradeDirection.choices[::-1]:
        lines = [
            PreflightDocument(
                title=line.title,
                country=country_name(line.country),
                owner=line.owed_by or roles.get(line.provided_by, line.provided_by),
                due=line.due_date,
                lead_time_days=line.lead_time_days,
                legal_basis=line.legal_basis,
            )
            for line in result.documents
            if line.side == side
        ]
        if lines:
            sides.append((label, lines))
    amounts = [tax.amount for tax in result.taxes]
    return {
        "missing": [],
        "result": result,
        "proposal": proposal,
        "route_kind_label": RouteKind(result.route_kind).label,
        "document_sides": sides,
        "tax_total": sum(amounts, Decimal(0)) if amounts and None not in amounts else None,
        "feasible": proposal.planned_ship_date >= result.earliest_ship_date,
    }


def _render_form(request, form, formset, *, shipment: Shipment | None = None, status: int = 200):
    return render(
        request,
        "shipments/form.html",
        {"form": form, "formset": formset, "shipment": shipment, **_preflight_context(form, formset)},
        status=status,
    )


@login_required
def shipment_create(request):
    if not creatable_trials(request.user).exists():
        raise PermissionDenied(
            "Only editors or managers of a trial's sponsor (or of a CRO it authorised) may draft shipments."
        )
    if request.method != "POST":
        form = ShipmentForm(user=request.user, creating=True)
        return _render_form(request, form, item_formset())
    form = ShipmentForm(request.POST, user=request.user, creating=True)
    formset = item_formset(request.POST)
    if form.is_valid() and formset.is_valid():
        rows = formset.active_forms()
        try:
            shipment = services.shipment_create(
                actor=request.user,
                trial=form.cleaned_data["trial"],
                items=[row.item_data() for row in rows],
                **form.draft_data(),
            )
        except ValidationError as exc:
            apply_service_errors(exc, form, rows)
        except Trial.DoesNotExist:
            form.add_error("trial", "Choose one of your trials.")
        except DomainError as exc:
            form.add_error(None, [_sentence(reason) for reason in exc.reasons])
        else:
            messages.success(request, f"Draft {shipment.reference} saved. Submit it when the preflight is clear.")
            return redirect(shipment.get_absolute_url())
    return _render_form(request, form, formset)


@login_required
def shipment_edit(request, reference: str):
    shipment = _visible_or_404(request.user, reference)
    denied = refusal(shipment, request.user, "edit_draft")
    if denied or shipment.status != S.DRAFT:
        reason = denied or (
            f"only a draft can be edited; {shipment.reference} is {shipment.get_status_display().lower()}"
        )
        messages.error(request, _sentence(reason))
        return redirect(shipment.get_absolute_url())
    if request.method != "POST":
        form = ShipmentForm(instance=shipment, user=request.user, creating=False)
        return _render_form(request, form, item_formset(shipment=shipment), shipment=shipment)
    form = ShipmentForm(request.POST, instance=shipment, user=request.user, creating=False)
    formset = item_formset(request.POST, shipment=shipment)
    if form.is_valid() and formset.is_valid() and _save_draft(request.user, shipment, form, formset):
        messages.success(request, f"Draft {shipment.reference} saved.")
        return redirect(shipment.get_absolute_url())
    return _render_form(request, form, formset, shipment=shipment)


def _save_draft(actor, shipment: Shipment, form: ShipmentForm, formset) -> bool:
    """Apply the edit through the services, all or nothing: every refusal is put on its field or row, and if there
    is any, nothing is kept. Removals and item changes go first, so a new ship date is checked against the items as
    they will be; new items are checked against the new date."""
    rows = formset.active_forms()
    failed = False
    with transaction.atomic():
        try:
            for row in formset.removed_forms():
                services.shipment_item_remove(actor=actor, item=row.instance)
            for row in rows:
                if row.instance.pk and row.has_changed():
                    failed |= not _item_call(row, services.shipment_item_update, actor=actor, item=row.instance)
            draft_data = form.draft_data()
            if draft_data:
                services.shipment_update(actor=actor, shipment=shipment, **draft_data)
            for row in rows:
                if not row.instance.pk:
                    failed |= not _item_call(row, services.shipment_item_add, actor=actor, shipment=shipment)
        except ValidationError as exc:
            apply_service_errors(exc, form)
            failed = True
        except (DomainError, ShipmentItem.DoesNotExist, Shipment.DoesNotExist) as exc:
            reasons = exc.reasons if isinstance(exc, DomainError) else ["this draft changed meanwhile; reload it"]
            form.add_error(None, [_sentence(reason) for reason in reasons])
            failed = True
        if failed:
            transaction.set_rollback(True)
    return not failed


def _item_call(row, service, **kwargs) -> bool:
    try:
        service(**kwargs, **row.item_data())
    except ValidationError as exc:
        if hasattr(exc, "error_dict"):
            for key, errors in exc.message_dict.items():
                name = key.rpartition(".")[2]
                row.add_error(name if name in row.fields else None, errors)
        else:
            row.add_error(None, exc.messages)
        return False
    return True


@login_required
@require_POST
def shipment_preflight(request):
    """The preflight panel for the form as typed so far (htmx): what is missing, or what the route will need."""
    form = ShipmentForm(request.POST, user=request.user, creating=True)
    formset = item_formset(request.POST, preflight_only=True)
    return render(request, "shipments/partials/_preflight.html", _preflight_context(form, formset))
