"""Salesforce Change Data Capture rules: what each header and body shape means for the change.

Events are built in the shape the Salesforce Change Data Capture Developer Guide documents
("Change Event Message Structure", "ChangeEventHeader Fields", "Change Event Body Fields",
"Get Compound Fields in Change Events", "Gap Events"); the vendor's verbatim examples are in
test_envelopes_examples.py.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from schemas.change import ChangeEvent, ChangeOp, EntityType
from schemas.envelopes import ParsedMessage, SourceFormat, parse_message
from schemas.errors import ErrorCode, InvalidChange
from schemas.mapping import DEFAULT_FIELD_MAPPING
from schemas.native import parse_native_change

COMMIT_MS = 1_764_000_000_000


def event(
    change_type: str,
    body: dict[str, Any] | None = None,
    *,
    record_ids: list[str] | None = None,
    entity: str = "Lead",
    **header: Any,
) -> dict[str, Any]:
    """A CometD-style change event (the `data` part of the message)."""
    return {
        "schema": "IeRuaY6cbI_HsV8Rv1Mc5g",
        "payload": {
            "ChangeEventHeader": {
                "entityName": entity,
                "recordIds": record_ids or ["00Q5e00000AbCdEEAZ"],
                "changeType": change_type,
                "changeOrigin": "com/salesforce/api/rest/60.0;client=crmstream-test",
                "transactionKey": f"tx-{change_type}-{len(header)}",
                "sequenceNumber": 1,
                "commitTimestamp": COMMIT_MS,
                "commitNumber": 10_589_421_187,
                "commitUser": "0055e000001ABCDAAA",
            }
            | header,
            **(body or {}),
        },
        "event": {"replayId": 77},
    }


def parse(document: Any) -> ParsedMessage:
    return parse_message(
        orjson.dumps(document),
        source_format=SourceFormat.SALESFORCE,
        mapping=DEFAULT_FIELD_MAPPING,
        max_bytes=1 << 20,
    )


def one(document: Any) -> ChangeEvent:
    (change,) = parse(document).changes
    return change


def rejected(document: Any) -> InvalidChange:
    with pytest.raises(InvalidChange) as caught:
        parse(document)
    return caught.value


def test_a_create_and_two_partial_updates_add_up_to_one_native_create() -> None:
    create = event(
        "CREATE",
        {
            "Name": {"FirstName": "Ada", "LastName": "Lovelace"},
            "Company": "Analytical Engines",
            "Email": "ada@example.com",
            "Phone": "+44 20 7946 0000",
            "Status": "Open - Not Contacted",
        },
    )
    first_update = event(
        "UPDATE",
        {"Status": "Working - Contacted", "Address": {"City": "London"}},
        changedFields=["Status", "Address.City", "LastModifiedDate"],
    )
    second_update = event(
        "UPDATE",
        {"Title": "Countess", "IsConverted": True},
        changedFields=["Title", "IsConverted", "Phone"],  # Phone cleared: absent from the body
    )
    merged: dict[str, Any] = {}
    for document in (create, first_update, second_update):
        merged |= one(document).fields
    native = parse_native_change(
        orjson.dumps(
            {
                "event_id": "n-1",
                "entity_type": "lead",
                "entity_id": "00Q5e00000AbCdEEAZ",
                "op": "create",
                "occurred_at": COMMIT_MS,
                "source": "salesforce",
                "fields": {
                    "first_name": "Ada",
                    "last_name": "Lovelace",
                    "company": "Analytical Engines",
                    "email": "ada@example.com",
                    "phone": None,
                    "status": "Working - Contacted",
                    "city": "London",
                    "title": "Countess",
                    "is_converted": True,
                },
            }
        )
    )
    assert merged == native.fields


def test_one_event_for_several_records_becomes_one_change_per_record() -> None:
    ids = ["00Q5e00000AbCdEEAZ", "00Q5e00000AbCdFEAZ", "00Q5e00000AbCdGEAZ"]
    parsed = parse(event("UPDATE", {"Status": "Working"}, record_ids=ids))
    assert [c.entity_id for c in parsed.changes] == ids
    assert len({c.event_id for c in parsed.changes}) == 3
    assert all(c.fields == {"status": "Working"} for c in parsed.changes)


def test_nulled_fields_are_cleared_and_other_nulls_are_unchanged() -> None:
    # Pub/Sub API shape: every field present, unchanged ones null.
    change = one(
        event(
            "UPDATE",
            {"Phone": None, "Title": None, "MailingAddress": {"City": None, "State": None}},
            entity="Contact",
            changedFields=["Phone", "MailingAddress.City", "LastModifiedDate"],
            nulledFields=["Phone", "MailingAddress.City"],
            diffFields=[],
        )
    )
    assert change.fields == {"phone": None, "mailing_city": None}


def test_undecoded_pubsub_bitmaps_are_ignored_not_guessed() -> None:
    change = one(
        event(
            "UPDATE",
            {"Phone": None, "Email": "ada@example.com"},
            changedFields=["0x650004E0", "4-0x10"],
            nulledFields=["0x04"],
        )
    )
    assert change.fields == {"email": "ada@example.com"}


@pytest.mark.parametrize(
    ("change_type", "op"),
    [
        ("GAP_CREATE", ChangeOp.CREATE),
        ("GAP_UPDATE", ChangeOp.UPDATE),
        ("GAP_DELETE", ChangeOp.DELETE),
        ("GAP_UNDELETE", ChangeOp.UNDELETE),
    ],
)
def test_gap_events_flag_the_change_and_invent_no_values(change_type: str, op: ChangeOp) -> None:
    change = one(event(change_type, {"Status": None, "Email": "stale@example.com"}))
    assert (change.op, change.gap) == (op, True)
    assert change.fields == {}
    assert change.attributes == {}


def test_a_gap_overflow_names_no_record_and_is_skipped() -> None:
    overflow = event("GAP_OVERFLOW", record_ids=["00Q5e00000AbCdEEAZ"])
    overflow["payload"]["ChangeEventHeader"]["recordIds"] = []
    assert parse(overflow) == ParsedMessage([], SourceFormat.SALESFORCE, "gap_overflow")


def test_an_undelete_restores_the_record_with_its_values() -> None:
    change = one(event("UNDELETE", {"Email": "ada@example.com", "Phone": None}))
    assert change.op is ChangeOp.UNDELETE
    assert change.fields == {"email": "ada@example.com"}


@pytest.mark.parametrize(
    "body",
    [
        {"Name": {"FirstName": "Ada", "LastName": "Lovelace"},
         "MailingAddress": {"City": "London", "PostalCode": "W1"}},
        {"Name.FirstName": "Ada", "Name.LastName": "Lovelace",
         "MailingAddress.City": "London", "MailingAddress.PostalCode": "W1"},
        {"Name_FirstName": "Ada", "Name_LastName": "Lovelace",
         "MailingAddress_City": "London", "MailingAddress_PostalCode": "W1"},
        {"FirstName": "Ada", "LastName": "Lovelace", "MailingCity": "London",
         "MailingPostalCode": "W1", "MailingAddress": None, "Name": None},
    ],
    ids=["nested", "dotted", "underscored", "top-level"],
)  # fmt: skip
def test_compound_fields_nested_or_flattened_give_the_same_change(body: dict[str, Any]) -> None:
    change = one(event("CREATE", body, entity="Contact"))
    assert change.fields == {
        "first_name": "Ada",
        "last_name": "Lovelace",
        "mailing_city": "London",
        "mailing_postal_code": "W1",
    }
    assert change.attributes == {}


def test_custom_and_unmapped_fields_are_kept_as_attributes_and_diffs_marked() -> None:
    change = one(
        event(
            "UPDATE",
            {"Score__c": 87, "MobilePhone": "+1 555 0100", "Description": "@@ -1 +1 @@\n-a\n+b"},
            changedFields=["Score__c", "MobilePhone", "Description"],
            diffFields=["Description"],
        )
    )
    assert change.fields == {}
    assert change.attributes == {
        "Score__c": 87,
        "MobilePhone": "+1 555 0100",
        "Description.diff": "@@ -1 +1 @@\n-a\n+b",
    }


def test_the_header_sets_time_order_and_identity() -> None:
    change = one(event("UPDATE", {"Status": "Working"}, sequenceNumber=3, transactionKey="tk"))
    assert change.event_id == "sf:tk:3:00Q5e00000AbCdEEAZ"
    assert change.occurred_at.timestamp() * 1000 == COMMIT_MS
    assert (change.commit_number, change.sequence_number) == (10_589_421_187, 3)


def test_without_a_transaction_key_the_replay_id_identifies_the_event() -> None:
    document = event("UPDATE", {"Status": "Working"})
    del document["payload"]["ChangeEventHeader"]["transactionKey"]
    assert one(document).event_id == "sf:replay:77:00Q5e00000AbCdEEAZ"
    del document["event"]
    assert one(document).event_id.startswith("sf:content:")
    assert one(document).event_id == one(document).event_id


def test_iso_commit_timestamps_are_accepted() -> None:
    change = one(event("DELETE", commitTimestamp="2026-11-23T13:41:57.000Z"))
    assert change.occurred_at.isoformat() == "2026-11-23T13:41:57+00:00"


def test_a_flattened_header_is_read_too() -> None:
    nested = event("UPDATE", {"Status": "Working"})
    header = nested["payload"].pop("ChangeEventHeader")
    flat = nested["payload"] | {f"ChangeEventHeader.{k}": v for k, v in header.items()}
    assert one({"payload": flat, "schema": {}}) == one(event("UPDATE", {"Status": "Working"}))


def test_connector_event_type_names_the_object_when_entity_name_is_missing() -> None:
    document = event("CREATE", {"Name": "Acme", "_ObjectType": "AccountChangeEvent"})
    del document["payload"]["ChangeEventHeader"]["entityName"]
    assert one(document).entity_type is EntityType.ACCOUNT


def test_wildcard_record_ids_are_skipped() -> None:
    parsed = parse(event("UPDATE", {"Status": "x"}, record_ids=["00Q*"]))
    assert parsed == ParsedMessage([], SourceFormat.SALESFORCE, "wildcard")


@pytest.mark.parametrize(
    ("change", "code", "field"),
    [
        ({"entityName": "Employee__c"}, ErrorCode.UNKNOWN_ENTITY_TYPE, "entityName"),
        ({"changeType": "UPSERT"}, ErrorCode.UNKNOWN_OP, "changeType"),
        ({"changeType": 3}, ErrorCode.WRONG_TYPE, "changeType"),
        ({"recordIds": []}, ErrorCode.INVALID_VALUE, "recordIds"),
        ({"recordIds": [None]}, ErrorCode.MISSING_FIELD, "recordIds[0]"),
        ({"recordIds": None}, ErrorCode.MISSING_FIELD, "recordIds"),
        ({"commitTimestamp": None}, ErrorCode.MISSING_FIELD, "commitTimestamp"),
        ({"commitTimestamp": "yesterday"}, ErrorCode.INVALID_TIMESTAMP, "commitTimestamp"),
    ],
)
def test_header_mistakes_are_reported_at_the_header_key(
    change: dict[str, Any], code: ErrorCode, field: str
) -> None:
    document = event("UPDATE", {"Status": "Working"})
    document["payload"]["ChangeEventHeader"].update(change)
    errors = rejected(document).errors
    assert (errors[0].code, errors[0].field) == (code, f"payload.ChangeEventHeader.{field}")


def test_a_document_without_a_header_is_rejected_when_salesforce_is_forced() -> None:
    assert rejected({"payload": {"Email": "a@x.io"}}).errors[0].code is ErrorCode.MISSING_FIELD


def test_error_messages_never_repeat_values() -> None:
    secret = "ada.lovelace@example.com"
    document = event("UPDATE", {"Email": secret}, commitTimestamp=secret, recordIds=[secret * 20])
    assert secret not in str(rejected(document))
