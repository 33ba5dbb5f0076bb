"""Commits that hold through a crash, in place of Faust 0.15.3's own.

An input's offset may be committed only once everything it caused reached Kafka. Faust's
commit does not make sure of that, nor of a few things around it:

- a table write is buffered and sent later by a background task, and Faust's flush of that
  buffer gives up after 0.1 s without news, so an offset can be committed before its
  event's state change left, and a crash loses the change for good;
- a table write can reach Kafka before an output of the same event, so a crash can keep
  the state and lose the output, which the redelivered event then does not send again;
- it works out the offsets to commit while agents go on processing;
- the commit markers of a partition written by transactions leave gaps in its offsets,
  which Faust counts one too far, and misses after offset 0, so its committed offset falls
  behind what was processed, or stops for good.

Here agents take their events through :meth:`CrmApp.process_each`, which holds the
:class:`EventGate` for the whole event and acknowledges it before letting go. A commit
first closes the gate, which waits until no agent is in the middle of an event, then
delivers every output, then the table writes still held (:class:`ChangelogAtCommitProducer`),
and only then lets Faust work out the offsets. Agents stand still for the length of a commit,
once per commit interval; to keep that short, the writes held are also sent, after the
outputs, every ``CRMSTREAM_TABLE_WRITE_INTERVAL_SECONDS`` between commits, with the gate
closed only while they are taken.

(Inputs lost when partitions are handed to a worker are another matter, of Faust's
recovery: :mod:`streams.recovery`.)

Under exactly-once the same commit ends Kafka transactions, one per input partition: every
output and table write goes into the transaction of the input partition whose event caused
it (:class:`SourcePartitionTransactions`), which commits with that partition's new offset.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, NamedTuple, cast

import faust
from aiokafka.errors import MessageSizeTooLargeError, ProducerFenced
from aiokafka.record.default_records import DefaultRecordBatchBuilder
from faust.streams import current_event
from faust.transport.consumer import CONSUMER_PARTITIONS_REVOKED, TransactionManager
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP
from faust.types.enums import ProcessingGuarantee
from faust.types.tuples import FutureMessage
from faust.utils.tracing import traced_from_parent_span
from mode import Service
from mode.utils.objects import cached_property

from streams.batches import Delivery, OutgoingBatches, deliveries_of
from streams.recovery import SeekThenResumeTableManager


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


@dataclass(frozen=True)
class _SendingFor:
    """Set while a message is sent after the event that made it (a held table write, a
    batch of messages between agents): that event's input partition (None: no event)."""

    source: TP | None


_sending_for: ContextVar[_SendingFor | None] = ContextVar("crmstream_sending_for", default=None)


@contextmanager
def sending_for(source: TP | None) -> Iterator[None]:
    """Send on behalf of an event of ``source``, after the event is done."""
    token = _sending_for.set(_SendingFor(source))
    try:
        yield
    finally:
        _sending_for.reset(token)


def source_partition() -> TP | None:
    """The input partition whose event caused what is being sent now: the event an agent is
    processing, or, for what is sent after its event, the event that made it."""
    held = _sending_for.get()
    if held is not None:
        return held.source
    event = current_event()
    return None if event is None else event.message.tp


