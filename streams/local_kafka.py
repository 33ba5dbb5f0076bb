"""A real single-node Apache Kafka broker (KRaft) for machines without Docker.

The test suite and the demo need a genuine broker, not a fake: consumer groups, offset commits
and changelog topics behave in ways no stub reproduces. Where Docker is missing, the broker runs
from Apache Kafka's own jars, resolved once from Maven Central with ``mvn`` (see
``kafka-broker-pom.xml`` beside this module) and started with the machine's Java 17+.

Set ``KAFKA_BOOTSTRAP_SERVERS`` to use an existing broker instead; nothing here is needed then.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from types import TracebackType
from typing import Any, Final

from kafka import KafkaAdminClient
from kafka.admin import UserScramCredentialUpsertion
from kafka.errors import KafkaConfigurationError, KafkaError

from streams.ports import LOOPBACK, free_port, port_is_free

__all__ = [
    "KAFKA_VERSION",
    "BrokerStatus",
    "LocalKafka",
    "LocalKafkaError",
    "default_cache_dir",
    "default_state_dir",
    "resolve_broker_jars",
]

_POM_NAME: Final = "kafka-broker-pom.xml"
_POM_NS: Final = "{http://maven.apache.org/POM/4.0.0}"
_MARKER: Final = ".complete"
_HOST: Final = LOOPBACK
_BROKER_MAIN: Final = "kafka.Kafka"
_STORAGE_TOOL_MAIN: Final = "kafka.tools.StorageTool"
# Enough heap for tests and the demo, small enough to share a CI runner with the workers.
_JVM_OPTIONS: Final = (
    "-Xms256m",
    "-Xmx768m",
    "-XX:+UseG1GC",
    "-XX:MaxGCPauseMillis=20",
    "-XX:+ExitOnOutOfMemoryError",
    "-Djava.awt.headless=true",
)
_MAVEN_TIMEOUT_S: Final = 900.0
_FORMAT_TIMEOUT_S: Final = 120.0
_KILL_GRACE_S: Final = 10.0
_LOG_TAIL_LINES: Final = 25
# The SASL listener (``sasl_users``) authenticates with both SCRAM mechanisms and PLAIN; the
# broker's own traffic (controller, inter-broker) stays on the plaintext listeners.
SCRAM_MECHANISMS: Final = ("SCRAM-SHA-256", "SCRAM-SHA-512")
SASL_MECHANISMS: Final = ("PLAIN", *SCRAM_MECHANISMS)
_SCRAM_LOGIN: Final = "org.apache.kafka.common.security.scram.ScramLoginModule required;"
_USE_EXISTING_BROKER: Final = (
    "Alternatively, set KAFKA_BOOTSTRAP_SERVERS to an existing broker (for example the "
    "docker-compose one) and no local broker is needed."
)

# ${sys:...} lets the storage formatter run quietly with the same file the broker uses.
# shutdownHook = disable: Kafka logs during its own shutdown hook, which log4j's hook would cut
# short with a warning; the console appender needs no final flush.
_LOG4J2_PROPERTIES: Final = """\
status = warn
shutdownHook = disable
appender.console.type = Console
appender.console.name = STDOUT
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = ${sys:crmstream.log.level:-INFO}
rootLogger.appenderRef.stdout.ref = STDOUT
logger.kafka.name = kafka
logger.kafka.level = ${sys:crmstream.log.level:-INFO}
logger.apache.name = org.apache.kafka
logger.apache.level = ${sys:crmstream.log.level:-INFO}
"""


class LocalKafkaError(Exception):
    """The local broker cannot be provided; the message says what to do about it."""


@dataclass(frozen=True)
class BrokerStatus:
    """What ``crmstream kafka status`` reports, read from the state directory."""

    running: bool
    pid: int | None
    bootstrap: str | None
    state_dir: Path
    log_path: Path


def _pom_bytes() -> bytes:
    return files("streams").joinpath(_POM_NAME).read_bytes()


def _pom_property(name: str) -> str:
    """Read the pom so that the broker version has a single source of truth."""
    pom = ET.fromstring(_pom_bytes())  # noqa: S314 - our own packaged file, not untrusted input
    value = pom.findtext(f"{_POM_NS}properties/{_POM_NS}{name}")
    if not value:
        raise RuntimeError(f"{_POM_NAME} does not define the property {name!r}")
    return value.strip()


KAFKA_VERSION: Final[str] = _pom_property("kafka.version")


def default_cache_dir() -> Path:
    """Jars and broker state live outside the repository so clones and CI caches share them."""
    configured = os.environ.get("CRMSTREAM_CACHE_DIR")
    if configured:
        return Path(configured).expanduser()
    return Path.home() / ".cache" / "crmstream"


def default_state_dir() -> Path:
    """One well-known place lets ``kafka stop``/``status`` find the broker ``start`` made."""
    return default_cache_dir() / "broker"


def _require_tool(name: str, missing_message: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise LocalKafkaError(missing_message)
    return path


def _missing_maven_message(libs: Path) -> str:
    return (
        f"Maven (`mvn`) was not found on PATH. It is needed once to download the Apache Kafka "
        f"{KAFKA_VERSION} broker jars from Maven Central into {libs}. Install Maven 3.6 or newer "
        f"(e.g. `apt-get install maven` or `brew install maven`), or run `crmstream kafka fetch` "
        f"where Maven is available and share that cache directory (CRMSTREAM_CACHE_DIR). "
        f"{_USE_EXISTING_BROKER}"
    )


def _missing_java_message() -> str:
    return (
        f"Java (`java`) was not found on PATH. The local Apache Kafka {KAFKA_VERSION} broker is "
        f"a JVM program and needs Java 17 or newer: install a JDK or JRE 17+ (e.g. `apt-get "
        f"install openjdk-17-jre-headless` or `brew install openjdk@17`) and put its `java` on "
        f"PATH. {_USE_EXISTING_BROKER}"
    )


def _tail(text: str, lines: int = _LOG_TAIL_LINES) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def _file_tail(path: Path, lines: int = _LOG_TAIL_LINES) -> str:
    """Read only the end, because a broker log can be large by the time something fails."""
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(0, handle.tell() - 64_000))
            return _tail(handle.read().decode("utf-8", errors="replace"), lines)
    except FileNotFoundError:
        return "(no log written)"


def _pom_digest() -> str:
    """Key the cache on the pom, so editing it (not only the Kafka version) re-resolves."""
    return hashlib.sha256(_pom_bytes()).hexdigest()


def _is_complete(libs: Path) -> bool:
    marker = libs / _MARKER
    return marker.is_file() and marker.read_text().strip() == _pom_digest()


def resolve_broker_jars(cache_dir: Path | None = None) -> Path:
    """Return the directory of broker jars, downloading them with Maven on first use only.

    Jars are staged in a temporary directory and renamed into place with a completion marker,
    so an interrupted download is never mistaken for a usable one.
    """
    version_dir = (cache_dir or default_cache_dir()) / f"kafka-{KAFKA_VERSION}"
    libs = version_dir / "libs"
    if _is_complete(libs):
        return libs
    mvn = _require_tool("mvn", _missing_maven_message(libs))
    version_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".resolve-", dir=version_dir) as work:
        staged = Path(work) / "libs"
        _copy_dependencies(mvn, Path(work), staged)
        (staged / _MARKER).write_text(_pom_digest() + "\n")
        _move_into_place(staged, libs, Path(work) / "stale")
    return libs


def _run_captured(
    command: list[str], cwd: Path, timeout: float
) -> subprocess.CompletedProcess[str]:
    """Keep the output for error messages; a non-zero exit is reported by the caller."""
    return subprocess.run(
        command, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )


def _copy_dependencies(mvn: str, work: Path, output: Path) -> None:
    """Run Maven on a copy of the pom so no ``target/`` appears beside the shipped one."""
    pom = work / "pom.xml"
    pom.write_bytes(_pom_bytes())
    command = [
        mvn,
        "-q",
        "-B",
        "-Dstyle.color=never",
        "-f",
        str(pom),
        "dependency:copy-dependencies",
        f"-DoutputDirectory={output}",
        "-DincludeScope=runtime",
    ]
    try:
        result = _run_captured(command, work, _MAVEN_TIMEOUT_S)
    except subprocess.TimeoutExpired as exc:
        raise LocalKafkaError(
            f"Maven did not finish downloading the Kafka {KAFKA_VERSION} jars within "
            f"{_MAVEN_TIMEOUT_S:.0f} s. Check network access to Maven Central (or your "
            f"~/.m2/settings.xml mirror) and retry. {_USE_EXISTING_BROKER}"
        ) from exc
    if result.returncode != 0 or not any(output.glob("kafka_2.13-*.jar")):
        raise LocalKafkaError(
            f"Maven could not download the Apache Kafka {KAFKA_VERSION} broker jars "
            f"(exit code {result.returncode}). Check network access to Maven Central (or your "
            f"~/.m2/settings.xml mirror) and retry; the command was: {' '.join(command)}. "
            f"{_USE_EXISTING_BROKER} Last lines of Maven's output:\n"
            f"{_tail(result.stdout + result.stderr)}"
        )


def _move_into_place(staged: Path, libs: Path, stale: Path) -> None:
    """Swap in the new jars; a concurrent resolver that won the race is just as good."""
    with contextlib.suppress(FileNotFoundError):
        libs.rename(stale)
    try:
        staged.rename(libs)
    except OSError:
        if not _is_complete(libs):
            raise


def _cluster_id() -> str:
    """A Kafka ``Uuid`` string, generated like ``kafka-storage random-uuid`` does."""
    while True:
        candidate = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not candidate.startswith("-"):
            return candidate


def _port_in_use_message(port: int) -> str:
    return (
        f"Port {port} on {_HOST} is already in use, so the local Kafka broker cannot listen "
        f"there. Pick another port (--port), or leave it out to get a free one. If a Kafka "
        f"broker already listens on it, set KAFKA_BOOTSTRAP_SERVERS={_HOST}:{port} instead of "
        f"starting another."
    )


def _server_properties(
    port: int,
    controller_port: int,
    data_dir: Path,
    *,
    sasl: tuple[int, Mapping[str, str]] | None = None,
    tls: tuple[int, TlsFiles] | None = None,
    sasl_tls_port: int | None = None,
) -> str:
    """Single-node KRaft settings: every replicated internal topic must fit on one broker.

    ``sasl`` (port, users) adds a SASL_PLAINTEXT listener (SCRAM and PLAIN); ``tls`` (port,
    files) an SSL one that asks clients for a certificate; ``sasl_tls_port``, with both, a
    SASL_SSL one. The broker's own traffic (controller, inter-broker) stays on plaintext."""
    extra = {
        "SASL_PLAINTEXT": sasl[0] if sasl else None,
        "SSL": tls[0] if tls else None,
        "SASL_SSL": sasl_tls_port if sasl and tls else None,
    }
    clients = [("PLAINTEXT", port)] + [(name, at) for name, at in extra.items() if at]
    client_listeners = ",".join(f"{name}://{_HOST}:{at}" for name, at in clients)
    sasl_listeners = [name.lower() for name, _ in clients if name.startswith("SASL")]
    settings = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.voters": f"1@{_HOST}:{controller_port}",
        "listeners": f"{client_listeners},CONTROLLER://{_HOST}:{controller_port}",
        "advertised.listeners": client_listeners,
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": ",".join(
            [f"{name}:{name}" for name, _ in clients] + ["CONTROLLER:PLAINTEXT"]
        ),
        **(_sasl_properties(sasl[1], sasl_listeners) if sasl else {}),
        **(_tls_properties(tls[1], with_sasl=bool(sasl)) if tls else {}),
        "log.dirs": str(data_dir),
        "num.partitions": "1",
        "offsets.topic.replication.factor": "1",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
        "min.insync.replicas": "1",
        "group.initial.rebalance.delay.ms": "0",
        "auto.create.topics.enable": "false",
    }
    return "".join(f"{key}={value}\n" for key, value in settings.items())


