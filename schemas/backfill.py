"""Rows of an existing CRM export as snapshot changes, so a deployment starts with its history.

A backfilled row must never overwrite what live CDC changed since the export, and loading
the same file twice must not apply it twice: so each row becomes a ``snapshot`` change dated
by its own last-modified column (or the export time) with an id derived from its content.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import orjson
from pydantic import TypeAdapter, ValidationError

from schemas.change import ChangeEvent, ChangeOp, EntityType
from schemas.errors import ErrorCode, InvalidChange, errors_from_validation
from schemas.mapping import FieldMapping, ObjectMapping, TableMapping

_AWARE_OR_NAIVE = TypeAdapter(datetime)


@dataclass(frozen=True)
class ExportLayout:
    """How one export file maps onto a canonical entity.

    ``columns`` is the same source-to-canonical mapping the live feed of that source uses
    (a Salesforce object, a HubSpot object type, or canonical column names); columns it does
    not map are kept as attributes, never dropped.
    """

    columns: ObjectMapping
    id_column: str
    timestamp_column: str | None = None
    source: str = "backfill"

    @property
    def entity_type(self) -> EntityType:
        return self.columns.entity_type


def snapshot_from_row(
    row: Mapping[str, Any], layout: ExportLayout, *, exported_at: datetime
) -> ChangeEvent:
    """One export row as a snapshot change; empty cells are unknown values, not clearings.

    >>> layout = ExportLayout(ObjectMapping(entity_type="lead", fields={"Email": "email"}), "Id")
    >>> change = snapshot_from_row({"Id": "00Q1", "Email": "a@x.io", "Score__c": ""},
    ...                            layout, exported_at=datetime(2026, 1, 1, tzinfo=UTC))
    >>> change.op.value, change.fields, change.attributes
    ('snapshot', {'email': 'a@x.io'}, {})
    """
    present = {column: value for column, value in row.items() if not _is_empty(value)}
    entity_id = present.pop(layout.id_column, None)
    if entity_id is None:
        raise InvalidChange.single(
            ErrorCode.MISSING_FIELD, "the row has no id", field=layout.id_column
        )
    occurred_at = _row_time(present, layout, exported_at)
    fields, attributes = layout.columns.split(present)
    try:
        return ChangeEvent(
            event_id=_content_id(layout, entity_id, occurred_at, present),
            entity_type=layout.entity_type,
            entity_id=str(entity_id),
            op=ChangeOp.SNAPSHOT,
            occurred_at=occurred_at,
            source=layout.source,
            fields=fields,
            attributes=attributes,
        )
    except ValidationError as exc:
        raise InvalidChange(errors_from_validation(exc)) from None


def _is_empty(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float):
        return math.isnan(value)
    return isinstance(value, str) and not value.strip()


def _row_time(row: Mapping[str, Any], layout: ExportLayout, exported_at: datetime) -> datetime:
    """The row's own modification time when the export has one; exports are often naive UTC."""
    if layout.timestamp_column is None or layout.timestamp_column not in row:
        return exported_at
    try:
        moment = _AWARE_OR_NAIVE.validate_python(row[layout.timestamp_column])
    except ValidationError:
        raise InvalidChange.single(
            ErrorCode.INVALID_TIMESTAMP,
            "the row's timestamp is not a date-time",
            field=layout.timestamp_column,
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _content_id(
    layout: ExportLayout, entity_id: Any, occurred_at: datetime, row: Mapping[str, Any]
) -> str:
    """Same row, same id: loading a file twice is recognised as a redelivery."""
    digest = hashlib.sha256(
        orjson.dumps(
            [layout.entity_type.value, str(entity_id), occurred_at.isoformat(), row],
            option=orjson.OPT_SORT_KEYS,
            default=str,
        )
    ).hexdigest()
    return f"backfill:{digest[:40]}"


class ExportSource(StrEnum):
    """Whose column names an export uses."""

    NATIVE = "native"  # canonical field names
    SALESFORCE = "salesforce"
    HUBSPOT = "hubspot"

    @property
    def default_id_column(self) -> str:
        """The id column this source's exports use, unless told otherwise."""
        return {"native": "id", "salesforce": "Id", "hubspot": "Record ID"}[self.value]


def export_columns(
    mapping: FieldMapping,
    entity_type: EntityType,
    source: ExportSource,
    *,
    object_name: str | None = None,
    overrides: Mapping[str, str] | None = None,
) -> ObjectMapping:
    """The column mapping of an export: the live feed's mapping for that source, plus overrides.

    An export of Salesforce Leads is read with the same field mapping as Salesforce's Lead
    change events, so a backfilled record and a live one have identical canonical fields.

    >>> from schemas.mapping import DEFAULT_FIELD_MAPPING
    >>> columns = export_columns(DEFAULT_FIELD_MAPPING, EntityType.LEAD, ExportSource.SALESFORCE)
    >>> columns.split({"FirstName": "Ada", "Score__c": "7"})
    ({'first_name': 'Ada'}, {'Score__c': '7'})
    """
    base = _source_object(mapping, entity_type, source, object_name)
    if base.entity_type is not entity_type:
        raise ValueError(f"{source} object {object_name!r} holds {base.entity_type} records")
    if not overrides:
        return base
    # Rebuilt, not copied: validation checks the overrides name canonical fields.
    return type(base).model_validate({**base.model_dump(), "fields": {**base.fields, **overrides}})


def _source_object(
    mapping: FieldMapping, entity_type: EntityType, source: ExportSource, object_name: str | None
) -> ObjectMapping:
    if source == ExportSource.NATIVE:
        return TableMapping(entity_type=entity_type)  # canonical column names map to themselves
    name = object_name or _DEFAULT_OBJECTS[source].get(entity_type)
    found = None
    if name is not None:
        found = (
            mapping.salesforce_object(name)
            if source == ExportSource.SALESFORCE
            else mapping.hubspot_object(name)
        )
    if found is None:
        raise ValueError(f"no {source} object mapping for {name or entity_type.value!r}")
    return found


_DEFAULT_OBJECTS: dict[ExportSource, dict[EntityType, str]] = {
    ExportSource.SALESFORCE: {
        EntityType.LEAD: "Lead",
        EntityType.CONTACT: "Contact",
        EntityType.ACCOUNT: "Account",
        EntityType.OPPORTUNITY: "Opportunity",
        EntityType.ACTIVITY: "Task",
    },
    ExportSource.HUBSPOT: {
        EntityType.CONTACT: "contact",
        EntityType.ACCOUNT: "company",
        EntityType.OPPORTUNITY: "deal",
    },
}
