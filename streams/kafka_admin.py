"""Topic creation with kafka-python, outside the worker.

The demo, the tests and the compose init job create the topics before any producer
writes, because clusters usually disable auto-creation and a producer racing the worker
would otherwise fail or get a topic with the broker's default partition count.
"""

from __future__ import annotations

from collections.abc import Iterable

from kafka.admin import KafkaAdminClient

from streams.kafka_security import KafkaOptions, connect
from streams.settings import ConfigurationError
from streams.topics import TopicSpec


def ensure_topics(
    bootstrap_servers: str, specs: Iterable[TopicSpec], *, security: KafkaOptions | None = None
) -> list[str]:
    """Create the topics that do not exist yet and wait until they have leaders.

    Returns the names it created; existing topics are left as they are, but one whose keys
    find their state by partition must have the partitions its spec says, else
    ``ConfigurationError`` names each that differs. ``security`` None connects as the
    environment's settings say (see kafka_security).
    """
    specs = list(specs)
    admin = connect(KafkaAdminClient, bootstrap_servers, security, client_id="crmstream-admin")
    try:
        existing = set(admin.list_topics())
        _check_partitions(
            admin, [spec for spec in specs if spec.routed_to_state and spec.name in existing]
        )
        missing = {
            spec.name: {
                "num_partitions": spec.partitions,
                "replication_factor": spec.replication_factor,
                "configs": spec.config,
            }
            for spec in specs
            if spec.name not in existing
        }
        if missing:
            admin.create_topics(missing, wait_for_metadata=True)
        return sorted(missing)
    finally:
        admin.close()


def _check_partitions(admin: KafkaAdminClient, specs: list[TopicSpec]) -> None:
    """Refuse topics made with another partition count: messages would be routed to their
    state by one count while the state was kept by another, and records would lose their
    merge history and blocks their members (docs/operations.md; Faust would also refuse the
    first table write, and each change be parked)."""
    if not specs:
        return
    found = {
        topic["name"]: len(topic["partitions"])
        for topic in admin.describe_topics([s.name for s in specs])
    }
    wrong = [
        f"{spec.name} has {found.get(spec.name)} partitions where these settings give "
        f"{spec.partitions}"
        for spec in specs
        if found.get(spec.name) != spec.partitions
    ]
    if wrong:
        raise ConfigurationError(
            f"topics exist with other partition counts: {'; '.join(wrong)}. Set "
            "CRMSTREAM_TOPIC_PARTITIONS to the count they were created with: a topic cannot "
            "change its count without losing the state keyed by it (docs/operations.md, "
            "'What cannot be changed afterwards')"
        )
