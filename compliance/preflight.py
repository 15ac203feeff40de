"""Preflight: before a shipment is booked, what it will need, from whom, by when, what it will cost, and what
stops it. Pure reads; used by the `preflight` command, the lifecycle guards, and later the API and pages."""

from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.utils import timezone

from compliance.choices import PERMIT_TYPES, ProductCategory
from compliance.models import CountryProfile, Permit
from compliance.permits import permit_shortfalls
from compliance.selectors import required_documents
from ior_platform.core.codes import country_name
from parties.choices import LicenceType, PartyRole
from shipments.choices import RouteKind
from shipments.models import route_kind as route_kind_of

CENT = Decimal("0.01")


@dataclass(frozen=True)
class ProposedItem:
    category: str
    quantity: Decimal = Decimal(1)
    product_name: str = ""
    unit_value: Decimal = Decimal(0)
    expiry_date: date | None = None


@dataclass
class Proposal:
    origin: str
    destination: str
    items: list[ProposedItem]
    temperature_class: str
    declared_value: Decimal
    currency: str
    planned_ship_date: date
    trial: object = None
    ior: object = None
    eor: object = None
    consignee: object = None
    sponsor: object = None
    broker: object = None
    courier: object = None
    today: date | None = None


@dataclass
class RequiredDocumentLine:
    side: str
    country: str
    document_type: str
    title: str
    provided_by: str
    owed_by: str | None
    lead_time_days: int | None
    due_date: date
    validity_days: int | None
    legal_basis: str
    source: str


@dataclass
class PermitNeed:
    side: str
    country: str
    permit_type: str
    title: str
    held: list[str] = field(default_factory=list)
    covered: bool = False


@dataclass
class TaxLine:
    tax: str
    country: str
    status: str  # "exempt", "estimated", "unknown" or "none"
    rate: Decimal | None
    amount: Decimal | None
    currency: str
    note: str = ""


@dataclass
class PreflightResult:
    route_kind: str
    documents: list[RequiredDocumentLine]
    permits: list[PermitNeed]
    taxes: list[TaxLine]
    earliest_ship_date: date
    critical_path: str
    blockers: list[str]
    warnings: list[str]

    def as_dict(self) -> dict:
        def plain(value):
            if isinstance(value, Decimal):
                return str(value)
            if isinstance(value, date):
                return value.isoformat()
            if isinstance(value, dict):
                return {k: plain(v) for k, v in value.items()}
            if isinstance(value, list):
                return [plain(v) for v in value]
            return value

        return plain(asdict(self))


def earliest_ship_date(*, today: date, lead_times: list[int | None]) -> date:
    """Documents are gathered in parallel, so the longest known lead time is the critical path."""
    known = [days for days in lead_times if days is not None]
    return today + timedelta(days=max(known, default=0))


def licence_reasons(ior, *, country: str, day: date) -> list[str]:
    """Why `ior` cannot import into `country` on `day` under its own licences (empty when it can). An importer
    licence is demanded where the country requires a local licensed importer; elsewhere only the licences the
    IOR does hold there must be valid."""
    licences = [
        lic for lic in ior.licences.all() if lic.licence_type == LicenceType.IMPORT_LICENCE and lic.country == country
    ]
    if any(lic.is_valid_on(day) for lic in licences):
        return []
    if not licences and not CountryProfile.objects.filter(country=country, local_ior_mandatory=True).exists():
        return []
    lapsed = [lic for lic in licences if lic.valid_until and lic.valid_until < day]
    if lapsed:
        latest = max(lapsed, key=lambda lic: lic.valid_until)
        return [f"the IOR's import licence {latest.number} expired on {latest.valid_until:%Y-%m-%d}"]
    return [f"the IOR {ior} holds no import licence for {country_name(country)} valid on the planned ship date"]


def screening_reasons(organizations) -> list[str]:
    from parties.screening import screening_blockers

    return screening_blockers([org for org in organizations if org is not None], rescreen=False)


def _owner(proposal: Proposal, role: str):
    party = getattr(proposal, "sponsor" if role == PartyRole.CRO else role, None) if role in PartyRole.values else None
    return str(party) if party is not None else None


def _taxes(proposal: Proposal, profile: CountryProfile | None) -> list[TaxLine]:
    country = proposal.destination
    if profile is None:
        note = "no regulatory data for this country"
        return [
            TaxLine("import duty", country, "unknown", None, None, proposal.currency, note),
            TaxLine("import VAT", country, "unknown", None, None, proposal.currency, note),
        ]
    all_imp = all(item.category == ProductCategory.IMP for item in proposal.items)
    value = Decimal(proposal.declared_value)
    duty_amount = None
    if all_imp and profile.imp_duty_exempt:
        duty = TaxLine("import duty", country, "exempt", None, Decimal(0), proposal.currency, "IMP exemption")
        duty_amount = Decimal(0)
    elif profile.standard_duty_rate is not None:
        duty_amount = (value * profile.standard_duty_rate / 100).quantize(CENT, ROUND_HALF_UP)
        duty = TaxLine("import duty", country, "estimated", profile.standard_duty_rate, duty_amount, proposal.currency)
    else:
        duty = TaxLine("import duty", country, "unknown", None, None, proposal.currency, "no sourced duty rate")
    if all_imp and profile.imp_vat_exempt:
        vat = TaxLine("import VAT", country, "exempt", None, Decimal(0), proposal.currency, "IMP exemption")
    elif profile.standard_vat_rate is not None:
        # Import VAT is charged on the customs value plus the duty.
        base = value + (duty_amount or Decimal(0))
        amount = (base * profile.standard_vat_rate / 100).quantize(CENT, ROUND_HALF_UP)
        note = "" if duty_amount is not None else "duty unknown: VAT on the declared value only"
        vat = TaxLine("import VAT", country, "estimated", profile.standard_vat_rate, amount, proposal.currency, note)
    else:
        vat = TaxLine("import VAT", country, "unknown", None, None, proposal.currency, "no sourced VAT rate")
    return [duty, vat]


