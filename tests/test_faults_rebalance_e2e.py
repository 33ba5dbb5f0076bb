"""Two workers, one joining and one leaving in the middle of a stream: nothing lost, and the
same duplicate verdicts as one worker given the same input.

Through a real broker: generated CRM changes are published at a steady rate; a second worker
joins once about a quarter of the outputs are out (the group rebalances, partitions move with
their tables) and, once both hold partitions, the first one leaves with a graceful stop
(SIGTERM) at about 60% or later (they move again). Every input must come out on
``crm.enriched`` or ``crm.deadletter``, and the pairs on ``crm.duplicates`` must be those one
worker finds on the same input (compared as ``tests/test_duplicates_e2e.py`` does). Under
exactly_once, read committed, nothing may come out twice either.

Events: ``CRMSTREAM_FAULT_EVENTS`` (default 2,000).
"""

from __future__ import annotations

import time
from pathlib import Path

import orjson
import pytest

from bench.dedup_quality import StreamRun, generated_truth, run_stream
from models.matching.evaluation import Pair, coexisting
from schemas.duplicates import Decision
from streams.deployment import Deployment
from streams.generator import CrmSimulation
from streams.topic_reader import read_records, wait_until_quiet
from streams.topics import Topic
from streams.worker_process import wait_until_ready
from tests.faults import (
    BackgroundPublisher,
    Expectation,
    applied_twice,
    applied_unannounced,
    collect,
    fault_events,
    fault_worker,
    patience,
    state_gaps,
    wait_for_outputs,
)

pytestmark = pytest.mark.kafka

EVENTS = fault_events()
SEED = 20240611
# Slow enough that the stream is still going once the second worker is ready (a rebalance
# and its table restore take 10-20 s): the first then leaves mid-stream.
PUBLISH_RATE = 80.0
JOIN_AT, LEAVE_AT = 0.25, 0.6  # shares of the outputs out when a worker joins, then leaves


def decisions(deployment: Deployment, seconds: float, enriched: int) -> StreamRun:
    """Each pair's last decision on ``crm.duplicates``, as ``bench.dedup_quality`` reads it."""
    last: dict[Pair, Decision] = {}
    ever: set[Pair] = set()
    topic = deployment.topic(Topic.DUPLICATES)
    for record in read_records(
        deployment.bootstrap, [topic], expected=1 << 30, timeout=5, settle=0
    ):
        event = orjson.loads(record.value)
        pair = frozenset(
            f"{side['entity_type']}:{side['entity_id']}"
            for side in (event["record"], event["other"])
        )
        last[pair] = Decision(event["decision"])
        if last[pair] is Decision.DUPLICATE:
            ever.add(pair)
    return StreamRun(last, ever, enriched, seconds)


@pytest.mark.timeout(int(900 + 3 * patience(EVENTS)))
@pytest.mark.parametrize("guarantee", ["at_least_once", "exactly_once"])
def test_a_worker_joining_and_one_leaving_mid_stream_lose_nothing_and_change_no_verdict(
    kafka_bootstrap: str, isolated_names: tuple[str, str], tmp_path: Path, guarantee: str
) -> None:
    deployment = Deployment.create(
        kafka_bootstrap, isolated_names, tmp_path / "moving", processing_guarantee=guarantee
    )
    events = list(CrmSimulation(seed=SEED).events(EVENTS))
    expectation = Expectation.of(event.value for event in events)
    started = time.monotonic()
    first = fault_worker(deployment, "worker-1.log")
    second = fault_worker(deployment, "worker-2.log", own_web_port=True)
    try:
        first.start()
        wait_until_ready([first])
        publisher = BackgroundPublisher(events, deployment, rate=PUBLISH_RATE).start()
        at_join = wait_for_outputs(
            deployment, int(JOIN_AT * expectation.total), timeout=patience(EVENTS), workers=[first]
        )
        second.start()
        # Both ready: the second holds partitions and the first gave some up. Without this the
        # first could leave before the second ever joined the group.
        wait_until_ready([first, second], timeout=patience(EVENTS), settle=1.0)
        at_leave = wait_for_outputs(
            deployment,
            int(LEAVE_AT * expectation.total),
            timeout=patience(EVENTS),
            workers=[first, second],
        )
        left_cleanly = first.stop(timeout=60) == 0
        sent = publisher.join(timeout=patience(EVENTS)).sent
        outputs = collect(deployment, expectation, timeout=patience(EVENTS))
        topics = [deployment.topic(Topic.DUPLICATES), deployment.topic(Topic.ENRICHED)]
        assert wait_until_quiet(deployment.bootstrap, topics, quiet=5.0, timeout=120)
        moving = decisions(deployment, time.monotonic() - started, len(outputs.enriched()))
        second_exit = second.stop(timeout=60)
    finally:
        first.stop()
        second.stop()
    one = run_stream(kafka_bootstrap, tmp_path / "one", events=EVENTS, seed=SEED, workers=1)

    enriched = outputs.enriched()
    outputs.report(f"a worker joins, one leaves, {guarantee}", sent=sent, seconds=moving.seconds)
    coexisted = coexisting(generated_truth(SEED, EVENTS).lifetimes)
    differ = {
        decision.value: len(moving.pairs(decision) ^ one.pairs(decision))
        for decision in (Decision.DUPLICATE, Decision.POSSIBLE)
    }
    print(
        f"  joined at {at_join} outputs, left at {at_leave}; "
        f"{len(moving.pairs(Decision.DUPLICATE))} duplicate and "
        f"{len(moving.pairs(Decision.POSSIBLE))} possible pairs, one worker "
        f"{len(one.pairs(Decision.DUPLICATE))} and {len(one.pairs(Decision.POSSIBLE))} "
        f"({one.seconds:.0f} s); pairs that differ {differ}; changes applied twice "
        f"{len(applied_twice(enriched))}, changes whose applied record never came "
        f"{applied_unannounced(enriched)}"
    )
    assert left_cleanly, first.log_tail()
    assert second_exit == 0, second.log_tail()
    assert outputs.lost == 0, f"lost outputs, e.g. {outputs.missing_examples()}"
    assert outputs.unexpected == 0
    assert at_leave < expectation.total, "the first worker left after the stream was done"
    if guarantee == "exactly_once":
        assert outputs.duplicated == 0
        assert applied_twice(enriched) == {}
    gaps = state_gaps(enriched)
    assert gaps == [], f"record state lost: {gaps[:5]}"
    assert moving.pairs(Decision.DUPLICATE) == one.pairs(Decision.DUPLICATE)
    assert moving.pairs(Decision.POSSIBLE) == one.pairs(Decision.POSSIBLE)
    assert set(filter(coexisted, moving.ever_duplicate)) == set(
        filter(coexisted, one.ever_duplicate)
    )
