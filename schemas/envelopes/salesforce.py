"""Salesforce Change Data Capture events, however they reach Kafka.

The same change event arrives in several shapes, all accepted here:

* Streaming API (CometD) JSON: ``{"data": {"schema": id, "payload": {...}, "event":
  {"replayId": n}}, "channel": "/data/LeadChangeEvent"}`` or its ``data`` part alone;
* a Pub/Sub API payload decoded from Avro, bare or as ``{"replayId": n, "payload": {...}}``;
* Kafka source connectors: Confluent's ``{schema, payload}`` JsonConverter record with
  compound fields already flattened (``FirstName``, ``MailingCity``) next to ``Id``,
  ``ReplayId``, ``_ObjectType`` and ``_EventType``; a Flatten SMT's ``Name.FirstName`` or
  ``Name_FirstName`` keys.

Rules that are not obvious from the format:

* A body value of ``null`` is a cleared field only when the header says so (``nulledFields``,
  or ``changedFields`` for the Streaming API, which has no ``nulledFields``): the Pub/Sub API
  and fixed-schema connectors send every unchanged field as ``null``. A changed field absent
  from the body was cleared too (the Streaming API leaves nulls out).
* Non-null values not in ``changedFields`` are kept: they are enriched fields, which are the
  record's current values.
* ``diffFields`` values are text diffs, not values: they go to ``attributes`` as
  ``<Field>.diff``. Bitmap-encoded header lists (undecoded Pub/Sub) are ignored.
* ``GAP_*`` events say values were lost: the change carries ``gap`` and no values at all.
  ``GAP_OVERFLOW`` names no records and is skipped; so are wildcard record ids (``001*``),
  sent when a field type conversion touched every record.
* One event for several ``recordIds`` becomes one change per record.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from functools import lru_cache
from typing import Any

from schemas.change import ChangeEvent, ChangeOp
from schemas.envelopes.common import (
    ParsedMessage,
    SourceFormat,
    content_digest,
    find_body,
    invalid,
    layers,
    record_id,
    stable_event_id,
    text,
    typed,
    validated_change,
)
from schemas.errors import ErrorCode
from schemas.mapping import FieldMapping, ObjectMapping

HEADER = "ChangeEventHeader"
_FLAT_HEADER_PREFIXES = (f"{HEADER}.", f"{HEADER}_")
_OPS = {
    "CREATE": ChangeOp.CREATE,
    "UPDATE": ChangeOp.UPDATE,
    "DELETE": ChangeOp.DELETE,
    "UNDELETE": ChangeOp.UNDELETE,
}
_GAP_PREFIX = "GAP_"
_GAP_OVERFLOW = "GAP_OVERFLOW"
# Keys connectors add next to the record's fields: envelope data, not record data.
_ENVELOPE_KEYS = frozenset({HEADER, "Id", "ReplayId", "_ObjectType", "_EventType"})
_NAME_PARTS = frozenset({"Salutation", "FirstName", "MiddleName", "LastName", "Suffix",
                         "InformalName"})  # fmt: skip
_ADDRESS_PARTS = frozenset({"Street", "City", "State", "PostalCode", "Country", "StateCode",
                            "CountryCode", "Latitude", "Longitude", "GeocodeAccuracy"})  # fmt: skip
_ADDRESS = "Address"
_CHANGE_EVENT_SUFFIX = "ChangeEvent"
_WILDCARD = "*"


def looks_like(body: Mapping[str, Any]) -> bool:
    """Whether ``body`` is a change event: it has a header, nested or flattened."""
    return isinstance(body.get(HEADER), dict) or any(
        f"{prefix}entityName" in body for prefix in _FLAT_HEADER_PREFIXES
    )


def parse(document: Any, mapping: FieldMapping) -> ParsedMessage:
    """Map one Salesforce change event to one canonical change per record id.

    >>> from schemas.mapping import DEFAULT_FIELD_MAPPING
    >>> event = {"ChangeEventHeader": {"entityName": "Lead", "recordIds": ["00Q1", "00Q2"],
    ...     "changeType": "UPDATE", "changedFields": ["Status"], "transactionKey": "t-1",
    ...     "sequenceNumber": 1, "commitTimestamp": 1700000000000}, "Status": "Working"}
    >>> [(c.entity_id, c.fields) for c in parse(event, DEFAULT_FIELD_MAPPING).changes]
    [('00Q1', {'status': 'Working'}), ('00Q2', {'status': 'Working'})]
    """
    found = find_body(document, looks_like)
    if found is None:
        raise invalid(ErrorCode.MISSING_FIELD, f"no {HEADER} found", HEADER)
    body, prefix = found
    header, header_path = _header(body), f"{prefix}{HEADER}."
    change_type = text(header, "changeType", f"{header_path}changeType")
    if change_type == _GAP_OVERFLOW:
        return ParsedMessage([], SourceFormat.SALESFORCE, "gap_overflow")
    gap = change_type.startswith(_GAP_PREFIX)
    op = _OPS.get(change_type.removeprefix(_GAP_PREFIX))
    if op is None:
        raise invalid(ErrorCode.UNKNOWN_OP, "not a known changeType", f"{header_path}changeType")
    target = _object_mapping(body, header, header_path, mapping)
    ids = [i for i in _record_ids(header, header_path) if not i.endswith(_WILDCARD)]
    if not ids:
        return ParsedMessage([], SourceFormat.SALESFORCE, "wildcard")
    fields, attributes = ({}, {}) if gap else _values(body, header, target)
    common = _common_values(header, op, target, gap=gap, fields=fields, attributes=attributes)
    position = _position(document, body, header)
    origin = _origin(header_path)
    changes = [
        _change(common, stable_event_id("sf", *position, entity_id), entity_id, origin)
        for entity_id in ids
    ]
    return ParsedMessage(changes, SourceFormat.SALESFORCE)


def _change(
    common: dict[str, Any], event_id: str, entity_id: str, origin: Mapping[str, str]
) -> ChangeEvent:
    return validated_change({**common, "event_id": event_id, "entity_id": entity_id}, origin)


def _common_values(
    header: Mapping[str, Any],
    op: ChangeOp,
    target: ObjectMapping,
    *,
    gap: bool,
    fields: dict[str, Any],
    attributes: dict[str, Any],
) -> dict[str, Any]:
    """What every record of the event shares; source values absent here are left out."""
    values: dict[str, Any] = {
        "entity_type": target.entity_type,
        "op": op,
        "source": "salesforce",
        "fields": fields,
        "attributes": attributes,
        "gap": gap,
    }
    for canonical, key in _HEADER_VALUES.items():
        if header.get(key) is not None:
            values[canonical] = header[key]
    return values


_HEADER_VALUES = {
    "occurred_at": "commitTimestamp",
    "commit_number": "commitNumber",
    "sequence_number": "sequenceNumber",
}


def _origin(header_path: str) -> dict[str, str]:
    origin = {canonical: f"{header_path}{key}" for canonical, key in _HEADER_VALUES.items()}
    return origin | {"entity_id": f"{header_path}recordIds", "event_id": header_path[:-1]}


# --------------------------------------------------------------------------------------------
# Header
# --------------------------------------------------------------------------------------------


def _header(body: Mapping[str, Any]) -> dict[str, Any]:
    """The header, rebuilt from ``ChangeEventHeader.x`` keys if a Flatten SMT spread it."""
    nested = body.get(HEADER)
    if isinstance(nested, dict):
        return nested
    return {
        key[len(prefix) :]: value
        for key, value in body.items()
        for prefix in _FLAT_HEADER_PREFIXES
        if key.startswith(prefix)
    }


def _object_mapping(
    body: Mapping[str, Any], header: Mapping[str, Any], path: str, mapping: FieldMapping
) -> ObjectMapping:
    name = typed(header, "entityName", str, f"{path}entityName", required=False)
    if name is None:  # Confluent's connector also names the event type next to the fields
        event_type = typed(body, "_ObjectType", str, f"{path}entityName")
        assert event_type is not None
        name = _object_of_event(event_type)
    target = mapping.salesforce_object(name)
    if target is None:
        raise invalid(
            ErrorCode.UNKNOWN_ENTITY_TYPE,
            f"Salesforce object {name!r} has no field mapping",
            f"{path}entityName",
        )
    return target


def _object_of_event(event_type: str) -> str:
    """``LeadChangeEvent`` -> ``Lead``; ``Employee__ChangeEvent`` -> ``Employee__c``."""
    name = event_type.removesuffix(_CHANGE_EVENT_SUFFIX)
    return f"{name}c" if name.endswith("__") else name


def _record_ids(header: Mapping[str, Any], path: str) -> list[str]:
    raw = typed(header, "recordIds", (list, str), f"{path}recordIds")
    items = [raw] if isinstance(raw, str) else raw
    assert items is not None
    if not items:
        raise invalid(ErrorCode.INVALID_VALUE, "recordIds is empty", f"{path}recordIds")
    return [record_id(item, f"{path}recordIds[{i}]") for i, item in enumerate(items)]


def _position(document: Any, body: Mapping[str, Any], header: Mapping[str, Any]) -> tuple[Any, ...]:
    """What identifies this event at Salesforce: the transaction and the change's place in it.

    The replay id (the event's position in the event bus) is the fallback, then the
    content itself; all three are the same when the same event is delivered again.
    """
    transaction = header.get("transactionKey")
    if isinstance(transaction, str) and transaction:
        sequence = header.get("sequenceNumber")
        return (transaction, "" if sequence is None else sequence)
    replay = _replay_id(document)
    if replay is not None:
        return ("replay", replay)
    return ("content", content_digest(body))


def _replay_id(document: Any) -> Any:
    if not isinstance(document, dict):
        return None
    for layer, _ in layers(document):
        for key in ("replayId", "ReplayId"):
            if isinstance(layer.get(key), int | str):
                return layer[key]
        event = layer.get("event")
        if isinstance(event, dict) and isinstance(event.get("replayId"), int | str):
            return event["replayId"]
    return None


# --------------------------------------------------------------------------------------------
# Body
# --------------------------------------------------------------------------------------------


def _values(
    body: Mapping[str, Any], header: Mapping[str, Any], target: ObjectMapping
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The record's values as (canonical fields, attributes), by the rules in the module doc."""
    cleared = _field_names(header.get("changedFields")) | _field_names(header.get("nulledFields"))
    diffed = _field_names(header.get("diffFields"))
    values: dict[str, Any] = {}
    diffs: dict[str, Any] = {}
    for name, value in _flattened(body):
        if name in diffed:
            if value is not None:
                diffs[f"{name}.diff"] = value
        elif value is not None or name in cleared:
            values[name] = value
    for name in cleared - diffed:
        values.setdefault(name, None)
    fields, attributes = target.split(values)
    attributes.update(diffs)
    return fields, attributes


def _field_names(raw: Any) -> set[str]:
    """Header field lists as flat field names; Pub/Sub bitmaps (``0x...``) cannot be decoded
    without the event schema, so they are ignored rather than guessed."""
    if not isinstance(raw, list):
        return set()
    return {
        flat
        for name in raw
        if isinstance(name, str) and not _is_bitmap(name) and (flat := _flat_name(name))
    }


def _is_bitmap(name: str) -> bool:
    return name.startswith("0x") or "-0x" in name


def _flattened(body: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    """The record's fields with compound fields spread into their own field names."""
    for key, value in body.items():
        if (value is None or isinstance(value, dict)) and _is_compound(key):
            # A null compound tells nothing: its parts arrive on their own or not at all.
            for part, inner in (value or {}).items():
                yield _component(key, str(part)), inner
            continue
        name = _flat_name(key)
        if name is not None:
            yield name, value


# Body keys come from a bounded set (an object's fields), so their names are computed once.
_NAME_CACHE_SIZE = 4096


@lru_cache(maxsize=_NAME_CACHE_SIZE)
def _is_compound(name: str) -> bool:
    return name == "Name" or name.endswith(_ADDRESS)


@lru_cache(maxsize=_NAME_CACHE_SIZE)
def _component(compound: str, part: str) -> str:
    """The field name of a compound's part: ``BillingAddress.City`` -> ``BillingCity``,
    ``Address.City`` (Lead) -> ``City``, ``Name.FirstName`` -> ``FirstName``."""
    if compound == "Name" and part in _NAME_PARTS:
        return part
    if compound.endswith(_ADDRESS) and part in _ADDRESS_PARTS:
        return compound.removesuffix(_ADDRESS) + part
    return f"{compound}.{part}"


@lru_cache(maxsize=_NAME_CACHE_SIZE)
def _flat_name(key: str) -> str | None:
    """The field name a body key stands for: a flattened compound key (``Name.FirstName``,
    ``MailingAddress_City``) as its component, other keys (``Email``, ``Foo__c``) as they are,
    and None for the envelope keys connectors add (``ReplayId``, a flattened header)."""
    if key in _ENVELOPE_KEYS or key.startswith(_FLAT_HEADER_PREFIXES):
        return None
    for separator in (".", "_"):
        compound, found, part = key.partition(separator)
        if found and _is_compound(compound) and "__" not in key:
            component = _component(compound, part)
            if separator == "." or component != f"{compound}.{part}":
                return component
    return key
