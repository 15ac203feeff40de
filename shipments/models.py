import re

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone
from django_fsm import ConcurrentTransitionMixin, FSMField, transition

from compliance.choices import ProductCategory, TemperatureClass
from ior_platform.core.codes import (
    EU_CUSTOMS_UNION,
    CountryField,
    CurrencyField,
    country_name,
    valid_country_constraint,
    valid_currency_constraint,
)
from ior_platform.core.tenancy import TenantQuerySet
from shipments.choices import DutiesPayer, Incoterm, QuantityUnit, RouteKind, ShipmentStatus, TrialPhase

S = ShipmentStatus
# The shipment's own data that a sponsor sets while drafting and a signer vouches for (parties apart).
DATA_FIELDS = (
    "origin_country",
    "origin_address",
    "destination_country",
    "destination_address",
    "temperature_class",
    "planned_ship_date",
    "required_at_site_date",
    "incoterm",
    "declared_value",
    "currency",
    "duties_estimated",
    "duties_payer",
)
HS_CODE = re.compile(r"^\d{6}(\d{2}){0,2}$")
UN_NUMBER = re.compile(r"^UN\d{4}$")


def validate_hs_code(value: str) -> None:
    if value and not HS_CODE.match(value):
        raise ValidationError("An HS code is 6, 8 or 10 digits without dots, e.g. 300490.")


def validate_un_number(value: str) -> None:
    if value and not UN_NUMBER.match(value):
        raise ValidationError("A UN number is 'UN' followed by four digits, e.g. UN1845.")


def validate_positive(value) -> None:
    if value is not None and value <= 0:
        raise ValidationError("Must be greater than zero.")


def validate_not_negative(value) -> None:
    if value is not None and value < 0:
        raise ValidationError("Cannot be negative.")


def guard(name: str):
    """FSM condition for transition `name`: true when nothing blocks it. The reasons come from guards.blockers."""

    def condition(shipment) -> bool:
        from shipments.guards import blockers

        return not blockers(shipment, name)

    condition.__name__ = f"{name}_guard"
    return condition


def may_fire(name: str):
    def permission(shipment, user) -> bool:
        from shipments.rules import refusal

        return refusal(shipment, user, name) is None

    return permission


class Trial(models.Model):
    """A clinical trial: a protocol run by a sponsor at sites, to which shipments belong."""

    protocol_number = models.CharField(max_length=50, unique=True)
    title = models.CharField(max_length=300)
    sponsor = models.ForeignKey("parties.Organization", on_delete=models.PROTECT, related_name="trials")
    phase = models.CharField(max_length=2, choices=TrialPhase.choices, blank=True)
    therapeutic_area = models.CharField(max_length=100, blank=True)
    eu_ct_number = models.CharField(max_length=30, blank=True, help_text="EU CT number or other registry id.")
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TenantQuerySet.as_manager()
    tenancy = "trial"

    class Meta:
        ordering = ["protocol_number"]

    def __str__(self) -> str:
        return f"{self.protocol_number} – {self.title}"


class Site(models.Model):
    """A place where a trial is run and goods are received: a hospital pharmacy, a depot or a lab."""

    trial = models.ForeignKey(Trial, on_delete=models.CASCADE, related_name="sites")
    organization = models.ForeignKey("parties.Organization", on_delete=models.PROTECT, related_name="sites")
    site_number = models.CharField(max_length=20)
    name = models.CharField(max_length=200)
    principal_investigator = models.CharField(max_length=200, blank=True)
    address = models.TextField()
    country = CountryField()

    objects = TenantQuerySet.as_manager()
    tenancy = ("trial", "trial__")

    class Meta:
        ordering = ["trial", "site_number"]
        constraints = [
            models.UniqueConstraint(fields=["trial", "site_number"], name="site_number_unique_in_trial"),
            valid_country_constraint("country", model="site"),
        ]

    def __str__(self) -> str:
        return f"Site {self.site_number} {self.name} ({self.country})"


