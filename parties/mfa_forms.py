"""Forms of the two-factor pages: a code (checked for its shape here, against the device by the service) and a
password re-entry before turning the second factor off or replacing the backup codes."""

from django import forms
from django.core.exceptions import ValidationError

from ior_platform.core.mfa import MfaRefused, parse_code


class CodeForm(forms.Form):
    code = forms.CharField(
        label="Code",
        max_length=32,
        error_messages={"required": "Enter the 6-digit code from your authenticator app."},
    )

    def __init__(self, *args, backup_allowed: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        self.backup_allowed = backup_allowed

    def clean_code(self) -> str:
        try:
            kind, code = parse_code(self.cleaned_data["code"])
        except MfaRefused as exc:
            raise ValidationError(exc.reasons) from exc
        if kind == "backup" and not self.backup_allowed:
            raise ValidationError("Enter the 6-digit code your authenticator app shows for this account.")
        return code


class PasswordForm(forms.Form):
    password = forms.CharField(
        label="Your password",
        max_length=4096,
        strip=False,
        widget=forms.PasswordInput,
        error_messages={"required": "Enter your password to confirm it is you."},
    )
