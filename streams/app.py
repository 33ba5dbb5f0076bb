"""The Faust application, its topics and its table, declared once from the settings.

Values stay raw bytes on the way in (decoding is ingest's job, so that undecodable bytes
become dead letters instead of Faust deserialization crashes) and are written as JSON
produced by the typed records of ``schemas``.
"""

from __future__ import annotations

import faust
from faust.types.tables import TableT
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from models.matching import DuplicateMatcher
from models.matching.matcher import DEFAULT_WEIGHTS
from schemas.enrich import StandardizeOptions
from schemas.envelopes import SourceFormat
from schemas.mapping import FieldMapping, FieldMappingError, load_field_mapping
from streams.settings import ConfigurationError, InputFormat, Settings, load_settings
from streams.topics import Topic, deadletter_max_bytes, topic_name, topic_specs


def _field_mapping(settings: Settings) -> FieldMapping:
    try:
        return load_field_mapping(settings.field_mapping_file)
    except (FieldMappingError, OSError) as exc:
        raise ConfigurationError(f"CRMSTREAM_FIELD_MAPPING_FILE: {exc}") from None


def _source_format(configured: InputFormat) -> SourceFormat | None:
    return None if configured == "auto" else SourceFormat(configured)


settings = load_settings()
field_mapping = _field_mapping(settings)
standardize_options = StandardizeOptions(
    default_phone_region=settings.default_phone_region, date_order=settings.date_order
)
# Each input topic with its envelope format; None detects the format per message.
input_formats: dict[str, SourceFormat | None] = {
    topic_name(settings, Topic.CHANGES): _source_format(settings.input_format),
    **{name: _source_format(fmt) for name, fmt in settings.source_topics.items()},
}

app = faust.App(
    settings.app_id,
    broker=[f"kafka://{server}" for server in settings.bootstrap_servers.split(",")],
    key_serializer="raw",
    value_serializer="raw",
    processing_guarantee=settings.processing_guarantee,
    consumer_auto_offset_reset="earliest",
    # Table changelogs (blocks, match state) may outgrow a small inbound limit; the broker's
    # own default limit is 1 MiB.
    producer_max_request_size=max(deadletter_max_bytes(settings), 1_048_576),
    topic_partitions=settings.topic_partitions,
    topic_replication_factor=settings.topic_replication_factor,
    topic_disable_leader=True,
    datadir=str(settings.data_dir),
    store=f"{settings.table_store}://",
    web_enabled=True,
    web_bind=settings.web_host,
    web_host=settings.web_host,
    web_port=settings.web_port,
)

_specs = {spec.name: spec for spec in topic_specs(settings)}


def _declare(topic: Topic) -> faust.TopicT:
    spec = _specs[topic_name(settings, topic)]
    return app.topic(
        spec.name,
        key_type=bytes,
        value_type=bytes,
        partitions=spec.partitions,
        replicas=spec.replication_factor,
        config=spec.config or None,
    )


inbound_topic = app.topic(*input_formats, key_type=bytes, value_type=bytes)
routed_topic = _declare(Topic.ROUTED)
enriched_topic = _declare(Topic.ENRICHED)
deadletter_topic = _declare(Topic.DEADLETTER)
duplicates_topic = _declare(Topic.DUPLICATES)
feedback_topic = _declare(Topic.FEEDBACK)
match_requests_topic = _declare(Topic.MATCH_REQUESTS)
match_answers_topic = _declare(Topic.MATCH_ANSWERS)
match_links_topic = _declare(Topic.MATCH_LINKS)
match_learning_topic = _declare(Topic.MATCH_LEARNING)
# Everything about one record meets in one agent, so its state never races with itself.
record_topic = app.topic(
    routed_topic.get_topic_name(),
    match_answers_topic.get_topic_name(),
    match_links_topic.get_topic_name(),
    key_type=bytes,
    value_type=bytes,
)

matcher = DuplicateMatcher(
    weights={
        name: weight
        for name, weight in {**DEFAULT_WEIGHTS, **settings.match_weights}.items()
        if weight > 0.0
    },
    duplicate_threshold=settings.match_duplicate_threshold,
    review_threshold=settings.match_review_threshold,
)


def _partitioned_table(name: str, help_text: str) -> TableT[bytes, bytes]:
    """A table of JSON values, partitioned like the topic its agent reads."""
    return app.Table(
        name,
        partitions=settings.topic_partitions,
        key_type=bytes,
        value_type=bytes,
        help=help_text,
    )


# RecordState JSON by record key, partitioned like routed_topic.
records_table = _partitioned_table(
    "records", "Merged current state of each CRM record, keyed by entity type and id."
)
# MatchState JSON by record key: duplicate links, cluster, enriched records waiting.
matches_table = _partitioned_table(
    "matches", "Near-duplicate state of each matchable record, keyed like records."
)
# Block JSON by blocking key, partitioned like match_requests_topic.
blocks_table = _partitioned_table(
    "blocks", "Members of each blocking key: who a new record is compared with."
)
# The learned match model, written by its one learner and read by every worker.
match_model_table = app.GlobalTable(
    "match-model",
    partitions=1,
    key_type=bytes,
    value_type=bytes,
    help="The learned match model's state (LearnedMatcher.to_state JSON).",
)


@app.page("/metrics")
async def metrics(web: faust.web.View, request: faust.web.Request) -> faust.web.Response:
    """Prometheus scrape endpoint on the worker's own web port."""
    # Passed as a header: aiohttp refuses a charset inside its content_type argument.
    return web.bytes(generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})
