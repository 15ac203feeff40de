"""Loading the country knowledge base from compliance/data/countries/*.yaml.

Every file is validated before anything is written; one error anywhere loads nothing. Loading is
idempotent: an unchanged fact or requirement is left alone, a changed requirement becomes a new
version (the old one is kept, inactive, because submitted shipments point at it), and open
shipments whose route the change touches are flagged for review instead of being rewritten."""

import datetime
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path

import yaml
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.db.models import Max, Q
from django.utils import timezone

from compliance.choices import DocumentType, ProductCategory, TemperatureClass, TradeDirection
from compliance.models import CountryProfile, DocumentRequirement
from ior_platform.core.audit import record_event
from ior_platform.core.codes import country_codes, currency_codes
from parties.choices import PartyRole
from shipments.choices import ShipmentStatus

DATA_DIR = Path(__file__).resolve().parent / "data" / "countries"

# profile field -> (path in the file, kind)
PROFILE_FACTS = {
    "regulatory_authority": (("regulatory_authority", "name"), "text"),
    "regulatory_authority_acronym": (("regulatory_authority", "acronym"), "text"),
    "regulatory_authority_url": (("regulatory_authority", "url"), "url"),
    "customs_authority": (("customs_authority", "name"), "text"),
    "customs_authority_acronym": (("customs_authority", "acronym"), "text"),
    "customs_authority_url": (("customs_authority", "url"), "url"),
    "clinical_import_authorisation": (("clinical_import_authorisation",), "text"),
    "local_ior_mandatory": (("local_ior_mandatory",), "bool"),
    "imp_duty_exempt": (("imp_duty_exempt",), "bool"),
    "imp_vat_exempt": (("imp_vat_exempt",), "bool"),
    "standard_vat_rate": (("standard_vat_rate",), "percent"),
    "standard_duty_rate": (("standard_duty_rate",), "percent"),
    "typical_clearance_days": (("typical_clearance_days",), "days"),
    "cold_chain_notes": (("cold_chain_notes",), "text"),
}
TEXT_LIMITS = {"regulatory_authority_acronym": 30, "customs_authority_acronym": 30}
TOP_LEVEL_KEYS = {"country", "name", "regulatory_authority", "customs_authority", "requirements", "note"} | {
    path[0] for path, _ in PROFILE_FACTS.values()
}
REQUIREMENT_KEYS = {
    "direction",
    "product_categories",
    "temperature_class",
    "min_declared_value",
    "value_currency",
    "document_type",
    "title",
    "provided_by",
    "lead_time_days",
    "validity_days",
    "legal_basis",
    "source",
    "verified_on",
    "note",
}
# Fields that make a requirement a new version when they change.
REQUIREMENT_CONTENT = (
    "title",
    "provided_by",
    "lead_time_days",
    "validity_days",
    "legal_basis",
    "source",
    "verified_on",
    "notes",
    "min_declared_value",
    "value_currency",
)
OPEN_STATUSES = (ShipmentStatus.PERMIT_COLLECTION, ShipmentStatus.DOSSIER_REVIEW, ShipmentStatus.APPROVED)


