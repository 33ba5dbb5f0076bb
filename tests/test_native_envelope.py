"""The native change envelope: what a producer may send and what each mistake is called."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.change import ChangeOp, EntityType
from schemas.errors import ErrorCode, InvalidChange
from schemas.native import parse_native_change


def envelope(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "event_id": "evt-1",
        "entity_type": "contact",
        "entity_id": "003A1",
        "op": "update",
        "occurred_at": "2026-11-23T11:59:59Z",
        "source": "salesforce",
        "fields": {"email": "ada@example.com", "phone": None},
    }
    base.update(overrides)
    return {key: value for key, value in base.items() if value is not ...}


def codes_of(document: Any) -> set[str]:
    raw = document if isinstance(document, bytes) else orjson.dumps(document)
    with pytest.raises(InvalidChange) as caught:
        parse_native_change(raw)
    return {error.code.value for error in caught.value.errors}


def test_a_valid_update_keeps_every_changed_field_including_nulls() -> None:
    change = parse_native_change(orjson.dumps(envelope()))
    assert change.entity_type is EntityType.CONTACT
    assert change.op is ChangeOp.UPDATE
    assert change.fields == {"email": "ada@example.com", "phone": None}
    assert change.occurred_at == datetime(2026, 11, 23, 11, 59, 59, tzinfo=UTC)


def test_offsets_are_kept_and_epoch_milliseconds_are_accepted() -> None:
    with_offset = parse_native_change(orjson.dumps(envelope(occurred_at="2026-11-23T13:00+01:00")))
    assert with_offset.occurred_at.utcoffset() == timedelta(hours=1)
    epoch = parse_native_change(orjson.dumps(envelope(occurred_at=1_700_000_000_000)))
    assert epoch.occurred_at == datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)


def test_numeric_ids_become_strings_so_keys_compare_equal() -> None:
    assert parse_native_change(orjson.dumps(envelope(entity_id=1234))).entity_id == "1234"


@pytest.mark.parametrize("op", ["delete", "undelete", "create"])
def test_deletes_undeletes_and_bare_creates_need_no_fields(op: str) -> None:
    change = parse_native_change(orjson.dumps(envelope(op=op, fields=...)))
    assert change.op == op
    assert change.fields == {}


def test_a_merge_names_the_records_merged_into_this_one() -> None:
    change = parse_native_change(orjson.dumps(envelope(op="merge", fields=..., merged_ids=["9"])))
    assert change.merged_ids == ["9"]


def test_commit_number_and_sequence_order_changes_of_the_same_instant() -> None:
    first = parse_native_change(orjson.dumps(envelope(commit_number=5, sequence_number=1)))
    second = parse_native_change(orjson.dumps(envelope(commit_number=5, sequence_number=2)))
    assert first.order_key() < second.order_key()


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        (b"", "empty_message"),
        (b"   ", "empty_message"),
        (b'{"event_id": "e1", ', "malformed_json"),
        (b"\xff\xfe{}", "invalid_utf8"),
        (b"[1, 2]", "not_an_object"),
        (envelope(entity_id=...), "missing_field"),
        (envelope(entity_id="   "), "invalid_value"),
        (envelope(entity_type="unicorn"), "unknown_entity_type"),
        (envelope(op="upsert"), "unknown_op"),
        (envelope(occurred_at="2026-11-23T11:59:59"), "invalid_timestamp"),
        (envelope(occurred_at="yesterday"), "invalid_timestamp"),
        (envelope(fields=["email"]), "wrong_type"),
        (envelope(feilds={"a": 1}), "unknown_field"),
        (envelope(fields={}), "empty_change"),
        (envelope(op="snapshot", fields=...), "empty_change"),
        (envelope(op="merge"), "invalid_value"),
        (envelope(op="update", merged_ids=["003A2"]), "invalid_value"),
        (envelope(source=""), "invalid_value"),
    ],
)
def test_each_mistake_has_its_own_error_code(document: Any, expected: str) -> None:
    assert expected in codes_of(document)


def test_error_messages_never_repeat_the_offending_value() -> None:
    secret = "jane.doe@example.com"
    with pytest.raises(InvalidChange) as caught:
        parse_native_change(orjson.dumps(envelope(entity_type=secret, fields=secret)))
    assert secret not in str(caught.value)
    assert all(error.field for error in caught.value.errors)


def test_oversized_messages_are_rejected_before_parsing() -> None:
    raw = orjson.dumps(envelope(fields={"notes": "x" * 5000}))
    with pytest.raises(InvalidChange) as caught:
        parse_native_change(raw, max_bytes=1024)
    assert [error.code for error in caught.value.errors] == [ErrorCode.OVERSIZED]


json_scalars = st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=30)
field_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
valid_envelopes = st.fixed_dictionaries(
    {
        "event_id": st.text(min_size=1, max_size=40).filter(str.strip),
        "entity_type": st.sampled_from([t.value for t in EntityType]),
        "entity_id": st.text(min_size=1, max_size=60).filter(str.strip) | st.integers(0, 10**12),
        "op": st.sampled_from(["create", "update"]),
        "occurred_at": st.datetimes(
            min_value=datetime(2000, 1, 1),
            max_value=datetime(2100, 1, 1),
            timezones=st.sampled_from([UTC, timezone(timedelta(hours=-5))]),
        ).map(datetime.isoformat),
        "source": st.text(min_size=1, max_size=20).filter(str.strip),
        "fields": st.dictionaries(st.text(min_size=1, max_size=20), field_values, min_size=1),
    }
)


@given(valid_envelopes)
def test_every_valid_envelope_parses_and_keeps_its_fields(document: dict[str, Any]) -> None:
    change = parse_native_change(orjson.dumps(document))
    assert change.fields == document["fields"]
    assert change.entity_id == str(document["entity_id"]).strip()
    assert change.occurred_at == datetime.fromisoformat(document["occurred_at"])
