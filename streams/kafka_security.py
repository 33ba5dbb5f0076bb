"""How every Kafka client of crmstream connects: SASL and TLS options built in one place.

The worker (Faust over aiokafka) and the tools (kafka-python: topic creation, the generator,
readers, replay, model commands) take the same security settings in different shapes.
Building both from one :class:`~streams.settings.Settings` keeps them on the same listener
with the same trust and credentials; the password only leaves its ``SecretStr`` here, on its
way into a client, and is never logged.

>>> from streams.settings import Settings
>>> kafka_python_options(Settings())
{'security_protocol': 'PLAINTEXT'}
>>> faust_credentials(Settings()) is None
True
"""

from __future__ import annotations

import logging
import socket
import ssl
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TypeVar

from faust.auth import SASLCredentials, SSLCredentials
from faust.types.auth import CredentialsT
from kafka.errors import KafkaTimeoutError, SaslAuthenticationFailedError

from streams.settings import ConfigurationError, Settings, load_settings

__all__ = [
    "KafkaOptions",
    "client_options",
    "connect",
    "faust_credentials",
    "kafka_python_options",
    "ssl_context",
]

# Keyword arguments of a kafka-python client (KafkaProducer, KafkaConsumer, KafkaAdminClient)
# that say how it connects: security_protocol, sasl_*, ssl_context.
KafkaOptions = Mapping[str, Any]
_Client = TypeVar("_Client")


def ssl_context(settings: Settings) -> ssl.SSLContext | None:
    """The TLS context of an SSL or SASL_SSL connection, None for a plaintext one."""
    if not settings.kafka_security_protocol.endswith("SSL"):
        return None
    cafile = settings.kafka_ssl_cafile
    try:
        context = ssl.create_default_context(cafile=None if cafile is None else str(cafile))
    except ssl.SSLError as exc:
        raise ConfigurationError(f"CRMSTREAM_KAFKA_SSL_CAFILE: {cafile}: {exc}") from None
    if settings.kafka_ssl_certfile is not None:
        try:
            context.load_cert_chain(settings.kafka_ssl_certfile, settings.kafka_ssl_keyfile)
        except ssl.SSLError as exc:
            raise ConfigurationError(
                "CRMSTREAM_KAFKA_SSL_CERTFILE / CRMSTREAM_KAFKA_SSL_KEYFILE: cannot load the "
                f"client certificate: {exc}"
            ) from None
    context.check_hostname = settings.kafka_ssl_check_hostname
    return context


def kafka_python_options(settings: Settings) -> dict[str, Any]:
    """Connection options for a kafka-python client, beside its ``bootstrap_servers``."""
    options: dict[str, Any] = {"security_protocol": settings.kafka_security_protocol}
    context = ssl_context(settings)
    if context is not None:
        options["ssl_context"] = context
    secret = settings.kafka_sasl_secret
    if settings.kafka_security_protocol.startswith("SASL_") and secret is not None:
        options |= {
            "sasl_mechanism": settings.kafka_sasl_mechanism,
            "sasl_plain_username": settings.kafka_sasl_username,
            "sasl_plain_password": secret.get_secret_value(),
        }
    return options


def client_options(security: KafkaOptions | None) -> dict[str, Any]:
    """The options a kafka-python helper was given, else those of the environment's settings.

    Helpers take ``security=None`` by default so that every command, run with the service's
    environment, connects the way the worker does.
    """
    return dict(security) if security is not None else kafka_python_options(load_settings())


def connect(
    client: Callable[..., _Client],
    bootstrap_servers: str,
    security: KafkaOptions | None,
    **config: Any,
) -> _Client:
    """A kafka-python ``client`` (KafkaProducer, KafkaConsumer, KafkaAdminClient) connected
    with ``security`` (None: the environment's settings, see :func:`client_options`).

    kafka-python retries a refused SASL login until its bootstrap times out and then reports
    only "Unable to bootstrap"; this raises ``SaslAuthenticationFailedError`` naming the user
    and mechanism instead, so a wrong password reads as one.
    """
    options = client_options(security)
    with _login_failures() as refused:
        try:
            return client(bootstrap_servers=bootstrap_servers, **config, **options)
        except KafkaTimeoutError as exc:
            mechanism = options.get("sasl_mechanism")
            if mechanism is None:
                raise
            if refused:
                said = str(refused[-1]).rsplit(f"{SaslAuthenticationFailedError.__name__}: ", 1)
                reason = said[-1]
            elif _reachable(bootstrap_servers):
                # The broker may close the socket before its refusal reaches the client, so
                # a listener that accepts TCP but never a login is reported as a login problem.
                reason = "the broker closed every connection during the login"
            else:
                raise
            user = options.get("sasl_plain_username")
            raise SaslAuthenticationFailedError(
                f"Kafka at {bootstrap_servers} refused the SASL login of {user!r} with "
                f"{mechanism} (check CRMSTREAM_KAFKA_SASL_USERNAME, the password and that "
                f"the listener speaks {options['security_protocol']}): {reason}"
            ) from exc


def _reachable(bootstrap_servers: str) -> bool:
    """Whether any of the brokers accepts a TCP connection."""
    for server in bootstrap_servers.split(","):
        host, _, port = server.strip().rpartition(":")
        try:
            with socket.create_connection((host.strip("[]"), int(port)), timeout=2):
                return True
        except OSError:
            continue
    return False


class _LoginFailureLog(logging.Filter):
    """Notes the SASL refusals kafka-python logs while it retries to bootstrap (a filter, not
    a handler: the log goes on as configured)."""

    def __init__(self) -> None:
        super().__init__()
        self.refused: list[SaslAuthenticationFailedError] = []

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args if isinstance(record.args, tuple) else ()
        self.refused += [arg for arg in args if isinstance(arg, SaslAuthenticationFailedError)]
        return True


@contextmanager
def _login_failures() -> Iterator[list[SaslAuthenticationFailedError]]:
    log = _LoginFailureLog()
    logger = logging.getLogger("kafka.net.manager")  # where bootstrap failures are logged
    logger.addFilter(log)
    try:
        yield log.refused
    finally:
        logger.removeFilter(log)


def faust_credentials(settings: Settings) -> CredentialsT | None:
    """``broker_credentials`` for ``faust.App``: SASL (over TLS or not), TLS alone, or None."""
    context = ssl_context(settings)
    secret = settings.kafka_sasl_secret
    if settings.kafka_security_protocol.startswith("SASL_") and secret is not None:
        # With a context Faust (and aiokafka) speak SASL_SSL, without one SASL_PLAINTEXT.
        return SASLCredentials(
            username=settings.kafka_sasl_username,
            password=secret.get_secret_value(),
            ssl_context=context,
            mechanism=settings.kafka_sasl_mechanism,
        )
    if context is not None:
        return SSLCredentials(context)
    return None
