"""The broker stopped for 20 s in the middle of a stream, then started again: the worker
recovers by itself (it is never restarted) and nothing is lost.

This test runs its own broker (a ``LocalKafka`` in the test's directory, on ports of its own)
whatever ``KAFKA_BOOTSTRAP_SERVERS`` says, since it has to stop it: the broker is stopped
with its data kept, and started again on the same state directory and ports once the outage
has lasted :data:`OUTAGE_SECONDS`. Generated changes are published at a steady rate
throughout (the producer retries what the outage refuses), and every input must then come
out on ``crm.enriched`` or ``crm.deadletter``, repeats counted.

Events: ``CRMSTREAM_FAULT_EVENTS`` (default 2,000).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from streams.deployment import Deployment
from streams.generator import CrmSimulation
from streams.local_kafka import LocalKafka
from streams.ports import free_port
from streams.worker_process import WorkerProcess, wait_until_ready
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
SEED = 4242
PUBLISH_RATE = 250.0
STOP_AT = 0.3  # share of the outputs out when the broker stops
OUTAGE_SECONDS = 20.0
MAX_LOG_LINES_PER_SECOND = 10  # during the outage; before the limiter, about 3,500


def log_lines(worker: WorkerProcess) -> int:
    return len(worker.log_path.read_bytes().splitlines())


def outage(broker: LocalKafka, worker: WorkerProcess) -> float:
    """Stop the broker (its data kept), wait out the outage, start it again; the outage's
    length in seconds, from the broker gone to it answering again."""
    broker.stop(timeout=60)
    gone_at = time.monotonic()
    time.sleep(OUTAGE_SECONDS)
    assert worker.returncode is None, f"the worker died with the broker:\n{worker.log_tail()}"
    broker.start(timeout=120)
    return time.monotonic() - gone_at


@pytest.mark.timeout(int(900 + 2 * patience(EVENTS)))
def test_a_worker_rides_out_a_20_s_broker_outage_and_loses_nothing(
    isolated_names: tuple[str, str], tmp_path: Path
) -> None:
    port = free_port()
    broker = LocalKafka(tmp_path / "broker", port=port, controller_port=free_port(exclude={port}))
    bootstrap = broker.start(timeout=120)
    started = time.monotonic()
    try:
        deployment = Deployment.create(bootstrap, isolated_names, tmp_path, topic_partitions="4")
        events = list(CrmSimulation(seed=SEED).events(EVENTS))
        expectation = Expectation.of(event.value for event in events)
        worker = fault_worker(deployment, "worker.log")
        try:
            worker.start()
            wait_until_ready([worker])
            publisher = BackgroundPublisher(events, deployment, rate=PUBLISH_RATE).start()
            stop_at = int(STOP_AT * expectation.total)
            out_at_stop = wait_for_outputs(
                deployment, stop_at, timeout=patience(EVENTS), workers=[worker]
            )
            lines_before = log_lines(worker)
            seconds_down = outage(broker, worker)
            lines_during = log_lines(worker) - lines_before
            sent = publisher.join(timeout=patience(EVENTS)).sent
            outputs = collect(deployment, expectation, timeout=patience(EVENTS))
            still_running = worker.returncode is None
            exit_code = worker.stop(timeout=60)
        finally:
            worker.stop()
    finally:
        broker.stop()
    seconds = time.monotonic() - started

    enriched = outputs.enriched()
    outputs.report("broker down 20 s mid-stream", sent=sent, seconds=seconds)
    print(
        f"  broker stopped with {out_at_stop} outputs out, down {seconds_down:.0f} s, "
        f"{lines_during} log lines meanwhile; changes "
        f"applied twice {len(applied_twice(enriched))}, records missing a change "
        f"{len(state_gaps(enriched))}, changes whose applied record never came "
        f"{applied_unannounced(enriched)}"
    )
    assert still_running, "the worker recovers by itself, without a restart"
    assert lines_during < MAX_LOG_LINES_PER_SECOND * seconds_down, "the log is flooded"
    assert exit_code == 0, worker.log_tail()
    assert outputs.lost == 0, f"lost outputs, e.g. {outputs.missing_examples()}"
    assert outputs.unexpected == 0
    gaps = state_gaps(enriched)
    assert gaps == [], f"record state lost: {gaps[:5]}"
