"""Prometheus metrics of the worker, served on its web port at ``/metrics``.

Labels are bounded enums (entity type, op, format, reason codes, logical topic, table,
partition number): never ids or field values, so the series count stays small and no
personal data reaches the monitoring stack.

Counters and histograms are updated as events pass; the gauges that summarize state (consumer
lag, table sizes, data quality over a rolling window) are computed by small pure functions
here and set by the worker's monitoring timer (``streams.app``).
"""

from __future__ import annotations

import statistics
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

from prometheus_client import Counter, Gauge, Histogram, Info

from models.matching.learning import LearnedMatcher
from models.matching.linking import Effects
from schemas.duplicates import Decision
from schemas.enrich import EnrichedRecord
from schemas.errors import ErrorCode
from schemas.ingest import IngestResult
from schemas.outbound import DeadLetter
from streams.topics import Topic

_Metric = TypeVar("_Metric", Counter, Gauge, Histogram)
_children: dict[tuple[int, tuple[str, ...]], Any] = {}


def _series(metric: _Metric, *values: str) -> _Metric:
    """``metric.labels(*values)``, looked up once: prometheus_client validates and locks on
    every ``labels`` call, which the per-event counters would pay several times an event."""
    key = (id(metric), values)
    child = _children.get(key)
    if child is None:
        child = _children[key] = metric.labels(*values)
    return cast(_Metric, child)


_FAST_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5)
# From a live CDC feed (sub-second) to a backfill of yesterday's export (a day and more).
_LAG_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 21600, 86400)
_TOPIC_NAMES = frozenset(topic.value for topic in Topic)
QUALITY_WINDOW_RECORDS = 1000
"""How many of the latest enriched records of each entity type the quality gauges summarize."""

