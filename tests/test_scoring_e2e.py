"""Lead scoring, churn risk and win probability through a real broker: generated CRM changes
in, scores out (cold, then ready once the one learner has checkpointed enough labels), and a
restarted worker that resumes from the last checkpoint on ``crm.models``."""

from __future__ import annotations

import os
import signal
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import jsonschema
import orjson
import pytest
from typer.testing import CliRunner

from schemas.json_schema import SCHEMA_DIR
from streams.cli import cli
from streams.deployment import Deployment
from streams.generator import CrmSimulation
from streams.publish import publish_events
from streams.topic_reader import end_offsets, read_records, wait_until_quiet
from streams.topics import Topic
from streams.worker_process import WorkerProcess

pytestmark = pytest.mark.kafka

T = TypeVar("T")
LEAD_MODEL = 'model="lead_score"'


def poll(check: Callable[[], T | None], *, timeout: float, every: float = 1.0) -> T | None:
    """The first truthy answer of ``check`` within ``timeout`` seconds, else None."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answer = check()
        if answer:
            return answer
        time.sleep(every)
    return None


def checkpoints(deployment: Deployment, model: str = "lead_score") -> list[dict[str, Any]]:
    """The headers of the model's checkpoints on ``crm.models``, oldest first."""
    records = read_records(
        deployment.bootstrap,
        [deployment.topic(Topic.MODELS)],
        expected=1_000_000,  # everything there is: read until the short timeout
        timeout=3.0,
        settle=0.0,
    )
    headers = []
    for record in records:
        magic, _, header = record.value.split(b"\n", 1)[0].partition(b" ")
        assert magic == b"crmstream-checkpoint"
        headers.append(orjson.loads(header))
    return [header for header in headers if header["model"] == model]


def publish(deployment: Deployment, simulation: CrmSimulation, count: int) -> None:
    report = publish_events(
        simulation.events(count),
        bootstrap_servers=deployment.bootstrap,
        topic=deployment.topic(Topic.CHANGES),
        rate=None,
        progress=False,
    )
    assert report.sent == count


@dataclass(frozen=True)
class Native:
    """A native change envelope, as a CRM connector would publish it."""

    key: bytes
    value: bytes


def native(event_id: str, entity_type: str, entity_id: str, at: datetime, **fields: Any) -> Native:
    change = {
        "event_id": event_id,
        "entity_type": entity_type,
        "entity_id": entity_id,
        "op": "create",
        "occurred_at": at.isoformat(),
        "source": "e2e",
        "fields": fields,
    }
    return Native(entity_id.encode(), orjson.dumps(change))


def settle(deployment: Deployment) -> None:
    """Wait until the worker is done with what was sent (scores and records stop growing;
    the learning topic never does: it carries the learner's clock ticks)."""
    topics = [deployment.topic(Topic.SCORES), deployment.topic(Topic.ENRICHED)]
    assert wait_until_quiet(deployment.bootstrap, topics, quiet=4.0, timeout=90)


