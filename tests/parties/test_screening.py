"""Restricted-party screening: the list loader, fuzzy matching, clearing false positives and export blockers."""

from io import StringIO
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from ior_platform.core.errors import ConflictError, NotPermitted, TransitionRefused
from ior_platform.core.models import AuditEvent
from parties.models import Address, Screening, ScreeningListEntry, ScreeningStatus
from parties.screening import (
    ScreeningUnavailable,
    normalise_name,
    organization_screen,
    screening_blockers,
    screening_clear,
)
from parties.services import organization_create, organization_update
from parties.tasks import screen_organization
from tests.factories import OrganizationFactory, UserFactory

DATA = Path(__file__).resolve().parent.parent / "data" / "screening"
SAMPLE = DATA / "csl_sample.csv"

pytestmark = pytest.mark.django_db


def load(path: Path = SAMPLE, *args: str) -> str:
    out = StringIO()
    call_command("load_screening_list", str(path), *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def listed(db):
    load()


@pytest.fixture
def acme(world, listed):
    """A consignee whose name is on the (fictional part of the) Entity List, in a shipment the US EOR exports."""
    org = OrganizationFactory(name="Acme Trading Ltd", country="HK", roles=["consignee"])
    world.shipment(consignee=org)
    return org


@pytest.fixture
def erin(world):
    """A reviewer at the exporter of record."""
    return UserFactory(username="erin", organization=world.eor, roles=["reviewer"])


@pytest.fixture
def staff(db):
    return UserFactory(username="root", organization=None, is_staff=True)


def screen(name: str, **fields) -> Screening:
    return organization_screen(organization=OrganizationFactory(name=name, **fields))


# Matching -------------------------------------------------------------------------------------------------


def test_normalising_drops_case_punctuation_and_legal_forms():
    assert normalise_name("Harbin General Aircraft Industry Co., Ltd.") == "harbin general aircraft industry"
    assert normalise_name("TNK Trading International S.A.") == "tnk trading international"
    assert normalise_name("Joint Stock Company Russian Agricultural Bank") == "russian agricultural bank"
    assert normalise_name("Ltd") == "ltd"


def test_exact_listed_name_is_a_potential_match(listed):
    screening = screen("Huawei Technologies Co., Ltd.", country="CN")

    assert screening.status == ScreeningStatus.POTENTIAL_MATCH
    assert screening.score == 100
    assert screening.matched_on == "name"
    assert screening.matched_entry.name == "Huawei Technologies Co., Ltd."
    assert screening.matched_entry.source == "Entity List (EL) - Bureau of Industry and Security"
    assert screening.threshold == 88


@pytest.mark.parametrize("name", ["Acme Tradinq Limited", "Acme Trading Ltd", "Trading Acme Co., Ltd."])
def test_misspelt_or_reworded_name_is_a_potential_match(listed, name):
    screening = screen(name)

    assert screening.status == ScreeningStatus.POTENTIAL_MATCH
    assert screening.score >= 88
    assert screening.matched_entry.name == "ACME TRADING LIMITED"


def test_clean_name_is_clear_and_records_the_nearest_entry(world, listed):
    screening = organization_screen(organization=world.sponsor_a)

    assert screening.status == ScreeningStatus.CLEAR
    assert screening.score < 88
    assert screening.hits == []
    assert screening.matched_entry is not None


def test_alias_is_matched_and_reported_as_such(listed):
    screening = screen("Rosselkhozbank")

    assert screening.status == ScreeningStatus.POTENTIAL_MATCH
    assert (screening.matched_on, screening.matched_text) == ("alias", "Rosselkhozbank")
    assert screening.matched_entry.name == "Joint Stock Company Russian Agricultural Bank"


def test_legal_name_is_screened_as_well_as_the_trading_name(listed):
    screening = screen("Harbour Star", legal_name="Acme Global Supply Company Limited")

    assert screening.status == ScreeningStatus.POTENTIAL_MATCH
    assert screening.screened_text == "Acme Global Supply Company Limited"


def test_listed_address_in_the_same_country_is_a_potential_match(listed):
    org = OrganizationFactory(name="Blue Harbour Imports", country="HK")
    address = Address.objects.create(
        organization=org,
        label="Office",
        line1="Unit 5, 12/F, Harbour Centre",
        line2="25 Harbour Road",
        city="Wan Chai, Hong Kong",
        country="HK",
    )

    screening = organization_screen(organization=org)

    assert screening.status == ScreeningStatus.POTENTIAL_MATCH
    assert screening.matched_on == "address"
    assert screening.matched_entry.name == "ACME TRADING LIMITED"

    address.country = "GB"
    address.save()
    assert organization_screen(organization=org).status == ScreeningStatus.CLEAR


def test_threshold_comes_from_settings(listed, settings):
    settings.SCREENING_MATCH_THRESHOLD = 95

    screening = screen("Acme Tradinq Limited")

    assert screening.status == ScreeningStatus.CLEAR
    assert screening.threshold == 95


def test_every_screening_is_recorded_and_audited(world, listed):
    first = organization_screen(organization=world.eor, actor=world.eddie)
    second = organization_screen(organization=world.eor)

    assert list(world.eor.screenings.all()) == [second, first]
    event = AuditEvent.objects.filter(action="organization.screened", target_id=str(first.pk)).get()
    assert event.chain == f"organization:{world.eor.pk}"
    assert event.actor == world.eddie
    assert event.changes["status"] == [None, "clear"]
    assert event.changes["list_version"][1].startswith("csl_sample.csv@sha256:")


def test_screening_without_a_loaded_list_is_refused(world):
    with pytest.raises(ScreeningUnavailable, match="no restricted-party list is loaded"):
        organization_screen(organization=world.eor)
    assert not Screening.objects.exists()


# Clearing -------------------------------------------------------------------------------------------------


def test_clearing_a_match_needs_a_reason(acme, erin):
    screening = organization_screen(organization=acme)

    with pytest.raises(ValidationError) as refused:
        screening_clear(actor=erin, screening=screening, reason="  ")

    assert "reason" in refused.value.message_dict
    screening.refresh_from_db()
    assert screening.status == ScreeningStatus.POTENTIAL_MATCH


def test_eor_reviewer_clears_a_false_positive_on_the_record(acme, erin):
    screening = organization_screen(organization=acme)

    cleared = screening_clear(actor=erin, screening=screening, reason="Different company: HK BR 12345678, est. 2019")

    cleared.refresh_from_db()
    assert cleared.status == ScreeningStatus.CLEARED_FALSE_POSITIVE
    assert cleared.cleared_by == erin
    assert cleared.cleared_at is not None
    event = AuditEvent.objects.get(action="organization.screening_cleared")
    assert event.reason == "Different company: HK BR 12345678, est. 2019"
    assert event.actor == erin
    assert event.chain == f"organization:{acme.pk}"
    assert event.changes["status"] == ["potential_match", "cleared_false_positive"]


@pytest.mark.parametrize("persona", ["alice", "eddie", "rita"])
def test_clearing_is_refused_to_anyone_but_eor_reviewers_and_managers(world, acme, persona):
    screening = organization_screen(organization=acme)

    with pytest.raises(NotPermitted):
        screening_clear(actor=getattr(world, persona), screening=screening, reason="Looks fine to me")

    screening.refresh_from_db()
    assert screening.status == ScreeningStatus.POTENTIAL_MATCH
    assert not AuditEvent.objects.filter(action="organization.screening_cleared").exists()


def test_a_screening_of_an_organization_the_reviewer_cannot_see_is_missing_to_them(world, listed, erin):
    screening = organization_screen(organization=world.sponsor_b)

    with pytest.raises(Screening.DoesNotExist):
        screening_clear(actor=erin, screening=screening, reason="Not ours to judge")


def test_charlie_sees_no_screening_of_sponsor_a(world, listed):
    organization_screen(organization=world.sponsor_a)
    own = organization_screen(organization=world.sponsor_b)

    assert list(Screening.objects.for_user(world.charlie)) == [own]


def test_platform_staff_may_clear(acme, staff):
    screening = organization_screen(organization=acme)

    assert screening_clear(actor=staff, screening=screening, reason="Verified registry").cleared_by == staff


def test_only_the_latest_potential_match_can_be_cleared(world, acme, erin):
    clear = organization_screen(organization=world.sponsor_a)
    with pytest.raises(TransitionRefused, match="only a potential match can be cleared"):
        screening_clear(actor=erin, screening=clear, reason="n/a")

    stale = organization_screen(organization=acme)
    organization_screen(organization=acme)
    with pytest.raises(ConflictError, match="screened again since"):
        screening_clear(actor=erin, screening=stale, reason="Different company")


def test_the_database_refuses_a_clearance_without_reason_or_reviewer(acme, erin):
    screening = organization_screen(organization=acme)

    for missing in ({"cleared_by": None}, {"clearance_reason": ""}):
        fields = {"cleared_by": erin, "cleared_at": timezone.now(), "clearance_reason": "Different company", **missing}
        with pytest.raises(IntegrityError), transaction.atomic():
            Screening.objects.filter(pk=screening.pk).update(status=ScreeningStatus.CLEARED_FALSE_POSITIVE, **fields)


def test_a_cleared_false_positive_stays_cleared_until_something_new_matches(acme, erin):
    cleared = screening_clear(actor=erin, screening=organization_screen(organization=acme), reason="Different company")

    again = organization_screen(organization=acme)

    assert again.status == ScreeningStatus.CLEARED_FALSE_POSITIVE
    assert again.carried_over_from == cleared
    assert (again.cleared_by, again.clearance_reason) == (erin, "Different company")

    acme.legal_name = "Kestrel Logistics Limited"
    acme.save()
    assert organization_screen(organization=acme).status == ScreeningStatus.POTENTIAL_MATCH


# Blockers for export clearance -------------------------------------------------------------------------------


def test_blockers_name_an_uncleared_match_and_nothing_once_cleared(world, acme, erin):
    screening = organization_screen(organization=acme)

    assert screening_blockers([world.eor, acme]) == [
        "Acme Trading Ltd is a potential match (score 100) for 'ACME TRADING LIMITED' on the Entity List; "
        "a reviewer must clear it"
    ]

    screening_clear(actor=erin, screening=screening, reason="Different company")
    assert screening_blockers([world.eor, acme]) == []


def test_blockers_screen_an_organization_never_screened(acme):
    assert not acme.screenings.exists()

    reasons = screening_blockers([acme, None])

    assert len(reasons) == 1
    assert acme.screenings.get().status == ScreeningStatus.POTENTIAL_MATCH


def test_blockers_that_must_not_write_report_a_missing_screening(acme):
    assert screening_blockers([acme], rescreen=False) == [
        "Acme Trading Ltd has not been screened against the current restricted-party list"
    ]
    assert not acme.screenings.exists()


def test_blockers_say_nothing_when_no_list_is_loaded(world):
    assert screening_blockers([world.eor, world.sponsor_a]) == []


def test_blockers_report_an_alias_match_with_what_was_listed(listed):
    org = OrganizationFactory(name="Rosselkhozbank")

    assert screening_blockers([org]) == [
        "Rosselkhozbank is a potential match (score 100) for 'Joint Stock Company Russian Agricultural Bank' on "
        "the Non-SDN Menu-Based Sanctions List (listed as 'Rosselkhozbank'); a reviewer must clear it"
    ]


# Loading lists ----------------------------------------------------------------------------------------------


def test_loading_the_sample_list(db):
    output = load()

    assert "Loaded 15 entries from csl_sample.csv (15 new, 0 changed)" in output
    assert ScreeningListEntry.objects.count() == 15
    huawei = ScreeningListEntry.objects.get(name="Huawei Technologies Co., Ltd.")
    assert huawei.alt_names == ["Huawei"]
    assert huawei.countries == ["CN"]
    assert str(huawei.start_date) == "2019-05-16"
    assert huawei.list_name == "Entity List"


def test_a_party_listed_at_two_addresses_is_one_entry(listed):
    acme = ScreeningListEntry.objects.get(name="ACME TRADING LIMITED")

    assert acme.countries == ["HK", "CN"]
    assert len(acme.addresses.splitlines()) == 2


def test_loading_the_same_file_twice_changes_nothing(db):
    load()
    before = list(ScreeningListEntry.objects.order_by("pk").values("pk", "source", "entry_key", "name", "alt_names"))

    output = load()

    assert "(0 new, 0 changed)" in output
    assert list(ScreeningListEntry.objects.order_by("pk").values(*before[0])) == before


def test_replacing_delists_entries_missing_from_the_file(listed, tmp_path):
    lines = SAMPLE.read_text().splitlines()
    smaller = tmp_path / "csl_smaller.csv"
    smaller.write_text("\n".join([lines[0], *[line for line in lines[1:] if "Huawei" not in line]]) + "\n")

    output = load(smaller, "--replace")

    assert "1 delisted" in output
    assert ScreeningListEntry.objects.filter(delisted_at__isnull=False).get().name == "Huawei Technologies Co., Ltd."
    assert screen("Huawei Technologies Co., Ltd.").status == ScreeningStatus.CLEAR


@pytest.mark.parametrize(
    ("filename", "message"),
    [
        ("missing_name_column.csv", "missing_name_column.csv has no 'name' column"),
        ("empty.csv", "empty.csv is empty"),
        ("header_only.csv", "header_only.csv has a header but no entries"),
        ("empty_name.csv", "empty_name.csv line 3: the entry has no name"),
        ("no_such_file.csv", "cannot read"),
    ],
)
def test_bad_list_files_are_refused_with_the_reason_and_nothing_loaded(db, filename, message):
    with pytest.raises(CommandError, match=message) as refused:
        load(DATA / filename)

    assert "\n" not in str(refused.value)
    assert not ScreeningListEntry.objects.exists()


def test_a_refused_file_leaves_the_loaded_list_as_it_was(listed):
    with pytest.raises(CommandError):
        load(DATA / "empty_name.csv", "--replace")

    assert ScreeningListEntry.objects.filter(delisted_at__isnull=True).count() == 15


# Screening on creation and change -------------------------------------------------------------------------


def test_organization_create_screens_only_after_commit(listed, staff, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        org = organization_create(actor=staff, name="Acme Trading Ltd", country="HK", roles=["consignee"])
        assert not Screening.objects.exists()

    assert len(callbacks) == 1
    assert org.screenings.get().status == ScreeningStatus.POTENTIAL_MATCH
    assert org.has_role("consignee")
    assert AuditEvent.objects.filter(action="organization.created", target_id=str(org.pk)).exists()


def test_organization_create_rolled_back_dispatches_nothing(listed, staff, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks, pytest.raises(RuntimeError), transaction.atomic():
        organization_create(actor=staff, name="Acme Trading Ltd", country="HK")
        raise RuntimeError("the caller failed after creating it")

    assert callbacks == []
    assert not Screening.objects.exists()


def test_organization_create_is_for_platform_staff(world, listed):
    with pytest.raises(NotPermitted):
        organization_create(actor=world.mona, name="Acme Trading Ltd", country="HK")


def test_organization_update_screens_a_new_name_only(world, listed, staff, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        organization_update(actor=staff, organization=world.courier, website="https://coldchain.example")
    assert callbacks == []

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        organization_update(actor=world.mona, organization=world.sponsor_a, name="Kestrel Logistics")

    assert len(callbacks) == 1
    assert world.sponsor_a.screenings.get().status == ScreeningStatus.POTENTIAL_MATCH
    event = AuditEvent.objects.get(action="organization.updated", target_id=str(world.sponsor_a.pk))
    assert event.changes == {"name": ["Sponsor A Pharma", "Kestrel Logistics"]}


def test_saving_an_organization_in_the_admin_screens_it_after_commit(
    listed, client, django_capture_on_commit_callbacks
):
    client.force_login(UserFactory(username="root", organization=None, is_staff=True, is_superuser=True))
    data = {"name": "Acme Trading Ltd", "country": "HK", "is_active": "on"}
    for prefix in ("roles", "addresses", "contacts", "licences"):
        data |= {f"{prefix}-TOTAL_FORMS": "0", f"{prefix}-INITIAL_FORMS": "0"}

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client.post(reverse("admin:parties_organization_add"), data)

    assert response.status_code == 302
    assert len(callbacks) == 1
    assert Screening.objects.get().status == ScreeningStatus.POTENTIAL_MATCH


def test_a_repeated_screening_task_records_one_screening(acme):
    first = screen_organization(acme.pk)

    assert screen_organization(acme.pk) == first
    assert acme.screenings.count() == 1


def test_screening_task_without_a_list_does_nothing(world):
    assert screen_organization(world.eor.pk) is None


def test_lists_and_screenings_can_be_read_but_not_edited_in_the_admin(acme, client):
    client.force_login(UserFactory(username="root", organization=None, is_staff=True, is_superuser=True))
    screening = organization_screen(organization=acme)
    entry = screening.matched_entry

    for name, obj in (("screeninglistentry", entry), ("screening", screening)):
        assert client.get(reverse(f"admin:parties_{name}_changelist")).status_code == 200
        page = client.get(reverse(f"admin:parties_{name}_change", args=[obj.pk]))
        assert page.status_code == 200
        assert b'name="_save"' not in page.content
        assert client.get(reverse(f"admin:parties_{name}_add")).status_code == 403
