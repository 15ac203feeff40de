"""Restricted-party screening for the exporter of record: loading lists in the US Consolidated Screening
List format, fuzzy matching organizations against them, recording every screening, and clearing false
positives. Exporting to a listed party is prohibited or needs a licence, so an uncleared potential
match blocks export clearance until a reviewer of an exporter of record clears it, on the record."""

import csv
import hashlib
import io
import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Max, Q
from django.utils import timezone
from rapidfuzz import fuzz, process

from ior_platform.core.audit import record_event
from ior_platform.core.codes import country_codes
from ior_platform.core.errors import ConflictError, DomainError, NotPermitted, TransitionRefused
from ior_platform.core.tenancy import sees_everything
from parties.choices import MemberRole, PartyRole
from parties.models import MatchedOn, Organization, Screening, ScreeningListEntry, ScreeningStatus

DEFAULT_THRESHOLD = 88
REQUIRED_COLUMNS = ("source", "name")
# What the CSL calls each column, mapped to the entry's field; alt_names and addresses are split apart.
TEXT_COLUMNS = {
    "source": "source",
    "entity_number": "entity_number",
    "type": "entry_type",
    "name": "name",
    "programs": "programs",
    "federal_register_notice": "federal_register_notice",
    "remarks": "remarks",
    "source_list_url": "source_list_url",
}
CONTENT_FIELDS = (*TEXT_COLUMNS.values(), "alt_names", "addresses", "countries", "start_date")

LEGAL_FORMS = frozenset(
    "ltd limited llc llp lp inc incorporated corp corporation co company plc gmbh mbh ag kg sa sas sarl srl spa "  # noqa: SIM905
    "bv nv ltda pte pvt pty oy ab as aps kft sro jsc ojsc pjsc cjsc ooo oao zao pao".split()
)
LEGAL_PHRASES = re.compile(r"\b(?:public |closed |open )?(?:joint stock|limited liability) company\b")
PARENTHESES = re.compile(r"\([^)]*\)")
NON_WORD = re.compile(r"[\W_]+")


class ScreeningListError(ValueError):
    """A screening list file that cannot be loaded; the message says what is wrong, in one line."""


class ScreeningUnavailable(DomainError):
    """No restricted-party list is loaded, so there is nothing to screen against."""


def match_threshold() -> float:
    return float(getattr(settings, "SCREENING_MATCH_THRESHOLD", DEFAULT_THRESHOLD))


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def normalise_name(text: str) -> str:
    """'Harbin General Aircraft Industry Co., Ltd.' becomes 'harbin general aircraft industry'."""
    # Dots go before splitting so that S.A., Co. and Intl. stay single tokens instead of stray letters.
    text = _fold(PARENTHESES.sub(" ", text)).replace("&", " and ").replace(".", "").replace("'", "")
    tokens = NON_WORD.sub(" ", LEGAL_PHRASES.sub(" ", text)).split()
    kept = list(tokens)
    while kept and kept[-1] in LEGAL_FORMS:
        kept.pop()
    while kept and kept[0] in LEGAL_FORMS:
        kept.pop(0)
    return " ".join(kept or tokens)


def normalise_address(text: str) -> str:
    return " ".join(NON_WORD.sub(" ", _fold(text).replace(".", "")).split())


def split_listed_address(address: str) -> tuple[str, str]:
    """The CSL ends each address with its country's ISO code: 'Bantian, Shenzhen, CN' -> ('Bantian, Shenzhen', 'CN')."""
    head, _, last = address.rpartition(",")
    code = last.strip().upper()
    if head and code in country_codes():
        return head.strip(), code
    return address.strip(), ""


# ---------------------------------------------------------------------------------------------------------
# The index: the current list's names and addresses, normalised once per process and list version.


@dataclass(frozen=True)
class Candidate:
    entry_id: int
    matched_on: str
    text: str


@dataclass
class ListIndex:
    fingerprint: tuple
    version: str
    updated_at: datetime | None
    names: list[str]
    name_candidates: list[Candidate]
    addresses: dict[str, tuple[list[str], list[Candidate]]]
    entries: dict[int, tuple[str, str]]

    @property
    def empty(self) -> bool:
        return not self.entries


_index: ListIndex | None = None


def _fingerprint() -> tuple:
    facts = ScreeningListEntry.objects.aggregate(
        listed=Count("id", filter=Q(delisted_at__isnull=True)),
        loaded=Max("loaded_at"),
        delisted=Max("delisted_at"),
        newest=Max("id"),
    )
    return facts["listed"], facts["loaded"], facts["delisted"], facts["newest"]


