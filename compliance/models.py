from django.db import models
from django.db.models import F, Q

from compliance.choices import DocumentType, ProductCategory, TemperatureClass, TradeDirection
from ior_platform.core.codes import CountryField, country_name, valid_country_constraint
from ior_platform.core.tenancy import TenantQuerySet
from parties.choices import PartyRole
from shipments.choices import QuantityUnit


class CountryProfile(models.Model):
    """What one country's authorities demand of clinical shipments: who regulates, who clears customs,
    whether a local importer is mandatory, taxes and typical delays. Facts carry their sources;
    an empty (null) fact means no source gave it, not zero."""

    country = CountryField(unique=True)
    regulatory_authority = models.CharField(max_length=200, blank=True)
    regulatory_authority_acronym = models.CharField(max_length=30, blank=True)
    regulatory_authority_url = models.URLField(blank=True)
    customs_authority = models.CharField(max_length=200, blank=True)
    customs_authority_acronym = models.CharField(max_length=30, blank=True)
    customs_authority_url = models.URLField(blank=True)
    clinical_import_authorisation = models.CharField(
        max_length=200,
        blank=True,
        help_text="The name of the authorisation to import clinical goods, e.g. CT-16/CT-17.",
    )
    local_ior_mandatory = models.BooleanField(null=True, help_text="Unknown when empty.")
    imp_duty_exempt = models.BooleanField(null=True)
    imp_vat_exempt = models.BooleanField(null=True)
    standard_vat_rate = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True, help_text="Percent.")
    standard_duty_rate = models.DecimalField(
        max_digits=5, decimal_places=2, null=True, blank=True, help_text="Percent."
    )
    typical_clearance_days = models.PositiveSmallIntegerField(null=True, blank=True)
    cold_chain_notes = models.TextField(blank=True)
    sources = models.JSONField(
        default=list,
        blank=True,
        help_text='List of {"fact": ..., "source": URL or legal reference, "verified_on": date}.',
    )
    last_verified_on = models.DateField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["country"]
        constraints = [
            valid_country_constraint("country", model="countryprofile"),
            models.CheckConstraint(
                condition=Q(standard_vat_rate__isnull=True) | Q(standard_vat_rate__gte=0, standard_vat_rate__lte=100),
                name="countryprofile_vat_rate_percent",
            ),
            models.CheckConstraint(
                condition=Q(standard_duty_rate__isnull=True)
                | Q(standard_duty_rate__gte=0, standard_duty_rate__lte=100),
                name="countryprofile_duty_rate_percent",
            ),
        ]

    def __str__(self) -> str:
        return f"{country_name(self.country)} ({self.country})"

    @property
    def country_name(self) -> str:
        return country_name(self.country)


class DocumentRequirement(models.Model):
    """One document a country demands for a direction and product category (optionally only for a
    temperature class or above a declared value): who provides it, how long before shipping, how
    long it stays valid, and the legal basis. Versioned: an edit makes a new version."""

    country = models.ForeignKey(CountryProfile, on_delete=models.PROTECT, related_name="requirements")
    direction = models.CharField(max_length=10, choices=TradeDirection.choices)
    product_category = models.CharField(max_length=30, choices=ProductCategory.choices)
    temperature_class = models.CharField(
        max_length=20, choices=TemperatureClass.choices, blank=True, help_text="Empty: applies to every class."
    )
    min_declared_value = models.DecimalField(
        max_digits=14, decimal_places=2, null=True, blank=True, help_text="Applies only at or above this value."
    )
    value_currency = models.CharField(max_length=3, blank=True)
    document_type = models.CharField(max_length=40, choices=DocumentType.choices)
    title = models.CharField(
        max_length=200, blank=True, help_text="The document's local name, e.g. 'Form CT-17 test licence'."
    )
    provided_by = models.CharField(max_length=20, choices=PartyRole.choices)
    lead_time_days = models.PositiveSmallIntegerField(null=True, blank=True, help_text="Unknown when empty.")
    validity_days = models.PositiveIntegerField(null=True, blank=True, help_text="Unknown or unlimited when empty.")
    legal_basis = models.CharField(max_length=300, blank=True)
    source = models.CharField(max_length=500, help_text="URL or legal reference the requirement comes from.")
    verified_on = models.DateField(null=True, blank=True)
    version = models.PositiveIntegerField(default=1)
    is_active = models.BooleanField(default=True)
    notes = models.TextField(blank=True)

    class Meta:
        ordering = ["country", "direction", "product_category", "document_type"]
        constraints = [
            models.UniqueConstraint(
                fields=["country", "direction", "product_category", "temperature_class", "document_type", "version"],
                name="documentrequirement_version_unique",
            ),
            models.CheckConstraint(
                condition=Q(min_declared_value__isnull=True) | Q(min_declared_value__gte=0),
                name="documentrequirement_threshold_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(min_declared_value__isnull=True) | ~Q(value_currency=""),
                name="documentrequirement_threshold_has_currency",
            ),
        ]

    def __str__(self) -> str:
        return (
            f"{self.country.country} {self.get_direction_display()} {self.get_product_category_display()}: "
            f"{self.display_title}"
        )

    @property
    def display_title(self) -> str:
        return self.title or self.get_document_type_display()

    def applies_to(self, *, category: str, temperature_class: str, declared_value, currency: str) -> bool:
        if not self.is_active or self.product_category != category:
            return False
        if self.temperature_class and self.temperature_class != temperature_class:
            return False
        if self.min_declared_value is not None:
            # A threshold in another currency cannot be compared without a rate: treat it as applying.
            return currency != self.value_currency or declared_value >= self.min_declared_value
        return True


