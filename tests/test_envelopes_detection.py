"""parse_message as the worker sees it: decoding checks, detection, forced formats, native path.

The native envelope is README.md's "Inbound: the native change envelope"; the generated
traffic is streams.generator's, whose deliberately broken messages must keep their codes
when the worker detects formats per message.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from schemas.envelopes import ParsedMessage, SourceFormat, detect_format, parse_message
from schemas.errors import ErrorCode, InvalidChange
from schemas.mapping import DEFAULT_FIELD_MAPPING
from schemas.native import parse_native_change
from streams.generator import CrmSimulation

NATIVE = {
    "event_id": "5d1c9b0e-4f0e-4d7e-9a51-6f1f3e1c2a10",
    "entity_type": "contact",
    "entity_id": "003Dn00000A1bCdIAJ",
    "op": "update",
    "occurred_at": "2026-11-23T13:41:57Z",
    "source": "salesforce",
    "fields": {"email": "ada.lovelace@example.com", "phone": None},
}


def parse(
    value: bytes | None, source_format: SourceFormat | None = None, max_bytes: int = 1 << 20
) -> ParsedMessage:
    return parse_message(
        value, source_format=source_format, mapping=DEFAULT_FIELD_MAPPING, max_bytes=max_bytes
    )


def codes(value: bytes, source_format: SourceFormat | None = None) -> list[ErrorCode]:
    with pytest.raises(InvalidChange) as caught:
        parse(value, source_format)
    return [error.code for error in caught.value.errors]


@pytest.mark.parametrize("source_format", [None, *SourceFormat])
def test_a_tombstone_is_skipped_whatever_the_format(source_format: SourceFormat | None) -> None:
    assert parse(None, source_format) == ParsedMessage([], source_format, "tombstone")


@pytest.mark.parametrize(
    ("value", "code"),
    [
        (b"", ErrorCode.EMPTY_MESSAGE),
        (b"  \n", ErrorCode.EMPTY_MESSAGE),
        (b"\xff\xfe{}", ErrorCode.INVALID_UTF8),
        (b'{"op": "c", ', ErrorCode.MALFORMED_JSON),
        (b"x" * 2048, ErrorCode.OVERSIZED),
    ],
)
def test_decoding_checks_come_first_for_every_format(value: bytes, code: ErrorCode) -> None:
    for source_format in [None, *SourceFormat]:
        with pytest.raises(InvalidChange) as caught:
            parse(value, source_format, max_bytes=1024)
        assert [error.code for error in caught.value.errors] == [code]


@pytest.mark.parametrize(
    "document",
    [
        {"hello": "world"},
        {"op": "c", "after": {"id": 1}},  # Debezium-like but no source block
        {"payload": {"Email": "a@x.io"}, "schema": {}},
        {"eventType": "signup", "user": 7},
        {"entity_type": "lead"},
    ],
)
def test_other_json_objects_are_unknown_envelopes(document: Any) -> None:
    assert codes(orjson.dumps(document)) == [ErrorCode.UNKNOWN_ENVELOPE]


@pytest.mark.parametrize("value", [b"[1, 2]", b'"text"', b"42", b"[]", b'[{"a": 1}]'])
def test_json_that_is_no_object_nor_a_hubspot_batch_is_not_an_object(value: bytes) -> None:
    assert codes(value) == [ErrorCode.NOT_AN_OBJECT]


def test_the_native_path_is_parse_native_change() -> None:
    raw = orjson.dumps(NATIVE)
    parsed = parse(raw)
    assert parsed == ParsedMessage([parse_native_change(raw)], SourceFormat.NATIVE)
    assert parse(raw, SourceFormat.NATIVE) == parsed


def test_a_broken_native_envelope_keeps_its_precise_codes() -> None:
    without_id = {key: value for key, value in NATIVE.items() if key != "entity_id"}
    assert codes(orjson.dumps(without_id)) == [ErrorCode.MISSING_FIELD]
    assert codes(orjson.dumps(NATIVE | {"op": "upsert"})) == [ErrorCode.UNKNOWN_OP]


def test_a_forced_format_reports_what_that_format_misses() -> None:
    assert codes(orjson.dumps(NATIVE), SourceFormat.DEBEZIUM) == [ErrorCode.UNKNOWN_OP]
    assert codes(orjson.dumps(NATIVE), SourceFormat.SALESFORCE) == [ErrorCode.MISSING_FIELD]
    forced_native = set(codes(orjson.dumps({"ChangeEventHeader": {}}), SourceFormat.NATIVE))
    assert {ErrorCode.UNKNOWN_FIELD, ErrorCode.MISSING_FIELD} <= forced_native


def test_detection_prefers_a_complete_native_envelope() -> None:
    # A native envelope whose `source` happens to be an object is still native.
    assert detect_format(NATIVE | {"source": {"table": "x"}, "before": None}) is SourceFormat.NATIVE


def test_generated_traffic_parses_as_the_native_parser_says() -> None:
    simulation = CrmSimulation(seed=11)
    for generated in simulation.events(400):
        try:
            expected: Any = [parse_native_change(generated.value)]
        except InvalidChange as exc:
            expected = [error.code for error in exc.errors]
        try:
            actual: Any = parse(generated.value).changes
        except InvalidChange as exc:
            actual = [error.code for error in exc.errors]
        assert actual == expected, generated.index
