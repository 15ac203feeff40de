from django.urls import path

from parties import mfa_views

app_name = "mfa"

urlpatterns = [
    path("", mfa_views.manage, name="manage"),
    path("verify/", mfa_views.verify, name="verify"),
    path("setup/", mfa_views.setup, name="setup"),
    path("disable/", mfa_views.disable, name="disable"),
    path("backup-codes/", mfa_views.renew_backup_codes, name="backup_codes"),
]
