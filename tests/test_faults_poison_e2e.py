"""Poison and oversized messages never stall a partition, and no agent crash-loops.

``tests/test_fuzz_e2e.py`` already sends 10,000 mutated and random payloads as a backlog on
one partition and accounts for each (enriched, parked or skipped; never parked as an
internal failure); ``tests/test_pipeline_e2e.py`` parks a message beyond the size limit.
What they leave out, tested here through a real broker:

- poison arriving while the worker runs, in the middle of one partition, with good changes
  after each: all come out, each poison is parked with its code and counted by code in
  ``crmstream_dead_letters_total`` (what the ``CrmstreamDeadLetterRate`` alert reads);
- an accepted message as large as the inbound limit allows, whose outputs (the routed change,
  the enriched record with the change and the record, the record's state) are larger than
  the broker's default message limit: it comes out too, and so do its neighbours;
- crmstream's own failures: undecodable messages on each internal topic (what a bug of ours
  or a foreign producer would put there) are parked as ``processing_failed`` from that topic,
  counted, and every agent goes on: none crashes, so none is restarted in a loop. Of a batch
  between agents (``streams.batches``) a broken item is parked alone and the items beside it
  go on; a batch that cannot be unpacked is parked whole.
"""

from __future__ import annotations

import base64
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from kafka import KafkaProducer

from schemas.ingest import ingest_message
from schemas.mapping import DEFAULT_FIELD_MAPPING
from schemas.outbound import SourcePosition
from streams.batches import BATCH_HEADER, pack
from streams.deployment import Deployment
from streams.topic_reader import read_until
from streams.topics import INTERNAL_TOPICS, Topic
from streams.worker_process import WorkerProcess, wait_until_ready
from tests.faults import Expectation, collect, native_change

pytestmark = pytest.mark.kafka

SMALL_LIMIT = 64 * 1024
AT = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)

# Each poison with the code it must be parked with.
POISON: list[tuple[bytes, str]] = [
    (b'{"event_id": "p1", "entity_type": "contact"', "malformed_json"),
    (b"\xff\xfe\x00 not utf-8", "invalid_utf8"),
    (b"[1, 2, 3]", "not_an_object"),
    (b'{"hello": "world"}', "unknown_envelope"),
    (b"", "empty_message"),
    (b'{"padding": "' + b"x" * (2 * SMALL_LIMIT) + b'"}', "oversized"),
    (
        orjson.dumps(
            {
                "event_id": "p2",
                "entity_type": "contact",
                "entity_id": "p2",
                "op": "create",
                "occurred_at": "2026-11-20T09:00:00Z",
                "source": "t",
                "fields": ["not", "an", "object"],
            }
        ),
        "wrong_type",
    ),
]


def contact(number: int) -> tuple[bytes, bytes]:
    return native_change(
        f"poison-c{number}",
        f"poison-c{number}-create",
        AT + timedelta(minutes=number),
        first_name="Grace",
        last_name=f"Hopper{number}",
        email=f"grace{number}@navy.example",
    )


def routed(change: tuple[bytes, bytes]) -> tuple[bytes, bytes]:
    """A change as the ingest agent routes it to its record: key and value."""
    key, value = change
    position = SourcePosition(topic="crm.changes", partition=0, offset=0)
    [routed_change] = ingest_message(
        value,
        key,
        position,
        datetime.now(UTC),
        source_format=None,
        mapping=DEFAULT_FIELD_MAPPING,
        max_bytes=1_048_576,
    ).routed
    return routed_change.record_key(), routed_change.to_json()


def no_crash(worker: WorkerProcess) -> None:
    """The worker runs, and no agent crashed (Faust logs ``Crashed reason=`` before its
    supervisor restarts one)."""
    assert worker.returncode is None, worker.log_tail()
    assert "Crashed reason" not in worker.log_path.read_text(errors="replace"), worker.log_tail()


def produce(
    deployment: Deployment,
    messages: list[tuple[str, bytes | None, bytes]],
    headers: list[tuple[str, bytes]] | None = None,
) -> None:
    """(topic, key, value) in this order, acknowledged by the broker."""
    producer = KafkaProducer(
        bootstrap_servers=deployment.bootstrap, acks="all", max_request_size=4 * 1_048_576
    )
    for topic, key, value in messages:
        producer.send(topic, key=key, value=value, headers=headers)
    producer.flush()
    producer.close()


