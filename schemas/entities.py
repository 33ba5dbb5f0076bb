"""The canonical CRM entities: which fields each entity type carries, and what kind each is.

Every inbound envelope (native, Salesforce, HubSpot, Debezium) is mapped onto these snake_case
field names, so everything downstream (standardization, data quality, duplicates, features)
reads one vocabulary. A field's :class:`FieldKind` picks its standardizer; ``expected`` marks
the fields a record of that type should have for completeness scoring.

Why these fields are expected (the rest are welcome but often legitimately missing):

lead
    Who (first and last name), how to reach them (email, phone), where they work and in what
    role (company, title, industry: the lead score leans on all three) and the territory
    (country: routing, phone region, postcode rules). Status and source are set by the CRM
    itself, so their presence says nothing about the quality of what people entered.
contact
    The same person data as a lead, tied to its account (``account_id``); the mailing country
    stands for the address because routing and phone region depend on it.
account
    Name, web domain and phone identify a company and drive duplicate matching; industry and
    employees segment it for churn and scoring; the billing country places it.
opportunity
    What a forecast needs: the account, a name, the amount, the stage and the close date.
activity
    An activity is useless without its type, subject, date and the record it belongs to.

>>> ENTITIES[EntityType.LEAD].fields["email"].kind
<FieldKind.EMAIL: 'email'>
>>> ENTITIES[EntityType.CONTACT].country_field
'mailing_country'
>>> FIELD_VOCABULARY["opportunity"][:3]
('account_id', 'name', 'amount')
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Final

from schemas.change import EntityType

__all__ = ["ENTITIES", "FIELD_VOCABULARY", "EntitySpec", "FieldKind", "FieldSpec"]


class FieldKind(StrEnum):
    """What a field holds, which decides how it is standardized."""

    EMAIL = "email"
    PHONE = "phone"
    PERSON_NAME = "person_name"
    COMPANY_NAME = "company_name"
    COUNTRY = "country"
    STATE = "state"
    POSTAL_CODE = "postal_code"
    CITY = "city"
    STREET = "street"
    DATE = "date"
    DATETIME = "datetime"
    MONEY = "money"
    WEBSITE = "website"
    INTEGER = "integer"
    NUMBER = "number"
    BOOLEAN = "boolean"
    TEXT = "text"
    CATEGORY = "category"
    REFERENCE = "reference"


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One canonical field.

    ``choices`` closes a category to a fixed set of values (the pipeline and the models rely
    on them, e.g. an opportunity's stage); an empty tuple leaves it open (industry and lead
    source are per-organization picklists, so an unknown value is not an error).
    """

    name: str
    kind: FieldKind
    expected: bool = False
    choices: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class EntitySpec:
    """The canonical fields of one entity type, in the order a record shows them.

    ``country_field`` names the field holding the country of the record's address: it sets
    the phone region and the state and postcode rules of that record.
    """

    entity_type: EntityType
    fields: Mapping[str, FieldSpec]
    country_field: str | None = None

    @property
    def expected(self) -> tuple[str, ...]:
        """The fields counted for completeness."""
        return tuple(name for name, spec in self.fields.items() if spec.expected)


def _entity(
    entity_type: EntityType, *specs: FieldSpec, country_field: str | None = None
) -> EntitySpec:
    fields = MappingProxyType({spec.name: spec for spec in specs})
    if country_field is not None and fields[country_field].kind is not FieldKind.COUNTRY:
        raise ValueError(f"{entity_type}: {country_field} is not a country field")
    return EntitySpec(entity_type, fields, country_field)


def _f(
    name: str, kind: FieldKind, *, expected: bool = False, choices: tuple[str, ...] = ()
) -> FieldSpec:
    return FieldSpec(name, kind, expected, choices)


_K = FieldKind
_OPPORTUNITY_STAGES: Final = (
    "prospecting", "qualification", "needs_analysis", "proposal", "negotiation", "closed_won",
    "closed_lost",
)  # fmt: skip