def _sasl_properties(users: Mapping[str, str], listeners: list[str]) -> dict[str, str]:
    """SCRAM and PLAIN logins on the SASL listeners. SCRAM users are added through the admin
    API once the broker runs; PLAIN ones are listed in its login module here."""
    plain_users = " ".join(f'user_{name}="{password}"' for name, password in users.items())
    plain_login = f"org.apache.kafka.common.security.plain.PlainLoginModule required {plain_users};"
    logins = {**dict.fromkeys(SCRAM_MECHANISMS, _SCRAM_LOGIN), "PLAIN": plain_login}
    return {
        "sasl.enabled.mechanisms": ",".join(SASL_MECHANISMS),
        **{
            f"listener.name.{listener}.{mechanism.lower()}.sasl.jaas.config": login
            for listener in listeners
            for mechanism, login in logins.items()
        },
    }


def _tls_properties(files: TlsFiles, *, with_sasl: bool) -> dict[str, str]:
    """The broker's certificate on its TLS listeners. The SSL listener asks every client for
    a certificate signed by the test authority (clients authenticated by certificate); the
    SASL_SSL one, with ``with_sasl``, authenticates them by their SASL login instead."""
    listeners = {"ssl": "required", **({"sasl_ssl": "none"} if with_sasl else {})}
    properties: dict[str, str] = {}
    for listener, client_auth in listeners.items():
        prefix = f"listener.name.{listener}.ssl"
        properties |= {
            f"{prefix}.keystore.type": "PKCS12",
            f"{prefix}.keystore.location": str(files.keystore),
            f"{prefix}.keystore.password": _KEYSTORE_PASSWORD,
            f"{prefix}.key.password": _KEYSTORE_PASSWORD,
            f"{prefix}.truststore.type": "PEM",
            f"{prefix}.truststore.location": str(files.ca),
            f"{prefix}.client.auth": client_auth,
        }
    return properties


