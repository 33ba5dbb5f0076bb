"""Read a whole topic as it stands: from the beginning up to the end offsets seen at the start.

For reports over an output topic (``crmstream report``): what arrives while reading is left
for the next run, so the read always ends, however busy the topic. No consumer group: nothing
is committed and nothing is left behind on the broker.
"""

from __future__ import annotations

import time

from kafka import KafkaConsumer, TopicPartition
from kafka.errors import KafkaError

from streams.kafka_security import KafkaOptions
from streams.topic_reader import reader, topic_partitions

Message = tuple[str, bytes | None]  # where it was (partition and offset), its value


class TopicReadError(Exception):
    """The topic does not exist, or could not be read to its end."""


def read_topic_to_end(
    bootstrap_servers: str,
    topic: str,
    *,
    timeout: float = 60.0,
    security: KafkaOptions | None = None,
) -> list[Message]:
    """Every message of ``topic`` up to its current end; raises after ``timeout`` s stuck."""
    try:
        consumer = reader(bootstrap_servers, security, client_id="crmstream-report")
        try:
            return _read(consumer, topic, bootstrap_servers, timeout)
        finally:
            consumer.close()
    except KafkaError as exc:
        message = f"cannot read {topic} from Kafka at {bootstrap_servers}: {exc!r}"
        raise TopicReadError(message) from exc


def _read(consumer: KafkaConsumer, topic: str, servers: str, timeout: float) -> list[Message]:
    partitions = topic_partitions(consumer, [topic])
    if not partitions:
        raise TopicReadError(f"topic {topic} does not exist on Kafka at {servers}")
    consumer.assign(partitions)
    consumer.seek_to_beginning(*partitions)
    ends: dict[TopicPartition, int] = consumer.end_offsets(partitions)
    pending = {tp for tp in partitions if consumer.position(tp) < ends[tp]}
    messages: list[Message] = []
    progress_at = time.monotonic()
    while pending:
        for tp, batch in consumer.poll(timeout_ms=500).items():
            messages += [
                (f"partition {r.partition} offset {r.offset}", r.value)
                for r in batch
                if r.offset < ends[tp]
            ]
            progress_at = time.monotonic()
        # Positions also move past transaction markers, which are not messages.
        pending = {tp for tp in pending if consumer.position(tp) < ends[tp]}
        if pending and time.monotonic() - progress_at > timeout:
            unread = sorted(tp.partition for tp in pending)
            raise TopicReadError(
                f"reading {topic} stalled for {timeout:g} s after {len(messages)} message(s); "
                f"partitions not read to their end: {unread}"
            )
    return messages