def forget_index() -> None:
    global _index
    _index = None


def current_index() -> ListIndex:
    """The listed names and addresses, rebuilt only when a load or a delisting changed the list."""
    global _index
    fingerprint = _fingerprint()
    if _index is not None and _index.fingerprint == fingerprint:
        return _index
    names: list[str] = []
    name_candidates: list[Candidate] = []
    addresses: dict[str, tuple[list[str], list[Candidate]]] = {}
    entries: dict[int, tuple[str, str]] = {}
    listed = ScreeningListEntry.objects.filter(delisted_at__isnull=True).values_list(
        "pk", "name", "source", "alt_names", "addresses"
    )
    for pk, name, source, alt_names, address_lines in listed.iterator(chunk_size=2000):
        entries[pk] = (name, source)
        seen = set()
        for kind, text in [(MatchedOn.NAME, name), *((MatchedOn.ALIAS, alias) for alias in alt_names)]:
            normalised = normalise_name(text)
            if normalised and normalised not in seen:
                seen.add(normalised)
                names.append(normalised)
                name_candidates.append(Candidate(pk, kind, text))
        for line in address_lines.splitlines():
            street, country = split_listed_address(line)
            normalised = normalise_address(street)
            if normalised:
                choices, candidates = addresses.setdefault(country, ([], []))
                choices.append(normalised)
                candidates.append(Candidate(pk, MatchedOn.ADDRESS, line.strip()))
    latest = ScreeningListEntry.objects.order_by("-loaded_at", "-pk").values_list("list_version", flat=True).first()
    updated_at = max((moment for moment in fingerprint[1:3] if moment), default=None)
    _index = ListIndex(fingerprint, latest or "", updated_at, names, name_candidates, addresses, entries)
    return _index


# ---------------------------------------------------------------------------------------------------------
# Matching


@dataclass(frozen=True)
class Hit:
    entry_id: int
    matched_on: str
    matched_text: str
    screened_text: str
    score: float

    @property
    def key(self) -> tuple:
        return (self.entry_id, self.matched_on, self.matched_text, self.screened_text)


# Names are compared before addresses when scores tie: a listed name is the stronger sign.
_KIND_ORDER = {MatchedOn.NAME: 0, MatchedOn.ALIAS: 1, MatchedOn.ADDRESS: 2}


def _search(query: str, screened: str, choices: list[str], candidates: list[Candidate], threshold: float):
    """Hits at or above the threshold and the nearest candidate, for one normalised query."""
    if not query or not choices:
        return [], None
    # token_sort_ratio forgives word order ("Trading Acme") and small misspellings, yet, unlike WRatio or
    # token_set_ratio, does not score a short or generic name 90+ against every longer name containing it.
    _, best_score, best_at = process.extractOne(query, choices, scorer=fuzz.token_sort_ratio, processor=None)
    nearest = Hit(*_as_key(candidates[best_at], screened), score=round(best_score, 1))
    if best_score < threshold:
        return [], nearest
    found = process.extract(
        query, choices, scorer=fuzz.token_sort_ratio, processor=None, limit=None, score_cutoff=threshold
    )
    return [Hit(*_as_key(candidates[i], screened), score=round(score, 1)) for _, score, i in found], nearest


def _as_key(candidate: Candidate, screened: str) -> tuple:
    return candidate.entry_id, candidate.matched_on, candidate.text, screened


def _address_text(address) -> str:
    return ", ".join(p for p in (address.line1, address.line2, address.postal_code, address.city, address.region) if p)


def find_hits(organization: Organization, *, index: ListIndex, threshold: float) -> tuple[list[Hit], Hit | None]:
    """Every listed entry resembling the organization at or above `threshold`, best first and once per entry;
    with the nearest candidate of all, for the record when nothing reaches the threshold."""
    found: list[Hit] = []
    nearest: Hit | None = None
    for text in dict.fromkeys(t for t in (organization.name, organization.legal_name) if t):
        hits, near = _search(normalise_name(text), text, index.names, index.name_candidates, threshold)
        found += hits
        nearest = max((h for h in (nearest, near) if h), key=lambda h: h.score, default=None)
    for address in organization.addresses.all():
        text = _address_text(address)
        # An address in another country is not the same place however alike the streets read.
        for country in dict.fromkeys((address.country, "")):
            choices, candidates = index.addresses.get(country, ([], []))
            hits, near = _search(normalise_address(text), text, choices, candidates, threshold)
            found += hits
            nearest = max((h for h in (nearest, near) if h), key=lambda h: h.score, default=None)
    best_per_entry: dict[int, Hit] = {}
    for hit in sorted(found, key=lambda h: (-h.score, _KIND_ORDER[h.matched_on], h.matched_text)):
        best_per_entry.setdefault(hit.entry_id, hit)
    return list(best_per_entry.values()), nearest


