"""Pages of the regulatory knowledge base and the permit ledger.

Country profiles and their document requirements are public reference data: every signed-in user reads all of them,
as over the API. Permits follow the tenancy rule through their trial, and a permit's drawdowns through their
shipments, so a user sees the quantities left on a permit but only the shipments they may see."""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from urllib.parse import unquote, urlsplit

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count, Prefetch, Q
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.views.decorators.http import require_GET

from compliance.api.views import lines_with_quantities
from compliance.choices import DocumentType, ProductCategory, TemperatureClass, TradeDirection
from compliance.models import CountryProfile, Permit, PermitDrawdown
from ior_platform.core.codes import country_name
from parties.choices import PartyRole
from shipments.models import Trial

# A display heuristic, not a rule: the lifecycle itself checks validity against each shipment's ship date.
EXPIRING_SOON = timedelta(days=30)
PERMITS_PER_PAGE = 50
PERMIT_STATES = {
    "valid": "Valid",
    "expiring": "Expiring within 30 days",
    "expired": "Expired",
    "upcoming": "Not yet valid",
}
PERMIT_STATE_TONES = {"valid": "success", "expiring": "warning", "expired": "danger", "upcoming": "secondary"}


SOURCE_LABEL_LENGTH = 48


def _source(text: str) -> tuple[str, str]:
    """A source as (label, link): a web address is linked under a short readable label (its site and path, decoded),
    a legal reference is shown as written."""
    text = (text or "").strip()
    if not text.startswith(("https://", "http://")):
        return text, ""
    parts = urlsplit(text)
    label = parts.netloc.removeprefix("www.") + unquote(parts.path).rstrip("/")
    if len(label) > SOURCE_LABEL_LENGTH:
        label = label[: SOURCE_LABEL_LENGTH - 1] + "…"
    return label, text


def _day(value) -> date | None:
    if isinstance(value, date) or value is None:
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        return None


# Countries


@login_required
@require_GET
def country_list(request):
    active = Q(requirements__is_active=True)
    # Documents, not requirement rows: one document demanded for five product categories is five rows.
    documents = "requirements__document_type"
    imports = Q(requirements__direction=TradeDirection.IMPORT)
    exports = Q(requirements__direction=TradeDirection.EXPORT)
    profiles = CountryProfile.objects.annotate(
        import_documents=Count(documents, filter=active & imports, distinct=True),
        export_documents=Count(documents, filter=active & exports, distinct=True),
        categories_covered=Count("requirements__product_category", filter=active, distinct=True),
    )
    permits = dict(
        Permit.objects.for_user(request.user)
        .order_by()
        .values("country")
        .annotate(n=Count("pk"))
        .values_list("country", "n")
    )
    countries = sorted(profiles, key=lambda profile: profile.country_name)
    for profile in countries:
        profile.visible_permits = permits.get(profile.country, 0)
    return render(
        request,
        "compliance/country_list.html",
        {"countries": countries, "category_count": len(ProductCategory.choices)},
    )


@dataclass(frozen=True)
class Fact:
    label: str
    value: str
    link: str = ""
    source: str = ""
    source_link: str = ""
    verified_on: date | None = None
    note: str = ""

    @property
    def unknown(self) -> bool:
        return not self.value


def _yes_no(value: bool | None) -> str:
    return "" if value is None else ("Yes" if value else "No")


def _named(name: str, acronym: str) -> str:
    return f"{name} ({acronym})" if name and acronym and acronym not in name else name or acronym


