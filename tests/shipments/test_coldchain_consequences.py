"""What a temperature excursion sets off: the goods go into quarantine, the sponsor, the consignee and the IOR are
told (after the import commits, and only those who may see the shipment), delivery is refused until sponsor QA
records a signed disposition, and the disposition leads on to delivery, a return or destruction."""

import threading
from io import StringIO

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import connection, transaction
from django.urls import reverse
from django.utils import timezone

from documents.choices import SignatureMeaning
from documents.dossier import dossier_context
from documents.models import ElectronicSignature, SigningAttempt
from documents.signatures import SigningLocked, WrongPassword
from ior_platform.core.errors import NotPermitted, TransitionRefused
from ior_platform.core.models import AuditEvent
from parties.models import Notification, WebhookDelivery, WebhookEndpoint
from parties.tasks import deliver_webhook
from shipments import services
from shipments.choices import QuarantineStatus
from shipments.coldchain import services as coldchain_services
from shipments.coldchain.forms import ColdChainDispositionForm
from shipments.coldchain.selectors import cold_chain_quarantine
from shipments.coldchain.services import coldchain_disposition_record, temperature_log_import
from shipments.guards import QUARANTINE_REASONS
from shipments.models import ColdChainDisposition, Excursion, Shipment, TemperatureLog
from tests.conftest import force_status
from tests.factories import DEMO_PASSWORD, OrganizationFactory, UserFactory, temperature_log_for
from tests.shipments.test_coldchain_import import trace_csv, upload

QUARANTINED = "goods are in quarantine after a temperature excursion: a sponsor QA disposition is required"
SPONSOR_SIDE = {"alice", "mona", "victor"}
CONSIGNEE_SIDE = {"sam"}
IOR_SIDE = {"rita", "ivan", "imelda"}


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


@pytest.fixture
def quinn(world):
    """Quality assurance of sponsor A: the one who decides on goods after an excursion."""
    return UserFactory(username="quinn", organization=world.sponsor_a, roles=["qa"])


@pytest.fixture
def cro_qa(world):
    """Quality assurance of the CRO acting for sponsor A: sees the shipment, may not decide for the sponsor."""
    return UserFactory(username="quentin", organization=world.cro, roles=["qa"])


@pytest.fixture
def shipment(world, media):
    """Sponsor A's refrigerated shipment, out for delivery to the São Paulo site."""
    return force_status(world.shipment(temperature_class="refrigerated"), "out_for_delivery")


@pytest.fixture
def webhooks_recorded(monkeypatch):
    sent = []
    monkeypatch.setattr(deliver_webhook, "delay", lambda delivery_id: sent.append(delivery_id))
    return sent


def import_spike(actor, shipment, **trace):
    """The issue's case: a 2–8 °C trace at 5 °C with a 20-minute spike to 9 °C."""
    return temperature_log_import(
        actor=actor, shipment=shipment, logger_serial="TT-42", uploaded_file=upload(trace_csv(**trace))
    )


def fresh(shipment) -> Shipment:
    return Shipment.objects.get(pk=shipment.pk)


def recipients(kind: str) -> set[str]:
    return set(Notification.objects.filter(kind=kind).values_list("recipient__username", flat=True))


def decide(actor, shipment, decision="release", reason="20 min at 9 °C is within the stability data", **kwargs):
    kwargs.setdefault("password", DEMO_PASSWORD)
    return coldchain_disposition_record(actor=actor, shipment=shipment, decision=decision, reason=reason, **kwargs)


