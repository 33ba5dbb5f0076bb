"""SASL and TLS for every Kafka client: settings, client options, and a real SASL broker.

The broker is the local one with a ``SASL_PLAINTEXT`` listener whose users log in with
PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512. kafka-python (topic creation, the generator, the readers) and
the worker (Faust over aiokafka) both connect to it from the same settings; a wrong password
fails with an error that says so, and the password shows up neither in the worker's log nor
on its /metrics page.
"""

from __future__ import annotations

import shutil
import ssl
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from faust.auth import SASLCredentials, SSLCredentials
from faust.types.auth import AuthProtocol, SASLMechanism
from kafka.errors import KafkaTimeoutError, SaslAuthenticationFailedError

from streams.deployment import Deployment
from streams.generator import CrmSimulation
from streams.kafka_admin import ensure_topics
from streams.kafka_security import faust_credentials, kafka_python_options, ssl_context
from streams.local_kafka import LocalKafka
from streams.publish import publish_events
from streams.settings import ConfigurationError, load_settings
from streams.topic_reader import read_records
from streams.topics import Topic, TopicSpec
from streams.worker_process import wait_until_ready

USER = "crm-worker"
PASSWORD = "s3cret-Sauce-7f2e"  # distinctive, so finding it in a log cannot be a coincidence
MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
_SECURITY_VARIABLES = (
    "CRMSTREAM_KAFKA_SECURITY_PROTOCOL",
    "CRMSTREAM_KAFKA_SASL_MECHANISM",
    "CRMSTREAM_KAFKA_SASL_USERNAME",
    "CRMSTREAM_KAFKA_SASL_PASSWORD",
    "CRMSTREAM_KAFKA_SASL_PASSWORD_FILE",
    "CRMSTREAM_KAFKA_SSL_CAFILE",
    "CRMSTREAM_KAFKA_SSL_CERTFILE",
    "CRMSTREAM_KAFKA_SSL_KEYFILE",
    "CRMSTREAM_KAFKA_SSL_CHECK_HOSTNAME",
)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in _SECURITY_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def _sasl_environment(
    monkeypatch: pytest.MonkeyPatch, mechanism: str, *, password: str | None = PASSWORD
) -> None:
    monkeypatch.setenv("CRMSTREAM_KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT")
    monkeypatch.setenv("CRMSTREAM_KAFKA_SASL_MECHANISM", mechanism)
    monkeypatch.setenv("CRMSTREAM_KAFKA_SASL_USERNAME", USER)
    if password is not None:
        monkeypatch.setenv("CRMSTREAM_KAFKA_SASL_PASSWORD", password)


# --- settings and client options, no broker ---------------------------------------------------


def test_plaintext_is_the_default_and_needs_no_credentials() -> None:
    settings = load_settings()
    assert kafka_python_options(settings) == {"security_protocol": "PLAINTEXT"}
    assert faust_credentials(settings) is None


def test_the_password_is_never_printed(monkeypatch: pytest.MonkeyPatch) -> None:
    _sasl_environment(monkeypatch, "SCRAM-SHA-512")
    settings = load_settings()
    assert PASSWORD not in repr(settings)
    assert PASSWORD not in str(settings)
    assert PASSWORD not in repr(faust_credentials(settings))


def test_sasl_options_reach_both_clients(monkeypatch: pytest.MonkeyPatch) -> None:
    _sasl_environment(monkeypatch, "SCRAM-SHA-256")
    settings = load_settings()
    assert kafka_python_options(settings) == {
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": "SCRAM-SHA-256",
        "sasl_plain_username": USER,
        "sasl_plain_password": PASSWORD,
    }
    credentials = faust_credentials(settings)
    assert isinstance(credentials, SASLCredentials)
    assert credentials.protocol == AuthProtocol.SASL_PLAINTEXT
    assert credentials.mechanism == SASLMechanism.SCRAM_SHA_256
    assert (credentials.username, credentials.password) == (USER, PASSWORD)


