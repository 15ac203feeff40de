"""Times on pages are shown in the reader's own time zone, with the zone named: the `when` filter, the
`status_badge` tag and UserTimeZoneMiddleware, which activates User.time_zone for each page and nothing else."""

import zoneinfo
from datetime import UTC, date, datetime

import pytest
from django.contrib.auth.models import AnonymousUser
from django.http import HttpResponse
from django.template import Context, Template
from django.test import RequestFactory
from django.utils import timezone

from ior_platform.core.middleware import UserTimeZoneMiddleware
from ior_platform.core.templatetags.ui import status_badge, when
from parties.models import Notification

MOMENT = datetime(2026, 12, 4, 12, 15, tzinfo=UTC)


@pytest.fixture
def in_zone():
    def activate(name):
        timezone.activate(zoneinfo.ZoneInfo(name))

    yield activate
    timezone.deactivate()


def test_sao_paulo_reader_sees_local_time_with_the_zone_named(in_zone):
    in_zone("America/Sao_Paulo")
    assert when(MOMENT) == "4 Dec 2026 09:15 -03 (America/Sao_Paulo)"
    assert when(MOMENT, "short") == "4 Dec 2026 09:15 -03"


def test_a_zone_whose_abbreviation_is_its_name_is_named_once(in_zone):
    in_zone("UTC")
    assert when(MOMENT) == "4 Dec 2026 12:15 UTC"


def test_daylight_saving_changes_the_abbreviation_not_the_zone(in_zone):
    in_zone("Europe/Berlin")
    assert when(MOMENT) == "4 Dec 2026 13:15 CET (Europe/Berlin)"
    assert when(datetime(2026, 7, 4, 12, 15, tzinfo=UTC)) == "4 Jul 2026 14:15 CEST (Europe/Berlin)"


def test_without_an_active_zone_times_are_utc(db):
    timezone.deactivate()
    assert when(MOMENT) == "4 Dec 2026 12:15 UTC"


def test_a_date_is_shown_as_a_date_in_no_zone(in_zone):
    in_zone("America/Sao_Paulo")
    assert when(date(2026, 12, 4)) == "4 Dec 2026"


@pytest.mark.parametrize("empty", [None, ""])
def test_nothing_is_a_dash(empty):
    assert when(empty) == "—"


def test_the_filter_works_in_a_template(in_zone):
    in_zone("Asia/Kolkata")
    html = Template("{% load ui %}{{ moment|when }} / {{ moment|when:'short' }}").render(Context({"moment": MOMENT}))
    assert html == "4 Dec 2026 17:45 IST (Asia/Kolkata) / 4 Dec 2026 17:45 IST"


def test_status_badge_colours_known_statuses_and_escapes_labels():
    assert status_badge("customs_hold", "Customs hold") == (
        '<span class="badge text-bg-warning status-badge" data-status="customs_hold">Customs hold</span>'
    )
    assert 'class="badge text-bg-secondary status-badge"' in status_badge("something_new", "<b>New</b>")
    assert "&lt;b&gt;New&lt;/b&gt;" in status_badge("something_new", "<b>New</b>")


# The middleware


def _zone_seen_by_view(user) -> str:
    request = RequestFactory().get("/")
    request.user = user
    seen = {}

    def view(request):
        seen["zone"] = timezone.get_current_timezone_name()
        return HttpResponse()

    UserTimeZoneMiddleware(view)(request)
    return seen["zone"]


def test_middleware_activates_the_users_zone_for_the_request_only(world):
    world.alice.time_zone = "America/Sao_Paulo"
    assert _zone_seen_by_view(world.alice) == "America/Sao_Paulo"
    assert timezone.get_current_timezone_name() == "UTC"


def test_middleware_leaves_anonymous_visitors_in_utc(db):
    assert _zone_seen_by_view(AnonymousUser()) == "UTC"


def test_middleware_does_not_leak_one_users_zone_into_the_next_request(world):
    world.alice.time_zone = "Asia/Tokyo"
    assert _zone_seen_by_view(world.alice) == "Asia/Tokyo"
    assert _zone_seen_by_view(world.victor) == "UTC"


@pytest.mark.parametrize("stored", ["Mars/Olympus_Mons", "", "../../etc/passwd"])
def test_middleware_falls_back_to_utc_for_a_zone_it_cannot_load(world, stored):
    world.alice.time_zone = stored
    assert _zone_seen_by_view(world.alice) == "UTC"


def test_a_signed_in_page_shows_times_in_the_readers_zone(world, client):
    world.alice.time_zone = "America/Sao_Paulo"
    world.alice.save(update_fields=["time_zone"])
    Notification.objects.create(
        recipient=world.alice, subject="Dossier approved", body="", kind="test", created_at=MOMENT
    )
    client.force_login(world.alice)
    html = client.get("/notifications/").content.decode()
    assert "4 Dec 2026 09:15 -03 (America/Sao_Paulo)" in html
    assert "12:15" not in html


def test_the_same_page_shows_utc_to_a_utc_reader(world, client):
    Notification.objects.create(
        recipient=world.victor, subject="Dossier approved", body="", kind="test", created_at=MOMENT
    )
    client.force_login(world.victor)
    html = client.get("/notifications/").content.decode()
    assert "4 Dec 2026 12:15 UTC" in html