_KEYSTORE_PASSWORD: Final = "crmstream-local"  # noqa: S105 (a test broker's own throwaway key)


@dataclass(frozen=True)
class TlsFiles:
    """What :func:`make_tls_files` made."""

    ca: Path  # the certificate authority's PEM certificate, which clients and broker trust
    keystore: Path  # the broker's key and certificate for 127.0.0.1, PKCS#12
    client_certificate: Path  # a client's PEM certificate signed by the authority
    client_key: Path  # its unencrypted PEM key

    @classmethod
    def in_directory(cls, directory: Path) -> TlsFiles:
        return cls(
            ca=directory / "ca.pem",
            keystore=directory / "broker.p12",
            client_certificate=directory / "client.pem",
            client_key=directory / "client.key",
        )


def make_tls_files(directory: Path) -> TlsFiles:
    """A certificate authority, and a broker certificate for 127.0.0.1 and a client
    certificate signed by it, made with ``openssl``."""
    openssl = _require_tool("openssl", "openssl is needed to make the test broker's certificate")
    directory.mkdir(parents=True, exist_ok=True)
    files = TlsFiles.in_directory(directory)
    ca_key, key, pem = directory / "ca.key", directory / "broker.key", directory / "broker.pem"
    extensions = directory / "broker.ext"
    extensions.write_text(f"subjectAltName=IP:{_HOST}\n")
    new_key = ("-newkey", "rsa:2048", "-nodes")
    steps = [
        [
            *("req", "-x509", *new_key, "-days", "2", "-subj", "/CN=crmstream test CA"),
            *("-keyout", str(ca_key), "-out", str(files.ca)),
        ],
        *_signed_certificate(files.ca, ca_key, "/CN=" + _HOST, key, pem, extensions=extensions),
        *_signed_certificate(
            files.ca,
            ca_key,
            "/CN=crmstream test client",
            files.client_key,
            files.client_certificate,
        ),
        [
            *("pkcs12", "-export", "-in", str(pem), "-inkey", str(key)),
            *("-certfile", str(files.ca), "-out", str(files.keystore)),
            *("-passout", f"pass:{_KEYSTORE_PASSWORD}"),
        ],
    ]
    for step in steps:
        result = subprocess.run([openssl, *step], capture_output=True, check=False)
        if result.returncode != 0:
            raise LocalKafkaError(f"openssl {step[0]} failed: {result.stderr.decode()[-500:]}")
    return files


