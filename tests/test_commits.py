"""The pieces of the worker's commits that need no broker: the gate between events and
commits, and the offsets already processed. Through the broker, ``test_faults_crash_e2e``
kills a worker mid-stream and counts every output."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from faust.types import TP

from streams.commits import EventGate, ProcessedOffsets

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


def test_an_offset_handed_over_again_is_new_only_after_its_partition_was_revoked() -> None:
    changes, answers = TP("crm.changes", 0), TP("crm.match.answers", 0)
    processed = ProcessedOffsets()
    taken: list[tuple[str, int]] = []
    # A batch fetched before the start-up seek, then the same partition after it; offset 11
    # was fetched but dropped unprocessed (a rebalance empties Faust's queues).
    for tp, offset in [(changes, o) for o in (7, 8, 9, 7, 8, 9, 10)] + [(answers, 3)]:
        if processed.is_new(tp, offset):
            taken.append((tp.topic, offset))
            processed.processed(tp, offset)
    assert processed.is_new(changes, 11)
    processed.forget([changes])  # revoked: when it comes back, it is read from its commit
    assert processed.is_new(changes, 9)
    assert not processed.is_new(answers, 3)
    assert taken == [
        ("crm.changes", 7),
        ("crm.changes", 8),
        ("crm.changes", 9),
        ("crm.changes", 10),
        ("crm.match.answers", 3),
    ]