EVENTS_CONSUMED = Counter(
    "crmstream_events_consumed_total", "Inbound messages read from the input topics."
)
CHANGES_ROUTED = Counter(
    "crmstream_changes_routed_total",
    "Canonical changes decoded from inbound messages, by envelope format.",
    ["source_format"],
)
MESSAGES_SKIPPED = Counter(
    "crmstream_messages_skipped_total",
    "Inbound messages that legitimately hold no change (tombstones, truncates...).",
    ["reason"],
)
DEAD_LETTERS = Counter(
    "crmstream_dead_letters_total",
    "Messages parked on the dead-letter topic, by the first reason.",
    ["code"],
)
# At 0 from the start, as start_drift_alerts does: ``increase`` needs the 0 before the first
# internal failure to see it (the CrmstreamInternalFailures alert).
DEAD_LETTERS.labels(ErrorCode.PROCESSING_FAILED.value)
EVENTS_ENRICHED = Counter(
    "crmstream_events_enriched_total",
    "Changes merged into their record and written to the enriched topic.",
    ["entity_type", "op", "merge_outcome"],
)
INVALID_FIELDS = Counter(
    "crmstream_invalid_fields_total",
    "Invalid field values seen in enriched records, by reason.",
    ["entity_type", "reason"],
)
COMPLETENESS = Histogram(
    "crmstream_record_completeness",
    "Share of the expected fields present in each enriched record.",
    ["entity_type"],
    buckets=(0.2, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1.0),
)
INGEST_SECONDS = Histogram(
    "crmstream_ingest_seconds",
    "In-process time to decode one inbound message and hand its changes to the producer.",
    buckets=_FAST_BUCKETS,
)
ENRICH_SECONDS = Histogram(
    "crmstream_enrich_seconds",
    "In-process time to handle one record event: a change (merge, standardize, assess, "
    "ask the blocks), a block answer or news about a pair.",
    buckets=_FAST_BUCKETS,
)
MATCH_REQUESTS = Counter(
    "crmstream_match_requests_total",
    "Requests to index (or un-index) a record under one blocking key.",
    ["op"],
)
DUPLICATE_DECISIONS = Counter(
    "crmstream_duplicate_decisions_total",
    "Pairs whose decision changed, as published on the duplicates topic.",
    ["decision", "source"],
)
FEEDBACK_VERDICTS = Counter(
    "crmstream_feedback_verdicts_total",
    "Reviewers' verdicts read from the feedback topic.",
    ["verdict"],
)
MATCHER_FEEDBACK = Gauge(
    "crmstream_matcher_feedback_labels",
    "Reviewed pairs the match model learned from (reported by its one learner).",
)
MATCHER_PRECISION = Gauge(
    "crmstream_matcher_precision",
    "Share of reviewed 'duplicate' decisions that reviewers confirmed (NaN before any).",
)
MATCHER_REVIEW_PROBABILITY = Gauge(
    "crmstream_matcher_review_probability",
    "Lower edge of the review band in model probability; it rises as feedback accumulates.",
)
EVENTS_PRODUCED = Counter(
    "crmstream_events_produced_total",
    "Messages handed to the producer, by logical topic (without the configured prefix), "
    "entity type and op ('' when a message is not about one change).",
    ["topic", "entity_type", "op"],
)
END_TO_END_LAG = Histogram(
    "crmstream_end_to_end_lag_seconds",
    "From the change's commit time at the source (occurred_at) to its enriched record's "
    "emit; negative when the source clock runs ahead.",
    ["entity_type"],
    buckets=_LAG_BUCKETS,
)
CONSUMER_LAG = Gauge(
    "crmstream_consumer_lag",
    "Messages of an assigned input partition not yet committed by the consumer group: end "
    "offset minus committed offset (or minus the earliest offset before the first commit).",
    ["topic", "partition"],
)
TABLE_KEYS = Gauge(
    "crmstream_table_keys",
    "Keys this worker holds per table, active and standby partitions (RocksDB: its estimate).",
    ["table"],
)
REVIEW_BACKLOG = Gauge(
    "crmstream_review_backlog_pairs",
    "Pairs this worker put up for review ('possible') minus those that left review since, "
    "as counted from published pair events since the worker started; sum over workers.",
)
QUALITY_COMPLETENESS = Gauge(
    "crmstream_quality_completeness",
    "Mean completeness of this worker's latest enriched records of the entity type.",
    ["entity_type"],
)
QUALITY_INVALID_SHARE = Gauge(
    "crmstream_quality_invalid_share",
    "Share of this worker's latest enriched records with at least one invalid field.",
    ["entity_type"],
)
QUALITY_DUPLICATE_RATE = Gauge(
    "crmstream_quality_duplicate_rate",
    "Share of this worker's latest enriched records (of matched types) that duplicate an "
    "older record.",
    ["entity_type"],
)
QUALITY_TIMELINESS = Gauge(
    "crmstream_quality_timeliness_seconds",
    "Median processing time minus occurred_at of this worker's latest enriched records.",
    ["entity_type"],
)
MODEL_AUC = Gauge(
    "crmstream_model_auc",
    "Progressive ROC AUC of the outcome model checkpoint this worker scores with (NaN until "
    "both outcomes were seen).",
    ["model"],
)
MODEL_LOG_LOSS = Gauge(
    "crmstream_model_log_loss",
    "Progressive log loss of the outcome model checkpoint this worker scores with.",
    ["model"],
)
MODEL_LABELS = Gauge(
    "crmstream_model_labels",
    "Labels the outcome model checkpoint this worker scores with has learned.",
    ["model"],
)
MODEL_READY = Gauge(
    "crmstream_model_ready",
    "1 when the outcome model this worker scores with has its minimum of labels, else 0.",
    ["model"],
)
MODEL = Info(
    "crmstream_model", "The checkpoint version each outcome model is scored with.", ["model"]
)
MODEL_SCORES = Histogram(
    "crmstream_model_score",
    "Scores (0-100) given to records, by outcome model.",
    ["model"],
    buckets=(10, 20, 30, 40, 50, 60, 70, 80, 90, 100),
)
MODEL_EXAMPLES = Counter(
    "crmstream_model_examples_total",
    "Labels joined with the features of the prediction before them and sent to the learner.",
    ["model"],
)
SCORING_FAILURES = Counter(
    "crmstream_scoring_failures_total",
    "Changes enriched without a score because scoring failed (the log says why).",
    ["entity_type"],
)
MODEL_LABELS_REPEATED = Counter(
    "crmstream_model_labels_repeated_total",
    "Labels the learner passed over because it had learned them already (sent again after "
    "a crash).",
    ["model"],
)
MODEL_CHECKPOINTS = Counter(
    "crmstream_model_checkpoints_total",
    "Outcome model checkpoints written by this worker (the one learner).",
    ["model"],
)
DRIFT_ALERTS = Counter(
    "crmstream_drift_alerts_total",
    "Drift alerts published on crm.alerts by the one learner, by outcome model and kind "
    "(data: a feature moved; concept: the model's error rose). Which feature: the alert says.",
    ["model", "kind"],
)
DRIFT_KINDS = ("data", "concept")
MODEL_DECISIONS = Counter(
    "crmstream_model_decisions_total",
    "Champion decisions of the one learner, by outcome model and action (promoted, kept: "
    "after a drift trial or an operator's promote; rolled_back; refused: a challenger not "
    "ready). The checkpoint that follows each one records it.",
    ["model", "action"],
)
MODEL_ERROR = Gauge(
    "crmstream_model_drift_error",
    "Mean Brier score of the outcome model's prediction-time probabilities over the "
    "concept-drift detector's current window (reported by the one learner).",
    ["model"],
)
OUTLIERS = Counter(
    "crmstream_outliers_total",
    "Scored records whose watched numbers (opportunity amount, account size and revenue) the "
    "worker's anomaly detector flagged as outliers, by entity type.",
    ["entity_type"],
)
WORKER = Info("crmstream_worker", "The worker's version and configuration.")


