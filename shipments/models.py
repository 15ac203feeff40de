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
from shipments.choices import (
    DispositionDecision,
    DutiesPayer,
    ExcursionDirection,
    Incoterm,
    LoggerLayout,
    QuantityUnit,
    QuarantineStatus,
    RecordedVia,
    RouteKind,
    ShipmentStatus,
    TrackingEventCode,
    TrialPhase,
)
from shipments.coldchain.ranges import TemperatureRange, class_defaults, temperature_range

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
PLATFORM_SET_FIELDS = ("quarantine_status", "quarantined_at")


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
    qualified_duration_hours = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[validate_positive],
        help_text="Hours the pack-out is qualified to hold its range; empty for the temperature class's default.",
    )
    excursion_budget_minutes = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Minutes outside the range the product's stability data tolerate in total, which sponsor QA weighs "
        "when deciding on goods after an excursion; empty for the temperature class's default.",
    )
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
    dispatched_at = models.DateTimeField(
        null=True, blank=True, help_text="When the goods left: the pack-out's qualified duration counts from here."
    )
    pack_out_alerted_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the IOR and the sponsor were alerted that the pack-out was running out during a customs hold.",
    )
    quarantine_status = models.CharField(
        max_length=20, choices=QuarantineStatus.choices, default=QuarantineStatus.NONE, db_index=True
    )
    quarantined_at = models.DateTimeField(
        null=True, blank=True, help_text="When the goods last went into quarantine after a temperature excursion."
    )
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
            models.CheckConstraint(
                condition=Q(qualified_duration_hours__isnull=True) | Q(qualified_duration_hours__gt=0),
                name="shipment_qualified_duration_positive",
            ),
            models.CheckConstraint(condition=Q(status__in=S.values), name="shipment_status_valid"),
            models.CheckConstraint(
                condition=Q(quarantine_status__in=QuarantineStatus.values), name="shipment_quarantine_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(quarantine_status=QuarantineStatus.NONE, quarantined_at__isnull=True)
                | (~Q(quarantine_status=QuarantineStatus.NONE) & Q(quarantined_at__isnull=False)),
                name="shipment_quarantine_has_start",
            ),
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
        # check constraints again is a query each carrying hundreds of codes. The quarantine is the cold-chain
        # services' to set, never a form's. The database still enforces all of them.
        super().validate_constraints(exclude={*(exclude or ()), *CODE_FIELDS, *PLATFORM_SET_FIELDS})

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
    def temperature_range(self) -> TemperatureRange:
        return temperature_range(self.temperature_class)

    @property
    def effective_qualified_duration_hours(self) -> int:
        if self.qualified_duration_hours is not None:
            return self.qualified_duration_hours
        return class_defaults(self.temperature_class).qualified_duration_hours

    @property
    def effective_excursion_budget_minutes(self) -> int:
        if self.excursion_budget_minutes is not None:
            return self.excursion_budget_minutes
        return class_defaults(self.temperature_class).excursion_budget_minutes

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
        self.dispatched_at = timezone.now()

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

    @transition(
        field=status,
        source=S.OUT_FOR_DELIVERY,
        target=S.DELIVERED,
        conditions=[guard("deliver")],
        permission=may_fire("deliver"),
    )
    def deliver(self):
        pass

    # From a customs hold as DOMAIN.md draws it; once cleared, only for goods sponsor QA rejected after a temperature
    # excursion (guards.COLD_CHAIN_EXITS), which could otherwise go nowhere.
    @transition(
        field=status,
        source=[S.CUSTOMS_HOLD, S.CLEARED, S.OUT_FOR_DELIVERY],
        target=S.RETURNED,
        conditions=[guard("return_to_origin")],
        permission=may_fire("return_to_origin"),
    )
    def return_to_origin(self):
        pass

    @transition(
        field=status,
        source=[S.CUSTOMS_HOLD, S.CLEARED, S.OUT_FOR_DELIVERY],
        target=S.DESTROYED,
        conditions=[guard("destroy")],
        permission=may_fire("destroy"),
    )
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


