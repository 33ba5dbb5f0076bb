"""Debezium row change events (``{before, after, source, op, ts_ms}``), with or without the
``{schema, payload}`` wrapper Kafka Connect's JsonConverter adds when schemas are enabled.

* ``c`` (insert) and ``r`` (snapshot read) carry every column of ``after``; ``u`` carries
  only the columns whose value differs from ``before`` (all of ``after`` when ``before`` is
  null, and any column ``before`` lacks, since with PostgreSQL's default replica identity
  ``before`` holds the key only); ``d`` carries none. An update that changed nothing is
  skipped as ``unchanged``.
* Columns Debezium could not read (PostgreSQL TOAST values it shows as
  ``__debezium_unavailable_value``) are unknown, not changed: they are left out.
* ``t`` (truncate) and ``m`` (logical decoding message) are not row changes: skipped.
* The entity type comes from ``source.table`` (``schema.table`` and ``db.table`` are tried
  first) and the entity id from the table's primary-key column, in ``after`` or ``before``.
* Values are kept as Debezium sends them (dates as epoch days, timestamps as epoch millis or
  micros, decimals as base64 bytes): standardization is a later step.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from schemas.change import ChangeEvent, ChangeOp
from schemas.envelopes.common import (
    ParsedMessage,
    SourceFormat,
    find_body,
    invalid,
    kafka_connect_payload,
    record_id,
    stable_event_id,
    text,
    typed,
    validated_change,
)
from schemas.errors import ErrorCode
from schemas.mapping import FieldMapping, TableMapping

_OPS = {"c": ChangeOp.CREATE, "u": ChangeOp.UPDATE, "d": ChangeOp.DELETE, "r": ChangeOp.SNAPSHOT}
_NOT_ROW_CHANGES = {"t": "truncate", "m": "message"}
UNAVAILABLE_VALUE = "__debezium_unavailable_value"
# Where an event sits in the database's log, per connector (PostgreSQL lsn/txId, MySQL
# file/pos/row, SQL Server commit_lsn/change_lsn/event_serial_no, Oracle scn/commit_scn).
_POSITION_KEYS = ("lsn", "txId", "file", "pos", "row", "commit_lsn", "change_lsn",
                  "event_serial_no", "scn", "commit_scn")  # fmt: skip


def looks_like(body: Mapping[str, Any]) -> bool:
    """Whether ``body`` is a Debezium event: an ``op``, a ``source`` block, row images."""
    op = body.get("op")
    return (
        isinstance(op, str)
        and isinstance(body.get("source"), dict)
        and ("before" in body or "after" in body or op in _NOT_ROW_CHANGES)
    )


def parse(document: Any, mapping: FieldMapping) -> ParsedMessage:
    """Map one Debezium event to a canonical change (or a reason it is not one).

    >>> from schemas.mapping import DEFAULT_FIELD_MAPPING
    >>> event = {"op": "u", "before": {"id": 7, "email": "old@x.io", "city": "Oslo"},
    ...     "after": {"id": 7, "email": "new@x.io", "city": "Oslo"},
    ...     "source": {"name": "crm", "table": "leads", "lsn": 42, "ts_ms": 1700000000000}}
    >>> change = parse(event, DEFAULT_FIELD_MAPPING).changes[0]
    >>> change.entity_id, change.op.value, change.fields
    ('7', 'update', {'email': 'new@x.io'})
    """
    found = find_body(document, looks_like)
    body, prefix = found if found is not None else kafka_connect_payload(document)
    if not isinstance(body, dict):
        raise invalid(ErrorCode.NOT_AN_OBJECT, "a Debezium event is a JSON object", None)
    op_code = text(body, "op", f"{prefix}op")
    if op_code in _NOT_ROW_CHANGES:
        return ParsedMessage([], SourceFormat.DEBEZIUM, _NOT_ROW_CHANGES[op_code])
    if op_code not in _OPS:
        raise invalid(ErrorCode.UNKNOWN_OP, "op is not one of c, u, d, r, t, m", f"{prefix}op")
    change = _row_change(body, prefix, op_code, mapping)
    if change is None:
        return ParsedMessage([], SourceFormat.DEBEZIUM, "unchanged")
    return ParsedMessage([change], SourceFormat.DEBEZIUM)


def _row_change(
    body: Mapping[str, Any], prefix: str, op_code: str, mapping: FieldMapping
) -> ChangeEvent | None:
    """The canonical change of a row event; None for an update that changed nothing."""
    op = _OPS[op_code]
    source = typed(body, "source", dict, f"{prefix}source")
    assert source is not None
    table_name, table = _table(source, prefix, mapping)
    before = typed(body, "before", dict, f"{prefix}before", required=op is ChangeOp.DELETE)
    after = typed(body, "after", dict, f"{prefix}after", required=op is not ChangeOp.DELETE)
    row, row_key = (before, "before") if op is ChangeOp.DELETE else (after, "after")
    assert row is not None  # required just above
    key_path = f"{prefix}{row_key}.{table.primary_key}"
    entity_id = record_id(row.get(table.primary_key), key_path)
    columns = _changed_columns(op, before, after, table.primary_key)
    if op is ChangeOp.UPDATE and not columns:
        return None
    fields, attributes = table.split(columns)
    position = _position(source, body)
    values: dict[str, Any] = {
        "event_id": stable_event_id(
            "dbz", source.get("name", ""), op_code, *position, table_name, entity_id
        ),
        "entity_type": table.entity_type,
        "entity_id": entity_id,
        "op": op,
        "source": _source_name(source),
        "fields": fields,
        "attributes": attributes,
    }
    _add_timing(values, source, body)
    origin = {"occurred_at": f"{prefix}source.ts_ms", "entity_id": key_path,
              "fields": f"{prefix}after", "attributes": f"{prefix}after"}  # fmt: skip
    return validated_change(values, origin)


def _table(
    source: Mapping[str, Any], prefix: str, mapping: FieldMapping
) -> tuple[str, TableMapping]:
    """The table's qualified name (for ids) and its mapping, tried most qualified first."""
    table = text(source, "table", f"{prefix}source.table")
    qualifiers = [q for q in (source.get("schema"), source.get("db")) if isinstance(q, str) and q]
    names = [f"{qualifier}.{table}" for qualifier in qualifiers] + [table]
    found = mapping.debezium_table(*names)
    if found is None:
        raise invalid(
            ErrorCode.UNKNOWN_ENTITY_TYPE,
            f"table {names[0]!r} has no field mapping",
            f"{prefix}source.table",
        )
    return names[0], found