def record_ingest(result: IngestResult, seconds: float) -> None:
    EVENTS_CONSUMED.inc()
    INGEST_SECONDS.observe(seconds)
    for routed in result.routed:
        _series(CHANGES_ROUTED, str(routed.source_format or "unknown")).inc()
        record_produced(Topic.ROUTED, routed.change.entity_type.value, routed.change.op.value)
    if result.skipped is not None:
        MESSAGES_SKIPPED.labels(result.skipped).inc()
    if result.dead_letter is not None:
        record_parked(result.dead_letter)


def record_produced(topic: Topic, entity_type: str = "", op: str = "", count: int = 1) -> None:
    if count:
        _series(EVENTS_PRODUCED, topic.value, entity_type, op).inc(count)


def record_parked(letter: DeadLetter) -> None:
    DEAD_LETTERS.labels(letter.errors[0].code.value).inc()
    record_produced(Topic.DEADLETTER)


def record_matching(effects: Effects, seconds: float) -> None:
    ENRICH_SECONDS.observe(seconds)
    for request in effects.index_requests:
        _series(MATCH_REQUESTS, "remove" if request.member is None else "index").inc()
    record_produced(Topic.MATCH_REQUESTS, count=len(effects.index_requests))
    record_produced(Topic.MATCH_LINKS, count=len(effects.links))
    record_produced(Topic.MATCH_LEARNING, count=len(effects.learning))
    for duplicate in effects.duplicates:
        DUPLICATE_DECISIONS.labels(duplicate.decision.value, duplicate.source).inc()
        REVIEW_BACKLOG.inc(review_backlog_change(duplicate.previous_decision, duplicate.decision))
        record_produced(Topic.DUPLICATES, duplicate.record.entity_type.value)


def review_backlog_change(previous: Decision | None, decision: Decision) -> int:
    """+1 when a pair enters review, -1 when it leaves (risen, rejected, or a record gone).

    >>> review_backlog_change(None, Decision.POSSIBLE), review_backlog_change(
    ...     Decision.POSSIBLE, Decision.DUPLICATE), review_backlog_change(None, Decision.DUPLICATE)
    (1, -1, 0)
    """
    return int(decision is Decision.POSSIBLE) - int(previous is Decision.POSSIBLE)


def record_block_answer() -> None:
    record_produced(Topic.MATCH_ANSWERS)


def record_feedback(verdict: str, links: int = 0) -> None:
    FEEDBACK_VERDICTS.labels(verdict).inc()
    record_produced(Topic.MATCH_LINKS, count=links)


def record_match_model(model: LearnedMatcher) -> None:
    MATCHER_FEEDBACK.set(model.feedback_count)
    precision = model.precision
    MATCHER_PRECISION.set(float("nan") if precision is None else precision)
    MATCHER_REVIEW_PROBABILITY.set(model.review_probability())


def record_enriched(enriched: EnrichedRecord, emitted_at: datetime | None = None) -> None:
    """An enriched record handed to the producer (``emitted_at``: now unless told)."""
    entity_type = enriched.record.entity_type.value
    op = enriched.change.op.value
    _series(EVENTS_ENRICHED, entity_type, op, enriched.merge_outcome).inc()
    record_produced(Topic.ENRICHED, entity_type, op)
    _series(COMPLETENESS, entity_type).observe(enriched.quality.completeness)
    for reason in enriched.quality.invalid_fields.values():
        _series(INVALID_FIELDS, entity_type, reason).inc()
    emitted = datetime.now(UTC) if emitted_at is None else emitted_at
    _series(END_TO_END_LAG, entity_type).observe(
        (emitted - enriched.change.occurred_at).total_seconds()
    )
    quality_window.add(entity_type, QualitySample.of(enriched))


