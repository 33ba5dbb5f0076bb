"""10,000 mutated and random payloads through the real ingest path: nothing crashes, nothing
is lost. Each message comes out enriched, dead-lettered with a reason, or counted as skipped."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

import orjson
import pytest
from kafka import KafkaProducer

from schemas.envelopes import parse_message
from schemas.errors import ErrorCode, InvalidChange
from streams.deployment import Deployment
from streams.topics import Topic
from tests.test_envelopes_examples import MAPPING, mutated_example
from tests.test_formats_e2e import MAPPING_FILE

pytestmark = pytest.mark.kafka

MUTATED, RANDOM = 8_000, 2_000
MAX_BYTES = 64 * 1024


def payloads(seed: int) -> list[bytes]:
    rng = random.Random(seed)
    mutated = [mutated_example(rng) for _ in range(MUTATED)]
    noise = [rng.randbytes(rng.randrange(0, 300)) for _ in range(RANDOM)]
    return mutated + noise


def expected_outcome(raw: bytes) -> tuple[int, bool, str | None]:
    """(changes it yields, dead-lettered?, skip reason) as the pure code decides it."""
    try:
        parsed = parse_message(raw, source_format=None, mapping=MAPPING, max_bytes=MAX_BYTES)
    except InvalidChange:
        return 0, True, None
    return sum(len(c.expand_merge()) for c in parsed.changes), False, parsed.skipped


def test_fuzzed_payloads_are_each_enriched_parked_or_skipped(
    kafka_bootstrap: str, isolated_names: tuple[str, str], tmp_path: Path
) -> None:
    mapping_file = tmp_path / "mapping.toml"
    mapping_file.write_text(MAPPING_FILE)
    deployment = Deployment.create(
        kafka_bootstrap,
        isolated_names,
        tmp_path,
        topic_partitions="1",  # one partition: offsets identify inputs
        max_message_bytes=str(MAX_BYTES),
        field_mapping_file=str(mapping_file),
    )
    changes = deployment.topic(Topic.CHANGES)
    sent = payloads(seed=2026)
    outcomes = [expected_outcome(raw) for raw in sent]
    expected_outputs = sum(n for n, _, _ in outcomes) + sum(parked for _, parked, _ in outcomes)
    expected_skips = Counter(reason for _, _, reason in outcomes if reason)

    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, linger_ms=20)
    for raw in sent:
        producer.send(changes, value=raw)
    producer.flush()

    with deployment.worker() as worker:
        records = deployment.read_outputs(expected=expected_outputs, timeout=300)
        metrics = deployment.metrics()
        assert worker.returncode is None, "the worker must survive the fuzz"
        assert worker.stop() == 0, worker.log_tail()

    outputs_by_offset: Counter[int] = Counter()
    parked_offsets = set()
    for record in records:
        value = orjson.loads(record.value)
        position = value["source_position"]
        assert position["topic"] == changes, "no change failed inside the pipeline"
        outputs_by_offset[position["offset"]] += 1
        if record.topic.endswith(Topic.DEADLETTER):
            assert value["errors"], "every dead letter says why"
            assert value["errors"][0]["code"] != ErrorCode.PROCESSING_FAILED
            parked_offsets.add(position["offset"])

    for offset, (changes_count, parked, skipped) in enumerate(outcomes):
        if parked:
            assert offset in parked_offsets
        elif skipped is None:
            assert outputs_by_offset[offset] == changes_count, f"input at offset {offset}"
    assert len(records) == expected_outputs
    for reason, count in expected_skips.items():
        assert metrics[f'crmstream_messages_skipped_total{{reason="{reason}"}}'] == count
    assert metrics["crmstream_events_consumed_total"] == len(sent)
    print(
        f"fuzz: sent {len(sent)} messages; enriched records {len(records) - len(parked_offsets)}, "
        f"parked messages {len(parked_offsets)}, skipped messages {sum(expected_skips.values())}"
    )