@pytest.fixture
def quarantined(world, shipment, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        import_spike(world.sam, shipment)
    return fresh(shipment)


# --- the excursion -----------------------------------------------------------------------------------------------


def test_a_20_minute_spike_quarantines_the_goods_and_tells_sponsor_consignee_and_ior(
    world, shipment, quinn, webhooks_recorded, django_capture_on_commit_callbacks
):
    endpoint_a = WebhookEndpoint.objects.create(
        organization=world.sponsor_a,
        url="https://hooks.sponsor-a.example/ior",
        events=["shipment.excursion"],
        secret="whsec_a",
        created_by=world.mona,
    )
    WebhookEndpoint.objects.create(
        organization=world.sponsor_b,
        url="https://hooks.sponsor-b.example/ior",
        events=["shipment.excursion"],
        secret="whsec_b",
        created_by=world.charlie,
    )
    with django_capture_on_commit_callbacks(execute=True):
        import_spike(world.sam, shipment)

    excursion = Excursion.objects.get()
    assert (excursion.direction, excursion.duration_minutes, excursion.peak_temperature) == ("above", 20, 9.0)
    held = fresh(shipment)
    assert held.quarantine_status == QuarantineStatus.QUARANTINED and held.quarantined_at is not None
    event = AuditEvent.objects.get(action="temperature_log.excursions_detected")
    assert event.changes["quarantine_status"] == ["none", "quarantined"]
    assert event.reason == "goods in quarantine until sponsor QA records a disposition"

    told = recipients("temperature_log.excursions_detected")
    assert told == SPONSOR_SIDE | {"quinn"} | CONSIGNEE_SIDE | IOR_SIDE
    assert "charlie" not in told
    notice = Notification.objects.filter(kind="temperature_log.excursions_detected").first()
    assert notice.subject == f"[{shipment.reference}] Temperature excursion: goods in quarantine"
    assert "above the range from 2026-03-01 18:00 UTC to 2026-03-01 18:20 UTC (20 min), reaching 9 °C" in notice.body
    assert "20 min of an excursion budget of 30 min" in notice.body
    assert "delivery cannot be confirmed" in notice.body
    mailed = {address for message in mail.outbox for address in message.to}
    assert "charlie@example.test" not in mailed and "sam@example.test" in mailed and "rita@example.test" in mailed

    delivery = WebhookDelivery.objects.get(event="shipment.excursion")
    assert delivery.endpoint == endpoint_a and webhooks_recorded == [delivery.pk]
    assert delivery.payload["excursion"]["id"] == excursion.pk
    assert delivery.payload["excursion"]["max_celsius"] == 9.0
    assert delivery.payload["excursion"]["allowed_max_celsius"] == 8.0
    assert delivery.payload["excursion"]["quarantined"] is True


def test_delivery_is_refused_while_the_goods_are_in_quarantine(world, quarantined):
    with pytest.raises(TransitionRefused) as refused:
        services.shipment_deliver(actor=world.sam, shipment=quarantined)
    assert refused.value.reasons == [QUARANTINED]
    assert fresh(quarantined).status == "out_for_delivery"
    assert services.transition_refusals(quarantined, world.sam, "deliver") == [QUARANTINED]


NO_RECORD = (
    "no temperature record: a 2 to 8 °C shipment is delivered with its logger file, uploaded on the shipment page"
)


def test_cold_goods_are_not_delivered_without_their_temperature_record(world, shipment):
    """The site confirms delivery with the temperature record (DOMAIN.md): without a logger file no excursion could
    ever be found, so nothing would put the goods in quarantine."""
    assert services.transition_refusals(shipment, world.sam, "deliver") == [NO_RECORD]
    with pytest.raises(TransitionRefused) as refused:
        services.shipment_deliver(actor=world.sam, shipment=shipment)
    assert refused.value.reasons == [NO_RECORD]
    assert fresh(shipment).status == "out_for_delivery"
    assert not AuditEvent.objects.filter(action="shipment.deliver").exists()

    import_spike(world.sam, shipment, spikes=())
    assert services.shipment_deliver(actor=world.sam, shipment=fresh(shipment)).status == "delivered"


@pytest.mark.parametrize("temperature_class", ["frozen", "deep_frozen", "cryogenic"])
def test_every_cold_class_needs_its_temperature_record(world, temperature_class):
    shipment = force_status(world.shipment(temperature_class=temperature_class), "out_for_delivery")
    reasons = services.transition_refusals(shipment, world.sam, "deliver")
    assert len(reasons) == 1 and reasons[0].startswith("no temperature record: a ")


def test_ambient_goods_are_delivered_without_a_logger(world):
    shipment = force_status(world.shipment(temperature_class="ambient"), "out_for_delivery")
    assert services.shipment_deliver(actor=world.sam, shipment=shipment).status == "delivered"


def test_an_excursion_within_budget_still_quarantines(world, shipment):
    """The budget informs QA's assessment; it does not replace it."""
    import_spike(world.sam, shipment, spikes=((600, 605, 8.5),))
    summary_event = AuditEvent.objects.get(action="temperature_log.excursions_detected")
    assert summary_event.changes["budget_exceeded"] == [None, False]
    assert fresh(shipment).quarantine_status == QuarantineStatus.QUARANTINED


def test_a_clean_trace_quarantines_nothing_and_tells_nobody(world, shipment, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        import_spike(world.sam, shipment, spikes=())
    assert fresh(shipment).quarantine_status == QuarantineStatus.NONE
    assert not Notification.objects.exists() and not callbacks


def test_a_rolled_back_import_quarantines_nothing_and_tells_nobody(world, shipment, django_capture_on_commit_callbacks):
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        import_spike(world.sam, shipment)
        assert fresh(shipment).quarantine_status == QuarantineStatus.QUARANTINED
        raise RuntimeError("the caller's transaction fails after the import")
    assert callbacks == []
    assert fresh(shipment).quarantine_status == QuarantineStatus.NONE
    assert not (Excursion.objects.exists() or Notification.objects.exists() or WebhookDelivery.objects.exists())
    assert mail.outbox == []


def test_a_failure_inside_the_hook_stores_and_tells_nothing(
    world, shipment, monkeypatch, django_capture_on_commit_callbacks
):
    WebhookEndpoint.objects.create(
        organization=world.sponsor_a,
        url="https://hooks.sponsor-a.example/ior",
        events=["shipment.excursion"],
        secret="whsec_a",
        created_by=world.mona,
    )

    def broken(**kwargs):
        raise RuntimeError("webhook table unavailable")

    monkeypatch.setattr(coldchain_services, "webhooks_emit_excursions", broken)
    with django_capture_on_commit_callbacks(execute=True) as callbacks, pytest.raises(RuntimeError):
        import_spike(world.sam, shipment)
    assert callbacks == []
    assert not TemperatureLog.objects.exists() and fresh(shipment).quarantine_status == QuarantineStatus.NONE
    assert not Notification.objects.exists()


# --- the disposition ---------------------------------------------------------------------------------------------


def test_a_wrong_password_records_nothing_but_the_failed_attempt(world, quarantined, quinn):
    with pytest.raises(WrongPassword, match="the disposition was not recorded"):
        decide(quinn, quarantined, password="not my password")
    assert not ColdChainDisposition.objects.exists()
    assert not ElectronicSignature.objects.exists()
    assert fresh(quarantined).quarantine_status == QuarantineStatus.QUARANTINED
    assert list(SigningAttempt.objects.values_list("user__username", "succeeded")) == [("quinn", False)]
    with pytest.raises(TransitionRefused, match="a sponsor QA disposition is required"):
        services.shipment_deliver(actor=world.sam, shipment=quarantined)


def test_three_wrong_passwords_lock_signing(world, quarantined, quinn):
    for _ in range(3):
        with pytest.raises(WrongPassword):
            decide(quinn, quarantined, password="guess")
    with pytest.raises(SigningLocked):
        decide(quinn, quarantined)
    assert not ColdChainDisposition.objects.exists()


@pytest.mark.parametrize("persona", ["alice", "mona", "victor", "rita", "imelda", "sam", "cro_qa"])
def test_only_quality_assurance_of_the_sponsor_itself_may_decide(world, quarantined, cro_qa, persona):
    actor = cro_qa if persona == "cro_qa" else getattr(world, persona)
    with pytest.raises(NotPermitted) as denied:
        decide(actor, quarantined)
    assert denied.value.reasons == [
        "only quality assurance staff of the shipment's sponsor itself (not a CRO acting for it) may record the "
        "cold-chain disposition of this shipment"
    ]
    # Refused before the password is looked at: nothing counts towards a lock-out.
    assert not SigningAttempt.objects.exists() and not ColdChainDisposition.objects.exists()


def test_charlie_may_not_decide_on_goods_he_cannot_see(world, quarantined):
    UserFactory(username="charlie_qa", organization=world.sponsor_b, roles=["qa"])
    with pytest.raises(Shipment.DoesNotExist):
        decide(world.charlie, quarantined)


@pytest.mark.parametrize(
    ("decision", "reason", "field"),
    [("keep", "why not", "decision"), ("release", "   ", "reason"), ("release", "x" * 2001, "reason")],
)
def test_a_disposition_needs_a_known_decision_and_a_reason(world, quarantined, quinn, decision, reason, field):
    with pytest.raises(ValidationError) as invalid:
        decide(quinn, quarantined, decision=decision, reason=reason)
    assert field in invalid.value.message_dict
    assert not SigningAttempt.objects.exists()


def test_release_lets_the_site_confirm_delivery(world, quarantined, quinn, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        disposition = decide(quinn, quarantined)

    assert (disposition.decision, disposition.decided_by, disposition.excursion_count) == ("release", quinn, 1)
    assert disposition.minutes_out_of_range == 20 and disposition.quarantined_at == quarantined.quarantined_at
    signature = disposition.signature
    assert (signature.signer, signature.meaning) == (quinn, SignatureMeaning.COLD_CHAIN_RELEASE)
    assert signature.comment == disposition.reason
    assert signature.manifest["decision"] == "release"
    assert [e["id"] for e in signature.manifest["excursions"]] == list(Excursion.objects.values_list("pk", flat=True))
    assert signature.manifest["logs"][0]["sha256"] == TemperatureLog.objects.get().sha256

    released = fresh(quarantined)
    assert released.quarantine_status == QuarantineStatus.RELEASED
    state = cold_chain_quarantine(shipment=released)
    assert state.disposition == disposition and not state.blocks_delivery
    event = AuditEvent.objects.get(action="cold_chain.disposition_recorded")
    assert event.changes["quarantine_status"] == ["quarantined", "released"] and event.actor == quinn
    assert AuditEvent.objects.filter(action="signature.signed", shipment=quarantined).exists()
    told = recipients("cold_chain.disposition_recorded")
    assert told == SPONSOR_SIDE | {"quinn"} | CONSIGNEE_SIDE | IOR_SIDE
    notice = Notification.objects.filter(kind="cold_chain.disposition_recorded").first()
    assert "delivery may now be confirmed" in notice.body

    delivered = services.shipment_deliver(actor=world.sam, shipment=released)
    assert delivered.status == "delivered"


def test_only_one_decision_per_quarantine(world, quarantined, quinn):
    decide(quinn, quarantined)
    with pytest.raises(TransitionRefused, match="no goods in quarantine awaiting a disposition; they are released"):
        decide(quinn, fresh(quarantined), decision="reject")
    assert ColdChainDisposition.objects.count() == 1


def test_no_disposition_without_a_quarantine(world, shipment, quinn):
    with pytest.raises(TransitionRefused, match="they are not in quarantine"):
        decide(quinn, shipment)
    assert not SigningAttempt.objects.exists()


def test_reject_keeps_delivery_refused_and_opens_the_way_back(world, quarantined, quinn):
    decide(quinn, quarantined, decision="reject", reason="Out of range beyond the stability data")
    rejected = fresh(quarantined)
    assert rejected.quarantine_status == QuarantineStatus.REJECTED
    with pytest.raises(TransitionRefused) as refused:
        services.shipment_deliver(actor=world.sam, shipment=rejected)
    assert refused.value.reasons == [QUARANTINE_REASONS[QuarantineStatus.REJECTED]]
    assert {"return_to_origin", "destroy"} <= set(services.transitions_from(rejected))
    returned = services.shipment_return_to_origin(actor=world.rita, shipment=rejected, reason="QA rejected the goods")
    assert returned.status == "returned"


def test_destroy_keeps_delivery_refused_and_leads_to_destruction_only(world, quarantined, quinn):
    decide(quinn, quarantined, decision="destroy", reason="Biologic; no stability data above 8 °C")
    doomed = fresh(quarantined)
    with pytest.raises(TransitionRefused, match="record their destruction instead"):
        services.shipment_deliver(actor=world.sam, shipment=doomed)
    assert "return_to_origin" not in services.transitions_from(doomed)
    destroyed = services.shipment_destroy(actor=world.imelda, shipment=doomed, reason="Destroyed under QA order")
    assert destroyed.status == "destroyed"


def test_without_a_negative_disposition_cleared_goods_cannot_be_returned_or_destroyed(world, shipment):
    for name in ("return_to_origin", "destroy"):
        assert name not in services.transitions_from(shipment)
        with pytest.raises(TransitionRefused, match=r"cannot .* a shipment that is out for delivery"):
            services.TRANSITION_SERVICES[name](actor=world.imelda, shipment=shipment, reason="no")


def test_new_excursions_after_a_release_quarantine_the_goods_again(world, quarantined, quinn):
    decide(quinn, quarantined)
    second = import_spike(world.cora, fresh(quarantined), spikes=((100, 130, 9.5),))
    again = fresh(quarantined)
    assert again.quarantine_status == QuarantineStatus.QUARANTINED
    assert again.quarantined_at > quarantined.quarantined_at
    assert second.excursions.count() == 1
    disposition = decide(quinn, again, decision="reject", reason="A second logger read 9.5 °C for 30 min")
    assert disposition.excursion_count == 2 and ColdChainDisposition.objects.count() == 2


def test_new_excursions_after_a_rejection_leave_the_decision_standing(world, quarantined, quinn):
    decide(quinn, quarantined, decision="reject", reason="Out of range")
    import_spike(world.cora, fresh(quarantined), spikes=((100, 130, 9.5),))
    assert fresh(quarantined).quarantine_status == QuarantineStatus.REJECTED
    event = AuditEvent.objects.filter(action="temperature_log.excursions_detected").last()
    assert "quarantine_status" not in event.changes


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_qa_users_deciding_at_once_one_decision_stands(world, shipment, quinn):
    quincy = UserFactory(username="quincy", organization=world.sponsor_a, roles=["qa"])
    temperature_log_for(shipment, uploaded_by=world.sam)
    Shipment.objects.filter(pk=shipment.pk).update(quarantine_status="quarantined", quarantined_at=timezone.now())
    barrier = threading.Barrier(2)
    outcomes: dict[str, object] = {}

    def attempt(actor, decision):
        stale = fresh(shipment)
        barrier.wait()
        try:
            outcomes[actor.username] = decide(actor, stale, decision=decision).decision
        except TransitionRefused as exc:
            outcomes[actor.username] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt, args=args) for args in ((quinn, "release"), (quincy, "destroy"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    refused = [o for o in outcomes.values() if isinstance(o, TransitionRefused)]
    assert len(refused) == 1 and len(outcomes) == 2, outcomes
    disposition = ColdChainDisposition.objects.get()
    assert (
        fresh(shipment).quarantine_status
        == {"release": "released", "destroy": "destruction_ordered"}[disposition.decision]
    )
    assert ElectronicSignature.objects.count() == 1


def test_the_dossier_prints_only_signatures_over_the_dossier(world, quarantined, quinn):
    decide(quinn, quarantined)
    assert ElectronicSignature.objects.count() == 1
    assert dossier_context(quarantined)["signatures"] == []


# --- the API -----------------------------------------------------------------------------------------------------


def disposition_url(shipment) -> str:
    return reverse("v1:shipment-cold-chain-disposition", args=[shipment.pk])


def status_url(shipment) -> str:
    return reverse("v1:shipment-cold-chain", args=[shipment.pk])


BODY = {"decision": "release", "reason": "20 min at 9 °C is within the stability data", "password": DEMO_PASSWORD}


def test_the_api_records_a_release_once_per_idempotency_key(world, quarantined, quinn, api_as):
    client = api_as(quinn)
    first = client.post(disposition_url(quarantined), BODY, format="json", HTTP_IDEMPOTENCY_KEY="qa-release-1")
    again = client.post(disposition_url(quarantined), BODY, format="json", HTTP_IDEMPOTENCY_KEY="qa-release-1")
    assert first.status_code == 201, first.json()
    assert again.status_code == 201 and again.json() == first.json()
    body = first.json()
    assert (body["decision"], body["decided_by"]) == ("release", "Quinn")
    assert body["signature"]["meaning"] == "Released after a temperature excursion"
    assert "password" not in body
    assert first["Location"].endswith(status_url(quarantined))
    assert ColdChainDisposition.objects.count() == 1

    summary = client.get(status_url(quarantined)).json()
    assert summary["quarantine"]["status"] == "released"
    assert summary["quarantine"]["blocks_delivery"] is False
    assert summary["quarantine"]["disposition"]["id"] == body["id"]
    assert summary["excursion_count"] == 1 and summary["pack_out"] is None


def test_the_api_shows_the_quarantine_awaiting_a_decision(world, quarantined, api_as):
    summary = api_as(world.sam).get(status_url(quarantined)).json()
    assert summary["quarantine"] == {
        "status": "quarantined",
        "label": "In quarantine: awaiting sponsor QA",
        "quarantined_at": quarantined.quarantined_at.isoformat().replace("+00:00", "Z"),
        "blocks_delivery": True,
        "disposition": None,
    }


def test_the_api_answers_a_wrong_password_with_400(world, quarantined, quinn, api_as):
    answer = api_as(quinn).post(disposition_url(quarantined), {**BODY, "password": "nope"}, format="json")
    assert answer.status_code == 400
    assert answer.json()["errors"] == {"password": ["the password is not correct; the disposition was not recorded"]}
    assert not ColdChainDisposition.objects.exists()
    assert SigningAttempt.objects.filter(user=quinn, succeeded=False).count() == 1


def test_the_api_refuses_others_with_403_and_a_decided_quarantine_with_409(world, quarantined, quinn, api_as):
    refused = api_as(world.mona).post(disposition_url(quarantined), BODY, format="json")
    assert refused.status_code == 403 and refused.json()["reasons"][0].startswith("only quality assurance staff")
    assert api_as(quinn, scope="read").post(disposition_url(quarantined), BODY, format="json").status_code == 403
    assert api_as(quinn).post(disposition_url(quarantined), BODY, format="json").status_code == 201
    conflict = api_as(quinn).post(disposition_url(quarantined), BODY, format="json")
    assert conflict.status_code == 409 and "awaiting a disposition" in conflict.json()["detail"]


def test_the_api_refuses_unknown_fields_and_a_stale_etag(world, quarantined, quinn, api_as):
    client = api_as(quinn)
    unknown = client.post(disposition_url(quarantined), {**BODY, "decided_by": world.mona.pk}, format="json")
    assert unknown.status_code == 400 and "decided_by" in unknown.json()["errors"]
    stale = client.post(disposition_url(quarantined), BODY, format="json", HTTP_IF_MATCH='"stale"')
    assert stale.status_code == 412
    assert not ColdChainDisposition.objects.exists()


def test_charlie_gets_404_from_the_cold_chain_api(world, quarantined, api_as):
    UserFactory(username="charlie_qa", organization=world.sponsor_b, roles=["qa"])
    client = api_as(world.charlie)
    for answer in (
        client.post(disposition_url(quarantined), BODY, format="json"),
        client.get(status_url(quarantined)),
    ):
        assert answer.status_code == 404
        assert quarantined.reference not in answer.content.decode()
    assert not SigningAttempt.objects.exists()


def test_another_sponsors_qa_sees_nothing(world, quarantined, api_as):
    other = OrganizationFactory(name="Sponsor C", country="FR", roles=["sponsor"])
    outsider = UserFactory(username="olga", organization=other, roles=["qa"])
    assert api_as(outsider).post(disposition_url(quarantined), BODY, format="json").status_code == 404


def test_the_command_says_the_goods_are_in_quarantine(world, shipment, tmp_path):
    path = tmp_path / "TT-42.csv"
    path.write_bytes(trace_csv())
    out = StringIO()
    call_command("import_temperature_log", shipment.reference, str(path), "--as", "sam", stdout=out)
    assert "delivery is refused until sponsor QA records a disposition" in out.getvalue()


def test_the_page_form_hands_the_service_what_it_takes(world, quarantined, quinn):
    form = ColdChainDispositionForm(
        data={"decision": "destroy", "reason": "No stability data above 8 °C", "password": DEMO_PASSWORD}
    )
    assert form.is_valid(), form.errors
    disposition = coldchain_disposition_record(actor=quinn, shipment=quarantined, **form.cleaned_data)
    assert disposition.decision == "destroy"
    assert set(ColdChainDispositionForm(data={}).errors) == {"decision", "reason", "password"}