def record_score(model: str, entity_type: str, score: int) -> None:
    _series(MODEL_SCORES, model).observe(score)
    record_produced(Topic.SCORES, entity_type)


def record_scoring_failure(entity_type: str) -> None:
    SCORING_FAILURES.labels(entity_type).inc()


def record_training_example(model: str) -> None:
    MODEL_EXAMPLES.labels(model).inc()
    record_produced(Topic.MODEL_LEARNING)


def record_label_repeated(model: str) -> None:
    MODEL_LABELS_REPEATED.labels(model).inc()


def record_model_checkpoint(model: str) -> None:
    MODEL_CHECKPOINTS.labels(model).inc()
    record_produced(Topic.MODELS)


def start_drift_alerts(models: Iterable[str]) -> None:
    """Create every (model, kind) series at 0: a counter never incremented has no series,
    and ``increase`` needs the 0 before the first alert to see it."""
    for model in models:
        for kind in DRIFT_KINDS:
            DRIFT_ALERTS.labels(model, kind)


MODEL_ACTIONS = ("promoted", "kept", "rolled_back", "refused")


def start_model_decisions(models: Iterable[str]) -> None:
    """Create every (model, action) decision series at 0 (as :func:`start_drift_alerts`)."""
    for model in models:
        for action in MODEL_ACTIONS:
            MODEL_DECISIONS.labels(model, action)


def record_model_decision(model: str, action: str) -> None:
    MODEL_DECISIONS.labels(model, action).inc()


def record_drift_alert(model: str, kind: str) -> None:
    DRIFT_ALERTS.labels(model, kind).inc()
    record_produced(Topic.ALERTS)


def start_outliers(entity_types: Iterable[str]) -> None:
    """Create each watched entity type's outlier series at 0 (as :func:`start_drift_alerts`)."""
    for entity_type in entity_types:
        OUTLIERS.labels(entity_type)


def record_outlier(entity_type: str) -> None:
    OUTLIERS.labels(entity_type).inc()


def record_model_error(model: str, error: float) -> None:
    """The learner's current prediction error (concept-drift window), after each label."""
    MODEL_ERROR.labels(model).set(error)


def publish_model(
    model: str,
    *,
    version: int,
    labels: int,
    ready: bool,
    roc_auc: float | None,
    log_loss: float | None,
) -> None:
    """The model checkpoint this worker scores with, as read from the global table."""
    MODEL.labels(model).info({"version": str(version)})
    MODEL_LABELS.labels(model).set(labels)
    MODEL_READY.labels(model).set(int(ready))
    MODEL_AUC.labels(model).set(float("nan") if roc_auc is None else roc_auc)
    MODEL_LOG_LOSS.labels(model).set(float("nan") if log_loss is None else log_loss)


def record_worker_info(*, version: str, app_id: str, processing_guarantee: str, store: str) -> None:
    WORKER.info(
        {
            "version": version,
            "app_id": app_id,
            "processing_guarantee": processing_guarantee,
            "table_store": store,
        }
    )


# -- data quality over a rolling window --------------------------------------------------------


@dataclass(frozen=True, slots=True)
class QualitySample:
    """What the quality gauges need of one enriched record."""

    completeness: float
    invalid: bool
    duplicate: bool | None  # None: a type never matched (opportunity, activity)
    timeliness_seconds: float

    @classmethod
    def of(cls, enriched: EnrichedRecord) -> QualitySample:
        verdict = enriched.duplicates
        return cls(
            completeness=enriched.quality.completeness,
            invalid=bool(enriched.quality.invalid_fields),
            duplicate=None if verdict is None else verdict.duplicate_of is not None,
            timeliness_seconds=enriched.quality.timeliness_ms / 1000.0,
        )


@dataclass(frozen=True, slots=True)
class QualitySummary:
    """The quality gauges of one entity type; ``duplicate_rate`` None for unmatched types."""

    completeness: float
    invalid_share: float
    duplicate_rate: float | None
    timeliness_seconds: float