def test_poison_in_the_middle_of_a_partition_is_parked_and_what_follows_comes_out(
    kafka_bootstrap: str, isolated_names: tuple[str, str], tmp_path: Path
) -> None:
    deployment = Deployment.create(
        kafka_bootstrap,
        isolated_names,
        tmp_path,
        topic_partitions="1",  # one partition: each poison sits between good changes
        max_message_bytes=str(SMALL_LIMIT),
    )
    changes = deployment.topic(Topic.CHANGES)
    messages: list[tuple[str, bytes | None, bytes]] = []
    for number, (poison, _) in enumerate(POISON):
        key, value = contact(number)
        messages += [(changes, key, value), (changes, b"poison", poison)]
    messages.append((changes, *contact(len(POISON))))
    expectation = Expectation.of((value for _, _, value in messages), max_bytes=SMALL_LIMIT)
    with deployment.worker() as worker:
        wait_until_ready([worker])
        sent_at = time.monotonic()
        produce(deployment, messages)
        outputs = collect(deployment, expectation, timeout=120, settle=3.0)
        seconds = time.monotonic() - sent_at
        metrics = deployment.metrics()
        no_crash(worker)
        assert worker.stop() == 0, worker.log_tail()

    outputs.report("poison mid-partition", sent=len(messages), seconds=seconds)
    assert outputs.lost == 0, f"lost outputs, e.g. {outputs.missing_examples()}"
    assert outputs.duplicated == 0
    parked = [orjson.loads(r.value) for r in outputs.records if r.topic.endswith("deadletter")]
    codes = Counter(letter["errors"][0]["code"] for letter in parked)
    assert codes == Counter(code for _, code in POISON), "each poison parked once, with its code"
    assert outputs.unexpected == 0
    for code, count in Counter(code for _, code in POISON).items():
        assert metrics[f'crmstream_dead_letters_total{{code="{code}"}}'] == count
    assert metrics["crmstream_events_consumed_total"] == len(messages)


def test_an_accepted_message_larger_than_half_the_limit_comes_out_with_its_neighbours(
    kafka_bootstrap: str, isolated_names: tuple[str, str], tmp_path: Path
) -> None:
    """The default inbound limit (1 MiB) and a 900 kB change: its enriched record holds the
    change and the record, about twice that, beyond the broker's default 1 MiB. It used to
    fail to send, logged as ``FutureMessage exception was never retrieved``, and was lost."""
    deployment = Deployment.create(kafka_bootstrap, isolated_names, tmp_path, topic_partitions="1")
    changes = deployment.topic(Topic.CHANGES)
    big = {
        "event_id": "big-1",
        "entity_type": "contact",
        "entity_id": "big-1",
        "op": "create",
        "occurred_at": AT.isoformat(),
        "source": "t",
        "fields": {"first_name": "Big", "last_name": "Notes"},
        "attributes": {"Notes__c": "n" * 900_000},
    }
    messages = [
        (changes, *contact(1)),
        (changes, b"big-1", orjson.dumps(big)),
        (changes, *contact(2)),
    ]
    expectation = Expectation.of(value for _, _, value in messages)
    with deployment.worker() as worker:
        wait_until_ready([worker])
        produce(deployment, messages)
        outputs = collect(deployment, expectation, timeout=120, quiet=45)
        no_crash(worker)
        log = worker.log_path.read_text(errors="replace")
        assert worker.stop() == 0, worker.log_tail()

    outputs.report("a 900 kB change", sent=len(messages), seconds=0)
    assert outputs.lost == 0, f"lost outputs, e.g. {outputs.missing_examples()}"
    assert "MessageSizeTooLarge" not in log
    [enriched] = [e for e in outputs.enriched() if e["change"]["entity_id"] == "big-1"]
    assert len(enriched["record"]["attributes"]["Notes__c"]) == 900_000


def test_a_record_grown_past_the_limit_parks_its_changes_and_keeps_its_last_state(
    kafka_bootstrap: str, isolated_names: tuple[str, str], tmp_path: Path
) -> None:
    """Each change of one record adds a custom attribute of almost the inbound limit: every
    change is accepted, but the record outgrows what its enriched record and its state may
    weigh (about four times the limit). The changes past that are parked as
    ``result_too_large``, the record keeps its last state, and the worker goes on."""
    deployment = Deployment.create(
        kafka_bootstrap,
        isolated_names,
        tmp_path,
        topic_partitions="1",
        max_message_bytes=str(SMALL_LIMIT),
    )
    changes = deployment.topic(Topic.CHANGES)
    growing: list[tuple[str, bytes | None, bytes]] = [
        (
            changes,
            b"grow-1",
            orjson.dumps(
                {
                    "event_id": f"grow-1-{number}",
                    "entity_type": "contact",
                    "entity_id": "grow-1",
                    "op": "create" if number == 0 else "update",
                    "occurred_at": (AT + timedelta(minutes=number)).isoformat(),
                    "source": "t",
                    "fields": {"first_name": "Ada"},
                    "attributes": {f"Notes_{number}__c": "n" * (SMALL_LIMIT - 1024)},
                }
            ),
        )
        for number in range(24)  # 24 notes of ~63 kB: past the 1 MiB floor of the limit
    ]
    last = contact(1)  # behind them on the one partition: when it is out, so are they
    expectation = Expectation.of([last[1]], max_bytes=SMALL_LIMIT)
    with deployment.worker() as worker:
        wait_until_ready([worker])
        produce(deployment, [*growing, (changes, *last)])
        outputs = collect(deployment, expectation, timeout=120, settle=3.0)
        no_crash(worker)
        assert worker.stop() == 0, worker.log_tail()

    outputs.report("a record grown past the limit", sent=len(growing) + 1, seconds=0)
    assert outputs.lost == 0, "the next record's change came out"
    enriched = [e for e in outputs.enriched() if e["change"]["entity_id"] == "grow-1"]
    parked = [orjson.loads(r.value) for r in outputs.records if r.topic.endswith("deadletter")]
    parked_ids = [
        orjson.loads(base64.b64decode(letter["original_value_b64"]))["change"]["event_id"]
        for letter in parked
    ]
    print(f"  {len(enriched)} changes enriched, then {len(parked)} parked")
    assert enriched, "its first changes came out"
    assert parked, "the record outgrew its limit"
    assert {letter["errors"][0]["code"] for letter in parked} == {"result_too_large"}
    assert "over its limit of" in parked[0]["errors"][0]["message"]
    every_id = [e["change"]["event_id"] for e in enriched] + parked_ids
    assert sorted(every_id) == sorted(f"grow-1-{n}" for n in range(len(growing))), "each once"
    states = [e["record"]["changes_applied"] for e in enriched]
    assert states == list(range(1, len(enriched) + 1)), "the parked ones left the state alone"


