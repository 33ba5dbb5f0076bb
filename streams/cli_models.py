"""``crmstream models``: the outcome models' checkpoints on ``crm.models``, and the operator's
promote and rollback.

``list`` and ``show`` only read: the topic is read to its current end without a consumer
group. It keeps every checkpoint, keyed ``<model>:<version>``, for
``CRMSTREAM_MODEL_HISTORY_DAYS``. ``promote`` and ``rollback`` send a
:class:`~models.scoring.learning.ModelCommand` to the one learner on the learning topic (in
order with the labels, so it acts between two of them), then wait for the checkpoint that
records its decision.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Annotated, Any

import orjson
import typer
from rich.console import Console
from rich.table import Table

from models.scoring import OUTCOME_MODELS
from models.scoring.learning import COMMAND_KEY, ModelCheckpoint, ModelCommand
from streams.cli_errors import RUN_ERROR, fail
from streams.settings import ConfigurationError, Settings, load_settings

models_commands = typer.Typer(
    help="The outcome models' checkpoints (crm.models): list, show, promote, roll back.",
    no_args_is_help=True,
)
MODEL_NAMES = tuple(config.name for config in OUTCOME_MODELS)
_COMMAND_OVERHEAD_BYTES = 64 * 1024
_NUMBERS = frozenset({"version", "labels", "AUC"})

WaitOption = Annotated[
    float,
    typer.Option(help="Seconds to wait for the learner's decision; 0 sends and returns."),
]


def checkpoint_headers(values: Iterable[bytes | None]) -> list[dict[str, Any]]:
    """The header of every checkpoint among ``values``, in their order; anything that is not
    a checkpoint (a tombstone, a stray message) is passed over."""
    return [header for header, _ in _checkpoints(values)]


def _checkpoints(values: Iterable[bytes | None]) -> list[tuple[dict[str, Any], bytes]]:
    found = []
    for value in values:
        if value is None:
            continue
        try:
            found.append((ModelCheckpoint.header(value), value))
        except (ValueError, orjson.JSONDecodeError):
            continue
    return found


def _settings() -> Settings:
    try:
        return load_settings()
    except ConfigurationError as exc:
        fail(str(exc))


def _read_checkpoints(settings: Settings) -> tuple[str, list[tuple[dict[str, Any], bytes]]]:
    from streams.topic_snapshot import TopicReadError, read_topic_to_end
    from streams.topics import Topic, topic_name

    topic = topic_name(settings, Topic.MODELS)
    try:
        messages = read_topic_to_end(settings.bootstrap_servers, topic)
    except TopicReadError as exc:
        fail(str(exc), RUN_ERROR)
    return topic, _checkpoints(value for _, value in messages)


def _auc(header: dict[str, Any]) -> str:
    auc = header.get("metrics", {}).get("overall", {}).get("roc_auc")
    return "-" if auc is None else f"{auc:.3f}"


def _known(model: str) -> str:
    if model not in MODEL_NAMES:
        fail(f"no outcome model {model!r}; the models are {', '.join(MODEL_NAMES)}")
    return model


@models_commands.command("list")
def list_checkpoints(
    model: Annotated[str | None, typer.Option(help="Only this model's checkpoints.")] = None,
) -> None:
    """Every checkpoint on the topic, oldest first: version, labels, readiness, AUC, and the
    decision (promoted, rolled back, ...) that led to it."""
    topic, found = _read_checkpoints(_settings())
    headers = [h for h, _ in found if model is None or h["model"] == model]
    if not headers:
        fail(f"no model checkpoint on {topic} yet", RUN_ERROR)
    table = Table(title=f"model checkpoints on {topic}")
    for column in ("model", "version", "labels", "ready", "AUC", "decision", "written at"):
        table.add_column(column, justify="right" if column in _NUMBERS else "left")
    for header in headers:
        decision = header.get("decision") or {}
        table.add_row(
            header["model"],
            str(header["version"]),
            str(header["labels"]),
            "yes" if header["model_ready"] else "no",
            _auc(header),
            decision.get("action", "-"),
            header["written_at"],
        )
    Console().print(table)


@models_commands.command("show")
def show_checkpoint(
    model: Annotated[str, typer.Argument(help=", ".join(MODEL_NAMES))],
    version: Annotated[int | None, typer.Option(help="A version still on the topic.")] = None,
) -> None:
    """One checkpoint's header with its metrics and decision, as JSON: the newest, or
    ``--version``."""
    topic, found = _read_checkpoints(_settings())
    chosen = [
        header
        for header, _ in found
        if header["model"] == model and (version is None or header["version"] == version)
    ]
    if not chosen:
        which = model if version is None else f"{model} version {version}"
        fail(f"no checkpoint of {which} on {topic}", RUN_ERROR)
    typer.echo(json.dumps(chosen[-1], indent=2))


@models_commands.command("promote")
def promote(
    model: Annotated[str, typer.Argument(help=", ".join(MODEL_NAMES))],
    wait: WaitOption = 60.0,
) -> None:
    """Make MODEL's challenger the champion now: the one on trial after a concept drift, or
    else one trained on the learner's recent labels. Refused when it has learned fewer than
    the minimum labels."""
    command = ModelCommand(action="promote", model=_known(model), requested_at=_now())
    _send(_settings(), command, b"", wait)


@models_commands.command("rollback")
def rollback(
    model: Annotated[str, typer.Argument(help=", ".join(MODEL_NAMES))],
    version: Annotated[int, typer.Option(help="The version to go back to (models list).")],
    wait: WaitOption = 60.0,
) -> None:
    """Score and learn on from an older checkpoint of MODEL. The learner writes it again
    under a new version (versions never go back, so every worker takes it up)."""
    settings = _settings()
    topic, found = _read_checkpoints(settings)
    matching = [
        data for header, data in found if (header["model"], header["version"]) == (model, version)
    ]
    if not matching:
        fail(
            f"no checkpoint of {_known(model)} version {version} on {topic} (kept "
            f"{settings.model_history_days:g} days); `crmstream models list` shows those there",
            RUN_ERROR,
        )
    command = ModelCommand(action="rollback", model=model, version=version, requested_at=_now())
    _send(settings, command, matching[-1], wait)


def _now() -> datetime:
    return datetime.now(UTC)


def _send(settings: Settings, command: ModelCommand, checkpoint: bytes, wait: float) -> None:
    """Send ``command`` to the learner; unless ``wait`` is 0, wait for its decision and say it
    (exit 1 when refused or when no worker answered in time)."""
    from kafka import KafkaProducer
    from kafka.errors import KafkaError

    from streams.kafka_security import connect, kafka_python_options
    from streams.topic_reader import end_offsets, first_value
    from streams.topics import MODEL_CHECKPOINT_MAX_BYTES, Topic, topic_name

    servers = settings.bootstrap_servers
    security = kafka_python_options(settings)
    history = topic_name(settings, Topic.MODELS)
    try:
        start = end_offsets(servers, [history], security=security)
        producer = connect(
            KafkaProducer,
            servers,
            security,
            acks="all",
            max_request_size=MODEL_CHECKPOINT_MAX_BYTES + _COMMAND_OVERHEAD_BYTES,
        )
        try:
            learning = topic_name(settings, Topic.MODEL_LEARNING)
            producer.send(learning, key=COMMAND_KEY, value=command.to_bytes(checkpoint)).get(30)
        finally:
            producer.close()
    except KafkaError as exc:
        fail(f"cannot send the command to Kafka at {servers}: {exc!r}", RUN_ERROR)
    what = f"{command.action} of {command.model}"
    if wait <= 0:
        typer.echo(f"sent the {what}; `crmstream models list` shows the decision")
        return

    def answers(value: bytes | None) -> bool:
        headers = checkpoint_headers([value])
        if not headers or headers[0]["model"] != command.model:
            return False
        decision = headers[0].get("decision")
        return decision is not None and (
            datetime.fromisoformat(decision["decided_at"]) == command.requested_at
        )

    answer = first_value(servers, history, answers, start=start, timeout=wait, security=security)
    if answer is None:
        fail(
            f"sent the {what}, but no learner decided within {wait:g} s: is a worker "
            "running? It acts on the command when it reaches it.",
            RUN_ERROR,
        )
    header = ModelCheckpoint.header(answer)
    decision = header["decision"]
    typer.echo(
        f"{command.model} version {header['version']}: {decision['action']} ({decision['detail']})"
    )
    if decision["action"] == "refused":
        raise typer.Exit(code=RUN_ERROR)
