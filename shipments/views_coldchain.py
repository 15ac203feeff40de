"""The cold chain on the shipment page: the card (range, pack-out, summary, chart, logs and their excursions, the
quarantine and sponsor QA's disposition), uploading a logger's export, and recording a disposition. The views call
the cold-chain selectors and services; with htmx they answer the card (or the disposition form), without it the
page, re-rendered with the form's errors in place or redirected after success."""

from dataclasses import dataclass

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.safestring import SafeString
from django.views.decorators.http import require_POST

from documents.signatures import WrongPassword
from ior_platform.core.errors import DomainError
from shipments import selectors
from shipments.choices import DISPOSITION_OUTCOMES, DispositionDecision, QuarantineStatus
from shipments.coldchain.chart import temperature_chart_svg
from shipments.coldchain.record import (
    Overall,
    chart_title,
    intervals,
    is_temperature_controlled,
    overall,
    series_by_log,
    traces,
)
from shipments.coldchain.selectors import (
    ColdChainSummary,
    PackOutClock,
    QuarantineState,
    cold_chain_quarantine,
    cold_chain_summary,
    duration_text,
    excursion_list,
    pack_out_time_left,
    temperature_log_list,
)
from shipments.coldchain.services import (
    OPEN_FOR_TEMPERATURE_LOGS,
    REASON_MAX_LENGTH,
    coldchain_disposition_record,
    temperature_log_import,
)
from shipments.forms import apply_service_errors
from shipments.models import Excursion, Shipment, TemperatureLog, TemperatureSeries
from shipments.rules import refusal

CARD_TEMPLATE = "shipments/partials/_cold_chain.html"
DISPOSITION_TEMPLATE = "shipments/partials/_cold_chain_disposition.html"
# Set on the request by a plain (non-htmx) POST that failed, so the page it re-renders shows the form's errors.
UPLOAD_FORM_ATTR = "cold_chain_upload_form"
DISPOSITION_FORM_ATTR = "cold_chain_disposition_form"
QUARANTINE_TONES = {
    QuarantineStatus.QUARANTINED: "danger",
    QuarantineStatus.RELEASED: "success",
    QuarantineStatus.REJECTED: "warning",
    QuarantineStatus.DESTRUCTION_ORDERED: "dark",
}
# The chart twice: wide for tablets and desktops, narrow (larger text for its size) for phones.
WIDE = {"width": 820, "height": 320}
NARROW = {"width": 360, "height": 300}


def _sentence(reason: str) -> str:
    return reason[:1].upper() + reason[1:] + ("" if reason.endswith(".") else ".")


def _visible_or_404(user, reference: str) -> Shipment:
    try:
        return selectors.shipment_get(user=user, reference=reference)
    except Shipment.DoesNotExist:
        raise Http404("No such shipment") from None


class _BootstrapForm(forms.Form):
    """Bootstrap classes on the widgets, and the invalid state of a field (a service's refusal included) when the
    field is rendered."""

    def __getitem__(self, name):
        bound = super().__getitem__(name)
        attrs = bound.field.widget.attrs
        radio = isinstance(bound.field.widget, forms.RadioSelect)
        base = "form-check-input" if radio else "form-control"
        if self.is_bound and name in self.errors:
            attrs.update(
                {"class": f"{base} is-invalid", "aria-invalid": "true", "aria-describedby": f"{bound.auto_id}-error"}
            )
        else:
            attrs["class"] = base
        return bound


class TemperatureLogForm(_BootstrapForm):
    logger_serial = forms.CharField(label="Logger serial number", max_length=64)
    file = forms.FileField(label="Logger export (CSV or TOA5)", allow_empty_file=True)
    timezone = forms.CharField(
        label="Time zone",
        max_length=64,
        required=False,
        help_text="For times written without an offset: an IANA name such as Europe/Berlin. Empty: UTC.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, auto_id="temperature-log-%s", **kwargs)
        self.fields["logger_serial"].widget.attrs.update({"autocomplete": "off", "spellcheck": "false"})
        self.fields["file"].widget.attrs.update({"accept": ".csv,.txt,.dat,.tsv,text/csv,text/plain"})
        self.fields["timezone"].widget.attrs.update({"placeholder": "UTC", "autocomplete": "off"})


class DispositionForm(_BootstrapForm):
    decision = forms.ChoiceField(label="Decision", choices=DispositionDecision.choices, widget=forms.RadioSelect)
    reason = forms.CharField(
        label="Reason",
        max_length=REASON_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Printed with your signature and kept in the audit trail.",
    )
    password = forms.CharField(label="Your password", strip=False, widget=forms.PasswordInput)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, auto_id="disposition-%s", **kwargs)
        self.fields["password"].widget.attrs.update({"autocomplete": "current-password"})


