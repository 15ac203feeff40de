"""The parties API: organizations by the tenancy rule, the caller's own inbox and e-mail preference, and the
organization's API keys (secrets shown once, issued and revoked by managers signed in, never by a key)."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from ior_platform.core.models import AuditEvent, IdempotencyRecord
from parties.api_keys import api_key_issue
from parties.models import (
    Address,
    ApiCall,
    ApiKey,
    Contact,
    EmailMode,
    Notification,
    NotificationPreference,
)
from tests.factories import OrganizationFactory

pytestmark = pytest.mark.django_db


def signed_in(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


def url(name: str, *args) -> str:
    return reverse(f"v1:{name}", args=args)


def results(response) -> list[dict]:
    assert response.status_code == 200, response.content
    return response.json()["results"]


def assert_constant_queries(client, path, django_assert_max_num_queries, *, small=2, large=20):
    with CaptureQueriesContext(connection) as queries:
        first = client.get(path, {"page_size": small})
    assert len(results(first)) == small
    with django_assert_max_num_queries(len(queries)):
        second = client.get(path, {"page_size": large})
    assert len(results(second)) > small


# Organizations


def test_organizations_lists_own_partners_and_shipment_parties_with_roles_and_country(world, api_as):
    world.shipment()
    rows = results(api_as(world.alice).get(url("organization-list"), {"page_size": 50}))
    by_name = {row["name"]: row for row in rows}
    assert set(by_name) == {
        "Sponsor A Pharma",
        "Meridian CRO",
        "Brasil IOR Ltda",
        "US Export Services",
        "Aduana Brokers",
        "ColdChain Couriers",
        "Hospital São Paulo",
    }
    assert by_name["Brasil IOR Ltda"]["roles"] == ["ior"]
    assert by_name["Brasil IOR Ltda"]["country"] == "BR"
    assert by_name["Sponsor A Pharma"]["is_own"] is True
    assert by_name["Meridian CRO"]["is_own"] is False
    assert "addresses" not in by_name["Sponsor A Pharma"]


def test_organizations_filter_by_role_and_country_and_search_by_name(world, api_as):
    world.shipment()
    client = api_as(world.alice)
    assert [r["name"] for r in results(client.get(url("organization-list"), {"role": "ior"}))] == ["Brasil IOR Ltda"]
    brazil = {r["name"] for r in results(client.get(url("organization-list"), {"country": "br"}))}
    assert brazil == {"Brasil IOR Ltda", "Aduana Brokers", "Hospital São Paulo"}
    assert [r["name"] for r in results(client.get(url("organization-list"), {"search": "cold"}))] == [
        "ColdChain Couriers"
    ]
    bad = client.get(url("organization-list"), {"role": "pirate"})
    assert bad.status_code == 400
    assert "role" in bad.json()["errors"]


def test_own_organization_shows_addresses_contacts_and_licences(world, api_as):
    Address.objects.create(organization=world.ior, label="Depot", line1="Rua A 1", city="São Paulo", country="BR")
    Contact.objects.create(organization=world.ior, name="Ana Costa", email="ana@example.test")
    body = api_as(world.rita).get(url("organization-detail", world.ior.pk)).json()
    assert body["is_own"] is True
    assert [a["label"] for a in body["addresses"]] == ["Depot"]
    assert [c["name"] for c in body["contacts"]] == ["Ana Costa"]
    assert [lic["licence_type"] for lic in body["licences"]] == ["import_licence"]


def test_a_partners_contacts_and_licences_are_not_shared(world, api_as):
    world.shipment()
    Contact.objects.create(organization=world.ior, name="Ana Costa", email="ana@example.test")
    response = api_as(world.alice).get(url("organization-detail", world.ior.pk))
    assert response.status_code == 200
    body = response.json()
    assert body["name"] == "Brasil IOR Ltda"
    assert body["addresses"] is None
    assert body["contacts"] is None
    assert body["licences"] is None
    assert "ana@example.test" not in response.content.decode()


def test_charlie_gets_404_on_sponsor_a_organizations_he_shares_no_shipment_with(world, api_as):
    world.shipment()
    client = api_as(world.charlie)
    for organization in (world.sponsor_a, world.ior, world.cro):
        response = client.get(url("organization-detail", organization.pk))
        assert response.status_code == 404
        assert response.json() == {"detail": "Not found."}
    names = {row["name"] for row in results(client.get(url("organization-list")))}
    assert names == {"Sponsor B Biotech"}


def test_organization_list_query_count_is_constant_in_the_page_size(world, django_assert_max_num_queries):
    for n in range(8):
        courier = OrganizationFactory(name=f"Courier {n}", country="US", roles=["courier", "broker"])
        world.shipment(courier=courier)
    assert_constant_queries(signed_in(world.alice), url("organization-list"), django_assert_max_num_queries)


def test_organizations_are_read_only(world, api_as):
    response = api_as(world.alice).post(url("organization-list"), {"name": "Mine"}, format="json")
    assert response.status_code == 405


# Notifications


def note(user, subject="Hello", **extra) -> Notification:
    return Notification.objects.create(recipient=user, subject=subject, body="Body", kind="test", **extra)


def test_inbox_lists_only_the_callers_notifications_newest_first(world, api_as):
    older = note(world.alice, "older")
    newer = note(world.alice, "newer", shipment=world.shipment())
    note(world.mona, "mona's")
    rows = results(api_as(world.alice).get(url("notification-list")))
    assert [row["id"] for row in rows] == [newer.pk, older.pk]
    assert rows[0]["shipment_reference"] == newer.shipment.reference
    assert rows[0]["is_read"] is False


def test_inbox_filters_unread_and_counts_them(world, api_as):
    note(world.alice, "unread")
    note(world.alice, "read", read_at=timezone.now())
    client = api_as(world.alice)
    assert [r["subject"] for r in results(client.get(url("notification-list"), {"unread": "true"}))] == ["unread"]
    assert [r["subject"] for r in results(client.get(url("notification-list"), {"unread": "false"}))] == ["read"]
    assert client.get(url("notification-unread-count")).json() == {"unread": 1}


def test_inbox_leaves_out_notifications_about_shipments_no_longer_visible(world, api_as):
    shipment = world.shipment()
    note(world.carl, "about A's shipment", shipment=shipment)
    world.cro.sponsor_authorisations.update(revoked_at=timezone.now())
    client = api_as(world.carl)
    assert results(client.get(url("notification-list"))) == []
    assert client.get(url("notification-unread-count")).json() == {"unread": 0}


def test_mark_one_read_returns_it_read_and_leaves_the_others(world, api_as):
    first, second = note(world.alice), note(world.alice)
    response = api_as(world.alice).post(url("notification-read", first.pk))
    assert response.status_code == 200
    assert response.json()["is_read"] is True
    assert response.json()["read_at"].endswith("Z")
    second.refresh_from_db()
    assert second.read_at is None


def test_mark_all_read_marks_only_the_callers_inbox(world, api_as):
    note(world.alice)
    note(world.alice)
    monas = note(world.mona)
    response = api_as(world.alice).post(url("notification-read-all"))
    assert response.status_code == 200
    assert response.json() == {"marked": 2}
    assert not Notification.objects.filter(recipient=world.alice, read_at__isnull=True).exists()
    monas.refresh_from_db()
    assert monas.read_at is None


def test_charlie_gets_404_on_alices_notifications(world, api_as):
    alices = note(world.alice, "secret subject")
    client = api_as(world.charlie)
    for response in (
        client.get(url("notification-detail", alices.pk)),
        client.post(url("notification-read", alices.pk)),
    ):
        assert response.status_code == 404
        assert "secret subject" not in response.content.decode()
    alices.refresh_from_db()
    assert alices.read_at is None


def test_a_read_only_key_cannot_mark_notifications_read(world, api_as):
    alices = note(world.alice)
    response = api_as(world.alice, scope="read").post(url("notification-read", alices.pk))
    assert response.status_code == 403
    assert "read-only" in response.json()["detail"]


def test_notification_list_query_count_is_constant_in_the_page_size(world, django_assert_max_num_queries):
    shipment = world.shipment()
    for n in range(8):
        note(world.alice, f"n{n}", shipment=shipment if n % 2 else None)
    assert_constant_queries(signed_in(world.alice), url("notification-list"), django_assert_max_num_queries)


# Notification preferences


def test_preference_defaults_to_immediate_and_can_be_changed(world, api_as):
    client = api_as(world.alice)
    assert client.get(url("notification-preferences-me")).json() == {"email_mode": "immediate", "digest_hour": 7}
    response = client.put(url("notification-preferences-me"), {"email_mode": "digest", "digest_hour": 18})
    assert response.status_code == 200
    assert response.json() == {"email_mode": "digest", "digest_hour": 18}
    saved = NotificationPreference.objects.get(user=world.alice)
    assert (saved.email_mode, saved.digest_hour) == (EmailMode.DIGEST, 18)
    kept = client.put(url("notification-preferences-me"), {"email_mode": "off"})
    assert kept.json() == {"email_mode": "off", "digest_hour": 18}


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"email_mode": "hourly"}, "email_mode", '"hourly" is not a valid choice.'),
        ({"email_mode": "digest", "digest_hour": 24}, "digest_hour", "less than or equal to 23"),
        ({"digest_hour": 8}, "email_mode", "This field is required."),
        ({"email_mode": "off", "user": 1}, "user", "Unknown field."),
    ],
)
def test_preference_refuses_bad_input(world, api_as, body, field, message):
    response = api_as(world.alice).put(url("notification-preferences-me"), body)
    assert response.status_code == 400
    assert message in " ".join(response.json()["errors"][field])
    assert not NotificationPreference.objects.exists()


def test_preferences_are_per_user(world, api_as):
    api_as(world.alice).put(url("notification-preferences-me"), {"email_mode": "off"})
    assert api_as(world.charlie).get(url("notification-preferences-me")).json()["email_mode"] == "immediate"


# API keys


def issue(world, *, owner=None, scope="read", **extra):
    return api_key_issue(
        actor=world.mona, organization=world.sponsor_a, owner=owner or world.alice, name="RTSM", scope=scope, **extra
    )


def test_key_list_shows_the_organizations_keys_without_secrets(world, api_as):
    key, secret = issue(world)
    api_key_issue(actor=world.charlie, organization=world.sponsor_b, owner=world.charlie, name="B's", scope="read")
    response = api_as(world.victor, scope="read").get(url("api-key-list"))
    rows = results(response)
    assert {row["name"] for row in rows} == {"RTSM", "test key of victor"}
    row = next(r for r in rows if r["id"] == key.pk)
    assert row["prefix"] == key.prefix
    assert row["owner"]["username"] == "alice"
    assert row["scope"] == "read"
    assert row["is_usable"] is True
    assert "secret" not in row
    assert "secret_hash" not in row
    assert secret not in response.content.decode()
    assert key.secret_hash not in response.content.decode()


def test_manager_issues_a_key_whose_secret_is_shown_once_and_works(world):
    client = signed_in(world.mona)
    response = client.post(
        url("api-key-list"), {"name": "RTSM production", "scope": "write", "owner": world.alice.pk}, format="json"
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["secret"].startswith(body["prefix"] + "_")
    assert body["owner"]["username"] == "alice"
    assert body["created_by"]["username"] == "mona"
    key = ApiKey.objects.get(pk=body["id"])
    assert body["secret"] not in {key.secret_hash, key.prefix}
    assert AuditEvent.objects.filter(action="apikey.issue", target_id=str(key.pk)).exists()

    as_key = APIClient()
    as_key.credentials(HTTP_AUTHORIZATION=f"Bearer {body['secret']}")
    assert as_key.get(url("notification-list")).status_code == 200
    listed = client.get(url("api-key-list")).content.decode()
    detail = client.get(url("api-key-detail", key.pk)).content.decode()
    assert body["secret"] not in listed
    assert body["secret"] not in detail


def test_issued_key_defaults_to_the_caller_read_scope_and_no_expiry(world):
    body = signed_in(world.mona).post(url("api-key-list"), {"name": "Reporting"}, format="json").json()
    assert (body["owner"]["username"], body["scope"], body["expires_at"]) == ("mona", "read", None)


def test_idempotent_retry_of_an_issue_answers_the_same_key_without_storing_its_secret(world):
    client = signed_in(world.mona)
    headers = {"HTTP_IDEMPOTENCY_KEY": "issue-1"}
    first = client.post(url("api-key-list"), {"name": "RTSM"}, format="json", **headers)
    again = client.post(url("api-key-list"), {"name": "RTSM"}, format="json", **headers)
    assert first.status_code == again.status_code == 201
    assert first.json()["secret"]
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == {**first.json(), "secret": None}
    assert ApiKey.objects.count() == 1
    stored = bytes(IdempotencyRecord.objects.get(key="issue-1").response_body)
    assert first.json()["secret"].encode() not in stored


def test_non_manager_cannot_issue_a_key(world):
    response = signed_in(world.alice).post(url("api-key-list"), {"name": "Mine", "scope": "write"}, format="json")
    assert response.status_code == 403
    assert response.json()["reasons"] == ["Only a manager of the organization can issue or revoke its API keys."]
    assert not ApiKey.objects.exists()


def test_an_api_key_cannot_issue_or_revoke_keys(world, api_as):
    key, _ = issue(world)
    client = api_as(world.mona, scope="write")
    for response in (
        client.post(url("api-key-list"), {"name": "Minted by a key"}, format="json"),
        client.post(url("api-key-revoke", key.pk)),
    ):
        assert response.status_code == 403
        assert response.json()["detail"] == (
            "API keys cannot issue or revoke API keys: a manager does it signed in to the platform."
        )
    key.refresh_from_db()
    assert key.revoked_at is None
    assert ApiKey.objects.filter(name="Minted by a key").count() == 0


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"name": "", "scope": "read"}, "name", "This field may not be blank."),
        ({"name": "K", "scope": "admin"}, "scope", '"admin" is not a valid choice.'),
        ({"name": "K", "organization": 1}, "organization", "Unknown field."),
        ({"name": "K", "secret_hash": "0" * 64}, "secret_hash", "Unknown field."),
        ({"name": "K", "expires_at": "2000-01-01T00:00:00Z"}, "expires_at", "The expiry must be in the future."),
    ],
)
def test_issue_refuses_bad_input(world, body, field, message):
    response = signed_in(world.mona).post(url("api-key-list"), body, format="json")
    assert response.status_code == 400
    assert message in response.json()["errors"][field]
    assert not ApiKey.objects.exists()


def test_issue_refuses_an_owner_from_another_organization_like_a_missing_one(world):
    client = signed_in(world.mona)
    other = client.post(url("api-key-list"), {"name": "K", "owner": world.charlie.pk}, format="json")
    missing = client.post(url("api-key-list"), {"name": "K", "owner": 999999}, format="json")
    assert other.status_code == missing.status_code == 400
    assert (
        other.json()
        == missing.json()
        == {
            "detail": "Invalid input.",
            "errors": {"owner": ["No such user in your organization."]},
        }
    )


def test_revoked_key_fails_authentication_with_401(world, api_as):
    client = api_as(world.alice)
    key = ApiKey.objects.get(owner=world.alice)
    assert client.get(url("notification-list")).status_code == 200
    response = signed_in(world.mona).post(url("api-key-revoke", key.pk), {"reason": "rotated"}, format="json")
    assert response.status_code == 200
    assert response.json()["revoked_by"]["username"] == "mona"
    assert response.json()["is_usable"] is False
    refused = client.get(url("notification-list"))
    assert refused.status_code == 401
    assert refused.json() == {"detail": "Unknown, expired or revoked API key."}
    event = AuditEvent.objects.get(action="apikey.revoke")
    assert event.reason == "rotated"


def test_non_manager_cannot_revoke_a_key(world):
    key, _ = issue(world)
    response = signed_in(world.alice).post(url("api-key-revoke", key.pk))
    assert response.status_code == 403
    key.refresh_from_db()
    assert key.revoked_at is None


def test_revoke_refuses_a_stale_if_match(world):
    key, _ = issue(world)
    response = signed_in(world.mona).post(url("api-key-revoke", key.pk), HTTP_IF_MATCH='"stale"')
    assert response.status_code == 412
    key.refresh_from_db()
    assert key.revoked_at is None


def test_expired_key_fails_authentication_with_401(world, api_as):
    client = api_as(world.alice)
    ApiKey.objects.filter(owner=world.alice).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert client.get(url("organization-list")).status_code == 401


def test_key_calls_lists_what_the_key_did(world, api_as):
    client = api_as(world.alice, scope="read")
    key = ApiKey.objects.get(owner=world.alice)
    client.get(url("organization-list"))
    client.post(url("notification-read-all"))
    rows = results(signed_in(world.mona).get(url("api-key-calls", key.pk)))
    assert [(r["method"], r["path"], r["status_code"]) for r in rows] == [
        ("POST", url("notification-read-all"), 403),
        ("GET", url("organization-list"), 200),
    ]
    assert rows[0]["owner"] == world.alice.pk


def test_charlie_gets_404_on_sponsor_a_keys(world):
    key, _ = issue(world)
    ApiCall.objects.create(key=key, owner=world.alice, method="GET", path="/api/v1/secret/", status_code=200)
    client = signed_in(world.charlie)
    assert results(client.get(url("api-key-list"))) == []
    for response in (
        client.get(url("api-key-detail", key.pk)),
        client.get(url("api-key-calls", key.pk)),
        client.post(url("api-key-revoke", key.pk)),
    ):
        assert response.status_code == 404
        assert response.json() == {"detail": "Not found."}
    key.refresh_from_db()
    assert key.revoked_at is None


def test_partners_do_not_see_each_others_keys(world):
    issue(world)
    world.shipment()
    assert results(signed_in(world.imelda).get(url("api-key-list"))) == []


def test_key_list_query_count_is_constant_in_the_page_size(world, django_assert_max_num_queries):
    for _ in range(6):
        issue(world)
    assert_constant_queries(signed_in(world.mona), url("api-key-list"), django_assert_max_num_queries)


def test_unauthenticated_calls_get_401(world):
    assert APIClient().get(url("organization-list")).status_code == 401
    bad = APIClient()
    bad.credentials(HTTP_AUTHORIZATION="Bearer ior_nothing_" + "x" * 40)
    assert bad.get(url("organization-list")).status_code == 401
