from django.urls import path

from parties import views

app_name = "parties"

urlpatterns = [
    path("", views.inbox, name="inbox"),
    path("read/", views.inbox_mark_read, name="mark_read"),
    path("preferences/", views.preferences, name="preferences"),
]
