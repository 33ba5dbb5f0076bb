"""The command line as a user meets it: clear errors, no tracebacks, the demo cleans up."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

import orjson
import pytest

from schemas.envelopes import detect_format
from schemas.errors import InvalidChange
from streams.topic_reader import read_records
from streams.worker_process import crmstream_command

BROKER_VARIABLES = ("KAFKA_BOOTSTRAP_SERVERS", "CRMSTREAM_KAFKA_BOOTSTRAP_SERVERS")


def environment(**overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in BROKER_VARIABLES}
    env.update(overrides)
    return env


def run(*args: str, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*crmstream_command(), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_help_needs_no_configuration() -> None:
    result = run("--help", env=environment(CRMSTREAM_WEB_PORT="not-a-port"))
    assert result.returncode == 0
    for command in ("worker", "demo", "generate", "kafka", "topics"):
        assert command in result.stdout


def test_a_wrong_setting_stops_the_worker_with_the_variable_named() -> None:
    result = run(
        "worker",
        env=environment(KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:9092", CRMSTREAM_WEB_PORT="eighty"),
    )
    assert result.returncode == 2
    assert "CRMSTREAM_WEB_PORT" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_worker_without_a_broker_says_how_to_get_one() -> None:
    result = run("worker", env=environment())
    assert result.returncode == 2
    assert "crmstream kafka start" in result.stderr
    assert "Traceback" not in result.stderr


def processes_mentioning(marker: str) -> list[int]:
    """Processes whose command line or environment names ``marker`` (our temp dir)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            text = (proc / "cmdline").read_bytes() + (proc / "environ").read_bytes()
        except OSError:
            continue
        if marker.encode() in text:
            found.append(int(proc.name))
    return found


@pytest.mark.kafka
def test_the_demo_runs_to_its_summary_and_leaves_nothing_behind(tmp_path: Path) -> None:
    result = run(
        "demo",
        "--duration",
        "4",
        "--rate",
        "100",
        env=environment(TMPDIR=str(tmp_path), COLUMNS="120"),
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    total = next(line for line in result.stdout.splitlines() if "total" in line)
    sent, enriched, parked = (int(cell) for cell in total.replace("│", " ").split()[1:4])
    assert sent == 400
    assert enriched + parked == 400
    assert parked > 0
    assert "/metrics" in result.stdout
    assert processes_mentioning(str(tmp_path)) == []


@pytest.mark.kafka
def test_ctrl_c_stops_everything_the_demo_started(tmp_path: Path) -> None:
    demo = subprocess.Popen(
        [*crmstream_command(), "demo", "--duration", "120", "--rate", "50"],
        env=environment(TMPDIR=str(tmp_path)),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert demo.stdout is not None
    deadline = time.monotonic() + 240
    for line in demo.stdout:
        if "generating" in line or time.monotonic() > deadline:
            break
    time.sleep(2)
    running = processes_mentioning(str(tmp_path))
    assert len(running) >= 3, f"expected the demo, its broker and its worker, got {running}"
    demo.send_signal(signal.SIGINT)
    assert demo.wait(timeout=120) == 130
    assert processes_mentioning(str(tmp_path)) == []


@pytest.mark.kafka
def test_generate_creates_its_topic_and_publishes_the_format_asked_for(
    kafka_bootstrap: str, isolated_names: tuple[str, str], tmp_path: Path
) -> None:
    prefix, _ = isolated_names
    truth = tmp_path / "truth.json"
    env = environment(KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap, CRMSTREAM_TOPIC_PREFIX=prefix)
    result = run(
        "generate", "--count", "300", "--format", "hubspot", "--ground-truth", str(truth), env=env
    )
    assert result.returncode == 0, result.stderr
    assert f"published 300 hubspot events to {prefix}changes" in result.stdout
    ground_truth = orjson.loads(truth.read_bytes())
    assert (ground_truth["count"], ground_truth["format"]) == (300, "hubspot")
    published = read_records(kafka_bootstrap, [f"{prefix}changes"], expected=300, timeout=30)
    assert len(published) == 300
    # HubSpot cannot express leads and activities: those stay native, and so do broken messages.
    formats = Counter(_format_of(record.value) for record in published)
    assert {"hubspot", "native"} <= set(formats) <= {"hubspot", "native", "broken"}
    assert formats["hubspot"] > formats["native"] / 4


def _format_of(value: bytes) -> str:
    try:
        return detect_format(orjson.loads(value)).value
    except (orjson.JSONDecodeError, InvalidChange):
        return "broken"


@pytest.mark.kafka
def test_a_worker_on_topics_of_another_partition_count_stops_naming_them(
    kafka_bootstrap: str, isolated_names: tuple[str, str]
) -> None:
    """Keys would be routed by one count and their table state kept by another."""
    prefix, app_id = isolated_names
    made_with_two = environment(
        KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap,
        CRMSTREAM_TOPIC_PREFIX=prefix,
        CRMSTREAM_APP_ID=app_id,
        CRMSTREAM_TOPIC_PARTITIONS="2",
    )
    created = run("topics", "create", env=made_with_two)
    assert created.returncode == 0, created.stderr
    assert run("topics", "create", env=made_with_two).returncode == 0, "the same count is fine"

    result = run("worker", env={**made_with_two, "CRMSTREAM_TOPIC_PARTITIONS": "4"})
    assert result.returncode == 2
    assert (
        f"{prefix}changes.by-record has 2 partitions where these settings give 4" in result.stderr
    )
    assert f"{app_id}-records-changelog has 2 partitions where" in result.stderr
    assert "CRMSTREAM_TOPIC_PARTITIONS" in result.stderr
    assert f"{prefix}enriched" not in result.stderr, (
        "an output topic's count is its readers' affair"
    )
    assert "Traceback" not in result.stderr
