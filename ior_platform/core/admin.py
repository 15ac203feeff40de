"""The Django admin for platform staff, and what every app's admin shares: read-only admins for records
that must never change, and an audited admin so that a staff edit lands in the same hash-chained trail
as a change made through the services."""

from django import forms
from django.contrib import admin
from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.db.models.fields.files import FieldFile
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.http import urlencode

from ior_platform.core.audit import record_event
from ior_platform.core.codes import country_name
from ior_platform.core.models import AuditEvent, DeadLetter, TaskClaim
from shipments.choices import ShipmentStatus

admin.site.site_header = "IOR/EOR platform administration"
admin.site.site_title = "IOR/EOR platform administration"
admin.site.index_title = "Records"

# Never written to the trail, even when a form reports it changed.
UNAUDITED_FIELDS = frozenset({"password", "last_login"})
# Not a model field: the form carries it to the audit event.
CHANGE_REASON = "change_reason"
CHANGE_REASON_LABEL = "Reason for the change"


class CountryListFilter(admin.AllValuesFieldListFilter):
    """Only the countries that occur, by name: the full ISO 3166 list would bury the few that matter."""

    def choices(self, changelist):
        codes = set(self.lookup_choices)
        for choice in super().choices(changelist):
            if choice["display"] in codes:
                choice = {**choice, "display": f"{country_name(choice['display'])} ({choice['display']})"}
            yield choice


class ReadOnlyAdminMixin:
    """Staff may look, never touch."""

    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


def _field_values(obj, names) -> dict:
    values = {}
    for name in names:
        if name in UNAUDITED_FIELDS:
            continue
        try:
            field = obj._meta.get_field(name)
        except FieldDoesNotExist:
            continue
        if not field.concrete or field.many_to_many or field.primary_key:
            continue
        value = field.value_from_object(obj)
        values[name] = value.name if isinstance(value, FieldFile) else value
    return values


def _stored_values(obj, names) -> dict:
    return _field_values(type(obj)._base_manager.get(pk=obj.pk), names) if obj.pk is not None else {}


def _changes(before: dict, after: dict, *, adding: bool) -> dict:
    changes = {name: [before.get(name), value] for name, value in after.items() if before.get(name) != value}
    if adding:
        changes = {name: change for name, change in changes.items() if change[1] not in (None, "")}
    return changes


def _form_field_names(form) -> list[str]:
    return list(form.fields) if form.instance.pk is None else list(form.changed_data)


def _reason(form) -> str:
    return form.cleaned_data.get(CHANGE_REASON, "")


