"""The promises every endpoint inherits from the base classes: keys, scopes, errors, idempotency, ETags,
throttling, pagination caps and the audit of key calls."""

from datetime import UTC, timedelta

import pytest
from django.core.cache import cache
from django.test import override_settings
from django.utils import timezone
from rest_framework.test import APIClient

from ior_platform.core.api.viewsets import TenantViewSet
from ior_platform.core.audit import verify_chains
from ior_platform.core.models import AuditEvent, IdempotencyRecord
from parties.api_keys import api_key_issue, api_key_lookup, api_key_revoke
from parties.models import ApiCall, ApiKey
from tests.core import api_test_urls

pytestmark = pytest.mark.urls("tests.core.api_test_urls")


@pytest.fixture(autouse=True)
def _fresh_counters():
    api_test_urls.EchoView.calls = 0
    cache.clear()


def test_unknown_key_is_401_with_the_error_shape(world):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer ior_nosuchke_" + "x" * 40)
    response = client.get("/api/v1/probe/")
    assert response.status_code == 401
    assert response.json() == {"detail": "Unknown, expired or revoked API key."}
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_no_credentials_is_401(world):
    assert APIClient().get("/api/v1/probe/").status_code == 401


def test_issued_key_authenticates_as_its_owner_and_only_its_hash_is_stored(world):
    key, raw = api_key_issue(actor=world.mona, organization=world.sponsor_a, owner=world.alice, name="RTSM")
    assert raw.startswith(key.prefix + "_")
    assert raw not in key.secret_hash and len(key.secret_hash) == 64
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    shipment = world.shipment()
    assert client.get(f"/api/v1/probe/{shipment.pk}/").status_code == 200
    assert AuditEvent.objects.filter(action="apikey.issue", target_id=str(key.pk)).exists()


def test_only_a_manager_of_the_organization_issues_keys(world):
    from ior_platform.core.errors import NotPermitted

    with pytest.raises(NotPermitted):
        api_key_issue(actor=world.alice, organization=world.sponsor_a, owner=world.alice, name="mine")
    with pytest.raises(NotPermitted):
        api_key_issue(actor=world.charlie, organization=world.sponsor_a, owner=world.alice, name="theirs")


def test_key_owner_must_belong_to_the_organization(world):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as raised:
        api_key_issue(actor=world.mona, organization=world.sponsor_a, owner=world.charlie, name="x")
    assert "owner" in raised.value.message_dict


def test_revoked_and_expired_keys_stop_working(world):
    key, raw = api_key_issue(actor=world.mona, organization=world.sponsor_a, owner=world.alice, name="a")
    assert api_key_lookup(raw) == key
    api_key_revoke(actor=world.mona, key=key, reason="rotated")
    assert api_key_lookup(raw) is None
    other, raw2 = api_key_issue(
        actor=world.mona,
        organization=world.sponsor_a,
        owner=world.alice,
        name="b",
        expires_at=timezone.now() + timedelta(days=1),
    )
    ApiKey.objects.filter(pk=other.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw2}")
    assert client.get("/api/v1/probe/").status_code == 401


def test_a_deactivated_owner_disables_the_key(world, api_as):
    client = api_as(world.alice)
    world.alice.is_active = False
    world.alice.save()
    assert client.get("/api/v1/probe/").status_code == 401


def test_read_only_key_cannot_write(world, api_as):
    client = api_as(world.alice, scope="read")
    shipment = world.shipment()
    assert client.get(f"/api/v1/probe/{shipment.pk}/").status_code == 200
    response = client.post(f"/api/v1/probe/{shipment.pk}/touch/", {"tracking_number": "X"})
    assert response.status_code == 403
    assert "read-only" in response.json()["detail"]
    shipment.refresh_from_db()
    assert shipment.tracking_number == ""


def test_another_tenants_object_is_a_plain_404(world, api_as):
    shipment = world.shipment()
    response = api_as(world.charlie).get(f"/api/v1/probe/{shipment.pk}/")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}
    assert shipment.reference not in response.content.decode()


def test_every_key_call_is_logged_and_audited_as_the_owner_via_the_key(world, api_as):
    client = api_as(world.alice)
    shipment = world.shipment()
    client.get("/api/v1/probe/")
    client.post(f"/api/v1/probe/{shipment.pk}/touch/", {"tracking_number": "1Z"})
    key = ApiKey.objects.get(owner=world.alice)
    calls = list(ApiCall.objects.filter(key=key).order_by("id").values_list("method", "status_code", "owner_id"))
    assert calls == [("GET", 200, world.alice.pk), ("POST", 200, world.alice.pk)]
    event = AuditEvent.objects.get(action="shipment.touch")
    assert event.actor == world.alice
    assert event.via.startswith(f"API key {key.prefix}")
    checked, broken = verify_chains()
    assert checked >= 1 and broken == []


