"""A worker killed with ``kill -9`` in the middle of a stream, then restarted: nothing lost.

Through a real broker: generated CRM changes are published at a steady rate while a worker
enriches them; once about 40% of the outputs are out the worker is killed with SIGKILL (no
shutdown, no last commit) and a new one started on the same deployment while publishing goes
on. Every input must then be accounted for on ``crm.enriched`` or ``crm.deadletter``: nothing
lost, repeats only as at-least-once allows (counted), no change missing from its record's
state, and the state the crash could have lost restored from Kafka: the record table (a
record updated after the restart merges onto its pre-crash state), the duplicate index (a
duplicate of a pre-crash record is still found) and the outcome model (checkpoint versions
and label counts go on from the last checkpoint before the kill).

Events: ``CRMSTREAM_FAULT_EVENTS`` (default 2,000, about a minute and a half a scenario here;
the issue's 100,000 by hand:
``CRMSTREAM_FAULT_EVENTS=100000 pytest -s tests/test_faults_crash_e2e.py -k kill_9_mid``).
"""

from __future__ import annotations

import signal
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from kafka import KafkaProducer

from streams.deployment import Deployment
from streams.generator import CrmSimulation
from streams.topic_reader import end_offsets, read_until
from streams.topic_snapshot import read_topic_to_end
from streams.topics import Topic
from streams.worker_process import wait_until_ready
from tests.faults import (
    BackgroundPublisher,
    Expectation,
    Outputs,
    applied_twice,
    applied_unannounced,
    collect,
    enriched_identity,
    fault_events,
    fault_worker,
    identity_of,
    native_change,
    patience,
    state_gaps,
    wait_for_outputs,
)

pytestmark = pytest.mark.kafka

EVENTS = fault_events()
SEED = 909
PUBLISH_RATE = 250.0  # events/s: faster than one worker, so the crash meets a backlog too
KILL_AT = 0.4  # share of the outputs out when the worker is killed
CHECKPOINT_LABELS = 10

ADA = {
    "first_name": "Ada",
    "last_name": "Lovelace",
    "email": "ada.lovelace@analytical-engines.example",
    "phone": "+44 20 7946 0958",
    "mailing_country": "GB",
}


def send(deployment: Deployment, *messages: tuple[bytes, bytes]) -> None:
    producer = KafkaProducer(bootstrap_servers=deployment.bootstrap, acks="all")
    for key, value in messages:
        producer.send(deployment.topic(Topic.CHANGES), key=key, value=value)
    producer.flush()
    producer.close()


def lead_checkpoints(deployment: Deployment) -> list[dict[str, Any]]:
    """The headers of the lead model's checkpoints on ``crm.models``, oldest first, read to
    the topic's current end."""
    # Every 10 labels a checkpoint of ~130 kB: hundreds of MB after 100,000 events.
    messages = read_topic_to_end(
        deployment.bootstrap, deployment.topic(Topic.MODELS), timeout=patience(EVENTS)
    )
    headers: list[dict[str, Any]] = []
    for _, value in messages:
        magic, _, header = (value or b"").split(b"\n", 1)[0].partition(b" ")
        assert magic == b"crmstream-checkpoint"
        headers.append(orjson.loads(header))
    return [header for header in headers if header["model"] == "lead_score"]


UPDATED = enriched_identity(b"contact:fault-c1", "fault-c1-title")
CREATED = enriched_identity(b"contact:fault-c2", "fault-c2-create")
PAIR = ("pair", "fault-c2 fault-c1")


def after_restart(deployment: Deployment, at: datetime) -> dict[Any, dict[str, Any]]:
    """Probes of the restored state: the pre-crash contact updated, and a duplicate of it
    created. Returns what came of them (``UPDATED``, ``CREATED``, ``PAIR``) within a
    minute, for the test to judge."""
    topics = [deployment.topic(Topic.ENRICHED), deployment.topic(Topic.DUPLICATES)]
    start = end_offsets(deployment.bootstrap, topics)
    send(
        deployment,
        native_change("fault-c1", "fault-c1-title", at, op="update", title="Countess"),
        native_change("fault-c2", "fault-c2-create", at + timedelta(seconds=1), **ADA),
    )
    found: dict[Any, dict[str, Any]] = {}

    def take(batch: Sequence[Any]) -> bool:
        for record in batch:
            if record.topic == deployment.topic(Topic.DUPLICATES):
                pair = orjson.loads(record.value)
                ids = f"{pair['record']['entity_id']} {pair['other']['entity_id']}"
                found[("pair", ids)] = pair
            else:
                found[identity_of(record)] = orjson.loads(record.value)
        return {UPDATED, CREATED, PAIR} <= set(found)

    read_until(
        deployment.bootstrap,
        topics,
        take,
        timeout=60,
        start=start,
        settle=0.0,
    )
    return found