class SourcePartitionTransactions(TransactionManager):
    """Faust's transaction manager (exactly-once), with every output and table write in the
    transaction of the input partition whose event caused it.

    Kafka makes an event's outputs and its input offset visible together, or neither, only
    if they are in one transaction. Faust 0.15.3 puts an output in the transaction of its
    *destination* partition number, which commits it with the offset of whichever input
    partition has that number (faust-streaming #177): a crash then repeats or loses it.
    What no event caused (a timer's tick) is sent outside any transaction.
    """

    def transactional_id(self, source: TP) -> str:
        """Faust's name for the transaction (and producer) of an input partition."""
        group = self.app.assignor.group_for_topic(source.topic)
        return f"{self.app.conf.id}-{group}-{source.partition}"

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
    ) -> Awaitable[Any]:
        source = source_partition()
        return await self.producer.send(
            topic,
            key,
            value,
            self.consumer.key_partition(topic, key, partition),
            timestamp,
            headers,
            transactional_id=None if source is None else self.transactional_id(source),
        )

    async def commit(self, offsets: Mapping[TP, int], start_new_transaction: bool = True) -> bool:
        """Commit each input partition's transaction with its new offset (called by
        :meth:`GatedConsumer.force_commit`, with no event in processing).

        A transaction with nothing to commit stays open: its events' offsets are not
        committable yet, and committing their outputs without them would repeat those
        outputs after a crash."""
        by_transaction: dict[str, dict[TP, int]] = defaultdict(dict)
        for tp, offset in offsets.items():
            by_transaction[self.transactional_id(tp)][tp] = offset
        try:
            await asyncio.gather(
                *(
                    self._commit_one(tid, tp_offsets, start_new_transaction)
                    for tid, tp_offsets in by_transaction.items()
                )
            )
        except ProducerFenced as fenced:  # another worker owns the partition now, as Faust
            await self.app.crash(fenced)
            return False
        return True

    async def _commit_one(self, tid: str, offsets: dict[TP, int], start_new: bool) -> None:
        producers = cast(faust_aiokafka.Producer, self.producer)
        producer = producers._transaction_producers.get(tid)
        if producer is None:  # its partitions were revoked: the next owner fences it
            return
        async with producers._trn_locks[tid]:
            if not producer._txn_manager.is_in_transaction():
                await producer.begin_transaction()  # Faust's begin at assignment can fail
            await producer.send_offsets_to_transaction(offsets, self.app.conf.id)
            await producer.commit_transaction()
            if start_new:
                await producer.begin_transaction()


class HeldSlot(NamedTuple):
    """What a held table write replaces: an earlier write of the same key to the same
    changelog partition, made by an event of the same input partition (writes of different
    input partitions belong to different transactions, so both are kept)."""

    topic: str
    partition: int | None
    key: Any
    source: TP | None