def test_the_audit_channel_does_not_leak_into_the_next_request(world, api_as, client):
    shipment = world.shipment()
    api_as(world.alice).post(f"/api/v1/probe/{shipment.pk}/touch/", {"tracking_number": "1"})
    client.force_login(world.alice)
    client.post(f"/api/v1/probe/{shipment.pk}/touch/", {"tracking_number": "2"}, content_type="application/json")
    vias = list(AuditEvent.objects.filter(action="shipment.touch").order_by("id").values_list("via", flat=True))
    assert vias[0].startswith("API key") and vias[1] == ""


def test_session_writes_need_the_csrf_token(world):
    shipment = world.shipment()
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(world.alice)
    response = client.post(f"/api/v1/probe/{shipment.pk}/touch/", {"tracking_number": "1"}, format="json")
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]


class TestIdempotency:
    def test_retry_with_the_same_key_replays_the_first_response(self, world, api_as):
        client = api_as(world.alice)
        first = client.post("/api/v1/echo/", {"text": "hi"}, HTTP_IDEMPOTENCY_KEY="k-1")
        second = client.post("/api/v1/echo/", {"text": "hi"}, HTTP_IDEMPOTENCY_KEY="k-1")
        assert first.status_code == second.status_code == 201
        assert first.json() == second.json() == {"echo": "hi", "call": 1}
        assert second["Idempotent-Replayed"] == "true"
        assert api_test_urls.EchoView.calls == 1

    def test_same_key_with_another_body_is_refused(self, world, api_as):
        client = api_as(world.alice)
        client.post("/api/v1/echo/", {"text": "hi"}, HTTP_IDEMPOTENCY_KEY="k-2")
        response = client.post("/api/v1/echo/", {"text": "bye"}, HTTP_IDEMPOTENCY_KEY="k-2")
        assert response.status_code == 409
        assert "different request" in response.json()["detail"]
        assert api_test_urls.EchoView.calls == 1

    def test_keys_are_per_user(self, world, api_as):
        api_as(world.alice).post("/api/v1/echo/", {"text": "hi"}, HTTP_IDEMPOTENCY_KEY="shared")
        response = api_as(world.charlie).post("/api/v1/echo/", {"text": "hi"}, HTTP_IDEMPOTENCY_KEY="shared")
        assert response.json()["call"] == 2

    def test_a_validation_error_is_replayed_too(self, world, api_as):
        client = api_as(world.alice)
        first = client.post("/api/v1/echo/", {"text": "x" * 50}, HTTP_IDEMPOTENCY_KEY="k-3")
        again = client.post("/api/v1/echo/", {"text": "x" * 50}, HTTP_IDEMPOTENCY_KEY="k-3")
        assert first.status_code == again.status_code == 400
        assert again.json()["errors"]["text"]

    def test_after_24_hours_the_key_can_be_used_again(self, world, api_as, time_machine):
        client = api_as(world.alice)
        client.post("/api/v1/echo/", {"text": "hi"}, HTTP_IDEMPOTENCY_KEY="k-4")
        time_machine.move_to(timezone.now() + timedelta(hours=25))
        assert client.post("/api/v1/echo/", {"text": "hi"}, HTTP_IDEMPOTENCY_KEY="k-4").json()["call"] == 2

    def test_a_server_error_forgets_the_key_so_the_retry_runs(self, world, api_as):
        client = api_as(world.alice)
        client.raise_request_exception = False
        response = client.post("/api/v1/boom/", {}, HTTP_IDEMPOTENCY_KEY="k-5")
        assert response.status_code == 500
        assert response.json() == {"detail": "Server error. It was recorded; retry later."}
        assert not IdempotencyRecord.objects.filter(key="k-5").exists()

    def test_an_unprintable_or_overlong_key_is_a_400(self, world, api_as):
        client = api_as(world.alice)
        response = client.post("/api/v1/echo/", {"text": "hi"}, HTTP_IDEMPOTENCY_KEY="k" * 300)
        assert response.status_code == 400
        assert "Idempotency-Key" in response.json()["errors"]