def _signed_certificate(
    ca: Path, ca_key: Path, subject: str, key: Path, pem: Path, *, extensions: Path | None = None
) -> list[list[str]]:
    """The openssl steps for a new key and a certificate of ``subject`` signed by ``ca``."""
    request = pem.with_suffix(".csr")
    signing = [
        *("x509", "-req", "-in", str(request), "-CA", str(ca), "-CAkey", str(ca_key)),
        *("-CAcreateserial", "-days", "2", "-out", str(pem)),
    ]
    new_request = ["req", "-newkey", "rsa:2048", "-nodes", "-subj", subject]
    return [
        [*new_request, "-keyout", str(key), "-out", str(request)],
        signing + (["-extfile", str(extensions)] if extensions else []),
    ]


def _advertised(config_path: Path, protocol: str) -> str | None:
    """The host:port this broker advertises for ``protocol`` (PLAINTEXT, SASL_PLAINTEXT, SSL)."""
    advertised = _read_properties(config_path).get("advertised.listeners", "")
    for listener in advertised.split(","):
        name, _, address = listener.partition("://")
        if name == protocol and address:
            return address
    return None


def _read_properties(path: Path) -> dict[str, str]:
    try:
        lines = path.read_text().splitlines()
    except FileNotFoundError:
        return {}
    pairs = (line.split("=", 1) for line in lines if "=" in line and not line.startswith("#"))
    return {key.strip(): value.strip() for key, value in pairs}


