"""Rows of an existing CRM export as snapshot changes, so a deployment starts with its history.

A backfilled row must never overwrite what live CDC changed since the export, and loading
the same file twice must not apply it twice: so each row becomes a ``snapshot`` change dated
by its own last-modified column (or the export time) with an id derived from its content.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from pydantic import TypeAdapter, ValidationError

from schemas.change import ChangeEvent, ChangeOp, EntityType
from schemas.errors import ErrorCode, InvalidChange, errors_from_validation

_AWARE_OR_NAIVE = TypeAdapter(datetime)


@dataclass(frozen=True)
class ExportLayout:
    """How one export file maps onto a canonical entity.

    ``column_map`` renames source columns to canonical fields; other columns are kept as
    attributes, never dropped.
    """

    entity_type: EntityType
    id_column: str
    timestamp_column: str | None = None
    column_map: Mapping[str, str] = field(default_factory=dict)
    source: str = "backfill"


def snapshot_from_row(
    row: Mapping[str, Any], layout: ExportLayout, *, exported_at: datetime
) -> ChangeEvent:
    """One export row as a snapshot change; empty cells are unknown values, not clearings.

    >>> layout = ExportLayout(EntityType.LEAD, "Id", column_map={"Email": "email"})
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
    fields = {layout.column_map[c]: v for c, v in present.items() if c in layout.column_map}
    attributes = {c: v for c, v in present.items() if c not in layout.column_map}
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
