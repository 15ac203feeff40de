from django.urls import path, re_path

from compliance import views

app_name = "compliance"

urlpatterns = [
    path("countries/", views.country_list, name="country_list"),
    re_path(r"^countries/(?P<code>[A-Za-z]{2})/$", views.country_detail, name="country_detail"),
    path("permits/", views.permit_list, name="permit_list"),
    path("permits/<int:pk>/", views.permit_detail, name="permit_detail"),
]
