"""The ``crmstream`` command: worker, demo, generator, topics and the local broker."""

from __future__ import annotations

import gc
import sys
from pathlib import Path
from typing import Annotated

import typer

from schemas.backfill import ExportSource
from schemas.change import EntityType
from streams.cli_errors import RUN_ERROR, fail
from streams.cli_generate import generate
from streams.cli_kafka import kafka_commands
from streams.cli_models import models_commands
from streams.settings import ConfigurationError, Settings, load_settings

cli = typer.Typer(
    help="Real-time enrichment of CRM change events on Kafka.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
topics_commands = typer.Typer(help="Manage the service's Kafka topics.", no_args_is_help=True)
deadletter_commands = typer.Typer(help="Work with parked messages.", no_args_is_help=True)
cli.add_typer(
    kafka_commands, name="kafka", help="A local Apache Kafka broker for trials and tests."
)
cli.add_typer(topics_commands, name="topics")
cli.add_typer(deadletter_commands, name="deadletter")
cli.add_typer(models_commands, name="models")
cli.command("generate")(generate)


def _settings() -> Settings:
    try:
        return load_settings()
    except ConfigurationError as exc:
        fail(str(exc))


def _ensure_topics(settings: Settings) -> list[str]:
    """Create missing topics up front: the worker never relies on broker auto-creation."""
    from kafka.errors import KafkaError

    from streams.kafka_admin import ensure_topics
    from streams.topics import topic_specs

    try:
        return ensure_topics(settings.bootstrap_servers, topic_specs(settings))
    except ConfigurationError as exc:
        fail(str(exc))
    except KafkaError as exc:
        fail(f"cannot create topics on Kafka at {settings.bootstrap_servers}: {exc!r}")


@cli.command()
def worker() -> None:
    """Run a stream-processing worker (stops cleanly on SIGTERM or Ctrl-C)."""
    settings = _settings()
    _ensure_topics(settings)
    # Imported late: declaring the Faust app needs a valid configuration.
    import streams.agents  # noqa: F401  (declares the agents on the app)
    from streams.app import app
    from streams.log_limits import LimitedLogWorker

    _collect_garbage_less_often()
    LimitedLogWorker(app, loglevel=settings.log_level).execute_from_commandline()


def _collect_garbage_less_often() -> None:
    """Keep what start-up loaded out of the cycle collector's way, and run it less often.

    A worker holds about half a million objects the collector tracks (the decoded table values
    it keeps, the models, what the imports made). Python's default thresholds scanned them all
    every couple of seconds under load: 12 full collections took 2.9 s of an 8,000-event run,
    up to 0.36 s each, a pause for every event in flight. Frozen at start and with the young
    generation collected every 20,000 allocations instead of 700: 0.4 s, and 7% less CPU per
    event in three paired runs (``bench.throughput``'s worker, 6,000 events). Objects are still
    freed as soon as nothing refers to them; only garbage in reference cycles waits longer.
    """
    gc.freeze()
    gc.set_threshold(20_000, 20, 20)


@cli.command()
def demo(
    duration: float = typer.Option(60.0, min=1, help="Seconds of generated traffic."),
    rate: float = typer.Option(200.0, min=1, help="Generated events per second."),
    seed: int = typer.Option(7, help="Seed of the synthetic CRM."),
) -> None:
    """See it work: local broker (unless one is configured), topics, a worker, the generator."""
    from rich.console import Console

    from streams.demo import run_demo
    from streams.local_kafka import LocalKafkaError

    console = Console()
    settings = _settings()
    try:
        summary = run_demo(settings, duration=duration, rate=rate, seed=seed, console=console)
    except KeyboardInterrupt:
        console.print("interrupted: everything the demo started has been stopped")
        raise typer.Exit(code=130) from None
    except (LocalKafkaError, ConfigurationError) as exc:
        fail(str(exc))
    console.print(summary.table())
    sent = sum(summary.sent.values())
    console.print(
        f"metrics: the worker counted {summary.consumed_metric or 0:.0f} consumed events on "
        "/metrics; run `crmstream worker` to keep one serving them"
    )
    if summary.accounted != sent:
        fail(f"{sent} events went in but {summary.accounted} came out within the time limit")


@topics_commands.command("create")
def create_topics() -> None:
    """Create the topics that do not exist yet (partitions and replication from settings)."""
    created = _ensure_topics(_settings())
    typer.echo(f"created {len(created)} topic(s): {', '.join(created) or 'none missing'}")


@cli.command("replay")
def replay_export(
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="CSV or JSON Lines export.")
    ],
    *,
    entity_type: Annotated[EntityType, typer.Option(help="What the rows are.")],
    source: Annotated[
        ExportSource, typer.Option(help="Whose column names: canonical, Salesforce or HubSpot.")
    ] = ExportSource.NATIVE,
    object_name: Annotated[
        str | None, typer.Option("--object", help="Source object, e.g. Event [default: by type].")
    ] = None,
    id_column: Annotated[
        str | None, typer.Option(help="Column of the record id [default: by source].")
    ] = None,
    timestamp_column: Annotated[
        str | None, typer.Option(help="Column of each row's last-modified time [default: mtime].")
    ] = None,
    columns: Annotated[
        Path | None, typer.Option(exists=True, help="JSON object: column -> canonical field.")
    ] = None,
    rate: Annotated[float | None, typer.Option(min=1, help="Rows per second.")] = None,
) -> None:
    """Backfill: load an existing CRM export as snapshot changes onto the changes topic."""
    import orjson
    from kafka.errors import KafkaError

    from schemas.backfill import ExportLayout, export_columns
    from schemas.mapping import FieldMappingError, load_field_mapping
    from streams.backfill import backfill
    from streams.publish import PublishError
    from streams.topics import Topic, topic_name

    settings = _settings()
    _ensure_topics(settings)
    try:
        overrides = orjson.loads(columns.read_bytes()) if columns else None
        layout = ExportLayout(
            columns=export_columns(
                load_field_mapping(settings.field_mapping_file),
                entity_type,
                source,
                object_name=object_name,
                overrides=overrides,
            ),
            id_column=id_column or source.default_id_column,
            timestamp_column=timestamp_column,
            source=f"backfill:{file.name}",
        )
        report = backfill(
            file,
            layout,
            bootstrap_servers=settings.bootstrap_servers,
            topic=topic_name(settings, Topic.CHANGES),
            rate=rate,
            progress=sys.stdout.isatty(),
        )
    except (ValueError, FieldMappingError, ConfigurationError, KafkaError, PublishError) as exc:
        fail(str(exc))
    published = report.published.sent if report.published else 0
    typer.echo(f"{report.rows} rows: {published} published as snapshot changes")
    if report.rejects_path is not None:
        reasons = ", ".join(f"{n} {code}" for code, n in sorted(report.reasons.items()))
        typer.echo(f"{report.rejected} rows rejected ({reasons}): see {report.rejects_path}")


