"""monitoring/ against the real thing: promtool on the config and rules, and a real Prometheus
scraping a real worker that answers every dashboard and alert expression with data.

Prometheus comes from Debian's ``prometheus`` package (``.ci/run`` installs it); without it
these tests fail, naming the package, rather than skip.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
import pytest
from kafka import KafkaProducer

from schemas.duplicates import Decision
from streams.deployment import Deployment
from streams.generator import CrmSimulation
from streams.metrics import (
    QualitySample,
    QualityWindow,
    logical_topic,
    not_ready_reason,
    partition_lag,
    review_backlog_change,
)
from streams.ports import free_port
from streams.publish import publish_events
from streams.topic_reader import read_records
from streams.topics import Topic

MONITORING = Path(__file__).parent.parent / "monitoring"
PROMETHEUS_CONFIG = MONITORING / "prometheus" / "prometheus.yml"
RULES = MONITORING / "prometheus" / "rules" / "crmstream.rules.yml"
RULE_TESTS = MONITORING / "prometheus" / "rules" / "crmstream.rules.test.yml"
DASHBOARDS = MONITORING / "grafana" / "dashboards"
DATASOURCE_UID = "prometheus"  # monitoring/grafana/provisioning/datasources/prometheus.yml

EVENTS = 2_000
# Grafana's own variable, fixed for direct queries: four times the test's 1 s scrape interval
# and more, as Grafana would pick.
RATE_INTERVAL = "1m"
INSTALL_HINT = "install Debian's prometheus package: apt-get install -y prometheus (.ci/run does)"


def tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"`{name}` not found: {INSTALL_HINT}")
    return found


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [tool("promtool"), *args], capture_output=True, text=True, timeout=120, check=False
    )


# -- static checks ----------------------------------------------------------------------------


def test_prometheus_config_and_rules_are_valid() -> None:
    for args in (("check", "config", str(PROMETHEUS_CONFIG)), ("check", "rules", str(RULES))):
        result = promtool(*args)
        assert result.returncode == 0, result.stdout + result.stderr


def test_alert_rules_pass_their_promtool_unit_tests() -> None:
    result = promtool("test", "rules", str(RULE_TESTS))
    assert result.returncode == 0, result.stdout + result.stderr


def dashboards() -> dict[str, dict[str, Any]]:
    return {path.name: json.loads(path.read_text()) for path in sorted(DASHBOARDS.glob("*.json"))}


def dashboard_exprs() -> list[tuple[str, str]]:
    """(where, expr) of every target of every panel of every dashboard."""
    return [
        (f"{name} / {panel['title']}", target["expr"])
        for name, board in dashboards().items()
        for panel in board["panels"]
        for target in panel.get("targets", [])
    ]


def test_dashboards_are_the_three_with_unique_ids_and_the_provisioned_datasource() -> None:
    boards = dashboards()
    assert set(boards) == {"pipeline-health.json", "data-quality.json", "models.json"}
    assert len({board["uid"] for board in boards.values()}) == 3
    for name, board in boards.items():
        assert len({panel["id"] for panel in board["panels"]}) == len(board["panels"]), name
        for panel in board["panels"]:
            for target in panel.get("targets", []):
                assert target["datasource"]["uid"] == DATASOURCE_UID, (name, panel["title"])
    assert len(dashboard_exprs()) >= 30


# -- the pure parts of the metrics ------------------------------------------------------------


def test_partition_lag_counts_from_the_commit_or_the_log_start() -> None:
    assert partition_lag(end=500, committed=480, earliest=0) == 20
    assert partition_lag(end=500, committed=None, earliest=100) == 400  # nothing committed yet
    assert partition_lag(end=500, committed=50, earliest=100) == 400  # commit older than the log
    assert partition_lag(end=None, committed=50, earliest=0) is None
    assert partition_lag(end=10, committed=12, earliest=0) == 0


def test_topic_labels_are_logical_names_of_ours_and_configured_sources_as_they_are() -> None:
    assert logical_topic("prod.crm.changes.by-record", "prod.crm.") == "changes.by-record"
    assert logical_topic("prod.crm.something-else", "prod.crm.") == "prod.crm.something-else"
    assert logical_topic("salesforce.cdc", "prod.crm.") == "salesforce.cdc"


def test_review_backlog_follows_pairs_into_and_out_of_review() -> None:
    history = [
        (None, Decision.POSSIBLE),  # a pair for review
        (None, Decision.POSSIBLE),  # another
        (Decision.POSSIBLE, Decision.DUPLICATE),  # the first rose: no review needed
        (None, Decision.DUPLICATE),  # never in review
        (Decision.POSSIBLE, Decision.DISTINCT),  # the second rejected by a reviewer
        (Decision.DUPLICATE, Decision.DISTINCT),  # withdrawn, was not in review
    ]
    running = [0]
    for previous, decision in history:
        running.append(running[-1] + review_backlog_change(previous, decision))
    assert running == [0, 1, 2, 1, 1, 0, 0]


def test_quality_window_keeps_the_latest_records_of_each_type() -> None:
    window = QualityWindow(size=3)
    for completeness in (0.0, 0.0, 0.5, 1.0, 1.0):
        window.add("contact", QualitySample(completeness, completeness < 1.0, False, 1.0))
    window.add("activity", QualitySample(1.0, False, None, 30.0))
    summaries = window.summaries()
    assert summaries["contact"].completeness == pytest.approx(2.5 / 3)
    assert summaries["contact"].invalid_share == pytest.approx(1 / 3)
    assert summaries["contact"].duplicate_rate == 0.0
    assert summaries["activity"].duplicate_rate is None
    assert summaries["activity"].timeliness_seconds == 30.0


def test_readiness_needs_partitions_and_recovered_tables() -> None:
    assert not_ready_reason(input_partitions=3, rebalancing=False, recovered=True) is None
    assert not_ready_reason(input_partitions=3, rebalancing=True, recovered=True) is not None
    assert not_ready_reason(input_partitions=3, rebalancing=False, recovered=False) is not None
    assert not_ready_reason(input_partitions=0, rebalancing=False, recovered=True) is not None


# -- a real Prometheus scraping a real worker -------------------------------------------------


def with_bool_comparisons(expr: str) -> str:
    """``expr`` with each comparison given PromQL's ``bool`` modifier.

    >>> with_bool_comparisons('a{x!="1",y=~"b"} > 0.05 and deriv(b[10m]) >= bool 0')
    'a{x!="1",y=~"b"} > bool 0.05 and deriv(b[10m]) >= bool 0'
    """
    out: list[str] = []
    depth = 0
    quote: str | None = None
    i = 0
    while i < len(expr):
        char = expr[i]
        if quote is not None:
            out.append(char)
            if char == "\\":
                out.append(expr[i + 1])
                i += 1
            elif char == quote:
                quote = None
        elif char in "\"'`":
            quote = char
            out.append(char)
        elif char in "{}":
            depth += 1 if char == "{" else -1
            out.append(char)
        elif depth == 0 and (op := _comparison_at(expr, i)):
            out.append(op)
            i += len(op)
            if not re.match(r"\s*bool\b", expr[i:]):
                out.append(" bool")
            continue
        else:
            out.append(char)
        i += 1
    return "".join(out)


def _comparison_at(expr: str, i: int) -> str | None:
    for op in ("==", "!=", ">=", "<=", ">", "<"):
        if expr.startswith(op, i):
            return op
    return None


class Prometheus:
    """A ``prometheus`` process on a loopback port, with its HTTP API."""

    def __init__(self, config: Path, workdir: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = workdir / "prometheus.log"
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [
                tool("prometheus"),
                f"--config.file={config}",
                f"--storage.tsdb.path={workdir / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--log.level=warn",
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )

    def api(self, path: str, **params: str) -> Any:
        url = f"{self.url}/api/v1/{path}?{urllib.parse.urlencode(params)}"
        with urllib.request.urlopen(url, timeout=10) as response:
            body = json.loads(response.read())
        assert body["status"] == "success", body
        return body["data"]

    def query(self, expr: str) -> list[Any]:
        return list(self.api("query", query=expr)["result"])

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"prometheus exited:\n{self.log_path.read_text(errors='replace')}")
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=2):
                    return
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.2)
        pytest.fail(f"prometheus not ready after {timeout:g} s")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self._log.close()


@contextmanager
def running_prometheus(worker_port: int, workdir: Path) -> Iterator[Prometheus]:
    """monitoring/'s Prometheus config, scraping the worker every second, rules every second."""
    shutil.copytree(RULES.parent, workdir / "rules")  # rule_files are relative to the config
    config = PROMETHEUS_CONFIG.read_text()
    for pattern, replacement in (
        (r'"worker:6066"', f'"127.0.0.1:{worker_port}"'),
        (r"scrape_interval: 15s", "scrape_interval: 1s"),
        (r"evaluation_interval: 15s", "evaluation_interval: 1s"),
    ):
        config, replaced = re.subn(pattern, replacement, config)
        assert replaced == 1, f"{PROMETHEUS_CONFIG} no longer has {pattern}"
    (workdir / "prometheus.yml").write_text(config)
    prometheus = Prometheus(workdir / "prometheus.yml", workdir)
    try:
        prometheus.wait_ready(timeout=30)
        yield prometheus
    finally:
        prometheus.stop()


