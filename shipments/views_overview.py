"""The dashboard at "/", the shipment list with its filters, and the list as CSV. They read through
shipments.overview, which applies the tenancy rule; nothing here writes."""

import csv

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import StreamingHttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.views.decorators.http import require_GET

from shipments import overview
from shipments.charts import bar_chart, status_fill
from shipments.choices import ShipmentStatus
from shipments.forms_overview import DashboardFilterForm, ShipmentListForm

PAGE_SIZE = 50
# The list's columns in order: (sort key or "", heading, extra classes). SORTS in shipments.overview says how a key
# sorts.
COLUMNS = (
    ("reference", "Reference", ""),
    ("", "Trial", ""),
    ("destination", "Route", ""),
    ("status", "Status", ""),
    ("ship_date", "Ship date", ""),
    ("", "IOR", ""),
    ("", "Items", "text-end"),
    ("updated", "Updated", ""),
)
SORT_CHOICES = (
    ("-updated", "Updated, newest first"),
    ("updated", "Updated, oldest first"),
    ("ship_date", "Ship date, soonest first"),
    ("-ship_date", "Ship date, latest first"),
    ("reference", "Reference, A to Z"),
    ("-reference", "Reference, Z to A"),
    ("status", "Status, in lifecycle order"),
    ("-status", "Status, reversed"),
    ("destination", "Destination, A to Z"),
    ("-destination", "Destination, Z to A"),
)


def _list_url(**params) -> str:
    query = urlencode({k: v for k, v in params.items() if v}, doseq=True)
    return f"{reverse('shipments:list')}?{query}" if query else reverse("shipments:list")


@login_required
@require_GET
def dashboard(request):
    form = DashboardFilterForm(request.GET or None, user=request.user)
    trial = form.cleaned_data.get("trial") if form.is_bound and form.is_valid() else None
    board = overview.dashboard(user=request.user, today=timezone.localdate(), trial=trial)
    trial_id = trial.pk if trial else ""
    charts = [
        bar_chart(
            chart_id="chart-status",
            title="Shipments by status",
            key_heading="Status",
            tallies=board.by_status,
            fill=lambda tally: status_fill(tally.key),
            href=lambda tally: _list_url(status=tally.key, trial=trial_id),
        ),
        bar_chart(
            chart_id="chart-destination",
            title="Shipments by destination",
            key_heading="Destination",
            tallies=board.by_destination,
            href=lambda tally: _list_url(destination=tally.key, trial=trial_id) if tally.key else "",
        ),
    ]
    return render(
        request,
        "shipments/dashboard.html",
        {
            "form": form,
            "trial": trial,
            "board": board,
            "charts": charts,
            "list_url": _list_url(trial=trial_id),
            "at_risk_url": _list_url(at_risk="on", trial=trial_id),
            "under_way_url": _list_url(status=list(overview.UNDER_WAY), trial=trial_id),
            "preparing_url": _list_url(status=list(overview.PRE_DEPARTURE), trial=trial_id),
            "delivered_url": _list_url(status=ShipmentStatus.DELIVERED, trial=trial_id),
        },
    )


def _filtered(request):
    """The list's form and its shipments, filtered and sorted as the query string asks; bad filters are shown as
    form errors and left out, a bad sort falls back to the default."""
    visible = overview.visible_shipments(user=request.user)
    origins, destinations = overview.countries_in_use(visible)
    form = ShipmentListForm(request.GET, user=request.user, origins=origins, destinations=destinations)
    sort = overview.sort_key(request.GET.get("sort"))
    shipments = overview.shipment_table(
        user=request.user, filters=form.valid_filters(), sort=sort, destinations=destinations
    )
    return form, sort, shipments


@login_required
@require_GET
def shipment_list(request):
    form, sort, shipments = _filtered(request)
    rows = shipments.select_related("trial", "ior").annotate(item_count=overview.item_count())
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    current, descending = sort.removeprefix("-"), sort.startswith("-")
    columns = [
        {
            "label": label,
            "css": css,
            "sort": (f"-{key}" if key == current and not descending else key) if key else "",
            "aria_sort": ("descending" if descending else "ascending") if key and key == current else "",
        }
        for key, label, css in COLUMNS
    ]
    export_query = request.GET.copy()
    export_query.pop("page", None)
    export_query["sort"] = sort
    return render(
        request,
        "shipments/list.html",
        {
            "form": form,
            "page": page,
            "page_range": page.paginator.get_elided_page_range(page.number, on_each_side=2, on_ends=1),
            "sort": sort,
            "sort_choices": SORT_CHOICES,
            "columns": columns,
            "filtered": form.active,
            "selected_statuses": form.valid_filters().get("status") or [],
            "export_url": f"{reverse('shipments:export')}?{export_query.urlencode()}",
        },
    )


class _Echo:
    """csv.writer's file: hands each written line back instead of storing it."""

    def write(self, value: str) -> str:
        return value


@login_required
@require_GET
def shipment_export(request):
    """Every shipment of the filtered, sorted list (all pages) as CSV, streamed. UTF-8 with a byte order mark, so
    spreadsheet programs read the names right."""
    _, _, shipments = _filtered(request)
    # The page's time zone ends with the request; the rows are written after, so they take it along.
    zone = timezone.get_current_timezone()
    writer = csv.writer(_Echo())

    def lines():
        yield "\ufeff"
        for row in overview.csv_rows(shipments, zone=zone):
            yield writer.writerow(row)

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="shipments-{timezone.localdate():%Y-%m-%d}.csv"'
    response["X-Content-Type-Options"] = "nosniff"
    return response
