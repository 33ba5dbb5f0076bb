"""Prometheus metrics of the worker, served on its web port at ``/metrics``.

Labels are bounded enums (entity type, op, error code): never ids or field values, so the
series count stays small and no personal data reaches the monitoring stack.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

from schemas.outbound import DeadLetter, EnrichedChange

EVENTS_CONSUMED = Counter(
    "crmstream_events_consumed_total", "Inbound change messages read from Kafka."
)
EVENTS_ENRICHED = Counter(
    "crmstream_events_enriched_total",
    "Changes validated and written to the enriched topic.",
    ["entity_type", "op"],
)
DEAD_LETTERS = Counter(
    "crmstream_dead_letters_total",
    "Messages parked on the dead-letter topic, by the first reason.",
    ["code"],
)
INGEST_SECONDS = Histogram(
    "crmstream_ingest_seconds",
    "In-process time to validate one message and hand its result to the producer.",
    buckets=(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5),
)


def record_outcome(outcome: EnrichedChange | DeadLetter, seconds: float) -> None:
    EVENTS_CONSUMED.inc()
    INGEST_SECONDS.observe(seconds)
    if isinstance(outcome, EnrichedChange):
        EVENTS_ENRICHED.labels(outcome.change.entity_type.value, outcome.change.op.value).inc()
    else:
        DEAD_LETTERS.labels(outcome.errors[0].code.value).inc()
