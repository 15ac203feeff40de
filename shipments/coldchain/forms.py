"""The page form of sponsor QA's disposition. It checks only what the page can say next to a field; who may decide,
and whether a quarantine awaits a decision, coldchain_disposition_record decides."""

from django import forms

from shipments.choices import DispositionDecision
from shipments.coldchain.services import REASON_MAX_LENGTH


class ColdChainDispositionForm(forms.Form):
    decision = forms.ChoiceField(
        choices=DispositionDecision.choices,
        widget=forms.RadioSelect,
        error_messages={"required": "Choose release, reject or destroy."},
    )
    reason = forms.CharField(
        max_length=REASON_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Your assessment: the excursions against the product's stability data. Printed with the signature.",
        error_messages={"required": "Say why: the reason is printed with your signature."},
    )
    password = forms.CharField(
        strip=False,
        max_length=256,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
        help_text="Your own sign-in password, re-entered: it is your electronic signature.",
        error_messages={"required": "Re-enter your password to sign the disposition."},
    )
