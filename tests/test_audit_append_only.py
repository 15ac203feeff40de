"""The database itself refuses to rewrite or remove an audit event, whichever way the statement comes. In the admin,
a staff correction to a shipment that has left draft must say why and the trail keeps the reason; role grants
made there are audited like any other change."""

import os
import subprocess
from contextlib import contextmanager

import pytest
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction
from django.urls import reverse
from django.utils import timezone

from documents.models import Document
from ior_platform.core.audit import record_event
from ior_platform.core.models import AuditEvent
from parties.models import Membership, User
from shipments.choices import ShipmentStatus
from shipments.models import Shipment
from tests.admin.test_admin import form_data
from tests.conftest import audit_guard_lifted, force_status
from tests.infra import ROOT, SERVER_VARIABLES, venv_python

REFUSED = "audit events are append-only"


@pytest.fixture
def event(world):
    shipment = world.shipment()
    record_event(actor=world.alice, action="shipment.created", target=shipment, shipment=shipment)
    return record_event(
        actor=world.alice, action="shipment.updated", target=shipment, shipment=shipment, reason="Typo in address"
    )


@contextmanager
def refused():
    """The statement fails with the trigger's message, in a savepoint so that the test's transaction goes on."""
    with pytest.raises(IntegrityError, match=REFUSED), transaction.atomic():
        yield


def stored(event) -> tuple:
    return AuditEvent.objects.filter(pk=event.pk).values_list("reason", "hash").get()


def test_queryset_update_is_refused(event):
    before = stored(event)
    with refused():
        AuditEvent.objects.filter(pk=event.pk).update(reason="Nothing to see")
    assert stored(event) == before


def test_saving_a_changed_event_is_refused(event):
    event.action = "shipment.approved"
    with refused():
        event.save()
    assert AuditEvent.objects.get(pk=event.pk).action == "shipment.updated"


@pytest.mark.parametrize(
    "remove",
    [
        lambda e: e.delete(),
        lambda e: AuditEvent.objects.filter(pk=e.pk).delete(),
        lambda e: AuditEvent.objects.all().delete(),
    ],
    ids=["instance", "queryset", "every event"],
)
def test_orm_delete_is_refused(event, remove):
    with refused():
        remove(event)
    assert AuditEvent.objects.count() == 2


def test_raw_sql_update_is_refused(event):
    before = stored(event)
    with refused(), connection.cursor() as cursor:
        cursor.execute("UPDATE core_auditevent SET reason = %s WHERE id = %s", ["Nothing to see", event.pk])
    assert stored(event) == before


def test_raw_sql_delete_is_refused(event):
    with refused(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM core_auditevent")
    assert AuditEvent.objects.count() == 2


@pytest.mark.postgres
def test_truncate_is_refused_on_postgresql(event):
    with refused(), connection.cursor() as cursor:
        # Otherwise the events' deferred FK checks, pending in the test's transaction, stop TRUNCATE first.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("TRUNCATE core_auditevent")
    assert AuditEvent.objects.count() == 2


def test_events_are_still_appended(event):
    record_event(actor=None, action="shipment.noted", target=event.shipment, shipment=event.shipment)
    assert list(AuditEvent.objects.order_by("sequence").values_list("sequence", flat=True)) == [1, 2, 3]


def test_lifting_the_guard_lasts_only_as_long_as_its_block(event):
    with audit_guard_lifted():
        AuditEvent.objects.filter(pk=event.pk).update(reason="Corrected by the DBA")
    with refused():
        AuditEvent.objects.filter(pk=event.pk).update(reason="And again")
    assert stored(event)[0] == "Corrected by the DBA"


def guard_triggers() -> list[str]:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT tgname FROM pg_trigger"
                " WHERE tgrelid = 'core_auditevent'::regclass AND tgenabled <> 'D' AND NOT tgisinternal"
            )
        else:
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'core_auditevent'")
        return sorted(name for (name,) in cursor.fetchall())


def database_url() -> str:
    settings = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{settings['NAME']}"
    credentials = settings["USER"] + (f":{settings['PASSWORD']}" if settings["PASSWORD"] else "")
    return f"postgres://{credentials}@{settings['HOST'] or 'localhost'}:{settings['PORT'] or 5432}/{settings['NAME']}"


