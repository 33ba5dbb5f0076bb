"""End to end through a real broker: generated CRM changes in, every one accounted for out.

A ``crmstream worker`` subprocess consumes what the generator publishes; the test reads
``crm.enriched`` and ``crm.deadletter`` back and checks that each input came out exactly
once, in the right place, with the right reason, and that the worker stops cleanly.
"""

from __future__ import annotations

import base64
import hashlib
from collections import Counter
from pathlib import Path

import orjson
import pytest
from kafka import KafkaProducer

from streams.deployment import Deployment
from streams.generator import CrmSimulation, GeneratedEvent
from streams.publish import publish_events
from streams.topics import Topic

pytestmark = pytest.mark.kafka

EVENT_COUNT = 5_000
MAX_MESSAGE_BYTES = 64 * 1024


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_every_generated_event_is_enriched_or_parked_exactly_once(
    kafka_bootstrap: str, isolated_names: tuple[str, str], tmp_path: Path
) -> None:
    deployment = Deployment.create(
        kafka_bootstrap,
        isolated_names,
        tmp_path,
        topic_partitions="3",
        max_message_bytes=str(MAX_MESSAGE_BYTES),
    )
    changes = deployment.topic(Topic.CHANGES)

    simulation = CrmSimulation(seed=11)
    events: list[GeneratedEvent] = list(simulation.events(EVENT_COUNT))
    invalid = [event for event in events if event.expected_error is not None]
    valid_ids = Counter(event.event_id for event in events if event.expected_error is None)
    assert len(invalid) >= 50, "the generator should mix in invalid events"

    # Two inputs the generator never makes: a tombstone (counted as skipped, not parked) and a
    # message beyond the size limit.
    oversized = b'{"padding": "' + b"x" * (MAX_MESSAGE_BYTES * 2) + b'"}'
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, max_request_size=4 * 1_048_576)
    producer.send(changes, key=b"contact:gone", value=None)
    producer.send(changes, key=b"huge", value=oversized)
    producer.flush()
    producer.close()

    with deployment.worker() as worker:
        report = publish_events(
            events, bootstrap_servers=kafka_bootstrap, topic=changes, rate=None, progress=False
        )
        assert report.sent == EVENT_COUNT
        records = deployment.read_outputs(expected=EVENT_COUNT + 1, timeout=180)
        metrics = deployment.metrics()
        exit_code = worker.stop(timeout=60)
        log_tail = worker.log_tail()

    assert exit_code == 0, f"worker did not stop cleanly:\n{log_tail}"
    assert "Traceback" not in (tmp_path / "worker.log").read_text(), log_tail

    enriched = [orjson.loads(r.value) for r in records if r.topic.endswith(Topic.ENRICHED)]
    parked = [orjson.loads(r.value) for r in records if r.topic.endswith(Topic.DEADLETTER)]

    enriched_ids = Counter(record["change"]["event_id"] for record in enriched)
    assert enriched_ids == valid_ids, "each valid event is enriched exactly once"
    for record, key in (
        (orjson.loads(r.value), r.key) for r in records if r.topic.endswith(Topic.ENRICHED)
    ):
        change = record["change"]
        assert key == f"{change['entity_type']}:{change['entity_id']}".encode()
        assert record["merge_outcome"] == "applied", "the generator never redelivers"
        assert 0.0 <= record["quality"]["completeness"] <= 1.0

    parked_by_value = Counter(
        sha256(base64.b64decode(record["original_value_b64"]))
        for record in parked
        if record["original_value_b64"] is not None and not record["original_truncated"]
    )
    expected_parked = Counter(sha256(event.value) for event in invalid)
    assert parked_by_value == expected_parked, "each invalid event is parked exactly once"

    codes_by_value = {
        sha256(base64.b64decode(record["original_value_b64"])): {
            e["code"] for e in record["errors"]
        }
        for record in parked
        if record["original_value_b64"] is not None and not record["original_truncated"]
    }
    for event in invalid:
        assert event.expected_error is not None
        assert event.expected_error.value in codes_by_value[sha256(event.value)]

    [huge] = [record for record in parked if record["original_truncated"]]
    assert huge["errors"][0]["code"] == "oversized"
    assert huge["original_size"] == len(oversized)
    assert huge["source_position"]["topic"] == changes
    assert len(records) == EVENT_COUNT + 1, "nothing beyond the inputs came out"
    assert metrics['crmstream_messages_skipped_total{reason="tombstone"}'] == 1
    assert metrics["crmstream_events_consumed_total"] == EVENT_COUNT + 2
