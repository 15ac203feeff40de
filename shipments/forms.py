"""Forms for drafting a shipment in the browser. They parse and check what was typed; the services decide whether
it is allowed and validate it again, and their errors are put back on these forms' fields."""

from decimal import Decimal

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db.models import Q
from django.forms.boundfield import BoundField
from django.forms.models import construct_instance

from compliance.preflight import Proposal, ProposedItem, proposal_for
from ior_platform.core.tenancy import acting_sponsor_ids
from parties.choices import PartyRole
from parties.models import Organization
from shipments.models import Shipment, ShipmentItem, Site, Trial
from shipments.services import DRAFT_FIELDS, ITEM_FIELDS

MAX_ITEMS = 100
DRAFTING_ROLES = ("editor", "manager")
# The service providers a sponsor picks from; the consignee is one of the trial's own sites.
PROVIDER_ROLES = {"ior": PartyRole.IOR, "eor": PartyRole.EOR, "broker": PartyRole.BROKER, "courier": PartyRole.COURIER}
# What a preflight cannot do without, in the words the panel shows.
PREFLIGHT_NEEDS = {
    "origin_country": "the origin country",
    "destination_country": "the destination country",
    "temperature_class": "the temperature class",
    "planned_ship_date": "the planned ship date",
}


def creatable_trials(user):
    """The trials `user` may draft shipments of: those of the sponsors their organization acts for, if they edit or
    manage there. The same rule shipments.services applies when the draft is saved."""
    if not (user.organization_id and user.has_member_role(*DRAFTING_ROLES)):
        return Trial.objects.none()
    return (
        Trial.objects.for_user(user)
        .filter(sponsor__in=Organization.objects.filter(acting_sponsor_ids(user.organization_id)), is_active=True)
        .select_related("sponsor")
        .order_by("protocol_number")
    )


class TrialChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, trial):
        return f"{trial.protocol_number} – {trial.title}"


class SiteChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, site):
        return f"{site.trial.protocol_number} · site {site.site_number} {site.name}"


class OrganizationChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, organization):
        return f"{organization.name} ({organization.country_name})"


def _bootstrap(fields) -> None:
    for field in fields.values():
        widget = field.widget
        if isinstance(widget, forms.Select):
            widget.attrs.setdefault("class", "form-select")
        elif isinstance(widget, forms.CheckboxInput):
            widget.attrs.setdefault("class", "form-check-input")
        else:
            widget.attrs.setdefault("class", "form-control")


class BootstrapBoundField(BoundField):
    """Marks a field with errors for Bootstrap (`is-invalid`); Django adds aria-invalid and aria-describedby."""

    def build_widget_attrs(self, attrs, widget=None):
        attrs = super().build_widget_attrs(attrs, widget)
        if self.errors:
            base = attrs.get("class", (widget or self.field.widget).attrs.get("class", ""))
            attrs["class"] = f"{base} is-invalid".strip()
        return attrs


# Each section of the draft form: a title and its fields, each with its column width.
FIELDSETS = (
    (
        "Trial and parties",
        (
            ("trial", "col-12"),
            ("site", "col-12"),
            ("ior", "col-md-6"),
            ("eor", "col-md-6"),
            ("consignee", "col-md-6"),
            ("broker", "col-md-6"),
            ("courier", "col-md-6"),
        ),
    ),
    (
        "Route",
        (
            ("origin_country", "col-md-6"),
            ("destination_country", "col-md-6"),
            ("origin_address", "col-md-6"),
            ("destination_address", "col-md-6"),
            ("temperature_class", "col-md-6"),
        ),
    ),
    (
        "Cold chain",
        (
            ("qualified_duration_hours", "col-sm-6"),
            ("excursion_budget_minutes", "col-sm-6"),
        ),
    ),
    (
        "Dates, value and duties",
        (
            ("planned_ship_date", "col-sm-6"),
            ("required_at_site_date", "col-sm-6"),
            ("declared_value", "col-sm-6"),
            ("currency", "col-sm-6"),
            ("incoterm", "col-sm-6"),
            ("duties_payer", "col-sm-6"),
            ("duties_estimated", "col-sm-6"),
        ),
    ),
)


def _blank_label(field, label: str) -> None:
    choices = list(field.choices)
    if choices and choices[0][0] == "":
        field.choices = [("", label), *choices[1:]]


DATE_WIDGET = forms.DateInput(format="%Y-%m-%d", attrs={"type": "date"})


