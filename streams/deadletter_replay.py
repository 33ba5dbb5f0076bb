"""``crmstream deadletter replay``: send parked messages back to where they came from.

After a fix (a new mapping, a corrected producer, a bug fixed in crmstream) the parked
originals are re-submitted unchanged to their source topic, where they meet the fixed
pipeline. Consumer groups remember what was replayed, so running it twice does not submit
the same dead letter twice.

What a run with ``--code`` leaves alone must stay replayable: fixing one cause at a time is
the usual way (first the mapping, replay ``unknown_entity_type``; then the producer, replay
``malformed_json``). So a run without codes remembers its position in the group
``<app id>-deadletter-replay``, a run with codes in one group per code
(``<app id>-deadletter-replay.<code>``), and a letter counts as replayed when the group of
every run, or of one of its codes, has passed it.
"""

from __future__ import annotations

import base64
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import KafkaError
from kafka.structs import OffsetAndMetadata
from pydantic import ValidationError

from schemas.errors import ErrorCode
from schemas.outbound import DeadLetter
from streams.kafka_security import KafkaOptions, connect
from streams.topic_reader import reader, topic_partitions

REPLAYED_FROM_HEADER = "crmstream-replayed-from"
CODES: frozenset[str] = frozenset(code.value for code in ErrorCode)

Offsets = dict[TopicPartition, int]


@dataclass
class ReplayReport:
    """What a replay run did with each dead letter it read."""

    read: int = 0
    resubmitted: Counter[str] = field(default_factory=Counter)  # by source topic
    filtered_out: int = 0
    handled_before: int = 0  # by a run with --code naming one of the letter's codes
    not_replayable: Counter[str] = field(default_factory=Counter)  # by reason


def replay_decision(letter: DeadLetter, codes: frozenset[str]) -> str | None:
    """Why this letter is not to be re-submitted, or None to re-submit it."""
    if codes and not codes & letter_codes(letter):
        return "filtered_out"
    if letter.original_value_b64 is None:
        return "tombstone"
    if letter.original_truncated:
        return "truncated"
    return None


def letter_codes(letter: DeadLetter) -> frozenset[str]:
    return frozenset(error.code.value for error in letter.errors)


def _group_offsets(
    admin: KafkaAdminClient, requests: dict[str, list[TopicPartition]]
) -> dict[str, Any]:
    """Committed offsets of ``requests``' groups, waiting out a coordinator that is not ready
    yet (a new broker creates and loads its offsets topic on first use), for up to 30 s."""
    deadline = time.monotonic() + 30.0
    while True:
        try:
            return dict(admin.list_group_offsets(requests))
        except KafkaError as exc:  # coordinator not available, moved, loading: retriable
            if not exc.retriable or time.monotonic() > deadline:
                raise
            time.sleep(0.5)


@dataclass(frozen=True)
class ReplayProgress:
    """How far the runs got, per partition of the dead-letter topic: runs without codes
    (``everything``) and runs with codes (``by_code``)."""

    group_id: str
    everything: Offsets
    by_code: dict[str, Offsets]

    @classmethod
    def read(
        cls, admin: KafkaAdminClient, group_id: str, partitions: list[TopicPartition]
    ) -> ReplayProgress:
        groups = [group_id, *(code_group(group_id, code) for code in sorted(CODES))]
        committed = _group_offsets(admin, dict.fromkeys(groups, partitions))
        offsets = {
            group: {tp: max(0, mark.offset) for tp, mark in committed.get(group, {}).items()}
            for group in groups
        }
        return cls(
            group_id,
            offsets[group_id],
            {code: offsets[code_group(group_id, code)] for code in CODES},
        )

    def replayed(self, tp: TopicPartition, offset: int, codes: Iterable[str]) -> bool:
        """Whether a letter at ``offset`` with ``codes`` was handled by an earlier run."""
        if offset < self.everything.get(tp, 0):
            return True
        return any(offset < self.by_code.get(code, {}).get(tp, 0) for code in codes)

    def start(self, tp: TopicPartition, wanted: frozenset[str]) -> int:
        """Where a run for ``wanted`` codes (all when empty) starts reading: letters before
        it were handled for every code it wants."""
        everything = self.everything.get(tp, 0)
        if not wanted:
            return everything
        return min(max(everything, self.by_code[code].get(tp, 0)) for code in wanted)

    def commit(self, admin: KafkaAdminClient, wanted: frozenset[str], ends: Offsets) -> None:
        """Remember that this run handled every letter up to ``ends`` for ``wanted``."""
        groups = [code_group(self.group_id, code) for code in sorted(wanted)] or [self.group_id]
        marks = {tp: OffsetAndMetadata(end, "", -1) for tp, end in ends.items()}
        for group in groups:
            admin.alter_group_offsets(group, marks)


def code_group(group_id: str, code: str) -> str:
    return f"{group_id}.{code}"


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
    """Re-submit every dead letter parked so far (up to now: the run always ends) that no
    earlier run re-submitted; ``codes``: only letters with one of these codes."""
    wanted = frozenset(codes)
    unknown = sorted(wanted - CODES)
    if unknown:
        raise ValueError(
            f"unknown error code {', '.join(unknown)}; codes: {', '.join(sorted(CODES))}"
        )
    report = ReplayReport()
    # Positions live in the replay groups, committed by the admin client.
    consumer = reader(bootstrap_servers, security, client_id="crmstream-deadletter-replay")
    admin = connect(
        KafkaAdminClient, bootstrap_servers, security, client_id="crmstream-deadletter-replay"
    )
    producer = None if dry_run else connect(KafkaProducer, bootstrap_servers, security, acks="all")
    try:
        partitions = topic_partitions(consumer, [deadletter_topic])
        progress = ReplayProgress.read(admin, group_id, partitions)
        consumer.assign(partitions)
        for tp in partitions:
            consumer.seek(tp, progress.start(tp, wanted))
        stop_at = consumer.end_offsets(partitions)
        run = _Run(wanted, progress, to_topic, producer, report)
        for record in _until(consumer, stop_at):
            report.read += 1
            run.take(record)
        if producer is not None:
            producer.flush()
            progress.commit(admin, wanted, stop_at)
    finally:
        if producer is not None:
            producer.close()
        admin.close()
        consumer.close()
    return report


@dataclass
class _Run:
    """One replay run: what it wants, what earlier runs did, where it sends."""

    wanted: frozenset[str]
    progress: ReplayProgress
    to_topic: str | None
    producer: KafkaProducer | None
    report: ReplayReport

    def take(self, record: object) -> None:
        report = self.report
        try:
            letter = DeadLetter.model_validate_json(record.value)  # type: ignore[attr-defined]
        except ValidationError:
            report.not_replayable["not_a_dead_letter"] += 1
            return
        reason = replay_decision(letter, self.wanted)
        if reason == "filtered_out":
            report.filtered_out += 1
            return
        tp = TopicPartition(record.topic, record.partition)  # type: ignore[attr-defined]
        if self.progress.replayed(tp, record.offset, letter_codes(letter)):  # type: ignore[attr-defined]
            report.handled_before += 1
            return
        if reason is not None:
            report.not_replayable[reason] += 1
            return
        topic = self.to_topic or letter.source_position.topic
        report.resubmitted[topic] += 1
        if self.producer is not None:
            key = (
                None
                if letter.original_key_b64 is None
                else base64.b64decode(letter.original_key_b64)
            )
            origin = f"{record.topic}:{record.partition}:{record.offset}"  # type: ignore[attr-defined]
            self.producer.send(
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
