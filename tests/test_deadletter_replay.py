"""Replaying dead letters through a real broker: exact bytes back, each letter only once."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from kafka import KafkaProducer

from schemas.errors import ErrorCode, ErrorDetail
from schemas.outbound import DeadLetter, SourcePosition
from streams.deadletter_replay import REPLAYED_FROM_HEADER, replay_dead_letters
from streams.kafka_admin import ensure_topics
from streams.topic_reader import read_records
from streams.topics import TopicSpec

pytestmark = pytest.mark.kafka
NOW = datetime(2026, 11, 23, tzinfo=UTC)


def letter(value: bytes | None, code: ErrorCode, *, keep: int = 1024) -> bytes:
    position = SourcePosition(topic="source", partition=0, offset=1)
    errors = [ErrorDetail(code, "test")]
    return DeadLetter.of(errors, value, b"k1", position, NOW, keep_bytes=keep).to_json()


def test_replay_resubmits_exact_originals_once_and_skips_what_cannot_be_replayed(
    kafka_bootstrap: str, isolated_names: tuple[str, str]
) -> None:
    prefix, app_id = isolated_names
    deadletters, target = f"{prefix}deadletter", f"{prefix}replayed"
    ensure_topics(kafka_bootstrap, [TopicSpec(deadletters, 2, 1), TopicSpec(target, 1, 1)])
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap)
    originals = [b'{"entity_type": "lead"}', b"\xff\xfe not utf-8", b"{oops"]
    for original in originals:
        producer.send(deadletters, letter(original, ErrorCode.MALFORMED_JSON))
    producer.send(deadletters, letter(None, ErrorCode.EMPTY_MESSAGE))
    producer.send(deadletters, letter(b"x" * 4000, ErrorCode.OVERSIZED, keep=100))
    producer.send(deadletters, letter(b'{"op": "upsert"}', ErrorCode.UNKNOWN_OP))
    producer.flush()

    group = f"{app_id}-deadletter-replay"
    common = {"bootstrap_servers": kafka_bootstrap, "deadletter_topic": deadletters}
    dry = replay_dead_letters(
        **common, group_id=group, to_topic=target, dry_run=True, codes=["malformed_json"]
    )
    assert dry.resubmitted == {target: 3}
    assert dry.filtered_out == 3

    first = replay_dead_letters(**common, group_id=group, to_topic=target)
    assert first.read == 6
    assert first.resubmitted == {target: 4}
    assert first.not_replayable == {"tombstone": 1, "truncated": 1}

    replayed = read_records(kafka_bootstrap, [target], expected=4, timeout=30, settle=1)
    assert sorted(r.value for r in replayed) == sorted([*originals, b'{"op": "upsert"}'])
    assert {r.key for r in replayed} == {b"k1"}
    assert all(
        dict(r.headers)[REPLAYED_FROM_HEADER].startswith(deadletters.encode()) for r in replayed
    )

    second = replay_dead_letters(**common, group_id=group, to_topic=target)
    assert second.read == 0, "a second run must not re-submit what the first one did"