def test_internal_failures_are_parked_counted_and_no_agent_crash_loops(
    kafka_bootstrap: str, isolated_names: tuple[str, str], tmp_path: Path
) -> None:
    deployment = Deployment.create(kafka_bootstrap, isolated_names, tmp_path, topic_partitions="2")
    garbage = [
        (deployment.topic(topic), f"garbage-{topic.value}".encode(), b"\x00 not json {")
        for topic in INTERNAL_TOPICS
    ]
    # A batch with a garbage item beside a good routed change, and one cut short.
    good_key, good_value = routed(contact(3))
    beside = pack([(b"garbage-item", b"\x00 not json {"), (good_key, good_value)])
    cut_short = pack([(b"garbage-whole", b"{}")])[:-1]
    batches = [
        (deployment.topic(Topic.ROUTED), good_key, beside),  # to the good change's partition
        (deployment.topic(Topic.MATCH_REQUESTS), b"garbage-whole", cut_short),
    ]
    after = [contact(1), contact(2)]  # through the record and block agents the garbage hit
    with deployment.worker() as worker:
        wait_until_ready([worker])
        produce(deployment, garbage)
        produce(deployment, batches, headers=[(BATCH_HEADER, b"1")])
        produce(deployment, [(deployment.topic(Topic.CHANGES), k, v) for k, v in after])
        letters: list[dict[str, Any]] = []
        enriched: list[dict[str, Any]] = []

        def take(batch: list[Any]) -> bool:
            for record in batch:
                value = orjson.loads(record.value)
                (letters if record.topic.endswith("deadletter") else enriched).append(value)
            return len(letters) >= len(garbage) + 2 and len(enriched) >= len(after) + 1

        read_until(
            deployment.bootstrap,
            [deployment.topic(Topic.DEADLETTER), deployment.topic(Topic.ENRICHED)],
            take,
            timeout=120,
            settle=3.0,
        )
        metrics = deployment.metrics()
        no_crash(worker)
        assert worker.stop() == 0, worker.log_tail()

    print(
        f"[internal failures] {len(garbage)} undecodable messages and {len(batches)} batches "
        f"with a broken item or cut short on internal topics: {len(letters)} parked, "
        f"{len(enriched)} of {len(after) + 1} good changes enriched"
    )
    assert sorted(letter["source_position"]["topic"] for letter in letters) == sorted(
        topic for topic, _, _ in garbage + batches
    ), "one letter per garbage message or item, from its own topic"
    assert {letter["errors"][0]["code"] for letter in letters} == {"processing_failed"}
    assert all(letter["original_value_b64"] for letter in letters), "the bytes, for a replay"
    by_key = {base64.b64decode(letter["original_key_b64"]): letter for letter in letters}
    item = by_key[b"garbage-item"]  # parked alone: its own key and bytes, and its place
    assert item["source_batch_index"] == 0
    assert base64.b64decode(item["original_value_b64"]) == b"\x00 not json {"
    assert by_key[b"garbage-whole"]["source_batch_index"] is None  # parked whole
    assert base64.b64decode(by_key[b"garbage-whole"]["original_value_b64"]) == cut_short
    assert sorted(e["change"]["entity_id"] for e in enriched) == [
        "poison-c1",
        "poison-c2",
        "poison-c3",  # the good item beside the garbage one
    ]
    assert metrics['crmstream_dead_letters_total{code="processing_failed"}'] == len(garbage) + 2
