from django.urls import path

from documents import dossier_views

app_name = "dossiers"

urlpatterns = [
    path("<str:reference>/render/", dossier_views.dossier_render_request, name="render"),
    path("artifacts/<int:pk>/progress/", dossier_views.dossier_progress, name="progress"),
    path("artifacts/<int:pk>/download/", dossier_views.dossier_download_file, name="download"),
]
