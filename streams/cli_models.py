"""``crmstream models``: what the outcome models' checkpoints on ``crm.models`` say.

Read-only: the topic is read to its current end without a consumer group. It is compacted by
model name, so it always holds each model's newest checkpoint, and older ones until the
broker compacts them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Annotated, Any

import orjson
import typer
from rich.console import Console
from rich.table import Table

from models.scoring.learning import ModelCheckpoint
from streams.cli_errors import RUN_ERROR, fail
from streams.settings import ConfigurationError, load_settings

models_commands = typer.Typer(
    help="Inspect the outcome models' checkpoints (crm.models).", no_args_is_help=True
)


def checkpoint_headers(values: Iterable[bytes | None]) -> list[dict[str, Any]]:
    """The header of every checkpoint among ``values``, in their order; anything that is not
    a checkpoint (a tombstone, a stray message) is passed over."""
    headers = []
    for value in values:
        if value is None:
            continue
        try:
            headers.append(ModelCheckpoint.header(value))
        except (ValueError, orjson.JSONDecodeError):
            continue
    return headers


def _headers() -> tuple[str, list[dict[str, Any]]]:
    from streams.topic_snapshot import TopicReadError, read_topic_to_end
    from streams.topics import Topic, topic_name

    try:
        settings = load_settings()
        servers = settings.bootstrap_servers
    except ConfigurationError as exc:
        fail(str(exc))
    topic = topic_name(settings, Topic.MODELS)
    try:
        messages = read_topic_to_end(servers, topic)
    except TopicReadError as exc:
        fail(str(exc), RUN_ERROR)
    return topic, checkpoint_headers(value for _, value in messages)


def _auc(header: dict[str, Any]) -> str:
    auc = header.get("metrics", {}).get("overall", {}).get("roc_auc")
    return "-" if auc is None else f"{auc:.3f}"


@models_commands.command("list")
def list_checkpoints() -> None:
    """Every checkpoint on the topic, oldest first: version, labels, readiness, AUC."""
    topic, headers = _headers()
    if not headers:
        fail(f"no model checkpoint on {topic} yet", RUN_ERROR)
    table = Table(title=f"model checkpoints on {topic}")
    for column in ("model", "version", "labels", "ready", "AUC", "written at"):
        table.add_column(column, justify="left" if column in {"model", "written at"} else "right")
    for header in headers:
        table.add_row(
            header["model"],
            str(header["version"]),
            str(header["labels"]),
            "yes" if header["model_ready"] else "no",
            _auc(header),
            header["written_at"],
        )
    Console().print(table)


@models_commands.command("show")
def show_checkpoint(
    model: Annotated[str, typer.Argument(help="lead_score, churn_risk, ...")],
    version: Annotated[int | None, typer.Option(help="A version still on the topic.")] = None,
) -> None:
    """One checkpoint's header with its metrics, as JSON: the newest, or ``--version``."""
    topic, headers = _headers()
    chosen = [
        header
        for header in headers
        if header["model"] == model and (version is None or header["version"] == version)
    ]
    if not chosen:
        which = model if version is None else f"{model} version {version}"
        fail(f"no checkpoint of {which} on {topic}", RUN_ERROR)
    typer.echo(json.dumps(chosen[-1], indent=2))