ENTITIES: Final[Mapping[EntityType, EntitySpec]] = MappingProxyType(
    {
        EntityType.LEAD: _entity(
            EntityType.LEAD,
            _f("first_name", _K.PERSON_NAME, expected=True),
            _f("last_name", _K.PERSON_NAME, expected=True),
            _f("email", _K.EMAIL, expected=True),
            _f("phone", _K.PHONE, expected=True),
            _f("company", _K.COMPANY_NAME, expected=True),
            _f("title", _K.TEXT, expected=True),
            _f("industry", _K.CATEGORY, expected=True),
            _f("lead_source", _K.CATEGORY),
            _f(
                "status",
                _K.CATEGORY,
                choices=("new", "working", "nurturing", "qualified", "converted", "disqualified"),
            ),
            _f("is_converted", _K.BOOLEAN),
            _f("country", _K.COUNTRY, expected=True),
            _f("state", _K.STATE),
            _f("city", _K.CITY),
            _f("postal_code", _K.POSTAL_CODE),
            _f("street", _K.STREET),
            _f("employees", _K.INTEGER),
            _f("annual_revenue", _K.MONEY),
            _f("website", _K.WEBSITE),
            _f("rating", _K.CATEGORY, choices=("hot", "warm", "cold")),
            country_field="country",
        ),
        EntityType.CONTACT: _entity(
            EntityType.CONTACT,
            _f("first_name", _K.PERSON_NAME, expected=True),
            _f("last_name", _K.PERSON_NAME, expected=True),
            _f("email", _K.EMAIL, expected=True),
            _f("phone", _K.PHONE, expected=True),
            _f("account_id", _K.REFERENCE, expected=True),
            _f("title", _K.TEXT, expected=True),
            _f("mailing_street", _K.STREET),
            _f("mailing_city", _K.CITY),
            _f("mailing_state", _K.STATE),
            _f("mailing_postal_code", _K.POSTAL_CODE),
            _f("mailing_country", _K.COUNTRY, expected=True),
            _f("birthdate", _K.DATE),
            country_field="mailing_country",
        ),
        EntityType.ACCOUNT: _entity(
            EntityType.ACCOUNT,
            _f("name", _K.COMPANY_NAME, expected=True),
            _f("website", _K.WEBSITE, expected=True),
            _f("phone", _K.PHONE, expected=True),
            _f("industry", _K.CATEGORY, expected=True),
            _f("employees", _K.INTEGER, expected=True),
            _f("annual_revenue", _K.MONEY),
            _f("billing_street", _K.STREET),
            _f("billing_city", _K.CITY),
            _f("billing_state", _K.STATE),
            _f("billing_postal_code", _K.POSTAL_CODE),
            _f("billing_country", _K.COUNTRY, expected=True),
            _f("status", _K.CATEGORY, choices=("active", "churned")),
            _f("plan", _K.CATEGORY, choices=("free", "starter", "pro", "enterprise")),
            _f("contract_end_date", _K.DATE),
            _f("churn_date", _K.DATE),
            country_field="billing_country",
        ),
        EntityType.OPPORTUNITY: _entity(
            EntityType.OPPORTUNITY,
            _f("account_id", _K.REFERENCE, expected=True),
            _f("name", _K.TEXT, expected=True),
            _f("amount", _K.MONEY, expected=True),
            _f(
                "stage",
                _K.CATEGORY,
                expected=True,
                choices=_OPPORTUNITY_STAGES,
            ),
            _f("close_date", _K.DATE, expected=True),
            _f("probability", _K.NUMBER),
            _f("is_won", _K.BOOLEAN),
            _f("is_closed", _K.BOOLEAN),
        ),
        EntityType.ACTIVITY: _entity(
            EntityType.ACTIVITY,
            _f("type", _K.CATEGORY, expected=True, choices=("call", "email", "meeting")),
            _f("subject", _K.TEXT, expected=True),
            _f(
                "related_type",
                _K.CATEGORY,
                expected=True,
                choices=("lead", "contact", "account", "opportunity"),
            ),
            _f("related_id", _K.REFERENCE, expected=True),
            _f("activity_date", _K.DATETIME, expected=True),
            _f("duration_minutes", _K.INTEGER),
        ),
    }
)
"""Every entity type's canonical fields; the one place the vocabulary is defined."""

FIELD_VOCABULARY: Final[Mapping[str, tuple[str, ...]]] = MappingProxyType(
    {entity_type.value: tuple(spec.fields) for entity_type, spec in ENTITIES.items()}
)
"""The canonical field names each entity type may carry in ``fields``, in record order."""
