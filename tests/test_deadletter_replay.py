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


def test_letters_left_by_a_code_filter_stay_replayable_and_none_is_sent_twice(
    kafka_bootstrap: str, isolated_names: tuple[str, str]
) -> None:
    """Fixing one cause at a time: each run with --code re-submits its letters, leaves the
    others for a later run (with other codes, or none), and never re-submits a letter that
    an earlier run did, whichever codes that run named."""
    prefix, app_id = isolated_names
    deadletters, target = f"{prefix}deadletter", f"{prefix}replayed"
    ensure_topics(kafka_bootstrap, [TopicSpec(deadletters, 2, 1), TopicSpec(target, 1, 1)])
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap)
    producer.send(deadletters, letter(b'{"op": "upsert"}', ErrorCode.UNKNOWN_OP))
    producer.send(deadletters, letter(b"{oops", ErrorCode.MALFORMED_JSON))
    producer.send(deadletters, letter(b"{again", ErrorCode.MALFORMED_JSON))
    position = SourcePosition(topic="source", partition=0, offset=2)
    both = [ErrorDetail(ErrorCode.UNKNOWN_OP, "test"), ErrorDetail(ErrorCode.WRONG_TYPE, "test")]
    producer.send(
        deadletters, DeadLetter.of(both, b"{both}", b"k1", position, NOW, keep_bytes=1024).to_json()
    )
    producer.flush()
    common = {
        "bootstrap_servers": kafka_bootstrap,
        "deadletter_topic": deadletters,
        "group_id": f"{app_id}-deadletter-replay",
        "to_topic": target,
    }

    ops = replay_dead_letters(**common, codes=["unknown_op"])
    assert ops.resubmitted == {target: 2}, "the letter with two codes matches either"
    assert ops.filtered_out == 2
    json = replay_dead_letters(**common, codes=["malformed_json"])
    assert json.resubmitted == {target: 2}, "letters the first run filtered out"
    assert replay_dead_letters(**common, codes=["unknown_op"]).resubmitted == {}
    wrong = replay_dead_letters(**common, codes=["wrong_type"])
    assert (wrong.resubmitted, wrong.handled_before) == ({}, 1), "already re-submitted"
    rest = replay_dead_letters(**common)
    assert (rest.resubmitted, rest.handled_before) == ({}, 4), "nothing left"

    producer.send(deadletters, letter(b"\xff", ErrorCode.INVALID_UTF8))
    producer.flush()
    producer.close()
    later = replay_dead_letters(**common)
    assert (later.read, later.resubmitted) == (1, {target: 1})
    assert replay_dead_letters(**common, codes=["invalid_utf8"]).read == 0

    replayed = read_records(kafka_bootstrap, [target], expected=5, timeout=30, settle=1)
    assert sorted(r.value for r in replayed) == sorted(
        [b'{"op": "upsert"}', b"{both}", b"{oops", b"{again", b"\xff"]
    ), "each letter re-submitted exactly once"
    with pytest.raises(ValueError, match="unknown error code unknwon_op"):
        replay_dead_letters(**common, codes=["unknwon_op"])