@deadletter_commands.command("replay")
def replay_dead_letters(
    code: list[str] = typer.Option(  # noqa: B008 - typer declares options this way
        [], "--code", help="Only letters with this error code (repeatable)."
    ),
    to_topic: str | None = typer.Option(None, help="Send here instead of the source topic."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Count, send nothing, remember nothing."),
) -> None:
    """Re-submit parked originals to their source topic after a fix; each letter only once.

    Letters a run with --code leaves alone stay for a later run, with other codes or none.
    """
    from kafka.errors import KafkaError

    from streams.deadletter_replay import replay_dead_letters as replay
    from streams.topics import Topic, topic_name

    settings = _settings()
    try:
        report = replay(
            bootstrap_servers=settings.bootstrap_servers,
            deadletter_topic=topic_name(settings, Topic.DEADLETTER),
            group_id=f"{settings.app_id}-deadletter-replay",
            codes=code,
            to_topic=to_topic,
            dry_run=dry_run,
        )
    except (ConfigurationError, KafkaError, ValueError) as exc:
        fail(str(exc))
    verb = "would re-submit" if dry_run else "re-submitted"
    sent = ", ".join(f"{n} to {t}" for t, n in sorted(report.resubmitted.items())) or "none"
    kept = ", ".join(f"{n} {why}" for why, n in sorted(report.not_replayable.items())) or "none"
    typer.echo(
        f"read {report.read} dead letter(s): {verb} {sent}; "
        f"{report.filtered_out} filtered out; {report.handled_before} handled by an earlier "
        f"run with --code; not replayable: {kept}"
    )


@cli.command("report")
def quality_report(
    input_file: Annotated[
        Path | None,
        typer.Option(
            "--input", exists=True, dir_okay=False, help="JSON Lines of enriched records."
        ),
    ] = None,
    output: Annotated[
        Path, typer.Option("--output", file_okay=False, help="Directory for report and charts.")
    ] = Path("crmstream-report"),
    report_format: Annotated[str, typer.Option("--format", help="markdown or html.")] = "markdown",
) -> None:
    """Data-quality report over the enriched topic (read to its end) or a file of its records."""
    from streams.report import (
        ReportError,
        ReportFormat,
        build_report,
        parse_messages,
        read_lines,
        write_report,
    )
    from streams.topic_snapshot import TopicReadError, read_topic_to_end
    from streams.topics import Topic, topic_name

    if report_format not in set(ReportFormat):
        fail(f"--format must be markdown or html, not {report_format!r}")
    if input_file is not None:
        source, parsed = str(input_file), parse_messages(read_lines(input_file))
    else:
        settings = _settings()
        topic = topic_name(settings, Topic.ENRICHED)
        source = f"topic {topic}"
        try:
            parsed = parse_messages(read_topic_to_end(settings.bootstrap_servers, topic))
        except ConfigurationError as exc:
            fail(str(exc))
        except TopicReadError as exc:
            fail(str(exc), RUN_ERROR)
    try:
        report = build_report(parsed, source)
    except ReportError as exc:
        fail(str(exc), RUN_ERROR)
    path = write_report(report, output, ReportFormat(report_format))
    skipped = f"; {len(parsed.malformed)} malformed skipped" if parsed.malformed else ""
    typer.echo(f"report written to {path} ({len(parsed.events)} enriched records{skipped})")


def main() -> None:
    cli(prog_name="crmstream")


if __name__ == "__main__":
    main()