def test_scores_are_cold_then_ready_and_ride_on_the_enriched_record(
    kafka_bootstrap: str, isolated_names: tuple[str, str], tmp_path: Path
) -> None:
    deployment = Deployment.create(
        kafka_bootstrap,
        isolated_names,
        tmp_path,
        topic_partitions="2",
        model_min_labels="20",
        model_checkpoint_labels="10",
        model_checkpoint_seconds="2",
    )
    simulation = CrmSimulation(seed=5, invalid_share=0.0)
    scores, enriched = deployment.topic(Topic.SCORES), deployment.topic(Topic.ENRICHED)
    with deployment.worker() as worker:
        publish(deployment, simulation, 1_500)
        ready = poll(lambda: [c for c in checkpoints(deployment) if c["model_ready"]], timeout=90)
        assert ready, worker.log_tail()
        settle(deployment)
        start = end_offsets(kafka_bootstrap, [scores, enriched])
        publish(deployment, simulation, 400)
        settle(deployment)
        cold = read_records(kafka_bootstrap, [scores], expected=1, timeout=10)
        later = read_records(
            kafka_bootstrap, [scores, enriched], expected=1, timeout=10, start=start
        )
        # A lead, then (once it is scored) a call with it: the call scores the lead again.
        start = end_offsets(kafka_bootstrap, [scores])
        at = datetime.now(UTC) - timedelta(minutes=5)
        lead = native("e2e-lead", "lead", "L-e2e", at, company="Engaged Ltd", last_name="Ng")
        call = native(
            "e2e-call",
            "activity",
            "T-e2e",
            at + timedelta(minutes=1),
            type="call",
            subject="intro",
            related_type="lead",
            related_id="L-e2e",
            activity_date=(at + timedelta(minutes=1)).isoformat(),
        )
        engaged: list[Any] = []
        for message in (lead, call):
            sent = publish_events(
                [message],
                bootstrap_servers=kafka_bootstrap,
                topic=deployment.topic(Topic.CHANGES),
                rate=None,
                progress=False,
            )
            assert sent.sent == 1
            engaged += read_records(
                kafka_bootstrap, [scores], expected=1, timeout=60, start=start, settle=0.0
            )
            start = end_offsets(kafka_bootstrap, [scores])
        metrics = deployment.metrics()
        exit_code = worker.stop()
    assert exit_code == 0, worker.log_tail()
    assert "Traceback" not in (tmp_path / "worker.log").read_text()

    first_scores = [orjson.loads(r.value) for r in sorted(cold, key=lambda r: r.timestamp)]
    first_lead = next(s for s in first_scores if s["entity_type"] == "lead")
    assert first_lead["score"]["model_ready"] is False
    assert first_lead["score"]["model_version"] == 0, "no checkpoint before the first labels"
    models = {s["score"]["model"] for s in first_scores}
    assert models == {"lead_score", "churn_risk", "win_probability"}

    new_scores = [orjson.loads(r.value) for r in later if r.topic == scores]
    every_score = Counter((s["entity_type"], s["entity_id"], s["event_id"]) for s in first_scores)
    assert every_score.most_common(1)[0][1] == 1, "one score per record and change, never repeated"
    leads = [s for s in new_scores if s["entity_type"] == "lead"]
    assert len(leads) >= 20
    assert all(s["score"]["model_ready"] for s in leads), "ready once 20 labels were learned"
    assert all(s["score"]["model_version"] >= ready[0]["version"] for s in leads)
    for s in leads:
        assert 0 <= s["score"]["score"] <= 100
        assert s["score"]["tier"] in {"A", "B", "C", "D"}
        assert s["score"]["churn_risk"] is None
        assert s["score"]["anomaly_score"] is None, "leads have no watched numbers"
    accounts = [s for s in new_scores if s["entity_type"] == "account"]
    assert accounts, "accounts are scored too"
    assert all(s["score"]["churn_risk"] == s["score"]["probability"] for s in accounts)
    opportunities = [s for s in new_scores if s["entity_type"] == "opportunity"]
    assert opportunities, "opportunities are scored too"
    assert {s["score"]["model"] for s in opportunities} == {"win_probability"}
    assert all(s["score"]["churn_risk"] is None for s in opportunities)

    contract = orjson.loads((SCHEMA_DIR / "score.schema.json").read_bytes())
    for score in new_scores:
        jsonschema.validate(score, contract)
    # An opportunity's change scores it and, its engagement moved, its account too.
    by_event = {(s["entity_type"], s["entity_id"], s["event_id"]): s["score"] for s in new_scores}
    records = [orjson.loads(r.value) for r in later if r.topic == enriched]
    scored = [
        r for r in records if r["record"]["entity_type"] in ("lead", "account", "opportunity")
    ]
    assert scored
    assert all(r["schema_version"] == 4 for r in records)
    for record in scored:
        if not record["record"]["deleted"]:
            change = record["change"]
            scored_by = (change["entity_type"], change["entity_id"], change["event_id"])
            assert record["score"] == by_event[scored_by]
    assert all(r["score"] is None for r in records if r["record"]["entity_type"] == "contact")

    lead_scores = [orjson.loads(r.value) for r in engaged]
    assert [(s["entity_id"], s["event_id"]) for s in lead_scores] == [
        ("L-e2e", "e2e-lead"),
        ("L-e2e", "e2e-call"),
    ], "the lead, then the lead again with its call"
    assert lead_scores[1]["score"]["features_at"] > lead_scores[0]["score"]["features_at"]

    newest = checkpoints(deployment)[-1]
    disparity = newest["metrics"]["disparity"]
    assert set(disparity) == {"country", "lead_source", "industry"}, "the default audit"
    sources = newest["metrics"]["segment_labels"]["lead_source"]
    assert sum(sources.values()) == newest["labels"], "every label counted in a segment"
    assert set(sources) - {"__missing__"}, "segments are the lead's own at prediction time"
    assert metrics[f"crmstream_model_ready{{{LEAD_MODEL}}}"] == 1.0
    assert metrics[f"crmstream_model_labels{{{LEAD_MODEL}}}"] >= 20
    assert metrics[f"crmstream_model_score_count{{{LEAD_MODEL}}}"] >= len(leads)


