"""Near duplicates through a real broker: worker count does not change the pairs, reviewers'
verdicts reach both records and the model, enriched records carry the verdict."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from kafka import KafkaProducer

from bench.dedup_quality import generated_truth, run_stream, score
from models.matching.evaluation import coexisting
from schemas.duplicates import Decision, DuplicateEvent
from streams.deployment import Deployment
from streams.topic_reader import read_records
from streams.topics import Topic

pytestmark = pytest.mark.kafka

EVENTS = 6_000
SEED = 20240611


def test_two_workers_find_the_same_pairs_as_one(kafka_bootstrap: str, tmp_path: Path) -> None:
    """The whole input as a backlog: partitions interleave differently in each run."""
    two = run_stream(kafka_bootstrap, tmp_path, events=EVENTS, seed=SEED, workers=2)
    one = run_stream(kafka_bootstrap, tmp_path, events=EVENTS, seed=SEED, workers=1)
    truth = generated_truth(SEED, EVENTS)
    quality = score(one, truth)
    # A pair across a delete (a record made after the other was deleted) may be called for
    # a moment when the create overtakes the delete, then withdrawn: compare the others.
    coexisted = coexisting(truth.lifetimes)
    print(
        f"\n{len(one.pairs(Decision.DUPLICATE))} duplicate and {len(one.pairs(Decision.POSSIBLE))}"
        f" possible pairs; precision {quality.precision:.3f} recall {quality.recall:.3f}"
        f" of {quality.true_pairs} true pairs; {one.seconds:.0f} s one worker,"
        f" {two.seconds:.0f} s two"
    )
    assert two.pairs(Decision.DUPLICATE) == one.pairs(Decision.DUPLICATE)
    assert two.pairs(Decision.POSSIBLE) == one.pairs(Decision.POSSIBLE)
    assert set(filter(coexisted, two.ever_duplicate)) == set(filter(coexisted, one.ever_duplicate))
    assert quality.precision >= 0.98
    assert quality.recall >= 0.85  # a backlog; measured in real time by bench.dedup_quality


def test_reviewer_verdict_reaches_both_records_and_the_model(
    kafka_bootstrap: str, isolated_names: tuple[str, str], tmp_path: Path
) -> None:
    deployment = Deployment.create(kafka_bootstrap, isolated_names, tmp_path)
    ada = {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@analytical.io"}

    def change(entity_id: str, minute: int, **fields: str) -> bytes:
        return orjson.dumps(
            {
                "event_id": f"{entity_id}-{minute}",
                "entity_type": "contact",
                "entity_id": entity_id,
                "op": "create" if minute < 3 else "update",
                "occurred_at": f"2026-11-01T10:0{minute}:00Z",
                "source": "test",
                "fields": fields,
            }
        )

    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap)
    duplicates = deployment.topic(Topic.DUPLICATES)
    with deployment.worker():
        producer.send(deployment.topic(Topic.CHANGES), key=b"c1", value=change("c1", 1, **ada))
        producer.flush()
        deployment.read_outputs(expected=1, timeout=90)
        producer.send(deployment.topic(Topic.CHANGES), key=b"c2", value=change("c2", 2, **ada))
        producer.flush()
        found = read_records(kafka_bootstrap, [duplicates], expected=1, timeout=60)
        verdict = {
            "record": {"entity_type": "contact", "entity_id": "c2"},
            "other": {"entity_type": "contact", "entity_id": "c1"},
            "verdict": "rejected",
        }
        producer.send(deployment.topic(Topic.FEEDBACK), key=b"c2", value=orjson.dumps(verdict))
        producer.send(deployment.topic(Topic.FEEDBACK), key=b"c2", value=b"not a verdict")
        producer.flush()
        events = read_records(kafka_bootstrap, [duplicates], expected=2, timeout=60)
        producer.send(
            deployment.topic(Topic.CHANGES), key=b"c2", value=change("c2", 5, city="London")
        )
        producer.flush()
        outputs = deployment.read_outputs(expected=4, timeout=60)
        metrics = deployment.metrics()
    producer.close()

    first = DuplicateEvent.model_validate_json(found[0].value)
    assert (first.record.entity_id, first.other.entity_id) == ("c2", "c1")
    assert first.decision is Decision.DUPLICATE
    assert first.similarities == {"first_name": 1.0, "last_name": 1.0, "email": 1.0}
    assert first.cluster_id.entity_id == "c1"
    rejected = DuplicateEvent.model_validate_json(events[-1].value)
    assert (rejected.decision, rejected.source) == (Decision.DISTINCT, "feedback")

    enriched = [orjson.loads(r.value) for r in outputs if r.topic.endswith(Topic.ENRICHED)]
    c2 = [record for record in enriched if record["change"]["entity_id"] == "c2"]
    assert c2[0]["duplicates"]["duplicate_of"] == {"entity_type": "contact", "entity_id": "c1"}
    assert c2[-1]["duplicates"]["duplicate_of"] is None, "the reviewer's verdict holds"
    parked = [orjson.loads(r.value) for r in outputs if r.topic.endswith(Topic.DEADLETTER)]
    assert len(parked) == 1, "a malformed verdict is parked, not dropped"
    assert metrics["crmstream_matcher_feedback_labels"] == 1.0
    assert metrics['crmstream_feedback_verdicts_total{verdict="rejected"}'] == 1.0


def test_rocksdb_tables_keep_the_index_across_a_restart(
    kafka_bootstrap: str, isolated_names: tuple[str, str], tmp_path: Path
) -> None:
    """CRMSTREAM_TABLE_STORE=rocksdb: the blocks live on disk, and a record sent after a
    restart still meets one indexed before it."""
    deployment = Deployment.create(kafka_bootstrap, isolated_names, tmp_path, table_store="rocksdb")
    ada = {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@analytical.io"}
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap)

    def send(entity_id: str, minute: int) -> None:
        change = {
            "event_id": f"{entity_id}-{minute}",
            "entity_type": "contact",
            "entity_id": entity_id,
            "op": "create",
            "occurred_at": f"2026-11-01T10:0{minute}:00Z",
            "source": "test",
            "fields": ada,
        }
        producer.send(
            deployment.topic(Topic.CHANGES), key=entity_id.encode(), value=orjson.dumps(change)
        )
        producer.flush()

    with deployment.worker("worker-1.log"):
        send("c1", 1)
        deployment.read_outputs(expected=1, timeout=90)
    stores = list((tmp_path / "worker-data").rglob("*.db"))
    assert any("blocks" in store.name for store in stores), stores
    with deployment.worker("worker-2.log"):
        send("c2", 2)
        found = read_records(
            kafka_bootstrap, [deployment.topic(Topic.DUPLICATES)], expected=1, timeout=90
        )
    producer.close()

    pair = DuplicateEvent.model_validate_json(found[0].value)
    assert (pair.record.entity_id, pair.other.entity_id) == ("c2", "c1")
    assert pair.decision is Decision.DUPLICATE