def preflight(proposal: Proposal) -> PreflightResult:
    today = proposal.today or timezone.localdate()
    kind = route_kind_of(proposal.origin, proposal.destination)
    profiles = {
        p.country: p for p in CountryProfile.objects.filter(country__in=[proposal.origin, proposal.destination])
    }
    destination_profile = profiles.get(proposal.destination)
    required = required_documents(
        origin=proposal.origin,
        destination=proposal.destination,
        route_kind=kind,
        categories={item.category for item in proposal.items},
        temperature_class=proposal.temperature_class,
        declared_value=Decimal(proposal.declared_value),
        currency=proposal.currency,
    )
    documents = [
        RequiredDocumentLine(
            side=req.side,
            country=req.country,
            document_type=req.document_type,
            title=req.title,
            provided_by=req.provided_by,
            owed_by=_owner(proposal, req.provided_by),
            lead_time_days=req.lead_time_days,
            due_date=req.due_date(proposal.planned_ship_date),
            validity_days=req.validity_days,
            legal_basis=req.legal_basis,
            source=req.source,
        )
        for req in required
    ]
    earliest = earliest_ship_date(today=today, lead_times=[d.lead_time_days for d in documents])
    longest = max((d for d in documents if d.lead_time_days is not None), key=lambda d: d.lead_time_days, default=None)
    critical_path = f"{longest.title} ({longest.lead_time_days} days)" if longest else "no lead times"

    blockers: list[str] = []
    warnings: list[str] = []
    if kind == RouteKind.INTERNATIONAL:
        if proposal.ior is None:
            if destination_profile and destination_profile.local_ior_mandatory:
                blockers.append(f"no IOR assigned, and {country_name(proposal.destination)} requires one")
            else:
                warnings.append("no importer of record assigned yet")
        else:
            blockers.extend(licence_reasons(proposal.ior, country=proposal.destination, day=proposal.planned_ship_date))
        for country in {proposal.origin, proposal.destination} - set(profiles):
            warnings.append(f"no regulatory data for {country_name(country)}: the document list may be incomplete")
    blockers.extend(
        screening_reasons([proposal.sponsor, proposal.ior, proposal.eor, proposal.consignee, proposal.broker])
    )
    for item in proposal.items:
        if item.expiry_date and item.expiry_date < proposal.planned_ship_date:
            blockers.append(f"{item.product_name or item.category} expires before the planned ship date")
    if proposal.planned_ship_date < earliest:
        warnings.append(
            f"the planned ship date {proposal.planned_ship_date:%Y-%m-%d} is before the earliest feasible ship date "
            f"{earliest:%Y-%m-%d} ({critical_path})"
        )
    unknown = sorted({d.title for d in documents if d.lead_time_days is None})
    if unknown:
        warnings.append(f"lead time unknown for: {', '.join(unknown)}")

    permits = []
    for doc in documents:
        if doc.document_type not in PERMIT_TYPES:
            continue
        need = PermitNeed(side=doc.side, country=doc.country, permit_type=doc.document_type, title=doc.title)
        if proposal.trial is not None:
            held = list(
                Permit.objects.filter(
                    trial=proposal.trial, permit_type=doc.document_type, country=doc.country, direction=doc.side
                ).prefetch_related("lines")
            )
            need.held = [f"{p.number} (valid until {p.valid_until:%Y-%m-%d})" for p in held]
            shortfalls = permit_shortfalls(
                [p for p in held if p.is_valid_on(proposal.planned_ship_date)], proposal.items
            )
            need.covered = bool(held) and not shortfalls
            warnings.extend(f"{need.title}: {gap}" for gap in shortfalls)
        permits.append(need)

    taxes = _taxes(proposal, destination_profile) if kind == RouteKind.INTERNATIONAL else []
    return PreflightResult(
        route_kind=kind,
        documents=documents,
        permits=permits,
        taxes=taxes,
        earliest_ship_date=earliest,
        critical_path=critical_path,
        blockers=blockers,
        warnings=warnings,
    )


def proposal_for(shipment) -> Proposal:
    return Proposal(
        origin=shipment.origin_country,
        destination=shipment.destination_country,
        items=[
            ProposedItem(i.category, i.quantity, i.product_name, i.unit_value, i.expiry_date)
            for i in shipment.items.all()
        ],
        temperature_class=shipment.temperature_class,
        declared_value=shipment.declared_value,
        currency=shipment.currency,
        planned_ship_date=shipment.planned_ship_date,
        trial=shipment.trial,
        ior=shipment.ior,
        eor=shipment.eor,
        consignee=shipment.consignee,
        sponsor=shipment.sponsor,
        broker=shipment.broker,
        courier=shipment.courier,
    )
