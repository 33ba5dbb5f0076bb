"""``crmstream deadletter replay``: send parked messages back to where they came from.

After a fix (a new mapping, a corrected producer, a bug fixed in crmstream) the parked
originals are re-submitted unchanged to their source topic, where they meet the fixed
pipeline. A consumer group remembers what was replayed, so running it twice does not
submit the same dead letter twice.
"""

from __future__ import annotations

import base64
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from pydantic import ValidationError

from schemas.outbound import DeadLetter
from streams.kafka_security import KafkaOptions, connect
from streams.topic_reader import topic_partitions

REPLAYED_FROM_HEADER = "crmstream-replayed-from"


@dataclass
class ReplayReport:
    """What a replay run did with each dead letter it read."""

    read: int = 0
    resubmitted: Counter[str] = field(default_factory=Counter)  # by source topic
    filtered_out: int = 0
    not_replayable: Counter[str] = field(default_factory=Counter)  # by reason


def replay_decision(letter: DeadLetter, codes: frozenset[str]) -> str | None:
    """Why this letter is not to be re-submitted, or None to re-submit it."""
    if codes and not codes & {error.code.value for error in letter.errors}:
        return "filtered_out"
    if letter.original_value_b64 is None:
        return "tombstone"
    if letter.original_truncated:
        return "truncated"
    return None


def replay_dead_letters(
    *,
    bootstrap_servers: str,
    deadletter_topic: str,
    group_id: str,
    codes: Iterable[str] = (),
    to_topic: str | None = None,
    dry_run: bool = False,
    security: KafkaOptions | None = None,
) -> ReplayReport:
    """Re-submit every dead letter parked so far (up to now: the run always ends)."""
    wanted = frozenset(codes)
    report = ReplayReport()
    consumer = connect(
        KafkaConsumer,
        bootstrap_servers,
        security,
        group_id=group_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        client_id="crmstream-deadletter-replay",
    )
    producer = None if dry_run else connect(KafkaProducer, bootstrap_servers, security, acks="all")
    try:
        partitions = topic_partitions(consumer, [deadletter_topic])
        consumer.assign(partitions)
        stop_at = consumer.end_offsets(partitions)
        for record in _until(consumer, stop_at):
            report.read += 1
            _replay_one(record, wanted, to_topic, producer, report)
        if producer is not None:
            producer.flush()
            consumer.commit()
    finally:
        if producer is not None:
            producer.close()
        consumer.close()
    return report


def _replay_one(
    record: object,
    wanted: frozenset[str],
    to_topic: str | None,
    producer: KafkaProducer | None,
    report: ReplayReport,
) -> None:
    try:
        letter = DeadLetter.model_validate_json(record.value)  # type: ignore[attr-defined]
    except ValidationError:
        report.not_replayable["not_a_dead_letter"] += 1
        return
    reason = replay_decision(letter, wanted)
    if reason == "filtered_out":
        report.filtered_out += 1
        return
    if reason is not None:
        report.not_replayable[reason] += 1
        return
    topic = to_topic or letter.source_position.topic
    report.resubmitted[topic] += 1
    if producer is not None:
        key = None if letter.original_key_b64 is None else base64.b64decode(letter.original_key_b64)
        origin = f"{record.topic}:{record.partition}:{record.offset}"  # type: ignore[attr-defined]
        producer.send(
            topic,
            key=key,
            value=letter.original_value(),
            headers=[(REPLAYED_FROM_HEADER, origin.encode())],
        )


def _until(consumer: KafkaConsumer, stop_at: dict[TopicPartition, int]) -> Iterable[object]:
    """Records up to the end offsets taken at the start, so a replay run always finishes."""
    remaining = {tp for tp, end in stop_at.items() if consumer.position(tp) < end}
    while remaining:
        for tp, batch in consumer.poll(timeout_ms=500).items():
            for record in batch:
                if record.offset < stop_at[tp]:
                    yield record
            if consumer.position(tp) >= stop_at[tp]:
                remaining.discard(tp)