def _process_command_line(pid: int) -> str | None:
    """None where /proc is unavailable (e.g. macOS); an exited (zombie) process reads as ''."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:
        return "" if Path("/proc/self").exists() else None
    except OSError:
        return None
    return raw.replace(b"\0", b" ").decode(errors="replace")


def _reap(pid: int) -> bool:
    """Collect our own exited child, so it does not linger as a zombie that looks alive."""
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return False
    return done == pid


def _broker_alive(pid: int, config_path: Path) -> bool:
    """A pid file can outlive its broker and the pid be reused, so check what runs there."""
    if _reap(pid):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    command_line = _process_command_line(pid)
    return command_line is None or str(config_path) in command_line


def _signal_group(pid: int, signum: signal.Signals) -> None:
    """Signal the whole process group the broker leads, so no JVM child is left behind."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signum)


def _answers_metadata(bootstrap: str, **security: Any) -> bool:
    """Ready means a client gets metadata back, not merely that the port accepts connections.

    ``security`` are kafka-python connection options, to probe the SASL listener as a user.
    """
    host, port = bootstrap.rsplit(":", 1)
    try:
        with socket.create_connection((host, int(port)), timeout=1.0):
            pass
        admin = KafkaAdminClient(
            bootstrap_servers=bootstrap,
            client_id="crmstream-local-kafka-probe",
            request_timeout_ms=3000,
            bootstrap_timeout_ms=3000,
            **security,
        )
    except KafkaConfigurationError:
        raise  # a bug here, not a broker that is still starting
    except (KafkaError, OSError):
        return False
    try:
        return bool(admin.describe_cluster().get("brokers"))
    except (KafkaError, OSError):
        return False
    finally:
        admin.close()