# Committed rows, so that a separate `manage.py` process sees them; the flush after the test then has to get past
# the guard as well (tests/conftest.py).
@pytest.mark.django_db(transaction=True)
def test_manage_py_verify_audit_exits_non_zero_on_a_committed_rewrite(world, tmp_path):
    shipment = world.shipment()
    first = record_event(actor=world.alice, action="shipment.created", target=shipment, shipment=shipment)
    record_event(actor=world.alice, action="shipment.updated", target=shipment, shipment=shipment)
    guard = guard_triggers()
    assert len(guard) == 2
    with audit_guard_lifted():
        AuditEvent.objects.filter(pk=first.pk).update(reason="Backdated approval")
    assert guard_triggers() == guard

    env = {key: value for key, value in os.environ.items() if key not in SERVER_VARIABLES}
    env.update(
        DJANGO_SETTINGS_MODULE="ior_platform.settings.local",
        DATABASE_URL=database_url(),
        IOR_VAR_DIR=str(tmp_path),
    )
    result = subprocess.run(
        [venv_python(), "manage.py", "verify_audit"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode != 0, result.stdout
    assert f"BROKEN chain=shipment:{shipment.pk} sequence=1 event={first.pk}" in result.stderr
    with refused():
        AuditEvent.objects.filter(pk=first.pk).delete()

    call_command("flush", interactive=False, verbosity=0)
    assert not AuditEvent.objects.exists()
    assert guard_triggers() == guard, "the flush put the guard back"


@pytest.fixture
def staff(db, client):
    user = User.objects.create_superuser("root", "root@example.com", "correct-horse-battery")
    client.force_login(user)
    return user


@pytest.fixture
def submitted(world):
    return force_status(world.shipment(), ShipmentStatus.PERMIT_COLLECTION)


def shipment_url(shipment: Shipment) -> str:
    return reverse("admin:shipments_shipment_change", args=[shipment.pk])


def test_admin_change_to_a_submitted_shipment_without_a_reason_saves_nothing(client, staff, submitted):
    events = AuditEvent.objects.count()
    data = form_data(client.get(shipment_url(submitted)))
    data.update(airway_bill="176-12345675")

    response = client.post(shipment_url(submitted), data)

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["change_reason"] == ["This field is required."]
    assert Shipment.objects.get(pk=submitted.pk).airway_bill == ""
    assert AuditEvent.objects.count() == events


def test_admin_change_to_a_submitted_shipment_is_saved_and_audited_with_its_reason(client, staff, submitted):
    page = client.get(shipment_url(submitted))
    assert b"Reason for the change" in page.content
    data = form_data(page)
    data.update(airway_bill="176-12345675", change_reason="  Courier issued a new airway bill  ")

    response = client.post(shipment_url(submitted), data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    assert Shipment.objects.get(pk=submitted.pk).airway_bill == "176-12345675"
    event = AuditEvent.objects.filter(shipment=submitted).latest("sequence")
    assert (event.action, event.actor) == ("shipment.changed_in_admin", staff)
    assert event.changes == {"airway_bill": ["", "176-12345675"]}
    assert event.reason == "Courier issued a new airway bill"


def test_admin_change_to_an_item_of_a_submitted_shipment_needs_the_reason_too(client, staff, submitted):
    data = form_data(client.get(shipment_url(submitted)))
    data["items-0-lot_number"] = "B-42"

    refused_response = client.post(shipment_url(submitted), data)

    assert refused_response.context["adminform"].form.errors["change_reason"] == ["This field is required."]
    assert submitted.items.get().lot_number != "B-42"

    data["change_reason"] = "Lot number from the CoA"
    assert client.post(shipment_url(submitted), data).status_code == 302
    event = AuditEvent.objects.filter(shipment=submitted).latest("sequence")
    assert (event.action, event.reason) == ("shipmentitem.changed_in_admin", "Lot number from the CoA")
    assert event.changes["lot_number"][1] == "B-42"


def test_admin_change_to_a_document_of_a_submitted_shipment_needs_a_reason(client, staff, world, requirements):
    shipment = world.shipment()
    document = Document.objects.create(
        shipment=shipment,
        requirement=requirements[0],
        side="import",
        document_type="import_permit",
        owed_by_role="ior",
        due_date=shipment.planned_ship_date,
    )
    force_status(shipment, ShipmentStatus.DOSSIER_REVIEW)
    url = reverse("admin:documents_document_change", args=[document.pk])
    data = form_data(client.get(url))
    data["due_date"] = "2030-01-15"

    assert client.post(url, data).context["adminform"].form.errors["change_reason"] == ["This field is required."]

    data["change_reason"] = "ANVISA extended the deadline"
    assert client.post(url, data).status_code == 302
    event = AuditEvent.objects.filter(shipment=shipment).latest("sequence")
    assert (event.action, event.reason) == ("document.changed_in_admin", "ANVISA extended the deadline")


def test_a_draft_is_changed_in_the_admin_without_a_reason(client, staff, world):
    draft = world.shipment()
    page = client.get(shipment_url(draft))
    assert "change_reason" not in page.context["adminform"].form.fields
    data = form_data(page)
    data.update(airway_bill="176-12345675")

    assert client.post(shipment_url(draft), data).status_code == 302
    assert AuditEvent.objects.filter(shipment=draft).latest("sequence").reason == ""


def test_role_grants_changed_in_the_admin_are_audited(client, staff, world):
    url = reverse("admin:parties_user_change", args=[world.victor.pk])
    data = form_data(client.get(url))
    # The admin splits the timestamp into a date and a time input.
    joined = timezone.localtime(data.pop("date_joined"))
    data.update({"date_joined_0": joined.date().isoformat(), "date_joined_1": joined.time().isoformat()})
    data["memberships-0-role"] = "editor"

    response = client.post(url, data)

    assert response.status_code == 302, response.context["errors"]
    assert world.victor.memberships.get().role == "editor"
    event = AuditEvent.objects.filter(chain=f"organization:{world.sponsor_a.pk}").latest("sequence")
    assert (event.action, event.actor) == ("membership.changed_in_admin", staff)
    assert event.changes == {"role": ["viewer", "editor"]}
    assert Membership.objects.filter(user=world.victor).count() == 1