@dataclass
class LogRow:
    log: TemperatureLog
    excursions: list[Excursion]


@dataclass
class ColdChainCard:
    shipment: Shipment
    summary: ColdChainSummary
    quarantine: QuarantineState
    clock: PackOutClock | None
    logs: list[LogRow]
    overall: Overall | None
    chart_wide: SafeString | str
    chart_narrow: SafeString | str
    time_zone: str
    may_upload: bool
    upload_refusal: str
    upload_form: TemperatureLogForm | None
    notice: str
    may_decide: bool
    disposition_form: DispositionForm | None
    disposition_inline: bool

    @property
    def budget_used_percent(self) -> int:
        budget = self.summary.excursion_budget_minutes
        if budget <= 0:
            return 100 if self.summary.minutes_out_of_range > 0 else 0
        return min(round(self.summary.minutes_out_of_range * 100 / budget), 100)

    @property
    def quarantine_tone(self) -> str:
        return QUARANTINE_TONES.get(self.quarantine.status, "secondary")

    @property
    def time_left(self) -> str:
        return duration_text(abs(self.clock.time_left)) if self.clock else ""


def _charts(shipment: Shipment, logs: list[TemperatureLog], excursions: list[Excursion], user, tz) -> tuple:
    """The wide and the narrow chart, from every log's readings read in one query through the tenancy rule."""
    if not logs:
        return "", ""
    series = series_by_log(TemperatureSeries.objects.for_user(user).filter(log_id__in=[log.pk for log in logs]))
    curves = traces(logs, series)
    if not curves:
        return "", ""
    common = {
        "traces": curves,
        "temperature_range": shipment.temperature_range,
        "excursions": intervals(excursions),
        "tz": tz,
        "title": chart_title(shipment),
    }
    wide = temperature_chart_svg(
        **common, **WIDE, chart_id="cold-chain-chart", css_class="temperature-chart w-100 h-auto d-none d-md-block"
    )
    narrow = temperature_chart_svg(
        **common, **NARROW, chart_id="cold-chain-chart-narrow", css_class="temperature-chart w-100 h-auto d-md-none"
    )
    return wide, narrow


def shows_cold_chain(shipment: Shipment, has_logs: bool) -> bool:
    return is_temperature_controlled(shipment) or has_logs


def cold_chain_card(
    *,
    user,
    shipment: Shipment,
    upload_form: TemperatureLogForm | None = None,
    disposition_form: DispositionForm | None = None,
    notice: str = "",
) -> ColdChainCard | None:
    """The card for a shipment the user may see, or None for an ambient shipment without logs. A fixed number of
    queries however many logs and excursions the shipment has."""
    logs = list(temperature_log_list(user=user, shipment=shipment))
    if not shows_cold_chain(shipment, bool(logs)):
        return None
    excursions = list(excursion_list(user=user, shipment=shipment)) if logs else []
    by_log: dict[int, list[Excursion]] = {}
    for excursion in excursions:
        by_log.setdefault(excursion.log_id, []).append(excursion)
    rows = [LogRow(log=log, excursions=by_log.get(log.pk, [])) for log in logs]
    tz = timezone.get_current_timezone()
    wide, narrow = _charts(shipment, logs, excursions, user, tz)

    upload_denied = refusal(shipment, user, "upload_temperature_log")
    if not upload_denied and shipment.status not in OPEN_FOR_TEMPERATURE_LOGS:
        upload_denied = (
            "temperature logs can be uploaded once the shipment is approved and until it is closed; this shipment "
            f"is {shipment.get_status_display().lower()}"
        )
    quarantine = cold_chain_quarantine(shipment=shipment)
    may_decide = quarantine.awaiting_disposition and refusal(shipment, user, "record_disposition") is None
    return ColdChainCard(
        shipment=shipment,
        summary=cold_chain_summary(shipment=shipment),
        quarantine=quarantine,
        clock=pack_out_time_left(shipment),
        logs=rows,
        overall=overall(logs),
        chart_wide=wide,
        chart_narrow=narrow,
        time_zone=str(tz),
        may_upload=upload_denied is None,
        upload_refusal=_sentence(upload_denied) if upload_denied else "",
        upload_form=(upload_form or TemperatureLogForm()) if upload_denied is None else None,
        notice=notice,
        may_decide=may_decide,
        disposition_form=(disposition_form or DispositionForm()) if may_decide else None,
        disposition_inline=disposition_form is not None and disposition_form.is_bound,
    )