class ShipmentForm(forms.ModelForm):
    """The draft's own data and parties. `trial` only when creating: a draft never moves to another trial."""

    bound_field_class = BootstrapBoundField

    class Meta:
        model = Shipment
        fields = ["trial", *DRAFT_FIELDS]
        field_classes = {"trial": TrialChoiceField, "site": SiteChoiceField}
        widgets = {
            "origin_address": forms.Textarea(attrs={"rows": 2}),
            "destination_address": forms.Textarea(attrs={"rows": 2}),
            "planned_ship_date": DATE_WIDGET,
            "required_at_site_date": DATE_WIDGET,
        }
        labels = {
            "ior": "Importer of record (IOR)",
            "eor": "Exporter of record (EOR)",
            "broker": "Customs broker",
            "duties_estimated": "Duties and taxes estimated",
            "duties_payer": "Duties paid by",
            "declared_value": "Declared value",
            # As the shipment page's cold-chain card names them, with the unit the field takes.
            "qualified_duration_hours": "Pack-out qualified for (hours)",
            "excursion_budget_minutes": "Excursion budget (minutes)",
        }
        help_texts = {
            "planned_ship_date": "The preflight compares it with the documents' lead times.",
            "declared_value": "The customs value; duties and VAT are estimated on it.",
            "duties_estimated": "Leave empty until the IOR confirms; the preflight shows an estimate.",
        }

    def __init__(self, *args, user, creating: bool, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        trials = creatable_trials(user)
        if creating:
            self.fields["trial"].queryset = trials
            self.fields["trial"].empty_label = "Choose a trial"
        else:
            del self.fields["trial"]
        self.fields["site"].queryset = Site.objects.filter(trial__in=trials).select_related("trial")
        active = Organization.objects.filter(is_active=True)
        for name, role in PROVIDER_ROLES.items():
            self.fields[name] = OrganizationChoiceField(
                queryset=active.filter(roles__role=role),
                required=False,
                label=self.fields[name].label,
                empty_label="Not assigned yet",
            )
        # Receiving sites are the sponsor's own business: only those this user already sees, or a trial site's.
        self.fields["consignee"] = OrganizationChoiceField(
            queryset=active.filter(roles__role=PartyRole.CONSIGNEE).filter(
                Q(pk__in=Organization.objects.for_user(user).values("pk"))
                | Q(pk__in=Site.objects.filter(trial__in=trials).values("organization_id"))
            ),
            required=False,
            label="Consignee (receiving site)",
            empty_label="Not assigned yet",
        )
        self.fields["site"].empty_label = "No trial site"
        _blank_label(self.fields["duties_payer"], "Not decided yet")
        for name in ("origin_country", "destination_country", "temperature_class"):
            _blank_label(self.fields[name], "Choose…")
        _bootstrap(self.fields)

    def fieldsets(self) -> list[tuple[str, list[tuple[BoundField, str]]]]:
        """The form's sections; a draft field no section names yet is shown in a last one rather than lost."""
        sections = [
            (title, [(self[name], width) for name, width in fields if name in self.fields])
            for title, fields in FIELDSETS
        ]
        placed = {name for _, fields in FIELDSETS for name, _ in fields}
        others = [(self[name], "col-sm-6") for name in self.fields if name not in placed]
        return sections + ([("More details", others)] if others else [])

    def draft_data(self) -> dict:
        """What the services take: the draft fields, all of them on creation, only the changed ones on edit."""
        names = DRAFT_FIELDS if self.instance.pk is None else [n for n in DRAFT_FIELDS if n in self.changed_data]
        return {name: self.cleaned_data[name] for name in names if name in self.cleaned_data}


ITEM_LAYOUT = (
    ("product_name", "col-md-7"),
    ("category", "col-md-5"),
    ("quantity", "col-6 col-md-3"),
    ("unit", "col-6 col-md-3"),
    ("unit_value", "col-6 col-md-3"),
    ("expiry_date", "col-6 col-md-3"),
    ("hs_code", "col-6 col-md-4"),
    ("lot_number", "col-6 col-md-4"),
    ("un_number", "col-md-4"),
)


class ShipmentItemForm(forms.ModelForm):
    bound_field_class = BootstrapBoundField

    class Meta:
        model = ShipmentItem
        fields = list(ITEM_FIELDS)
        widgets = {"expiry_date": DATE_WIDGET}
        labels = {"product_name": "Product", "lot_number": "Lot / batch", "unit_value": "Unit value"}
        help_texts = {"un_number": "Dangerous goods only, e.g. UN1845 (dry ice)."}

    def __init__(self, *args, check_constraints: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        self.check_constraints = check_constraints
        _blank_label(self.fields["category"], "Category…")
        if not self.is_bound and self.instance.pk:
            quantity = self.instance.quantity
            self.initial["quantity"] = (
                quantity.to_integral() if quantity == quantity.to_integral() else quantity.normalize()
            )
        self.fields["quantity"].widget.attrs.update({"min": "0.001", "step": "any"})
        self.fields["unit_value"].widget.attrs.update({"min": "0", "step": "0.01"})
        _bootstrap(self.fields)

    def layout(self) -> list[tuple[BoundField, str]]:
        return [(self[name], width) for name, width in ITEM_LAYOUT]

    def _post_clean(self):
        if self.check_constraints:
            super()._post_clean()
            return
        # The live preflight only reads the rows, on every keystroke: the model's check constraints cost a query each
        # per row, and the field validators behind them (quantity above zero, unit value not negative) still run here
        # without one. Saving a draft checks the constraints too, in this form and in the services.
        try:
            self.instance = construct_instance(self, self.instance, self._meta.fields, self._meta.exclude)
        except ValidationError as exc:
            self._update_errors(exc)
        try:
            self.instance.full_clean(
                exclude=self._get_validation_exclusions(), validate_unique=False, validate_constraints=False
            )
        except ValidationError as exc:
            self._update_errors(exc)

    def item_data(self) -> dict:
        names = ITEM_FIELDS if self.instance.pk is None else [n for n in ITEM_FIELDS if n in self.changed_data]
        return {name: self.cleaned_data[name] for name in names if name in self.cleaned_data}


class BaseItemFormSet(forms.BaseModelFormSet):
    def add_fields(self, form, index):
        super().add_fields(form, index)
        # Django checks a row's id against every item in the table; only this draft's items may be named.
        form.fields[self.model._meta.pk.name].queryset = self.get_queryset()
        if "DELETE" in form.fields:
            form.fields["DELETE"].label = "Remove this item"
            form.fields["DELETE"].widget.attrs.update({"class": "form-check-input", "data-item-remove": ""})

    def active_forms(self) -> list[ShipmentItemForm]:
        """The rows that hold an item to keep: not marked for removal, and not a blank row left at the end."""
        return [
            form
            for form in self.forms
            if not (self.can_delete and self._should_delete_form(form)) and (form.instance.pk or form.has_changed())
        ]

    def removed_forms(self) -> list[ShipmentItemForm]:
        return [form for form in self.deleted_forms if form.instance.pk]


ItemFormSet = forms.modelformset_factory(
    ShipmentItem,
    form=ShipmentItemForm,
    formset=BaseItemFormSet,
    extra=1,
    can_delete=True,
    max_num=MAX_ITEMS,
    validate_max=True,
    absolute_max=MAX_ITEMS,
)


def item_formset(data=None, *, shipment: Shipment | None = None, preflight_only: bool = False) -> BaseItemFormSet:
    """The draft's item rows; `preflight_only` for rows read by the preflight and never saved."""
    items = shipment.items.order_by("position", "pk") if shipment is not None else ShipmentItem.objects.none()
    formset = ItemFormSet(data, queryset=items, prefix="items", form_kwargs={"check_constraints": not preflight_only})
    formset.extra = 0 if shipment is not None and items else 1
    return formset


def apply_service_errors(exc: ValidationError, form: forms.Form, item_forms: list[forms.Form] | None = None) -> None:
    """Put a service's ValidationError on the fields it names. "items[2].quantity" is the third of `item_forms`;
    anything the form has no field for is shown above the form."""
    if not hasattr(exc, "error_dict"):
        form.add_error(None, exc.messages)
        return
    for key, errors in exc.message_dict.items():
        if key.startswith("items[") and item_forms is not None:
            index, _, field = key[len("items[") :].partition("].")
            row = int(index) if index.isdigit() else -1
            if 0 <= row < len(item_forms):
                target = item_forms[row]
                target.add_error(field if field in target.fields else None, errors)
                continue
        form.add_error(key if key in form.fields and key != NON_FIELD_ERRORS else None, errors)


def proposal_from(form: ShipmentForm, formset: BaseItemFormSet) -> tuple[Proposal | None, list[str]]:
    """A preflight proposal from a form that may be half filled in, or what is still missing to make one. Fields
    that fail to parse count as missing; nothing here raises. An unbound edit form is the saved draft as it is."""
    if not form.is_bound:
        if form.instance.pk and form.instance.items.all():
            return proposal_for(form.instance), []
        return None, [*PREFLIGHT_NEEDS.values(), "at least one item with its category"]
    form.is_valid()
    formset.is_valid()
    data = form.cleaned_data
    missing = [label for name, label in PREFLIGHT_NEEDS.items() if not data.get(name)]
    rows = [] if formset.management_form.errors else formset.forms
    items = []
    for row in rows:
        row_data = getattr(row, "cleaned_data", {})
        if row_data.get("DELETE") or not row_data.get("category"):
            continue
        items.append(
            ProposedItem(
                category=row_data["category"],
                quantity=row_data.get("quantity") or Decimal(1),
                product_name=row_data.get("product_name") or "",
                unit_value=row_data.get("unit_value") or Decimal(0),
                expiry_date=row_data.get("expiry_date"),
            )
        )
    if not items:
        missing.append("at least one item with its category")
    if missing:
        return None, missing
    trial = data.get("trial") or (form.instance.trial if form.instance.pk else None)
    declared = data.get("declared_value")
    if not declared:
        declared = sum((item.quantity * item.unit_value for item in items), Decimal(0))
    return (
        Proposal(
            origin=data["origin_country"],
            destination=data["destination_country"],
            items=items,
            temperature_class=data["temperature_class"],
            declared_value=declared,
            currency=data.get("currency") or "EUR",
            planned_ship_date=data["planned_ship_date"],
            trial=trial,
            sponsor=trial.sponsor if trial is not None else None,
            ior=data.get("ior"),
            eor=data.get("eor"),
            consignee=data.get("consignee"),
            broker=data.get("broker"),
            courier=data.get("courier"),
        ),
        [],
    )
