"""ISO 3166-1 country and ISO 4217 currency codes: model fields that accept only real codes, and the
check constraints that keep the database honest when something writes around the model."""

from functools import cache

import pycountry
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

# Member states of the EU customs union: goods move between them without an export or import declaration.
EU_CUSTOMS_UNION = frozenset(
    "AT BE BG CY CZ DE DK EE ES FI FR GR HR HU IE IT LT LU LV MT NL PL PT RO SE SI SK".split()  # noqa: SIM905
)


@cache
def country_codes() -> tuple[str, ...]:
    return tuple(sorted(c.alpha_2 for c in pycountry.countries))


@cache
def currency_codes() -> tuple[str, ...]:
    return tuple(sorted(c.alpha_3 for c in pycountry.currencies))


def country_choices() -> list[tuple[str, str]]:
    return sorted(((c.alpha_2, c.name) for c in pycountry.countries), key=lambda pair: pair[1])


def currency_choices() -> list[tuple[str, str]]:
    return [(c.alpha_3, f"{c.alpha_3} – {c.name}") for c in sorted(pycountry.currencies, key=lambda c: c.alpha_3)]


def country_name(code: str) -> str:
    country = pycountry.countries.get(alpha_2=code) if code else None
    return country.name if country else code


def validate_country(value: str) -> None:
    if value not in country_codes():
        raise ValidationError("%(value)s is not an ISO 3166-1 alpha-2 country code.", params={"value": value})


def validate_currency(value: str) -> None:
    if value not in currency_codes():
        raise ValidationError("%(value)s is not an ISO 4217 currency code.", params={"value": value})


class CountryField(models.CharField):
    """An ISO 3166-1 alpha-2 code (upper case)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("max_length", 2)
        kwargs.setdefault("choices", country_choices)
        super().__init__(*args, **kwargs)
        self.validators.append(validate_country)


class CurrencyField(models.CharField):
    """An ISO 4217 alphabetic currency code."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("max_length", 3)
        kwargs.setdefault("choices", currency_choices)
        super().__init__(*args, **kwargs)
        self.validators.append(validate_currency)


def valid_country_constraint(field: str, *, model: str, nullable: bool = False) -> models.CheckConstraint:
    condition = Q(**{f"{field}__in": country_codes()})
    if nullable:
        condition |= Q(**{field: ""})
    return models.CheckConstraint(condition=condition, name=f"{model}_{field}_iso3166")


def valid_currency_constraint(field: str, *, model: str) -> models.CheckConstraint:
    return models.CheckConstraint(condition=Q(**{f"{field}__in": currency_codes()}), name=f"{model}_{field}_iso4217")
