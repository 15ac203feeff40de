"""Recording a tracking event from the shipment page. With htmx the answer is the timeline card (the form with its
errors next to the fields, or the timeline with the new event); without it, the page: re-rendered with the errors,
or redirected to the timeline after success."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from ior_platform.core.errors import DomainError
from shipments import selectors
from shipments.choices import RecordedVia
from shipments.forms import apply_service_errors
from shipments.models import Shipment
from shipments.tracking.forms import TrackingEventForm
from shipments.tracking.services import tracking_event_record
from shipments.views import TRACKING_FORM_ATTR, _sentence, _visible_or_404, shipment_detail, timeline_context

TIMELINE_TEMPLATE = "shipments/partials/_timeline.html"


@login_required
@require_POST
def tracking_event_add(request, reference: str):
    shipment = _visible_or_404(request.user, reference)
    form = TrackingEventForm(request.POST)
    event = None
    if form.is_valid():
        try:
            event = tracking_event_record(
                actor=request.user, shipment=shipment, via=RecordedVia.PAGE, **form.cleaned_data
            )
        except ValidationError as exc:
            apply_service_errors(exc, form)
        except DomainError as exc:
            form.add_error(None, [_sentence(reason) for reason in exc.reasons])
        except Shipment.DoesNotExist:
            raise Http404("No such shipment") from None
    if not request.headers.get("HX-Request"):
        if event is None:
            setattr(request, TRACKING_FORM_ATTR, form)
            response = shipment_detail(request, reference)
            response.status_code = 400
            return response
        messages.success(request, f"{event.get_code_display()} at {event.location} added to the timeline.")
        return redirect(f"{shipment.get_absolute_url()}#timeline")
    events = selectors.shipment_audit_trail(user=request.user, shipment=shipment).select_related("organization")
    context = timeline_context(request, shipment, list(events), form=None if event else form)
    # 200 either way: htmx swaps only successful answers, and the form with its errors must replace the old one.
    return render(request, TIMELINE_TEMPLATE, context)
