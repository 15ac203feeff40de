"""Pages for people: the shipments a user may see, one shipment with its lifecycle actions and audit trail.
Views call the same selectors and services as every other entry point."""

import inspect

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from documents.bundle import bundle_json, shipment_bundle
from documents.views import uploadable_document_ids
from ior_platform.core.errors import DomainError
from shipments import selectors, services
from shipments.choices import ShipmentStatus
from shipments.models import Shipment, Trial


def _visible_or_404(user, reference: str) -> Shipment:
    try:
        return selectors.shipment_get(user=user, reference=reference)
    except Shipment.DoesNotExist:
        raise Http404("No such shipment") from None


@login_required
def home(request):
    status = request.GET.get("status", "")
    if status not in ShipmentStatus.values:
        status = ""
    trial_id = request.GET.get("trial", "")
    trial_id = int(trial_id) if trial_id.isdigit() else None
    shipments = selectors.shipment_list(user=request.user, status=status, trial_id=trial_id)
    return render(
        request,
        "shipments/home.html",
        {
            "shipments": shipments[:200],
            "statuses": ShipmentStatus.choices,
            "status": status,
            "trials": Trial.objects.for_user(request.user).select_related("sponsor"),
            "trial_id": trial_id,
        },
    )


@login_required
def shipment_detail(request, reference: str):
    shipment = _visible_or_404(request.user, reference)
    return render(
        request,
        "shipments/detail.html",
        {
            "shipment": shipment,
            "options": selectors.transition_options(user=request.user, shipment=shipment),
            "uploadable_document_ids": uploadable_document_ids(user=request.user, shipment=shipment),
            "audit_trail": selectors.shipment_audit_trail(user=request.user, shipment=shipment).select_related(
                "organization"
            ),
        },
    )


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
        for field_errors in exc.message_dict.values():
            for error in field_errors:
                messages.error(request, error)
    except DomainError as exc:
        for reason in exc.reasons:
            messages.error(request, reason[:1].upper() + reason[1:] + ".")
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
