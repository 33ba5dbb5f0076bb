"""Topic creation with kafka-python, outside the worker.

The demo, the tests and the compose init job create the topics before any producer
writes, because clusters usually disable auto-creation and a producer racing the worker
would otherwise fail or get a topic with the broker's default partition count.
"""

from __future__ import annotations

from collections.abc import Iterable

from kafka.admin import KafkaAdminClient

from streams.kafka_security import KafkaOptions, connect
from streams.topics import TopicSpec


def ensure_topics(
    bootstrap_servers: str, specs: Iterable[TopicSpec], *, security: KafkaOptions | None = None
) -> list[str]:
    """Create the topics that do not exist yet and wait until they have leaders.

    Returns the names it created; existing topics are left as they are. ``security`` None
    connects as the environment's settings say (see kafka_security).
    """
    admin = connect(KafkaAdminClient, bootstrap_servers, security, client_id="crmstream-admin")
    try:
        existing = set(admin.list_topics())
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
