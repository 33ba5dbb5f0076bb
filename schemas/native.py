"""The native JSON change envelope: crmstream's own documented input format.

One JSON object per Kafka message::

    {"event_id": "9f1c...", "entity_type": "contact", "entity_id": "003A1",
     "op": "update", "occurred_at": "2026-11-23T13:41:57Z", "source": "salesforce",
     "fields": {"email": "ada@example.com"}}

The envelope *is* the canonical change event, so parsing is validation; other formats
(Salesforce CDC, Debezium, HubSpot) are mapped onto the same :class:`ChangeEvent`.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from schemas.change import ChangeEvent
from schemas.decoding import decode_json_document
from schemas.errors import ErrorCode, InvalidChange, errors_from_validation

DEFAULT_MAX_MESSAGE_BYTES = 1_048_576


def parse_native_change(
    raw: bytes | None, *, max_bytes: int = DEFAULT_MAX_MESSAGE_BYTES
) -> ChangeEvent:
    """Turn one message value into a change event or raise :class:`InvalidChange`.

    >>> parse_native_change(b'{"event_id": "e1", "entity_type": "account", "entity_id": "A1",'
    ...     b' "op": "delete", "occurred_at": 1700000000000, "source": "crm"}').op
    <ChangeOp.DELETE: 'delete'>
    >>> try:
    ...     parse_native_change(b'{"entity_type": "unicorn"}')
    ... except InvalidChange as exc:
    ...     sorted({error.code.value for error in exc.errors})
    ['missing_field', 'unknown_entity_type']
    """
    return native_change(decode_json_document(raw, max_bytes=max_bytes))


def native_change(document: Any) -> ChangeEvent:
    """Validate an already decoded native envelope; shared with :mod:`schemas.envelopes`.

    >>> native_change(["not", "an", "object"])
    Traceback (most recent call last):
    ...
    schemas.errors.InvalidChange: not_an_object: expected a JSON object, got list
    """
    if not isinstance(document, dict):
        raise InvalidChange.single(
            ErrorCode.NOT_AN_OBJECT, f"expected a JSON object, got {type(document).__name__}"
        )
    try:
        return ChangeEvent.model_validate(document)
    except ValidationError as exc:
        raise InvalidChange(errors_from_validation(exc)) from None