class TemperatureLog(models.Model):
    """One logger's export for one shipment, as uploaded, with what its readings say against the shipment's
    temperature range. The readings themselves are in its TemperatureSeries; its excursions are Excursion rows."""

    shipment = models.ForeignKey(Shipment, on_delete=models.PROTECT, related_name="temperature_logs")
    logger_serial = models.CharField(max_length=64)
    original_name = models.CharField(max_length=255, help_text="The uploader's file name, for display only.")
    file = models.FileField(upload_to="temperature-logs/%Y/%m/", blank=True, help_text="The export, byte for byte.")
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    layout = models.CharField(max_length=10, choices=LoggerLayout.choices, default=LoggerLayout.CSV)
    source_details = models.JSONField(
        default=dict, blank=True, help_text="How the file was read: encoding, delimiter, columns, time zone."
    )
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    uploaded_at = models.DateTimeField(default=timezone.now)

    reading_count = models.PositiveIntegerField()
    first_reading_at = models.DateTimeField()
    last_reading_at = models.DateTimeField()
    # The range the readings were judged against, as it stood at import.
    range_low = models.FloatField(null=True, blank=True)
    range_high = models.FloatField(null=True, blank=True)
    min_temperature = models.FloatField()
    max_temperature = models.FloatField()
    mean_temperature = models.FloatField()
    mean_kinetic_temperature = models.FloatField()
    delta_h = models.FloatField(help_text="Activation energy ΔH the mean kinetic temperature used, in kJ/mol.")
    minutes_above = models.FloatField(help_text="Time above the range, each reading holding until the next.")
    minutes_below = models.FloatField(help_text="Time below the range, each reading holding until the next.")

    objects = TenantQuerySet.as_manager()
    tenancy = ("shipment", "shipment__")

    class Meta:
        ordering = ["shipment", "first_reading_at", "id"]
        constraints = [
            # The same export imported twice would count its excursions twice.
            models.UniqueConstraint(fields=["shipment", "sha256"], name="temperaturelog_file_once_per_shipment"),
            models.CheckConstraint(condition=Q(reading_count__gt=0), name="temperaturelog_has_readings"),
            models.CheckConstraint(
                condition=Q(last_reading_at__gte=F("first_reading_at")), name="temperaturelog_readings_in_order"
            ),
            models.CheckConstraint(
                condition=Q(minutes_above__gte=0, minutes_below__gte=0), name="temperaturelog_minutes_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"Logger {self.logger_serial}: {self.original_name}"

    @property
    def temperature_range(self) -> TemperatureRange:
        return TemperatureRange(low=self.range_low, high=self.range_high)

    @property
    def minutes_out_of_range(self) -> float:
        return self.minutes_above + self.minutes_below


class TemperatureSeries(models.Model):
    """The readings of a temperature log, in UTC, as two packed arrays.

    A two-year log at one reading a minute holds a million readings. They are written once, never changed, and
    always read whole (to analyse them again, to draw the chart), never one by one or by a condition on their value.
    A table of one row per reading would cost a million inserts per upload (tens of seconds with bulk_create on
    PostgreSQL) and some 60 MB of rows and index per log; here they are one row of two compressed columns, written in
    one statement and read in one: `times` is the int64 seconds since the epoch (UTC) delta-encoded, `temperatures`
    the float64 °C as parsed, both little-endian and zlib-compressed. A window of time is a slice
    (numpy.searchsorted on the times) once loaded."""

    FORMAT = "zlib-delta-int64-s/zlib-float64-c"

    log = models.OneToOneField(TemperatureLog, on_delete=models.CASCADE, primary_key=True, related_name="series")
    encoding = models.CharField(max_length=40, default=FORMAT)
    times = models.BinaryField()
    temperatures = models.BinaryField()

    objects = TenantQuerySet.as_manager()
    tenancy = ("shipment", "log__shipment__")

    class Meta:
        verbose_name_plural = "temperature series"

    def __str__(self) -> str:
        return f"Readings of {self.log}"

    @classmethod
    def pack(cls, log: TemperatureLog, times, temperatures) -> "TemperatureSeries":
        from shipments.coldchain.storage import pack_temperatures, pack_times

        return cls(log=log, encoding=cls.FORMAT, times=pack_times(times), temperatures=pack_temperatures(temperatures))

    def arrays(self):
        """(times, temperatures): int64 seconds since the epoch in UTC and float64 °C."""
        from shipments.coldchain.storage import unpack_temperatures, unpack_times

        return unpack_times(self.times), unpack_temperatures(self.temperatures)


class Excursion(models.Model):
    """An interval during which a logger read outside the shipment's temperature range: from the first reading out
    of range until the next reading back in it (or the end of the log)."""

    shipment = models.ForeignKey(Shipment, on_delete=models.PROTECT, related_name="excursions")
    log = models.ForeignKey(TemperatureLog, on_delete=models.CASCADE, related_name="excursions")
    direction = models.CharField(max_length=10, choices=ExcursionDirection.choices)
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField()
    duration_minutes = models.FloatField()
    peak_temperature = models.FloatField(help_text="The highest reading of an excursion above, the lowest below.")
    ends_with_log = models.BooleanField(
        default=False, help_text="The log ends out of range: the excursion lasted at least this long."
    )
    detected_at = models.DateTimeField(default=timezone.now)

    objects = TenantQuerySet.as_manager()
    tenancy = ("shipment", "shipment__")

    class Meta:
        ordering = ["shipment", "started_at", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(ended_at__gte=F("started_at")), name="excursion_ends_after_start"),
            models.CheckConstraint(condition=Q(duration_minutes__gte=0), name="excursion_duration_not_negative"),
            models.CheckConstraint(
                condition=Q(direction__in=ExcursionDirection.values), name="excursion_direction_valid"
            ),
        ]
        indexes = [models.Index(fields=["shipment", "started_at"])]

    def __str__(self) -> str:
        return f"{self.get_direction_display()} for {self.duration_minutes:g} min from {self.started_at:%Y-%m-%d %H:%M}"

    def clean(self) -> None:
        if self.log_id and self.shipment_id and self.log.shipment_id != self.shipment_id:
            raise ValidationError({"log": "The log belongs to another shipment."})


class ColdChainDisposition(models.Model):
    """Sponsor QA's signed decision on goods held in quarantine after a temperature excursion: release them for
    delivery and use, reject them (back to origin) or have them destroyed. One per quarantine; never changed."""

    shipment = models.ForeignKey(Shipment, on_delete=models.PROTECT, related_name="cold_chain_dispositions")
    decision = models.CharField(max_length=10, choices=DispositionDecision.choices)
    reason = models.TextField()
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    decided_at = models.DateTimeField(default=timezone.now)
    quarantined_at = models.DateTimeField(help_text="When the quarantine this decision ends began.")
    excursion_count = models.PositiveIntegerField(help_text="Excursions of the shipment on record when deciding.")
    minutes_out_of_range = models.FloatField(help_text="The shipment's time out of range when deciding.")
    signature = models.OneToOneField(
        "documents.ElectronicSignature", on_delete=models.PROTECT, related_name="cold_chain_disposition"
    )

    objects = TenantQuerySet.as_manager()
    tenancy = ("shipment", "shipment__")

    class Meta:
        ordering = ["shipment", "decided_at", "id"]
        constraints = [
            # Two QA users deciding at once: the second finds the quarantine already decided.
            models.UniqueConstraint(
                fields=["shipment", "quarantined_at"], name="coldchaindisposition_once_per_quarantine"
            ),
            models.CheckConstraint(
                condition=Q(decision__in=DispositionDecision.values), name="coldchaindisposition_decision_valid"
            ),
            models.CheckConstraint(condition=~Q(reason=""), name="coldchaindisposition_has_reason"),
        ]

    def __str__(self) -> str:
        return f"{self.shipment}: {self.get_decision_display()} ({self.decided_at:%Y-%m-%d %H:%M} UTC)"


class TrackingEvent(models.Model):
    """One scan or status message from the carrier: what happened to the goods, where and when. Append-only: a
    mistake is corrected by a later event, never by changing this one."""

    LOCATION_MAX_LENGTH = 120
    DESCRIPTION_MAX_LENGTH = 1000
    EXTERNAL_ID_MAX_LENGTH = 100

    shipment = models.ForeignKey(Shipment, on_delete=models.PROTECT, related_name="tracking_events")
    occurred_at = models.DateTimeField(help_text="When it happened, as the courier reports it (stored in UTC).")
    code = models.CharField(max_length=20, choices=TrackingEventCode.choices)
    location = models.CharField(max_length=LOCATION_MAX_LENGTH, help_text='Where, e.g. "JFK, New York".')
    country = CountryField(blank=True)
    description = models.TextField(max_length=DESCRIPTION_MAX_LENGTH, blank=True)
    external_id = models.CharField(
        max_length=EXTERNAL_ID_MAX_LENGTH,
        blank=True,
        help_text="The courier's own id of the event: the same id sent again records nothing new.",
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    recorded_at = models.DateTimeField(default=timezone.now)
    via = models.CharField(max_length=10, choices=RecordedVia.choices, default=RecordedVia.PAGE)

    # Set by tracking_event_record on the event it returns when the courier sent that event again.
    replayed = False

    objects = TenantQuerySet.as_manager()
    tenancy = ("shipment", "shipment__")

    class Meta:
        ordering = ["shipment", "occurred_at", "id"]
        constraints = [
            # A courier system re-sending its events must not record them twice.
            models.UniqueConstraint(
                fields=["shipment", "external_id"],
                condition=~Q(external_id=""),
                name="trackingevent_external_id_once_per_shipment",
            ),
            models.CheckConstraint(condition=Q(code__in=TrackingEventCode.values), name="trackingevent_code_valid"),
            models.CheckConstraint(condition=Q(via__in=RecordedVia.values), name="trackingevent_via_valid"),
            models.CheckConstraint(condition=~Q(location=""), name="trackingevent_has_location"),
            valid_country_constraint("country", model="trackingevent", nullable=True),
        ]
        indexes = [models.Index(fields=["shipment", "occurred_at"])]

    def __str__(self) -> str:
        return f"{self.get_code_display()} at {self.location} ({self.occurred_at:%Y-%m-%d %H:%M} UTC)"

    @property
    def place(self) -> str:
        return f"{self.location}, {country_name(self.country)}" if self.country else self.location
