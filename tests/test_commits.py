"""The pieces of the worker's commits that need no broker: the gate between events and
commits, the table writes held until a commit, and what becomes of an event whose handler
fails. Through the broker,
``test_faults_crash_e2e`` kills a worker mid-stream and counts every output."""

from __future__ import annotations

import asyncio
import weakref
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from types import SimpleNamespace
from typing import Any, TypeVar, cast

import pytest
from aiokafka.errors import MessageSizeTooLargeError
from faust.streams import _current_event
from faust.types import TP
from faust.types.tuples import FutureMessage, PendingMessage

from streams.batches import BATCH_HEADER, Delivery, OutgoingBatches, pack, unpack
from streams.commits import (
    ChangelogAtCommitProducer,
    CrmApp,
    EventGate,
    SourcePartitionTransactions,
    sending_for,
    source_partition,
)

T = TypeVar("T")


def run(main: Callable[[], Awaitable[T]]) -> T:
    return asyncio.run(asyncio.wait_for(main(), timeout=5))


async def settle() -> None:
    """Let every ready task run until it blocks."""
    for _ in range(20):
        await asyncio.sleep(0)


def test_a_commit_waits_for_the_event_in_processing_and_holds_back_the_next() -> None:
    async def main() -> list[str]:
        gate, log = EventGate(), []
        release_first = asyncio.Event()

        async def agent(name: str, wait: asyncio.Event | None = None) -> None:
            async with gate.holding():
                log.append(f"{name} in")
                if wait is not None:
                    await wait.wait()
                log.append(f"{name} out")

        async def commit() -> None:
            async with gate.closed():
                log.append("commit")

        first = asyncio.create_task(agent("first", release_first))
        await settle()
        committing = asyncio.create_task(commit())
        await settle()
        second = asyncio.create_task(agent("second"))
        await settle()
        assert log == ["first in"]  # the commit waits, the second event waits behind it
        release_first.set()
        await asyncio.gather(first, committing, second)
        return log

    assert run(main) == ["first in", "first out", "commit", "second in", "second out"]


def test_an_agent_woken_by_one_commit_waits_again_when_the_next_one_starts_at_once() -> None:
    async def main() -> list[str]:
        gate, log = EventGate(), []

        async def agent() -> None:
            async with gate.holding():
                log.append("event")

        first = gate.closed()
        await first.__aenter__()
        waiting = asyncio.create_task(agent())
        await settle()
        # The first commit ends and wakes the agent; the next starts before the agent runs.
        await first.__aexit__(None, None, None)
        second = gate.closed()
        await second.__aenter__()
        await settle()
        log.append("second commit")
        await second.__aexit__(None, None, None)
        await waiting
        return log

    assert run(main) == ["second commit", "event"]


class RecordingChannel:
    """A changelog topic that records what is published to it, delivered when told."""

    def __init__(self, log: list[str]) -> None:
        self.log = log
        self.deliveries: list[asyncio.Future[None]] = []
        self.sources: list[TP | None] = []  # the input partition each write was sent for

    def get_topic_name(self) -> str:
        return "records-changelog"

    async def publish_message(self, fut: FutureMessage, wait: bool = False) -> asyncio.Future[None]:
        self.log.append(f"write {fut.message.key!r}={fut.message.value!r}")
        self.sources.append(source_partition())
        delivery: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.deliveries.append(delivery)
        return delivery


class ProducerWithoutBroker(ChangelogAtCommitProducer):
    """The producer's holding of table writes, with the outputs' flush recorded instead of
    sent (Faust's service set-up is skipped: nothing here talks to a broker)."""

    def __init__(
        self, log: list[str], outputs_delivered: asyncio.Event, *, limit: int = 1 << 20
    ) -> None:
        self.log_ = log
        self.outputs_delivered = outputs_delivered
        self.max_request_size = 16 << 20
        self.app = SimpleNamespace(
            message_limits={"records-changelog": limit},
            outgoing=OutgoingBatches(lambda topic: limit, source_partition, sending_for),
        )

    async def flush(self) -> None:
        await self.outputs_delivered.wait()
        self.log_.append("outputs delivered")


