"""A user's own settings through parties.services: the notification preference and the time zone saved together,
and an unknown zone refused whatever the entry point."""

import pytest
from django.core.exceptions import ValidationError

from parties.models import NotificationPreference
from parties.services import user_preferences_set


def test_preferences_set_saves_the_mode_hour_and_zone_together(world):
    user_preferences_set(actor=world.alice, email_mode="digest", digest_hour=18, time_zone="America/Sao_Paulo")
    preference = NotificationPreference.objects.get(user=world.alice)
    assert (preference.email_mode, preference.digest_hour) == ("digest", 18)
    world.alice.refresh_from_db()
    assert world.alice.time_zone == "America/Sao_Paulo"
    world.charlie.refresh_from_db()
    assert world.charlie.time_zone == "UTC"


@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "../etc/passwd", ""])
def test_preferences_set_refuses_an_unknown_zone_and_saves_nothing(world, zone):
    with pytest.raises(ValidationError) as refused:
        user_preferences_set(actor=world.alice, email_mode="off", digest_hour=None, time_zone=zone)
    assert set(refused.value.message_dict) == {"time_zone"}
    assert not NotificationPreference.objects.filter(user=world.alice).exists()
    world.alice.refresh_from_db()
    assert world.alice.time_zone == "UTC"
