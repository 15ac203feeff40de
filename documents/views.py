"""Pages for checklist documents: uploading a version, downloading one. Both look the document up through the
tenancy rule, so another organization's document answers 404 exactly like a missing one."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import FileResponse, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_GET, require_POST

from documents import services
from documents.models import Document, DocumentVersion
from ior_platform.core.errors import DomainError
from parties.choices import PartyRole
from shipments.rules import parties_of

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


@login_required
@require_POST
def version_upload(request, pk: int):
    document = get_object_or_404(Document.objects.for_user(request.user).select_related("shipment"), pk=pk)
    shipment_url = document.shipment.get_absolute_url()
    uploaded = request.FILES.get("file")
    if uploaded is None:
        messages.error(request, "Choose a file to upload.")
        return redirect(shipment_url)
    try:
        version = services.document_version_upload(actor=request.user, document=document, uploaded_file=uploaded)
    except ValidationError as exc:
        for errors in exc.message_dict.values():
            for error in errors:
                messages.error(request, error)
    except DomainError as exc:
        for reason in exc.reasons:
            messages.error(request, _sentence(reason))
    else:
        kind = f"{document.get_document_type_display()} ({document.get_side_display().lower()})"
        messages.success(
            request, f"“{version.original_name}” is now version {version.number} of {kind}, awaiting review."
        )
    return redirect(shipment_url)


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
