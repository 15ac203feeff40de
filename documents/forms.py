"""Forms of the review pages: a reviewer's decision on one document version, and the dossier signature. They check
only what the page can say next to a field; who may decide, and whether the dossier may move, the services decide."""

from django import forms

from documents.choices import ReviewDecision, SignatureMeaning

COMMENT_MAX_LENGTH = 2000

# The meanings a reviewer can sign with on this page, each carried out by its shipment service. "Reviewed" has no
# service that records it, so it is not offered.
SIGNING_MEANINGS = {
    SignatureMeaning.APPROVED: "Approved: the dossier is complete and the goods may be shipped",
    SignatureMeaning.REJECTED: "Rejected: send the shipment back to permit collection",
}


class ReviewDecisionForm(forms.Form):
    decision = forms.ChoiceField(choices=ReviewDecision.choices)
    comment = forms.CharField(
        required=False,
        max_length=COMMENT_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Required to reject: the owing party reads it.",
    )

    def clean(self):
        data = super().clean()
        if data.get("decision") == ReviewDecision.REJECTED and not (data.get("comment") or "").strip():
            self.add_error("comment", "Say why the document is rejected, so the owing party can fix it.")
        return data


class DossierSignatureForm(forms.Form):
    meaning = forms.ChoiceField(
        choices=list(SIGNING_MEANINGS.items()),
        widget=forms.RadioSelect,
        error_messages={"required": "Choose what your signature means.", "invalid_choice": "Choose approve or reject."},
    )
    password = forms.CharField(
        required=False,
        strip=False,
        max_length=256,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
        help_text="Your own sign-in password, re-entered to sign the approval.",
    )
    comment = forms.CharField(
        required=False,
        max_length=COMMENT_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Printed with the signature. Required to reject: it is the reason the sponsor reads.",
    )

    def clean(self):
        data = super().clean()
        meaning = data.get("meaning")
        if meaning == SignatureMeaning.APPROVED and not data.get("password"):
            self.add_error("password", "Re-enter your password to sign the approval.")
        if meaning == SignatureMeaning.REJECTED and not (data.get("comment") or "").strip():
            self.add_error("comment", "Say why you reject this dossier.")
        return data
