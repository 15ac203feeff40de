"""load_regulatory_data: validates everything before writing anything, and loading twice changes nothing."""

import textwrap
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from compliance.loader import DataError, load_regulatory_data
from compliance.models import CountryProfile, DocumentRequirement
from ior_platform.core.models import AuditEvent
from shipments import services
from shipments.models import Shipment

BR = textwrap.dedent(
    """\
    country: BR
    regulatory_authority:
      name:
        value: "Agência Nacional de Vigilância Sanitária"
        source: "https://www.gov.br/anvisa/pt-br"
        verified_on: 2026-11-23
      acronym: {value: ANVISA, source: "https://www.gov.br/anvisa/pt-br", verified_on: 2026-11-23}
      url: {value: "https://www.gov.br/anvisa/pt-br", source: "https://www.gov.br/anvisa", verified_on: 2026-11-23}
    local_ior_mandatory: {value: true, source: "RDC ANVISA 81/2008", verified_on: 2026-11-23}
    standard_vat_rate: {value: null, note: "No single national rate (ICMS varies by state)"}
    typical_clearance_days: {value: null}
    requirements:
      - direction: import
        product_categories: [imp, biological_sample]
        document_type: import_permit
        title: "ANVISA consent on the import licence (LI)"
        provided_by: ior
        lead_time_days: 30
        validity_days: 90
        legal_basis: "RDC ANVISA 81/2008"
        source: "https://www.gov.br/anvisa/pt-br"
        verified_on: 2026-11-23
      - direction: import
        product_categories: imp
        document_type: commercial_invoice
        provided_by: sponsor
        lead_time_days: null
        source: "Decreto 6.759/2009, Art. 557"
        verified_on: 2026-11-23
    """
)
US = textwrap.dedent(
    """\
    country: US
    customs_authority:
      name: {value: "U.S. Customs and Border Protection", source: "https://www.cbp.gov", verified_on: 2026-11-23}
    requirements:
      - direction: export
        product_categories: [imp]
        document_type: export_declaration
        provided_by: eor
        lead_time_days: 2
        min_declared_value: 2500
        value_currency: USD
        source: "15 CFR 30.37(a)"
        verified_on: 2026-11-23
    """
)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    (tmp_path / "BR.yaml").write_text(BR, encoding="utf-8")
    (tmp_path / "US.yaml").write_text(US, encoding="utf-8")
    return tmp_path


@pytest.mark.django_db
def test_loads_profiles_requirements_and_provenance(data_dir):
    report = load_regulatory_data(directory=data_dir)
    assert (report.countries_created, report.requirements_created) == (2, 4)
    brazil = CountryProfile.objects.get(country="BR")
    assert brazil.regulatory_authority_acronym == "ANVISA"
    assert brazil.local_ior_mandatory is True
    assert brazil.standard_vat_rate is None
    sources = {s["fact"]: s for s in brazil.sources}
    assert sources["local_ior_mandatory"] == {
        "fact": "local_ior_mandatory",
        "source": "RDC ANVISA 81/2008",
        "verified_on": "2026-11-23",
    }
    assert sources["standard_vat_rate"]["note"].startswith("No single national rate")
    consent = DocumentRequirement.objects.get(country=brazil, product_category="imp", document_type="import_permit")
    assert (consent.title, consent.provided_by, consent.lead_time_days) == (
        "ANVISA consent on the import licence (LI)",
        "ior",
        30,
    )
    assert DocumentRequirement.objects.filter(country=brazil, product_category="biological_sample").exists()
    assert DocumentRequirement.objects.get(document_type="export_declaration").min_declared_value == 2500