def wait_for(condition: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.5)


def http_status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code
    except (urllib.error.URLError, ConnectionError):
        return 0


@pytest.mark.kafka
def test_every_dashboard_and_alert_expression_returns_data_from_a_real_scrape(
    kafka_bootstrap: str, isolated_names: tuple[str, str], tmp_path: Path
) -> None:
    """A worker fed by the generator, scraped by monitoring/'s own Prometheus configuration.

    Traffic: generated CRM changes with a high share of near duplicates and the usual share
    of invalid messages (dead letters), a tombstone (a skipped message), and a reviewer's
    verdict on a found pair plus a malformed one (feedback, learning and a parked verdict),
    and outcomes of generated leads and accounts (labels for the outcome models' learner,
    which checkpoints every few of them), so that every labelled series the dashboards
    chart exists.

    Then every ``expr`` of every dashboard panel and every rule Prometheus loaded from the
    rule file (read back from its ``/api/v1/rules``, so a rule it failed to load is missing
    and counted) is queried through ``/api/v1/query`` and must return at least one sample.
    Dashboards' ``$__rate_interval`` is set to 1m, as Grafana would for a 1 s scrape.

    Alert expressions end in a threshold, so a healthy worker rightly returns nothing for
    them. Each comparison is therefore queried with PromQL's ``bool`` modifier (``a > bool
    0.05`` instead of ``a > 0.05``): it keeps every series and yields 0 or 1 instead of
    filtering, so the query returns data exactly when the metrics and labels the alert reads
    exist and its vector matching (``and``, ``/``) pairs them up. That is what a typo in a
    metric or label name would break, while the thresholds themselves are checked by the
    promtool unit tests. Recording rules are queried both by expression and by their
    recorded name, which is what the alerts and dashboards read.
    """
    tool("prometheus")
    deployment = Deployment.create(
        kafka_bootstrap,
        isolated_names,
        tmp_path,
        topic_partitions="2",
        # The generated leads and accounts reach outcomes: a few labels are enough for the
        # learner to report its error and to checkpoint, so every worker publishes the
        # models' AUC, log loss, labels and readiness.
        model_min_labels="5",
        model_checkpoint_labels="5",
        model_checkpoint_seconds="2",
    )
    port = deployment.settings.web_port
    simulation = CrmSimulation(seed=606, duplicate_share=0.3, invalid_share=0.05)
    events = list(simulation.events(EVENTS))
    started = time.monotonic()
    with (
        deployment.worker() as worker,
        running_prometheus(port, tmp_path / "prometheus") as prometheus,
    ):
        wait_for(lambda: http_status(f"http://127.0.0.1:{port}/ready") == 200, 120, "worker ready")
        assert http_status(f"http://127.0.0.1:{port}/live") == 200
        report = publish_events(
            events,
            bootstrap_servers=kafka_bootstrap,
            topic=deployment.topic(Topic.CHANGES),
            rate=None,
            progress=False,
        )
        assert report.sent == EVENTS
        pairs = read_records(
            kafka_bootstrap, [deployment.topic(Topic.DUPLICATES)], expected=1, timeout=120
        )
        found = orjson.loads(pairs[0].value)
        producer = KafkaProducer(bootstrap_servers=kafka_bootstrap)
        verdict = {"record": found["record"], "other": found["other"], "verdict": "confirmed"}
        producer.send(deployment.topic(Topic.FEEDBACK), key=b"v", value=orjson.dumps(verdict))
        producer.send(deployment.topic(Topic.FEEDBACK), key=b"v", value=b"not a verdict")
        producer.send(deployment.topic(Topic.CHANGES), key=b"contact:gone", value=None)
        # An invalid value, whatever the seed's data holds: the invalid-fields panels need one.
        bad_email = {
            "event_id": "bad-email-1",
            "entity_type": "contact",
            "entity_id": "bad-email",
            "op": "create",
            "occurred_at": "2026-11-01T10:00:00Z",
            "source": "test",
            "fields": {"first_name": "Ada", "last_name": "Byron", "email": "ada at example"},
        }
        producer.send(
            deployment.topic(Topic.CHANGES), key=b"bad-email", value=orjson.dumps(bad_email)
        )
        producer.flush()
        producer.close()
        wait_for(
            lambda: deployment.metrics().get("crmstream_events_consumed_total", 0) >= EVENTS + 2,
            240,
            "the worker to consume every generated event",
        )
        wait_for(
            lambda: bool(prometheus.query('crmstream_feedback_verdicts_total{job="crmstream"}')),
            60,
            "Prometheus to scrape the worker after the verdict",
        )

        groups = prometheus.api("rules")["groups"]
        rules = [rule for group in groups for rule in group["rules"]]
        expected_rules = len(re.findall(r"^\s*- (?:alert|record):", RULES.read_text(), re.M))
        assert len(rules) == expected_rules, "Prometheus loaded every rule of the rule file"
        exprs = [
            (where, expr.replace("$__rate_interval", RATE_INTERVAL))
            for where, expr in dashboard_exprs()
        ]
        for rule in rules:
            exprs.append((f"rule {rule['name']}", with_bool_comparisons(rule["query"])))
            if rule["type"] == "recording":
                exprs.append((f"recorded {rule['name']}", rule["name"]))

        # Rate windows and recorded series fill within seconds; give stragglers a little time.
        missing = dict(exprs)
        deadline = time.monotonic() + 60
        while missing and time.monotonic() < deadline:
            missing = {where: e for where, e in missing.items() if not prometheus.query(e)}
            if missing:
                time.sleep(1)
        assert worker.returncode is None, f"worker died:\n{worker.log_tail()}"
    log = (tmp_path / "worker.log").read_text(errors="replace")
    assert "Traceback" not in log, worker.log_tail(80)
    print(f"\n{len(exprs)} expressions answered with data; {time.monotonic() - started:.0f} s")
    assert not missing, "expressions without data:\n" + "\n".join(
        f"  {where}: {expr}" for where, expr in missing.items()
    )
