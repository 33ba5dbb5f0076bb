"""Inbound envelopes: from a Kafka message to canonical change events, whatever produced it.

crmstream reads its own native envelope, Salesforce Change Data Capture events, Debezium row
changes and HubSpot webhook batches. :func:`parse_message` turns one message value into the
:class:`~schemas.change.ChangeEvent` s it holds, detecting the format from the document's
shape unless the topic's format is configured, and raises
:class:`~schemas.errors.InvalidChange` with precise codes for anything that must be
dead-lettered. Messages that are legitimately no change (a tombstone, a truncate) come back
with a ``skipped`` reason instead, so they are counted, not parked.

Detection, in order (the first match wins):

1. native: ``entity_type``, ``entity_id`` and ``op`` at the top level;
2. Salesforce: a ``ChangeEventHeader``, at the top or under ``payload``/``data``;
3. Debezium: ``op`` with a ``source`` object and ``before``/``after``, possibly under
   ``payload``;
4. HubSpot: an array of objects with ``subscriptionType`` (or one such object; HubSpot's
   example payload says ``eventType``, which is accepted next to an ``objectId``);
5. native again for an object with at least two native keys, so that a broken native
   envelope gets its precise error (``missing_field``) rather than ``unknown_envelope``.

Any other object is ``unknown_envelope``; any other JSON value ``not_an_object``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from schemas.decoding import decode_json_document
from schemas.envelopes import debezium, hubspot, salesforce
from schemas.envelopes.common import ParsedMessage, SourceFormat, find_body, invalid
from schemas.errors import ErrorCode
from schemas.mapping import FieldMapping
from schemas.native import native_change

__all__ = ["ParsedMessage", "SourceFormat", "detect_format", "parse_message"]

_NATIVE_KEYS = frozenset({"event_id", "entity_type", "entity_id", "op", "occurred_at"})
_NATIVE_REQUIRED = frozenset({"entity_type", "entity_id", "op"})
_LOOSE_NATIVE_MINIMUM = 2


def parse_message(
    value: bytes | None,
    *,
    source_format: SourceFormat | None,
    mapping: FieldMapping,
    max_bytes: int,
) -> ParsedMessage:
    """The changes one message value holds; ``source_format=None`` detects it per message.

    >>> from schemas.mapping import DEFAULT_FIELD_MAPPING
    >>> parse_message(None, source_format=None, mapping=DEFAULT_FIELD_MAPPING, max_bytes=100)
    ParsedMessage(changes=[], source_format=None, skipped='tombstone')
    >>> parsed = parse_message(
    ...     b'{"op": "d", "before": {"id": 9}, "after": null,'
    ...     b' "source": {"table": "contacts", "ts_ms": 1700000000000}}',
    ...     source_format=None, mapping=DEFAULT_FIELD_MAPPING, max_bytes=1024)
    >>> parsed.source_format.value, parsed.changes[0].op.value, parsed.changes[0].entity_id
    ('debezium', 'delete', '9')
    """
    if value is None:  # a Kafka tombstone: compaction's delete marker, not a change
        return ParsedMessage([], source_format, "tombstone")
    document = decode_json_document(value, max_bytes=max_bytes)
    chosen = source_format if source_format is not None else detect_format(document)
    return _PARSERS[chosen](document, mapping)


def detect_format(document: Any) -> SourceFormat:
    """Which envelope a decoded document is, by its shape (see the module doc for the rules).

    >>> detect_format({"entity_type": "lead", "entity_id": "1", "op": "delete"}).value
    'native'
    >>> detect_format({"schema": {}, "payload": {"op": "t", "source": {}}}).value
    'debezium'
    """
    if hubspot.looks_like(document) and not isinstance(document, dict):
        return SourceFormat.HUBSPOT
    if not isinstance(document, dict):
        raise invalid(
            ErrorCode.NOT_AN_OBJECT,
            f"expected a JSON object or a HubSpot array, got {type(document).__name__}",
            None,
        )
    keys = document.keys()
    if keys >= _NATIVE_REQUIRED:
        return SourceFormat.NATIVE
    if find_body(document, salesforce.looks_like) is not None:
        return SourceFormat.SALESFORCE
    if find_body(document, debezium.looks_like) is not None:
        return SourceFormat.DEBEZIUM
    if hubspot.looks_like(document):
        return SourceFormat.HUBSPOT
    if len(_NATIVE_KEYS & keys) >= _LOOSE_NATIVE_MINIMUM:
        return SourceFormat.NATIVE
    raise invalid(
        ErrorCode.UNKNOWN_ENVELOPE,
        "not a native, Salesforce, Debezium or HubSpot envelope",
        None,
    )


def _parse_native(document: Any, _: FieldMapping) -> ParsedMessage:
    return ParsedMessage([native_change(document)], SourceFormat.NATIVE)


_PARSERS: dict[SourceFormat, Callable[[Any, FieldMapping], ParsedMessage]] = {
    SourceFormat.NATIVE: _parse_native,
    SourceFormat.SALESFORCE: salesforce.parse,
    SourceFormat.DEBEZIUM: debezium.parse,
    SourceFormat.HUBSPOT: hubspot.parse,
}