def _facts(profile: CountryProfile) -> list[Fact]:
    sources = {entry.get("fact"): entry for entry in profile.sources or [] if isinstance(entry, dict)}

    def fact(label: str, key: str, value, link: str = "") -> Fact:
        entry = sources.get(key, {})
        text, source_link = _source(entry.get("source", ""))
        return Fact(
            label=label,
            value="" if value is None else str(value),
            link=link,
            source=text,
            source_link=source_link,
            verified_on=_day(entry.get("verified_on")),
            note=entry.get("note", ""),
        )

    def percent(value) -> str | None:
        return None if value is None else f"{value.normalize():f} %"

    days = profile.typical_clearance_days
    return [
        fact(
            "Regulatory authority",
            "regulatory_authority",
            _named(profile.regulatory_authority, profile.regulatory_authority_acronym),
            profile.regulatory_authority_url,
        ),
        fact(
            "Customs authority",
            "customs_authority",
            _named(profile.customs_authority, profile.customs_authority_acronym),
            profile.customs_authority_url,
        ),
        fact("Clinical import authorisation", "clinical_import_authorisation", profile.clinical_import_authorisation),
        fact("Local importer of record mandatory", "local_ior_mandatory", _yes_no(profile.local_ior_mandatory)),
        fact("IMPs exempt from import duty", "imp_duty_exempt", _yes_no(profile.imp_duty_exempt)),
        fact("IMPs exempt from import VAT", "imp_vat_exempt", _yes_no(profile.imp_vat_exempt)),
        fact("Standard VAT rate", "standard_vat_rate", percent(profile.standard_vat_rate)),
        fact("Standard duty rate", "standard_duty_rate", percent(profile.standard_duty_rate)),
        fact(
            "Typical customs clearance",
            "typical_clearance_days",
            None if days is None else f"{days} day{'s' if days != 1 else ''}",
        ),
        fact("Cold-chain rules", "cold_chain_notes", profile.cold_chain_notes),
    ]


@dataclass
class RequirementRow:
    """Requirements that differ only in product category, shown once with their categories listed."""

    title: str
    document_type: str
    provided_by: str
    applies_to: str
    lead_time_days: int | None
    validity_days: int | None
    legal_basis: str
    source: str
    source_link: str
    verified_on: date | None
    version: int
    notes: str
    categories: list[str] = field(default_factory=list)


def _requirement_rows(requirements) -> dict[str, list[RequirementRow]]:
    grouped: dict[tuple, RequirementRow] = {}
    for req in requirements:
        conditions = []
        if req.temperature_class:
            conditions.append(TemperatureClass(req.temperature_class).label)
        if req.min_declared_value is not None:
            conditions.append(f"declared value ≥ {req.min_declared_value.normalize():f} {req.value_currency}")
        source, source_link = _source(req.source)
        key = (
            req.direction,
            req.document_type,
            req.title,
            req.provided_by,
            req.temperature_class,
            req.min_declared_value,
            req.lead_time_days,
            req.validity_days,
            req.legal_basis,
            req.source,
            req.verified_on,
        )
        row = grouped.get(key)
        if row is None:
            row = grouped[key] = RequirementRow(
                title=req.display_title,
                document_type=DocumentType(req.document_type).label,
                provided_by=PartyRole(req.provided_by).label,
                applies_to=", ".join(conditions),
                lead_time_days=req.lead_time_days,
                validity_days=req.validity_days,
                legal_basis=req.legal_basis,
                source=source,
                source_link=source_link,
                verified_on=req.verified_on,
                version=req.version,
                notes=req.notes,
            )
        row.version = max(row.version, req.version)
        row.categories.append(ProductCategory(req.product_category).label)
    by_direction: dict[str, list[RequirementRow]] = {TradeDirection.IMPORT: [], TradeDirection.EXPORT: []}
    for key, row in grouped.items():
        by_direction[key[0]].append(row)
    for rows in by_direction.values():
        rows.sort(key=lambda row: (-(row.lead_time_days if row.lead_time_days is not None else -1), row.title))
    return by_direction


@login_required
@require_GET
def country_detail(request, code: str):
    profile = get_object_or_404(CountryProfile, country=code.upper())
    requirements = profile.requirements.filter(is_active=True).order_by("direction", "document_type", "pk")
    by_direction = _requirement_rows(requirements)
    return render(
        request,
        "compliance/country_detail.html",
        {
            "profile": profile,
            "facts": _facts(profile),
            "sections": [
                ("import", f"Importing into {profile.country_name}", by_direction[TradeDirection.IMPORT]),
                ("export", f"Exporting from {profile.country_name}", by_direction[TradeDirection.EXPORT]),
            ],
            "visible_permits": Permit.objects.for_user(request.user).filter(country=profile.country).count(),
        },
    )


