"""Commits that hold through a crash, in place of Faust 0.15.3's own.

An input's offset may be committed only once everything it caused reached Kafka. Faust's
commit does not make sure of that, nor of a few things around it:

- a table write is buffered and sent later by a background task, and Faust's flush of that
  buffer gives up after 0.1 s without news, so an offset can be committed before its
  event's state change left, and a crash loses the change for good;
- it works out the offsets to commit while agents go on processing;
- when a worker starts, the last message of a batch fetched before the seek to the
  committed offsets comes again after it (Faust's check lets an offset equal to the last
  one read through): one input per partition processed twice;
- the commit markers of a partition written by transactions leave gaps in its offsets,
  which Faust counts one too far, and misses after offset 0, so its committed offset falls
  behind what was processed, or stops for good.

Here agents take their events through :meth:`CrmApp.events`, which holds the
:class:`EventGate` for the whole event and acknowledges it before letting go, and skips an
event already processed. A commit first closes the gate, which waits until no agent is in
the middle of an event, then waits until every buffered table write is delivered, and only
then lets Faust work out the offsets. Agents stand still for the length of a commit, once
per commit interval.

Faust's exactly-once mode is refused by the settings: with these fixes and outputs put in
the transaction of their source partition, it still lost or repeated outputs through a
``kill -9`` in some runs (docs/operations.md, processing guarantee).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from typing import Any, cast

import faust
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP
from faust.types.tuples import FutureMessage
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
        """Wait until what was buffered so far is delivered, or has failed (Faust reports a
        failed send itself)."""
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

    def forget(self, tps: Iterable[TP]) -> None:
        """Partitions revoked: when one comes back it is read again from its commit."""
        for tp in tps:
            self._last.pop(tp, None)


class GatedConsumer(faust_aiokafka.Consumer):
    """Faust's consumer, which closes the gate and waits for the buffered table writes
    before it works out the offsets to commit: an offset committed before its event's table
    writes left Faust's buffer would lose them to a crash for good, and an event finished
    while the offsets are worked out would be committed with its table writes in flight."""

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

    async def on_partitions_revoked(self, revoked: set[TP]) -> None:
        cast(CrmApp, self.app).processed_offsets.forget(revoked)
        await super().on_partitions_revoked(revoked)

    async def force_commit(self, topics: Any = None, start_new_transaction: bool = True) -> bool:
        gate = cast(CrmApp, self.app).event_gate
        async with gate.closed():
            await cast(DeliveryTrackingProducer, self.app.producer).delivered()
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
    Producer = DeliveryTrackingProducer


class CrmApp(faust.App):
    """A Faust app whose agents take their events from :meth:`events`, and whose commits
    wait for the events in processing and the buffered table writes."""

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
