"""Reads behind the dashboard and the shipment list: counts by status and destination, the shipments at risk with
their reasons, the deliveries under way, and the filtered, sorted list with its CSV rows. All through the tenancy
rule, counted and filtered in the database, in a number of queries that does not grow with the shipments."""

from dataclasses import dataclass
from datetime import date, timedelta

from django.db.models import (
    Case,
    Count,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from compliance.choices import TradeDirection
from compliance.expiry import OPEN_STATUSES
from compliance.models import DocumentRequirement, Permit
from documents.deadlines import CHASED_DOCUMENT_STATUSES, CHASED_SHIPMENT_STATUSES
from documents.models import Document
from ior_platform.core.codes import country_name
from ior_platform.core.models import AuditEvent
from parties.choices import LicenceType
from parties.models import Licence
from shipments.choices import RouteKind
from shipments.choices import ShipmentStatus as S
from shipments.coldchain.selectors import pack_out_time_left
from shipments.models import Shipment, ShipmentItem

# Before the goods leave, a lapsing permit or licence can still be renewed, so it is a risk worth showing.
PRE_DEPARTURE = (S.DRAFT, *OPEN_STATUSES)
UNDER_WAY = (S.IN_TRANSIT, S.CUSTOMS_CLEARANCE, S.CUSTOMS_HOLD, S.CLEARED, S.OUT_FOR_DELIVERY)
# ShipmentStatus is declared in lifecycle order; charts and the status sort follow it.
LIFECYCLE_RANK = {status: rank for rank, status in enumerate(S.values)}
DESTINATION_BARS = 8
AT_RISK_SHOWN = 15
UPCOMING_SHOWN = 10


def visible_shipments(*, user, trial=None) -> QuerySet[Shipment]:
    shipments = Shipment.objects.for_user(user)
    return shipments.filter(trial=trial) if trial is not None else shipments


def item_count() -> Coalesce:
    """Items per shipment as a correlated count: a GROUP BY over the joined parties would cost more than the rows."""
    counted = (
        ShipmentItem.objects.filter(shipment=OuterRef("pk"))
        .order_by()
        .values("shipment")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


def lifecycle_rank() -> Case:
    return Case(
        *(When(status=status, then=Value(rank)) for status, rank in LIFECYCLE_RANK.items()),
        output_field=IntegerField(),
    )


# Counts


@dataclass(frozen=True)
class Tally:
    key: str
    label: str
    count: int


def status_counts(shipments: QuerySet[Shipment]) -> list[Tally]:
    """Shipments per status, in lifecycle order, statuses without shipments left out."""
    counts = dict(shipments.order_by().values_list("status").annotate(n=Count("pk")))
    return [Tally(status, label, counts[status]) for status, label in S.choices if counts.get(status)]


def destination_counts(shipments: QuerySet[Shipment], *, bars: int = DESTINATION_BARS) -> list[Tally]:
    """Shipments per destination country, most first; beyond `bars` countries the rest are one "other" tally."""
    rows = list(
        shipments.order_by()
        .values_list("destination_country")
        .annotate(n=Count("pk"))
        .order_by("-n", "destination_country")
    )
    tallies = [Tally(code, country_name(code), n) for code, n in rows[:bars]]
    rest = rows[bars:]
    if rest:
        tallies.append(Tally("", f"{len(rest)} other countries", sum(n for _, n in rest)))
    return tallies


# Risks


@dataclass(frozen=True)
class Risk:
    kind: str  # customs_hold, documents_overdue, before_earliest_date, permit_lapses, licence_lapses
    title: str
    detail: str


@dataclass
class AtRisk:
    shipment: Shipment
    risks: list[Risk]


def overdue_documents(today: date) -> QuerySet[Document]:
    """Checklist documents past their due date and still owed, on shipments whose dossier is being put together:
    what chase_document_deadlines escalates."""
    return Document.objects.filter(
        status__in=CHASED_DOCUMENT_STATUSES, due_date__lt=today, shipment__status__in=CHASED_SHIPMENT_STATUSES
    )


def longest_lead_time() -> Subquery:
    """The longest lead time among the documents a draft's route requires: compliance.selectors.required_documents
    as one correlated subquery. The preflight's earliest feasible ship date is today plus this. A shipment past
    the draft has its checklist, whose due dates (ship date minus the same lead times) carry this instead."""
    carried = ShipmentItem.objects.filter(shipment=OuterRef(OuterRef("pk")), category=OuterRef("product_category"))
    required = DocumentRequirement.objects.filter(
        Q(direction=TradeDirection.IMPORT, country__country=OuterRef("destination_country"))
        | Q(direction=TradeDirection.EXPORT, country__country=OuterRef("origin_country")),
        Q(temperature_class="") | Q(temperature_class=OuterRef("temperature_class")),
        # A threshold in another currency cannot be compared without a rate: it applies (as in applies_to).
        Q(min_declared_value__isnull=True)
        | ~Q(value_currency=OuterRef("currency"))
        | Q(min_declared_value__lte=OuterRef("declared_value")),
        Exists(carried),
        is_active=True,
        lead_time_days__isnull=False,
    )
    return Subquery(required.order_by("-lead_time_days").values("lead_time_days")[:1], output_field=IntegerField())


def lapsing_permit() -> Subquery:
    """The permit of the shipment's trial for one of its border crossings that runs out before the planned ship
    date, with no permit of the same kind valid on that date to take over (the permits compliance.expiry chases)."""
    renewal = Permit.objects.filter(
        trial_id=OuterRef("trial_id"),
        permit_type=OuterRef("permit_type"),
        country=OuterRef("country"),
        direction=OuterRef("direction"),
        valid_from__lte=OuterRef(OuterRef("planned_ship_date")),
        valid_until__gte=OuterRef(OuterRef("planned_ship_date")),
    )
    lapsing = Permit.objects.filter(
        Q(direction=TradeDirection.IMPORT, country=OuterRef("destination_country"))
        | Q(direction=TradeDirection.EXPORT, country=OuterRef("origin_country")),
        ~Exists(renewal),
        trial_id=OuterRef("trial_id"),
        valid_until__lt=OuterRef("planned_ship_date"),
    )
    return Subquery(lapsing.order_by("-valid_until", "-pk").values("pk")[:1])


def lapsing_licence() -> Subquery:
    """The IOR's import licence for the destination that runs out before the planned ship date, with no other such
    licence valid on that date."""
    renewal = Licence.objects.filter(
        Q(valid_until__isnull=True) | Q(valid_until__gte=OuterRef(OuterRef("planned_ship_date"))),
        organization_id=OuterRef("organization_id"),
        licence_type=LicenceType.IMPORT_LICENCE,
        country=OuterRef("country"),
        valid_from__lte=OuterRef(OuterRef("planned_ship_date")),
    )
    lapsing = Licence.objects.filter(
        ~Exists(renewal),
        organization_id=OuterRef("ior_id"),
        licence_type=LicenceType.IMPORT_LICENCE,
        country=OuterRef("destination_country"),
        valid_until__lt=OuterRef("planned_ship_date"),
    )
    return Subquery(lapsing.order_by("-valid_until", "-pk").values("pk")[:1])


def with_risks(shipments: QuerySet[Shipment], *, today: date) -> QuerySet[Shipment]:
    """The shipments at risk, each annotated with the facts behind its reasons."""
    annotated = shipments.annotate(
        has_overdue_documents=Exists(overdue_documents(today).filter(shipment=OuterRef("pk"))),
        lead_days=Case(
            When(status=S.DRAFT, route_kind=RouteKind.INTERNATIONAL, then=longest_lead_time()),
            default=None,
            output_field=IntegerField(),
        ),
        days_to_ship=ExpressionWrapper(F("planned_ship_date") - Value(today), output_field=DurationField()),
        lead_span=ExpressionWrapper(F("lead_days") * Value(timedelta(days=1)), output_field=DurationField()),
        lapsing_permit_id=Case(When(status__in=PRE_DEPARTURE, then=lapsing_permit()), default=None),
        lapsing_licence_id=Case(When(status__in=PRE_DEPARTURE, then=lapsing_licence()), default=None),
    )
    return annotated.filter(
        Q(status=S.CUSTOMS_HOLD)
        | Q(has_overdue_documents=True)
        | Q(lead_days__isnull=False, days_to_ship__lt=F("lead_span"))
        | Q(lapsing_permit_id__isnull=False)
        | Q(lapsing_licence_id__isnull=False)
    )


def at_risk(shipments: QuerySet[Shipment], *, today: date, limit: int = AT_RISK_SHOWN) -> tuple[list[AtRisk], int]:
    """The first `limit` shipments at risk, soonest to ship first, each with its reasons; and how many there are."""
    risky = with_risks(shipments, today=today)
    total = risky.count()
    if not total:
        return [], 0
    hold_reason = (
        AuditEvent.objects.filter(shipment=OuterRef("pk"), action="shipment.hold")
        .order_by("-occurred_at", "-id")
        .values("reason")[:1]
    )
    rows = list(
        risky.select_related("trial")
        .annotate(hold_reason=Subquery(hold_reason))
        .order_by("planned_ship_date", "reference")[:limit]
    )
    documents: dict[int, list[Document]] = {}
    late = [s.pk for s in rows if s.has_overdue_documents]
    if late:
        for document in (
            overdue_documents(today).filter(shipment_id__in=late).select_related("owed_by").order_by("due_date", "pk")
        ):
            documents.setdefault(document.shipment_id, []).append(document)
    permits = Permit.objects.in_bulk({s.lapsing_permit_id for s in rows} - {None})
    licences = Licence.objects.in_bulk({s.lapsing_licence_id for s in rows} - {None})
    return [AtRisk(s, _risks(s, today, documents.get(s.pk, []), permits, licences)) for s in rows], total


def _risks(shipment, today: date, documents: list[Document], permits: dict, licences: dict) -> list[Risk]:
    risks = []
    if shipment.status == S.CUSTOMS_HOLD:
        detail = shipment.hold_reason or "No reason was recorded with the hold."
        clock = pack_out_time_left(shipment)
        if clock is not None:
            detail += f" Pack-out: {clock.text}."
        risks.append(Risk("customs_hold", "Held by customs", detail))
    if documents:
        names = "; ".join(
            f"{d.title or d.get_document_type_display()} ({d.get_side_display().lower()}), due "
            f"{d.due_date:%-d %b %Y}, owed by {d.owed_by or d.get_owed_by_role_display()}"
            for d in documents
        )
        count = f"{len(documents)} documents" if len(documents) > 1 else "1 document"
        risks.append(Risk("documents_overdue", f"{count} overdue", names))
    if shipment.lead_days is not None and shipment.planned_ship_date < today + timedelta(days=shipment.lead_days):
        earliest = today + timedelta(days=shipment.lead_days)
        risks.append(
            Risk(
                "before_earliest_date",
                "Planned before the earliest feasible date",
                f"Planned for {shipment.planned_ship_date:%-d %b %Y}; the required documents take up to "
                f"{shipment.lead_days} days, so {earliest:%-d %b %Y} at the earliest.",
            )
        )
    permit = permits.get(shipment.lapsing_permit_id)
    if permit is not None:
        what = f"{permit.get_permit_type_display()} {permit.number} ({permit.authority})"
        risks.append(
            _lapse("permit_lapses", "Permit runs out before shipping", what, permit.valid_until, shipment, today)
        )
    licence = licences.get(shipment.lapsing_licence_id)
    if licence is not None:
        what = f"Import licence {licence.number} ({licence.issuing_authority})"
        risks.append(
            _lapse("licence_lapses", "IOR licence runs out before shipping", what, licence.valid_until, shipment, today)
        )
    return risks


# Under way


def upcoming_deliveries(shipments: QuerySet[Shipment], *, limit: int = UPCOMING_SHOWN) -> list[Shipment]:
    """Shipments on their way, the one needed at site soonest first (those without a date after, by ship date)."""
    rows = list(
        shipments.filter(status__in=UNDER_WAY)
        .select_related("trial", "consignee")
        .order_by(F("required_at_site_date").asc(nulls_last=True), "planned_ship_date", "reference")[:limit]
    )
    for shipment in rows:
        shipment.pack_out = pack_out_time_left(shipment)  # from the row's own fields: no query
    return rows


@dataclass
class Dashboard:
    total: int
    by_status: list[Tally]
    by_destination: list[Tally]
    at_risk: list[AtRisk]
    at_risk_total: int
    upcoming: list[Shipment]

    def _sum(self, statuses) -> int:
        return sum(t.count for t in self.by_status if t.key in statuses)

    @property
    def preparing(self) -> int:
        return self._sum(PRE_DEPARTURE)

    @property
    def under_way(self) -> int:
        return self._sum(UNDER_WAY)

    @property
    def delivered(self) -> int:
        return self._sum({S.DELIVERED})


def dashboard(*, user, today: date, trial=None) -> Dashboard:
    shipments = visible_shipments(user=user, trial=trial)
    by_status = status_counts(shipments)
    if not by_status:
        return Dashboard(total=0, by_status=[], by_destination=[], at_risk=[], at_risk_total=0, upcoming=[])
    risky, risky_total = at_risk(shipments, today=today)
    return Dashboard(
        total=sum(t.count for t in by_status),
        by_status=by_status,
        by_destination=destination_counts(shipments),
        at_risk=risky,
        at_risk_total=risky_total,
        upcoming=upcoming_deliveries(shipments),
    )


# The list


SORTS = {
    "reference": ("reference",),
    "ship_date": ("planned_ship_date", "reference"),
    "status": ("status_rank", "reference"),
    "destination": ("destination_rank", "reference"),
    "updated": ("updated_at",),
}
DEFAULT_SORT = "-updated"


def sort_key(value: str | None) -> str:
    """The sort asked for if it is one of SORTS (with "-" for descending), else the default."""
    value = value or ""
    return value if value.removeprefix("-") in SORTS else DEFAULT_SORT


def countries_in_use(shipments: QuerySet[Shipment]) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """The origin and the destination countries of these shipments as (code, name), by name."""
    pairs = list(shipments.order_by().values_list("origin_country", "destination_country").distinct())

    def named(codes) -> list[tuple[str, str]]:
        return sorted(((code, country_name(code)) for code in codes), key=lambda pair: pair[1])

    return named({o for o, _ in pairs}), named({d for _, d in pairs})


def shipment_table(
    *, user, filters: dict, sort: str, destinations: list[tuple[str, str]] | None = None, today: date | None = None
) -> QuerySet[Shipment]:
    """The shipments the user may see that match `filters` (cleaned ShipmentListForm data), sorted by `sort`.
    `destinations`, by name, lets the destination sort follow country names rather than codes."""
    shipments = Shipment.objects.for_user(user)
    if filters.get("at_risk"):
        shipments = with_risks(shipments, today=today or timezone.localdate())
    if filters.get("q"):
        shipments = shipments.filter(reference__icontains=filters["q"])
    if filters.get("status"):
        shipments = shipments.filter(status__in=filters["status"])
    if filters.get("trial"):
        shipments = shipments.filter(trial=filters["trial"])
    if filters.get("origin"):
        shipments = shipments.filter(origin_country=filters["origin"])
    if filters.get("destination"):
        shipments = shipments.filter(destination_country=filters["destination"])
    if filters.get("temperature"):
        shipments = shipments.filter(temperature_class=filters["temperature"])
    if filters.get("ship_from"):
        shipments = shipments.filter(planned_ship_date__gte=filters["ship_from"])
    if filters.get("ship_to"):
        shipments = shipments.filter(planned_ship_date__lte=filters["ship_to"])

    sort = sort_key(sort)
    descending, key = sort.startswith("-"), sort.removeprefix("-")
    if key == "status":
        shipments = shipments.annotate(status_rank=lifecycle_rank())
    elif key == "destination":
        ranks = [When(destination_country=code, then=Value(rank)) for rank, (code, _) in enumerate(destinations or [])]
        shipments = shipments.annotate(
            destination_rank=Case(*ranks, default=Value(len(ranks)), output_field=IntegerField())
            if ranks
            else Value(0, output_field=IntegerField())
        )
    terms = SORTS[key]
    # The id last, so that rows with equal values keep one order from page to page.
    return shipments.order_by(*(f"-{term}" if descending else term for term in terms), "-pk" if descending else "pk")


CSV_HEADER = (
    "Reference",
    "Trial",
    "Trial title",
    "Status",
    "Origin",
    "Origin country",
    "Destination",
    "Destination country",
    "Temperature class",
    "Planned ship date",
    "Required at site",
    "Sponsor",
    "Importer of record",
    "Exporter of record",
    "Consignee",
    "Items",
    "Declared value",
    "Currency",
    "Updated",
)
CSV_VALUES = (
    "reference",
    "trial__protocol_number",
    "trial__title",
    "status",
    "origin_country",
    "destination_country",
    "temperature_class",
    "planned_ship_date",
    "required_at_site_date",
    "sponsor__name",
    "ior__name",
    "eor__name",
    "consignee__name",
    "item_count",
    "declared_value",
    "currency",
    "updated_at",
)
# A spreadsheet runs a cell that starts like a formula; a leading apostrophe makes it text (OWASP CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value) -> str:
    text = "" if value is None else str(value)
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text


def csv_rows(shipments: QuerySet[Shipment], *, zone, chunk_size: int = 2000):
    """The header and one row per shipment, read in chunks: plain values joined in the query, no model instances.
    Times are in `zone`, which the header names."""
    statuses = dict(S.choices)
    temperatures = dict(Shipment._meta.get_field("temperature_class").flatchoices)
    yield [*CSV_HEADER[:-1], f"Updated ({zone})"]
    rows = shipments.annotate(item_count=item_count()).values_list(*CSV_VALUES)
    for row in rows.iterator(chunk_size=chunk_size):
        values = dict(zip(CSV_VALUES, row, strict=True))
        required = values["required_at_site_date"]
        cells = [
            values["reference"],
            values["trial__protocol_number"],
            values["trial__title"],
            statuses.get(values["status"], values["status"]),
            values["origin_country"],
            country_name(values["origin_country"]),
            values["destination_country"],
            country_name(values["destination_country"]),
            temperatures.get(values["temperature_class"], values["temperature_class"]),
            values["planned_ship_date"].isoformat(),
            required.isoformat() if required else "",
            values["sponsor__name"],
            values["ior__name"],
            values["eor__name"],
            values["consignee__name"],
            values["item_count"],
            values["declared_value"],
            values["currency"],
            values["updated_at"].astimezone(zone).isoformat(timespec="seconds"),
        ]
        yield [csv_safe(cell) for cell in cells]


def _lapse(kind: str, title: str, what: str, valid_until: date, shipment, today: date) -> Risk:
    tense = "expired" if valid_until < today else "expires"
    return Risk(
        kind,
        title,
        f"{what} {tense} on {valid_until:%-d %b %Y}, "
        f"before the planned ship date {shipment.planned_ship_date:%-d %b %Y}.",
    )
