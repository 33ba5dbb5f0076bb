"""Debezium rules: ops, update diffing, keys, tables, skipped events, wrappers.

Events follow the shapes of the Debezium documentation ("Debezium connector for PostgreSQL"
and "... for MySQL", section "Data change events": create/update/delete/truncate/message
events, tombstone events, TOAST-ed values shown as `__debezium_unavailable_value`, temporal
types as epoch days/millis/micros); the verbatim examples are in test_envelopes_examples.py.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from schemas.change import ChangeEvent, ChangeOp, EntityType
from schemas.envelopes import ParsedMessage, SourceFormat, parse_message
from schemas.errors import ErrorCode, InvalidChange
from schemas.mapping import DEFAULT_FIELD_MAPPING, FieldMapping, extend_field_mapping

SOURCE = {
    "version": "2.7.0.Final",
    "connector": "postgresql",
    "name": "crm_db",
    "ts_ms": 1_764_000_000_000,
    "snapshot": "false",
    "db": "crm",
    "schema": "public",
    "table": "leads",
    "txId": 771,
    "lsn": 33_816_576,
}
LEAD = {
    "id": 42,
    "first_name": "Ada",
    "last_name": "Lovelace",
    "email": "ada@example.com",
    "status": "new",
    "created_on": 20_415,  # io.debezium.time.Date: days since the epoch
    "score_model": "v3",
}


def change_event(op: str, before: Any, after: Any, *, wrapped: bool, **source: Any) -> Any:
    payload = {
        "before": before,
        "after": after,
        "source": SOURCE | source,
        "op": op,
        "ts_ms": 1_764_000_000_500,
    }
    return (
        {"schema": {"type": "struct", "optional": False}, "payload": payload}
        if wrapped
        else payload
    )


def parse(document: Any, mapping: FieldMapping = DEFAULT_FIELD_MAPPING) -> ParsedMessage:
    value = None if document is None else orjson.dumps(document)
    return parse_message(value, source_format=None, mapping=mapping, max_bytes=1 << 20)


def one(document: Any, mapping: FieldMapping = DEFAULT_FIELD_MAPPING) -> ChangeEvent:
    parsed = parse(document, mapping)
    assert parsed.source_format is SourceFormat.DEBEZIUM
    (change,) = parsed.changes
    return change


def rejected(document: Any, mapping: FieldMapping = DEFAULT_FIELD_MAPPING) -> InvalidChange:
    with pytest.raises(InvalidChange) as caught:
        parse(document, mapping)
    return caught.value


EVERYTHING_BUT_THE_KEY = {
    "first_name": "Ada",
    "last_name": "Lovelace",
    "email": "ada@example.com",
    "status": "new",
}
EXTRA_COLUMNS = {"created_on": 20_415, "score_model": "v3"}


@pytest.mark.parametrize("wrapped", [True, False], ids=["schema+payload", "payload only"])
@pytest.mark.parametrize(
    ("op_code", "op"), [("c", ChangeOp.CREATE), ("r", ChangeOp.SNAPSHOT)], ids=["c", "r"]
)
def test_creates_and_snapshot_reads_carry_every_column(
    op_code: str, op: ChangeOp, wrapped: bool
) -> None:
    change = one(change_event(op_code, None, LEAD, wrapped=wrapped))
    assert (change.op, change.entity_type, change.entity_id) == (op, EntityType.LEAD, "42")
    assert change.fields == EVERYTHING_BUT_THE_KEY
    assert change.attributes == EXTRA_COLUMNS  # raw values: epoch days stay an int


@pytest.mark.parametrize("wrapped", [True, False], ids=["schema+payload", "payload only"])
def test_an_update_carries_only_the_columns_that_differ_from_before(wrapped: bool) -> None:
    after = LEAD | {"status": "working", "score_model": "v4"}
    change = one(change_event("u", LEAD, after, wrapped=wrapped))
    assert change.op is ChangeOp.UPDATE
    assert (change.fields, change.attributes) == ({"status": "working"}, {"score_model": "v4"})


def test_an_update_without_before_carries_every_after_column() -> None:
    change = one(change_event("u", None, LEAD | {"status": "working"}, wrapped=False))
    assert change.fields == EVERYTHING_BUT_THE_KEY | {"status": "working"}


def test_an_update_that_changed_nothing_is_skipped() -> None:
    parsed = parse(change_event("u", LEAD, dict(LEAD), wrapped=True))
    assert parsed == ParsedMessage([], SourceFormat.DEBEZIUM, "unchanged")


def test_unavailable_toast_values_are_unknown_not_changed() -> None:
    after = LEAD | {"status": "working", "email": "__debezium_unavailable_value"}
    change = one(change_event("u", None, after, wrapped=False))
    assert "email" not in change.fields
    assert change.fields["status"] == "working"


@pytest.mark.parametrize("wrapped", [True, False], ids=["schema+payload", "payload only"])
def test_a_delete_carries_the_key_from_before_and_no_values(wrapped: bool) -> None:
    change = one(change_event("d", {"id": 42}, None, wrapped=wrapped))
    assert (change.op, change.entity_id, change.fields, change.attributes) == (
        ChangeOp.DELETE, "42", {}, {},
    )  # fmt: skip


@pytest.mark.parametrize(("op_code", "reason"), [("t", "truncate"), ("m", "message")])
@pytest.mark.parametrize("wrapped", [True, False], ids=["schema+payload", "payload only"])
def test_truncates_and_messages_are_skipped(op_code: str, reason: str, wrapped: bool) -> None:
    document = change_event(op_code, None, None, wrapped=wrapped)
    body = document["payload"] if wrapped else document
    del body["before"], body["after"]
    assert parse(document) == ParsedMessage([], SourceFormat.DEBEZIUM, reason)


def test_the_tombstone_after_a_delete_is_skipped() -> None:
    assert parse(None) == ParsedMessage([], None, "tombstone")


def test_the_event_id_is_the_log_position_and_survives_redelivery() -> None:
    first = one(change_event("u", LEAD, LEAD | {"status": "working"}, wrapped=True))
    again = one(change_event("u", LEAD, LEAD | {"status": "working"}, wrapped=False))
    assert first.event_id == again.event_id == "dbz:crm_db:u:lsn=33816576:txId=771:public.leads:42"
    assert first.commit_number == 33_816_576


def test_without_a_log_position_the_commit_time_identifies_the_event() -> None:
    document = change_event("c", None, LEAD, wrapped=False)
    for key in ("lsn", "txId"):
        del document["source"][key]
    assert one(document).event_id == "dbz:crm_db:c:ts=1764000000000:public.leads:42"


def test_the_connector_clock_is_used_only_when_the_database_time_is_missing() -> None:
    change = one(change_event("c", None, LEAD, wrapped=False, ts_ms=0))
    assert change.occurred_at.timestamp() * 1000 == 1_764_000_000_500


def test_tables_map_through_the_mapping_with_their_key_and_columns() -> None:
    mapping = extend_field_mapping(
        {"debezium": {"crm.People": {"entity_type": "contact", "primary_key": "person_id",
                                     "fields": {"mail": "email"}}}}
    )  # fmt: skip
    row = {"person_id": "p-7", "mail": "ada@example.com", "email": "old@x.io", "title": "Dr"}
    change = one(change_event("c", None, row, wrapped=False, schema=None, table="people"), mapping)
    assert (change.entity_type, change.entity_id) == (EntityType.CONTACT, "p-7")
    assert change.fields == {"email": "ada@example.com", "title": "Dr"}
    assert change.attributes == {"email": "old@x.io"}


@pytest.mark.parametrize(
    ("mutate", "code", "field"),
    [
        (lambda e: e["source"].update(table="invoices"), ErrorCode.UNKNOWN_ENTITY_TYPE,
         "payload.source.table"),
        (lambda e: e["source"].pop("table"), ErrorCode.MISSING_FIELD, "payload.source.table"),
        (lambda e: e.update(op="x"), ErrorCode.UNKNOWN_OP, "payload.op"),
        (lambda e: e["after"].pop("id"), ErrorCode.MISSING_FIELD, "payload.after.id"),
        (lambda e: e["after"].update(id={"v": 1}), ErrorCode.WRONG_TYPE, "payload.after.id"),
        (lambda e: e.update(after=None), ErrorCode.MISSING_FIELD, "payload.after"),
        (lambda e: e.update(after=[1]), ErrorCode.WRONG_TYPE, "payload.after"),
        (lambda e: e["source"].update(ts_ms="soon"), ErrorCode.INVALID_TIMESTAMP,
         "payload.source.ts_ms"),
    ],
)  # fmt: skip
def test_mistakes_are_reported_at_the_event_key(mutate: Any, code: ErrorCode, field: str) -> None:
    document = change_event("c", None, dict(LEAD), wrapped=True)
    mutate(document["payload"])
    errors = rejected(document).errors
    assert (errors[0].code, errors[0].field) == (code, field)


def test_a_delete_without_before_cannot_name_its_record() -> None:
    errors = rejected(change_event("d", None, None, wrapped=False)).errors
    assert (errors[0].code, errors[0].field) == (ErrorCode.MISSING_FIELD, "before")


def test_an_unmapped_table_names_the_table_not_the_values() -> None:
    document = change_event("c", None, LEAD, wrapped=False, table="invoices")
    message = str(rejected(document))
    assert "public.invoices" in message
    assert "ada@example.com" not in message
