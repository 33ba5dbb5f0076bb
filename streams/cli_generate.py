"""``crmstream generate``: publish a reproducible synthetic CRM change stream to Kafka.

Registered on the main typer app with ``app.command("generate")(generate)``. The events come
from :class:`streams.generator.CrmSimulation` (same seed, same bytes), rendered by
:class:`streams.source_formats.FormattedSimulation` in the envelope ``--format`` asks for
(native, Salesforce CDC, Debezium, HubSpot webhooks, or a per-message mix), go out through
:func:`streams.publish.publish_events`, and the run's ground truth (invalid messages and their
expected errors, duplicate pairs, outcome labels, the format) is written next to it for tests
and benchmarks to check the pipeline against.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from kafka.errors import KafkaError

from streams.cli_errors import RUN_ERROR, USAGE_ERROR, fail
from streams.generator import CrmSimulation
from streams.kafka_admin import ensure_topics
from streams.publish import PublishError, publish_events, write_ground_truth
from streams.settings import ConfigurationError, load_settings
from streams.source_formats import FormattedSimulation, OutputFormat
from streams.topics import Topic, TopicSpec, topic_name, topic_specs

__all__ = ["generate"]


def generate(
    *,
    count: Annotated[int, typer.Option("--count", min=0, help="Number of events to publish.")],
    rate: Annotated[
        float | None,
        typer.Option("--rate", help="Events per second (default: as fast as Kafka accepts)."),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed: same seed, same events.")] = 7,
    duplicate_share: Annotated[
        float,
        typer.Option(
            "--duplicate-share", min=0.0, max=1.0, help="Share of new contacts/leads duplicated."
        ),
    ] = 0.05,
    invalid_share: Annotated[
        float,
        typer.Option("--invalid-share", min=0.0, max=1.0, help="Share of broken messages."),
    ] = 0.02,
    ground_truth: Annotated[
        Path, typer.Option("--ground-truth", help="Where to write the run's ground truth JSON.")
    ] = Path("ground_truth.json"),
    topic: Annotated[
        str | None,
        typer.Option("--topic", help="Topic to publish to (default: the changes topic)."),
    ] = None,
    output_format: Annotated[
        OutputFormat,
        typer.Option(
            "--format",
            case_sensitive=False,
            help="Envelope of valid events: as crmstream's own, as a real source sends them, "
            "or mixed per message. Broken messages stay native.",
        ),
    ] = OutputFormat.NATIVE,
) -> None:
    """Publish COUNT synthetic CRM change events and write their ground truth."""
    if rate is not None and rate <= 0:
        fail(f"--rate must be a positive number of events per second, got {rate}", USAGE_ERROR)
    try:
        settings = load_settings()
        servers = settings.bootstrap_servers
    except ConfigurationError as exc:
        fail(str(exc), USAGE_ERROR)
    topic = topic or topic_name(settings, Topic.CHANGES)
    specs = topic_specs(settings)
    if topic not in {spec.name for spec in specs}:
        specs.append(TopicSpec(topic, settings.topic_partitions, settings.topic_replication_factor))
    simulation = FormattedSimulation(
        CrmSimulation(seed, duplicate_share=duplicate_share, invalid_share=invalid_share),
        output_format,
    )
    try:
        # Brokers usually refuse to auto-create topics: a fresh `crmstream kafka start` has none.
        ensure_topics(servers, specs)
        report = publish_events(
            simulation.events(count),
            bootstrap_servers=servers,
            topic=topic,
            rate=rate,
            progress=sys.stdout.isatty(),
            total=count,
        )
    except ConfigurationError as exc:  # the topics exist with another partition count
        fail(str(exc), USAGE_ERROR)
    except PublishError as exc:
        fail(str(exc), RUN_ERROR)
    except KafkaError as exc:
        fail(f"could not publish to Kafka at {servers}: {type(exc).__name__}: {exc}", RUN_ERROR)
    write_ground_truth(simulation.ground_truth, ground_truth)
    truth = simulation.ground_truth
    typer.echo(
        f"published {report.sent} {output_format.value} events to {topic} in "
        f"{report.elapsed_s:.1f} s ({report.events_per_s:,.0f}/s, seed {seed}): "
        f"{len(truth.invalid)} invalid, "
        f"{len(truth.duplicates)} duplicates, {len(truth.outcomes)} labels; "
        f"ground truth in {ground_truth}"
    )
