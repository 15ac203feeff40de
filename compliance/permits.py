"""The permit ledger: whether a shipment's permits cover its goods, drawing quantities down at approval and
giving them back if the shipment is cancelled before it leaves."""

from collections import defaultdict
from decimal import Decimal

from django.db.models import Q, Sum
from django.utils import timezone

from compliance.choices import PERMIT_TYPES
from compliance.models import DocumentRequirement, Permit, PermitDrawdown, PermitLine
from ior_platform.core.codes import country_name
from ior_platform.core.errors import TransitionRefused


def normalise_product(name: str) -> str:
    return " ".join(name.casefold().split())


def _permit_documents(shipment):
    return [doc for doc in shipment.documents.all() if doc.document_type in PERMIT_TYPES]


def _covered_items(shipment, document):
    """The items a permit-type document is for: those whose category the country's requirement names."""
    categories = set(
        DocumentRequirement.objects.filter(
            country__country=_side_country(shipment, document.side),
            direction=document.side,
            document_type=document.document_type,
        ).values_list("product_category", flat=True)
    )
    items = list(shipment.items.all())
    return [item for item in items if item.category in categories] if categories else items


def _side_country(shipment, side: str) -> str:
    return shipment.destination_country if side == "import" else shipment.origin_country


def _remaining(lines, exclude_shipment_id=None) -> dict[int, Decimal]:
    drawn = (
        PermitDrawdown.objects.filter(line__in=lines, released_at__isnull=True)
        .exclude(shipment_id=exclude_shipment_id)
        .values("line_id")
        .annotate(total=Sum("quantity"))
    )
    used = {row["line_id"]: row["total"] for row in drawn}
    return {line.pk: line.authorised_quantity - used.get(line.pk, Decimal(0)) for line in lines}


def _plan(shipment, *, on_day, lock: bool) -> tuple[list[tuple], list[str]]:
    """For every permit-type document of the checklist: which permit line each item draws from, or why none can."""
    plan, reasons = [], []
    for document in _permit_documents(shipment):
        country = _side_country(shipment, document.side)
        label = document.title or document.get_document_type_display()
        permits = list(
            Permit.objects.filter(
                trial_id=shipment.trial_id,
                permit_type=document.document_type,
                country=country,
                direction=document.side,
            ).order_by("valid_until")
        )
        if not permits:
            reasons.append(f"no {label} for {country_name(country)} is recorded in the permit ledger")
            continue
        valid = [p for p in permits if p.is_valid_on(on_day)]
        if not valid:
            latest = max(permits, key=lambda p: p.valid_until)
            reasons.append(
                f"{label} {latest.number} is not valid on {on_day:%Y-%m-%d} (valid until {latest.valid_until:%Y-%m-%d})"
            )
            continue
        lines = PermitLine.objects.filter(permit__in=valid).select_related("permit")
        if lock:
            lines = lines.select_for_update()
        lines = list(lines)
        remaining = _remaining(lines, exclude_shipment_id=shipment.pk)
        by_product = defaultdict(list)
        for line in lines:
            by_product[normalise_product(line.product_name)].append(line)
        for item in _covered_items(shipment, document):
            candidates = by_product.get(normalise_product(item.product_name), [])
            if not candidates:
                reasons.append(f"{label} {valid[0].number} does not cover {item.product_name}")
                continue
            fitting = [line for line in candidates if line.unit == item.unit and remaining[line.pk] >= item.quantity]
            if not fitting:
                line = candidates[0]
                if line.unit != item.unit:
                    reasons.append(
                        f"{label} {line.permit.number} authorises {item.product_name} in {line.get_unit_display()}, "
                        f"the shipment lists {item.get_unit_display()}"
                    )
                else:
                    left = max(remaining[line.pk], Decimal(0))
                    reasons.append(
                        f"{label} {line.permit.number} has {left.normalize():f} {line.get_unit_display()} of "
                        f"{item.product_name} left; this shipment needs {item.quantity.normalize():f}"
                    )
                continue
            line = fitting[0]
            remaining[line.pk] -= item.quantity
            plan.append((line, item))
    return plan, reasons


def permit_reasons(shipment, *, on_day=None) -> list[str]:
    """Why the permit ledger does not (yet) cover this shipment on `on_day` (default: the planned ship date)."""
    if shipment.permit_drawdowns.filter(released_at__isnull=True).exists():
        return permit_validity_reasons(shipment, on_day=on_day or shipment.planned_ship_date)
    _, reasons = _plan(shipment, on_day=on_day or shipment.planned_ship_date, lock=False)
    return reasons


def permit_validity_reasons(shipment, *, on_day) -> list[str]:
    """Permits already drawn down must still be valid on the day the goods move."""
    reasons = []
    drawdowns = shipment.permit_drawdowns.filter(released_at__isnull=True).select_related("line__permit")
    for permit in {d.line.permit for d in drawdowns}:
        if not permit.is_valid_on(on_day):
            reasons.append(
                f"{permit.get_permit_type_display()} {permit.number} is not valid on {on_day:%Y-%m-%d} "
                f"(valid {permit.valid_from:%Y-%m-%d} to {permit.valid_until:%Y-%m-%d})"
            )
    return sorted(reasons)


def permit_draw_down(*, shipment) -> list[PermitDrawdown]:
    """Take the shipment's quantities from its permits. Call inside the approving transaction: the permit lines are
    locked, so two approvals racing for the last units cannot both take them."""
    plan, reasons = _plan(shipment, on_day=shipment.planned_ship_date, lock=True)
    if reasons:
        raise TransitionRefused(reasons)
    return PermitDrawdown.objects.bulk_create(
        [PermitDrawdown(line=line, shipment=shipment, item=item, quantity=item.quantity) for line, item in plan]
    )


def permit_release(*, shipment) -> int:
    return PermitDrawdown.objects.filter(shipment=shipment, released_at__isnull=True).update(released_at=timezone.now())


def permits_for(*, trial, country: str, permit_type: str | None = None):
    query = Q(trial=trial, country=country)
    if permit_type:
        query &= Q(permit_type=permit_type)
    return Permit.objects.filter(query).prefetch_related("lines")


def permit_shortfalls(permits, items) -> list[str]:
    """For a proposal: which items the given valid permits do not cover, or not in the quantity still left."""
    if not permits:
        return ["no valid permit on the planned ship date"]
    lines = [line for permit in permits for line in permit.lines.all()]
    remaining = _remaining(lines)
    by_product = defaultdict(list)
    for line in lines:
        by_product[normalise_product(line.product_name)].append(line)
    gaps = []
    for item in items:
        if not item.product_name:
            continue
        candidates = by_product.get(normalise_product(item.product_name), [])
        if not candidates:
            gaps.append(f"no permit line covers {item.product_name}")
            continue
        left = sum((remaining[line.pk] for line in candidates), Decimal(0))
        if left < item.quantity:
            left = max(left, Decimal(0))
            gaps.append(f"{left.normalize():f} of {item.product_name} left, {item.quantity.normalize():f} needed")
        else:
            for line in candidates:
                take = min(remaining[line.pk], item.quantity)
                remaining[line.pk] -= take
    return gaps
