"""The importer of record's review work: the queue of dossiers and uploads waiting for its reviewers, one shipment's
documents previewed inline with approve or reject, and the dossier signature.

Shipments are read through the tenancy rule, so another organization's shipment is a 404; who may review is the
rule of shipments.rules (a 403 for someone who sees the shipment but may not review it); every decision is made by
the services the API calls, whose refusals are shown next to the form that asked."""

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Min, OuterRef, Prefetch, Q, Subquery
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.timesince import timesince
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.http import require_GET, require_POST

from documents import uploads
from documents.choices import DOSSIER_SIGNATURE_MEANINGS, DocumentStatus, SignatureMeaning
from documents.forms import SIGNING_MEANINGS, DossierSignatureForm, ReviewDecisionForm
from documents.models import Document, DocumentVersion, ElectronicSignature
from documents.services import OPEN_FOR_DOCUMENTS, DocumentTampered, document_review, document_version_open
from documents.signatures import WrongPassword, signing_locked_until
from documents.views import DOWNLOAD_HEADERS
from ior_platform.core.errors import DomainError
from shipments.choices import ShipmentStatus
from shipments.models import Shipment
from shipments.rules import ACTION_ACTORS, refusal
from shipments.services import shipment_approve, shipment_reject, transition_refusals

REVIEW_ACTION = "review_document"
REVIEWING_PARTIES, REVIEWER_ROLES = ACTION_ACTORS[REVIEW_ACTION]
PREVIEW_KINDS = {uploads.PDF: "pdf", uploads.PNG: "image", uploads.JPEG: "image"}
SIGNING_SERVICES = {SignatureMeaning.APPROVED: "approve", SignatureMeaning.REJECTED: "reject"}
PAGE_TEMPLATE = "documents/review.html"
DECISION_TEMPLATE = "documents/partials/_review_decision_response.html"
SIGNATURE_FORM_TEMPLATE = "documents/partials/_review_signature_form.html"


def _sentence(reason: str) -> str:
    reason = str(reason)
    return reason[:1].upper() + reason[1:] + ("" if reason.endswith(".") else ".")


def _is_htmx(request) -> bool:
    return request.headers.get("HX-Request") == "true"


def _add_errors(form, exc: ValidationError, *, aliases: dict[str, str] | None = None) -> None:
    """A service's ValidationError onto the form: a field the form has gets it, anything else goes on top."""
    for field, errors in exc.message_dict.items():
        field = (aliases or {}).get(field, field)
        for error in errors:
            form.add_error(field if field in form.fields else None, error)


# The queue


@dataclass(frozen=True)
class QueueRow:
    shipment: Shipment
    waiting_since: datetime
    waiting_for: str

    @property
    def ready_to_sign(self) -> bool:
        s = self.shipment
        return s.documents_total > 0 and s.documents_approved == s.documents_total


def _queue_rows(shipments, since_field: str, now: datetime) -> list[QueueRow]:
    rows = []
    for shipment in shipments:
        since = getattr(shipment, since_field) or shipment.status_changed_at
        rows.append(QueueRow(shipment=shipment, waiting_since=since, waiting_for=timesince(since, now, depth=1)))
    return rows


def review_queue_for(user) -> tuple[list[QueueRow], list[QueueRow]]:
    """The dossiers awaiting a decision and the shipments in permit collection with uploads awaiting review, of the
    shipments where the user's organization plays a reviewing part; each list oldest first."""
    mine = Q()
    for party in REVIEWING_PARTIES:
        mine |= Q(**{f"{party}_id": user.organization_id})
    pending_versions = DocumentVersion.objects.filter(
        document__shipment=OuterRef("pk"), document__status=DocumentStatus.UPLOADED, review_decision=""
    ).order_by()
    oldest_upload = Subquery(
        pending_versions.values("document__shipment").annotate(first=Min("uploaded_at")).values("first")[:1]
    )
    shipments = (
        Shipment.objects.for_user(user)
        .filter(mine, status__in=(ShipmentStatus.DOSSIER_REVIEW, ShipmentStatus.PERMIT_COLLECTION))
        .with_parties()
        .annotate(
            documents_total=Count("documents"),
            documents_to_review=Count("documents", filter=Q(documents__status=DocumentStatus.UPLOADED)),
            documents_approved=Count("documents", filter=Q(documents__status=DocumentStatus.APPROVED)),
            documents_rejected=Count("documents", filter=Q(documents__status=DocumentStatus.REJECTED)),
            oldest_upload=oldest_upload,
        )
    )
    now = timezone.now()
    dossiers = shipments.filter(status=ShipmentStatus.DOSSIER_REVIEW).order_by("status_changed_at", "reference")
    uploads_waiting = shipments.filter(status=ShipmentStatus.PERMIT_COLLECTION, documents_to_review__gt=0).order_by(
        "oldest_upload", "reference"
    )
    return _queue_rows(dossiers, "status_changed_at", now), _queue_rows(uploads_waiting, "oldest_upload", now)


