from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db.models import Count
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from ior_platform.core.admin import AuditedAdmin, CountryListFilter, ReadOnlyAdminMixin
from parties.models import (
    Address,
    ApiCall,
    ApiKey,
    Contact,
    Licence,
    Membership,
    Organization,
    OrganizationRole,
    Screening,
    ScreeningListEntry,
    SponsorAuthorisation,
    User,
    WebhookDelivery,
    WebhookEndpoint,
)
from parties.tasks import screen_organization


class OrganizationRoleInline(admin.TabularInline):
    model = OrganizationRole
    extra = 0


class AddressInline(admin.StackedInline):
    model = Address
    extra = 0


class ContactInline(admin.TabularInline):
    model = Contact
    extra = 0


class LicenceInline(admin.TabularInline):
    model = Licence
    extra = 0
    fields = ("licence_type", "number", "issuing_authority", "country", "valid_from", "valid_until")
    show_change_link = True


@admin.register(Organization)
class OrganizationAdmin(AuditedAdmin):
    list_display = ("name", "legal_name", "country", "roles_held", "registration_number", "is_active")
    list_filter = (("country", CountryListFilter), "roles__role", "is_active")
    search_fields = ("name", "legal_name", "registration_number")
    readonly_fields = ("created_at", "updated_at")
    inlines = (OrganizationRoleInline, AddressInline, ContactInline, LicenceInline)

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("roles")

    def audit_scope(self, obj) -> dict:
        return {"organization": obj}

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        # After commit, so the worker sees the addresses the inlines save after this method returns.
        screen_organization.delay_on_commit(obj.pk)

    # Shipments, trials, users and audit events point at organizations: deactivate one instead.
    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="roles")
    def roles_held(self, obj):
        return ", ".join(sorted(role.get_role_display() for role in obj.roles.all()))


@admin.register(Licence)
class LicenceAdmin(AuditedAdmin):
    list_display = (
        "number",
        "licence_type",
        "organization",
        "issuing_authority",
        "country",
        "valid_from",
        "valid_until",
        "valid_today",
    )
    list_filter = ("licence_type", ("country", CountryListFilter))
    search_fields = ("number", "issuing_authority", "organization__name")
    list_select_related = ("organization",)
    autocomplete_fields = ("organization",)

    def audit_scope(self, obj) -> dict:
        return {"organization": obj.organization}

    @admin.display(description="valid today", boolean=True)
    def valid_today(self, obj):
        return obj.is_valid_on(timezone.localdate())


@admin.register(SponsorAuthorisation)
class SponsorAuthorisationAdmin(AuditedAdmin):
    list_display = ("cro", "sponsor", "valid_from", "valid_until", "revoked_at", "created_at")
    list_filter = (("revoked_at", admin.EmptyFieldListFilter),)
    search_fields = ("cro__name", "sponsor__name")
    list_select_related = ("cro", "sponsor")
    autocomplete_fields = ("sponsor", "cro")
    readonly_fields = ("created_at",)

    def audit_scope(self, obj) -> dict:
        return {"organization": obj.sponsor}


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    readonly_fields = ("granted_at",)


@admin.register(User)
class UserAdmin(AuditedAdmin, DjangoUserAdmin):
    fieldsets = (*DjangoUserAdmin.fieldsets, ("Organization", {"fields": ("organization", "time_zone")}))
    add_fieldsets = (
        *DjangoUserAdmin.add_fieldsets,
        ("Organization", {"classes": ("wide",), "fields": ("organization", "time_zone")}),
    )
    list_display = ("username", "email", "first_name", "last_name", "organization", "member_roles_held", "is_staff")
    list_filter = ("organization", "memberships__role", "is_staff", "is_superuser", "is_active")
    list_select_related = ("organization",)
    search_fields = ("username", "first_name", "last_name", "email", "organization__name")
    autocomplete_fields = ("organization",)
    inlines = (MembershipInline,)

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("memberships")

    def audit_scope(self, obj) -> dict:
        return {"organization": obj.organization}

    @admin.display(description="roles")
    def member_roles_held(self, obj):
        return ", ".join(sorted(m.get_role_display() for m in obj.memberships.all()))

    actions = ["reset_second_factor"]

    @admin.action(description="Reset two-factor sign-in (lost authenticator): they set up a new one at next sign-in")
    def reset_second_factor(self, request, queryset):
        from ior_platform.core.mfa import mfa_reset

        reason = f"reset by platform staff in the admin ({request.user.get_username()}): authenticator lost"
        reset = [user.get_username() for user in queryset if mfa_reset(actor=request.user, user=user, reason=reason)]
        if reset:
            self.message_user(request, f"Two-factor sign-in reset for {', '.join(reset)}.")
        else:
            self.message_user(request, "None of them had two-factor sign-in set up.", level=messages.WARNING)


