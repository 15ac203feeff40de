"""The shipment's electronic copy (21 CFR Part 11 §11.10(b)): its record as one JSON document — the dossier
data, every document version's hash, the signatures and the audit trail with its hash chain — so it can be
handed to an inspector or archived and checked without the platform."""

import json
from datetime import UTC

from django.core.serializers.json import DjangoJSONEncoder
from django.utils import timezone

from documents.manifest import dossier_manifest, manifest_sha256, normalised
from documents.models import Document, ElectronicSignature
from ior_platform.core.models import AuditEvent
from shipments.models import Shipment

FORMAT = "ior-platform/shipment-record@1"


def _utc(moment):
    return moment.astimezone(UTC).isoformat() if moment else None


def shipment_bundle(*, user, shipment) -> dict:
    """Raises Shipment.DoesNotExist for a shipment the user may not see."""
    current = Shipment.objects.for_user(user).select_related("trial", "return_of").get(pk=shipment.pk)
    manifest = normalised(dossier_manifest(current))
    documents = Document.objects.filter(shipment=current).prefetch_related(
        "versions__uploaded_by", "versions__reviewed_by"
    )
    signatures = ElectronicSignature.objects.filter(shipment=current).order_by("signed_at")
    events = AuditEvent.objects.for_user(user).filter(shipment=current).order_by("sequence")
    return {
        "format": FORMAT,
        "exported_at": _utc(timezone.now()),
        "exported_by": user.get_username(),
        "shipment": {
            "reference": current.reference,
            "status": current.status,
            "route_kind": current.route_kind,
            "return_of": current.return_of.reference if current.return_of else None,
            "airway_bill": current.airway_bill,
            "tracking_number": current.tracking_number,
            "customs_entry_number": current.customs_entry_number,
            "duties_actual": current.duties_actual,
        },
        "manifest": manifest,
        "manifest_sha256": manifest_sha256(manifest),
        "documents": [
            {
                "side": doc.side,
                "document_type": doc.document_type,
                "title": doc.title or doc.get_document_type_display(),
                "status": doc.status,
                "due_date": doc.due_date,
                "legal_basis": doc.legal_basis,
                "versions": [
                    {
                        "number": v.number,
                        "original_name": v.original_name,
                        "content_type": v.content_type,
                        "size": v.size,
                        "sha256": v.sha256,
                        "uploaded_by": v.uploaded_by.get_username(),
                        "uploaded_at": _utc(v.uploaded_at),
                        "review_decision": v.review_decision or None,
                        "reviewed_by": v.reviewed_by.get_username() if v.reviewed_by else None,
                        "reviewed_at": _utc(v.reviewed_at),
                        "review_comment": v.review_comment,
                    }
                    for v in sorted(doc.versions.all(), key=lambda v: v.number)
                ],
            }
            for doc in documents
        ],
        "signatures": [
            {
                "signer": s.signer_name,
                "organization": s.signer_organization,
                "meaning": s.meaning,
                "signed_at": _utc(s.signed_at),
                "manifest_sha256": s.manifest_sha256,
                "valid": s.is_valid,
                "invalidated_at": _utc(s.invalidated_at),
                "invalidation_reason": s.invalidation_reason,
            }
            for s in signatures
        ],
        "audit_trail": [
            {
                "sequence": e.sequence,
                "occurred_at": _utc(e.occurred_at),
                "actor": e.actor_label,
                "action": e.action,
                "object": e.target_repr,
                "changes": e.changes,
                "reason": e.reason,
                "prev_hash": e.prev_hash,
                "hash": e.hash,
            }
            for e in events
        ],
    }


def bundle_json(bundle: dict) -> str:
    return json.dumps(bundle, cls=DjangoJSONEncoder, indent=2, ensure_ascii=False)
