"""Reading output topics back, for the demo's summary and the end-to-end tests.

Both must answer "did every input come out, and only once?", so they read a fixed set of
topics from known offsets, with no consumer group (nothing to commit, nothing to clean up).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from kafka import KafkaConsumer, TopicPartition

from streams.kafka_security import KafkaOptions, connect

Offsets = dict[TopicPartition, int]


def reader(
    bootstrap_servers: str, security: KafkaOptions | None, *, client_id: str = "crmstream-reader"
) -> KafkaConsumer:
    """A consumer without a group (nothing to commit, nothing left behind on the broker)
    that reads only committed messages: under exactly-once, what a crashed worker wrote in
    transactions it never committed is not output (at least once writes no transactions,
    and reads the same either way). ``security`` None connects as the environment's
    settings say (see kafka_security)."""
    consumer: KafkaConsumer = connect(
        KafkaConsumer,
        bootstrap_servers,
        security,
        enable_auto_commit=False,
        group_id=None,
        client_id=client_id,
        isolation_level="read_committed",
        max_partition_fetch_bytes=16 * 1_048_576,
    )
    return consumer


def topic_partitions(consumer: KafkaConsumer, topics: Iterable[str]) -> list[TopicPartition]:
    """Every partition of ``topics``, in a stable order."""
    return [
        TopicPartition(topic, partition)
        for topic in topics
        for partition in sorted(consumer.partitions_for_topic(topic) or ())
    ]


def end_offsets(
    bootstrap_servers: str, topics: Iterable[str], *, security: KafkaOptions | None = None
) -> Offsets:
    """Where each partition ends now: read from here to see only what comes next."""
    consumer = reader(bootstrap_servers, security)
    try:
        return dict(consumer.end_offsets(topic_partitions(consumer, topics)))
    finally:
        consumer.close()


def read_records(
    bootstrap_servers: str,
    topics: Iterable[str],
    *,
    expected: int,
    timeout: float,
    start: Offsets | None = None,
    settle: float = 2.0,
    security: KafkaOptions | None = None,
) -> list[Any]:
    """Read until ``expected`` records arrived (then ``settle`` s more, to catch duplicates).

    Returns early with fewer records when ``timeout`` runs out, so the caller can report
    what is missing rather than hang.
    """
    records: list[Any] = []

    def take(batch: Sequence[Any]) -> bool:
        records.extend(batch)
        return len(records) >= expected

    read_until(
        bootstrap_servers,
        topics,
        take,
        timeout=timeout,
        start=start,
        settle=settle,
        security=security,
    )
    return records


def read_until(
    bootstrap_servers: str,
    topics: Iterable[str],
    take: Callable[[Sequence[Any]], bool],
    *,
    timeout: float,
    start: Offsets | None = None,
    settle: float = 2.0,
    security: KafkaOptions | None = None,
) -> bool:
    """Hand the records of each poll (maybe none) to ``take`` until it answers True (then
    ``settle`` s more, to catch duplicates); False if ``timeout`` ran out first.

    For readers that know what they wait for better than a count does: after a crash the
    outputs hold repeats, so "as many records as inputs" comes before the last input's.
    """
    consumer = reader(bootstrap_servers, security)
    try:
        partitions = topic_partitions(consumer, topics)
        consumer.assign(partitions)
        for partition in partitions:
            consumer.seek(partition, (start or {}).get(partition, 0))
        deadline = time.monotonic() + timeout
        settled_at: float | None = None
        while time.monotonic() < min(deadline, settled_at or deadline):
            polled = [
                record for batch in consumer.poll(timeout_ms=200).values() for record in batch
            ]
            if take(polled) and settled_at is None:
                settled_at = time.monotonic() + settle
        return settled_at is not None
    finally:
        consumer.close()


def first_value(
    bootstrap_servers: str,
    topic: str,
    accept: Callable[[bytes | None], bool],
    *,
    start: Offsets,
    timeout: float,
    security: KafkaOptions | None = None,
) -> bytes | None:
    """The first value of ``topic`` after ``start`` that ``accept`` takes, or ``None`` when
    none came within ``timeout`` seconds: waiting for the answer to a request."""
    consumer = reader(bootstrap_servers, security)
    try:
        partitions = topic_partitions(consumer, [topic])
        consumer.assign(partitions)
        for partition in partitions:
            consumer.seek(partition, start.get(partition, 0))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=200).values():
                for record in batch:
                    if accept(record.value):
                        value: bytes | None = record.value
                        return value
        return None
    finally:
        consumer.close()


def wait_until_quiet(
    bootstrap_servers: str,
    topics: Iterable[str],
    *,
    quiet: float,
    timeout: float,
    security: KafkaOptions | None = None,
) -> bool:
    """Wait until nothing is written to ``topics`` for ``quiet`` seconds (False on timeout).

    For outputs whose count is not known in advance (pair verdicts, cluster news): the
    pipeline is done with an input once its topics stop growing.
    """
    names = list(topics)
    deadline = time.monotonic() + timeout
    last = end_offsets(bootstrap_servers, names, security=security)
    still_since = time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(min(0.5, quiet / 4))
        now = end_offsets(bootstrap_servers, names, security=security)
        if now != last:
            last, still_since = now, time.monotonic()
        elif time.monotonic() - still_since >= quiet:
            return True
    return False
