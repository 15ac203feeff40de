from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from ior_platform.core.codes import CountryField, country_name, valid_country_constraint
from ior_platform.core.tenancy import TenantQuerySet
from parties.choices import ApiScope, DeliveryStatus, LicenceType, MemberRole, PartyRole, WebhookEvent


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


# Statuses belong in choices.py by the house rule; they live here only while that file is someone else's.
class ScreeningStatus(models.TextChoices):
    CLEAR = "clear", "Clear"
    POTENTIAL_MATCH = "potential_match", "Potential match"
    CLEARED_FALSE_POSITIVE = "cleared_false_positive", "Cleared as false positive"
    CONFIRMED_MATCH = "confirmed_match", "Confirmed match"


class MatchedOn(models.TextChoices):
    NAME = "name", "Name"
    ALIAS = "alias", "Alias"
    ADDRESS = "address", "Address"


class ScreeningListEntry(models.Model):
    """A party on a restricted-party list (the Entity List, the SDN list, ...) as published in the US
    Consolidated Screening List: exports to it are prohibited or need a licence."""

    source = models.CharField(
        max_length=200, help_text="The list, e.g. Entity List (EL) - Bureau of Industry and Security."
    )
    entity_number = models.CharField(max_length=100, blank=True)
    entry_key = models.CharField(
        max_length=500, editable=False, help_text="The entity number, or the name where the list gives none."
    )
    entry_type = models.CharField(max_length=50, blank=True, help_text="Entity, Individual, Vessel or Aircraft.")
    name = models.CharField(max_length=500)
    alt_names = models.JSONField(default=list, blank=True)
    addresses = models.TextField(blank=True, help_text="As listed, one address per line.")
    countries = models.JSONField(default=list, blank=True, help_text="ISO 3166 codes taken from the addresses.")
    programs = models.CharField(max_length=500, blank=True)
    federal_register_notice = models.CharField(max_length=500, blank=True)
    remarks = models.TextField(blank=True)
    source_list_url = models.URLField(max_length=500, blank=True)
    start_date = models.DateField(null=True, blank=True)
    list_version = models.CharField(
        max_length=200, help_text="The file (and its SHA-256) its current content came from."
    )
    loaded_at = models.DateTimeField(help_text="When the entry was added or last changed by a load.")
    delisted_at = models.DateTimeField(
        null=True, blank=True, help_text="Gone from the list; kept because screenings cite it."
    )

    class Meta:
        verbose_name_plural = "screening list entries"
        ordering = ["source", "name"]
        constraints = [
            models.UniqueConstraint(fields=["source", "entry_key"], name="screeninglistentry_source_key_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.list_name})"

    @property
    def list_name(self) -> str:
        """'Entity List (EL) - Bureau of Industry and Security' reads as 'Entity List'."""
        return self.source.split(" (", 1)[0].split(" - ", 1)[0].strip() or self.source


class Screening(models.Model):
    """One check of an organization against the loaded restricted-party lists. A potential match blocks
    export clearance until a reviewer clears it as a false positive, with a reason."""

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="screenings")
    screened_at = models.DateTimeField(default=timezone.now, db_index=True)
    status = models.CharField(max_length=30, choices=ScreeningStatus.choices)
    score = models.FloatField(help_text="Best similarity found, 0–100.")
    threshold = models.FloatField(help_text="Score from which a similarity counted as a potential match.")
    matched_entry = models.ForeignKey(
        ScreeningListEntry, null=True, blank=True, on_delete=models.PROTECT, related_name="screenings"
    )
    matched_on = models.CharField(max_length=10, choices=MatchedOn.choices, blank=True)
    matched_text = models.CharField(max_length=1000, blank=True, help_text="The name, alias or address as listed.")
    screened_text = models.CharField(
        max_length=1000, blank=True, help_text="The organization's name, legal name or address that matched it."
    )
    hits = models.JSONField(
        default=list, blank=True, help_text="Every entry at or above the threshold, best first: cleared together."
    )
    list_version = models.CharField(max_length=200, blank=True)
    carried_over_from = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The reviewer's clearance this screening inherits: the same hits, already found false positives.",
    )
    cleared_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="screenings_cleared"
    )
    cleared_at = models.DateTimeField(null=True, blank=True)
    clearance_reason = models.TextField(blank=True)

    tenancy = ("organization", "organization__")
    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["-screened_at", "-id"]
        get_latest_by = ["screened_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(status=ScreeningStatus.CLEARED_FALSE_POSITIVE)
                | (Q(cleared_by__isnull=False) & Q(cleared_at__isnull=False) & ~Q(clearance_reason="")),
                name="screening_cleared_has_reason_and_clearer",
            ),
            models.CheckConstraint(
                condition=Q(status=ScreeningStatus.CLEAR) | Q(matched_entry__isnull=False),
                name="screening_match_has_entry",
            ),
            models.CheckConstraint(
                condition=Q(score__gte=0, score__lte=100) & Q(threshold__gte=0, threshold__lte=100),
                name="screening_scores_in_range",
            ),
        ]
        indexes = [models.Index(fields=["organization", "-screened_at"])]

    def __str__(self) -> str:
        return f"{self.organization} {self.get_status_display().lower()} on {self.screened_at:%Y-%m-%d %H:%M} UTC"

    @property
    def blocks_export(self) -> bool:
        return self.status in (ScreeningStatus.POTENTIAL_MATCH, ScreeningStatus.CONFIRMED_MATCH)


class EmailMode(models.TextChoices):
    IMMEDIATE = "immediate", "Immediately"
    DIGEST = "digest", "Daily digest"
    OFF = "off", "Off (inbox only)"


