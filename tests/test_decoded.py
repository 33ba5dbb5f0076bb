"""The memo of decoded table values: it saves decoding, and never disagrees with the table."""

from __future__ import annotations

import orjson
import pytest

from streams.decoded import DecodedValues


def _memo(capacity: int = 8) -> DecodedValues[dict[str, int]]:
    return DecodedValues(orjson.loads, capacity=capacity)


def test_the_same_bytes_are_decoded_once() -> None:
    memo = _memo()
    stored = b'{"seq": 1}'
    first = memo.get(b"k", stored)
    assert memo.get(b"k", stored) is first
    assert memo.get(b"k", bytes(stored)) is first  # equal bytes, as RocksDB hands back
    assert memo.decoded == 1


def test_bytes_the_table_changed_behind_its_back_are_decoded_again() -> None:
    memo = _memo()
    memo.remember(b"k", b'{"seq": 1}', {"seq": 1})
    assert memo.get(b"k", b'{"seq": 2}') == {"seq": 2}  # a restore, another worker's write
    assert memo.decoded == 1


def test_a_remembered_write_is_not_decoded() -> None:
    memo = _memo()
    written = b'{"seq": 3}'
    value = {"seq": 3}
    memo.remember(b"k", written, value)
    assert memo.get(b"k", written) is value
    assert memo.decoded == 0


def test_a_missing_value_is_none_and_not_remembered() -> None:
    memo = _memo()
    memo.remember(b"k", b'{"seq": 1}', {"seq": 1})
    assert memo.get(b"k", None) is None  # deleted from the table
    assert memo.get(b"other", None) is None
    assert memo.decoded == 0


def test_the_least_recently_used_key_is_forgotten_first() -> None:
    memo = _memo(capacity=2)
    memo.get(b"a", b"1")
    memo.get(b"b", b"2")
    memo.get(b"a", b"1")  # a is used again: b is now the oldest
    memo.get(b"c", b"3")
    assert len(memo) == 2
    decoded = memo.decoded
    memo.get(b"a", b"1")
    assert memo.decoded == decoded
    memo.get(b"b", b"2")
    assert memo.decoded == decoded + 1


def test_a_memo_needs_room_for_one_key() -> None:
    with pytest.raises(ValueError, match="capacity"):
        DecodedValues(orjson.loads, capacity=0)