def summarize_quality(samples: Iterable[QualitySample]) -> QualitySummary | None:
    """Means and shares over ``samples`` (median timeliness: one backfill must not dominate).

    >>> summarize_quality([QualitySample(1.0, False, True, 2.0),
    ...                    QualitySample(0.5, True, False, 4.0)])
    QualitySummary(completeness=0.75, invalid_share=0.5, duplicate_rate=0.5, timeliness_seconds=3.0)
    >>> summarize_quality([QualitySample(1.0, False, None, 1.0)]).duplicate_rate is None
    True
    >>> summarize_quality([]) is None
    True
    """
    window = list(samples)
    if not window:
        return None
    matched = [sample.duplicate for sample in window if sample.duplicate is not None]
    return QualitySummary(
        completeness=statistics.fmean(sample.completeness for sample in window),
        invalid_share=sum(sample.invalid for sample in window) / len(window),
        duplicate_rate=sum(matched) / len(matched) if matched else None,
        timeliness_seconds=statistics.median(sample.timeliness_seconds for sample in window),
    )


class QualityWindow:
    """The latest ``size`` quality samples of each entity type."""

    def __init__(self, size: int = QUALITY_WINDOW_RECORDS) -> None:
        self.size = size
        self.samples: dict[str, deque[QualitySample]] = {}

    def add(self, entity_type: str, sample: QualitySample) -> None:
        self.samples.setdefault(entity_type, deque(maxlen=self.size)).append(sample)

    def summaries(self) -> dict[str, QualitySummary]:
        return {
            entity_type: summary
            for entity_type, samples in self.samples.items()
            if (summary := summarize_quality(samples)) is not None
        }


quality_window = QualityWindow()


def publish_quality(window: QualityWindow) -> None:
    for entity_type, summary in window.summaries().items():
        QUALITY_COMPLETENESS.labels(entity_type).set(summary.completeness)
        QUALITY_INVALID_SHARE.labels(entity_type).set(summary.invalid_share)
        if summary.duplicate_rate is not None:
            QUALITY_DUPLICATE_RATE.labels(entity_type).set(summary.duplicate_rate)
        QUALITY_TIMELINESS.labels(entity_type).set(summary.timeliness_seconds)


# -- readiness ---------------------------------------------------------------------------------


def not_ready_reason(*, input_partitions: int, rebalancing: bool, recovered: bool) -> str | None:
    """Why the worker cannot process events yet, or None when it can.

    >>> not_ready_reason(input_partitions=4, rebalancing=False, recovered=True) is None
    True
    >>> not_ready_reason(input_partitions=0, rebalancing=False, recovered=True)
    'no input partitions assigned'
    """
    if rebalancing:
        return "consumer group rebalancing"
    if not recovered:
        return "tables recovering from their changelogs"
    if input_partitions == 0:
        return "no input partitions assigned"
    return None


# -- consumer lag and table sizes --------------------------------------------------------------


def logical_topic(name: str, prefix: str) -> str:
    """A topic's name without the configured prefix when it is one of ours (a bounded label).

    >>> logical_topic("crm.changes", "crm."), logical_topic("pg.public.leads", "crm.")
    ('changes', 'pg.public.leads')
    """
    suffix = name.removeprefix(prefix)
    return suffix if name.startswith(prefix) and suffix in _TOPIC_NAMES else name


def partition_lag(end: int | None, committed: int | None, earliest: int | None) -> int | None:
    """Messages of a partition the group has not committed yet; None when the end is unknown.

    Before the group's first commit the consumer starts at the earliest offset, and a commit
    older than the retained log resumes there too.

    >>> partition_lag(120, 100, 0), partition_lag(120, None, 20), partition_lag(120, 5, 20)
    (20, 100, 100)
    >>> partition_lag(None, 3, 0) is None
    True
    """
    if end is None:
        return None
    start = max(committed or 0, earliest or 0)
    return max(end - start, 0)


def publish_consumer_lag(lags: Mapping[tuple[str, int], int]) -> None:
    """Replace the lag series with these (topic, partition) values; revoked ones disappear."""
    CONSUMER_LAG.clear()
    for (topic, partition), lag in lags.items():
        CONSUMER_LAG.labels(topic, str(partition)).set(lag)


def publish_table_sizes(sizes: Mapping[str, int]) -> None:
    for table, size in sizes.items():
        TABLE_KEYS.labels(table).set(size)