class DataError(Exception):
    """Every problem found in the data files, one line each: file, entry, what is wrong."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


@dataclass
class CountryData:
    country: str
    profile: dict
    sources: list
    requirements: list[dict] = field(default_factory=list)


@dataclass
class LoadReport:
    countries_created: int = 0
    countries_updated: int = 0
    requirements_created: int = 0
    requirements_revised: int = 0
    requirements_retired: int = 0
    shipments_flagged: int = 0

    @property
    def changed(self) -> bool:
        return any(
            (
                self.countries_created,
                self.countries_updated,
                self.requirements_created,
                self.requirements_revised,
                self.requirements_retired,
            )
        )


class _Checker:
    def __init__(self, where: str):
        self.where = where
        self.problems: list[str] = []

    def fail(self, entry: str, message: str) -> None:
        self.problems.append(f"{self.where}: {entry}: {message}")

    def date(self, entry: str, value) -> datetime.date | None:
        if isinstance(value, datetime.date) and not isinstance(value, datetime.datetime):
            return value
        if isinstance(value, str):
            try:
                return datetime.date.fromisoformat(value)
            except ValueError:
                pass
        self.fail(entry, f"verified_on must be a date (YYYY-MM-DD), not {value!r}")
        return None

    def source(self, entry: str, value) -> str | None:
        if not isinstance(value, str) or not value.strip():
            self.fail(entry, "a source (URL or legal reference) is required")
            return None
        value = value.strip()
        if value.startswith(("http://", "https://")):
            try:
                URLValidator()(value)
            except ValidationError:
                self.fail(entry, f"source {value!r} is not a valid URL")
                return None
        if len(value) > 500:
            self.fail(entry, "source is longer than 500 characters")
        return value


def _fact_value(checker: _Checker, entry: str, fact, kind: str):
    """The fact's value, converted and checked; None for unknown. Records problems on `checker`."""
    if fact is None:
        return None, None
    if not isinstance(fact, dict) or "value" not in fact:
        checker.fail(entry, "must be an object with value, source and verified_on")
        return None, None
    unknown = set(fact) - {"value", "source", "verified_on", "note"}
    if unknown:
        checker.fail(entry, f"unknown key(s) {', '.join(sorted(unknown))}")
    value = fact["value"]
    if value is None:
        return None, {"note": fact.get("note") or ""}
    source = checker.source(entry, fact.get("source"))
    verified = checker.date(entry, fact.get("verified_on"))
    if kind == "bool" and not isinstance(value, bool):
        checker.fail(entry, f"must be true, false or null, not {value!r}")
    elif kind == "percent":
        try:
            value = Decimal(str(value))
        except InvalidOperation:
            checker.fail(entry, f"must be a percentage, not {value!r}")
        else:
            if not 0 <= value <= 100:
                checker.fail(entry, f"must be between 0 and 100, not {value}")
    elif kind == "days" and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
        checker.fail(entry, f"must be a whole number of days ≥ 0, not {value!r}")
    elif kind in {"text", "url"}:
        if not isinstance(value, str) or not value.strip():
            checker.fail(entry, f"must be text, not {value!r}")
        elif kind == "url":
            try:
                URLValidator()(value)
            except ValidationError:
                checker.fail(entry, f"{value!r} is not a valid URL")
        value = value.strip() if isinstance(value, str) else value
    provenance = {"source": source, "verified_on": verified.isoformat() if verified else None}
    if fact.get("note"):
        provenance["note"] = str(fact["note"])
    return value, provenance


def _whole_days(checker: _Checker, entry: str, value) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        checker.fail(entry, f"must be a whole number of days ≥ 0 or null, not {value!r}")
        return None
    if value > 32767:
        checker.fail(entry, f"{value} days is not plausible")
    return value


def _parse_requirement(checker: _Checker, index: int, raw) -> list[dict]:
    entry = f"requirements[{index}]"
    if not isinstance(raw, dict):
        checker.fail(entry, "must be an object")
        return []
    unknown = set(raw) - REQUIREMENT_KEYS
    if unknown:
        checker.fail(entry, f"unknown key(s) {', '.join(sorted(unknown))}")
    before = len(checker.problems)
    direction = raw.get("direction")
    if direction not in TradeDirection.values:
        checker.fail(entry, f"direction must be import or export, not {direction!r}")
    categories = raw.get("product_categories")
    if isinstance(categories, str):
        categories = [categories]
    if not categories or not isinstance(categories, list) or any(c not in ProductCategory.values for c in categories):
        checker.fail(
            entry, f"product_categories must list some of {', '.join(ProductCategory.values)}, not {categories!r}"
        )
        categories = []
    temperature = raw.get("temperature_class") or ""
    if temperature and temperature not in TemperatureClass.values:
        checker.fail(entry, f"unknown temperature_class {temperature!r}")
    document_type = raw.get("document_type")
    if document_type not in DocumentType.values:
        checker.fail(entry, f"unknown document_type {document_type!r}")
    provided_by = raw.get("provided_by")
    if provided_by not in PartyRole.values:
        checker.fail(entry, f"provided_by must be one of {', '.join(PartyRole.values)}, not {provided_by!r}")
    threshold, currency = raw.get("min_declared_value"), raw.get("value_currency") or ""
    if threshold is not None:
        try:
            threshold = Decimal(str(threshold))
        except InvalidOperation:
            checker.fail(entry, f"min_declared_value must be a number, not {threshold!r}")
        else:
            if threshold < 0:
                checker.fail(entry, "min_declared_value cannot be negative")
        if currency not in currency_codes():
            checker.fail(
                entry, f"value_currency must be an ISO 4217 code when min_declared_value is set, not {currency!r}"
            )
    source = checker.source(entry, raw.get("source"))
    verified = checker.date(entry, raw.get("verified_on"))
    lead = _whole_days(checker, f"{entry}.lead_time_days", raw.get("lead_time_days"))
    validity = _whole_days(checker, f"{entry}.validity_days", raw.get("validity_days"))
    title = str(raw.get("title") or "").strip()
    if len(title) > 200:
        checker.fail(entry, "title is longer than 200 characters")
    legal_basis = str(raw.get("legal_basis") or "").strip()
    if len(legal_basis) > 300:
        checker.fail(entry, "legal_basis is longer than 300 characters")
    if len(checker.problems) > before:
        return []
    return [
        {
            "direction": direction,
            "product_category": category,
            "temperature_class": temperature,
            "document_type": document_type,
            "title": title,
            "provided_by": provided_by,
            "lead_time_days": lead,
            "validity_days": validity,
            "legal_basis": legal_basis,
            "source": source,
            "verified_on": verified,
            "notes": str(raw.get("note") or "").strip(),
            "min_declared_value": threshold,
            "value_currency": currency if threshold is not None else "",
        }
        for category in categories
    ]


