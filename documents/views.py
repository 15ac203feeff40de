"""Pages for checklist documents: the checklist on the shipment page, uploading a version (a plain form, or htmx
answering with the refreshed checklist), downloading one. Documents are looked up through the tenancy rule, so
another organization's document answers 404 exactly like a missing one."""

from collections import defaultdict
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import FileResponse, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from documents import services
from documents.choices import DocumentStatus
from documents.models import Document, DocumentVersion
from documents.uploads import ACCEPTED_LABEL, EXTENSIONS, size_label
from ior_platform.core.errors import DomainError
from parties.choices import PartyRole
from shipments.rules import parties_of
from shipments.selectors import shipment_get

UPLOADER_ROLES = ("editor", "reviewer", "manager")

# A stored upload is whatever its sender made it; the browser must neither guess its type nor run it in our origin.
DOWNLOAD_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "sandbox",
    "Cache-Control": "private, no-store",
}


def uploadable_document_ids(*, user, shipment) -> set[int]:
    """Ids of the shipment's checklist documents `user` may upload a version of now, for showing the upload form.
    The same rule as documents.services._may_upload, with the user's parts in the shipment worked out once."""
    if shipment.status not in services.OPEN_FOR_DOCUMENTS or not user.has_member_role(*UPLOADER_ROLES):
        return set()
    parts = parties_of(shipment, user)
    return {
        document.pk
        for document in shipment.documents.all()
        if (document.owed_by_id is not None and document.owed_by_id == user.organization_id)
        or PartyRole.IOR in parts
        or (document.owed_by_role in {PartyRole.SPONSOR, PartyRole.CRO} and PartyRole.SPONSOR in parts)
    }


def _sentence(reason: str) -> str:
    return reason[:1].upper() + reason[1:] + ("" if reason.endswith(".") else ".")


# An upload's refusal is shown next to its document: the message carries this tag, and the shipment page takes it
# out of the messages shown at the top.
UPLOAD_TAG_PREFIX = "document-"
CHECKLIST_TEMPLATE = "documents/partials/_checklist.html"
# Still owed after the due date: these are the overdue ones.
AWAITED = {DocumentStatus.REQUESTED, DocumentStatus.REJECTED}
ACCEPT = ",".join(extension for extensions in EXTENSIONS.values() for extension in extensions)


@dataclass
class ChecklistRow:
    document: Document
    versions: list[DocumentVersion]
    overdue: bool
    may_upload: bool
    owes: bool
    errors: list[str] = field(default_factory=list)
    notice: str = ""


def checklist_context(*, user, shipment, upload_errors=None, upload_notice: tuple[int, str] | None = None) -> dict:
    """What templates/documents/partials/_checklist.html shows: one row per document with its versions, whether it
    is overdue and whether this user may upload it. Reads only what shipments.selectors.shipment_get prefetched."""
    today = timezone.localdate()
    upload_errors = upload_errors or {}
    uploadable = uploadable_document_ids(user=user, shipment=shipment)
    acts_as_sponsor = PartyRole.SPONSOR in parties_of(shipment, user) if uploadable else False
    rows = [
        ChecklistRow(
            document=document,
            versions=list(document.versions.all()),
            overdue=document.status in AWAITED and document.due_date < today,
            may_upload=document.pk in uploadable,
            owes=document.pk in uploadable
            and (
                document.owed_by_id == user.organization_id
                or (acts_as_sponsor and document.owed_by_role in {PartyRole.SPONSOR, PartyRole.CRO})
            ),
            errors=upload_errors.get(document.pk, []),
            notice=upload_notice[1] if upload_notice and upload_notice[0] == document.pk else "",
        )
        for document in shipment.documents.all()
    ]
    counts = defaultdict(int)
    for row in rows:
        counts[row.document.status] += 1
    return {
        "checklist": rows,
        "checklist_approved": counts[DocumentStatus.APPROVED],
        "checklist_overdue": sum(row.overdue for row in rows),
        "uploadable_document_ids": uploadable,
        "upload_accept": ACCEPT,
        "upload_accept_label": ACCEPTED_LABEL,
        "upload_max_label": size_label(settings.DOCUMENT_UPLOAD_MAX_BYTES),
    }


def split_upload_messages(request) -> tuple[list, dict[int, list[str]]]:
    """The pending messages for the top of the page, and the upload refusals by document id, to show in place."""
    page, by_document = [], defaultdict(list)
    for message in messages.get_messages(request):
        tags = message.extra_tags.split() if message.extra_tags else []
        document_ids = [
            int(tag[len(UPLOAD_TAG_PREFIX) :])
            for tag in tags
            if tag.startswith(UPLOAD_TAG_PREFIX) and tag[len(UPLOAD_TAG_PREFIX) :].isdigit()
        ]
        if document_ids:
            by_document[document_ids[0]].append(str(message))
        else:
            page.append(message)
    return page, dict(by_document)


def _upload(actor, document, uploaded) -> tuple[DocumentVersion | None, list[str]]:
    """Store the upload: the new version, or why not in the service's words."""
    if uploaded is None:
        return None, ["Choose a file to upload."]
    try:
        return services.document_version_upload(actor=actor, document=document, uploaded_file=uploaded), []
    except ValidationError as exc:
        return None, exc.messages
    except DomainError as exc:
        return None, [_sentence(reason) for reason in exc.reasons]


@login_required
@require_POST
def version_upload(request, pk: int):
    """Without JavaScript the answer is the shipment page, a refusal shown next to the document; with htmx it is the
    refreshed checklist, and an event that tells the page's actions to refresh too (the last upload can be what
    opens "Submit dossier")."""
    document = get_object_or_404(Document.objects.for_user(request.user).select_related("shipment"), pk=pk)
    shipment = document.shipment
    version, errors = _upload(request.user, document, request.FILES.get("file"))
    notice = ""
    if version is not None:
        kind = f"{document.get_document_type_display()} ({document.get_side_display().lower()})"
        notice = f"“{version.original_name}” is now version {version.number} of {kind}, awaiting review."
    if request.headers.get("HX-Request"):
        fresh = shipment_get(user=request.user, reference=shipment.reference)
        context = checklist_context(
            user=request.user,
            shipment=fresh,
            upload_errors={document.pk: errors} if errors else None,
            upload_notice=(document.pk, notice) if notice else None,
        )
        response = render(request, CHECKLIST_TEMPLATE, {"shipment": fresh, **context})
        if version is not None:
            response["HX-Trigger"] = "documents-changed"
        return response
    if errors:
        for error in errors:
            messages.error(request, error, extra_tags=f"{UPLOAD_TAG_PREFIX}{document.pk}")
        return redirect(f"{shipment.get_absolute_url()}#document-{document.pk}")
    messages.success(request, notice)
    return redirect(shipment.get_absolute_url())


@login_required
@require_GET
def version_download(request, pk: int):
    version = get_object_or_404(DocumentVersion.objects.for_user(request.user), pk=pk)
    try:
        file, content_type, filename = services.document_version_open(user=request.user, version=version)
    except services.DocumentTampered as exc:
        response = HttpResponse(_sentence(str(exc)), status=409, content_type="text/plain; charset=utf-8")
    else:
        response = FileResponse(file, as_attachment=True, filename=filename, content_type=content_type)
    for header, value in DOWNLOAD_HEADERS.items():
        response[header] = value
    return response
