"""``crmstream demo``: a broker, the topics, a worker and the generator, then a summary.

Everything it starts it also stops, on success, on error and on Ctrl-C, so a newcomer's
machine is left as it was found.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from rich.console import Console
from rich.table import Table

from schemas.outbound import DeadLetter
from streams.generator import CrmSimulation, GeneratedEvent
from streams.kafka_admin import ensure_topics
from streams.local_kafka import LocalKafka
from streams.ports import free_port, port_is_free
from streams.publish import publish_events
from streams.settings import Settings
from streams.topic_reader import end_offsets, read_records
from streams.topics import Topic, topic_name, topic_specs
from streams.worker_process import WorkerProcess, scrape_metrics

INVALID = "invalid on purpose"


@dataclass
class DemoSummary:
    """Counts per entity type: what went in and where it came out."""

    sent: Counter[str] = field(default_factory=Counter)
    enriched: Counter[str] = field(default_factory=Counter)
    parked: Counter[str] = field(default_factory=Counter)
    completeness: Counter[str] = field(default_factory=Counter)  # summed, per entity type
    corrected: Counter[str] = field(default_factory=Counter)  # fields fixed by standardization
    invalid: Counter[str] = field(default_factory=Counter)  # invalid field values kept
    consumed_metric: float | None = None

    @property
    def accounted(self) -> int:
        return sum(self.enriched.values()) + sum(self.parked.values())

    def table(self) -> Table:
        table = Table(title="crmstream demo: every event in, and where it came out")
        columns = (
            "entity type",
            "events in",
            "enriched",
            "dead-lettered",
            "completeness",
            "fields corrected",
            "invalid values",
        )
        for column in columns:
            table.add_column(column, justify="left" if column == "entity type" else "right")
        for label in sorted(self.sent):
            table.add_row(label, *self._row(label))
        table.add_row("total", *self._row(None), style="bold")
        return table

    def _row(self, label: str | None) -> list[str]:
        def count(counter: Counter[str]) -> int:
            return sum(counter.values()) if label is None else counter[label]

        enriched = count(self.enriched)
        completeness = f"{count(self.completeness) / enriched:.0%}" if enriched else "-"
        return [
            str(count(self.sent)),
            str(enriched),
            str(count(self.parked)),
            completeness,
            str(count(self.corrected)),
            str(count(self.invalid)),
        ]


def run_demo(
    settings: Settings, *, duration: float, rate: float, seed: int, console: Console
) -> DemoSummary:
    """Run the whole flow once; raises if something it started fails."""
    count = max(1, int(duration * rate))
    with ExitStack() as cleanup:
        workdir = Path(cleanup.enter_context(tempfile.TemporaryDirectory(prefix="crmstream-demo-")))
        bootstrap = _broker(settings, workdir, cleanup, console)
        ensure_topics(bootstrap, topic_specs(settings))
        outputs = [topic_name(settings, Topic.ENRICHED), topic_name(settings, Topic.DEADLETTER)]
        start = end_offsets(bootstrap, outputs)

        web_port = settings.web_port if port_is_free(settings.web_port) else free_port()
        metrics_url = f"http://127.0.0.1:{web_port}/metrics"
        worker = WorkerProcess(
            {
                "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
                "CRMSTREAM_WEB_PORT": str(web_port),
                "CRMSTREAM_DATA_DIR": str(workdir / "worker-data"),
            },
            workdir / "worker.log",
        )
        cleanup.enter_context(worker)
        console.print(f"worker started; metrics at [bold]{metrics_url}[/] (log: {worker.log_path})")

        simulation = CrmSimulation(seed=seed)
        summary = DemoSummary()
        labels: dict[str, str] = {}
        events = _tally(simulation.events(count), summary, labels)
        console.print(f"generating {count} CRM changes at {rate:g}/s for about {duration:g} s")
        publish_events(
            events,
            bootstrap_servers=bootstrap,
            topic=topic_name(settings, Topic.CHANGES),
            rate=rate,
            progress=console.is_terminal,
        )
        with console.status("waiting for the worker to account for every event"):
            records = read_records(bootstrap, outputs, expected=count, timeout=120, start=start)
        if worker.returncode is not None:
            raise RuntimeError(f"the worker exited early:\n{worker.log_tail()}")
        _count_outputs(records, summary, labels)
        summary.consumed_metric = _consumed(metrics_url)
        return summary


def _broker(settings: Settings, workdir: Path, cleanup: ExitStack, console: Console) -> str:
    if settings.kafka_bootstrap_servers:
        console.print(f"using the configured Kafka at {settings.kafka_bootstrap_servers}")
        return settings.kafka_bootstrap_servers
    broker = LocalKafka(workdir / "broker")
    with console.status("starting a local Kafka broker (first run downloads its jars)"):
        cleanup.callback(broker.stop)
        bootstrap = broker.start(timeout=120)
    console.print(f"local Kafka broker up at {bootstrap}")
    return bootstrap


def _tally(
    events: Iterable[GeneratedEvent], summary: DemoSummary, labels: dict[str, str]
) -> Iterator[GeneratedEvent]:
    """Count what goes in on its way to the producer; remember each value's label by digest."""
    for event in events:
        label = event.entity_type or INVALID
        summary.sent[label] += 1
        labels[_digest(event.value)] = label
        yield event


def _count_outputs(records: list[Any], summary: DemoSummary, labels: dict[str, str]) -> None:
    for record in records:
        value = orjson.loads(record.value)
        if record.topic.endswith(Topic.ENRICHED):
            entity_type, quality = value["change"]["entity_type"], value["quality"]
            summary.enriched[entity_type] += 1
            summary.completeness[entity_type] += quality["completeness"]
            summary.corrected[entity_type] += len(quality["corrected_fields"])
            summary.invalid[entity_type] += len(quality["invalid_fields"])
        else:
            original = DeadLetter.model_validate(value).original_value() or b""
            summary.parked[labels.get(_digest(original), INVALID)] += 1


def _digest(value: bytes) -> str:
    return hashlib.sha256(value).hexdigest()


def _consumed(metrics_url: str) -> float | None:
    """What the worker itself counted; the summary still prints if it cannot be read."""
    try:
        return scrape_metrics(metrics_url).get("crmstream_events_consumed_total")
    except OSError:
        return None
