"""Permits and importer licences that lapse before an open shipment's ship date are chased once."""

from io import StringIO

from django.core.management import call_command

from compliance.expiry import chase_expiries
from compliance.models import ExpiryReminder, Permit
from parties.models import Notification
from shipments import services
from tests.conftest import days


def test_a_permit_lapsing_before_the_ship_date_warns_holder_and_sponsor_once(world, requirements, brazil_permit):
    shipment = services.shipment_submit(actor=world.alice, shipment=world.shipment())
    Permit.objects.filter(pk=brazil_permit.pk).update(valid_until=days(10))
    assert chase_expiries() == {"permit": 1, "licence": 0}
    assert chase_expiries() == {"permit": 0, "licence": 0}
    reminder = ExpiryReminder.objects.get()
    assert (reminder.shipment, reminder.permit, reminder.expires_on) == (shipment, brazil_permit, days(10))
    recipients = set(Notification.objects.values_list("recipient__username", flat=True))
    assert recipients == {"ivan", "imelda", "alice", "mona"}
    assert "charlie" not in recipients


def test_an_import_licence_lapsing_before_the_ship_date_warns_the_ior_managers(world, requirements):
    services.shipment_submit(actor=world.alice, shipment=world.shipment())
    world.ior.licences.update(valid_until=days(5))
    assert chase_expiries() == {"permit": 0, "licence": 1}
    assert set(Notification.objects.values_list("recipient__username", flat=True)) == {"imelda", "alice", "mona"}


def test_valid_authorisations_and_drafts_are_not_chased(world, requirements, brazil_permit):
    world.shipment()
    Permit.objects.filter(pk=brazil_permit.pk).update(valid_until=days(5))
    assert chase_expiries() == {"permit": 0, "licence": 0}


def test_the_command_reports_expiry_warnings(world, requirements, brazil_permit):
    services.shipment_submit(actor=world.alice, shipment=world.shipment())
    Permit.objects.filter(pk=brazil_permit.pk).update(valid_until=days(10))
    out = StringIO()
    call_command("chase_deadlines", stdout=out)
    assert "Expiry warnings sent: 1 for permits, 0 for import licences" in out.getvalue()
