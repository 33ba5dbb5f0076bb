"""Messages between the agents, carried many to a Kafka message.

Each input makes about eight messages between the agents (a routed change, a request to
each of its blocks and their answers, engagement news), and carrying a message through Faust
(produced, fetched, made an event, acknowledged) costs about a third of a millisecond of CPU
whatever it carries: the agents' own work was an eighth of a worker's CPU
(``bench.throughput`` profile). So the
agents hand their messages to :class:`OutgoingBatches`, which packs those bound for the same
partition into one Kafka message, and :func:`deliveries_of` unpacks them on the other side.

A batch message goes to the partition its items' keys would have gone to one by one (Kafka's
default partitioner), so a key's messages keep their order and meet the table partition that
holds its state. It carries the header :data:`BATCH_HEADER`; a message without it is one
delivery, as a message from an older version or a tool is.

When batches leave: when the agent that made them has no event waiting (so a quiet pipeline
waits for nothing), when one is full, and before the table writes are sent (by the commit and
between commits), since a table write must never reach Kafka before what its event sent.
"""

from __future__ import annotations

import asyncio
import functools
import struct
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass

import faust
from aiokafka.partitioner import murmur2
from faust.types import TP

BATCH_HEADER = "crmstream-batch"
_FORMAT_V1 = b"1"  # the header's value: the framing below
_LENGTH = struct.Struct(">I")

# Items per batch message: the work one event does while a commit may be waiting at the
# gate for it (about 2 ms each), small enough to keep that wait short.
MAX_ITEMS_PER_BATCH = 100
# Room for the record's own framing, the key and the header beside the packed items.
_RECORD_OVERHEAD_BYTES = 1024


def framed_size(key: bytes, value: bytes) -> int:
    """The bytes an item takes in a batch message."""
    return 2 * _LENGTH.size + len(key) + len(value)


def pack(items: Sequence[tuple[bytes, bytes]]) -> bytes:
    """Items as one value: each a length-prefixed key then a length-prefixed value."""
    parts: list[bytes] = []
    for key, value in items:
        parts += (_LENGTH.pack(len(key)), key, _LENGTH.pack(len(value)), value)
    return b"".join(parts)


def unpack(data: bytes) -> list[tuple[bytes, bytes]]:
    """The items of :func:`pack`'s value; ``ValueError`` names where a broken one breaks."""
    items: list[tuple[bytes, bytes]] = []
    offset = 0
    while offset < len(data):
        key, offset = _field(data, offset, len(items), "key")
        value, offset = _field(data, offset, len(items), "value")
        items.append((key, value))
    if not items:
        raise ValueError("a batch message with no items")
    return items


def _field(data: bytes, offset: int, index: int, name: str) -> tuple[bytes, int]:
    end = offset + _LENGTH.size
    if end > len(data):
        raise ValueError(f"a batch message cut short in the length of item {index}'s {name}")
    (length,) = _LENGTH.unpack_from(data, offset)
    if end + length > len(data):
        raise ValueError(
            f"a batch message cut short in item {index}'s {name}: "
            f"{length} bytes announced, {len(data) - end} left"
        )
    return data[end : end + length], end + length


@dataclass(frozen=True)
class Delivery:
    """One message for an agent: a whole Kafka message, or one item of a batch message
    (``index`` its place in the batch)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    index: int | None = None

    @classmethod
    def whole(cls, event: faust.EventT[bytes]) -> Delivery:
        message = event.message
        return cls(message.topic, message.partition, message.offset, message.key, event.value)


def _batch_format(event: faust.EventT[bytes]) -> bytes | None:
    """The value of the event's batch header, None when it has none."""
    headers = event.message.headers
    if not headers:
        return None
    if isinstance(headers, Mapping):
        return headers.get(BATCH_HEADER)
    return next((value for name, value in headers if name == BATCH_HEADER), None)


def deliveries_of(event: faust.EventT[bytes]) -> list[Delivery]:
    """What an event carries for its agent, in the order it was sent.

    Raises ``ValueError`` for a batch message that cannot be unpacked, or in a framing this
    version does not know (a newer version's, during a rolling upgrade)."""
    batch_format = _batch_format(event)
    if batch_format is None:
        return [Delivery.whole(event)]
    if batch_format != _FORMAT_V1:
        raise ValueError(
            f"a batch message in a framing this version does not know: {batch_format!r}"
        )
    message = event.message
    return [
        Delivery(message.topic, message.partition, message.offset, key, value, index)
        for index, (key, value) in enumerate(unpack(event.value or b""))
    ]