class Notification(models.Model):
    """A message for one user in their inbox (a shipment event, a document deadline), also e-mailed at once or in
    the daily digest as they prefer. It carries only what the recipient was allowed to see when it was written."""

    recipient = models.ForeignKey(User, on_delete=models.CASCADE, related_name="notifications")
    shipment = models.ForeignKey(
        "shipments.Shipment", null=True, blank=True, on_delete=models.CASCADE, related_name="notifications"
    )
    kind = models.CharField(max_length=50, help_text="What caused it, e.g. shipment.reject or document.d3.")
    subject = models.CharField(max_length=200)
    body = models.TextField()
    link = models.URLField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)
    emailed_at = models.DateTimeField(
        null=True, blank=True, help_text="Set when claimed for e-mail, so it is never sent twice."
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["recipient", "read_at"], name="notification_recipient_read")]

    def __str__(self) -> str:
        return f"{self.recipient}: {self.subject}"

    @property
    def is_read(self) -> bool:
        return self.read_at is not None


class NotificationPreference(models.Model):
    """How a user wants their notifications e-mailed. A user without one gets them immediately."""

    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="notification_preference")
    email_mode = models.CharField(max_length=10, choices=EmailMode.choices, default=EmailMode.IMMEDIATE)
    digest_hour = models.PositiveSmallIntegerField(
        default=7, help_text="Hour of the day, in the user's time zone, after which the digest goes out."
    )

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(digest_hour__lte=23), name="notificationpreference_hour_of_day"),
            models.CheckConstraint(
                condition=Q(email_mode__in=["immediate", "digest", "off"]), name="notificationpreference_mode_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user}: {self.get_email_mode_display()}"


class ApiKey(models.Model):
    """A credential an organization issues to one of its systems (RTSM, CTMS, ERP). Calls made with it act as
    its owner, a user of that organization, limited to its scope. Only a hash of the secret is kept."""

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="api_keys")
    owner = models.ForeignKey(
        User, on_delete=models.PROTECT, related_name="api_keys", help_text="The user the key acts as."
    )
    name = models.CharField(max_length=100, help_text="What the key is for, e.g. 'RTSM production'.")
    prefix = models.CharField(max_length=16, unique=True, help_text="The key's public start, shown in lists and logs.")
    secret_hash = models.CharField(max_length=64, help_text="SHA-256 of the whole key.")
    scope = models.CharField(max_length=10, choices=ApiScope.choices, default=ApiScope.READ)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, related_name="+")

    objects = TenantQuerySet.as_manager()
    tenancy = ("own_organization", "organization__")

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(scope__in=["read", "write"]), name="apikey_scope_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_usable(self) -> bool:
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > timezone.now())

    @property
    def can_write(self) -> bool:
        return self.scope == ApiScope.WRITE


class ApiCall(models.Model):
    """One request made with an API key: who (the key and its owner), what, when and the answer given.
    Kept so an organization and an auditor can see everything a system did in its name."""

    key = models.ForeignKey(ApiKey, on_delete=models.PROTECT, related_name="calls")
    owner = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    occurred_at = models.DateTimeField(default=timezone.now, db_index=True)
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=500)
    status_code = models.PositiveSmallIntegerField()
    remote_addr = models.GenericIPAddressField(null=True, blank=True)

    objects = TenantQuerySet.as_manager()
    tenancy = ("own_organization", "key__organization__")

    class Meta:
        ordering = ["-occurred_at", "-id"]
        indexes = [models.Index(fields=["key", "occurred_at"], name="apicall_key_time")]

    def __str__(self) -> str:
        return f"{self.key.prefix} {self.method} {self.path} {self.status_code}"


class WebhookEndpoint(models.Model):
    """A URL of an organization's system that receives the events it subscribed to, signed with a shared secret."""

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="webhooks")
    url = models.URLField(max_length=500)
    events = models.JSONField(default=list, help_text="Event names this endpoint receives.")
    secret = models.CharField(max_length=80, help_text="Shared secret for the HMAC-SHA256 signature; shown once.")
    description = models.CharField(max_length=200, blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    updated_at = models.DateTimeField(auto_now=True)

    objects = TenantQuerySet.as_manager()
    tenancy = ("own_organization", "organization__")

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.organization}: {self.url}"


class WebhookDelivery(models.Model):
    """One event sent (or being sent) to one endpoint, with every attempt's outcome: the organization's delivery log."""

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    event_id = models.UUIDField(help_text="Stable id of the event; receivers use it to ignore duplicates.")
    event = models.CharField(max_length=50, choices=WebhookEvent.choices)
    payload = models.JSONField()
    status = models.CharField(max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When a pending delivery may next be attempted; while one is in flight, the end of its claim.",
    )
    delivered_at = models.DateTimeField(null=True, blank=True)

    objects = TenantQuerySet.as_manager()
    tenancy = ("own_organization", "endpoint__organization__")

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["endpoint", "event_id"], name="webhookdelivery_once_per_endpoint"),
            models.CheckConstraint(
                condition=Q(status__in=["pending", "succeeded", "failed"]), name="webhookdelivery_status_valid"
            ),
        ]
        indexes = [
            models.Index(fields=["endpoint", "-created_at"], name="webhookdelivery_endpoint_log"),
            # The sweep that re-queues deliveries whose task was lost reads only the pending ones.
            models.Index(fields=["next_attempt_at"], condition=Q(status="pending"), name="webhookdelivery_due"),
        ]

    def __str__(self) -> str:
        return f"{self.event} → {self.endpoint.url} ({self.status})"