class AuditedAdmin(admin.ModelAdmin):
    """Writes an audit event for every add, change and deletion made here, inlines included, in the admin's
    own transaction: without it a staff correction would be missing from the trail the dossier prints.
    Subclasses name the chain that an object's events extend in `audit_scope`."""

    # Fields the model derives on save, outside the form, compared as well.
    audit_derived_fields: tuple[str, ...] = ()
    # Authorities' and companies' sites are HTTPS; a bare domain typed in should not become an http:// link.
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    def audit_scope(self, obj) -> dict:
        """`{"shipment": ...}` or `{"organization": ...}`; empty for the platform's own chain."""
        return {}

    def _lock_chain(self, scope: dict) -> None:
        # The services' rule: a chain is extended only while the row that owns it is locked.
        for anchor in scope.values():
            if anchor is not None and anchor.pk is not None:
                list(type(anchor)._base_manager.select_for_update().filter(pk=anchor.pk).values_list("pk"))

    def reason_required(self, request, obj) -> bool:
        """Once a shipment has left draft its record is in the dossier: a change to it, or to anything on its chain
        (items, documents), must say why (21 CFR 11.10(e), EU GMP Annex 11 §9)."""
        if obj is None or obj.pk is None or not self.has_change_permission(request, obj):
            return False
        shipment = self.audit_scope(obj).get("shipment")
        return shipment is not None and shipment.status != ShipmentStatus.DRAFT

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if not self.reason_required(request, obj):
            return fieldsets
        # Admins without fieldsets list the form's fields, the reason among them: it belongs at the end, once.
        fieldsets = [
            (name, {**options, "fields": [field for field in options["fields"] if field != CHANGE_REASON]})
            for name, options in fieldsets
        ]
        return [*fieldsets, (CHANGE_REASON_LABEL, {"fields": [CHANGE_REASON]})]

    def get_form(self, request, obj=None, change=False, **kwargs):
        required = self.reason_required(request, obj)
        if required and kwargs.get("fields"):
            kwargs["fields"] = [field for field in kwargs["fields"] if field != CHANGE_REASON]
        form = super().get_form(request, obj, change=change, **kwargs)
        if not required:
            return form
        # Required on every save of the page, inline rows included: the inlines are validated apart from this form,
        # and a save that changes nothing writes no event, so the reason is then simply not used.
        reason = forms.CharField(
            label=CHANGE_REASON_LABEL,
            widget=forms.Textarea(attrs={"rows": 2}),
            help_text="The shipment has left draft: the reason is kept with the change in its audit trail.",
        )
        return type(form.__name__, (form,), {CHANGE_REASON: reason})

    def _record(self, request, obj, verb: str, changes: dict, scope: dict, reason: str = "") -> None:
        record_event(
            actor=request.user,
            action=f"{obj._meta.model_name}.{verb}_in_admin",
            target=obj,
            changes=changes,
            reason=reason,
            **scope,
        )

    def save_model(self, request, obj, form, change):
        scope = self.audit_scope(obj)
        self._lock_chain(scope)
        names = [*_form_field_names(form), *self.audit_derived_fields]
        before = _stored_values(obj, names)
        super().save_model(request, obj, form, change)
        changes = _changes(before, _field_values(obj, names), adding=not change)
        if not change or changes:
            verb = "changed" if change else "created"
            self._record(request, obj, verb, changes, self.audit_scope(obj), _reason(form))

    def delete_model(self, request, obj):
        scope = self.audit_scope(obj)
        self._lock_chain(scope)
        self._record(request, obj, "deleted", {"object": [str(obj), None]}, scope)
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self.delete_model(request, obj)

    def save_formset(self, request, form, formset, change):
        scope = self.audit_scope(form.instance)
        self._lock_chain(scope)
        reason = _reason(form)
        for deleted in formset.deleted_forms:
            if deleted.instance.pk is not None:
                removed = {"object": [str(deleted.instance), None]}
                self._record(request, deleted.instance, "deleted", removed, scope, reason)
        # The link to the parent is the chain the event lands on, not a change worth recording.
        parent_link = getattr(getattr(formset, "fk", None), "name", None)
        edited = []
        for inline_form in formset.forms:
            if inline_form.has_changed() and inline_form not in formset.deleted_forms:
                names = [name for name in _form_field_names(inline_form) if name != parent_link]
                adding = inline_form.instance.pk is None
                edited.append((inline_form, names, adding, _stored_values(inline_form.instance, names)))
        formset.save()
        for inline_form, names, adding, before in edited:
            changes = _changes(before, _field_values(inline_form.instance, names), adding=adding)
            if adding or changes:
                verb = "created" if adding else "changed"
                self._record(request, inline_form.instance, verb, changes, scope, reason)


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("occurred_at", "chain", "sequence", "actor_label", "action", "target_repr", "target_type")
    list_filter = ("action", ("target_type", admin.RelatedOnlyFieldListFilter))
    search_fields = ("target_repr", "actor_label", "reason", "chain")
    list_select_related = ("target_type",)
    date_hierarchy = "occurred_at"
    ordering = ("-occurred_at", "-id")
    fields = (
        "occurred_at",
        "chain",
        "sequence",
        "actor",
        "actor_label",
        "organization",
        "shipment",
        "target_type",
        "target_id",
        "target_repr",
        "action",
        "changes",
        "reason",
        "prev_hash",
        "hash",
        "chain_link",
    )
    readonly_fields = fields

    @admin.display(description="whole chain")
    def chain_link(self, obj):
        url = reverse("admin:core_auditevent_changelist")
        return format_html('<a href="{}?{}">Every event of {}</a>', url, urlencode({"chain": obj.chain}), obj.chain)


@admin.register(TaskClaim)
class TaskClaimAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("key", "claimed_at")
    search_fields = ("key",)
    date_hierarchy = "claimed_at"
    ordering = ("-claimed_at",)
    fields = ("key", "claimed_at")
    readonly_fields = fields


class DeadLetterStatusFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return [("open", "Open"), ("resolved", "Resolved")]

    def queryset(self, request, queryset):
        if self.value() == "open":
            return queryset.filter(resolved_at__isnull=True)
        if self.value() == "resolved":
            return queryset.filter(resolved_at__isnull=False)
        return queryset


@admin.register(DeadLetter)
class DeadLetterAdmin(AuditedAdmin):
    """Only workers write dead letters. Staff acknowledge one by saying what was done about it; who and when
    are taken from the request, so an acknowledgement cannot be made in someone else's name."""

    list_display = ("failed_at", "task_name", "exception_type", "retries", "resolved_at", "resolved_by")
    list_filter = (DeadLetterStatusFilter, "task_name", "exception_type")
    search_fields = ("task_id", "task_name", "exception_message")
    list_select_related = ("resolved_by",)
    date_hierarchy = "failed_at"
    ordering = ("-failed_at", "-id")
    fields = (
        "task_name",
        "task_id",
        "args",
        "kwargs",
        "exception_type",
        "exception_message",
        "traceback",
        "retries",
        "failed_at",
        "resolved_at",
        "resolved_by",
        "resolution_note",
    )
    audit_derived_fields = ("resolved_at", "resolved_by")

    def has_add_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.resolved_at is not None:
            return self.fields
        return [name for name in self.fields if name != "resolution_note"]

    def save_model(self, request, obj, form, change):
        if obj.resolution_note.strip() and obj.resolved_at is None:
            obj.resolved_at = timezone.now()
            obj.resolved_by = request.user
        super().save_model(request, obj, form, change)