@functools.lru_cache(maxsize=65_536)
def key_partition(key: bytes, partitions: int) -> int:
    """The partition Kafka's default partitioner gives ``key`` (and aiokafka's, and Faust's).

    Remembered for the keys seen last: aiokafka's murmur2 is pure Python, and the same
    record and block keys come back with each answer, link and engagement news."""
    return (int(murmur2(key)) & 0x7FFFFFFF) % partitions


@dataclass(frozen=True)
class _Destination:
    source: TP | None  # whose transaction the batch belongs in (None: outside any)
    topic: str
    partition: int


@dataclass
class _Batch:
    channel: faust.TopicT
    items: list[tuple[bytes, bytes]]
    size: int

    def takes(self, size: int, budget: int) -> bool:
        """Whether an item of ``size`` framed bytes still fits, beside the message's key
        (the first item's)."""
        key = self.items[0][0]
        return len(self.items) < MAX_ITEMS_PER_BATCH and self.size + size + len(key) <= budget


class OutgoingBatches:
    """Messages between agents, held and packed per source, topic and destination partition.

    ``message_limit`` gives the largest message a topic takes; ``source_partition`` the
    transaction the message being added belongs in (under exactly-once, that of the input
    partition whose event sends it; None for none); ``sending_for`` a context in which a send
    counts as that partition's.
    """

    def __init__(
        self,
        message_limit: Callable[[str], int],
        source_partition: Callable[[], TP | None],
        sending_for: Callable[[TP | None], AbstractContextManager[None]],
    ) -> None:
        self._message_limit = message_limit
        self._source_partition = source_partition
        self._sending_for = sending_for
        self._open: dict[_Destination, _Batch] = {}
        self._full: list[tuple[_Destination, _Batch]] = []
        self._publishing: asyncio.Future[None] | None = None

    def add(self, channel: faust.TopicT, key: bytes, value: bytes) -> None:
        """Hold a message for ``channel``, a topic declared with its partition count.

        The caller has checked that the message alone fits its topic. One too large to
        share a batch is sent alone, as a plain message."""
        topic = channel.get_topic_name()
        if not channel.partitions:
            raise ValueError(f"{topic} has no declared partition count to batch by")
        partition = key_partition(key, channel.partitions)
        destination = _Destination(self._source_partition(), topic, partition)
        size = framed_size(key, value)
        budget = self._message_limit(topic) - _RECORD_OVERHEAD_BYTES
        batch = self._open.get(destination)
        if batch is not None and not batch.takes(size, budget):
            self._full.append((destination, self._open.pop(destination)))
            batch = None
        if batch is None:
            batch = self._open[destination] = _Batch(channel, [], 0)
        batch.items.append((key, value))
        batch.size += size

    @property
    def holding(self) -> bool:
        """True when a message waits to be sent."""
        return bool(self._open or self._full)

    @property
    def full(self) -> bool:
        """True when a batch is full and waits to be sent."""
        return bool(self._full)

    def flush(self) -> asyncio.Future[None]:
        """Take every batch held and publish it after the batches taken before.

        Returns the publishing, which a caller shields: once taken, the batches are held
        nowhere else, so a cancelled caller must not cancel their publishing. A key's
        batches are published in the order they were taken."""
        taken = [*self._full, *self._open.items()]
        self._full, self._open = [], {}
        self._publishing = asyncio.ensure_future(self._publish_after(self._publishing, taken))
        return self._publishing

    async def _publish_after(
        self, previous: asyncio.Future[None] | None, taken: list[tuple[_Destination, _Batch]]
    ) -> None:
        if previous is not None:
            await previous
        for destination, batch in taken:
            with self._sending_for(destination.source):
                await _publish(batch, destination.partition)


async def _publish(batch: _Batch, partition: int) -> None:
    """A batch of one goes as the plain message it is: no framing, read as one delivery."""
    if len(batch.items) == 1:
        [(key, value)] = batch.items
        await batch.channel.send(key=key, value=value, partition=partition)
        return
    await batch.channel.send(
        key=batch.items[0][0],
        value=pack(batch.items),
        partition=partition,
        headers={BATCH_HEADER: _FORMAT_V1},
    )