class ChangelogAtCommitProducer(faust_aiokafka.Producer):
    """Faust's producer, which holds table writes (changelog messages) and sends them, at
    the commit or earlier, only after every output of the events that made them was
    delivered.

    Why: a record's state and what processing it sent out are separate messages on separate
    partitions. Faust sends table writes through a buffer beside the outputs, so a crash
    could keep a state write and lose an output of the same event: the redelivered event
    then finds its work done and sends nothing (a matching round that waits for good for a
    block request that never left, an enriched record that never comes). With the state
    sent after the outputs, a crash loses either both or the state only, and a lost state
    write is replayed from the uncommitted input.

    Writes of one key between two commits are coalesced: the changelog is compacted, so
    only the last one counts (a record's match state changes several times per change).
    A message too large for its topic, output or table write, is refused in the event that
    made it, so that the event is parked with the reason instead of the message being lost.
    """

    @cached_property
    def _held(self) -> dict[HeldSlot, FutureMessage]:
        return {}

    def send_soon(self, fut: FutureMessage) -> None:
        """Hold a table write; one too large for its changelog is refused at once, in the
        event that made it (which is then parked, the table left as it was): at the
        commit it would fail again at every restart."""
        message = fut.message
        topic = message.channel.get_topic_name()
        self.refuse_oversized(topic, message.key, message.value)
        slot = HeldSlot(topic, message.partition, message.key, source_partition())
        replaced = self._held.pop(slot, None)  # popped, so the newest write goes last
        if replaced is not None:
            replaced.cancel()
        self._held[slot] = fut

    async def send(  # noqa: PLR0917 (Faust's signature, positional arguments and all)
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        partition: int | None,
        timestamp: float | None,
        headers: Any,
        *,
        transactional_id: str | None = None,
    ) -> Any:
        """Send an output; one too large for its topic is refused in the event that made
        it, which is then parked. The broker would refuse it only after the event was
        acknowledged, and Faust would just log it: the output would be lost."""
        self.refuse_oversized(topic, key, value)
        delivery = cast(
            asyncio.Future[Any],
            await super().send(
                topic, key, value, partition, timestamp, headers, transactional_id=transactional_id
            ),
        )
        delivery.add_done_callback(self._note_failed_output)
        return delivery

    @cached_property
    def _failed_outputs(self) -> list[BaseException]:
        return []

    def _note_failed_output(self, delivery: asyncio.Future[Any]) -> None:
        if not delivery.cancelled() and delivery.exception() is not None:
            self._failed_outputs.append(cast(BaseException, delivery.exception()))

    def message_limit(self, topic: str) -> int:
        """The largest message ``topic`` takes from this producer, in bytes."""
        limits = cast(CrmApp, self.app).message_limits
        return min(limits.get(topic, self.max_request_size), self.max_request_size)

    def refuse_oversized(self, topic: str, key: bytes | None, value: bytes | None) -> None:
        """Raise ``MessageSizeTooLargeError`` for a message larger than ``topic`` takes."""
        size = DefaultRecordBatchBuilder.estimate_size_in_bytes(key, value, [])
        limit = self.message_limit(topic)
        if size > limit:
            raise MessageSizeTooLargeError(
                f"a message of {size} bytes to {topic}, over its limit of {limit} bytes"
            )

    @cached_property
    def _sending(self) -> asyncio.Future[None]:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done

    async def send_held_after_outputs(self) -> None:
        """Deliver every output sent so far, then the held table writes; raise the first
        failure, of an output or a write, so that no offset is committed past an effect that
        did not reach Kafka (Faust itself would only log a failed output and commit).

        The caller makes sure no event is half done (the commit closes the gate): a held
        write's event has sent all its outputs.

        The writes are sent by a task of their own, which a commit waits for but does not
        own: Faust cancels its periodic commit when the worker stops, and writes taken out
        of the hold but not yet sent would otherwise be lost while the stop's own commit
        goes on to commit their offsets. Each sending waits for the one before it, so a
        key's writes reach its changelog in order, and a commit waits for every sending
        started before it (:meth:`send_held_early` included)."""
        await asyncio.shield(self._send_held())

    async def send_held_early(self, gate: EventGate) -> None:
        """Send the batches between agents and the writes held so far, the writes after the
        outputs, ahead of the commit, while the agents go on.

        A commit stops the agents while it sends what it holds. With a whole commit
        interval's writes held, the slowest events were the ones caught in that pause: at
        70 events/s, those whose first hop took over 100 ms came in clusters about 3 s apart,
        the commit interval. The gate is closed only while the hold is taken, so that no
        event is half done in it; a failure is raised by the commit after it, which stops
        the worker."""
        async with gate.closed():
            if not self._held and not self._outgoing.holding:
                return
            sending = self._send_held()
        await asyncio.shield(sending)

    @property
    def _outgoing(self) -> OutgoingBatches:
        return cast(CrmApp, self.app).outgoing

    def _send_held(self) -> asyncio.Future[None]:
        """Take the batches held for other agents and every held write, and start sending
        them after the sending before: the batches first, since they are outputs of the
        events whose writes these are."""
        published = self._outgoing.flush()
        held, self._held = list(self._held.items()), {}
        self._sending = asyncio.ensure_future(self._send_after(self._sending, published, held))
        return self._sending

    async def _send_after(
        self,
        previous: asyncio.Future[None],
        published: asyncio.Future[None],
        held: list[tuple[HeldSlot, FutureMessage]],
    ) -> None:
        await published  # the batches are with the producer, after those taken before them
        await self.flush()  # the outputs of the events whose writes these are, and more
        if self._failed_outputs:  # the broker refused an output for good: its offset waits
            raise self._failed_outputs[0]
        await previous
        deliveries = []
        for slot, fut in held:
            with sending_for(slot.source):
                deliveries.append(await fut.message.channel.publish_message(fut, wait=False))
        for delivery in deliveries:
            await delivery


class CommittedEndsConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    """Faust's consumer thread, which asks the broker where a changelog ends before it
    restores a table from it, under either guarantee.

    Under exactly-once, Faust 0.15.3 takes the end from the last fetch of the partition
    instead, and a worker that never fetched it yet (one taking partitions over from a worker
    that left) gets none, takes the changelog for empty and starts with empty tables: in the
    join/leave test, 825 of 2,000 outputs never came. The broker's answer to a reader that
    reads committed is the last stable offset, the end of what a restore may read.
    """

    async def _highwaters(self, partitions: list[TP]) -> Mapping[TP, int]:
        return cast(Mapping[TP, int], await self._ensure_consumer().end_offsets(partitions))


class GatedConsumer(faust_aiokafka.Consumer):
    """Faust's consumer, which closes the gate and delivers the outputs, then the held
    table writes, before it works out the offsets to commit: an offset committed before its
    event's table writes reached Kafka would lose them to a crash for good, and an event
    finished while the offsets are worked out would be committed with its writes in flight.
    At a rebalance it commits what was acknowledged before it forgets it, and its thread
    asks the broker where the changelogs to restore end."""

    def __init__(self, transport: Any, callback: Any, *args: Any, **kwargs: Any) -> None:
        async def deliver(message: Any) -> None:
            # Faust records a gap only when the offset read last is truthy: after offset 0, a
            # partition written by transactions (a marker at 1: a transactional upstream
            # producer, such as an exactly-once connector) never commits again.
            if (
                message.offset > 1
                and self._read_offset[message.tp] == 0
                and self.app.topics.acks_enabled_for(message.topic)  # as Faust's own check
            ):
                await self._add_gap(message.tp, 1, message.offset)
            await callback(message)

        super().__init__(transport, deliver, *args, **kwargs)

    def _new_consumer_thread(self) -> CommittedEndsConsumerThread:
        return CommittedEndsConsumerThread(self, loop=self.loop, beacon=self.beacon)

    @Service.transitions_to(CONSUMER_PARTITIONS_REVOKED)
    async def on_partitions_revoked(self, revoked: set[TP]) -> None:
        """Faust's, with the revoked partitions' acknowledged offsets forgotten after the
        rebalance's commit instead of before it.

        Faust 0.15.3 drops what was acknowledged since the last commit before it lets the
        app finish its events and commit: those offsets are never committed, and with the
        eager rebalancing Kafka's clients do, every partition is revoked at every rebalance.
        A worker that keeps a partition then seeks back and processes those events again
        (``redelivered``); under exactly-once their outputs, waiting in the transaction it
        keeps, come out twice. Seen in the join/leave test: 12 to 363 repeats in 6 of 12 runs
        over both guarantees, all on the partitions a worker kept."""
        span = self.app._start_span_from_rebalancing("on_partitions_revoked")
        trace = traced_from_parent_span(span)
        with span:
            if self._active_partitions is not None:
                self._active_partitions.difference_update(revoked)
            self._paused_partitions.difference_update(revoked)
            await trace(self._on_partitions_revoked, partitions=revoked)(revoked)
            for tp in revoked:
                self._gap.pop(tp, None)
                self._acked.pop(tp, None)
                self._acked_index.pop(tp, None)
                self._read_offset.pop(tp, None)
                self._committed_offset.pop(tp, None)

    async def force_commit(self, topics: Any = None, start_new_transaction: bool = True) -> bool:
        gate = cast(CrmApp, self.app).event_gate
        async with gate.closed():
            try:
                await cast(ChangelogAtCommitProducer, self.app.producer).send_held_after_outputs()
            except Exception as exc:  # as Faust does when an output attached to a commit fails
                await self.crash(exc)
                return False
            return cast(bool, await super().force_commit(topics, start_new_transaction))

    async def _add_gap(self, tp: TP, offset_from: int, offset_to: int) -> None:
        """Offsets the partition skipped (a transaction's commit marker takes one), which
        count as done. Faust passes the offset of the message after the gap as the end, and
        counts that message done too: the offset is then twice in its list of acknowledged
        ones, which ends its run of consecutive offsets early, and the committed offset
        falls behind what was processed (an input written by a transactional producer)."""
        await super()._add_gap(tp, offset_from, offset_to - 1)


