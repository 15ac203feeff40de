from django.urls import path

from shipments import views, views_coldchain, views_overview, views_tracking

app_name = "shipments"

urlpatterns = [
    path("", views_overview.shipment_list, name="list"),
    path("export.csv", views_overview.shipment_export, name="export"),
    path("new/", views.shipment_create, name="create"),
    path("new/preflight/", views.shipment_preflight, name="preflight"),
    path("<str:reference>/edit/", views.shipment_edit, name="edit"),
    path("<str:reference>/actions/", views.shipment_actions, name="actions"),
    path(
        "<str:reference>/temperature-logs/",
        views_coldchain.temperature_log_upload,
        name="temperature_log_upload",
    ),
    path(
        "<str:reference>/cold-chain/disposition/",
        views_coldchain.coldchain_disposition,
        name="coldchain_disposition",
    ),
    path("<str:reference>/tracking-events/", views_tracking.tracking_event_add, name="tracking_event_add"),
    path("<str:reference>/", views.shipment_detail, name="detail"),
    path("<str:reference>/transitions/<str:name>/", views.shipment_transition, name="transition"),
    path("<str:reference>/record.json", views.shipment_record, name="record"),
]
