from django.urls import path

from shipments import views

app_name = "shipments"

urlpatterns = [
    path("<str:reference>/", views.shipment_detail, name="detail"),
    path("<str:reference>/transitions/<str:name>/", views.shipment_transition, name="transition"),
    path("<str:reference>/record.json", views.shipment_record, name="record"),
]
