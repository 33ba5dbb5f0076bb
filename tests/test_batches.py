"""Batches of messages between agents: the framing, the grouping and the order they leave in.
Through the broker, every end-to-end test carries its internal messages in batches."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from itertools import accumulate
from types import SimpleNamespace
from typing import Any, cast

import pytest
from aiokafka.partitioner import DefaultPartitioner
from faust.types import TP
from hypothesis import given
from hypothesis import strategies as st

from streams.batches import (
    BATCH_HEADER,
    MAX_ITEMS_PER_BATCH,
    Delivery,
    OutgoingBatches,
    deliveries_of,
    framed_size,
    key_partition,
    pack,
    unpack,
)

items_strategy = st.lists(st.tuples(st.binary(max_size=40), st.binary(max_size=200)), min_size=1)


@given(items_strategy)
def test_unpacking_gives_back_the_items_packed_in_order(items: list[tuple[bytes, bytes]]) -> None:
    assert unpack(pack(items)) == items


@given(items_strategy, st.data())
def test_a_batch_cut_short_is_refused_or_reads_as_its_whole_first_items(
    items: list[tuple[bytes, bytes]], data: st.DataObject
) -> None:
    packed = pack(items)
    cut = data.draw(st.integers(min_value=1, max_value=len(packed) - 1)) if len(packed) > 1 else 1
    ends = list(accumulate(framed_size(key, value) for key, value in items))
    if cut in ends:  # cut exactly between two items: no broken item
        assert unpack(packed[:cut]) == items[: ends.index(cut) + 1]
    else:
        with pytest.raises(ValueError, match="cut short"):
            unpack(packed[:cut])


def test_an_empty_batch_is_refused() -> None:
    with pytest.raises(ValueError, match="no items"):
        unpack(b"")


@given(st.binary(min_size=1, max_size=64), st.integers(min_value=1, max_value=64))
def test_a_key_goes_to_the_partition_the_producer_would_have_chosen(
    key: bytes, partitions: int
) -> None:
    every = list(range(partitions))
    assert key_partition(key, partitions) == DefaultPartitioner()(key, every, every)


def event(value: bytes, *, batch: bool, key: bytes = b"k", framing: bytes = b"1") -> Any:
    headers = [(BATCH_HEADER, framing)] if batch else []
    message = SimpleNamespace(topic="t", partition=2, offset=7, key=key, headers=headers)
    return SimpleNamespace(message=message, value=value)


def test_an_event_carries_one_delivery_or_each_item_of_its_batch() -> None:
    assert deliveries_of(event(b"plain", batch=False)) == [Delivery("t", 2, 7, b"k", b"plain")]
    packed = pack([(b"a", b"1"), (b"b", b"2")])
    assert deliveries_of(event(packed, batch=True)) == [
        Delivery("t", 2, 7, b"a", b"1", 0),
        Delivery("t", 2, 7, b"b", b"2", 1),
    ]
    with pytest.raises(ValueError, match="cut short"):
        deliveries_of(event(packed[:-1], batch=True))
    with pytest.raises(ValueError, match="framing this version does not know: b'2'"):
        deliveries_of(event(packed, batch=True, framing=b"2"))


class SendingChannel:
    """A topic that records what is sent to it, and for which input partition."""

    def __init__(self, name: str, partitions: int, log: list[Any], gate: asyncio.Event) -> None:
        self.name, self.partitions, self.log, self.gate = name, partitions, log, gate

    def get_topic_name(self) -> str:
        return self.name

    async def send(self, *, key: bytes, value: bytes, partition: int, headers: Any = None) -> None:
        await self.gate.wait()
        items = unpack(value) if headers else [(key, value)]
        self.log.append((self.name, partition, CURRENT_SOURCE[-1], [k for k, _ in items]))


def sending_at_once(name: str, partitions: int) -> SendingChannel:
    at_once = asyncio.Event()
    at_once.set()
    return SendingChannel(name, partitions, [], at_once)


CURRENT_SOURCE: list[TP | None] = [None]


@contextmanager
def sending_for(source: TP | None) -> Iterator[None]:
    CURRENT_SOURCE.append(source)
    try:
        yield
    finally:
        CURRENT_SOURCE.pop()


def batches(source: list[TP | None], limit: int = 1 << 20) -> OutgoingBatches:
    return OutgoingBatches(lambda topic: limit, lambda: source[0], sending_for)


def run(main: Any) -> Any:
    return asyncio.run(asyncio.wait_for(main(), timeout=5))


def keys_for(partition: int, partitions: int, count: int) -> list[bytes]:
    """``count`` keys that go to ``partition``."""
    keys = (f"key-{n}".encode() for n in range(10_000))
    return [key for key in keys if key_partition(key, partitions) == partition][:count]


def test_messages_for_one_partition_go_together_in_order_and_one_alone_goes_plain() -> None:
    async def main() -> list[Any]:
        channel = sending_at_once("answers", 4)
        source: list[TP | None] = [TP("changes", 0)]
        outgoing = batches(source)
        first, second, third = keys_for(1, 4, 3)
        [lonely] = keys_for(3, 4, 1)
        for key in (first, lonely, second):
            outgoing.add(cast(Any, channel), key, b"v")
        source[0] = TP("changes", 1)  # another input partition: another transaction
        outgoing.add(cast(Any, channel), third, b"v")
        assert outgoing.holding
        await outgoing.flush()
        assert not outgoing.holding
        return channel.log

    assert run(main) == [
        ("answers", 1, TP("changes", 0), keys_for(1, 4, 2)),
        ("answers", 3, TP("changes", 0), keys_for(3, 4, 1)),
        ("answers", 1, TP("changes", 1), keys_for(1, 4, 3)[2:]),
    ]


def test_a_full_batch_is_closed_and_the_next_one_opened() -> None:
    async def main() -> list[int]:
        channel = sending_at_once("requests", 1)
        outgoing = batches([None], limit=64 * 1024)
        for n in range(MAX_ITEMS_PER_BATCH + 1):
            outgoing.add(cast(Any, channel), f"block-{n}".encode(), b"x" * 100)
        assert outgoing.full
        for n in range(3):  # each over a third of what a message may take
            outgoing.add(cast(Any, channel), f"big-{n}".encode(), b"x" * 25_000)
        await outgoing.flush()
        return [len(keys) for *_, keys in channel.log]

    # 100 items; the 101st beside the first two big ones; the third big one in a batch of its own
    assert run(main) == [MAX_ITEMS_PER_BATCH, 3, 1]


def test_batches_taken_later_wait_for_those_taken_before() -> None:
    async def main() -> list[Any]:
        log: list[Any] = []
        slow = asyncio.Event()
        channel = SendingChannel("records", 1, log, slow)
        outgoing = batches([None])
        outgoing.add(cast(Any, channel), b"lead:1", b"first")
        first = outgoing.flush()
        outgoing.add(cast(Any, channel), b"lead:2", b"second")
        second = asyncio.shield(outgoing.flush())
        await asyncio.sleep(0.01)
        assert log == []
        assert not first.done()
        slow.set()
        await second
        assert first.done()
        return log

    assert [keys for *_, keys in run(main)] == [[b"lead:1"], [b"lead:2"]]