def _changed_columns(
    op: ChangeOp,
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any] | None,
    primary_key: str,
) -> dict[str, Any]:
    if op is ChangeOp.DELETE or after is None:
        return {}
    previous = before if op is ChangeOp.UPDATE and before else None
    return {
        column: value
        for column, value in after.items()
        if column != primary_key
        and value != UNAVAILABLE_VALUE
        and (previous is None or column not in previous or previous[column] != value)
    }


def _position(source: Mapping[str, Any], body: Mapping[str, Any]) -> list[str]:
    """The event's log position; the commit time when the connector reports none."""
    position = [f"{key}={source[key]}" for key in _POSITION_KEYS if source.get(key) is not None]
    return position or [f"ts={source.get('ts_ms', body.get('ts_ms'))}"]


def _source_name(source: Mapping[str, Any]) -> str:
    name = source.get("name")
    return f"debezium:{name}" if isinstance(name, str) and name.strip() else "debezium"


def _add_timing(values: dict[str, Any], source: Mapping[str, Any], body: Mapping[str, Any]) -> None:
    """When it changed in the database (``source.ts_ms``; the connector's own clock only if
    that is absent or zero, as in old MySQL snapshots), and the PostgreSQL LSN as a tiebreak."""
    changed_at = source.get("ts_ms")
    if not changed_at:
        changed_at = body.get("ts_ms")
    if changed_at is not None:
        values["occurred_at"] = changed_at
    lsn = source.get("lsn")
    if isinstance(lsn, int) and not isinstance(lsn, bool):
        values["commit_number"] = lsn
