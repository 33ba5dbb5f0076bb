"""``crmstream kafka ...``: a local Apache Kafka broker for machines without Docker.

``start`` prints the bootstrap address on stdout and, as its last line, an ``export`` line, so
``eval "$(crmstream kafka start | tail -n 1)"`` points the shell at the broker; details go to
stderr. Exit codes: 0 on success, 1 for ``status`` when no broker is running, 2 when the broker
cannot be provided (missing Java or Maven, download failure, start failure), with the reason
on stderr.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from streams.cli_errors import fail
from streams.local_kafka import (
    KAFKA_VERSION,
    LocalKafka,
    LocalKafkaError,
    default_state_dir,
    resolve_broker_jars,
)

kafka_commands = typer.Typer(
    help=f"A local Apache Kafka {KAFKA_VERSION} broker (KRaft, single node), no Docker needed.",
    no_args_is_help=True,
)

_details = Console(stderr=True, highlight=False)

StateDirOption = Annotated[
    Path | None,
    typer.Option(
        "--state-dir",
        help=f"Broker config, data, log and pid file [default: {default_state_dir()}]",
        show_default=False,
    ),
]


@kafka_commands.command()
def start(
    port: Annotated[
        int | None,
        typer.Option(help="Broker port on 127.0.0.1 [default: the previous one if free, else any]"),
    ] = None,
    state_dir: StateDirOption = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the broker to answer")] = 60,
) -> None:
    """Start the broker in the background (or find it running) and print its address."""
    broker = LocalKafka(state_dir, port)
    try:
        bootstrap = broker.start(timeout)
    except LocalKafkaError as error:
        fail(str(error))
    _details.print(f"Kafka {KAFKA_VERSION} broker running, log: {broker.log_path}")
    typer.echo(bootstrap)
    typer.echo(f"export KAFKA_BOOTSTRAP_SERVERS={bootstrap}")


@kafka_commands.command()
def stop(state_dir: StateDirOption = None) -> None:
    """Stop the broker started from this state directory; fine if none is running."""
    broker = LocalKafka(state_dir)
    pid = broker.status().pid
    if broker.stop():
        _details.print(f"Stopped the Kafka broker (pid {pid}).")
    else:
        _details.print(f"No Kafka broker was running from {broker.state_dir}.")


@kafka_commands.command()
def status(state_dir: StateDirOption = None) -> None:
    """Show whether the broker runs; exit code 1 when it does not, for scripts."""
    current = LocalKafka(state_dir).status()
    table = Table(show_header=False, box=None)
    table.add_row("running", "[green]yes[/]" if current.running else "[red]no[/]")
    table.add_row("bootstrap", current.bootstrap or "-")
    table.add_row("pid", str(current.pid) if current.pid is not None else "-")
    table.add_row("state dir", str(current.state_dir))
    table.add_row("log", str(current.log_path))
    table.add_row("kafka", KAFKA_VERSION)
    Console(highlight=False).print(table)
    if not current.running:
        raise typer.Exit(code=1)


@kafka_commands.command()
def fetch(
    cache_dir: Annotated[
        Path | None,
        typer.Option(help="Jar cache [default: $CRMSTREAM_CACHE_DIR or ~/.cache/crmstream]"),
    ] = None,
) -> None:
    """Download and cache the broker jars only, e.g. to warm a CI cache."""
    try:
        libs = resolve_broker_jars(cache_dir)
    except LocalKafkaError as error:
        fail(str(error))
    typer.echo(str(libs))
