from django.urls import path

from documents import review_views

app_name = "reviews"

urlpatterns = [
    path("", review_views.review_queue, name="queue"),
    path("versions/<int:pk>/preview/", review_views.version_preview, name="preview"),
    path("versions/<int:pk>/decision/", review_views.document_decide, name="decide"),
    path("<str:reference>/", review_views.shipment_review, name="review"),
    path("<str:reference>/signature/", review_views.dossier_sign, name="sign"),
]