def delivering_at_once(log: list[str]) -> tuple[RecordingChannel, ProducerWithoutBroker]:
    """A changelog and a producer whose outputs are delivered as soon as they are flushed."""
    outputs_delivered = asyncio.Event()
    outputs_delivered.set()
    return RecordingChannel(log), ProducerWithoutBroker(log, outputs_delivered)


def table_write(channel: RecordingChannel, key: bytes, value: bytes) -> FutureMessage:
    message = PendingMessage(channel, key, value, 0, None, None, None, None, None, None, None, None)
    return FutureMessage(message)  # type: ignore[arg-type]


def test_table_writes_wait_for_the_commit_go_after_the_outputs_and_keep_the_last_per_key() -> None:
    async def main() -> list[str]:
        log: list[str] = []
        outputs_delivered = asyncio.Event()
        channel = RecordingChannel(log)
        producer = ProducerWithoutBroker(log, outputs_delivered)
        first = table_write(channel, b"lead:1", b"v1")
        producer.send_soon(first)
        producer.send_soon(table_write(channel, b"lead:2", b"v1"))
        producer.send_soon(table_write(channel, b"lead:1", b"v2"))
        await settle()
        assert log == []  # held: nothing leaves before a commit
        commit = asyncio.create_task(producer.send_held_after_outputs())
        await settle()
        assert log == []  # the outputs first
        outputs_delivered.set()
        await settle()
        assert not commit.done()  # until the writes are delivered too
        for delivery in channel.deliveries:
            delivery.set_result(None)
        await commit
        assert first.cancelled()  # replaced by the later write of its key
        return log

    assert run(main) == ["outputs delivered", "write b'lead:2'=b'v1'", "write b'lead:1'=b'v2'"]


def test_writes_taken_by_a_cancelled_commit_are_still_sent_and_awaited_by_the_next() -> None:
    async def main() -> list[str]:
        log: list[str] = []
        channel, producer = delivering_at_once(log)
        producer.send_soon(table_write(channel, b"lead:1", b"v1"))
        periodic = asyncio.create_task(producer.send_held_after_outputs())
        await settle()
        periodic.cancel()  # Faust cancels its periodic commit when the worker stops
        producer.send_soon(table_write(channel, b"lead:2", b"v1"))
        last = asyncio.create_task(producer.send_held_after_outputs())
        await settle()
        assert not last.done()  # waits for the cancelled commit's writes as well
        assert log == ["outputs delivered", "write b'lead:1'=b'v1'", "outputs delivered"]
        channel.deliveries[0].set_result(None)
        await settle()
        assert not last.done()
        channel.deliveries[1].set_result(None)  # the later writes go after the earlier ones
        await last
        return log

    assert run(main) == [
        "outputs delivered",
        "write b'lead:1'=b'v1'",
        "outputs delivered",
        "write b'lead:2'=b'v1'",
    ]


def message(value: bytes, offset: int, *, batch: bool = False) -> Any:
    """A Faust event of the topic ``crm.routed``, partition 0, as an agent's stream gives it."""
    headers = [(BATCH_HEADER, b"1")] if batch else []
    fields = SimpleNamespace(topic="crm.routed", partition=0, offset=offset, key=b"k")
    return SimpleNamespace(message=SimpleNamespace(**vars(fields), headers=headers), value=value)


class ListStream:
    """The part of a Faust stream that :meth:`CrmApp.process_each` uses."""

    def __init__(self, events: list[Any]) -> None:
        self._events = events
        self.acked: list[int] = []
        self.channel = SimpleNamespace(empty=lambda: True)

    async def events(self) -> AsyncIterator[Any]:
        for event in self._events:
            yield event

    async def ack(self, event: Any) -> None:
        self.acked.append(event.message.offset)


def processed(
    events: list[Any],
) -> tuple[list[bytes | None], list[tuple[Delivery, str]], list[int]]:
    """What :meth:`CrmApp.process_each` handled, sent to ``on_failure``, and acknowledged,
    with a handler that fails on the value ``poison``."""

    async def main() -> tuple[list[bytes | None], list[tuple[Delivery, str]], list[int]]:
        app = CrmApp("crmstream-unit-test")
        handled: list[bytes | None] = []
        failed: list[tuple[Delivery, str]] = []

        async def handle(delivery: Delivery) -> None:
            if delivery.value == b"poison":
                raise ValueError("a bug of ours")
            handled.append(delivery.value)

        async def on_failure(delivery: Delivery, exc: Exception) -> None:
            failed.append((delivery, str(exc)))

        stream = ListStream(events)
        await app.process_each(cast(Any, stream), handle, on_failure=on_failure)
        return handled, failed, stream.acked

    return run(main)


