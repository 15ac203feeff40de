"""Who may fire each transition: the organization's part in the shipment and the user's role there.
Checked by the services, so the API, the pages and the commands all get the same answer."""

from parties.choices import MemberRole as R
from parties.choices import PartyRole as P

STAFF_ROLES = frozenset({R.EDITOR, R.REVIEWER, R.MANAGER})

# transition -> (parties of the shipment whose users may fire it, roles they must hold there)
TRANSITION_ACTORS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "submit": (frozenset({P.SPONSOR}), frozenset({R.EDITOR, R.MANAGER})),
    "submit_dossier": (frozenset({P.SPONSOR, P.IOR}), frozenset({R.EDITOR, R.MANAGER})),
    "approve": (frozenset({P.IOR}), frozenset({R.REVIEWER})),
    "reject": (frozenset({P.IOR}), frozenset({R.REVIEWER})),
    "clear_export": (frozenset({P.EOR, P.BROKER}), STAFF_ROLES),
    "dispatch": (frozenset({P.EOR, P.BROKER, P.COURIER}), STAFF_ROLES),
    "arrive": (frozenset({P.IOR, P.BROKER, P.COURIER}), STAFF_ROLES),
    "hold": (frozenset({P.IOR, P.BROKER}), STAFF_ROLES),
    "release": (frozenset({P.IOR, P.BROKER}), STAFF_ROLES),
    "clear": (frozenset({P.IOR, P.BROKER}), STAFF_ROLES),
    "out_for_delivery": (frozenset({P.IOR, P.COURIER}), STAFF_ROLES),
    "deliver": (frozenset({P.CONSIGNEE}), STAFF_ROLES),
    "return_to_origin": (frozenset({P.IOR}), frozenset({R.REVIEWER, R.MANAGER})),
    "destroy": (frozenset({P.IOR}), frozenset({R.MANAGER})),
    "cancel": (frozenset({P.SPONSOR}), frozenset({R.EDITOR, R.MANAGER})),
}

# Actions on a shipment that are not transitions.
ACTION_ACTORS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "edit_draft": (frozenset({P.SPONSOR}), frozenset({R.EDITOR, R.MANAGER})),
    "create_return": (frozenset({P.SPONSOR, P.IOR}), frozenset({R.EDITOR, R.MANAGER})),
    "review_document": (frozenset({P.IOR}), frozenset({R.REVIEWER})),
    "recheck_compliance": (frozenset({P.IOR}), frozenset({R.REVIEWER})),
    # Whoever holds the goods or answers for them may file a logger's record: the sponsor (who packed them), the
    # courier (who carried them), the site (who read the logger on arrival) and the importer of record.
    "upload_temperature_log": (frozenset({P.SPONSOR, P.COURIER, P.CONSIGNEE, P.IOR}), STAFF_ROLES),
    # The carrier reports its own scans; the importer and exporter of record pass on what the carrier told them.
    "record_tracking_event": (frozenset({P.COURIER, P.IOR, P.EOR}), frozenset({R.EDITOR, R.MANAGER})),
    # The goods' owner answers for their quality: its own quality unit decides, not a CRO acting for it.
    "record_disposition": (frozenset({P.SPONSOR}), frozenset({R.QA})),
}
# Actions only the sponsor's own users may take, never a CRO it authorised.
SPONSOR_ITSELF = frozenset({"record_disposition"})
ROLE_PLURALS = {R.QA: "quality assurance staff"}

TRANSITION_VERBS = {
    "submit": "submit",
    "submit_dossier": "submit the dossier of",
    "approve": "approve",
    "reject": "reject",
    "clear_export": "clear for export",
    "dispatch": "dispatch",
    "arrive": "record the arrival of",
    "hold": "put on customs hold",
    "release": "release from customs hold",
    "clear": "clear through customs",
    "out_for_delivery": "send out for delivery",
    "deliver": "confirm delivery of",
    "return_to_origin": "return to origin",
    "destroy": "record the destruction of",
    "cancel": "cancel",
    "edit_draft": "edit",
    "create_return": "create a return of",
    "review_document": "review documents of",
    "recheck_compliance": "re-check the requirements of",
    "upload_temperature_log": "upload temperature logs of",
    "record_disposition": "record the cold-chain disposition of",
    "record_tracking_event": "record tracking events of",
}


TRANSITION_LABELS = {
    "submit": "Submit",
    "submit_dossier": "Submit dossier",
    "approve": "Approve dossier",
    "reject": "Reject dossier",
    "clear_export": "Clear export",
    "dispatch": "Dispatch",
    "arrive": "Record arrival",
    "hold": "Put on customs hold",
    "release": "Release from hold",
    "clear": "Clear customs",
    "out_for_delivery": "Out for delivery",
    "deliver": "Confirm delivery",
    "return_to_origin": "Return to origin",
    "destroy": "Record destruction",
    "cancel": "Cancel shipment",
}


def parties_of(shipment, user) -> set[str]:
    """The parts the user's organization plays in this shipment. A CRO authorised by the sponsor plays the sponsor."""
    org_id = getattr(user, "organization_id", None)
    if not org_id:
        return set()
    parts = {
        role for role in (P.IOR, P.EOR, P.CONSIGNEE, P.BROKER, P.COURIER) if getattr(shipment, f"{role}_id") == org_id
    }
    if shipment.sponsor_id == org_id or _cro_acts_for(org_id, shipment.sponsor_id):
        parts.add(P.SPONSOR)
    return parts


def _cro_acts_for(cro_id: int, sponsor_id: int) -> bool:
    from ior_platform.core.tenancy import acting_sponsor_ids
    from parties.models import Organization

    return Organization.objects.filter(acting_sponsor_ids(cro_id), pk=sponsor_id).exists()


def refusal(shipment, user, action: str) -> str | None:
    """None when `user` may do `action` on `shipment`; otherwise the sentence that says who may."""
    parties, roles = TRANSITION_ACTORS.get(action) or ACTION_ACTORS[action]
    if not (user and user.is_authenticated and user.is_active):
        return "sign in first"
    parts = parties_of(shipment, user)
    if action in SPONSOR_ITSELF and user.organization_id != shipment.sponsor_id:
        parts.discard(P.SPONSOR)
    if parts & parties and user.has_member_role(*roles):
        return None
    who = " or ".join(sorted(P(p).label.lower() for p in parties))
    if action in SPONSOR_ITSELF:
        who += " itself (not a CRO acting for it)"
    role_names = " or ".join(sorted(ROLE_PLURALS.get(r, R(r).label.lower() + "s") for r in roles))
    return f"only {role_names} of the shipment's {who} may {TRANSITION_VERBS[action]} this shipment"
