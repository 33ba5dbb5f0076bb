"""The topics of DESIGN.md, specified once for both Faust and the Kafka admin client.

Topics are created up front (demo, tests, the compose init job) and declared again by
the worker, so both paths must agree on partitions and configs; hence one spec list. The
tables' changelogs are in it too: a worker that had to create them at start-up could ask for
partitions the cluster's metadata did not show yet, and Faust's partition assignment then
hung for good (seen on a loaded machine: "Ignoring missing topic", then nothing).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum

from streams.settings import Settings

# Base64 grows bytes by 4/3; the margin covers the JSON around the parked original.
_DEADLETTER_OVERHEAD_BYTES = 64 * 1024
# Kafka's own default message.max.bytes: topics never get a smaller limit than that.
_BROKER_DEFAULT_MAX_BYTES = 1_048_588


class Topic(StrEnum):
    """Logical topic names; the configured prefix is put in front of each."""

    CHANGES = "changes"
    # Internal: canonical changes keyed by record, so each record's changes meet its state.
    ROUTED = "changes.by-record"
    ENRICHED = "enriched"
    SCORES = "scores"
    DUPLICATES = "duplicates"
    FEEDBACK = "feedback"
    ALERTS = "alerts"
    DEADLETTER = "deadletter"
    # Internal, for near-duplicate matching (see models.matching.linking):
    MATCH_REQUESTS = "match.by-key"  # index requests keyed by blocking key, to the blocks
    MATCH_ANSWERS = "match.answers"  # block answers keyed by record, back to the record
    MATCH_LINKS = "match.links"  # pair, cluster and reviewer news keyed by record
    MATCH_LEARNING = "match.learning"  # reviewed pairs for the one learner of the match model
    # Internal: engagement news (models.scoring.engagement) keyed by the record it is about,
    # so each lead's, contact's or account's engagement meets its record.
    ENGAGEMENT = "engagement.by-record"
    # Outcome models (lead score, churn risk, win probability):
    # labelled examples, ticks and operators' commands for the one learner:
    MODEL_LEARNING = "models.learning"
    MODELS = "models"  # every checkpoint for model_history_days, keyed by model:version


# Topics whose messages carry a whole change or record (see record_max_bytes).
_WHOLE_RECORDS: frozenset[Topic] = frozenset({Topic.ROUTED, Topic.ENRICHED})
# One learner keeps each learned model consistent: its topic has one partition. The model
# checkpoints are one value per model, read whole: one partition too.
_SINGLE_PARTITION: frozenset[Topic] = frozenset(
    {Topic.MATCH_LEARNING, Topic.MODEL_LEARNING, Topic.MODELS}
)
# The topics between agents, each keyed so that a message reaches the partition that holds
# its state (a record's, a block's, a learner's): their partition count is part of the routing.
INTERNAL_TOPICS: tuple[Topic, ...] = (
    Topic.ROUTED,
    Topic.MATCH_REQUESTS,
    Topic.MATCH_ANSWERS,
    Topic.MATCH_LINKS,
    Topic.ENGAGEMENT,
    Topic.MATCH_LEARNING,
    Topic.MODEL_LEARNING,
)
# Model checkpoints (pickled River pipelines) outgrow the broker's 1 MiB default; a rollback
# command carries one to the learner.
MODEL_CHECKPOINT_MAX_BYTES = 16 * 1_048_576
_DAY_MS = 86_400_000


class Table(StrEnum):
    """The worker's tables, each restored from a compacted changelog topic."""

    RECORDS = "records"
    MATCHES = "matches"
    BLOCKS = "blocks"
    MATCH_MODEL = "match-model"
    PREDICTIONS = "predictions"
    ENGAGEMENT = "engagement"
    OUTCOME_MODELS = "outcome-models"


# The learned models are values every worker reads: global tables on one partition.
GLOBAL_TABLES: frozenset[Table] = frozenset({Table.MATCH_MODEL, Table.OUTCOME_MODELS})