def _require_reviewer(user) -> None:
    if not user.organization_id or not user.has_member_role(*REVIEWER_ROLES):
        raise PermissionDenied("Only reviewers of an importer of record review dossiers.")


@login_required
@require_GET
def review_queue(request):
    _require_reviewer(request.user)
    dossiers, uploads_waiting = review_queue_for(request.user)
    return render(request, "documents/review_queue.html", {"dossiers": dossiers, "uploads_waiting": uploads_waiting})


# One shipment's review


def _review_queryset(user):
    versions = DocumentVersion.objects.select_related("uploaded_by", "reviewed_by").order_by("-number")
    documents = (
        Document.objects.select_related("owed_by")
        .prefetch_related(Prefetch("versions", queryset=versions))
        .order_by("side", "due_date", "document_type")
    )
    return (
        Shipment.objects.for_user(user)
        .with_parties()
        .select_related("dossier_submitted_by")
        .prefetch_related(
            "items",
            "ior__licences",
            Prefetch("documents", queryset=documents),
            Prefetch(
                "signatures",
                queryset=ElectronicSignature.objects.filter(meaning__in=DOSSIER_SIGNATURE_MEANINGS).order_by(
                    "signed_at"
                ),
            ),
        )
    )


def _shipment_for_review(user, **lookup) -> Shipment:
    """The shipment, if the user sees it (else 404) and may review its documents (else 403)."""
    try:
        shipment = _review_queryset(user).get(**lookup)
    except Shipment.DoesNotExist:
        raise Http404("No such shipment") from None
    denied = refusal(shipment, user, REVIEW_ACTION)
    if denied:
        raise PermissionDenied(_sentence(denied))
    return shipment


@dataclass(frozen=True)
class MeaningOption:
    value: str
    label: str
    reasons: list[str]


def _review_context(user, shipment: Shipment, *, signature_form=None, open_modal: bool = False) -> dict:
    documents = list(shipment.documents.all())
    for document in documents:
        versions = list(document.versions.all())
        document.current = versions[0] if versions else None
        document.earlier = versions[1:]
        for version in versions:
            version.preview_kind = PREVIEW_KINDS.get(version.content_type)
    counts = Counter(document.status for document in documents)
    open_for_review = shipment.status in OPEN_FOR_DOCUMENTS
    signing_open = shipment.status == ShipmentStatus.DOSSIER_REVIEW
    options = []
    if signing_open:
        for meaning, label in SIGNING_MEANINGS.items():
            reasons = transition_refusals(shipment, user, SIGNING_SERVICES[meaning])
            if meaning == SignatureMeaning.APPROVED and shipment.dossier_submitted_by_id == user.pk:
                reasons.append("you submitted this dossier, so someone else must sign its approval")
            options.append(MeaningOption(meaning, label, [_sentence(r) for r in reasons]))
    locked_until = signing_locked_until(user) if signing_open else None
    return {
        "shipment": shipment,
        "documents": documents,
        "counts": {
            "to_review": counts[DocumentStatus.UPLOADED],
            "approved": counts[DocumentStatus.APPROVED],
            "rejected": counts[DocumentStatus.REJECTED],
            "missing": counts[DocumentStatus.REQUESTED],
            "expired": counts[DocumentStatus.EXPIRED],
            "total": len(documents),
        },
        "open_for_review": open_for_review,
        "signing_open": signing_open,
        "meaning_options": options,
        "signing_locked_until": locked_until,
        "signatures": list(shipment.signatures.all()),
        "signature_form": signature_form or DossierSignatureForm(),
        "open_modal": open_modal,
    }