# ---------------------------------------------------------------------------------------------------------
# Services


def _hit_record(hit: Hit, index: ListIndex) -> dict:
    name, source = index.entries[hit.entry_id]
    return {
        "entry": hit.entry_id,
        "name": name,
        "source": source,
        "matched_on": hit.matched_on,
        "matched_text": hit.matched_text,
        "screened_text": hit.screened_text,
        "score": hit.score,
    }


def _hit_key(record: dict) -> tuple:
    return record["entry"], record["matched_on"], record["matched_text"], record["screened_text"]


def _clearances(organization: Organization) -> dict[tuple, Screening]:
    """The reviewers' own decisions (not carried-over copies) for each hit they cleared, the latest winning."""
    decisions: dict[tuple, Screening] = {}
    cleared = organization.screenings.filter(
        status=ScreeningStatus.CLEARED_FALSE_POSITIVE, carried_over_from__isnull=True
    ).order_by("screened_at", "pk")
    for screening in cleared:
        for record in screening.hits:
            decisions[_hit_key(record)] = screening
    return decisions


def organization_screen(*, organization: Organization, actor=None) -> Screening:
    """Screen `organization`'s names and addresses against the loaded lists and record the result.

    Hits a reviewer already cleared for this organization stay cleared: the same name matching the same
    listed text again is the same false positive. Anything new is a potential match."""
    index = current_index()
    if index.empty:
        raise ScreeningUnavailable("no restricted-party list is loaded; run manage.py load_screening_list")
    threshold = match_threshold()
    with transaction.atomic():
        # The organization's audit chain is extended only while its row is locked.
        org = Organization.objects.select_for_update().get(pk=organization.pk)
        hits, nearest = find_hits(org, index=index, threshold=threshold)
        decisions = _clearances(org)
        open_hits = [hit for hit in hits if hit.key not in decisions]
        screening = Screening(
            organization=org,
            threshold=threshold,
            list_version=index.version,
            hits=[_hit_record(hit, index) for hit in hits],
        )
        if open_hits:
            screening.status, best = ScreeningStatus.POTENTIAL_MATCH, open_hits[0]
        elif hits:
            screening.status, best = ScreeningStatus.CLEARED_FALSE_POSITIVE, hits[0]
            decision = max((decisions[hit.key] for hit in hits), key=lambda s: (s.cleared_at, s.pk))
            screening.carried_over_from = decision
            screening.cleared_by_id = decision.cleared_by_id
            screening.cleared_at = decision.cleared_at
            screening.clearance_reason = decision.clearance_reason
        else:
            screening.status, best = ScreeningStatus.CLEAR, nearest
        if best is not None:
            screening.matched_entry_id = best.entry_id
            screening.matched_on = best.matched_on
            screening.matched_text = best.matched_text[:1000]
            screening.screened_text = best.screened_text[:1000]
            screening.score = best.score
        else:
            screening.score = 0
        screening.save()
        record_event(
            actor=actor,
            action="organization.screened",
            target=screening,
            organization=org,
            changes={
                "status": [None, screening.status],
                "score": [None, screening.score],
                "matched_entry": [None, screening.matched_entry],
                "matched_on": [None, screening.matched_on],
                "matched_text": [None, screening.matched_text],
                "hits": [None, len(hits)],
                "threshold": [None, threshold],
                "list_version": [None, screening.list_version],
            },
            reason=f"carried over from screening {screening.carried_over_from_id}"
            if screening.carried_over_from_id
            else "",
        )
    return screening


def _require_screening_reviewer(actor) -> None:
    if sees_everything(actor):
        return
    organization = getattr(actor, "organization", None)
    if not (
        organization is not None
        and organization.has_role(PartyRole.EOR)
        and actor.has_member_role(MemberRole.REVIEWER, MemberRole.MANAGER)
    ):
        raise NotPermitted("only reviewers or managers of an exporter of record may clear a screening match")


