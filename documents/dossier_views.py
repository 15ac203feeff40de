"""Asking for a dossier rendering, following its progress (htmx polls the partial) and downloading the PDF."""

import re

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_GET, require_POST

from documents.dossier import DossierIntegrityError, dossier_artifact_get, dossier_download, dossier_request
from documents.models import DossierArtifact
from shipments.models import Shipment

PROGRESS_TEMPLATE = "documents/partials/_dossier_progress.html"


def _artifact_or_404(user, pk: int) -> DossierArtifact:
    try:
        return dossier_artifact_get(user=user, pk=pk)
    except DossierArtifact.DoesNotExist:
        raise Http404("No such dossier") from None


@login_required
@require_POST
def dossier_render_request(request, reference: str):
    try:
        shipment = Shipment.objects.for_user(request.user).get(reference=reference)
        artifact = dossier_request(actor=request.user, shipment=shipment)
    except Shipment.DoesNotExist:
        raise Http404("No such shipment") from None
    if request.headers.get("HX-Request"):
        replaces_empty_row = not shipment.dossier_artifacts.exclude(pk=artifact.pk).exists()
        return render(request, PROGRESS_TEMPLATE, {"artifact": artifact, "replaces_empty_row": replaces_empty_row})
    messages.success(request, f"The dossier of {shipment.reference} is being rendered.")
    return redirect(f"{shipment.get_absolute_url()}#dossier")


@login_required
@require_GET
def dossier_progress(request, pk: int):
    return render(request, PROGRESS_TEMPLATE, {"artifact": _artifact_or_404(request.user, pk)})


@login_required
@require_GET
def dossier_download_file(request, pk: int):
    artifact = _artifact_or_404(request.user, pk)
    try:
        content = dossier_download(user=request.user, artifact=artifact)
    except DossierArtifact.DoesNotExist:
        raise Http404("This dossier is not ready") from None
    except DossierIntegrityError as exc:
        return HttpResponse(f"{exc.reasons[0].capitalize()}.\n", status=409, content_type="text/plain; charset=utf-8")
    stamp = f"{artifact.rendered_at:%Y%m%dT%H%M%SZ}"
    filename = f"dossier-{re.sub(r'[^A-Za-z0-9._-]', '_', artifact.shipment.reference)}-{stamp}.pdf"
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = content_disposition_header(as_attachment=True, filename=filename)
    response["Content-Length"] = str(len(content))
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response