class LocalKafka:
    """A broker whose configuration, KRaft data, log and pid file live in ``state_dir``.

    Keeping everything in one directory is what lets a later process (``crmstream kafka stop``)
    find and stop the broker an earlier one started, and what makes data survive restarts.
    ``port=None`` reuses the previous port of this state directory when it is free, else any
    free port, so parallel test runs never collide.

    ``sasl_users`` (name -> password) adds a ``SASL_PLAINTEXT`` listener on another free port
    (:attr:`sasl_bootstrap`) where these users log in with PLAIN, SCRAM-SHA-256 or
    SCRAM-SHA-512, for testing secured clients; the plaintext listener stays. ``tls`` adds an
    ``SSL`` listener (:attr:`tls_bootstrap`) with a certificate for 127.0.0.1 from a certificate
    authority of its own, made with ``openssl``, where clients log in with a certificate from
    that authority (:attr:`tls_files`: the authority to trust and a client certificate). With
    both, a ``SASL_SSL`` listener too (:attr:`sasl_tls_bootstrap`).

    >>> with LocalKafka(tmp_path) as bootstrap:  # doctest: +SKIP
    ...     produce_leads(bootstrap)
    """

    def __init__(
        self,
        state_dir: Path | None = None,
        port: int | None = None,
        *,
        controller_port: int | None = None,
        cache_dir: Path | None = None,
        sasl_users: Mapping[str, str] | None = None,
        tls: bool = False,
    ) -> None:
        self.state_dir = (state_dir or default_state_dir()).expanduser().resolve()
        self.port = port
        self.controller_port = controller_port
        self.cache_dir = cache_dir
        self.sasl_users = dict(sasl_users or {})
        self.tls = tls
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def config_path(self) -> Path:
        return self.state_dir / "server.properties"

    @property
    def log_path(self) -> Path:
        return self.state_dir / "broker.log"

    @property
    def pid_path(self) -> Path:
        return self.state_dir / "broker.pid"

    @property
    def _log4j_path(self) -> Path:
        return self.state_dir / "log4j2.properties"

    @property
    def _data_dir(self) -> Path:
        return self.state_dir / "data"

    def __enter__(self) -> str:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self, timeout: float = 60) -> str:
        """Start the broker (or find it running) and return its bootstrap address.

        ``timeout`` bounds the wait for the broker to answer; a first-time jar download by
        Maven comes on top of it.
        """
        current = self.status()
        if current.running and current.bootstrap:
            return current.bootstrap
        java = _require_tool("java", _missing_java_message())
        port, controller_port = self._choose_ports()
        libs = resolve_broker_jars(self.cache_dir)
        self._prepare_state(port, controller_port)
        self._format_storage(java, libs)
        bootstrap = f"{_HOST}:{port}"
        try:
            self._launch(java, libs)
            self._wait_until_ready(bootstrap, time.monotonic() + timeout, timeout)
            if self.sasl_users:
                self._add_scram_users(bootstrap, time.monotonic() + timeout, timeout)
        except BaseException:
            # Includes KeyboardInterrupt: the broker runs in its own session, so Ctrl-C never
            # reaches it and nobody else would stop it.
            self.stop()
            raise
        return bootstrap

    def stop(self, timeout: float = 30) -> bool:
        """Stop the broker; True if one was running. Safe to call any number of times."""
        pid = self._running_pid()
        if pid is not None:
            _signal_group(pid, signal.SIGTERM)
            if not self._wait_for_exit(pid, timeout):
                _signal_group(pid, signal.SIGKILL)
                self._wait_for_exit(pid, _KILL_GRACE_S)
        self._forget()
        return pid is not None

    def status(self) -> BrokerStatus:
        pid = self._running_pid()
        return BrokerStatus(
            running=pid is not None,
            pid=pid,
            bootstrap=self._configured_bootstrap() if pid is not None else None,
            state_dir=self.state_dir,
            log_path=self.log_path,
        )

    def _running_pid(self) -> int | None:
        if self._process is not None and self._process.poll() is None:
            return self._process.pid
        try:
            pid = int(self.pid_path.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        return pid if _broker_alive(pid, self.config_path) else None

    def _configured_bootstrap(self) -> str | None:
        return _advertised(self.config_path, "PLAINTEXT")

    @property
    def sasl_bootstrap(self) -> str | None:
        """The SASL_PLAINTEXT listener's address while running with ``sasl_users``."""
        if not self.sasl_users or self._running_pid() is None:
            return None
        return _advertised(self.config_path, "SASL_PLAINTEXT")

    @property
    def tls_bootstrap(self) -> str | None:
        """The SSL listener's address while running with ``tls``."""
        if not self.tls or self._running_pid() is None:
            return None
        return _advertised(self.config_path, "SSL")

    @property
    def sasl_tls_bootstrap(self) -> str | None:
        """The SASL_SSL listener's address while running with ``sasl_users`` and ``tls``."""
        if not (self.sasl_users and self.tls) or self._running_pid() is None:
            return None
        return _advertised(self.config_path, "SASL_SSL")

    @property
    def tls_files(self) -> TlsFiles:
        """The certificate authority clients trust and a client certificate the SSL
        listener accepts (with ``tls``, once started)."""
        return TlsFiles.in_directory(self.state_dir / "tls")

    def _choose_ports(self) -> tuple[int, int]:
        port = self.port if self.port is not None else self._previous_or_free_port()
        if not port_is_free(port):
            raise LocalKafkaError(_port_in_use_message(port))
        controller_port = self.controller_port or free_port(exclude={port})
        if not port_is_free(controller_port):
            raise LocalKafkaError(_port_in_use_message(controller_port))
        return port, controller_port

    def _previous_or_free_port(self) -> int:
        """Reusing the port keeps an exported KAFKA_BOOTSTRAP_SERVERS valid across restarts."""
        previous = self._configured_bootstrap()
        if previous is not None:
            port = int(previous.rsplit(":", 1)[1])
            if port_is_free(port):
                return port
        return free_port()

    def _prepare_state(self, port: int, controller_port: int) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        taken = {port, controller_port}
        sasl = None
        if self.sasl_users:
            sasl = (free_port(exclude=taken), self.sasl_users)
            taken.add(sasl[0])
        tls = sasl_tls_port = None
        if self.tls:
            tls = (free_port(exclude=taken), make_tls_files(self.tls_files.ca.parent))
            taken.add(tls[0])
            sasl_tls_port = free_port(exclude=taken)
        properties = _server_properties(
            port, controller_port, self._data_dir, sasl=sasl, tls=tls, sasl_tls_port=sasl_tls_port
        )
        self.config_path.write_text(properties)
        self._log4j_path.write_text(_LOG4J2_PROPERTIES)

    def _java_command(self, java: str, libs: Path, main: str, *args: str) -> list[str]:
        classpath = str(libs / "*")  # the JVM expands the wildcard, not a shell
        logging = f"-Dlog4j2.configurationFile={self._log4j_path}"
        return [java, *_JVM_OPTIONS, logging, "-cp", classpath, main, *args]

    def _format_storage(self, java: str, libs: Path) -> None:
        """Format KRaft storage once; after that the data (and the cluster id) must survive."""
        if (self._data_dir / "meta.properties").is_file():
            return
        shutil.rmtree(self._data_dir, ignore_errors=True)  # leftovers of an interrupted format
        arguments = ("format", "-t", _cluster_id(), "-c", str(self.config_path))
        command = self._java_command(java, libs, _STORAGE_TOOL_MAIN, *arguments)
        command.insert(1, "-Dcrmstream.log.level=WARN")  # on failure, only errors matter
        result = _run_captured(command, self.state_dir, _FORMAT_TIMEOUT_S)
        if result.returncode != 0:
            raise LocalKafkaError(
                f"Formatting the Kafka KRaft storage in {self._data_dir} failed (exit code "
                f"{result.returncode}). Kafka {KAFKA_VERSION} needs Java 17 or newer, and an "
                f"older `java` on PATH fails here; deleting {self.state_dir} starts from "
                f"scratch. Last lines of the output:\n{_tail(result.stdout + result.stderr)}"
            )

    def _launch(self, java: str, libs: Path) -> None:
        """Start in a new session so a terminal's Ctrl-C or a dying parent does not kill it."""
        command = self._java_command(java, libs, _BROKER_MAIN, str(self.config_path))
        with self.log_path.open("wb") as log:
            self._process = subprocess.Popen(
                command,
                cwd=self.state_dir,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.pid_path.write_text(f"{self._process.pid}\n")

    def _wait_until_ready(self, bootstrap: str, deadline: float, timeout: float) -> None:
        while not _answers_metadata(bootstrap):
            self._raise_if_exited()
            if time.monotonic() >= deadline:
                raise LocalKafkaError(
                    f"The local Kafka broker did not answer a metadata request on {bootstrap} "
                    f"within {timeout:.0f} s and was stopped. A slow machine may need a longer "
                    f"timeout (--timeout). Broker log: {self.log_path}; its last lines:\n"
                    f"{_file_tail(self.log_path)}"
                )
            time.sleep(0.25)

    def _add_scram_users(self, bootstrap: str, deadline: float, timeout: float) -> None:
        """Store the users' SCRAM credentials (through the plaintext listener), then wait
        until the first of them can log in on the SASL listener."""
        admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="crmstream-local-kafka")
        failed: dict[str, str] = {}
        try:
            for mechanism in SCRAM_MECHANISMS:  # one credential of a user per request
                errors = admin.alter_user_scram_credentials(
                    [
                        UserScramCredentialUpsertion(name, mechanism, password)
                        for name, password in self.sasl_users.items()
                    ]
                )
                failed |= {name: error for name, error in errors.items() if error}
        finally:
            admin.close()
        if failed:
            raise LocalKafkaError(f"The local Kafka broker refused SCRAM users: {failed}")
        name, password = next(iter(self.sasl_users.items()))
        sasl_bootstrap = _advertised(self.config_path, "SASL_PLAINTEXT") or ""
        login = {
            "security_protocol": "SASL_PLAINTEXT",
            "sasl_mechanism": SCRAM_MECHANISMS[0],
            "sasl_plain_username": name,
            "sasl_plain_password": password,
        }
        while not _answers_metadata(sasl_bootstrap, **login):
            self._raise_if_exited()
            if time.monotonic() >= deadline:
                raise LocalKafkaError(
                    f"SCRAM user {name!r} could not log in on {sasl_bootstrap} within "
                    f"{timeout:.0f} s. Broker log: {self.log_path}; its last lines:\n"
                    f"{_file_tail(self.log_path)}"
                )
            time.sleep(0.25)

    def _raise_if_exited(self) -> None:
        """Fail at once when the JVM dies, rather than waiting out the whole timeout."""
        if self._process is None or self._process.poll() is None:
            return
        raise LocalKafkaError(
            f"The local Kafka broker exited with code {self._process.returncode} while "
            f"starting. Common causes: a port already in use, Java older than 17, or data from "
            f"another Kafka version or node (delete {self.state_dir} to start fresh). "
            f"Broker log: {self.log_path}; its last lines:\n{_file_tail(self.log_path)}"
        )

    def _wait_for_exit(self, pid: int, timeout: float) -> bool:
        if self._process is not None and self._process.pid == pid:
            try:
                self._process.wait(timeout)
            except subprocess.TimeoutExpired:
                return False
            return True
        deadline = time.monotonic() + timeout
        while _broker_alive(pid, self.config_path):
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.1)
        return True

    def _forget(self) -> None:
        self.pid_path.unlink(missing_ok=True)
        if self._process is not None and self._process.poll() is not None:
            self._process = None