class ShipmentQuerySet(TenantQuerySet):
    def with_parties(self):
        return self.select_related("trial", "sponsor", "ior", "eor", "consignee", "broker", "courier")


CODE_FIELDS = ("origin_country", "destination_country", "currency")


class Shipment(ConcurrentTransitionMixin, models.Model):
    """Goods of one trial moving from an origin to a destination under named importer and exporter of
    record. Its status only changes through the lifecycle's transitions."""

    reference = models.CharField(max_length=40, unique=True)
    trial = models.ForeignKey(Trial, on_delete=models.PROTECT, related_name="shipments")
    site = models.ForeignKey(Site, null=True, blank=True, on_delete=models.PROTECT, related_name="shipments")
    return_of = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="returns",
        help_text="The outbound shipment whose goods this shipment brings back.",
    )

    sponsor = models.ForeignKey("parties.Organization", on_delete=models.PROTECT, related_name="sponsored_shipments")
    ior = models.ForeignKey(
        "parties.Organization",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="ior_shipments",
        verbose_name="importer of record",
    )
    eor = models.ForeignKey(
        "parties.Organization",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="eor_shipments",
        verbose_name="exporter of record",
    )
    consignee = models.ForeignKey(
        "parties.Organization", null=True, blank=True, on_delete=models.PROTECT, related_name="consigned_shipments"
    )
    broker = models.ForeignKey(
        "parties.Organization", null=True, blank=True, on_delete=models.PROTECT, related_name="brokered_shipments"
    )
    courier = models.ForeignKey(
        "parties.Organization", null=True, blank=True, on_delete=models.PROTECT, related_name="carried_shipments"
    )

    origin_country = CountryField()
    origin_address = models.TextField()
    destination_country = CountryField()
    destination_address = models.TextField()
    route_kind = models.CharField(max_length=20, choices=RouteKind.choices, editable=False)
    temperature_class = models.CharField(max_length=20, choices=TemperatureClass.choices)
    planned_ship_date = models.DateField()
    required_at_site_date = models.DateField(null=True, blank=True)
    incoterm = models.CharField(max_length=3, choices=Incoterm.choices, default=Incoterm.DAP)
    declared_value = models.DecimalField(max_digits=14, decimal_places=2, default=0, validators=[validate_not_negative])
    currency = CurrencyField(default="EUR")

    airway_bill = models.CharField(max_length=50, blank=True)
    tracking_number = models.CharField(max_length=100, blank=True)
    customs_entry_number = models.CharField(max_length=100, blank=True)
    duties_estimated = models.DecimalField(
        max_digits=14, decimal_places=2, null=True, blank=True, validators=[validate_not_negative]
    )
    duties_actual = models.DecimalField(
        max_digits=14, decimal_places=2, null=True, blank=True, validators=[validate_not_negative]
    )
    duties_payer = models.CharField(max_length=20, choices=DutiesPayer.choices, blank=True)
    duty_exemption_applied = models.BooleanField(default=False)

    compliance_flag = models.TextField(
        blank=True, help_text="Why the country requirements behind this open shipment changed since it was submitted."
    )
    compliance_flagged_at = models.DateTimeField(null=True, blank=True)

    status = FSMField(default=S.DRAFT, choices=S.choices, protected=True, db_index=True)
    status_changed_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="created_shipments"
    )
    submitted_at = models.DateTimeField(null=True, blank=True)
    dossier_submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)

    objects = ShipmentQuerySet.as_manager()
    tenancy = "shipment"

    class Meta:
        ordering = ["-planned_ship_date", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(required_at_site_date__isnull=True) | Q(required_at_site_date__gte=F("planned_ship_date")),
                name="shipment_required_at_site_after_ship_date",
            ),
            models.CheckConstraint(condition=Q(declared_value__gte=0), name="shipment_declared_value_not_negative"),
            models.CheckConstraint(
                condition=Q(duties_estimated__isnull=True) | Q(duties_estimated__gte=0),
                name="shipment_duties_estimated_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(duties_actual__isnull=True) | Q(duties_actual__gte=0),
                name="shipment_duties_actual_not_negative",
            ),
            models.CheckConstraint(condition=~Q(return_of=F("id")), name="shipment_not_return_of_itself"),
            models.CheckConstraint(condition=Q(status__in=S.values), name="shipment_status_valid"),
            valid_country_constraint("origin_country", model="shipment"),
            valid_country_constraint("destination_country", model="shipment"),
            valid_currency_constraint("currency", model="shipment"),
        ]
        indexes = [models.Index(fields=["sponsor", "status"]), models.Index(fields=["ior", "status"])]

    def __str__(self) -> str:
        return self.reference

    def save(self, *args, **kwargs):
        self.route_kind = route_kind(self.origin_country, self.destination_country)
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and ("origin_country" in update_fields or "destination_country" in update_fields):
            kwargs["update_fields"] = {*update_fields, "route_kind"}
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return reverse("shipments:detail", kwargs={"reference": self.reference})

    def full_clean(self, exclude=None, validate_unique=True, validate_constraints=True):
        # Cleaning writes every field back; the protected FSM field refuses that, and only transitions set it.
        exclude = {*(exclude or ()), "status"}
        super().full_clean(exclude=exclude, validate_unique=validate_unique, validate_constraints=validate_constraints)

    def validate_constraints(self, exclude=None):
        # The code fields' own validators have checked them against ISO 3166 and 4217 already; validating their
        # check constraints again is a query each carrying hundreds of codes. The database still enforces them.
        super().validate_constraints(exclude={*(exclude or ()), *CODE_FIELDS})

    def clean(self) -> None:
        errors = {}
        if (
            self.required_at_site_date
            and self.planned_ship_date
            and self.required_at_site_date < self.planned_ship_date
        ):
            errors["required_at_site_date"] = "The required-at-site date cannot be before the planned ship date."
        if self.trial_id and self.sponsor_id and self.trial.sponsor_id != self.sponsor_id:
            errors["sponsor"] = "The sponsor must be the trial's sponsor."
        if self.site_id and self.trial_id and self.site.trial_id != self.trial_id:
            errors["site"] = "The site belongs to another trial."
        if errors:
            raise ValidationError(errors)

    @property
    def origin_country_name(self) -> str:
        return country_name(self.origin_country)

    @property
    def destination_country_name(self) -> str:
        return country_name(self.destination_country)

    @property
    def needs_export_clearance(self) -> bool:
        return self.route_kind == RouteKind.INTERNATIONAL

    @property
    def is_return(self) -> bool:
        return self.return_of_id is not None

    # The lifecycle (DOMAIN.md). Bodies only change this instance; services save and audit.

    @transition(
        field=status,
        source=S.DRAFT,
        target=S.PERMIT_COLLECTION,
        conditions=[guard("submit")],
        permission=may_fire("submit"),
    )
    def submit(self):
        self.submitted_at = timezone.now()

    @transition(
        field=status,
        source=S.PERMIT_COLLECTION,
        target=S.DOSSIER_REVIEW,
        conditions=[guard("submit_dossier")],
        permission=may_fire("submit_dossier"),
    )
    def submit_dossier(self):
        pass

    @transition(
        field=status,
        source=S.DOSSIER_REVIEW,
        target=S.APPROVED,
        conditions=[guard("approve")],
        permission=may_fire("approve"),
    )
    def approve(self):
        pass

    @transition(field=status, source=S.DOSSIER_REVIEW, target=S.PERMIT_COLLECTION, permission=may_fire("reject"))
    def reject(self):
        pass

    # Fired by the platform, not a person: what an approval signed has changed, so the dossier is reviewed again.
    @transition(field=status, source=[S.APPROVED, S.EXPORT_CLEARED], target=S.DOSSIER_REVIEW)
    def reopen_review(self):
        pass

    @transition(
        field=status,
        source=S.APPROVED,
        target=S.EXPORT_CLEARED,
        conditions=[guard("clear_export")],
        permission=may_fire("clear_export"),
    )
    def clear_export(self):
        pass

    @transition(
        field=status,
        source=[S.APPROVED, S.EXPORT_CLEARED],
        target=S.IN_TRANSIT,
        conditions=[guard("dispatch")],
        permission=may_fire("dispatch"),
    )
    def dispatch(self):
        pass

    @transition(field=status, source=S.IN_TRANSIT, target=S.CUSTOMS_CLEARANCE, permission=may_fire("arrive"))
    def arrive(self):
        pass

    @transition(field=status, source=S.CUSTOMS_CLEARANCE, target=S.CUSTOMS_HOLD, permission=may_fire("hold"))
    def hold(self):
        pass

    @transition(field=status, source=S.CUSTOMS_HOLD, target=S.CUSTOMS_CLEARANCE, permission=may_fire("release"))
    def release(self):
        pass

    @transition(
        field=status,
        source=S.CUSTOMS_CLEARANCE,
        target=S.CLEARED,
        conditions=[guard("clear")],
        permission=may_fire("clear"),
    )
    def clear(self):
        pass

    @transition(field=status, source=S.CLEARED, target=S.OUT_FOR_DELIVERY, permission=may_fire("out_for_delivery"))
    def out_for_delivery(self):
        pass

    @transition(field=status, source=S.OUT_FOR_DELIVERY, target=S.DELIVERED, permission=may_fire("deliver"))
    def deliver(self):
        pass

    @transition(field=status, source=S.CUSTOMS_HOLD, target=S.RETURNED, permission=may_fire("return_to_origin"))
    def return_to_origin(self):
        pass

    @transition(field=status, source=S.CUSTOMS_HOLD, target=S.DESTROYED, permission=may_fire("destroy"))
    def destroy(self):
        pass

    @transition(
        field=status,
        source=[S.DRAFT, S.PERMIT_COLLECTION, S.DOSSIER_REVIEW, S.APPROVED],
        target=S.CANCELLED,
        permission=may_fire("cancel"),
    )
    def cancel(self):
        pass