@pytest.mark.django_db
def test_loading_twice_changes_nothing(data_dir):
    load_regulatory_data(directory=data_dir)
    counts = (CountryProfile.objects.count(), DocumentRequirement.objects.count(), AuditEvent.objects.count())
    report = load_regulatory_data(directory=data_dir)
    assert not report.changed
    assert (CountryProfile.objects.count(), DocumentRequirement.objects.count(), AuditEvent.objects.count()) == counts


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("edit", "problem"),
    [
        (
            lambda t: t.replace(
                'acronym: {value: ANVISA, source: "https://www.gov.br/anvisa/pt-br", verified_on: 2026-11-23}',
                "acronym: {value: ANVISA}",
            ),
            "BR.yaml: regulatory_authority.acronym: a source (URL or legal reference) is required",
        ),
        (lambda t: t.replace("country: BR", "country: XX"), "BR.yaml: country: 'XX' is not an ISO 3166-1 alpha-2 code"),
        (
            lambda t: t.replace("lead_time_days: 30", "lead_time_days: -5"),
            "BR.yaml: requirements[0].lead_time_days: must be a whole number of days ≥ 0 or null, not -5",
        ),
        (
            lambda t: t.replace('    source: "Decreto 6.759/2009, Art. 557"\n', ""),
            "BR.yaml: requirements[1]: a source (URL or legal reference) is required",
        ),
        (
            lambda t: t.replace("document_type: commercial_invoice", "document_type: invoice"),
            "BR.yaml: requirements[1]: unknown document_type 'invoice'",
        ),
        (
            lambda t: t.replace("provided_by: sponsor", "provided_by: santa"),
            "BR.yaml: requirements[1]: provided_by must be one of",
        ),
        (
            lambda t: t.replace("{value: true,", "{value: maybe,"),
            "BR.yaml: local_ior_mandatory: must be true, false or null",
        ),
        (lambda t: t + "  - [not, a, mapping]\n", "BR.yaml: requirements[2]: must be an object"),
        (lambda t: t.replace("country: BR", "country: BR\n  bad indent: ["), "BR.yaml: not valid YAML"),
    ],
)
def test_a_bad_file_names_file_entry_and_problem_and_loads_nothing(data_dir, edit, problem):
    (data_dir / "BR.yaml").write_text(edit(BR), encoding="utf-8")
    with pytest.raises(DataError) as error:
        load_regulatory_data(directory=data_dir)
    assert any(p.startswith(problem) for p in error.value.problems), error.value.problems
    assert not CountryProfile.objects.exists()
    assert not DocumentRequirement.objects.exists()
    assert not AuditEvent.objects.exists()


@pytest.mark.django_db
def test_command_exits_non_zero_with_the_problems(data_dir, capsys):
    (data_dir / "US.yaml").write_text(US.replace("lead_time_days: 2", "lead_time_days: two"), encoding="utf-8")
    with pytest.raises(CommandError, match="1 problem"):
        call_command("load_regulatory_data", directory=data_dir)
    assert "US.yaml: requirements[0].lead_time_days" in capsys.readouterr().err
    with pytest.raises(CommandError, match="is not a folder"):
        call_command("load_regulatory_data", directory=data_dir / "missing")


def test_a_changed_requirement_is_a_new_version_and_flags_open_shipments(world, data_dir):
    load_regulatory_data(directory=data_dir)
    submitted = services.shipment_submit(actor=world.alice, shipment=world.shipment())
    draft = world.shipment()
    permit = submitted.documents.get(document_type="import_permit")
    assert permit.lead_time_days == 30
    (data_dir / "BR.yaml").write_text(BR.replace("lead_time_days: 30", "lead_time_days: 45"), encoding="utf-8")
    report = load_regulatory_data(directory=data_dir)
    assert (report.requirements_revised, report.shipments_flagged) == (2, 1)
    versions = DocumentRequirement.objects.filter(product_category="imp", document_type="import_permit")
    assert sorted(versions.values_list("version", "is_active", "lead_time_days")) == [(1, False, 30), (2, True, 45)]
    submitted = Shipment.objects.get(pk=submitted.pk)
    assert "Brazil's document requirements changed" in submitted.compliance_flag
    assert submitted.documents.get(document_type="import_permit").lead_time_days == 30
    assert Shipment.objects.get(pk=draft.pk).compliance_flag == ""
    assert AuditEvent.objects.filter(shipment=submitted, action="shipment.compliance_flagged").count() == 1


@pytest.mark.django_db
def test_a_requirement_removed_from_the_file_is_retired(data_dir):
    load_regulatory_data(directory=data_dir)
    trimmed = BR.split("  - direction: import\n    product_categories: imp\n")[0]
    (data_dir / "BR.yaml").write_text(trimmed, encoding="utf-8")
    report = load_regulatory_data(directory=data_dir)
    assert report.requirements_retired == 1
    assert not DocumentRequirement.objects.get(document_type="commercial_invoice").is_active