# django-otp's own device admins would let staff read a person's TOTP key and delete a device without a trace; here
# devices are only looked at, and removed through the audited reset on the user.
for _device_model in (TOTPDevice, StaticDevice):
    if admin.site.is_registered(_device_model):
        admin.site.unregister(_device_model)


@admin.register(TOTPDevice)
class TOTPDeviceAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("user", "name", "confirmed", "last_used_at", "throttling_failure_count")
    list_filter = ("confirmed",)
    search_fields = ("user__username", "name")
    list_select_related = ("user",)
    fields = ("user", "name", "confirmed", "created_at", "last_used_at", "throttling_failure_count")


@admin.register(StaticDevice)
class StaticDeviceAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Backup codes: how many are left, never the codes."""

    list_display = ("user", "name", "confirmed", "codes_left")
    search_fields = ("user__username",)
    list_select_related = ("user",)
    fields = ("user", "name", "confirmed", "codes_left")
    readonly_fields = ("codes_left",)

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(codes=Count("token_set"))

    @admin.display(description="backup codes left")
    def codes_left(self, obj):
        return obj.codes


# Lists come from load_screening_list and screenings from the services: both are records, not forms.
@admin.register(ScreeningListEntry)
class ScreeningListEntryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("name", "list_name", "entity_number", "entry_type", "start_date", "list_version", "delisted_at")
    list_filter = ("source", ("delisted_at", admin.EmptyFieldListFilter), "entry_type")
    search_fields = ("name", "alt_names", "entity_number", "addresses")
    date_hierarchy = "loaded_at"
    formfield_overrides = AuditedAdmin.formfield_overrides


@admin.register(Screening)
class ScreeningAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("screened_at", "organization", "status", "score", "matched_entry", "matched_on", "cleared_by")
    list_filter = ("status", "matched_on")
    search_fields = ("organization__name", "matched_text", "screened_text", "clearance_reason")
    list_select_related = ("organization", "matched_entry", "cleared_by")
    date_hierarchy = "screened_at"


@admin.register(ApiKey)
class ApiKeyAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Keys are issued by the organization's managers (API, `issue_api_key`) so the secret is shown once to them;
    staff see and revoke them here."""

    list_display = ("prefix", "name", "organization", "owner", "scope", "created_at", "expires_at", "last_used_at")
    list_filter = ("scope", ("revoked_at", admin.EmptyFieldListFilter))
    search_fields = ("prefix", "name", "organization__name", "owner__username")
    exclude = ("secret_hash",)
    actions = ["revoke"]

    @admin.action(description="Revoke the selected keys")
    def revoke(self, request, queryset):
        from parties.api_keys import api_key_revoke

        for key in queryset.filter(revoked_at__isnull=True):
            api_key_revoke(actor=request.user, key=key, reason="revoked by platform staff in the admin")
        self.message_user(request, "Revoked.")


@admin.register(ApiCall)
class ApiCallAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("occurred_at", "key", "owner", "method", "path", "status_code", "remote_addr")
    list_filter = ("method", "status_code")
    search_fields = ("key__prefix", "owner__username", "path")
    date_hierarchy = "occurred_at"
    list_select_related = ("key", "owner")


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("url", "organization", "is_active", "created_at")
    list_filter = ("is_active",)
    search_fields = ("url", "organization__name")
    exclude = ("secret",)


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("created_at", "event", "endpoint", "status", "attempts", "response_status", "delivered_at")
    list_filter = ("status", "event")
    search_fields = ("endpoint__url", "event_id")
    list_select_related = ("endpoint",)