def parse_file(path: Path) -> tuple[CountryData | None, list[str]]:
    checker = _Checker(path.name)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        return None, [f"{path.name}: not valid YAML: {str(exc).splitlines()[0]}"]
    if not isinstance(raw, dict):
        return None, [f"{path.name}: must be a mapping with a `country` key"]
    country = raw.get("country")
    if country not in country_codes():
        checker.fail("country", f"{country!r} is not an ISO 3166-1 alpha-2 code")
    elif path.stem != country:
        checker.fail("country", f"{country} does not match the file name {path.name}")
    unknown = set(raw) - TOP_LEVEL_KEYS
    if unknown:
        checker.fail("file", f"unknown key(s) {', '.join(sorted(unknown))}")
    profile, sources = {}, []
    for field_name, (path_keys, kind) in PROFILE_FACTS.items():
        node = raw
        for key in path_keys[:-1]:
            node = node.get(key) if isinstance(node, dict) else None
        fact = node.get(path_keys[-1]) if isinstance(node, dict) else None
        value, provenance = _fact_value(checker, ".".join(path_keys), fact, kind)
        if isinstance(value, str) and field_name in TEXT_LIMITS and len(value) > TEXT_LIMITS[field_name]:
            checker.fail(".".join(path_keys), f"longer than {TEXT_LIMITS[field_name]} characters")
        profile[field_name] = value if value is not None else ("" if kind in {"text", "url"} else None)
        if provenance:
            sources.append({"fact": field_name, **provenance})
    requirements = []
    raw_requirements = raw.get("requirements") or []
    if not isinstance(raw_requirements, list):
        checker.fail("requirements", "must be a list")
        raw_requirements = []
    seen = set()
    for index, item in enumerate(raw_requirements):
        for requirement in _parse_requirement(checker, index, item):
            key = _key(requirement)
            if key in seen:
                checker.fail(f"requirements[{index}]", f"duplicates an earlier requirement for {key[1]} {key[3]}")
            seen.add(key)
            requirements.append(requirement)
    verified = [s["verified_on"] for s in sources if s.get("verified_on")]
    verified += [r["verified_on"].isoformat() for r in requirements]
    profile["last_verified_on"] = datetime.date.fromisoformat(max(verified)) if verified else None
    if checker.problems:
        return None, checker.problems
    return CountryData(country=country, profile=profile, sources=sources, requirements=requirements), []


def _key(requirement: dict) -> tuple:
    return (
        requirement["direction"],
        requirement["product_category"],
        requirement["temperature_class"],
        requirement["document_type"],
    )