class Permit(models.Model):
    """An authorisation to move a trial's goods across a border (import permit, test licence, export licence,
    NOL): who holds it, which authority issued it, until when, and how much of each product it allows."""

    permit_type = models.CharField(max_length=40, choices=DocumentType.choices)
    holder = models.ForeignKey("parties.Organization", on_delete=models.PROTECT, related_name="permits")
    trial = models.ForeignKey("shipments.Trial", on_delete=models.PROTECT, related_name="permits")
    country = CountryField()
    direction = models.CharField(max_length=10, choices=TradeDirection.choices, default=TradeDirection.IMPORT)
    authority = models.CharField(max_length=200)
    number = models.CharField(max_length=100)
    valid_from = models.DateField()
    valid_until = models.DateField()
    notes = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    tenancy = ("trial", "trial__")
    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["country", "valid_until"]
        constraints = [
            models.UniqueConstraint(fields=["authority", "number"], name="permit_number_unique"),
            models.CheckConstraint(condition=Q(valid_until__gte=F("valid_from")), name="permit_dates_ordered"),
            valid_country_constraint("country", model="permit"),
        ]

    def __str__(self) -> str:
        return f"{self.get_permit_type_display()} {self.number} ({self.country})"

    def is_valid_on(self, day) -> bool:
        return self.valid_from <= day <= self.valid_until


class PermitLine(models.Model):
    """One product a permit authorises, with the quantity it allows in total across shipments."""

    permit = models.ForeignKey(Permit, on_delete=models.CASCADE, related_name="lines")
    product_name = models.CharField(max_length=200)
    authorised_quantity = models.DecimalField(max_digits=12, decimal_places=3)
    unit = models.CharField(max_length=10, choices=QuantityUnit.choices, default=QuantityUnit.EACH)

    tenancy = ("trial", "permit__trial__")
    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["permit", "product_name"]
        constraints = [
            models.UniqueConstraint(fields=["permit", "product_name"], name="permitline_product_unique"),
            models.CheckConstraint(condition=Q(authorised_quantity__gt=0), name="permitline_quantity_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.product_name}: {self.authorised_quantity.normalize():f} {self.get_unit_display()}"


class PermitDrawdown(models.Model):
    """The quantity of one shipment item counted against a permit line, taken when the dossier is approved
    and given back if the shipment is cancelled before it leaves."""

    line = models.ForeignKey(PermitLine, on_delete=models.PROTECT, related_name="drawdowns")
    shipment = models.ForeignKey("shipments.Shipment", on_delete=models.PROTECT, related_name="permit_drawdowns")
    item = models.ForeignKey("shipments.ShipmentItem", on_delete=models.PROTECT, related_name="permit_drawdowns")
    quantity = models.DecimalField(max_digits=12, decimal_places=3)
    drawn_at = models.DateTimeField(auto_now_add=True)
    released_at = models.DateTimeField(null=True, blank=True)

    tenancy = ("shipment", "shipment__")
    objects = TenantQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["line", "item"], condition=Q(released_at__isnull=True), name="permitdrawdown_once_per_item"
            ),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="permitdrawdown_quantity_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.shipment} draws {self.quantity.normalize():f} of {self.line}"


class ExpiryReminder(models.Model):
    """A warning that a permit or an importer's licence runs out before an open shipment's planned ship date,
    sent once per (permit or licence, shipment)."""

    key = models.CharField(max_length=100, unique=True, help_text="permit:<id>:shipment:<id> or licence:<id>:…")
    shipment = models.ForeignKey("shipments.Shipment", on_delete=models.CASCADE, related_name="expiry_reminders")
    permit = models.ForeignKey(Permit, null=True, blank=True, on_delete=models.CASCADE, related_name="reminders")
    licence = models.ForeignKey(
        "parties.Licence", null=True, blank=True, on_delete=models.CASCADE, related_name="reminders"
    )
    expires_on = models.DateField()
    created_at = models.DateTimeField(auto_now_add=True)

    tenancy = ("shipment", "shipment__")
    objects = TenantQuerySet.as_manager()

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(permit__isnull=False, licence__isnull=True) | Q(permit__isnull=True, licence__isnull=False),
                name="expiryreminder_one_subject",
            )
        ]

    def __str__(self) -> str:
        return f"{self.key} expires {self.expires_on}"
