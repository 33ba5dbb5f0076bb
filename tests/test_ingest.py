"""Ingest: every inbound message becomes routed changes, a counted skip, or a dead letter."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.errors import ErrorCode
from schemas.ingest import IngestResult, RoutedChange, ingest_message
from schemas.mapping import DEFAULT_FIELD_MAPPING
from schemas.outbound import SourcePosition

AT = SourcePosition(topic="crm.changes", partition=3, offset=42)
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def ingest(raw: bytes | None, key: bytes | None = None, max_bytes: int = 1024) -> IngestResult:
    return ingest_message(
        raw, key, AT, NOW, source_format=None, mapping=DEFAULT_FIELD_MAPPING, max_bytes=max_bytes
    )


def native(**overrides: Any) -> bytes:
    document = {
        "event_id": "evt-1",
        "entity_type": "contact",
        "entity_id": "003A1",
        "op": "update",
        "occurred_at": "2026-11-23T11:59:59Z",
        "source": "salesforce",
        "fields": {"email": "ada@example.com"},
    }
    return orjson.dumps(document | overrides)


def test_a_valid_change_is_routed_to_its_record_with_its_origin() -> None:
    result = ingest(native())
    assert (result.skipped, result.dead_letter) == (None, None)
    [routed] = result.routed
    assert routed.record_key() == b"contact:003A1"
    assert routed.source_position == AT
    assert RoutedChange.model_validate_json(routed.to_json()) == routed


def test_a_merge_is_routed_to_the_survivor_and_to_each_merged_record() -> None:
    result = ingest(native(op="merge", fields={}, merged_ids=["003B2"]))
    assert [r.record_key() for r in result.routed] == [b"contact:003A1", b"contact:003B2"]
    assert result.routed[1].change.merged_into == "003A1"


def test_a_tombstone_is_counted_as_skipped_not_parked() -> None:
    assert ingest(None) == IngestResult(skipped="tombstone")


def test_the_original_bytes_are_parked_with_reasons_and_position() -> None:
    raw = b'{"entity_type": "lead", "entity_id": "1"}'
    letter = ingest(raw, key=b"key-1").dead_letter
    assert letter is not None
    assert letter.original_value() == raw
    assert letter.source_position == AT
    assert {error.code for error in letter.errors} == {ErrorCode.MISSING_FIELD}
    parked = orjson.loads(letter.to_json())
    assert parked["original_key_b64"] == "a2V5LTE="


def test_only_what_exceeds_the_limit_is_truncated() -> None:
    letter = ingest(b"x" * 3000).dead_letter
    assert letter is not None
    assert letter.errors[0].code is ErrorCode.OVERSIZED
    assert (letter.original_truncated, letter.original_size) == (True, 3000)
    assert letter.original_value() == b"x" * 1024


def test_a_message_that_breaks_our_own_code_is_parked(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_: Any, **__: Any) -> None:
        raise RuntimeError("bug")

    monkeypatch.setattr("schemas.ingest.parse_message", broken)
    letter = ingest(native()).dead_letter
    assert letter is not None
    assert letter.errors[0].code is ErrorCode.PROCESSING_FAILED


@given(st.binary(max_size=300) | st.builds(native).map(lambda raw: raw[:-3]))
def test_any_bytes_end_up_exactly_one_way_never_raising(raw: bytes) -> None:
    result = ingest(raw, max_bytes=256)
    outcomes = [bool(result.routed), result.skipped is not None, result.dead_letter is not None]
    assert sum(outcomes) == 1
    if result.dead_letter is not None:
        assert result.dead_letter.errors[0].code is not ErrorCode.PROCESSING_FAILED
