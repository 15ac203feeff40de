"""Factories for the domain. Defaults build a valid international refrigerated IMP shipment US → BR."""

from datetime import timedelta
from decimal import Decimal

import factory
from django.utils import timezone

from compliance.models import CountryProfile, DocumentRequirement
from parties.models import Licence, Membership, Organization, OrganizationRole, SponsorAuthorisation, User
from shipments.models import Shipment, ShipmentItem, Site, Trial

DEMO_PASSWORD = "Correct-Horse-Battery-9"


class OrganizationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organization
        django_get_or_create = ("name",)
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Organization {n}")
    country = "US"

    @factory.post_generation
    def roles(self, create, extracted, **kwargs):
        for role in extracted or ():
            OrganizationRole.objects.get_or_create(organization=self, role=role)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.test")
    first_name = factory.LazyAttribute(lambda u: u.username.capitalize())
    organization = factory.SubFactory(OrganizationFactory)
    password = factory.PostGenerationMethodCall("set_password", DEMO_PASSWORD)

    @factory.post_generation
    def roles(self, create, extracted, **kwargs):
        for role in extracted or ():
            Membership.objects.get_or_create(user=self, role=role)
        if create:
            self.save()


class LicenceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Licence

    organization = factory.SubFactory(OrganizationFactory)
    licence_type = "import_licence"
    number = factory.Sequence(lambda n: f"LIC-{n:05d}")
    issuing_authority = "ANVISA"
    country = "BR"
    valid_from = factory.LazyFunction(lambda: timezone.localdate() - timedelta(days=365))
    valid_until = factory.LazyFunction(lambda: timezone.localdate() + timedelta(days=3 * 365))


class SponsorAuthorisationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SponsorAuthorisation

    valid_from = factory.LazyFunction(lambda: timezone.localdate() - timedelta(days=30))


class TrialFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Trial

    protocol_number = factory.Sequence(lambda n: f"PROT-{n:04d}")
    title = "A phase III study of a monoclonal antibody"
    sponsor = factory.SubFactory(OrganizationFactory)
    phase = "3"


class SiteFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Site

    trial = factory.SubFactory(TrialFactory)
    organization = factory.SubFactory(OrganizationFactory, country="BR")
    site_number = factory.Sequence(lambda n: f"{n:03d}")
    name = "Hospital das Clínicas"
    address = "Av. Dr. Enéas Carvalho de Aguiar 255, São Paulo"
    country = "BR"


class ShipmentFactory(factory.django.DjangoModelFactory):
    """A draft ready to submit: every party assigned, one IMP item, a ship date two weeks out."""

    class Meta:
        model = Shipment

    reference = factory.Sequence(lambda n: f"SHP-T-{n:05d}")
    trial = factory.SubFactory(TrialFactory)
    sponsor = factory.LazyAttribute(lambda s: s.trial.sponsor)
    origin_country = "US"
    origin_address = "1 Depot Way, Memphis, TN"
    destination_country = "BR"
    destination_address = "Av. Paulista 1000, São Paulo"
    temperature_class = "refrigerated"
    planned_ship_date = factory.LazyFunction(lambda: timezone.localdate() + timedelta(days=14))
    declared_value = Decimal("12000.00")
    currency = "USD"


class ShipmentItemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ShipmentItem

    shipment = factory.SubFactory(ShipmentFactory)
    product_name = "ABC-123 100 mg vial"
    category = "imp"
    hs_code = "300215"
    quantity = Decimal("120")
    unit = "vial"
    lot_number = factory.Sequence(lambda n: f"L{n:05d}")
    expiry_date = factory.LazyFunction(lambda: timezone.localdate() + timedelta(days=400))
    unit_value = Decimal("100.00")


class CountryProfileFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CountryProfile
        django_get_or_create = ("country",)

    country = "BR"


class DocumentRequirementFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DocumentRequirement

    country = factory.SubFactory(CountryProfileFactory)
    direction = "import"
    product_category = "imp"
    document_type = "import_permit"
    provided_by = "ior"
    lead_time_days = 10
    validity_days = 180
    source = "Test fixture"


def temperature_log_for(shipment, *, uploaded_by=None, serial: str = "LOGGER-1", spike_to: float | None = 9.0):
    """A stored temperature log of `shipment` with its readings and one 20-minute excursion above 2–8 °C, made without
    the import service (for tests that need the rows, not the import). `spike_to=None`: a clean 5 °C trace with no
    excursion, the record a refrigerated shipment is delivered with."""
    from datetime import UTC, datetime

    import numpy as np

    from shipments.models import Excursion, TemperatureLog, TemperatureSeries

    start = int(datetime(2026, 3, 1, tzinfo=UTC).timestamp())
    times = start + 60 * np.arange(121, dtype=np.int64)
    temperatures = np.full(times.size, 5.0)
    if spike_to is not None:
        temperatures[50:70] = spike_to
    log = TemperatureLog.objects.create(
        shipment=shipment,
        logger_serial=serial,
        original_name=f"{serial}.csv",
        size=100,
        sha256=f"{serial:0<64}"[:64],
        uploaded_by=uploaded_by,
        reading_count=times.size,
        first_reading_at=datetime.fromtimestamp(int(times[0]), tz=UTC),
        last_reading_at=datetime.fromtimestamp(int(times[-1]), tz=UTC),
        range_low=2.0,
        range_high=8.0,
        min_temperature=5.0,
        max_temperature=float(temperatures.max()),
        mean_temperature=float(temperatures.mean()),
        mean_kinetic_temperature=5.5,
        delta_h=83.144,
        minutes_above=0.0 if spike_to is None else 20.0,
        minutes_below=0.0,
    )
    TemperatureSeries.pack(log, times, temperatures).save(force_insert=True)
    if spike_to is None:
        return log
    Excursion.objects.create(
        shipment=shipment,
        log=log,
        direction="above",
        started_at=datetime.fromtimestamp(int(times[50]), tz=UTC),
        ended_at=datetime.fromtimestamp(int(times[70]), tz=UTC),
        duration_minutes=20.0,
        peak_temperature=spike_to,
    )
    return log


def cold_chain_disposition_for(shipment, *, decided_by, decision: str = "release", reason: str = "MKT within limits"):
    """A signed sponsor QA disposition of `shipment`'s goods, made without the service (for tests that need the rows,
    not the decision): the shipment is left in the state the decision leads to."""
    from documents.signatures import signature_create
    from shipments.choices import DISPOSITION_OUTCOMES
    from shipments.coldchain.services import DISPOSITION_MEANINGS
    from shipments.models import ColdChainDisposition

    quarantined_at = shipment.quarantined_at or timezone.now()
    signature = signature_create(
        actor=decided_by,
        shipment=shipment,
        meaning=DISPOSITION_MEANINGS[decision],
        comment=reason,
        manifest={"shipment": shipment.reference, "decision": decision, "reason": reason},
    )
    disposition = ColdChainDisposition.objects.create(
        shipment=shipment,
        decision=decision,
        reason=reason,
        decided_by=decided_by,
        quarantined_at=quarantined_at,
        excursion_count=shipment.excursions.count(),
        minutes_out_of_range=20.0,
        signature=signature,
    )
    Shipment.objects.filter(pk=shipment.pk).update(
        quarantine_status=DISPOSITION_OUTCOMES[decision], quarantined_at=quarantined_at
    )
    return disposition