def route_kind(origin: str, destination: str) -> str:
    if origin == destination:
        return RouteKind.DOMESTIC
    if origin in EU_CUSTOMS_UNION and destination in EU_CUSTOMS_UNION:
        return RouteKind.CUSTOMS_UNION
    return RouteKind.INTERNATIONAL


class ShipmentItem(models.Model):
    """One line of goods in a shipment: a product, lot and quantity, with what customs needs to classify
    and value it."""

    shipment = models.ForeignKey(Shipment, on_delete=models.CASCADE, related_name="items")
    position = models.PositiveSmallIntegerField(default=1)
    product_name = models.CharField(max_length=200)
    category = models.CharField(max_length=30, choices=ProductCategory.choices)
    hs_code = models.CharField(max_length=10, blank=True, validators=[validate_hs_code], verbose_name="HS code")
    quantity = models.DecimalField(max_digits=12, decimal_places=3, validators=[validate_positive])
    unit = models.CharField(max_length=10, choices=QuantityUnit.choices, default=QuantityUnit.EACH)
    lot_number = models.CharField(max_length=50, blank=True, verbose_name="lot / batch")
    expiry_date = models.DateField(null=True, blank=True)
    unit_value = models.DecimalField(max_digits=14, decimal_places=2, default=0, validators=[validate_not_negative])
    un_number = models.CharField(
        max_length=6,
        blank=True,
        validators=[validate_un_number],
        verbose_name="UN number",
        help_text="For dangerous goods, e.g. UN1845 (dry ice) or UN3373 (biological substance, category B).",
    )

    objects = TenantQuerySet.as_manager()
    tenancy = ("shipment", "shipment__")

    class Meta:
        ordering = ["shipment", "position", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="shipmentitem_quantity_positive"),
            models.CheckConstraint(condition=Q(unit_value__gte=0), name="shipmentitem_unit_value_not_negative"),
        ]

    def __str__(self) -> str:
        lot = f" lot {self.lot_number}" if self.lot_number else ""
        return f"{self.product_name}{lot} × {self.quantity.normalize():f} {self.get_unit_display()}"

    @property
    def line_value(self):
        return self.quantity * self.unit_value
