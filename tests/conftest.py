"""Personas shared by the suite.

Sponsor A (US) runs a trial shipping to Brazil: its editor alice, manager mona and viewer victor; the
CRO Meridian acts for sponsor A (carl); Brazil's importer of record (rita reviews, ivan edits, imelda
manages); the US exporter of record (eddie); a broker (bruno), a courier (cora) and the São Paulo site
(sam). charlie is an editor of sponsor B and must never see anything of sponsor A."""

from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.db.backends.base.operations import BaseDatabaseOperations
from django.utils import timezone

from shipments.models import Shipment
from tests.factories import (
    DocumentRequirementFactory,
    LicenceFactory,
    OrganizationFactory,
    ShipmentFactory,
    ShipmentItemFactory,
    SponsorAuthorisationFactory,
    TrialFactory,
    UserFactory,
)


def pytest_collection_modifyitems(config, items):
    on_postgres = connection.vendor == "postgresql"
    for item in items:
        if "postgres" in item.keywords and not on_postgres:
            item.add_marker(pytest.mark.skip(reason="needs PostgreSQL: set DATABASE_URL=postgres://..."))


@contextmanager
def audit_guard_lifted(using: str = DEFAULT_DB_ALIAS):
    """The DBA procedure of core migration 0003, for a test that must empty or tamper with the audit table: the
    append-only triggers are dropped inside a transaction (a savepoint within a test's) and re-created from their
    own definitions before it ends; if the body fails, the rollback brings them back. Needs the table owner's
    rights, as the suite has."""
    db = connections[using]
    with transaction.atomic(using=using):
        with db.cursor() as cursor:
            if db.vendor == "postgresql":
                cursor.execute(
                    "SELECT tgname, pg_get_triggerdef(oid) FROM pg_trigger"
                    " WHERE tgrelid = 'core_auditevent'::regclass AND NOT tgisinternal"
                )
            else:
                cursor.execute(
                    "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'core_auditevent'"
                )
            triggers = cursor.fetchall()
            # Dropped, not disabled: PostgreSQL refuses ALTER TABLE while the transaction has deferred FK checks
            # pending on the table, as a test's transaction has once it has written events.
            on_table = " ON core_auditevent" if db.vendor == "postgresql" else ""
            for name, _ in triggers:
                cursor.execute(f'DROP TRIGGER "{name}"{on_table}')
        yield
        with db.cursor() as cursor:
            for _, definition in triggers:
                cursor.execute(definition)


# The suite's one way past the append-only audit triggers outside the tamper tests. After each transactional test
# Django empties every table (TRUNCATE on PostgreSQL, DELETE on SQLite), which the triggers rightly refuse; the
# flush therefore runs inside audit_guard_lifted, so the guard is down only within the flush's own transaction.
# Session-scoped so that it is still in place when pytest-django's teardown flushes, after the test's fixtures.
@pytest.fixture(autouse=True, scope="session")
def _test_flush_lifts_the_audit_guard():
    flush = BaseDatabaseOperations.execute_sql_flush

    def execute_sql_flush(ops, sql_list):
        with audit_guard_lifted(ops.connection.alias):
            flush(ops, sql_list)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(BaseDatabaseOperations, "execute_sql_flush", execute_sql_flush)
        yield


def second_factor(user):
    """The user's confirmed authenticator, made if missing, ready to accept the code of the current time step again
    (django-otp accepts each step's code once; a test may sign the same person in twice within 30 seconds)."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="Test authenticator", confirmed=True)
    TOTPDevice.objects.filter(pk=device.pk).update(last_t=-1, throttling_failure_count=0)
    device.refresh_from_db()
    return device


def current_code(device) -> str:
    """What the authenticator app shows now for `device`."""
    from django_otp.oath import totp

    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits, drift=device.drift):06d}"


# Two-factor sign-in stays enforced in the suite. force_login skips the sign-in form, so for whoever has or owes a
# second factor it also gives one, as the verify page would: the session records a confirmed authenticator.
# tests/core/test_mfa.py signs in through the form instead, where the second factor is asked for.
@pytest.fixture(autouse=True, scope="session")
def _force_login_gives_the_second_factor():
    from django.test import Client
    from django_otp import DEVICE_ID_SESSION_KEY

    from ior_platform.core.mfa import mfa_enabled, mfa_required

    force_login = Client.force_login

    def force_login_with_second_factor(client, user, backend=None):
        force_login(client, user, backend)
        fresh = type(user)._default_manager.get(pk=user.pk)
        if mfa_required(fresh) or mfa_enabled(fresh):
            session = client.session
            session[DEVICE_ID_SESSION_KEY] = second_factor(fresh).persistent_id
            session.save()

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Client, "force_login", force_login_with_second_factor)
        yield


@dataclass
class World:
    sponsor_a: object
    sponsor_b: object
    cro: object
    ior: object
    eor: object
    broker: object
    courier: object
    site: object
    trial: object
    trial_b: object
    alice: object
    mona: object
    victor: object
    carl: object
    rita: object
    ivan: object
    imelda: object
    eddie: object
    bruno: object
    cora: object
    sam: object
    charlie: object

    def shipment(self, **kwargs) -> Shipment:
        """A draft of sponsor A's trial with every party assigned and one IMP item."""
        items = kwargs.pop("items", 1)
        kwargs.setdefault("declared_value", Decimal("12000.00") * max(items, 1))
        defaults = {
            "trial": self.trial,
            "ior": self.ior,
            "eor": self.eor,
            "consignee": self.site,
            "broker": self.broker,
            "courier": self.courier,
            "created_by": self.alice,
        }
        defaults.update(kwargs)
        shipment = ShipmentFactory(**defaults)
        for _ in range(items):
            ShipmentItemFactory(shipment=shipment)
        return shipment


