"""Cross-document checks before a dossier is approved: do the items, the invoice and the declared value agree."""

from collections import defaultdict
from decimal import Decimal, InvalidOperation

from compliance.choices import DocumentType
from compliance.permits import normalise_product
from shipments.choices import RouteKind

INVOICE_TYPES = {DocumentType.PROFORMA_INVOICE, DocumentType.COMMERCIAL_INVOICE}
# Rounding on invoices: a difference below one percent of the declared value is not a mismatch.
VALUE_TOLERANCE = Decimal("0.01")


def _quantities(lines, names: dict[str, str]) -> dict[str, Decimal]:
    """Quantity per product, keyed by the normalised name; `names` collects how each was written."""
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for line in lines:
        name = str(line.get("product_name", "")).strip() or "(unnamed product)"
        key = normalise_product(name)
        names.setdefault(key, name)
        try:
            totals[key] += Decimal(str(line.get("quantity", 0)))
        except InvalidOperation:
            totals[key] += 0
    return dict(totals)


def consistency_reasons(shipment) -> list[str]:
    reasons = []
    items = list(shipment.items.all())
    if shipment.route_kind == RouteKind.INTERNATIONAL:
        reasons.extend(f"{item.product_name} has no HS code" for item in items if not item.hs_code)
    if not shipment.declared_value:
        reasons.append("the declared value is zero")
    total = sum((item.line_value for item in items), Decimal(0))
    if (
        total
        and shipment.declared_value
        and abs(total - shipment.declared_value) > shipment.declared_value * VALUE_TOLERANCE
    ):
        reasons.append(
            f"the declared value {shipment.declared_value} {shipment.currency} differs from the items' total "
            f"{total.quantize(Decimal('0.01'))} {shipment.currency}"
        )
    names: dict[str, str] = {}
    shipped = _quantities(({"product_name": i.product_name, "quantity": i.quantity} for i in items), names)
    for document in shipment.documents.all():
        if document.document_type not in INVOICE_TYPES or not document.declared_lines:
            continue
        invoiced = _quantities(document.declared_lines, names)
        label = (document.title or document.get_document_type_display()).split(" (")[0]
        for product in sorted(set(invoiced) | set(shipped)):
            if invoiced.get(product, Decimal(0)) != shipped.get(product, Decimal(0)):
                reasons.append(
                    f"the {label.lower()} lists {invoiced.get(product, Decimal(0)).normalize():f} of {names[product]}, "
                    f"the shipment {shipped.get(product, Decimal(0)).normalize():f}"
                )
    return reasons
