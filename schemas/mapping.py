"""How each source's field names become canonical ones: built-in defaults a deployment extends.

Salesforce says ``FirstName``, HubSpot ``firstname``, a database column ``first_name``;
everything downstream only knows the canonical vocabulary of each entity type
(``FIELD_VOCABULARY``). This module holds that translation: which source object is which
entity type, and which source field is which canonical field. A source field the mapping does
not know is not an error: it is kept in the change's ``attributes`` under its source name, so
custom fields (``Score__c``, an extra column) are visible downstream and never lost.

Real CRMs are customised, so the defaults are only a start: a JSON or TOML file
(``CRMSTREAM_FIELD_MAPPING_FILE``) adds objects and fields or overrides defaults::

    [salesforce.Lead.fields]
    Score__c = "rating"        # a custom field becomes a canonical one (Rating steps aside)
    LeadSource = ""            # "" keeps a source field in attributes (undoes a default)

    [salesforce.Customer__c]   # a custom object needs its entity type
    entity_type = "account"
    fields = { Name = "name" }

    [debezium."crm.people"]    # tables: bare, schema- or database-qualified, any case
    entity_type = "contact"
    primary_key = "person_id"
    fields = { mail = "email" }

A wrong file stops the start-up with a message naming the offending key, because a typo in a
mapping would otherwise silently turn a canonical field into an attribute.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Self

import orjson
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from schemas.change import EntityType
from schemas.entities import FIELD_VOCABULARY

KEEP_AS_ATTRIBUTE = ""
"""Mapping a source field to this keeps it in ``attributes`` (how a file undoes a default)."""


class FieldMappingError(ValueError):
    """The mapping file is unreadable or wrong; the message names the file and the key."""


def _mapping_error(detail: str) -> PydanticCustomError:
    return PydanticCustomError("invalid_mapping", "{detail}", {"detail": detail})


class ObjectMapping(BaseModel):
    """One source object (a Salesforce object, a HubSpot object type) as a canonical entity.

    ``fields`` maps source field names to canonical field names of ``entity_type``; a source
    field mapped to ``""`` or not listed at all stays in ``attributes``.

    >>> lead = ObjectMapping(entity_type="lead", fields={"Email": "email"})
    >>> lead.split({"Email": "ada@example.com", "Score__c": 7})
    ({'email': 'ada@example.com'}, {'Score__c': 7})
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    entity_type: EntityType
    fields: dict[str, str] = Field(default_factory=dict)
    _targets: dict[str, str] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _targets_are_canonical_and_distinct(self) -> Self:
        vocabulary = FIELD_VOCABULARY[self.entity_type]
        sources_by_target: dict[str, str] = {}
        for source, target in self.fields.items():
            if target == KEEP_AS_ATTRIBUTE:
                continue
            if target not in vocabulary:
                raise _mapping_error(
                    f"fields.{source}: {target!r} is not a canonical {self.entity_type} field "
                    f'(one of {", ".join(vocabulary)}, or "" to keep it as an attribute)'
                )
            if target in sources_by_target:
                raise _mapping_error(
                    f"fields.{source}: {target!r} is already mapped from "
                    f"{sources_by_target[target]!r}; one source field per canonical field"
                )
            sources_by_target[target] = source
        return self

    def model_post_init(self, context: Any, /) -> None:
        self._targets = self._resolve_targets()

    def _resolve_targets(self) -> dict[str, str]:
        return {source: target for source, target in self.fields.items() if target}

    def split(self, values: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """Source values as (canonical fields, attributes); every value lands in one of them."""
        targets = self._targets
        fields: dict[str, Any] = {}
        attributes: dict[str, Any] = {}
        for name, value in values.items():
            target = targets.get(name)
            if target is None:
                attributes[name] = value
            else:
                fields[target] = value
        return fields, attributes


class TableMapping(ObjectMapping):
    """A database table captured by Debezium: entity type, primary-key column, column names.

    A column named like a canonical field of the entity type maps to it without being listed,
    unless ``fields`` maps another column to that field (explicit beats implicit).

    >>> leads = TableMapping(entity_type="lead", fields={"mail": "email"})
    >>> leads.split({"mail": "a@x.io", "email": "b@x.io", "city": "Oslo"})
    ({'email': 'a@x.io', 'city': 'Oslo'}, {'email': 'b@x.io'})
    """

    primary_key: str = Field(default="id", min_length=1)

    def _resolve_targets(self) -> dict[str, str]:
        explicit = super()._resolve_targets()
        taken = set(explicit.values()) | set(self.fields)
        identity = {name: name for name in FIELD_VOCABULARY[self.entity_type] if name not in taken}
        return identity | explicit


class FieldMapping(BaseModel):
    """Every source's objects and fields, as loaded by :func:`load_field_mapping`.

    Salesforce object names match exactly first, then ignoring case; HubSpot object names
    and Debezium table names (bare, ``schema.table`` or ``database.table``) ignore case.

    >>> mapping = load_field_mapping(None)
    >>> mapping.salesforce_object("Task").entity_type.value
    'activity'
    >>> mapping.debezium_table("public.Leads", "leads").primary_key
    'id'
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    salesforce: dict[str, ObjectMapping]
    hubspot: dict[str, ObjectMapping]
    hubspot_object_type_ids: dict[str, str]
    debezium: dict[str, TableMapping]
    _salesforce_folded: dict[str, ObjectMapping] = PrivateAttr(default_factory=dict)

    @field_validator("hubspot", "debezium", mode="after")
    @classmethod
    def _case_insensitive_names(cls, value: dict[str, Any]) -> dict[str, Any]:
        folded = {name.lower(): spec for name, spec in value.items()}
        if len(folded) != len(value):
            raise _mapping_error("two names differ only by case")
        return folded

    @model_validator(mode="after")
    def _type_ids_name_known_objects(self) -> Self:
        for type_id, name in self.hubspot_object_type_ids.items():
            if name.lower() not in self.hubspot:
                raise _mapping_error(
                    f"hubspot_object_type_ids.{type_id}: no hubspot object named {name!r}"
                )
        return self

    def model_post_init(self, context: Any, /) -> None:
        self._salesforce_folded = {name.lower(): spec for name, spec in self.salesforce.items()}

    def salesforce_object(self, name: str) -> ObjectMapping | None:
        """The mapping of a Salesforce object (``entityName``), or None if it has none."""
        found = self.salesforce.get(name)
        return found if found is not None else self._salesforce_folded.get(name.lower())

    def hubspot_object(self, name: str) -> ObjectMapping | None:
        """The mapping of a HubSpot object type name (``contact``, ``company``, ``deal``)."""
        return self.hubspot.get(name.lower())

    def hubspot_object_name(self, type_id: str) -> str | None:
        """The object name behind a HubSpot ``objectTypeId`` such as ``0-1``."""
        return self.hubspot_object_type_ids.get(type_id)

    def debezium_table(self, *names: str) -> TableMapping | None:
        """The first of ``names`` (most qualified first) that has a table mapping."""
        for name in names:
            found = self.debezium.get(name.lower())
            if found is not None:
                return found
        return None


# --------------------------------------------------------------------------------------------
# Built-in defaults
# --------------------------------------------------------------------------------------------

_SF_PERSON = {"FirstName": "first_name", "LastName": "last_name", "Email": "email",
              "Phone": "phone", "Title": "title"}  # fmt: skip
_SF_LEAD = _SF_PERSON | {
    "Company": "company", "Industry": "industry", "LeadSource": "lead_source",
    "Status": "status", "IsConverted": "is_converted", "Street": "street", "City": "city",
    "State": "state", "PostalCode": "postal_code", "Country": "country",
    "NumberOfEmployees": "employees", "AnnualRevenue": "annual_revenue", "Website": "website",
    "Rating": "rating",
}  # fmt: skip
_SF_CONTACT = _SF_PERSON | {
    "AccountId": "account_id", "MailingStreet": "mailing_street",
    "MailingCity": "mailing_city", "MailingState": "mailing_state",
    "MailingPostalCode": "mailing_postal_code", "MailingCountry": "mailing_country",
    "Birthdate": "birthdate",
}  # fmt: skip
_SF_ACCOUNT = {
    "Name": "name", "Website": "website", "Phone": "phone", "Industry": "industry",
    "NumberOfEmployees": "employees", "AnnualRevenue": "annual_revenue",
    "BillingStreet": "billing_street", "BillingCity": "billing_city",
    "BillingState": "billing_state", "BillingPostalCode": "billing_postal_code",
    "BillingCountry": "billing_country",
}  # fmt: skip
_SF_OPPORTUNITY = {
    "AccountId": "account_id", "Name": "name", "Amount": "amount", "StageName": "stage",
    "CloseDate": "close_date", "Probability": "probability", "IsWon": "is_won",
    "IsClosed": "is_closed",
}  # fmt: skip
# WhoId (the lead or contact) rather than WhatId (account, opportunity...): one source field
# per canonical field, and activities on people are what lead scoring learns from.
_SF_TASK = {"Subject": "subject", "ActivityDate": "activity_date", "Type": "type",
            "WhoId": "related_id"}  # fmt: skip
_SF_EVENT = _SF_TASK | {"DurationInMinutes": "duration_minutes"}

_HUBSPOT_CONTACT = {
    "firstname": "first_name", "lastname": "last_name", "email": "email", "phone": "phone",
    "jobtitle": "title", "address": "mailing_street", "city": "mailing_city",
    "state": "mailing_state", "zip": "mailing_postal_code", "country": "mailing_country",
    "date_of_birth": "birthdate", "associatedcompanyid": "account_id",
}  # fmt: skip
_HUBSPOT_COMPANY = {
    "name": "name", "website": "website", "phone": "phone", "industry": "industry",
    "numberofemployees": "employees", "annualrevenue": "annual_revenue",
    "address": "billing_street", "city": "billing_city", "state": "billing_state",
    "zip": "billing_postal_code", "country": "billing_country",
}  # fmt: skip
_HUBSPOT_DEAL = {
    "dealname": "name", "amount": "amount", "dealstage": "stage", "closedate": "close_date",
    "hs_deal_stage_probability": "probability", "hs_is_closed_won": "is_won",
    "hs_is_closed": "is_closed",
}  # fmt: skip

_TABLES = {
    "leads": "lead", "lead": "lead", "contacts": "contact", "contact": "contact",
    "accounts": "account", "account": "account", "opportunities": "opportunity",
    "opportunity": "opportunity", "activities": "activity", "activity": "activity",
    "task": "activity", "event": "activity",
}  # fmt: skip

_DEFAULTS: dict[str, Any] = {
    "salesforce": {
        "Lead": {"entity_type": "lead", "fields": _SF_LEAD},
        "Contact": {"entity_type": "contact", "fields": _SF_CONTACT},
        "Account": {"entity_type": "account", "fields": _SF_ACCOUNT},
        "Opportunity": {"entity_type": "opportunity", "fields": _SF_OPPORTUNITY},
        "Task": {"entity_type": "activity", "fields": _SF_TASK},
        "Event": {"entity_type": "activity", "fields": _SF_EVENT},
    },
    "hubspot": {
        "contact": {"entity_type": "contact", "fields": _HUBSPOT_CONTACT},
        "company": {"entity_type": "account", "fields": _HUBSPOT_COMPANY},
        "deal": {"entity_type": "opportunity", "fields": _HUBSPOT_DEAL},
    },
    # HubSpot's generic ``object.*`` webhooks name the object by type id, not by name.
    "hubspot_object_type_ids": {"0-1": "contact", "0-2": "company", "0-3": "deal"},
    "debezium": {table: {"entity_type": entity} for table, entity in _TABLES.items()},
}

DEFAULT_FIELD_MAPPING = FieldMapping.model_validate(_DEFAULTS)
"""The built-in mapping, used when no mapping file is configured."""


# --------------------------------------------------------------------------------------------
# The user's file
# --------------------------------------------------------------------------------------------


class _ObjectOverride(BaseModel):
    """One object in the user's file; ``entity_type`` is only needed for a new object."""

    model_config = ConfigDict(extra="forbid")

    entity_type: EntityType | None = None
    fields: dict[str, str] = Field(default_factory=dict)


class _TableOverride(_ObjectOverride):
    primary_key: str | None = Field(default=None, min_length=1)


class _MappingFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    salesforce: dict[str, _ObjectOverride] = Field(default_factory=dict)
    hubspot: dict[str, _ObjectOverride] = Field(default_factory=dict)
    hubspot_object_type_ids: dict[str, str] = Field(default_factory=dict)
    debezium: dict[str, _TableOverride] = Field(default_factory=dict)


def load_field_mapping(path: Path | None) -> FieldMapping:
    """The built-in mapping extended by the JSON or TOML file at ``path`` (if any).

    Raises :class:`FieldMappingError` naming the file and the offending key.

    >>> load_field_mapping(None) is DEFAULT_FIELD_MAPPING
    True
    """
    if path is None:
        return DEFAULT_FIELD_MAPPING
    try:
        return extend_field_mapping(_read_document(path))
    except FieldMappingError as exc:
        raise FieldMappingError(f"{path}: {exc}") from None


def extend_field_mapping(overrides: Any) -> FieldMapping:
    """The built-in mapping extended by an already parsed mapping document.

    >>> custom = extend_field_mapping({"salesforce": {"Lead": {"fields": {"Score__c": "rating"}}}})
    >>> custom.salesforce_object("Lead").split({"Score__c": "hot", "Rating": "Warm"})
    ({'rating': 'hot'}, {'Rating': 'Warm'})
    >>> extend_field_mapping({"salesforce": {"Lead": {"feilds": {}}}})
    Traceback (most recent call last):
    ...
    schemas.mapping.FieldMappingError: salesforce.Lead.feilds: Extra inputs are not permitted
    """
    try:
        parsed = _MappingFile.model_validate(overrides)
        return FieldMapping.model_validate(_extended_defaults(parsed))
    except ValidationError as exc:
        raise FieldMappingError(_describe(exc)) from None


def _read_document(path: Path) -> Any:
    suffix = path.suffix.lower()
    if suffix not in {".json", ".toml"}:
        raise FieldMappingError("the mapping file must end in .json or .toml")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise FieldMappingError(f"cannot read the mapping file: {exc.strerror}") from None
    try:
        return tomllib.loads(raw.decode()) if suffix == ".toml" else orjson.loads(raw)
    except (UnicodeDecodeError, tomllib.TOMLDecodeError, orjson.JSONDecodeError) as exc:
        raise FieldMappingError(f"not valid {suffix[1:].upper()}: {exc}") from None


def _extended_defaults(overrides: _MappingFile) -> dict[str, Any]:
    return {
        "salesforce": _extend(_DEFAULTS["salesforce"], overrides.salesforce, "salesforce"),
        "hubspot": _extend(_DEFAULTS["hubspot"], overrides.hubspot, "hubspot", fold=True),
        "hubspot_object_type_ids": _DEFAULTS["hubspot_object_type_ids"]
        | overrides.hubspot_object_type_ids,
        "debezium": _extend(_DEFAULTS["debezium"], overrides.debezium, "debezium", fold=True),
    }


def _extend(
    defaults: Mapping[str, Any],
    overrides: Mapping[str, _ObjectOverride],
    section: str,
    *,
    fold: bool = False,
) -> dict[str, Any]:
    """Defaults with each override applied: fields merge (the file wins), the rest replaces.

    A changed entity type starts from no default fields, since the default targets belong to
    the old entity type's vocabulary.
    """
    merged = {name.lower() if fold else name: dict(spec) for name, spec in defaults.items()}
    for name, override in overrides.items():
        key = name.lower() if fold else name
        base = merged.get(key)
        if base is None or override.entity_type not in (None, base["entity_type"]):
            if override.entity_type is None:
                raise FieldMappingError(
                    f"{section}.{name}.entity_type: required for an object without a default"
                )
            base = {"entity_type": override.entity_type.value, "fields": {}}
        spec = {**base, "fields": _merged_fields(base.get("fields", {}), override.fields)}
        primary_key = getattr(override, "primary_key", None)
        if primary_key is not None:
            spec["primary_key"] = primary_key
        merged[key] = spec
    return merged


def _merged_fields(defaults: Mapping[str, str], overrides: Mapping[str, str]) -> dict[str, str]:
    """The file's fields over the defaults; a default whose canonical field the file maps from
    another source steps aside (its source field becomes an attribute)."""
    claimed = {target for target in overrides.values() if target}
    kept = {source: target for source, target in defaults.items() if target not in claimed}
    return kept | dict(overrides)


def _describe(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(part) for part in error['loc']) or '(top level)'}: {error['msg']}"
        for error in exc.errors(include_url=False, include_input=False)
    )
