"""Prometheus metrics of the worker, served on its web port at ``/metrics``.

Labels are bounded enums (entity type, op, format, reason codes): never ids or field values,
so the series count stays small and no personal data reaches the monitoring stack.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from models.matching.learning import LearnedMatcher
from models.matching.linking import Effects
from schemas.enrich import EnrichedRecord
from schemas.ingest import IngestResult
from schemas.outbound import DeadLetter

_FAST_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5)

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


def record_ingest(result: IngestResult, seconds: float) -> None:
    EVENTS_CONSUMED.inc()
    INGEST_SECONDS.observe(seconds)
    for routed in result.routed:
        CHANGES_ROUTED.labels(str(routed.source_format or "unknown")).inc()
    if result.skipped is not None:
        MESSAGES_SKIPPED.labels(result.skipped).inc()
    if result.dead_letter is not None:
        record_parked(result.dead_letter)


def record_parked(letter: DeadLetter) -> None:
    DEAD_LETTERS.labels(letter.errors[0].code.value).inc()


def record_matching(effects: Effects, seconds: float) -> None:
    ENRICH_SECONDS.observe(seconds)
    for request in effects.index_requests:
        MATCH_REQUESTS.labels("remove" if request.member is None else "index").inc()
    for duplicate in effects.duplicates:
        DUPLICATE_DECISIONS.labels(duplicate.decision.value, duplicate.source).inc()


def record_feedback(verdict: str) -> None:
    FEEDBACK_VERDICTS.labels(verdict).inc()


def record_match_model(model: LearnedMatcher) -> None:
    MATCHER_FEEDBACK.set(model.feedback_count)
    precision = model.precision
    MATCHER_PRECISION.set(float("nan") if precision is None else precision)
    MATCHER_REVIEW_PROBABILITY.set(model.review_probability())


def record_enriched(enriched: EnrichedRecord) -> None:
    entity_type = enriched.record.entity_type.value
    EVENTS_ENRICHED.labels(entity_type, enriched.change.op.value, enriched.merge_outcome).inc()
    COMPLETENESS.labels(entity_type).observe(enriched.quality.completeness)
    for reason in enriched.quality.invalid_fields.values():
        INVALID_FIELDS.labels(entity_type, reason).inc()