# Permits


def permit_state(permit: Permit, today: date) -> str:
    if permit.valid_until < today:
        return "expired"
    if permit.valid_from > today:
        return "upcoming"
    if permit.valid_until <= today + EXPIRING_SOON:
        return "expiring"
    return "valid"


def _state_filter(state: str, today: date) -> Q:
    return {
        "expired": Q(valid_until__lt=today),
        "upcoming": Q(valid_from__gt=today),
        "expiring": Q(valid_from__lte=today, valid_until__gte=today, valid_until__lte=today + EXPIRING_SOON),
        "valid": Q(valid_from__lte=today, valid_until__gt=today + EXPIRING_SOON),
    }[state]


def _visible_permits(user):
    return (
        Permit.objects.for_user(user)
        .select_related("holder", "trial")
        .prefetch_related(Prefetch("lines", queryset=lines_with_quantities().order_by("product_name")))
    )


def _decorate(permit: Permit, today: date) -> Permit:
    permit.state = permit_state(permit, today)
    permit.state_label = PERMIT_STATES[permit.state]
    permit.state_tone = PERMIT_STATE_TONES[permit.state]
    permit.days_left = (permit.valid_until - today).days
    permit.country_name = country_name(permit.country)
    permit.line_list = list(permit.lines.all())
    for line in permit.line_list:
        share = line.drawn / line.authorised_quantity if line.authorised_quantity else Decimal(0)
        line.used_percent = max(0, min(100, round(share * 100)))
    return permit


@login_required
@require_GET
def permit_list(request):
    today = timezone.localdate()
    permits = _visible_permits(request.user)
    country = request.GET.get("country", "").upper()
    trial_id = request.GET.get("trial", "")
    state = request.GET.get("state", "")
    countries = sorted(set(Permit.objects.for_user(request.user).values_list("country", flat=True)), key=country_name)
    if country in countries:
        permits = permits.filter(country=country)
    else:
        country = ""
    trials = list(
        Trial.objects.for_user(request.user).filter(permits__isnull=False).distinct().order_by("protocol_number")
    )
    if trial_id.isdigit() and int(trial_id) in {trial.pk for trial in trials}:
        permits = permits.filter(trial_id=int(trial_id))
        trial_id = int(trial_id)
    else:
        trial_id = None
    if state in PERMIT_STATES:
        permits = permits.filter(_state_filter(state, today))
    else:
        state = ""
    page = Paginator(permits.order_by("valid_until", "number", "pk"), PERMITS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    for permit in page.object_list:
        _decorate(permit, today)
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "compliance/permit_list.html",
        {
            "page": page,
            "permits": page.object_list,
            "countries": [(code, country_name(code)) for code in countries],
            "country": country,
            "trials": trials,
            "trial_id": trial_id,
            "states": PERMIT_STATES.items(),
            "state": state,
            "filtered": bool(country or trial_id or state),
            "query": query.urlencode(),
            "expiring_days": EXPIRING_SOON.days,
        },
    )


@login_required
@require_GET
def permit_detail(request, pk: int):
    today = timezone.localdate()
    permit = _decorate(get_object_or_404(_visible_permits(request.user), pk=pk), today)
    entries = list(
        PermitDrawdown.objects.for_user(request.user)
        .filter(line__permit=permit)
        .select_related("shipment", "item", "line")
        .order_by("drawn_at", "pk")
    )
    visible_active: dict[int, Decimal] = defaultdict(Decimal)
    for entry in entries:
        if entry.released_at is None:
            visible_active[entry.line_id] += entry.quantity
    for line in permit.line_list:
        # Drawn by shipments this user may not see: counted in what is left, never named.
        line.drawn_elsewhere = line.drawn - visible_active[line.pk]
    return render(
        request,
        "compliance/permit_detail.html",
        {
            "permit": permit,
            "entries": entries,
            "has_hidden_draws": any(line.drawn_elsewhere > 0 for line in permit.line_list),
            "expiring_days": EXPIRING_SOON.days,
        },
    )