@dataclass(frozen=True)
class CrashRun:
    """What a run with a crash left: the outputs and the probes of the state."""

    deployment: Deployment
    outputs: Outputs
    sent: int
    outputs_at_kill: int
    killed_at: datetime
    checkpoints: list[dict[str, Any]]  # of lead_score on crm.models, at the end
    probes: dict[Any, dict[str, Any]]  # what came of after_restart's probes
    exit_code: int  # of the restarted worker, stopped gracefully
    log_tail: str
    seconds: float

    def report(self, scenario: str) -> None:
        enriched = self.outputs.enriched()
        self.outputs.report(scenario, sent=self.sent, seconds=self.seconds)
        before, after = self.checkpoints_around_the_kill()
        print(
            f"  killed with {self.outputs_at_kill} outputs out; changes applied twice "
            f"{len(applied_twice(enriched))}, records missing a change "
            f"{len(state_gaps(enriched))}, changes whose applied record never came "
            f"{applied_unannounced(enriched)};"
            f" lead_score checkpoints (version, labels) before the kill "
            f"{[(c['version'], c['labels']) for c in before][-3:]}, after "
            f"{[(c['version'], c['labels']) for c in after][:3]}"
        )

    def checkpoints_around_the_kill(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """The checkpoints written before the kill (by the killed worker) and after."""
        before = [
            c for c in self.checkpoints if datetime.fromisoformat(c["written_at"]) <= self.killed_at
        ]
        return before, [c for c in self.checkpoints if c not in before]


def crash_mid_stream(
    bootstrap: str, names: tuple[str, str], workdir: Path, *, guarantee: str
) -> CrashRun:
    """The scenario: a worker killed mid-stream, a new one started, publishing going on.
    Outputs are read committed, as every downstream reader of an exactly-once deployment
    must read them (``streams.topic_reader``)."""
    deployment = Deployment.create(
        bootstrap,
        names,
        workdir,
        processing_guarantee=guarantee,
        topic_partitions="4",
        model_min_labels=str(CHECKPOINT_LABELS),
        model_checkpoint_labels=str(CHECKPOINT_LABELS),
        model_checkpoint_seconds="3600",  # only the label count triggers: an exact interval
        model_promote_on_drift="false",  # a promotion would change the label counts
    )
    events = list(CrmSimulation(seed=SEED).events(EVENTS))
    expectation = Expectation.of(event.value for event in events)
    probe_at = datetime.now(UTC) - timedelta(hours=1)
    probe = native_change("fault-c1", "fault-c1-create", probe_at, **ADA)
    expectation.add(probe[1])
    started = time.monotonic()

    first = fault_worker(deployment, "worker-1.log")
    second = fault_worker(deployment, "worker-2.log")
    publisher = BackgroundPublisher(events, deployment, rate=PUBLISH_RATE)
    try:
        first.start()
        wait_until_ready([first])
        send(deployment, probe)  # first on its partition: enriched long before the crash
        publisher.start()
        kill_at = int(KILL_AT * expectation.total)
        outputs_at_kill = wait_for_outputs(
            deployment, kill_at, timeout=patience(EVENTS), workers=[first]
        )
        killed_at = datetime.now(UTC)
        assert first.kill() == -signal.SIGKILL
        second.start()
        sent = publisher.join(timeout=patience(EVENTS)).sent
        outputs = collect(deployment, expectation, timeout=patience(EVENTS))
        checkpoints_after = lead_checkpoints(deployment)
        probes = after_restart(deployment, probe_at + timedelta(minutes=5))
        exit_code = second.stop(timeout=60)
    finally:
        first.stop()
        second.stop()
    return CrashRun(
        deployment=deployment,
        outputs=outputs,
        sent=sent + 1,
        outputs_at_kill=outputs_at_kill,
        killed_at=killed_at,
        checkpoints=checkpoints_after,
        probes=probes,
        exit_code=exit_code,
        log_tail=second.log_tail(),
        seconds=time.monotonic() - started,
    )


def assert_state_restored(run: CrashRun) -> None:
    """The record table, the duplicate index and the outcome model came back after the crash."""
    assert {UPDATED, CREATED, PAIR} <= set(run.probes), f"probes lost: {sorted(run.probes)}"
    updated, created, pair = run.probes[UPDATED], run.probes[CREATED], run.probes[PAIR]
    # The record table: the update merges onto the record as it stood before the crash.
    assert updated["merge_outcome"] == "applied"
    assert updated["record"]["changes_applied"] == 2
    fields = updated["record"]["fields"]
    assert (fields["first_name"], fields["last_name"], fields["title"]) == (
        "Ada",
        "Lovelace",
        "Countess",
    )
    assert fields["email"] == ADA["email"]
    # The duplicate index: a record created after the restart meets one indexed before it.
    assert (pair["decision"], pair["other"]["entity_id"]) == ("duplicate", "fault-c1")
    assert created["duplicates"]["duplicate_of"] == {
        "entity_type": "contact",
        "entity_id": "fault-c1",
    }
    # The outcome model: the restarted learner goes on from the last checkpoint a commit
    # covered.
    written_before, written_after = run.checkpoints_around_the_kill()
    assert written_before, "a checkpoint before the crash, to resume from"
    assert written_after, "the restarted worker learned on and checkpointed"
    last_before = max(written_before, key=lambda c: c["version"])
    # A checkpoint's table write leaves with the commit that covers its labels: one made
    # after the last commit before the kill is lost with it, its labels come again, and it
    # is made again from them, with the same version and count.
    assert written_after[0]["version"] <= last_before["version"] + 1
    assert max(c["version"] for c in written_after) > last_before["version"]
    # Every checkpoint comes after exactly its share of labels: none lost, none learned twice.
    counts = [(c["version"], c["labels"]) for c in run.checkpoints]
    assert all(labels == version * CHECKPOINT_LABELS for version, labels in counts), counts


@pytest.mark.timeout(int(600 + 3 * patience(EVENTS)))
def test_kill_9_mid_stream_then_restart_loses_nothing_and_restores_state(
    kafka_bootstrap: str, isolated_names: tuple[str, str], tmp_path: Path
) -> None:
    """At least once (the default): repeats allowed (counted), no input and no change to a
    record's state lost."""
    run = crash_mid_stream(kafka_bootstrap, isolated_names, tmp_path, guarantee="at_least_once")
    run.report("kill -9 and restart, at_least_once")
    outputs = run.outputs

    assert run.exit_code == 0, run.log_tail
    assert outputs.lost == 0, f"lost outputs, e.g. {outputs.missing_examples()}"
    assert outputs.unexpected == 0
    gaps = state_gaps(outputs.enriched())
    assert gaps == [], f"record state lost in the crash: {gaps[:5]}"
    assert_state_restored(run)


@pytest.mark.timeout(int(600 + 3 * patience(EVENTS)))
def test_kill_9_mid_stream_under_exactly_once_each_input_comes_out_once(
    kafka_bootstrap: str, isolated_names: tuple[str, str], tmp_path: Path
) -> None:
    """Exactly once: read with read_committed, nothing lost, nothing repeated, and no change
    applied to its record twice; what the killed worker had not committed is aborted."""
    run = crash_mid_stream(kafka_bootstrap, isolated_names, tmp_path, guarantee="exactly_once")
    run.report("kill -9 and restart, exactly_once")
    outputs = run.outputs

    assert run.exit_code == 0, run.log_tail
    assert outputs.lost == 0, f"lost outputs, e.g. {outputs.missing_examples()}"
    assert outputs.duplicated == 0
    assert outputs.unexpected == 0
    enriched = outputs.enriched()
    assert applied_twice(enriched) == {}
    assert state_gaps(enriched) == []
    assert applied_unannounced(enriched) == 0
    assert_state_restored(run)
    # No checkpoint is remade: one made after the last commit was aborted with its labels.
    versions = [c["version"] for c in run.checkpoints]
    assert versions == sorted(set(versions)), versions