def test_the_password_can_come_from_a_secret_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    secret = tmp_path / "kafka-password"
    secret.write_text(PASSWORD + "\n")  # as `echo` or a Kubernetes secret leaves it
    _sasl_environment(monkeypatch, "PLAIN", password=None)
    monkeypatch.setenv("CRMSTREAM_KAFKA_SASL_PASSWORD_FILE", str(secret))
    settings = load_settings()
    assert kafka_python_options(settings)["sasl_plain_password"] == PASSWORD
    assert PASSWORD not in repr(settings)


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        (
            {"CRMSTREAM_KAFKA_SECURITY_PROTOCOL": "SASL_SSL"},
            "SASL_SSL needs CRMSTREAM_KAFKA_SASL_MECHANISM, CRMSTREAM_KAFKA_SASL_USERNAME, "
            "CRMSTREAM_KAFKA_SASL_PASSWORD",
        ),
        (
            {
                "CRMSTREAM_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
                "CRMSTREAM_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
                "CRMSTREAM_KAFKA_SASL_PASSWORD": "x",
            },
            "needs CRMSTREAM_KAFKA_SASL_USERNAME",
        ),
        (
            {"CRMSTREAM_KAFKA_SASL_PASSWORD": "x", "CRMSTREAM_KAFKA_SASL_PASSWORD_FILE": "/x"},
            "CRMSTREAM_KAFKA_SASL_PASSWORD or CRMSTREAM_KAFKA_SASL_PASSWORD_FILE, not both",
        ),
        (
            {"CRMSTREAM_KAFKA_SASL_PASSWORD_FILE": "/nonexistent/kafka-password"},
            "CRMSTREAM_KAFKA_SASL_PASSWORD_FILE: cannot read /nonexistent/kafka-password",
        ),
        (
            {"CRMSTREAM_KAFKA_SASL_MECHANISM": "GSSAPI"},
            "CRMSTREAM_KAFKA_SASL_MECHANISM",
        ),
        (
            {
                "CRMSTREAM_KAFKA_SECURITY_PROTOCOL": "SSL",
                "CRMSTREAM_KAFKA_SSL_CAFILE": "/nonexistent/ca.pem",
            },
            "CRMSTREAM_KAFKA_SSL_CAFILE: no such file: /nonexistent/ca.pem",
        ),
    ],
)
def test_wrong_security_settings_name_their_variable(
    monkeypatch: pytest.MonkeyPatch, variables: dict[str, str], message: str
) -> None:
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigurationError) as caught:
        load_settings()
    assert message in str(caught.value)


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl to make a certificate")
def test_tls_settings_build_one_context_for_both_clients(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    cert, key = tmp_path / "client.pem", tmp_path / "client.key"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-subj", "/CN=crmstream-test", "-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    monkeypatch.setenv("CRMSTREAM_KAFKA_SECURITY_PROTOCOL", "SSL")
    monkeypatch.setenv("CRMSTREAM_KAFKA_SSL_CAFILE", str(cert))
    monkeypatch.setenv("CRMSTREAM_KAFKA_SSL_CERTFILE", str(cert))
    monkeypatch.setenv("CRMSTREAM_KAFKA_SSL_KEYFILE", str(key))
    settings = load_settings()
    context = ssl_context(settings)
    assert context is not None
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname
    assert kafka_python_options(settings)["security_protocol"] == "SSL"
    credentials = faust_credentials(settings)
    assert isinstance(credentials, SSLCredentials)
    assert credentials.protocol == AuthProtocol.SSL

    _sasl_environment(monkeypatch, "SCRAM-SHA-512")
    monkeypatch.setenv("CRMSTREAM_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    credentials = faust_credentials(load_settings())
    assert isinstance(credentials, SASLCredentials)
    assert credentials.protocol == AuthProtocol.SASL_SSL
    assert credentials.ssl_context is not None

    monkeypatch.setenv("CRMSTREAM_KAFKA_SSL_KEYFILE", str(cert))  # not a key
    with pytest.raises(ConfigurationError, match="CRMSTREAM_KAFKA_SSL_KEYFILE"):
        ssl_context(load_settings())


# --- a real broker with a SASL listener (PLAIN, SCRAM) ----------------------------------------

needs_java = pytest.mark.skipif(shutil.which("java") is None, reason="needs Java on PATH")


@pytest.fixture(scope="module")
def sasl_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The SASL_PLAINTEXT listener of a broker of this module alone."""
    broker = LocalKafka(tmp_path_factory.mktemp("sasl-broker"), sasl_users={USER: PASSWORD})
    broker.start(timeout=120)
    try:
        assert broker.sasl_bootstrap is not None
        yield broker.sasl_bootstrap
    finally:
        broker.stop()


@needs_java
@pytest.mark.kafka
@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_kafka_python_clients_log_in_with_sasl(
    sasl_bootstrap: str,
    isolated_names: tuple[str, str],
    mechanism: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _sasl_environment(monkeypatch, mechanism)
    security = kafka_python_options(load_settings())
    topic = f"{isolated_names[0]}secured"
    ensure_topics(sasl_bootstrap, [TopicSpec(topic, 2, 1)], security=security)
    events = list(CrmSimulation(seed=5).events(40))
    report = publish_events(
        events,
        bootstrap_servers=sasl_bootstrap,
        topic=topic,
        rate=None,
        progress=False,
        security=security,
    )
    assert report.sent == len(events)
    records = read_records(
        sasl_bootstrap, [topic], expected=len(events), timeout=30, settle=0, security=security
    )
    assert sorted(r.value for r in records) == sorted(event.value for event in events)


@needs_java
@pytest.mark.kafka
def test_a_wrong_password_is_reported_as_a_refused_login(
    sasl_bootstrap: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _sasl_environment(monkeypatch, "SCRAM-SHA-256", password="not-the-password")
    started = time.monotonic()
    with pytest.raises(SaslAuthenticationFailedError, match="refused the SASL login") as caught:
        ensure_topics(sasl_bootstrap, [TopicSpec("never-created", 1, 1)])  # from the env
    assert time.monotonic() - started < 90
    assert "crm-worker" in str(caught.value)
    assert "not-the-password" not in str(caught.value)


def enrich_through_a_worker(deployment: Deployment, *, seed: int) -> str:
    """Valid generated changes published, every one enriched by a worker of ``deployment``
    and read back, all with the deployment's connection settings; the worker's metrics
    page, read while it ran."""
    events = [event for event in CrmSimulation(seed=seed).events(60) if not event.expected_error]
    with deployment.worker() as worker:
        wait_until_ready([worker], timeout=120)
        publish_events(
            events,
            bootstrap_servers=deployment.bootstrap,
            topic=deployment.topic(Topic.CHANGES),
            rate=None,
            progress=False,
            security=deployment.security,
        )
        records = deployment.read_outputs(expected=len(events), timeout=90)
        url = f"http://127.0.0.1:{deployment.settings.web_port}/metrics"
        with urllib.request.urlopen(url, timeout=10) as response:  # a loopback URL we built
            metrics_page = response.read().decode()
        exit_code = worker.stop(timeout=60)
        log_tail = worker.log_tail()

    assert exit_code == 0, log_tail
    enriched = [orjson.loads(r.value) for r in records if r.topic.endswith(Topic.ENRICHED)]
    assert {record["change"]["event_id"] for record in enriched} == {
        event.event_id for event in events
    }
    return metrics_page


@needs_java
@pytest.mark.kafka
@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_a_worker_enriches_over_sasl_and_never_shows_the_password(
    sasl_bootstrap: str,
    isolated_names: tuple[str, str],
    tmp_path: Path,
    mechanism: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    secret = tmp_path / "kafka-password"
    secret.write_text(PASSWORD + "\n")
    _sasl_environment(monkeypatch, mechanism, password=None)
    monkeypatch.setenv("CRMSTREAM_KAFKA_SASL_PASSWORD_FILE", str(secret))
    # The worker inherits this environment; the helpers below read it too.
    deployment = Deployment.create(sasl_bootstrap, isolated_names, tmp_path, log_level="debug")
    metrics_page = enrich_through_a_worker(deployment, seed=8)
    log = (tmp_path / "worker.log").read_text()
    assert f"Authenticated as {USER} via {mechanism}" in log  # aiokafka's own word for it
    assert PASSWORD not in log
    assert "crmstream_" in metrics_page
    assert PASSWORD not in metrics_page


@needs_java
@pytest.mark.kafka
def test_a_worker_with_a_wrong_password_stops_saying_why(
    sasl_bootstrap: str,
    isolated_names: tuple[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _sasl_environment(monkeypatch, "SCRAM-SHA-512")
    deployment = Deployment.create(sasl_bootstrap, isolated_names, tmp_path)
    monkeypatch.setenv("CRMSTREAM_KAFKA_SASL_PASSWORD", "not-the-password")
    with deployment.worker() as worker:
        deadline = time.monotonic() + 120
        while worker.returncode is None and time.monotonic() < deadline:
            time.sleep(0.5)
        exit_code = worker.returncode
    log = (tmp_path / "worker.log").read_text()
    assert exit_code not in (None, 0), log[-2000:]
    assert "refused the SASL login" in log, log[-2000:]
    assert "not-the-password" not in log


# --- a real broker with a TLS listener --------------------------------------------------------


@pytest.fixture(scope="module")
def tls_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalKafka]:
    """A broker of this module alone with an SSL listener that asks clients for a certificate,
    a SASL_SSL one, and a certificate authority."""
    broker = LocalKafka(
        tmp_path_factory.mktemp("tls-broker"), tls=True, sasl_users={USER: PASSWORD}
    )
    broker.start(timeout=120)
    try:
        yield broker
    finally:
        broker.stop()


@needs_java
@pytest.mark.kafka
def test_a_worker_and_the_helpers_work_through_tls_only_with_a_client_certificate(
    tls_broker: LocalKafka, isolated_names: tuple[str, str], tmp_path: Path
) -> None:
    """Every client goes to the SSL listener, checks the broker's certificate against the
    configured authority and shows its own: the topic set-up and the publisher
    (kafka-python), the worker (Faust and aiokafka, its own topic checks included) and the
    reader of its outputs."""
    bootstrap = tls_broker.tls_bootstrap
    assert bootstrap is not None
    files = tls_broker.tls_files
    deployment = Deployment.create(
        bootstrap,
        isolated_names,
        tmp_path,
        kafka_security_protocol="SSL",
        kafka_ssl_cafile=str(files.ca),
        kafka_ssl_certfile=str(files.client_certificate),
        kafka_ssl_keyfile=str(files.client_key),
    )
    enrich_through_a_worker(deployment, seed=6)


@needs_java
@pytest.mark.kafka
def test_a_client_without_a_certificate_is_turned_away_by_the_tls_listener(
    tls_broker: LocalKafka, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The listener of the test above does check certificates: without one, no topic set-up."""
    bootstrap = tls_broker.tls_bootstrap
    assert bootstrap is not None
    monkeypatch.setenv("CRMSTREAM_KAFKA_SECURITY_PROTOCOL", "SSL")
    monkeypatch.setenv("CRMSTREAM_KAFKA_SSL_CAFILE", str(tls_broker.tls_files.ca))
    with pytest.raises(KafkaTimeoutError, match="Unable to bootstrap"):  # after 30 s of refusals
        ensure_topics(bootstrap, [TopicSpec("never-created", 1, 1)])


@needs_java
@pytest.mark.kafka
def test_a_worker_and_the_helpers_work_through_sasl_over_tls(
    tls_broker: LocalKafka,
    isolated_names: tuple[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """SASL_SSL: the broker's certificate checked, the client logged in with SCRAM."""
    bootstrap = tls_broker.sasl_tls_bootstrap
    assert bootstrap is not None
    _sasl_environment(monkeypatch, "SCRAM-SHA-512")
    monkeypatch.setenv("CRMSTREAM_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    deployment = Deployment.create(
        bootstrap, isolated_names, tmp_path, kafka_ssl_cafile=str(tls_broker.tls_files.ca)
    )
    enrich_through_a_worker(deployment, seed=7)