@dataclass(frozen=True)
class TopicSpec:
    """What a topic must look like on the broker."""

    name: str
    partitions: int
    replication_factor: int
    config: dict[str, str] = field(default_factory=dict)
    routed_to_state: bool = False
    """Keys find their state by partition number (an internal keyed topic, a changelog): an
    existing topic with another partition count would send them where their state is not."""


def topic_name(settings: Settings, topic: Topic) -> str:
    return f"{settings.topic_prefix}{topic.value}"


def deadletter_max_bytes(settings: Settings) -> int:
    """Large enough that any inbound message we accept can be parked whole."""
    return (settings.max_message_bytes * 4) // 3 + _DEADLETTER_OVERHEAD_BYTES


def record_max_bytes(settings: Settings) -> int:
    """Large enough for a message that carries whole records made of accepted input.

    An enriched record holds the change and the merged record (each as large as an inbound
    message), and a record's match state holds the enriched records waiting for their
    matching round; with the broker's default limit of 1 MiB, an accepted message of half
    that size already made its enriched record unsendable, and the change was lost.
    """
    return max(
        _BROKER_DEFAULT_MAX_BYTES, 4 * settings.max_message_bytes + _DEADLETTER_OVERHEAD_BYTES
    )


def changelog_name(settings: Settings, table: Table) -> str:
    """The changelog topic Faust gives a table of this app."""
    return f"{settings.app_id}-{table.value}-changelog"


def table_partitions(settings: Settings, table: Table) -> int:
    return 1 if table in GLOBAL_TABLES else settings.topic_partitions


def topic_specs(settings: Settings) -> list[TopicSpec]:
    """Every topic of the service, table changelogs included, with its partitions and
    broker-side config."""
    specs = []
    checkpoint_size = {"max.message.bytes": str(MODEL_CHECKPOINT_MAX_BYTES)}
    checkpoints = {"cleanup.policy": "compact", **checkpoint_size}
    for topic in Topic:
        config: dict[str, str] = {}
        if topic is Topic.DEADLETTER:
            config = {"max.message.bytes": str(deadletter_max_bytes(settings))}
        elif topic in _WHOLE_RECORDS:
            config = {"max.message.bytes": str(record_max_bytes(settings))}
        elif topic is Topic.MODEL_LEARNING:
            config = checkpoint_size
        elif topic is Topic.MODELS:
            # Each version under its own key, kept for a time: the history a rollback
            # chooses from. The latest of each model lives on in the global table.
            retention = round(settings.model_history_days * _DAY_MS)
            config = {"cleanup.policy": "delete", "retention.ms": str(retention)}
            config |= checkpoint_size
        specs.append(
            TopicSpec(
                name=topic_name(settings, topic),
                partitions=1 if topic in _SINGLE_PARTITION else settings.topic_partitions,
                replication_factor=settings.topic_replication_factor,
                config=config,
                routed_to_state=topic in INTERNAL_TOPICS,
            )
        )
    records = {"cleanup.policy": "compact", "max.message.bytes": str(record_max_bytes(settings))}
    changelog_configs = {
        Table.OUTCOME_MODELS: checkpoints,
        Table.RECORDS: records,
        Table.MATCHES: records,
    }
    specs.extend(
        TopicSpec(
            name=changelog_name(settings, table),
            partitions=table_partitions(settings, table),
            replication_factor=settings.topic_replication_factor,
            config=changelog_configs.get(table, {"cleanup.policy": "compact"}),
            routed_to_state=True,
        )
        for table in Table
    )
    return specs


def message_limits(specs: Iterable[TopicSpec]) -> dict[str, int]:
    """The largest message each topic takes, by topic name (the broker's default where its
    config sets none)."""
    return {
        spec.name: int(spec.config.get("max.message.bytes", _BROKER_DEFAULT_MAX_BYTES))
        for spec in specs
    }