def resumes_then_learns(
    deployment: Deployment,
    worker: WorkerProcess,
    simulation: CrmSimulation,
    last: dict[str, Any],
) -> dict[str, Any]:
    """Within a started worker: it scores with ``last`` (metrics), then learns on from it;
    returns the next checkpoint it writes."""

    def resumed() -> dict[str, float] | None:
        try:
            metrics = deployment.metrics()
        except OSError:  # the web server is not up yet
            return None
        info = f'crmstream_model_info{{{LEAD_MODEL},version="{last["version"]}"}}'
        return metrics if info in metrics else None

    metrics = poll(resumed, timeout=60)
    assert metrics is not None, worker.log_tail()
    assert metrics[f"crmstream_model_labels{{{LEAD_MODEL}}}"] == last["labels"]
    assert metrics[f"crmstream_model_ready{{{LEAD_MODEL}}}"] == 1.0
    publish(deployment, simulation, 800)
    following = poll(
        lambda: [c for c in checkpoints(deployment) if c["version"] > last["version"]],
        timeout=60,
    )
    assert following, worker.log_tail()
    return following[0]


def operator_decisions(
    deployment: Deployment, worker: WorkerProcess, runner: CliRunner
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Within a started worker: roll the lead model back to version 1, check every worker
    scores with it under a new version, then promote a challenger of the recent labels; the
    two checkpoints that record the decisions."""
    first = checkpoints(deployment)[0]
    assert first["version"] == 1
    rollback = runner.invoke(
        cli, ["models", "rollback", "lead_score", "--version", "1"], env=deployment.env
    )
    assert rollback.exit_code == 0, rollback.output + worker.log_tail()
    rolled_back = checkpoints(deployment)[-1]
    assert f"version {rolled_back['version']}: rolled_back" in rollback.output
    assert rolled_back["decision"]["rolled_back_to"] == 1
    assert rolled_back["labels"] == first["labels"], "the old model, as it was"

    def scoring_with_it() -> dict[str, float] | None:
        metrics = deployment.metrics()
        info = f'crmstream_model_info{{{LEAD_MODEL},version="{rolled_back["version"]}"}}'
        return metrics if info in metrics else None

    metrics = poll(scoring_with_it, timeout=30)
    assert metrics is not None, worker.log_tail()
    assert metrics[f"crmstream_model_labels{{{LEAD_MODEL}}}"] == first["labels"]

    promote = runner.invoke(cli, ["models", "promote", "lead_score"], env=deployment.env)
    assert promote.exit_code == 0, promote.output + worker.log_tail()
    promoted = checkpoints(deployment)[-1]
    assert f"version {promoted['version']}: promoted" in promote.output
    assert (promoted["decision"]["action"], promoted["decision"]["reason"]) == (
        "promoted",
        "operator",
    )
    assert promoted["model_ready"]
    unknown = runner.invoke(cli, ["models", "promote", "lead_scor"], env=deployment.env)
    assert unknown.exit_code == 2
    assert "no outcome model 'lead_scor'" in unknown.output
    decisions = deployment.metrics()
    for action in ("rolled_back", "promoted"):
        series = f'crmstream_model_decisions_total{{action="{action}",{LEAD_MODEL}}}'
        assert decisions[series] == 1.0, sorted(k for k in decisions if "decision" in k)
    return rolled_back, promoted


def test_a_restarted_worker_resumes_from_the_last_checkpoint(
    kafka_bootstrap: str, isolated_names: tuple[str, str], tmp_path: Path
) -> None:
    """Stopped (SIGTERM), then killed (SIGKILL): each time the next worker scores with the
    last checkpoint and its learner goes on from it (next version, labels counted on)."""
    interval = 10
    deployment = Deployment.create(
        kafka_bootstrap,
        isolated_names,
        tmp_path,
        topic_partitions="2",
        model_min_labels="10",
        model_checkpoint_labels=str(interval),
        model_checkpoint_seconds="3600",  # only the label count triggers: an exact interval
        model_promote_on_drift="false",  # a promotion would change the label counts
    )
    simulation = CrmSimulation(seed=8, invalid_share=0.0)
    with deployment.worker("worker-1.log") as worker:
        publish(deployment, simulation, 1_500)
        assert poll(lambda: len(checkpoints(deployment)) >= 2, timeout=90), worker.log_tail()
        settle(deployment)
        sent = deployment.metrics()[f"crmstream_model_examples_total{{{LEAD_MODEL}}}"]
        assert worker.stop() == 0, worker.log_tail()
    last = checkpoints(deployment)[-1]
    assert [c["version"] for c in checkpoints(deployment)] == list(range(1, last["version"] + 1))
    assert 0 <= sent - last["labels"] < interval, "lost at most one interval of labels"

    # Faust's default session of 60 s would hold the next worker's rebalance that long
    # after the kill; the killed worker's own session timeout is the one that counts.
    short_session = {**deployment.env, "BROKER_SESSION_TIMEOUT": "10"}
    with WorkerProcess(short_session, tmp_path / "worker-2.log") as worker:
        following = resumes_then_learns(deployment, worker, simulation, last)
        assert following["version"] == last["version"] + 1, "versions go on from the restore"
        assert following["labels"] == last["labels"] + interval, "and so does learning"
        settle(deployment)
        # kill -9: no shutdown, no last commit. WorkerProcess only stops gracefully.
        process = worker._process
        assert process is not None
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    last = checkpoints(deployment)[-1]
    assert last["version"] >= following["version"]

    runner = CliRunner()
    with deployment.worker("worker-3.log") as worker:
        following = resumes_then_learns(deployment, worker, simulation, last)
        assert following["version"] == last["version"] + 1
        assert following["labels"] == last["labels"] + interval
        settle(deployment)
        rolled_back, promoted = operator_decisions(deployment, worker, runner)
        assert worker.stop() == 0, worker.log_tail()
    assert rolled_back["version"] < promoted["version"]

    # What an operator reads of it: `crmstream models list` and `show`.
    listed = runner.invoke(cli, ["models", "list"], env=deployment.env)
    assert listed.exit_code == 0, listed.output
    assert "lead_score" in listed.output
    assert "churn_risk" in listed.output
    assert "rolled_back" in listed.output
    assert "promoted" in listed.output
    shown = runner.invoke(cli, ["models", "show", "lead_score"], env=deployment.env)
    assert shown.exit_code == 0, shown.output
    newest = orjson.loads(shown.output)
    on_topic = checkpoints(deployment)[-1]
    assert (newest["version"], newest["labels"]) == (on_topic["version"], on_topic["labels"])
    missing = runner.invoke(
        cli, ["models", "show", "lead_score", "--version", "999"], env=deployment.env
    )
    assert missing.exit_code == 1
    assert "no checkpoint of lead_score version 999" in missing.output
