"""Reading the country knowledge base: which documents a route demands, from whom, by when."""

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from compliance.choices import TradeDirection
from compliance.models import CountryProfile, DocumentRequirement
from shipments.choices import RouteKind


@dataclass(frozen=True)
class RequiredDocument:
    side: str
    country: str
    document_type: str
    title: str
    local_title: str
    provided_by: str
    lead_time_days: int | None
    validity_days: int | None
    legal_basis: str
    source: str
    requirement_id: int

    def due_date(self, ship_date: date) -> date:
        """Ship date minus the lead time; the ship date itself where no source gives a lead time."""
        return ship_date - timedelta(days=self.lead_time_days or 0)


def country_profile(country: str) -> CountryProfile | None:
    return CountryProfile.objects.filter(country=country).first()


def required_documents(
    *,
    origin: str,
    destination: str,
    route_kind: str,
    categories: set[str],
    temperature_class: str,
    declared_value: Decimal,
    currency: str,
) -> list[RequiredDocument]:
    """Documents the origin demands for export and the destination for import. Goods that cross no customs
    border (domestic, or within the EU customs union) need neither side's customs documents. Where several
    requirements ask for the same document on one side, the one with the longest lead time wins."""
    if route_kind != RouteKind.INTERNATIONAL or not categories:
        return []
    sides = ((TradeDirection.EXPORT, origin), (TradeDirection.IMPORT, destination))
    found: dict[tuple[str, str], RequiredDocument] = {}
    for direction, country in sides:
        candidates = DocumentRequirement.objects.filter(
            country__country=country, direction=direction, product_category__in=categories, is_active=True
        ).order_by("document_type", "-version")
        for req in candidates:
            if not req.applies_to(
                category=req.product_category,
                temperature_class=temperature_class,
                declared_value=declared_value,
                currency=currency,
            ):
                continue
            key = (direction, req.document_type)
            current = found.get(key)
            if current is None or (req.lead_time_days or 0) > (current.lead_time_days or 0):
                found[key] = RequiredDocument(
                    side=direction,
                    country=country,
                    document_type=req.document_type,
                    title=req.display_title,
                    local_title=req.title,
                    provided_by=req.provided_by,
                    lead_time_days=req.lead_time_days,
                    validity_days=req.validity_days,
                    legal_basis=req.legal_basis,
                    source=req.source,
                    requirement_id=req.pk,
                )
    return sorted(
        found.values(), key=lambda r: (r.side != TradeDirection.EXPORT, -(r.lead_time_days or 0), r.document_type)
    )
