from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from ior_platform.core.codes import CountryField, country_name, valid_country_constraint
from ior_platform.core.tenancy import TenantQuerySet
from parties.choices import LicenceType, MemberRole, PartyRole


class Organization(models.Model):
    """A company that takes part in shipments: a sponsor, CRO, importer or exporter of record, broker,
    site or courier. One organization may take several roles."""

    name = models.CharField(max_length=200, unique=True)
    legal_name = models.CharField(max_length=300, blank=True)
    country = CountryField()
    registration_number = models.CharField(
        max_length=100, blank=True, help_text="Company or tax registration (EORI, EIN, CNPJ)."
    )
    website = models.URLField(blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TenantQuerySet.as_manager()
    tenancy = "organization"

    class Meta:
        ordering = ["name"]
        constraints = [valid_country_constraint("country", model="organization")]

    def __str__(self) -> str:
        return self.name

    @property
    def country_name(self) -> str:
        return country_name(self.country)

    def has_role(self, role: str) -> bool:
        return role in self.role_set

    @property
    def role_set(self) -> set[str]:
        if not hasattr(self, "_role_set"):
            self._role_set = {r.role for r in self.roles.all()}
        return self._role_set


class OrganizationRole(models.Model):
    """A role an organization is qualified to take in shipments (sponsor, IOR, broker, ...)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="roles")
    role = models.CharField(max_length=20, choices=PartyRole.choices)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization", "role"], name="organizationrole_unique")]

    def __str__(self) -> str:
        return f"{self.organization} as {self.get_role_display()}"


class Address(models.Model):
    """A postal address of an organization: its seat, a warehouse, a clinical site's pharmacy."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="addresses")
    label = models.CharField(max_length=100, help_text="e.g. Head office, Pharmacy, Depot")
    line1 = models.CharField(max_length=200)
    line2 = models.CharField(max_length=200, blank=True)
    city = models.CharField(max_length=100)
    region = models.CharField(max_length=100, blank=True)
    postal_code = models.CharField(max_length=20, blank=True)
    country = CountryField()

    tenancy = ("organization", "organization__")
    objects = TenantQuerySet.as_manager()

    class Meta:
        verbose_name_plural = "addresses"
        constraints = [valid_country_constraint("country", model="address")]

    def __str__(self) -> str:
        return self.one_line()

    def one_line(self) -> str:
        parts = [self.line1, self.line2, " ".join(p for p in (self.postal_code, self.city) if p), self.region]
        return ", ".join([p for p in parts if p] + [country_name(self.country)])


class Contact(models.Model):
    """A person to reach at an organization about shipments (not necessarily a platform user)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="contacts")
    name = models.CharField(max_length=200)
    function = models.CharField(max_length=100, blank=True)
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=50, blank=True)

    tenancy = ("organization", "organization__")
    objects = TenantQuerySet.as_manager()

    def __str__(self) -> str:
        return f"{self.name} ({self.organization})"


class Licence(models.Model):
    """A licence an organization holds (import, wholesale, GDP, customs broker, ...) that the lifecycle
    checks before goods move under that organization's responsibility."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="licences")
    licence_type = models.CharField(max_length=40, choices=LicenceType.choices)
    number = models.CharField(max_length=100)
    issuing_authority = models.CharField(max_length=200)
    country = CountryField()
    valid_from = models.DateField()
    valid_until = models.DateField(null=True, blank=True, help_text="Empty for a licence without expiry.")

    tenancy = ("organization", "organization__")
    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["organization", "licence_type", "-valid_from"]
        constraints = [
            models.UniqueConstraint(fields=["issuing_authority", "number"], name="licence_number_unique"),
            models.CheckConstraint(
                condition=Q(valid_until__isnull=True) | Q(valid_until__gte=F("valid_from")),
                name="licence_valid_until_after_valid_from",
            ),
            valid_country_constraint("country", model="licence"),
        ]

    def __str__(self) -> str:
        return f"{self.get_licence_type_display()} {self.number} ({self.organization})"

    def is_valid_on(self, day) -> bool:
        return self.valid_from <= day and (self.valid_until is None or day <= self.valid_until)


class SponsorAuthorisation(models.Model):
    """A sponsor's authorisation for a CRO to act for it: the CRO then sees and books the sponsor's shipments."""

    sponsor = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="cro_authorisations")
    cro = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="sponsor_authorisations")
    valid_from = models.DateField(default=timezone.localdate)
    valid_until = models.DateField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["sponsor", "cro"], name="sponsorauthorisation_unique"),
            models.CheckConstraint(condition=~Q(sponsor=F("cro")), name="sponsorauthorisation_not_self"),
            models.CheckConstraint(
                condition=Q(valid_until__isnull=True) | Q(valid_until__gte=F("valid_from")),
                name="sponsorauthorisation_dates_ordered",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.cro} acts for {self.sponsor}"


class User(AbstractUser):
    """A person who signs in. Belongs to one organization (none for platform staff) and holds roles there."""

    organization = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.PROTECT, related_name="users"
    )
    time_zone = models.CharField(
        max_length=64, default="UTC", help_text="IANA zone used to show times, e.g. Europe/Berlin."
    )

    def __str__(self) -> str:
        return self.get_full_name() or self.username

    @property
    def member_roles(self) -> set[str]:
        if not hasattr(self, "_member_roles"):
            self._member_roles = set(self.memberships.values_list("role", flat=True))
        return self._member_roles

    def has_member_role(self, *roles: str) -> bool:
        return bool(self.member_roles & set(roles))


class Membership(models.Model):
    """A role a user holds in their organization: viewer, editor, reviewer or manager."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=20, choices=MemberRole.choices)
    granted_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "role"], name="membership_user_role_unique")]

    def __str__(self) -> str:
        return f"{self.user} – {self.get_role_display()}"