@login_required
@require_GET
def shipment_review(request, reference: str):
    shipment = _shipment_for_review(request.user, reference=reference)
    return render(request, PAGE_TEMPLATE, _review_context(request.user, shipment))


@login_required
@require_POST
def document_decide(request, pk: int):
    """Approve or reject the newest version of a document. htmx gets the document's card back (and the dossier's
    counts and signature panel out of band); a plain form post is redirected to the review page."""
    version = get_object_or_404(DocumentVersion.objects.for_user(request.user).select_related("document"), pk=pk)
    document = version.document
    shipment = _shipment_for_review(request.user, pk=document.shipment_id)
    document.shipment = shipment
    form = ReviewDecisionForm(request.POST)
    decided = None
    if form.is_valid():
        try:
            decided = document_review(
                actor=request.user,
                version=version,
                decision=form.cleaned_data["decision"],
                comment=form.cleaned_data["comment"],
            )
        except ValidationError as exc:
            _add_errors(form, exc)
        except DomainError as exc:
            for reason in exc.reasons:
                form.add_error(None, _sentence(reason))
    if not _is_htmx(request):
        if decided:
            messages.success(request, f"{document.label}: {decided.get_review_decision_display().lower()}.")
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
        return redirect(f"{reverse('reviews:review', args=[shipment.reference])}#document-{document.pk}")
    context = _review_context(request.user, _shipment_for_review(request.user, pk=shipment.pk))
    card = next(item for item in context["documents"] if item.pk == document.pk)
    return render(
        request,
        DECISION_TEMPLATE,
        {**context, "doc": card, "decision_form": None if decided else form, "decided": decided},
    )


@login_required
@require_POST
def dossier_sign(request, reference: str):
    """Sign the dossier: approve (password re-entered, an electronic signature) or reject (with the reason)."""
    shipment = _shipment_for_review(request.user, reference=reference)
    form = DossierSignatureForm(request.POST)
    fired = None
    if form.is_valid():
        meaning = form.cleaned_data["meaning"]
        comment = form.cleaned_data["comment"].strip()
        try:
            if meaning == SignatureMeaning.APPROVED:
                fired = shipment_approve(
                    actor=request.user, shipment=shipment, password=form.cleaned_data["password"], comment=comment
                )
            else:
                fired = shipment_reject(actor=request.user, shipment=shipment, reason=comment)
        except ValidationError as exc:
            _add_errors(form, exc, aliases={"reason": "comment"})
        except DomainError as exc:
            field = "password" if isinstance(exc, WrongPassword) else None
            for reason in exc.reasons:
                form.add_error(field, _sentence(reason))
    if fired is not None:
        if fired.status == ShipmentStatus.APPROVED:
            messages.success(request, f"{fired.reference} is approved: your electronic signature is recorded.")
        else:
            messages.success(request, f"{fired.reference} was sent back to {fired.get_status_display().lower()}.")
        if _is_htmx(request):
            return HttpResponse(status=204, headers={"HX-Redirect": fired.get_absolute_url()})
        return redirect(fired.get_absolute_url())
    # The form is shown again with its errors; the shipment is read again because a refused attempt may have
    # changed what the panel says (a lockout, a dossier that moved on meanwhile).
    shipment = _shipment_for_review(request.user, pk=shipment.pk)
    context = _review_context(request.user, shipment, signature_form=form, open_modal=True)
    if _is_htmx(request):
        return render(request, SIGNATURE_FORM_TEMPLATE, context)
    return render(request, PAGE_TEMPLATE, context)


# Inline preview


@login_required
@require_GET
@xframe_options_sameorigin
def version_preview(request, pk: int):
    """A PDF or image version shown inline, for the review page's <iframe> and <img>. The same verified bytes and
    hardening headers as the download; only the disposition differs, and same-origin framing is allowed."""
    version = get_object_or_404(DocumentVersion.objects.for_user(request.user), pk=pk)
    if version.content_type not in PREVIEW_KINDS:
        raise Http404("No inline preview for this kind of file; download it instead.")
    try:
        file, content_type, filename = document_version_open(user=request.user, version=version)
    except DocumentTampered as exc:
        response = HttpResponse(_sentence(exc.reasons[0]), status=409, content_type="text/plain; charset=utf-8")
    else:
        response = FileResponse(file, as_attachment=False, filename=filename, content_type=content_type)
    for header, value in DOWNLOAD_HEADERS.items():
        response[header] = value
    return response