@transaction.atomic
def screening_clear(*, actor, screening: Screening, reason: str) -> Screening:
    """Record a reviewer's finding that a potential match is not the listed party, and why."""
    _require_screening_reviewer(actor)
    if not Organization.objects.for_user(actor).filter(pk=screening.organization_id).exists():
        raise Screening.DoesNotExist(f"No screening {screening.pk}")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Say why this organization is not the listed party."})
    org = Organization.objects.select_for_update().get(pk=screening.organization_id)
    locked = Screening.objects.select_for_update().get(pk=screening.pk)
    if locked.status != ScreeningStatus.POTENTIAL_MATCH:
        raise TransitionRefused(
            f"only a potential match can be cleared; this screening is {locked.get_status_display().lower()}"
        )
    latest = org.screenings.latest()
    if latest.pk != locked.pk:
        raise ConflictError(f"{org} was screened again since; review its latest screening instead")
    locked.status = ScreeningStatus.CLEARED_FALSE_POSITIVE
    locked.cleared_by = actor
    locked.cleared_at = timezone.now()
    locked.clearance_reason = reason
    locked.save(update_fields=["status", "cleared_by", "cleared_at", "clearance_reason"])
    record_event(
        actor=actor,
        action="organization.screening_cleared",
        target=locked,
        organization=org,
        changes={
            "status": [ScreeningStatus.POTENTIAL_MATCH, locked.status],
            "matched_entry": [None, locked.matched_entry],
        },
        reason=reason,
    )
    return locked


def describe_blocker(screening: Screening) -> str:
    entry = screening.matched_entry
    listed = f"'{entry.name}' on the {entry.list_name}"
    if screening.status == ScreeningStatus.CONFIRMED_MATCH:
        return f"{screening.organization} is a confirmed match for {listed}; it may not take part in an export"
    if screening.matched_on == MatchedOn.ALIAS:
        listed += f" (listed as '{screening.matched_text}')"
    elif screening.matched_on == MatchedOn.ADDRESS:
        listed += f" (its address '{screening.screened_text}' resembles the listed '{screening.matched_text}')"
    others = len(screening.hits) - 1
    more = f", with {others} more listed {'party' if others == 1 else 'parties'}" if others > 0 else ""
    return (
        f"{screening.organization} is a potential match (score {screening.score:.0f}) for {listed}{more}; "
        "a reviewer must clear it"
    )


def screening_blockers(organizations, *, actor=None, rescreen: bool = True) -> list[str]:
    """A sentence for each organization whose latest screening is an uncleared potential or confirmed match.

    An organization not screened since it or the list last changed is screened here first; with
    `rescreen=False` (for callers that must not write) that is reported as a blocker instead."""
    index = current_index()
    reasons = []
    seen = set()
    for organization in organizations:
        if organization is None or organization.pk in seen:
            continue
        seen.add(organization.pk)
        latest = organization.screenings.select_related("organization", "matched_entry").first()
        changed_at = max(m for m in (organization.updated_at, index.updated_at) if m)
        if not index.empty and (latest is None or latest.screened_at < changed_at):
            if not rescreen:
                reasons.append(f"{organization} has not been screened against the current restricted-party list")
                continue
            latest = organization_screen(organization=organization, actor=actor)
        if latest is not None and latest.blocks_export:
            reasons.append(describe_blocker(latest))
    return reasons


# ---------------------------------------------------------------------------------------------------------
# Loading a list


@dataclass(frozen=True)
class LoadResult:
    total: int
    created: int
    updated: int
    delisted: int
    version: str


def _split(value: str) -> list[str]:
    return list(dict.fromkeys(part.strip() for part in value.split(";") if part.strip()))


