"""Standardize a whole record: every canonical field by its kind, custom fields untouched.

The record's own country (``country``, ``mailing_country`` or ``billing_country``, see
:data:`~schemas.entities.ENTITIES`) sets the context of the other fields: the region phone
numbers without a country code are read in (else ``default_region``), and the state and
postcode rules. CDC updates carry only changed fields, so callers pass the merged record
when they have it: a phone changed alone is otherwise read in the default region.

Invalid values are kept as typed in ``fields`` and listed in ``invalid`` with their reason;
nothing is ever dropped. ``derived`` holds helper values for duplicate matching and
enrichment, separate from the record's own fields:

* ``company_key``: :func:`~schemas.standardize.companies.company_key` of the company name
  (a lead's ``company``, an account's ``name``);
* ``email_domain`` and ``website_domain``: the domain of a valid email and website;
* ``<field>_currency``: the ISO currency of a money field, when one was written.

>>> result = standardize_fields(
...     "lead",
...     {"first_name": "ADA", "email": "Ada@Example.com", "phone": "(415) 555-2671",
...      "country": "USA", "company": "Acme, Inc.", "status": "Working", "crm_score": 7},
...     default_region="GB", date_order="mdy")
>>> result.fields["phone"], result.fields["country"], result.fields["crm_score"]
('+14155552671', 'US', 7)
>>> result.derived
{'email_domain': 'example.com', 'company_key': 'acme'}
>>> result.corrected
['first_name', 'email', 'phone', 'country', 'status']
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final

from schemas.change import EntityType
from schemas.entities import ENTITIES, FieldKind, FieldSpec
from schemas.standardize.companies import company_key, standardize_company_name
from schemas.standardize.countries import standardize_country
from schemas.standardize.dates import standardize_date, standardize_datetime
from schemas.standardize.emails import email_domain, standardize_email
from schemas.standardize.money import Money, standardize_money
from schemas.standardize.person_names import standardize_person_name
from schemas.standardize.phones import SUPPORTED_REGIONS, standardize_phone
from schemas.standardize.postcodes import standardize_postal_code
from schemas.standardize.result import DateOrder, Standardized
from schemas.standardize.scalars import (
    json_number,
    standardize_boolean,
    standardize_integer,
    standardize_number,
)
from schemas.standardize.states import standardize_state
from schemas.standardize.text import (
    standardize_category,
    standardize_reference,
    standardize_text,
)
from schemas.standardize.websites import standardize_website

__all__ = ["StandardizedFields", "standardize_fields"]


@dataclass(frozen=True, slots=True)
class StandardizedFields:
    """A standardized record, JSON-ready, with what was wrong, fixed or noteworthy.

    ``fields``: every input field, canonical fields standardized (dates and date-times as ISO
    8601 strings, money as numbers), invalid ones as typed, custom ones untouched.
    ``invalid``: field -> reason code. ``corrected``: fields whose value changed, in record
    order. ``flags``: field -> flag codes (sorted), only for fields with flags.
    ``derived``: helper values for matching (see the module docstring).
    """

    fields: dict[str, object]
    invalid: dict[str, str]
    corrected: list[str]
    flags: dict[str, list[str]]
    derived: dict[str, object]


@dataclass(frozen=True, slots=True)
class _Context:
    country: str | None  # the record's alpha-2 country, when it has a valid one
    region: str  # where phone numbers without a country code are read
    date_order: DateOrder


# Kinds whose standardizer needs only the value, and those that need the field or the record.
_PLAIN: Final[Mapping[FieldKind, Callable[[object], Standardized]]] = {
    FieldKind.EMAIL: standardize_email,
    FieldKind.PERSON_NAME: standardize_person_name,
    FieldKind.COMPANY_NAME: standardize_company_name,
    FieldKind.COUNTRY: standardize_country,
    FieldKind.CITY: standardize_text,
    FieldKind.STREET: standardize_text,
    FieldKind.MONEY: standardize_money,
    FieldKind.WEBSITE: standardize_website,
    FieldKind.INTEGER: standardize_integer,
    FieldKind.NUMBER: standardize_number,
    FieldKind.BOOLEAN: standardize_boolean,
    FieldKind.TEXT: standardize_text,
    FieldKind.REFERENCE: standardize_reference,
}
_IN_CONTEXT: Final[Mapping[FieldKind, Callable[[object, FieldSpec, _Context], Standardized]]] = {
    FieldKind.PHONE: lambda value, _, context: standardize_phone(value, region=context.region),
    FieldKind.STATE: lambda value, _, context: standardize_state(value, country=context.country),
    FieldKind.POSTAL_CODE: lambda value, _, context: standardize_postal_code(
        value, country=context.country
    ),
    FieldKind.DATE: lambda value, _, context: standardize_date(
        value, date_order=context.date_order
    ),
    FieldKind.DATETIME: lambda value, _, context: standardize_datetime(
        value, date_order=context.date_order
    ),
    FieldKind.CATEGORY: lambda value, spec, _: standardize_category(value, spec.choices),
}


def standardize_fields(
    entity_type: EntityType | str,
    fields: Mapping[str, object],
    *,
    default_region: str,
    date_order: DateOrder,
) -> StandardizedFields:
    """Standardize one record's fields (see the module docstring).

    ``default_region`` (ISO alpha-2, e.g. "US") reads phone numbers of records without a
    known country; ``date_order`` decides dates like 03/04/2025. A ``default_region``
    libphonenumber does not know raises ``ValueError``: it is configuration, not data.
    """
    if default_region not in SUPPORTED_REGIONS:
        raise ValueError(f"default_region {default_region!r} is not a known phone region")
    spec = ENTITIES[EntityType(entity_type)]
    country = _record_country(fields, spec.country_field)
    region = country if country is not None and country in SUPPORTED_REGIONS else default_region
    context = _Context(country, region, date_order)
    out = StandardizedFields(fields={}, invalid={}, corrected=[], flags={}, derived={})
    for name, value in fields.items():
        field_spec = spec.fields.get(name)
        if field_spec is None:
            out.fields[name] = value
            continue
        plain = _PLAIN.get(field_spec.kind)
        if plain is not None:
            _record(out, field_spec, plain(value))
        else:
            _record(out, field_spec, _IN_CONTEXT[field_spec.kind](value, field_spec, context))
    return out


def _record_country(fields: Mapping[str, object], country_field: str | None) -> str | None:
    if country_field is None:
        return None
    result = standardize_country(fields.get(country_field))
    return result.value if result.valid and isinstance(result.value, str) else None


def _record(out: StandardizedFields, spec: FieldSpec, result: Standardized) -> None:
    name = spec.name
    value = result.value
    out.fields[name] = json_number(value.amount) if isinstance(value, Money) else value
    if not result.valid:
        out.invalid[name] = result.reason or ""
    if result.corrected:
        out.corrected.append(name)
    if result.flags:
        out.flags[name] = sorted(result.flags)
    derive = _DERIVED.get(spec.kind)
    if derive is not None and result.valid and value is not None:
        out.derived.update(derive(name, value))


def _company_key(_: str, value: object) -> dict[str, object]:
    return {"company_key": company_key(value)} if isinstance(value, str) else {}


def _email_domain(_: str, value: object) -> dict[str, object]:
    return {"email_domain": email_domain(value)} if isinstance(value, str) else {}


def _website_domain(_: str, value: object) -> dict[str, object]:
    return {"website_domain": value}


def _currency(name: str, value: object) -> dict[str, object]:
    if isinstance(value, Money) and value.currency:
        return {f"{name}_currency": value.currency}
    return {}


# The matching helpers a valid standardized value of a kind yields.
_DERIVED: Final[Mapping[FieldKind, Callable[[str, object], dict[str, object]]]] = {
    FieldKind.COMPANY_NAME: _company_key,
    FieldKind.EMAIL: _email_domain,
    FieldKind.WEBSITE: _website_domain,
    FieldKind.MONEY: _currency,
}
