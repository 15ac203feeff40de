from django.urls import path

from shipments import views, views_overview

app_name = "shipments"

urlpatterns = [
    path("", views_overview.shipment_list, name="list"),
    path("export.csv", views_overview.shipment_export, name="export"),
    path("new/", views.shipment_create, name="create"),
    path("new/preflight/", views.shipment_preflight, name="preflight"),
    path("<str:reference>/edit/", views.shipment_edit, name="edit"),
    path("<str:reference>/actions/", views.shipment_actions, name="actions"),
    path("<str:reference>/", views.shipment_detail, name="detail"),
    path("<str:reference>/transitions/<str:name>/", views.shipment_transition, name="transition"),
    path("<str:reference>/record.json", views.shipment_record, name="record"),
]