def test_an_event_whose_handler_fails_goes_to_on_failure_and_the_next_one_follows() -> None:
    handled, failed, acked = processed(
        [message(b"first", 1), message(b"poison", 2), message(b"last", 3)]
    )
    assert handled == [b"first", b"last"]
    assert failed == [(Delivery("crm.routed", 0, 2, b"k", b"poison"), "a bug of ours")]
    assert acked == [1, 2, 3]  # the failed one too: parked, not lost


def test_a_failed_item_of_a_batch_goes_to_on_failure_alone_and_the_items_after_it_follow() -> None:
    batch = pack([(b"a", b"first"), (b"b", b"poison"), (b"c", b"last")])
    handled, failed, acked = processed([message(batch, 1, batch=True), message(b"next", 2)])
    assert handled == [b"first", b"last", b"next"]
    assert failed == [(Delivery("crm.routed", 0, 1, b"b", b"poison", 1), "a bug of ours")]
    assert acked == [1, 2]


def test_a_batch_that_cannot_be_unpacked_goes_to_on_failure_whole() -> None:
    broken = pack([(b"a", b"first")])[:-1]
    handled, failed, acked = processed([message(broken, 1, batch=True), message(b"next", 2)])
    assert handled == [b"next"]
    [(delivery, reason)] = failed
    assert delivery == Delivery("crm.routed", 0, 1, b"k", broken)
    assert "cut short" in reason
    assert acked == [1, 2]


def test_a_table_write_over_its_changelog_limit_is_refused_in_its_event_not_at_the_commit() -> None:
    async def main() -> str:
        log: list[str] = []
        producer = ProducerWithoutBroker(log, asyncio.Event(), limit=1000)
        channel = RecordingChannel(log)
        producer.send_soon(table_write(channel, b"lead:1", b"x" * 500))
        with pytest.raises(MessageSizeTooLargeError) as refused:
            producer.send_soon(table_write(channel, b"lead:1", b"x" * 2000))
        assert len(producer._held) == 1  # the write that fits is still held
        return str(refused.value)

    assert "bytes to records-changelog, over its limit of 1000 bytes" in run(main)


def test_an_output_the_broker_refused_stops_the_commit_before_the_table_writes() -> None:
    async def main() -> list[str]:
        log: list[str] = []
        channel, producer = delivering_at_once(log)
        producer.send_soon(table_write(channel, b"lead:1", b"v1"))
        refused: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        refused.set_exception(RuntimeError("TopicAuthorizationFailed"))
        producer._note_failed_output(refused)  # as aiokafka reports an output it gave up on
        with pytest.raises(RuntimeError, match="TopicAuthorizationFailed"):
            await producer.send_held_after_outputs()
        return log

    assert run(main) == ["outputs delivered"]  # no table write, and no offset, after it


class RecordingAgentTopic:
    """A topic between agents that records each batch sent to it."""

    partitions = 1

    def __init__(self, log: list[str]) -> None:
        self.log = log

    def get_topic_name(self) -> str:
        return "crm.match.by-key"

    async def send(self, *, key: bytes, value: bytes, partition: int, headers: Any = None) -> None:
        items = len(unpack(value)) if headers else 1
        self.log.append(f"batch of {items} for {source_partition()}")


def test_the_table_writes_wait_for_the_batches_between_agents_of_the_same_events() -> None:
    async def main() -> list[str]:
        log: list[str] = []
        channel, producer = delivering_at_once(log)
        producer.app.outgoing.add(RecordingAgentTopic(log), b"block:1", b"request")
        producer.send_soon(table_write(channel, b"lead:1", b"v1"))
        await settle()
        assert log == []  # both held
        early = asyncio.create_task(producer.send_held_early(EventGate()))
        await settle()
        for delivery in channel.deliveries:
            delivery.set_result(None)
        await early
        return log

    assert run(main) == ["batch of 1 for None", "outputs delivered", "write b'lead:1'=b'v1'"]


