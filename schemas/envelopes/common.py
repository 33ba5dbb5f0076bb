"""What the envelope adapters share: the result type, unwrapping, typed look-ups, ids, checks.

Every adapter does the same four things (find the envelope inside its wrappers, read typed
values with precise error paths, build a deterministic event id, validate a canonical change),
so they are written once here and the adapters stay about their format only.

Error messages name envelope keys and source object names (schema metadata) but never field
values, which may be personal data.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, TypeVar

import orjson
from pydantic import ValidationError

from schemas.change import ChangeEvent
from schemas.errors import ErrorCode, ErrorDetail, InvalidChange, errors_from_validation

T = TypeVar("T")

MAX_EVENT_ID_LENGTH = 128  # ChangeEvent.event_id's limit


class SourceFormat(StrEnum):
    """The inbound envelopes crmstream reads (the values of ``CRMSTREAM_INPUT_FORMAT``)."""

    NATIVE = "native"
    SALESFORCE = "salesforce"
    DEBEZIUM = "debezium"
    HUBSPOT = "hubspot"


@dataclass(frozen=True, slots=True)
class ParsedMessage:
    """What one Kafka message turned out to hold.

    One message may carry several changes (a Salesforce event for several records, a HubSpot
    batch) or none at all for a legitimate reason named by ``skipped`` (``tombstone``,
    ``truncate``, ``message``, ``gap_overflow``, ``wildcard``, ``unchanged``,
    ``association_change``): such a message is counted, not dead-lettered.
    """

    changes: list[ChangeEvent] = field(default_factory=list)
    source_format: SourceFormat | None = None
    skipped: str | None = None


def invalid(code: ErrorCode, message: str, path: str | None) -> InvalidChange:
    """One error pointing at ``path`` in the inbound document."""
    return InvalidChange.single(code, message, field=path)


# --------------------------------------------------------------------------------------------
# Wrappers
# --------------------------------------------------------------------------------------------

# Where connectors put the real envelope: Kafka Connect's JsonConverter wraps it as
# {"schema": ..., "payload": ...}; Salesforce's Streaming API as {"data": {"payload": ...}}.
_WRAPPER_KEYS = ("payload", "data")


def layers(
    document: dict[str, Any], prefix: str = "", depth: int = 2
) -> Iterator[tuple[dict[str, Any], str]]:
    """The document and the wrapped documents inside it, each with its path prefix."""
    yield document, prefix
    if depth == 0:
        return
    for key in _WRAPPER_KEYS:
        inner = document.get(key)
        if isinstance(inner, dict):
            yield from layers(inner, f"{prefix}{key}.", depth - 1)


def find_body(
    document: Any, is_body: Callable[[Mapping[str, Any]], bool]
) -> tuple[dict[str, Any], str] | None:
    """The envelope inside up to two wrapper layers, with its path prefix for error fields.

    >>> find_body({"schema": {}, "payload": {"op": "c"}}, lambda body: "op" in body)
    ({'op': 'c'}, 'payload.')
    """
    if not isinstance(document, dict):
        return None
    for layer, prefix in layers(document):
        if is_body(layer):
            return layer, prefix
    return None


def kafka_connect_payload(document: Any) -> tuple[Any, str]:
    """The payload of a ``{schema, payload}`` JsonConverter record, else the document itself."""
    if (
        isinstance(document, dict)
        and "schema" in document
        and isinstance(document.get("payload"), dict)
    ):
        return document["payload"], "payload."
    return document, ""


# --------------------------------------------------------------------------------------------
# Typed look-ups
# --------------------------------------------------------------------------------------------

_JSON_TYPE_NAMES = {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, int | float) and not isinstance(value, bool):
        return "a number"
    return _JSON_TYPE_NAMES.get(type(value), type(value).__name__)


def typed(
    body: Mapping[str, Any],
    key: str,
    kind: type[T] | tuple[type, ...],
    path: str,
    *,
    required: bool = True,
) -> T | None:
    """``body[key]`` checked against ``kind``; missing or null is an error only if ``required``.

    >>> typed({"op": 3}, "op", str, "payload.op")
    Traceback (most recent call last):
    ...
    schemas.errors.InvalidChange: wrong_type: expected str, got a number
    """
    value = body.get(key)
    if value is None:
        if required:
            raise invalid(ErrorCode.MISSING_FIELD, f"{key} is required", path)
        return None
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        expected = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
        raise invalid(ErrorCode.WRONG_TYPE, f"expected {expected}, got {_json_type(value)}", path)
    return value  # type: ignore[return-value]  # checked against kind just above


def text(body: Mapping[str, Any], key: str, path: str) -> str:
    """A required string value."""
    value = typed(body, key, str, path)
    assert value is not None  # required=True never returns None
    return value


def record_id(value: Any, path: str) -> str:
    """An id as the source sent it (string or integer), as text; anything else is an error."""
    if isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool)):
        return str(value)
    if value is None:
        raise invalid(ErrorCode.MISSING_FIELD, "the record id is required", path)
    raise invalid(ErrorCode.WRONG_TYPE, f"expected an id, got {_json_type(value)}", path)


# --------------------------------------------------------------------------------------------
# Event ids
# --------------------------------------------------------------------------------------------


def stable_event_id(prefix: str, *parts: Any) -> str:
    """A deterministic id from what identifies a change at its source, so a redelivery matches.

    Parts are joined with ``:``; an id longer than the contract allows is replaced by a
    digest of itself (still deterministic, still distinct).

    >>> stable_event_id("sf", "0001-ab", 1, "00Q1")
    'sf:0001-ab:1:00Q1'
    >>> stable_event_id("dbz", "x" * 200)[:14], len(stable_event_id("dbz", "x" * 200))
    ('dbz:sha256:929', 75)
    """
    event_id = ":".join([prefix, *(str(part) for part in parts)])
    if len(event_id) <= MAX_EVENT_ID_LENGTH:
        return event_id
    return f"{prefix}:sha256:{hashlib.sha256(event_id.encode()).hexdigest()}"


def content_digest(value: Any) -> str:
    """A digest of a JSON value, the last-resort identity when a source sends no position."""
    canonical = orjson.dumps(value, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)
    return hashlib.sha256(canonical).hexdigest()[:32]


# --------------------------------------------------------------------------------------------
# The canonical change
# --------------------------------------------------------------------------------------------


def validated_change(values: dict[str, Any], origin: Mapping[str, str]) -> ChangeEvent:
    """Validate a canonical change, reporting errors at the source keys they came from.

    ``origin`` maps a canonical key (``occurred_at``) to the source path it was read from
    (``ChangeEventHeader.commitTimestamp``), so a dead letter points at the inbound document.
    Absent source values must be left out of ``values``: pydantic then says ``missing``.
    """
    try:
        return ChangeEvent.model_validate(values)
    except ValidationError as exc:
        raise InvalidChange(
            [_relocated(error, origin) for error in errors_from_validation(exc)]
        ) from None


def _relocated(error: ErrorDetail, origin: Mapping[str, str]) -> ErrorDetail:
    if error.field is None:
        return error
    head, dot, rest = error.field.partition(".")
    if head not in origin:
        return error
    return ErrorDetail(error.code, error.message, f"{origin[head]}{dot}{rest}")