def _parse_date(value: str, where: str, column: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        raise ScreeningListError(f"{where}: {column} '{value}' is not a date (YYYY-MM-DD)") from None


def _entry_values(row: dict, where: str) -> dict:
    values = {field: (row.get(column) or "").strip() for column, field in TEXT_COLUMNS.items()}
    for column in REQUIRED_COLUMNS:
        if not values[TEXT_COLUMNS[column]]:
            raise ScreeningListError(f"{where}: the entry has no {column}")
    for field, value in values.items():
        limit = ScreeningListEntry._meta.get_field(field).max_length
        if limit and len(value) > limit:
            raise ScreeningListError(f"{where}: {field} is longer than {limit} characters")
    addresses = _split(row.get("addresses") or "")
    values["alt_names"] = _split(row.get("alt_names") or "")
    values["addresses"] = "\n".join(addresses)
    values["countries"] = list(dict.fromkeys(c for c in (split_listed_address(a)[1] for a in addresses) if c))
    values["start_date"] = _parse_date((row.get("start_date") or "").strip(), where, "start_date")
    return values


def _merge(into: dict, other: dict) -> None:
    """The CSL repeats some parties row by row (one per address); they are one entry with every name and address."""
    extra_names = [other["name"]] if other["name"] != into["name"] else []
    into["alt_names"] = list(dict.fromkeys([*into["alt_names"], *extra_names, *other["alt_names"]]))
    into["addresses"] = "\n".join(dict.fromkeys([*into["addresses"].splitlines(), *other["addresses"].splitlines()]))
    into["countries"] = list(dict.fromkeys([*into["countries"], *other["countries"]]))


def parse_screening_list(data: bytes, *, filename: str) -> dict[tuple[str, str], dict]:
    """The entries of a CSL CSV keyed by (source, entity number or name); ScreeningListError on bad input."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ScreeningListError(f"{filename} is not UTF-8 text (byte {exc.start})") from None
    if not text.strip():
        raise ScreeningListError(f"{filename} is empty; expected a CSV header with at least the columns source, name")
    reader = csv.DictReader(io.StringIO(text, newline=""))
    reader.fieldnames = [(name or "").strip() for name in reader.fieldnames or []]
    missing = [column for column in REQUIRED_COLUMNS if column not in reader.fieldnames]
    if missing:
        raise ScreeningListError(
            f"{filename} has no {' or '.join(repr(c) for c in missing)} column; found {', '.join(reader.fieldnames)}"
        )
    entries: dict[tuple[str, str], dict] = {}
    try:
        for row in reader:
            if None in row:
                raise ScreeningListError(f"{filename} line {reader.line_num}: more fields than the header has columns")
            if not any((value or "").strip() for value in row.values()):
                continue
            values = _entry_values(row, f"{filename} line {reader.line_num}")
            key = (values["source"], values["entity_number"] or values["name"])
            if key in entries:
                _merge(entries[key], values)
            else:
                entries[key] = values
    except csv.Error as exc:
        raise ScreeningListError(f"{filename} line {reader.line_num}: {exc}") from None
    if not entries:
        raise ScreeningListError(f"{filename} has a header but no entries")
    return entries


def screening_list_load(*, path: Path, replace: bool = False) -> LoadResult:
    """Load a CSL CSV file, all or nothing. Entries are keyed by (source, entity number or name), so loading
    the same file again changes nothing and screenings done since stay current. With `replace`, listed
    entries missing from the file are delisted: kept, because screenings cite them, but no longer matched."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ScreeningListError(f"cannot read {path}: {exc.strerror}") from None
    version = f"{Path(path).name}@sha256:{hashlib.sha256(data).hexdigest()[:12]}"
    parsed = parse_screening_list(data, filename=Path(path).name)
    now = timezone.now()
    delisted = 0
    with transaction.atomic():
        existing = {(e.source, e.entry_key): e for e in ScreeningListEntry.objects.select_for_update()}
        new, changed = [], []
        for key, values in parsed.items():
            entry = existing.get(key)
            if entry is None:
                new.append(ScreeningListEntry(entry_key=key[1], list_version=version, loaded_at=now, **values))
            elif entry.delisted_at or any(getattr(entry, field) != value for field, value in values.items()):
                for field, value in values.items():
                    setattr(entry, field, value)
                # An unchanged entry keeps its load time: only a real change makes screenings out of date.
                entry.list_version, entry.loaded_at, entry.delisted_at = version, now, None
                changed.append(entry)
        ScreeningListEntry.objects.bulk_create(new, batch_size=1000)
        ScreeningListEntry.objects.bulk_update(
            changed, [*CONTENT_FIELDS, "list_version", "loaded_at", "delisted_at"], batch_size=500
        )
        if replace:
            gone = [e.pk for key, e in existing.items() if key not in parsed and e.delisted_at is None]
            delisted = ScreeningListEntry.objects.filter(pk__in=gone).update(delisted_at=now)
    forget_index()
    return LoadResult(total=len(parsed), created=len(new), updated=len(changed), delisted=delisted, version=version)