@pytest.mark.parametrize(
    ("guarantee", "expected"),
    [
        ("at_least_once", ["batch of 2 for None"]),  # no transactions: one batch for both
        (
            "exactly_once",
            [
                "batch of 1 for TP(topic='crm.changes', partition=0)",
                "batch of 1 for TP(topic='crm.changes', partition=1)",
            ],
        ),
    ],
)
def test_messages_between_agents_share_a_batch_across_input_partitions_unless_exactly_once(
    guarantee: str, expected: list[str]
) -> None:
    async def main() -> list[str]:
        log: list[str] = []
        app = CrmApp("crmstream-unit-test", processing_guarantee=guarantee)
        requests = RecordingAgentTopic(log)

        async def agent(event: Event) -> None:
            processing(event)
            app.outgoing.add(cast(Any, requests), b"block:1", b"request")

        for partition in (0, 1):
            await asyncio.create_task(agent(Event("crm.changes", partition)))
        await app.outgoing.flush()
        return log

    assert run(main) == expected


class Event:
    """The part of a Faust event the commits read: its message's partition."""

    def __init__(self, topic: str, partition: int) -> None:
        self.message = SimpleNamespace(tp=TP(topic, partition))


def processing(event: Event) -> None:
    """Make ``event`` the one the running task processes, as a Faust stream does."""
    _current_event.set(weakref.ref(event))  # type: ignore[arg-type]


def test_a_held_table_write_is_sent_for_the_input_partition_of_the_event_that_made_it() -> None:
    async def main() -> tuple[list[str], list[TP | None]]:
        log: list[str] = []
        channel, producer = delivering_at_once(log)

        async def agent(event: Event, value: bytes) -> None:
            processing(event)
            producer.send_soon(table_write(channel, b"lead:1", value))

        # The same key written for events of two input partitions: two transactions, so
        # neither write replaces the other; a later write of the same partition does.
        await asyncio.create_task(agent(Event("crm.routed", 2), b"v1"))
        await asyncio.create_task(agent(Event("crm.engagement", 3), b"v2"))
        await asyncio.create_task(agent(Event("crm.routed", 2), b"v3"))
        commit = asyncio.create_task(producer.send_held_after_outputs())  # no event here
        await settle()
        for delivery in channel.deliveries:
            delivery.set_result(None)
        await commit
        return log, channel.sources

    log, sources = run(main)
    assert log == ["outputs delivered", "write b'lead:1'=b'v2'", "write b'lead:1'=b'v3'"]
    assert sources == [TP("crm.engagement", 3), TP("crm.routed", 2)]