def cold_chain_context(request, shipment: Shipment) -> dict:
    """What the shipment page adds for its cold-chain card; a form that failed in a plain POST comes back bound."""
    return {
        "cold_chain": cold_chain_card(
            user=request.user,
            shipment=shipment,
            upload_form=getattr(request, UPLOAD_FORM_ATTR, None),
            disposition_form=getattr(request, DISPOSITION_FORM_ATTR, None),
        )
    }


def disposition_context(shipment: Shipment, form: DispositionForm, *, inline: bool, summary=None) -> dict:
    """The disposition form, and what the signature covers: the shipment's excursions and time out of range."""
    return {
        "shipment": shipment,
        "form": form,
        "inline": inline,
        "summary": summary or cold_chain_summary(shipment=shipment),
    }


def _page_with_errors(request, reference: str, attr: str, form) -> HttpResponse:
    from shipments.views import shipment_detail

    setattr(request, attr, form)
    response = shipment_detail(request, reference)
    response.status_code = 400
    return response


def _page_url(shipment: Shipment) -> str:
    return f"{shipment.get_absolute_url()}#cold-chain"


@login_required
@require_POST
def temperature_log_upload(request, reference: str):
    """A logger's export for the shipment. With htmx the answer is the card (the form with its errors, or the new
    log with its chart and excursions); without it, the page."""
    shipment = _visible_or_404(request.user, reference)
    form = TemperatureLogForm(request.POST, request.FILES)
    notice = ""
    if form.is_valid():
        try:
            log = temperature_log_import(
                actor=request.user,
                shipment=shipment,
                logger_serial=form.cleaned_data["logger_serial"],
                uploaded_file=form.cleaned_data["file"],
                tz=form.cleaned_data["timezone"] or "UTC",
            )
        except ValidationError as exc:
            apply_service_errors(exc, form)
        except DomainError as exc:
            form.add_error(None, [_sentence(reason) for reason in exc.reasons])
        except Shipment.DoesNotExist:
            raise Http404("No such shipment") from None
        else:
            count = log.excursions.count()
            notice = (
                f"Logger {log.logger_serial}: {log.reading_count:,} readings from “{log.original_name}” stored, "
                + (f"{count} excursion{'s' if count != 1 else ''} found." if count else "no excursion.")
            )
    if not request.headers.get("HX-Request"):
        if form.errors:
            return _page_with_errors(request, reference, UPLOAD_FORM_ATTR, form)
        messages.success(request, notice)
        return redirect(_page_url(shipment))
    fresh = _visible_or_404(request.user, reference)
    card = cold_chain_card(user=request.user, shipment=fresh, upload_form=form if form.errors else None, notice=notice)
    response = render(request, CARD_TEMPLATE, {"shipment": fresh, "cold_chain": card})
    if notice:
        # An excursion puts the goods in quarantine, which refuses delivery: the header's actions refresh.
        response["HX-Trigger"] = "documents-changed"
    return response


@login_required
@require_POST
def coldchain_disposition(request, reference: str):
    """Sponsor QA's signed decision on goods in quarantine. With htmx a refusal (a wrong password, a lock-out, a
    missing reason) comes back as the form in its modal, and success reloads the page; without it, the page."""
    shipment = _visible_or_404(request.user, reference)
    form = DispositionForm(request.POST)
    if form.is_valid():
        try:
            disposition = coldchain_disposition_record(
                actor=request.user,
                shipment=shipment,
                decision=form.cleaned_data["decision"],
                reason=form.cleaned_data["reason"],
                password=form.cleaned_data["password"],
            )
        except ValidationError as exc:
            apply_service_errors(exc, form)
        except WrongPassword as exc:
            form.add_error("password", [_sentence(reason) for reason in exc.reasons])
        except DomainError as exc:
            form.add_error(None, [_sentence(reason) for reason in exc.reasons])
        except Shipment.DoesNotExist:
            raise Http404("No such shipment") from None
        else:
            outcome = QuarantineStatus(DISPOSITION_OUTCOMES[disposition.decision]).label
            messages.success(request, f"Your signed disposition of {shipment.reference} is recorded: {outcome}.")
            if request.headers.get("HX-Request"):
                response = HttpResponse()
                response["HX-Redirect"] = _page_url(shipment)
                return response
            return redirect(_page_url(shipment))
    if not request.headers.get("HX-Request"):
        field_errors = any(name in form.fields for name in form.errors)
        if field_errors:
            return _page_with_errors(request, reference, DISPOSITION_FORM_ATTR, form)
        # Not this user's to decide, or nothing left to decide: the page says why at its top.
        for error in form.non_field_errors():
            messages.error(request, error)
        return redirect(_page_url(shipment))
    # The form comes back into its modal, the password field empty.
    return render(request, DISPOSITION_TEMPLATE, disposition_context(shipment, form, inline=False))