def parse_directory(directory: Path = DATA_DIR) -> list[CountryData]:
    files = sorted(directory.glob("*.yaml"))
    if not files:
        raise DataError([f"{directory}: no country files (*.yaml) found"])
    parsed, problems = [], []
    for path in files:
        data, file_problems = parse_file(path)
        problems.extend(file_problems)
        if data:
            parsed.append(data)
    if problems:
        raise DataError(problems)
    return parsed


def flag_open_shipments(*, country: str, directions: set[str], reason: str) -> int:
    from shipments.models import Shipment

    route = Q()
    if TradeDirection.IMPORT in directions:
        route |= Q(destination_country=country)
    if TradeDirection.EXPORT in directions:
        route |= Q(origin_country=country)
    flagged = 0
    for shipment in Shipment.objects.filter(route, status__in=OPEN_STATUSES).select_for_update():
        shipment.compliance_flag = reason
        shipment.compliance_flagged_at = timezone.now()
        shipment.save(update_fields=["compliance_flag", "compliance_flagged_at", "updated_at"])
        record_event(
            actor=None,
            action="shipment.compliance_flagged",
            target=shipment,
            changes={"compliance_flag": [None, reason]},
            shipment=shipment,
        )
        flagged += 1
    return flagged


def _apply_country(data: CountryData, report: LoadReport, actor) -> None:
    profile = CountryProfile.objects.select_for_update().filter(country=data.country).first()
    values = {**data.profile, "sources": data.sources}
    if profile is None:
        profile = CountryProfile.objects.create(country=data.country, **values)
        record_event(
            actor=actor,
            action="compliance.country_loaded",
            target=profile,
            changes={k: [None, v] for k, v in values.items() if v not in (None, "", [])},
        )
        report.countries_created += 1
    else:
        changes = {k: [getattr(profile, k), v] for k, v in values.items() if getattr(profile, k) != v}
        if changes:
            for name, (_, new) in changes.items():
                setattr(profile, name, new)
            profile.save()
            record_event(actor=actor, action="compliance.country_updated", target=profile, changes=changes)
            report.countries_updated += 1
    touched: set[str] = set()
    active = {
        _key(
            {
                "direction": r.direction,
                "product_category": r.product_category,
                "temperature_class": r.temperature_class,
                "document_type": r.document_type,
            }
        ): r
        for r in profile.requirements.filter(is_active=True)
    }
    wanted = {_key(r): r for r in data.requirements}
    for key, requirement in wanted.items():
        current = active.get(key)
        if current and all(getattr(current, f) == requirement[f] for f in REQUIREMENT_CONTENT):
            continue
        version = (
            DocumentRequirement.objects.filter(
                country=profile,
                direction=key[0],
                product_category=key[1],
                temperature_class=key[2],
                document_type=key[3],
            ).aggregate(v=Max("version"))["v"]
            or 0
        ) + 1
        if current:
            current.is_active = False
            current.save(update_fields=["is_active"])
        created = DocumentRequirement.objects.create(country=profile, version=version, **requirement)
        action = "compliance.requirement_revised" if current else "compliance.requirement_added"
        changes = (
            {
                f: [getattr(current, f), requirement[f]]
                for f in REQUIREMENT_CONTENT
                if getattr(current, f) != requirement[f]
            }
            if current
            else {"version": [None, version]}
        )
        record_event(actor=actor, action=action, target=created, changes=changes)
        report.requirements_revised += bool(current)
        report.requirements_created += not current
        touched.add(key[0])
    for key, stale in active.items():
        if key not in wanted:
            stale.is_active = False
            stale.save(update_fields=["is_active"])
            record_event(
                actor=actor, action="compliance.requirement_retired", target=stale, changes={"is_active": [True, False]}
            )
            report.requirements_retired += 1
            touched.add(key[0])
    if touched:
        report.shipments_flagged += flag_open_shipments(
            country=data.country,
            directions=touched,
            reason=f"{profile.country_name}'s document requirements changed on {timezone.now():%Y-%m-%d}; "
            "re-check the checklist",
        )


def load_regulatory_data(*, directory: Path = DATA_DIR, actor=None) -> LoadReport:
    """Validate every file, then load them all in one transaction. On any problem: DataError, nothing written."""
    parsed = parse_directory(directory)
    report = LoadReport()
    with transaction.atomic():
        for data in parsed:
            _apply_country(data, report, actor)
    return report
