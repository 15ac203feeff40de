from django.urls import path

from documents import views

app_name = "documents"

urlpatterns = [
    path("<int:pk>/upload/", views.version_upload, name="upload"),
    path("versions/<int:pk>/download/", views.version_download, name="download"),
]
