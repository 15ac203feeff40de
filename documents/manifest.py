"""The canonical manifest of a shipment's dossier: the shipment data a signer vouches for and the hash of every
document version in it. Its SHA-256 is what an electronic signature binds to; any change to these facts
changes the hash, so a signature can be checked against the dossier as it is now."""

import hashlib
import json

from django.core.serializers.json import DjangoJSONEncoder

from ior_platform.core.tenancy import PARTY_FIELDS
from shipments.models import DATA_FIELDS

SHIPMENT_FIELDS = ("reference", *DATA_FIELDS)
ITEM_FIELDS = (
    "position",
    "product_name",
    "category",
    "hs_code",
    "quantity",
    "unit",
    "lot_number",
    "expiry_date",
    "unit_value",
    "un_number",
)


def dossier_manifest(shipment) -> dict:
    """Built from the database, not from a caller's copy, so it reflects what is stored."""
    from shipments.models import Shipment

    current = (
        Shipment.objects.select_related("trial", *PARTY_FIELDS)
        .prefetch_related("items", "documents__versions")
        .get(pk=shipment.pk)
    )
    documents = []
    for document in sorted(current.documents.all(), key=lambda d: (d.side, d.document_type)):
        newest = max(document.versions.all(), key=lambda v: v.number, default=None)
        documents.append(
            {
                "side": document.side,
                "document_type": document.document_type,
                "status": document.status,
                "version": newest.number if newest else None,
                "sha256": newest.sha256 if newest else None,
                "valid_until": document.valid_until,
            }
        )
    return {
        "shipment": {name: getattr(current, name) for name in SHIPMENT_FIELDS},
        "trial": current.trial.protocol_number,
        "parties": {
            name: ({"id": party.pk, "name": party.name} if (party := getattr(current, name)) else None)
            for name in PARTY_FIELDS
        },
        "items": [
            {name: getattr(item, name) for name in ITEM_FIELDS}
            for item in sorted(current.items.all(), key=lambda i: (i.position, i.pk))
        ],
        "documents": documents,
    }


def canonical_json(manifest: dict) -> str:
    return json.dumps(manifest, cls=DjangoJSONEncoder, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def manifest_sha256(manifest: dict) -> str:
    return hashlib.sha256(canonical_json(manifest).encode()).hexdigest()


def normalised(manifest: dict) -> dict:
    """The manifest as it is stored in JSON (dates and decimals as strings)."""
    return json.loads(canonical_json(manifest))
