"""Commits that hold through a crash, exactly-once or not, in place of Faust's own wiring.

Kafka's exactly-once is consume-transform-produce in one transaction: the outputs of the
events read from a source partition and that partition's new offset are committed together,
or neither is. Faust 0.15 runs one transactional producer per source partition, as it must,
but gets these wrong (see faust-streaming #177, #323, #517), and each showed up after a
``kill -9`` as outputs that a ``read_committed`` consumer saw twice, or never:

- it puts an output in the transaction of its *destination* partition, which is committed
  with the offsets of whichever source partition has that number, not with the offsets of
  the event that caused it;
- it works out the offsets to commit, then commits while agents go on processing, so the
  outputs of events finished in between are committed without their offsets;
- a table write is buffered and sent later by a background task, and Faust's flush of that
  buffer gives up after 0.1 s without news, so an event's state change can miss the
  transaction of its offset (a matching round forgotten, its record never enriched); under
  at-least-once the same lets an offset be committed before its event's table writes left;
- the commit markers of transactional topics leave gaps in their offsets, which Faust
  counts one too far, so the committed offset stops short of what was processed;
- when a worker starts, the last message of a batch fetched before the seek to the
  committed offsets comes again after it;
- a commit after the last one (at shutdown) finds no open transaction and crashes the worker.

Here an output goes into the transaction of the partition its event came from, a table's
changelog write into that of its own partition (a table is partitioned like its source), and
anything else (a timer's message) is sent outside any transaction. A commit first closes
the :class:`EventGate`, which waits until no agent is in the middle of an event, then waits
until every buffered table write is delivered, and only then works out the offsets and
commits each source partition's transaction with its own. Agents stand still for the
length of a commit, once per commit interval.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Iterable, Mapping
from contextlib import asynccontextmanager
from typing import Any, cast

import faust
from faust.streams import current_event
from faust.transport.consumer import TransactionManager
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP
from faust.types.tuples import FutureMessage, RecordMetadata
from mode.utils.objects import cached_property


class EventGate:
    """Agents hold it while they process an event; a commit closes it.

    Many holders at once, and closers too (a rebalance's commit can meet the periodic one).
    A closer waiting keeps new holders out, so that a commit under load is not starved.
    """

    def __init__(self) -> None:
        self._holders = 0
        self._closers = 0
        self._idle = asyncio.Event()  # set when the last holder lets go
        self._opened = asyncio.Event()  # set when the last closer is done
        self._opened.set()

    @asynccontextmanager
    async def holding(self) -> AsyncIterator[None]:
        while self._closers:  # woken by one commit's end, maybe into the next one's start
            await self._opened.wait()
        self._holders += 1
        try:
            yield
        finally:
            self._holders -= 1
            if not self._holders:
                self._idle.set()

    @asynccontextmanager
    async def closed(self) -> AsyncIterator[None]:
        self._closers += 1
        self._opened.clear()
        try:
            while self._holders:
                self._idle.clear()
                await self._idle.wait()
            yield
        finally:
            self._closers -= 1
            if not self._closers:
                self._opened.set()


class SourcePartitionTransactions(TransactionManager):
    """Faust's transaction manager, with outputs in the transaction of their source."""

    @cached_property
    def _dirty(self) -> set[str]:
        """Transactions that were sent to since their last commit."""
        return set()

    def _transactional_id(self, topic: str, partition: int) -> str:
        group = self.app.assignor.group_for_topic(topic)
        return f"{self.app.conf.id}-{group}-{partition}"

    def _transaction_for(self, topic: str, partition: int | None) -> str | None:
        event = current_event()
        if event is not None:
            source = event.message.tp
            return self._transactional_id(source.topic, source.partition)
        if partition is not None and topic in self.app.tables.changelog_topics:
            return self._transactional_id(topic, partition)
        return None

    async def send(  # noqa: PLR0917 (Faust's signature)
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        partition: int | None,
        timestamp: float | None,
        headers: Any,
        *,
        transactional_id: str | None = None,
    ) -> Awaitable[RecordMetadata]:
        partition = self.consumer.key_partition(topic, key, partition)
        transaction = self._transaction_for(topic, partition)
        if transaction is not None:
            self._dirty.add(transaction)
        return await self.producer.send(
            topic, key, value, partition, timestamp, headers, transactional_id=transaction
        )

    async def commit(self, offsets: Mapping[TP, int], start_new_transaction: bool = True) -> bool:
        """Commit each transaction with the offsets of its source partitions; called by
        :meth:`GatedConsumer.force_commit`, with the gate closed."""
        by_transaction: dict[str, dict[TP, int]] = defaultdict(dict)
        for tp, offset in offsets.items():
            by_transaction[self._transactional_id(tp.topic, tp.partition)][tp] = offset
        transactions = sorted(self._dirty | set(by_transaction))
        self._dirty.clear()
        await asyncio.gather(
            *(
                self._commit_one(tid, by_transaction.get(tid, {}), start_new_transaction)
                for tid in transactions
            )
        )
        return True

    async def _commit_one(self, tid: str, offsets: dict[TP, int], start_new: bool) -> None:
        producers = cast(faust_aiokafka.Producer, self.producer)
        producer = producers._transaction_producers.get(tid)
        if producer is None:  # its partitions were revoked: the next owner fences it
            return
        async with producers._trn_locks[tid]:
            if not producer._txn_manager.is_in_transaction():
                await producer.begin_transaction()  # Faust's begin at assignment can fail
            if offsets:
                await producer.send_offsets_to_transaction(offsets, self.app.conf.id)
            await producer.commit_transaction()
            if start_new:
                await producer.begin_transaction()


class DeliveryTrackingProducer(faust_aiokafka.Producer):
    """Faust's producer, able to wait until every buffered message (a table write) is
    delivered, which Faust's own ``flush`` does not promise."""

    @cached_property
    def _buffered(self) -> set[FutureMessage]:
        return set()

    def send_soon(self, fut: FutureMessage) -> None:
        self._buffered.add(fut)
        fut.add_done_callback(self._buffered.discard)
        super().send_soon(fut)

    async def delivered(self) -> None:
        """Wait until what was buffered so far is delivered (or failed: a failed send makes
        its transaction fail to commit, and that is reported there)."""
        if self._buffered:
            await asyncio.wait(list(self._buffered))


class ProcessedOffsets:
    """The last offset processed of each partition this worker holds, so that a message
    handed over again while the partition stays here is skipped, not processed twice.

    When a worker starts, Faust resumes its partitions before it seeks them to their
    committed offsets, and its own check lets an offset equal to the last one read through:
    the last message of a batch fetched in between comes again after the seek. Checked when
    an event is taken up, not when it is fetched: a fetched message may be dropped unprocessed
    (Faust empties its queues on a rebalance) and must then come again.
    """

    def __init__(self) -> None:
        self._last: dict[TP, int] = {}

    def is_new(self, tp: TP, offset: int) -> bool:
        last = self._last.get(tp)
        return last is None or offset > last

    def processed(self, tp: TP, offset: int) -> None:
        self._last[tp] = max(offset, self._last.get(tp, offset))

    def next_offsets(self) -> dict[TP, int]:
        """Where each partition's reading goes on: the offset after the last processed."""
        return {tp: offset + 1 for tp, offset in self._last.items()}

    def forget(self, tps: Iterable[TP]) -> None:
        """Partitions revoked: when one comes back it is read again from its commit."""
        for tp in tps:
            self._last.pop(tp, None)


class GatedConsumer(faust_aiokafka.Consumer):
    """Faust's consumer, which closes the gate and waits for the buffered table writes
    before it works out the offsets to commit. Under exactly-once, an event acknowledged
    after that point would have its outputs committed without its offset, and be processed
    again after a crash; under at-least-once, an offset committed before its event's table
    writes left Faust's buffer would lose them to a crash for good.

    """

    async def on_partitions_revoked(self, revoked: set[TP]) -> None:
        cast(CrmApp, self.app).processed_offsets.forget(revoked)
        await super().on_partitions_revoked(revoked)

    async def force_commit(self, topics: Any = None, start_new_transaction: bool = True) -> bool:
        gate = cast(CrmApp, self.app).event_gate
        async with gate.closed():
            await cast(DeliveryTrackingProducer, self.app.producer).delivered()
            return cast(bool, await super().force_commit(topics, start_new_transaction))

    def _filter_committable_offsets(self, tps: Iterable[TP]) -> dict[TP, int]:
        """Faust's offsets, raised to the offset after the last event processed: with the
        gate closed every event taken up is done, and partitions are read in order, so
        everything before that offset is processed. Faust's own count, from its list of
        acknowledged offsets and the gaps it saw, can stall on a partition written by
        transactions (their markers take offsets), and its outputs would then wait
        uncommitted, invisible to a ``read_committed`` reader, for good."""
        offsets: dict[TP, int] = super()._filter_committable_offsets(tps)
        processed = cast(CrmApp, self.app).processed_offsets
        for tp, next_offset in processed.next_offsets().items():
            committed = self._committed_offset[tp]
            if (committed is None or next_offset > committed) and next_offset > offsets.get(tp, -1):
                offsets[tp] = next_offset
        return offsets

    async def _add_gap(self, tp: TP, offset_from: int, offset_to: int) -> None:
        """Offsets the partition skipped (a transaction's commit marker takes one), which
        count as done. Faust passes the offset of the message after the gap as the end, and
        counts that message done too: the offset is then twice in its list of acknowledged
        ones, which ends its run of consecutive offsets early, so its count of what may be
        committed falls behind (see :meth:`_filter_committable_offsets`) and the list grows."""
        await super()._add_gap(tp, offset_from, offset_to - 1)


class CrmTransport(faust_aiokafka.Transport):
    Consumer = GatedConsumer
    TransactionManager = SourcePartitionTransactions
    Producer = DeliveryTrackingProducer


class CrmApp(faust.App):
    """A Faust app whose agents take their events from :meth:`events`, and whose commits,
    exactly-once or not, wait for the events in processing and the buffered table writes."""

    @cached_property
    def event_gate(self) -> EventGate:
        return EventGate()

    @cached_property
    def processed_offsets(self) -> ProcessedOffsets:
        return ProcessedOffsets()

    async def events(self, stream: faust.StreamT[bytes]) -> AsyncIterator[Any]:
        """The stream's events, each processed once, inside the gate, and acknowledged
        before the gate is let go, so that a commit never sees an event whose outputs are
        sent but whose offset is not yet safe to commit. (Typed as loosely as Faust's own
        ``stream.events()``.)"""
        async for event in stream.events():
            message = event.message
            async with self.event_gate.holding():
                if self.processed_offsets.is_new(message.tp, message.offset):
                    yield event
                    self.processed_offsets.processed(message.tp, message.offset)
                await stream.ack(event)

    def _new_transport(self) -> CrmTransport:
        return CrmTransport(self.conf.broker_consumer, self)

    def _new_producer_transport(self) -> CrmTransport:
        return CrmTransport(self.conf.broker_producer, self)
