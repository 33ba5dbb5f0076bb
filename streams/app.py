"""The Faust application, its topics and its table, declared once from the settings.

Values stay raw bytes on the way in (decoding is ingest's job, so that undecodable bytes
become dead letters instead of Faust deserialization crashes) and are written as JSON
produced by the typed records of ``schemas``. The worker's web port serves ``/metrics``,
``/live`` and ``/ready``.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from importlib.metadata import PackageNotFoundError, version
from typing import cast

import faust
from faust.exceptions import ConsumerNotStarted
from faust.sensors.prometheus import FaustMetrics
from faust.tables.base import Collection
from faust.tables.manager import TableManager
from faust.types import TP
from faust.types.tables import GlobalTableT, TableT
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from models.matching import DuplicateMatcher
from models.matching.matcher import DEFAULT_WEIGHTS
from models.scoring import (
    OUTCOME_MODELS,
    FeatureConfig,
    FeatureExtractor,
    ScorerConfig,
    ValidationConfig,
)
from schemas.enrich import StandardizeOptions
from schemas.envelopes import SourceFormat
from schemas.mapping import FieldMapping, FieldMappingError, load_field_mapping
from streams.commits import CrmApp
from streams.faust_sensor import KeptSeriesPrometheusMonitor
from streams.kafka_security import faust_credentials
from streams.metrics import (
    logical_topic,
    not_ready_reason,
    partition_lag,
    publish_consumer_lag,
    publish_quality,
    publish_table_sizes,
    quality_window,
    record_worker_info,
)
from streams.settings import ConfigurationError, InputFormat, Settings, load_settings
from streams.topics import (
    MODEL_CHECKPOINT_MAX_BYTES,
    Table,
    Topic,
    message_limits,
    record_max_bytes,
    table_partitions,
    topic_name,
    topic_specs,
)

# How often the state gauges (consumer lag, table sizes, data quality) are recomputed.
MONITOR_INTERVAL_SECONDS = 5.0


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

app = CrmApp(
    settings.app_id,
    broker=[f"kafka://{server}" for server in settings.bootstrap_servers.split(",")],
    broker_credentials=faust_credentials(settings),
    key_serializer="raw",
    value_serializer="raw",
    processing_guarantee=settings.processing_guarantee,
    broker_commit_interval=settings.commit_interval_seconds,
    consumer_auto_offset_reset="earliest",
    producer_linger=settings.producer_linger_ms / 1000.0,
    # Enriched records and table changelogs (records, match state) may outgrow the inbound
    # limit, and model checkpoints the broker's own default limit of 1 MiB (their topics
    # allow more: see streams.topics).
    producer_max_request_size=max(record_max_bytes(settings), MODEL_CHECKPOINT_MAX_BYTES),
    topic_partitions=settings.topic_partitions,
    topic_replication_factor=settings.topic_replication_factor,
    topic_disable_leader=True,
    datadir=str(settings.data_dir),
    store=f"{settings.table_store}://",
    web_enabled=True,
    # Faust's /table pages read any table key over HTTP (records hold names, emails and
    # phones) and /router names every worker: neither is for a metrics port.
    web_tables_enabled=False,
    web_router_enabled=False,
    web_bind=settings.web_host,
    web_host=settings.web_host,
    web_port=settings.web_port,
)
# Faust's own Prometheus sensor, on the same registry as ours (so one /metrics page serves
# both) and with a fixed prefix, so dashboards do not depend on the app id. Not
# faust.sensors.prometheus.setup_prometheus_sensors: it would declare a second /metrics page.
app.monitor = KeptSeriesPrometheusMonitor(metrics=FaustMetrics.create(REGISTRY, "faust"))


def _version() -> str:
    try:
        return version("crmstream")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown"


record_worker_info(
    version=_version(),
    app_id=settings.app_id,
    processing_guarantee=settings.processing_guarantee,
    store=settings.table_store,
)

_specs = {spec.name: spec for spec in topic_specs(settings)}
app.message_limits = message_limits(_specs.values())


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
scores_topic = _declare(Topic.SCORES)
alerts_topic = _declare(Topic.ALERTS)
model_learning_topic = _declare(Topic.MODEL_LEARNING)
models_topic = _declare(Topic.MODELS)
engagement_topic = _declare(Topic.ENGAGEMENT)
# Everything about one record meets in one agent, so its state never races with itself.
record_topic = app.topic(
    routed_topic.get_topic_name(),
    match_answers_topic.get_topic_name(),
    match_links_topic.get_topic_name(),
    engagement_topic.get_topic_name(),
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

# The outcome models by the entity type they score; readiness and tiers are the deployment's.
outcome_models: dict[str, ScorerConfig] = {
    config.entity_type: replace(
        config, min_labels=settings.model_min_labels, tier_cuts=settings.model_tier_cuts
    )
    for config in OUTCOME_MODELS
}
# How each model is judged: at tier B's cut (where sales ops act), audited by its segments.
outcome_validation: dict[str, ValidationConfig] = {
    config.name: ValidationConfig(
        cut=settings.model_tier_cuts[1] / 100.0,
        segments=tuple(settings.model_segments.get(config.name, ())),
    )
    for config in OUTCOME_MODELS
}
feature_extractor = FeatureExtractor(
    FeatureConfig(
        include=(
            None
            if settings.model_features_include is None
            else frozenset(settings.model_features_include)
        ),
        exclude=frozenset(settings.model_features_exclude),
    )
)


def _partitioned_table(table: Table, help_text: str) -> TableT[bytes, bytes]:
    """A table of JSON values, partitioned like the topic its agent reads."""
    return app.Table(
        table.value,
        partitions=table_partitions(settings, table),
        key_type=bytes,
        value_type=bytes,
        help=help_text,
    )


# RecordState JSON by record key, partitioned like routed_topic.
records_table = _partitioned_table(
    Table.RECORDS, "Merged current state of each CRM record, keyed by entity type and id."
)
# MatchState JSON by record key: duplicate links, cluster, enriched records waiting.
matches_table = _partitioned_table(
    Table.MATCHES, "Near-duplicate state of each matchable record, keyed like records."
)
# Block JSON by blocking key, partitioned like match_requests_topic.
blocks_table = _partitioned_table(
    Table.BLOCKS, "Members of each blocking key: who a new record is compared with."
)


def _global_table(table: Table, help_text: str) -> GlobalTableT:
    """A value written by one learner and read whole by every worker."""
    return app.GlobalTable(
        table.value,
        partitions=table_partitions(settings, table),
        key_type=bytes,
        value_type=bytes,
        help=help_text,
    )


# The learned match model, written by its one learner and read by every worker.
match_model_table = _global_table(
    Table.MATCH_MODEL, "The learned match model's state (LearnedMatcher.to_state JSON)."
)
# PredictionMemory JSON by record key (leads, accounts): the features a label will meet.
predictions_table = _partitioned_table(
    Table.PREDICTIONS, "Features and probability of each scored record's latest prediction."
)
# Engagement JSON by record key (leads, contacts, accounts, opportunities): activities and
# opportunities around the record, partitioned like routed_topic.
engagement_table = _partitioned_table(
    Table.ENGAGEMENT, "Activities, opportunities and contacts of each record, keyed like records."
)
# The latest checkpoint of each outcome model by model name, written by their one learner
# and read by every worker, which scores with it.
outcome_models_table = _global_table(
    Table.OUTCOME_MODELS, "Each outcome model's latest checkpoint (a ModelCheckpoint)."
)


@app.page("/metrics")
async def metrics(web: faust.web.View, request: faust.web.Request) -> faust.web.Response:
    """Prometheus scrape endpoint on the worker's own web port."""
    # Passed as a header: aiohttp refuses a charset inside its content_type argument.
    return web.bytes(generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})


