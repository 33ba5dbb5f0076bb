"""The local broker against a real Apache Kafka JVM: start, answer, stop, and fail clearly.

Tests marked ``kafka`` start their own brokers (jars cached after the first resolve); the rest
exercise the error paths without starting anything.
"""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from kafka import KafkaAdminClient
from kafka.admin import NewTopic
from typer.testing import CliRunner

from streams import local_kafka
from streams.cli_kafka import kafka_commands
from streams.local_kafka import KAFKA_VERSION, BrokerStatus, LocalKafka, LocalKafkaError

needs_java = pytest.mark.skipif(shutil.which("java") is None, reason="needs Java on PATH")


def _jvms_using(state_dir: Path) -> list[int]:
    """Every java process whose command line names this state dir, however it was started."""
    pids = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            command_line = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if "java" in command_line and str(state_dir) in command_line:
            pids.append(int(proc.name))
    return pids


def _is_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def _broker_ports(bootstrap: str) -> list[int]:
    """What a real client learns from the broker's metadata, not just from its socket."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000)
    try:
        return [int(node["port"]) for node in admin.describe_cluster()["brokers"]]
    finally:
        admin.close()


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[LocalKafka]:
    kafka = LocalKafka(tmp_path / "broker")
    yield kafka
    kafka.stop()  # a failing test must not leave a JVM behind


@pytest.fixture
def empty_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A PATH with neither java nor mvn on it, as on a fresh machine."""
    nothing = tmp_path / "empty-bin"
    nothing.mkdir()
    monkeypatch.setenv("PATH", str(nothing))


@pytest.mark.kafka
def test_started_broker_answers_metadata_and_stop_leaves_no_jvm(broker: LocalKafka) -> None:
    bootstrap = broker.start()

    status = broker.status()
    assert status.running
    assert status.bootstrap == bootstrap
    assert status.pid is not None
    assert _broker_ports(bootstrap) == [int(bootstrap.rsplit(":", 1)[1])]

    assert broker.stop() is True
    assert _is_gone(status.pid)
    assert _jvms_using(broker.state_dir) == []
    assert not broker.pid_path.exists()
    assert broker.stop() is False
    assert broker.status() == BrokerStatus(
        running=False,
        pid=None,
        bootstrap=None,
        state_dir=broker.state_dir,
        log_path=broker.log_path,
    )


@pytest.mark.kafka
def test_second_start_returns_the_running_broker_and_topics_survive_restart(
    broker: LocalKafka,
) -> None:
    bootstrap = broker.start()
    pid = broker.status().pid

    assert broker.start() == bootstrap
    assert LocalKafka(broker.state_dir).start() == bootstrap  # as a second `kafka start` would
    assert broker.status().pid == pid
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    admin.create_topics([NewTopic("crm.leads", num_partitions=2, replication_factor=1)])
    admin.close()
    broker.stop()

    assert broker.start() == bootstrap  # same port again, so an exported address stays valid
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    assert "crm.leads" in admin.list_topics()
    admin.close()


@pytest.mark.kafka
def test_context_manager_stops_the_broker_when_the_body_raises(tmp_path: Path) -> None:
    kafka = LocalKafka(tmp_path)
    seen: list[int | None] = []

    def use_then_fail() -> None:
        with kafka:
            seen.append(kafka.status().pid)
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        use_then_fail()
    assert seen[0] is not None
    assert _is_gone(seen[0])
    assert _jvms_using(tmp_path) == []


@pytest.mark.kafka
def test_interrupt_while_waiting_for_the_broker_leaves_no_jvm(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kafka = LocalKafka(tmp_path)
    launched: list[int] = []

    def ctrl_c(bootstrap: str) -> bool:
        launched.append(int(kafka.pid_path.read_text()))
        raise KeyboardInterrupt

    monkeypatch.setattr(local_kafka, "_answers_metadata", ctrl_c)
    with pytest.raises(KeyboardInterrupt):
        kafka.start()
    assert _is_gone(launched[0])
    assert _jvms_using(tmp_path) == []


@pytest.mark.kafka
def test_broker_that_dies_while_starting_is_reported_at_once_with_its_log(
    tmp_path: Path,
) -> None:
    # Storage formatted for another node: the real broker refuses it and exits.
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "meta.properties").write_text(
        "version=1\ncluster.id=AAAAAAAAAAAAAAAAAAAAAA\nnode.id=7\n"
    )

    with pytest.raises(LocalKafkaError, match="exited with code") as failure:
        LocalKafka(tmp_path).start(timeout=60)
    assert str(tmp_path / "broker.log") in str(failure.value)
    assert "Stored node id 7" in str(failure.value)
    assert _jvms_using(tmp_path) == []


@needs_java
def test_port_in_use_is_reported_before_starting_anything(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        with pytest.raises(LocalKafkaError, match=f"Port {port} on 127.0.0.1 is already in use"):
            LocalKafka(tmp_path, port=port).start()
    assert _jvms_using(tmp_path) == []


@pytest.mark.usefixtures("empty_path")
def test_missing_java_says_what_to_install(tmp_path: Path) -> None:
    with pytest.raises(LocalKafkaError, match="Java 17") as failure:
        LocalKafka(tmp_path / "broker").start()
    assert "KAFKA_BOOTSTRAP_SERVERS" in str(failure.value)
    assert not (tmp_path / "broker").exists()


@pytest.mark.usefixtures("empty_path")
def test_missing_maven_is_reported_and_a_partial_download_is_not_trusted(tmp_path: Path) -> None:
    partial = tmp_path / f"kafka-{KAFKA_VERSION}" / "libs"
    partial.mkdir(parents=True)
    (partial / f"kafka_2.13-{KAFKA_VERSION}.jar").write_bytes(b"")  # no completion marker

    with pytest.raises(LocalKafkaError, match="Maven") as failure:
        local_kafka.resolve_broker_jars(tmp_path)
    assert "KAFKA_BOOTSTRAP_SERVERS" in str(failure.value)


def test_stale_pid_file_reads_as_not_running_and_is_never_signalled(tmp_path: Path) -> None:
    kafka = LocalKafka(tmp_path)
    tmp_path.joinpath("broker.pid").write_text(f"{os.getpid()}\n")  # alive, but not a broker

    assert kafka.status().running is False
    assert kafka.stop() is False
    assert not kafka.pid_path.exists()


@pytest.mark.usefixtures("empty_path")
def test_cli_reports_errors_on_stderr_with_exit_code_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CRMSTREAM_CACHE_DIR", str(tmp_path))

    result = CliRunner().invoke(kafka_commands, ["fetch"])

    assert result.exit_code == 2
    assert "Maven (`mvn`) was not found" in result.stderr
    assert "Traceback" not in result.output