class TestETags:
    def test_stale_if_match_is_412_and_changes_nothing(self, world, api_as):
        client = api_as(world.alice)
        shipment = world.shipment()
        etag = client.get(f"/api/v1/probe/{shipment.pk}/")["ETag"]
        fresh = client.post(f"/api/v1/probe/{shipment.pk}/touch/", {"tracking_number": "A"}, HTTP_IF_MATCH=etag)
        assert fresh.status_code == 200 and fresh["ETag"] != etag
        stale = client.post(f"/api/v1/probe/{shipment.pk}/touch/", {"tracking_number": "B"}, HTTP_IF_MATCH=etag)
        assert stale.status_code == 412
        assert "changed since you read it" in stale.json()["detail"]
        shipment.refresh_from_db()
        assert shipment.tracking_number == "A"

    def test_without_if_match_the_write_goes_through(self, world, api_as):
        shipment = world.shipment()
        response = api_as(world.alice).post(f"/api/v1/probe/{shipment.pk}/touch/", {"tracking_number": "C"})
        assert response.status_code == 200


def test_page_size_is_capped(world, api_as):
    for _ in range(3):
        world.shipment(items=0)
    with override_settings(REST_FRAMEWORK={**_rf(), "PAGE_SIZE": None}):
        from ior_platform.core.api.pagination import CappedCursorPagination

        original = CappedCursorPagination.max_page_size
        CappedCursorPagination.max_page_size = 2
        try:
            body = api_as(world.alice).get("/api/v1/probe/?page_size=1000").json()
        finally:
            CappedCursorPagination.max_page_size = original
    assert len(body["results"]) == 2
    assert body["next"]


def _rf():
    from django.conf import settings

    return settings.REST_FRAMEWORK


def test_throttling_answers_429_with_retry_after_per_key(world, api_as):
    from ior_platform.core.api.throttling import KeyOrUserRateThrottle

    original = KeyOrUserRateThrottle.THROTTLE_RATES
    KeyOrUserRateThrottle.THROTTLE_RATES = {"api": "3/min"}
    try:
        noisy, other = api_as(world.alice), api_as(world.alice)
        statuses = [noisy.get("/api/v1/probe/").status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        limited = noisy.get("/api/v1/probe/")
        assert int(limited["Retry-After"]) > 0
        assert "throttled" in limited.json()["detail"]
        assert other.get("/api/v1/probe/").status_code == 200
    finally:
        KeyOrUserRateThrottle.THROTTLE_RATES = original


def test_a_viewset_cannot_replace_the_tenancy_rule():
    with pytest.raises(TypeError, match="must not override get_queryset"):

        class Leaky(TenantViewSet):
            def get_queryset(self):
                return []


def test_times_are_utc_iso_8601_whatever_zone_is_active(world, api_as):
    shipment = world.shipment()
    with timezone.override("Asia/Kolkata"):
        body = api_as(world.alice).get(f"/api/v1/probe/{shipment.pk}/").json()
    assert body["created_at"].endswith("Z")
    assert body["created_at"].startswith(shipment.created_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M"))


def test_the_hourly_purge_removes_only_expired_idempotency_records(world, api_as, time_machine):
    from ior_platform.core.tasks import purge_idempotency_records

    client = api_as(world.alice)
    client.post("/api/v1/echo/", {"text": "old"}, HTTP_IDEMPOTENCY_KEY="old")
    time_machine.move_to(timezone.now() + timedelta(hours=25))
    client.post("/api/v1/echo/", {"text": "new"}, HTTP_IDEMPOTENCY_KEY="new")
    assert purge_idempotency_records.delay().get() == 1
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["new"]


@pytest.mark.urls("ior_platform.urls")
def test_unknown_api_urls_answer_in_json_and_pages_in_html(world, api_as, client):
    response = api_as(world.alice).get("/api/v1/no-such-thing/")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}
    client.force_login(world.alice)
    page = client.get("/no-such-page/")
    assert page.status_code == 404 and page["Content-Type"].startswith("text/html")


def test_the_filter_backend_skips_the_filter_form_only_when_no_filter_is_named(world, api_as):
    a = world.shipment()
    b = world.shipment()
    client = api_as(world.alice)
    everything = client.get("/api/v1/shipments/").json()["results"]
    assert {row["id"] for row in everything} == {a.pk, b.pk}
    only_a = client.get(f"/api/v1/shipments/?search={a.reference}&status=draft").json()["results"]
    assert [row["id"] for row in only_a] == [a.pk]
    invalid = client.get("/api/v1/shipments/?ship_date_after=not-a-date")
    assert invalid.status_code == 400 and "ship_date" in invalid.json()["errors"]