@app.page("/live")
async def live(web: faust.web.View, request: faust.web.Request) -> faust.web.Response:
    """Liveness: answered by the worker's event loop, so any answer means it runs."""
    return web.json({"live": True})


@app.page("/ready")
async def ready(web: faust.web.View, request: faust.web.Request) -> faust.web.Response:
    """Readiness: 200 once input partitions are assigned and table recovery is complete."""
    reason = not_ready_reason(
        input_partitions=len(_input_partitions()),
        rebalancing=bool(app.rebalancing),
        recovered=cast(TableManager, app.tables).recovery.completed.is_set()
        and not app.in_recovery,
    )
    if reason is None:
        return web.json({"ready": True})
    return web.json({"ready": False, "reason": reason}, status=503)


def _input_partitions() -> set[TP]:
    """The assigned partitions agents read (not the table changelogs being restored)."""
    changelogs = app.tables.changelog_topics
    try:
        assigned = app.consumer.assignment()
    except ConsumerNotStarted:  # the web server answers before the consumer has started
        return set()
    return {tp for tp in assigned if tp.topic not in changelogs}


async def _consumer_lags() -> dict[tuple[str, int], int]:
    partitions = sorted(_input_partitions())
    if not partitions:
        return {}
    consumer = app.consumer
    ends = await consumer.highwaters(*partitions)
    earliest = await consumer.earliest_offsets(*partitions)
    # Faust keeps the group's committed offsets here (read from the broker at assignment,
    # updated on each commit); 0.15 has no public accessor.
    committed = getattr(consumer, "_committed_offset", {})
    lags = {}
    for tp in partitions:
        lag = partition_lag(ends.get(tp), committed.get(tp), earliest.get(tp))
        if lag is not None:
            lags[(logical_topic(tp.topic, settings.topic_prefix), tp.partition)] = lag
    return lags


def _table_size(table: Collection) -> int:
    """Keys held locally; RocksDB's own estimate rather than a scan of a larger-than-memory
    table."""
    databases = getattr(table.data, "_dbs", None)
    if databases is None:
        return len(table.data)
    return sum(
        int(db.property_int_value("rocksdb.estimate-num-keys") or 0) for db in databases.values()
    )


async def update_state_gauges() -> None:
    """Recompute the gauges that summarize state; a failure is logged, never fatal."""
    try:
        publish_quality(quality_window)
        publish_table_sizes(
            {table.name: _table_size(cast(Collection, table)) for table in app.tables.values()}
        )
    except Exception:  # monitoring must never stop the worker
        app.log.exception("could not update the quality and table gauges")
    if app.rebalancing:
        return  # assignments are moving: the next round measures the new ones
    try:
        lags = await asyncio.wait_for(_consumer_lags(), timeout=MONITOR_INTERVAL_SECONDS)
    except Exception as exc:  # the broker did not answer: no lag rather than a frozen one
        app.log.warning("consumer lag not measured: %r", exc)
        lags = {}
    publish_consumer_lag(lags)


app.timer(interval=MONITOR_INTERVAL_SECONDS)(update_state_gauges)


async def send_table_writes() -> None:
    await app.send_held_table_writes()


app.timer(interval=settings.table_write_interval_seconds)(send_table_writes)