@pytest.fixture
def world(db) -> World:
    org = OrganizationFactory
    sponsor_a = org(name="Sponsor A Pharma", country="US", roles=["sponsor"])
    sponsor_b = org(name="Sponsor B Biotech", country="DE", roles=["sponsor"])
    cro = org(name="Meridian CRO", country="GB", roles=["cro"])
    SponsorAuthorisationFactory(sponsor=sponsor_a, cro=cro)
    ior = org(name="Brasil IOR Ltda", country="BR", roles=["ior"])
    LicenceFactory(organization=ior)
    eor = org(name="US Export Services", country="US", roles=["eor"])
    broker = org(name="Aduana Brokers", country="BR", roles=["broker"])
    courier = org(name="ColdChain Couriers", country="US", roles=["courier"])
    site = org(name="Hospital São Paulo", country="BR", roles=["consignee"])
    user = UserFactory
    return World(
        sponsor_a=sponsor_a,
        sponsor_b=sponsor_b,
        cro=cro,
        ior=ior,
        eor=eor,
        broker=broker,
        courier=courier,
        site=site,
        trial=TrialFactory(sponsor=sponsor_a, protocol_number="SPA-301"),
        trial_b=TrialFactory(sponsor=sponsor_b, protocol_number="SPB-101"),
        alice=user(username="alice", organization=sponsor_a, roles=["editor"]),
        mona=user(username="mona", organization=sponsor_a, roles=["manager"]),
        victor=user(username="victor", organization=sponsor_a, roles=["viewer"]),
        carl=user(username="carl", organization=cro, roles=["editor"]),
        rita=user(username="rita", organization=ior, roles=["reviewer"]),
        ivan=user(username="ivan", organization=ior, roles=["editor"]),
        imelda=user(username="imelda", organization=ior, roles=["manager"]),
        eddie=user(username="eddie", organization=eor, roles=["editor"]),
        bruno=user(username="bruno", organization=broker, roles=["editor"]),
        cora=user(username="cora", organization=courier, roles=["editor"]),
        sam=user(username="sam", organization=site, roles=["editor"]),
        charlie=user(username="charlie", organization=sponsor_b, roles=["editor", "manager"]),
    )


@pytest.fixture
def requirements(db):
    """Brazil demands an import permit from the IOR; the US an export declaration from the EOR."""
    return [
        DocumentRequirementFactory(
            country__country="BR",
            direction="import",
            document_type="import_permit",
            provided_by="ior",
            lead_time_days=20,
        ),
        DocumentRequirementFactory(
            country__country="US",
            direction="export",
            document_type="export_declaration",
            provided_by="eor",
            lead_time_days=3,
        ),
    ]


@pytest.fixture
def brazil_permit(world):
    """ANVISA's import consent for sponsor A's trial, held by the IOR: 1,000 vials of the test product."""
    from compliance.models import Permit, PermitLine

    permit = Permit.objects.create(
        permit_type="import_permit",
        holder=world.ior,
        trial=world.trial,
        country="BR",
        direction="import",
        authority="ANVISA",
        number="LI-26/0001",
        valid_from=days(-10),
        valid_until=days(180),
    )
    PermitLine.objects.create(permit=permit, product_name="ABC-123 100 mg vial", authorised_quantity=1000, unit="vial")
    return permit


def pdf_bytes(body: bytes = b"content") -> bytes:
    """A real one-page PDF; `body` goes into its metadata so different bodies give different hashes."""
    from io import BytesIO

    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    writer.add_metadata({"/Subject": body.decode("latin-1")})
    buffer = BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def pdf_file(name: str = "permit.pdf", body: bytes = b"content") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, pdf_bytes(body), content_type="application/pdf")


def force_status(shipment: Shipment, status: str) -> Shipment:
    """Put a shipment straight into a state, for tests that start mid-lifecycle."""
    Shipment.objects.filter(pk=shipment.pk).update(status=status)
    return Shipment.objects.get(pk=shipment.pk)


def warm_query_counts(client, urls):
    """The queries of a second GET of each URL (the first warms caches and the session), and the last response:
    for tests that a page costs the same whatever the size of what it shows. Every answer must be a 200."""
    from django.test.utils import CaptureQueriesContext

    counts, response = [], None
    for url in urls:
        client.get(url)
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url)
        assert response.status_code == 200, url
        counts.append(len(queries))
    return counts, response


def days(n: int):
    return timezone.localdate() + timedelta(days=n)


@pytest.fixture
def api_as(db):
    """`api_as(user, scope="write")`: a DRF APIClient calling with a fresh API key owned by `user`."""
    from rest_framework.test import APIClient

    from parties.api_keys import hash_key
    from parties.models import ApiKey

    made = []

    def make(user, scope: str = "write") -> APIClient:
        made.append(user)
        prefix = f"ior_t{len(made):03d}{user.pk:04d}"[:12]
        raw = f"{prefix}_{'k' * 40}"
        ApiKey.objects.create(
            organization_id=user.organization_id,
            owner=user,
            name=f"test key of {user.username}",
            prefix=prefix,
            secret_hash=hash_key(raw),
            scope=scope,
            created_by=user,
        )
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
        client.raw_key = raw
        return client

    return make
