"""HubSpot webhook notifications: a JSON array of events, as HubSpot POSTs them.

Both the per-object subscription types (``contact.propertyChange``, ``company.deletion``...)
and the generic ones (``object.propertyChange`` with ``objectTypeId`` ``0-1``) are read, from
``subscriptionType`` or, as in HubSpot's own example payload, ``eventType``:

* ``creation`` -> ``create`` without fields (the values follow as property changes);
* ``propertyChange`` -> ``update`` of one field, its value exactly as HubSpot sent it (text);
* ``deletion`` and ``privacyDeletion`` (GDPR) -> ``delete``; ``restore`` -> ``undelete``;
* ``merge`` -> ``merge`` into the surviving record: ``newObjectId`` when HubSpot created a new
  record for the merge, else ``primaryObjectId``; every other id involved is in
  ``merged_ids``;
* ``associationChange`` is not a record change: skipped (``association_change``).

The event id is ``hs:{portalId}:{eventId}:{subscriptionId}:{objectId}``. HubSpot retries a
failed delivery with the same event and a higher ``attemptNumber``, so that number is left
out; its docs say ``eventId`` alone "is not guaranteed to be unique", hence the other parts.

A batch is accepted or dead-lettered whole: if any element is wrong the message is rejected
with every element's errors, each field prefixed by its index (``[3].objectId``), so that a
replay after the fix never applies half a batch twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from schemas.change import ChangeEvent, ChangeOp
from schemas.envelopes.common import (
    ParsedMessage,
    SourceFormat,
    invalid,
    record_id,
    stable_event_id,
    text,
    typed,
    validated_change,
)
from schemas.errors import ErrorCode, ErrorDetail, InvalidChange
from schemas.mapping import FieldMapping, ObjectMapping

_OPS = {
    "creation": ChangeOp.CREATE,
    "propertyChange": ChangeOp.UPDATE,
    "deletion": ChangeOp.DELETE,
    "privacyDeletion": ChangeOp.DELETE,
    "merge": ChangeOp.MERGE,
    "restore": ChangeOp.UNDELETE,
}
_NOT_RECORD_CHANGES = {"associationChange": "association_change"}
_GENERIC_OBJECT = "object"
SUBSCRIPTION_TYPE = "subscriptionType"
_LEGACY_SUBSCRIPTION_TYPE = "eventType"


def looks_like(document: Any) -> bool:
    """Whether ``document`` is a webhook batch (or one event of one)."""
    first = document[0] if isinstance(document, list) and document else document
    return isinstance(first, dict) and _subscription_key(first) is not None


def _subscription_key(event: Mapping[str, Any]) -> str | None:
    """``subscriptionType``, or ``eventType`` as HubSpot's older documentation names it
    (only when it reads like one: ``<object>.<action>`` next to an ``objectId``)."""
    if SUBSCRIPTION_TYPE in event:
        return SUBSCRIPTION_TYPE
    legacy = event.get(_LEGACY_SUBSCRIPTION_TYPE)
    if isinstance(legacy, str) and "." in legacy and "objectId" in event:
        return _LEGACY_SUBSCRIPTION_TYPE
    return None


def parse(document: Any, mapping: FieldMapping) -> ParsedMessage:
    """Map a webhook batch to canonical changes, all or nothing.

    >>> from schemas.mapping import DEFAULT_FIELD_MAPPING
    >>> batch = [{"eventId": 1, "portalId": 33, "subscriptionId": 5, "objectId": 123,
    ...     "occurredAt": 1700000000000, "subscriptionType": "contact.propertyChange",
    ...     "propertyName": "firstname", "propertyValue": "Ada", "attemptNumber": 0}]
    >>> change = parse(batch, DEFAULT_FIELD_MAPPING).changes[0]
    >>> change.event_id, change.entity_id, change.fields
    ('hs:33:1:5:123', '123', {'first_name': 'Ada'})
    """
    if not isinstance(document, list | dict):
        raise invalid(ErrorCode.NOT_AN_OBJECT, "expected an array of webhook events", None)
    events = document if isinstance(document, list) else [document]
    if not events:
        raise invalid(ErrorCode.INVALID_VALUE, "the batch holds no events", None)
    changes: list[ChangeEvent] = []
    skipped: list[str] = []
    errors: list[ErrorDetail] = []
    for index, event in enumerate(events):
        prefix = f"[{index}]." if isinstance(document, list) else ""
        try:
            outcome = _event(event, prefix, mapping)
        except InvalidChange as exc:
            errors.extend(exc.errors)
            continue
        if isinstance(outcome, str):
            skipped.append(outcome)
        else:
            changes.append(outcome)
    if errors:
        raise InvalidChange(errors)
    reason = skipped[0] if skipped and not changes else None
    return ParsedMessage(changes, SourceFormat.HUBSPOT, reason)


def _event(event: Any, prefix: str, mapping: FieldMapping) -> ChangeEvent | str:
    """One webhook event as a change, or the reason it is none."""
    if not isinstance(event, dict):
        raise invalid(ErrorCode.WRONG_TYPE, "a webhook event is a JSON object", prefix[:-1])
    key = _subscription_key(event) or SUBSCRIPTION_TYPE
    subscription = text(event, key, f"{prefix}{key}")
    object_name, _, action = subscription.partition(".")
    if action in _NOT_RECORD_CHANGES:
        return _NOT_RECORD_CHANGES[action]
    op = _OPS.get(action)
    if op is None:
        raise invalid(ErrorCode.UNKNOWN_OP, f"not a known {key}", f"{prefix}{key}")
    target = _object_mapping(event, object_name, f"{prefix}{key}", prefix, mapping)
    values: dict[str, Any] = {
        "event_id": _event_id(event, prefix),
        "entity_type": target.entity_type,
        "op": op,
        "source": "hubspot",
    }
    if event.get("occurredAt") is not None:
        values["occurred_at"] = event["occurredAt"]
    if op is ChangeOp.MERGE:
        values["entity_id"], values["merged_ids"] = _merge(event, prefix)
    else:
        values["entity_id"] = record_id(event.get("objectId"), f"{prefix}objectId")
    if op is ChangeOp.UPDATE:
        values["fields"], values["attributes"] = _property(event, prefix, target)
    origin = {"occurred_at": f"{prefix}occurredAt", "entity_id": f"{prefix}objectId",
              "fields": f"{prefix}propertyValue", "attributes": f"{prefix}propertyValue",
              "merged_ids": f"{prefix}mergedObjectIds"}  # fmt: skip
    return validated_change(values, origin)


def _object_mapping(
    event: Mapping[str, Any], object_name: str, path: str, prefix: str, mapping: FieldMapping
) -> ObjectMapping:
    if object_name == _GENERIC_OBJECT:
        path = f"{prefix}objectTypeId"
        type_id = typed(event, "objectTypeId", str, path)
        assert type_id is not None
        object_name = mapping.hubspot_object_name(type_id) or type_id
    target = mapping.hubspot_object(object_name)
    if target is None:
        raise invalid(
            ErrorCode.UNKNOWN_ENTITY_TYPE, f"HubSpot object {object_name!r} has no mapping", path
        )
    return target


def _event_id(event: Mapping[str, Any], prefix: str) -> str:
    event_id = record_id(event.get("eventId"), f"{prefix}eventId")
    parts = (event.get(key) for key in ("portalId", "subscriptionId", "objectId"))
    portal, subscription, object_id = ("" if part is None else part for part in parts)
    return stable_event_id("hs", portal, event_id, subscription, object_id)


def _merge(event: Mapping[str, Any], prefix: str) -> tuple[str, list[str]]:
    """The surviving record and every other record the merge consumed."""
    primary = record_id(event.get("primaryObjectId"), f"{prefix}primaryObjectId")
    created = event.get("newObjectId")
    survivor = record_id(created, f"{prefix}newObjectId") if created is not None else primary
    merged = typed(event, "mergedObjectIds", list, f"{prefix}mergedObjectIds")
    assert merged is not None
    ids = [record_id(item, f"{prefix}mergedObjectIds[{i}]") for i, item in enumerate(merged)]
    consumed = dict.fromkeys([*ids, primary])
    consumed.pop(survivor, None)
    if not consumed:
        raise invalid(
            ErrorCode.INVALID_VALUE, "the merge names no other record", f"{prefix}mergedObjectIds"
        )
    return survivor, list(consumed)


def _property(
    event: Mapping[str, Any], prefix: str, target: ObjectMapping
) -> tuple[dict[str, Any], dict[str, Any]]:
    name = text(event, "propertyName", f"{prefix}propertyName")
    return target.split({name: event.get("propertyValue")})
