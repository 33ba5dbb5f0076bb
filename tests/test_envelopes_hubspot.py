"""HubSpot webhook rules: subscription types, merges, all-or-nothing batches, identity.

Events follow the HubSpot developer documentation ("Webhooks API": webhook payload fields and
subscription types; "Create generic webhook subscriptions": object.* types with objectTypeId;
Developer Changelog "New subscription types for Webhooks": merge, restore and association
change properties); the verbatim example batch is in test_envelopes_examples.py.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from schemas.change import ChangeEvent, ChangeOp
from schemas.envelopes import ParsedMessage, SourceFormat, parse_message
from schemas.errors import ErrorCode, InvalidChange
from schemas.mapping import DEFAULT_FIELD_MAPPING


def webhook(event_id: int, subscription_type: str, **extra: Any) -> dict[str, Any]:
    return {
        "eventId": event_id,
        "subscriptionId": 25,
        "portalId": 33,
        "appId": 1160452,
        "occurredAt": 1_764_000_000_000,
        "subscriptionType": subscription_type,
        "attemptNumber": 0,
        "objectId": 101,
        "changeSource": "CRM_UI",
    } | extra


def parse(document: Any, source_format: SourceFormat | None = None) -> ParsedMessage:
    return parse_message(
        orjson.dumps(document),
        source_format=source_format,
        mapping=DEFAULT_FIELD_MAPPING,
        max_bytes=1 << 20,
    )


def rejected(document: Any, source_format: SourceFormat | None = None) -> InvalidChange:
    with pytest.raises(InvalidChange) as caught:
        parse(document, source_format)
    return caught.value


def one(document: Any) -> ChangeEvent:
    (change,) = parse(document).changes
    return change


def test_one_bad_element_rejects_the_whole_batch_naming_each_element() -> None:
    batch = [
        webhook(1, "contact.creation"),
        webhook(2, "contact.propertyChange", propertyValue="Ada"),  # no propertyName
        webhook(3, "contact.propertyChange", propertyName="firstname", propertyValue="Ada"),
        webhook(4, "ticket.creation"),
    ]
    errors = rejected(batch).errors
    assert [(e.code, e.field) for e in errors] == [
        (ErrorCode.MISSING_FIELD, "[1].propertyName"),
        (ErrorCode.UNKNOWN_ENTITY_TYPE, "[3].subscriptionType"),
    ]


def test_a_merge_into_a_new_record_consumes_the_primary_too() -> None:
    change = one(
        [webhook(5, "contact.merge", primaryObjectId=101, mergedObjectIds=[102, 103],
                 newObjectId=104, numberOfPropertiesMoved=12)]
    )  # fmt: skip
    assert (change.op, change.entity_id, change.merged_ids) == (
        ChangeOp.MERGE, "104", ["102", "103", "101"],
    )  # fmt: skip


def test_a_merge_without_a_new_record_keeps_the_primary() -> None:
    change = one([webhook(5, "company.merge", primaryObjectId=7, mergedObjectIds=[8])])
    assert (change.entity_id, change.merged_ids) == ("7", ["8"])


def test_a_merge_with_nothing_merged_is_invalid() -> None:
    errors = rejected([webhook(5, "deal.merge", primaryObjectId=7, mergedObjectIds=[7])]).errors
    assert (errors[0].code, errors[0].field) == (ErrorCode.INVALID_VALUE, "[0].mergedObjectIds")


def test_a_batch_of_association_changes_only_is_skipped() -> None:
    batch = [webhook(6, "contact.associationChange", fromObjectId=1, toObjectId=2)]
    assert parse(batch) == ParsedMessage([], SourceFormat.HUBSPOT, "association_change")


def test_a_single_event_object_is_read_like_a_batch_of_one() -> None:
    single = webhook(3, "contact.propertyChange", propertyName="firstname", propertyValue="Ada")
    assert parse(single).changes == parse([single]).changes


def test_property_values_stay_as_hubspot_sent_them() -> None:
    change = one([webhook(3, "deal.propertyChange", propertyName="amount", propertyValue="12.5")])
    assert change.fields == {"amount": "12.5"}
    cleared = one([webhook(4, "contact.propertyChange", propertyName="phone")])
    assert cleared.fields == {"phone": None}


@pytest.mark.parametrize(
    ("event", "code", "field"),
    [
        (webhook(1, "contact.teleport"), ErrorCode.UNKNOWN_OP, "[0].subscriptionType"),
        (webhook(1, "object.creation", objectTypeId="0-5"), ErrorCode.UNKNOWN_ENTITY_TYPE,
         "[0].objectTypeId"),
        (webhook(1, "contact.creation", objectId=None), ErrorCode.MISSING_FIELD, "[0].objectId"),
        (webhook(1, "contact.creation", eventId=None), ErrorCode.MISSING_FIELD, "[0].eventId"),
        (webhook(1, "contact.creation", occurredAt="noon"), ErrorCode.INVALID_TIMESTAMP,
         "[0].occurredAt"),
        (webhook(1, "contact.creation", subscriptionType=7), ErrorCode.WRONG_TYPE,
         "[0].subscriptionType"),
        ("contact.creation", ErrorCode.WRONG_TYPE, "[0]"),
    ],
)  # fmt: skip
def test_mistakes_are_reported_at_the_element_key(event: Any, code: ErrorCode, field: str) -> None:
    errors = rejected([event], SourceFormat.HUBSPOT).errors
    assert (errors[0].code, errors[0].field) == (code, field)


def test_an_empty_batch_is_invalid_when_hubspot_is_forced() -> None:
    assert rejected([], SourceFormat.HUBSPOT).errors[0].code is ErrorCode.INVALID_VALUE


def test_the_event_id_ignores_the_attempt_number() -> None:
    first = one([webhook(9, "contact.deletion")])
    retry = one([webhook(9, "contact.deletion", attemptNumber=4)])
    assert first.event_id == retry.event_id == "hs:33:9:25:101"