class CrmTransport(faust_aiokafka.Transport):
    Consumer = GatedConsumer
    Producer = ChangelogAtCommitProducer
    TransactionManager = SourcePartitionTransactions


class CrmApp(faust.App):
    """A Faust app whose agents take their events from :meth:`process_each`, whose commits wait
    for the events in processing, their outputs and then their table writes, and whose
    recovery seeks the inputs before they resume (:mod:`streams.recovery`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("TableManager", SeekThenResumeTableManager)
        super().__init__(*args, **kwargs)

    message_limits: Mapping[str, int] = {}
    """The largest message each topic takes, by name (set by ``streams.app``)."""

    @cached_property
    def event_gate(self) -> EventGate:
        return EventGate()

    async def process_each(
        self,
        stream: faust.StreamT[bytes],
        handle: Callable[[Delivery], Awaitable[None]],
        *,
        on_failure: Callable[[Delivery, Exception], Awaitable[None]],
    ) -> None:
        """Hand what the stream's events carry to ``handle`` one delivery at a time (a
        batch of messages between agents is unpacked, :mod:`streams.batches`), each event
        inside the gate, and acknowledge each before the gate is let go, so that a commit
        never sees an event whose outputs are sent but whose offset is not yet safe to commit.

        An exception ``handle`` raises goes to ``on_failure`` (the agents park the delivery),
        and the event is acknowledged after it: without this, Faust would acknowledge the
        event and restart the agent, and the event would be lost without a trace. A failed
        item of a batch is parked alone; the items after it go on."""
        async for event in stream.events():
            async with self.event_gate.holding():
                try:
                    deliveries = deliveries_of(event)
                except ValueError as exc:  # a batch no crmstream packed
                    deliveries = []
                    await on_failure(Delivery.whole(event), exc)
                for delivery in deliveries:
                    try:
                        await handle(delivery)
                    except Exception as exc:
                        await on_failure(delivery, exc)
                outgoing = self.outgoing
                if outgoing.holding and (
                    outgoing.full or cast(faust.ChannelT[bytes], stream.channel).empty()
                ):
                    # Nothing waits that could join the batches: they go now. A failure is
                    # left to the commit, which waits for this publishing and stops the worker.
                    with contextlib.suppress(Exception):
                        await asyncio.shield(outgoing.flush())
                await stream.ack(event)

    @cached_property
    def outgoing(self) -> OutgoingBatches:
        """The messages agents send each other, held to go many to a Kafka message."""
        return OutgoingBatches(
            lambda topic: cast(ChangelogAtCommitProducer, self.producer).message_limit(topic),
            self._transaction_of_sender,
            sending_for,
        )

    def _transaction_of_sender(self) -> TP | None:
        """Whose transaction a message between agents belongs in: under exactly-once, that
        of the input partition whose event sends it; else none, so that what every input
        partition sends to one destination shares a batch."""
        guarantee = cast(ProcessingGuarantee, self.conf.processing_guarantee)
        if guarantee is ProcessingGuarantee.EXACTLY_ONCE:
            return source_partition()
        return None

    def hand_over(self, channel: faust.TopicT, key: bytes, value: bytes) -> None:
        """Send a message to another agent, in a batch (:mod:`streams.batches`); one too
        large for its topic is refused here, in the event that made it, which is parked."""
        cast(ChangelogAtCommitProducer, self.producer).refuse_oversized(
            channel.get_topic_name(), key, value
        )
        self.outgoing.add(channel, key, value)

    async def send_held_table_writes(self) -> None:
        """Send the batches between agents and the table writes held so far ahead of the
        commit (see :meth:`ChangelogAtCommitProducer.send_held_early`). A failure is left to
        the commit, which waits for this sending, raises it and stops the worker."""
        with contextlib.suppress(Exception):
            await cast(ChangelogAtCommitProducer, self.producer).send_held_early(self.event_gate)

    def _new_transport(self) -> CrmTransport:
        return CrmTransport(self.conf.broker_consumer, self)

    def _new_producer_transport(self) -> CrmTransport:
        return CrmTransport(self.conf.broker_producer, self)