class RecordingSends:
    """A producer that records the transaction each message is sent in."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, int | None, str | None]] = []

    async def send(
        self,
        topic: str,
        key: Any,
        value: Any,
        partition: int | None,
        *_: Any,
        transactional_id: str | None = None,
    ) -> None:
        self.sent.append((topic, partition, transactional_id))


def transactions(producer: RecordingSends) -> SourcePartitionTransactions:
    manager = SourcePartitionTransactions.__new__(SourcePartitionTransactions)
    manager.app = cast(
        Any,
        SimpleNamespace(
            conf=SimpleNamespace(id="crm"),
            assignor=SimpleNamespace(group_for_topic=lambda topic: 0),
        ),
    )
    manager.consumer = cast(
        Any, SimpleNamespace(key_partition=lambda t, k, p: 3 if p is None else p)
    )
    manager.producer = cast(Any, producer)
    return manager


def test_an_output_goes_in_the_transaction_of_its_source_partition_not_its_destination() -> None:
    async def main() -> list[tuple[str, int | None, str | None]]:
        producer = RecordingSends()
        manager = transactions(producer)

        async def agent() -> None:
            event = Event("crm.routed", 1)  # Faust holds the event only weakly
            processing(event)
            await manager.send("crm.enriched", b"lead:1", b"{}", None, None, None)

        async def timer() -> None:  # no event: outside any transaction
            await manager.send("crm.model-learning", b"__tick__", b"{}", 0, None, None)

        await asyncio.create_task(agent())
        await asyncio.create_task(timer())
        return producer.sent

    assert run(main) == [
        ("crm.enriched", 3, "crm-0-1"),  # destination partition 3, source partition 1
        ("crm.model-learning", 0, None),
    ]


class TransactionLog:
    """One transactional producer of aiokafka, as far as a commit uses it."""

    def __init__(self, tid: str, log: list[str], *, in_transaction: bool) -> None:
        self.tid, self.log = tid, log
        self._in_transaction = in_transaction
        self._txn_manager = SimpleNamespace(is_in_transaction=lambda: self._in_transaction)

    async def begin_transaction(self) -> None:
        self._in_transaction = True
        self.log.append(f"{self.tid} begin")

    async def send_offsets_to_transaction(self, offsets: dict[TP, int], group: str) -> None:
        shown = ", ".join(f"{tp.topic}/{tp.partition}@{at}" for tp, at in sorted(offsets.items()))
        self.log.append(f"{self.tid} offsets {shown} for {group}")

    async def commit_transaction(self) -> None:
        self._in_transaction = False
        self.log.append(f"{self.tid} commit")


def test_a_commit_ends_each_source_partitions_transaction_with_its_own_offsets() -> None:
    async def main() -> list[str]:
        log: list[str] = []
        producers = RecordingSends()
        producers._transaction_producers = {  # type: ignore[attr-defined]
            "crm-0-1": TransactionLog("crm-0-1", log, in_transaction=True),
            "crm-0-2": TransactionLog("crm-0-2", log, in_transaction=False),
        }
        producers._trn_locks = defaultdict(asyncio.Lock)  # type: ignore[attr-defined]
        manager = transactions(producers)
        offsets = {TP("routed", 1): 10, TP("answers", 1): 5, TP("routed", 2): 7}
        offsets[TP("routed", 3)] = 4  # revoked meanwhile: its producer is gone
        await manager.commit(offsets)
        return log

    log = run(main)
    assert [line for line in log if line.startswith("crm-0-1")] == [
        "crm-0-1 offsets answers/1@5, routed/1@10 for crm",
        "crm-0-1 commit",
        "crm-0-1 begin",
    ]
    assert [line for line in log if line.startswith("crm-0-2")] == [
        "crm-0-2 begin",  # Faust's begin at the assignment failed: begun before the offsets
        "crm-0-2 offsets routed/2@7 for crm",
        "crm-0-2 commit",
        "crm-0-2 begin",
    ]
    assert len(log) == 7


def test_writes_sent_early_wait_for_events_in_progress_and_the_commit_waits_for_them() -> None:
    async def main() -> list[str]:
        log: list[str] = []
        channel, producer = delivering_at_once(log)
        gate = EventGate()
        event_done = asyncio.Event()

        async def event_in_progress() -> None:
            async with gate.holding():
                producer.send_soon(table_write(channel, b"lead:1", b"v1"))
                await event_done.wait()  # its outputs are not all sent yet

        event = asyncio.create_task(event_in_progress())
        await settle()
        early = asyncio.create_task(producer.send_held_early(gate))
        await settle()
        assert log == []  # not while an event that made a write is half done
        event_done.set()
        await settle()
        assert log == ["outputs delivered", "write b'lead:1'=b'v1'"]
        await event
        async with gate.holding():  # an event after the early sending: held for later
            producer.send_soon(table_write(channel, b"lead:2", b"v1"))
        commit = asyncio.create_task(producer.send_held_after_outputs())
        await settle()
        assert not commit.done()  # the early sending is not delivered yet
        assert log[-1] == "outputs delivered"  # and the commit's writes wait behind it
        for delivery in list(channel.deliveries):
            delivery.set_result(None)
        await settle()
        channel.deliveries[-1].set_result(None)
        await commit
        assert early.done()
        return log

    assert run(main) == [
        "outputs delivered",
        "write b'lead:1'=b'v1'",
        "outputs delivered",
        "write b'lead:2'=b'v1'",
    ]


def test_nothing_held_means_nothing_sent_early() -> None:
    async def main() -> list[str]:
        log: list[str] = []
        producer = ProducerWithoutBroker(log, asyncio.Event())  # a flush would never end
        await producer.send_held_early(EventGate())
        return log

    assert run(main) == []
