"""One typed settings object, read from environment variables with the ``CRMSTREAM_`` prefix.

Every knob of the service is a field here with its documented variable, so a wrong value
fails at start-up with a message naming the variable instead of surfacing later as a
confusing Kafka error. The broker address also answers to the conventional
``KAFKA_BOOTSTRAP_SERVERS`` so the service drops into existing deployments unchanged.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

import phonenumbers
from pydantic import (
    AliasChoices,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from schemas.native import DEFAULT_MAX_MESSAGE_BYTES

ENV_PREFIX = "CRMSTREAM_"
InputFormat = Literal["auto", "native", "salesforce", "debezium", "hubspot"]
_HOST_PORT = re.compile(r"^[A-Za-z0-9_.\-\[\]:]+:\d{1,5}$")
_TOPIC_PREFIX = re.compile(r"^[A-Za-z0-9._\-]*$")
KafkaSecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]


class ConfigurationError(Exception):
    """Start-up configuration is wrong; the message says which variable and why."""


class Settings(BaseSettings):
    """crmstream configuration; each field is read from ``CRMSTREAM_<FIELD NAME>``."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True)

    kafka_bootstrap_servers: str | None = Field(
        default=None,
        validation_alias=AliasChoices(
            "CRMSTREAM_KAFKA_BOOTSTRAP_SERVERS", "KAFKA_BOOTSTRAP_SERVERS"
        ),
        description="Comma-separated host:port list of the Kafka brokers.",
    )
    kafka_security_protocol: KafkaSecurityProtocol = Field(
        default="PLAINTEXT",
        description="How every Kafka client connects: PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL.",
    )
    kafka_sasl_mechanism: SaslMechanism | None = Field(
        default=None,
        description="SASL mechanism (PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512); "
        "required with a SASL protocol.",
    )
    kafka_sasl_username: str | None = Field(default=None, description="SASL user name.")
    kafka_sasl_password: SecretStr | None = Field(
        default=None, description="SASL password; never printed or logged."
    )
    kafka_sasl_password_file: Path | None = Field(
        default=None,
        description="File holding the SASL password (a Docker or Kubernetes secret), "
        "instead of CRMSTREAM_KAFKA_SASL_PASSWORD.",
    )
    kafka_ssl_cafile: Path | None = Field(
        default=None,
        description="PEM file of the CA certificates that sign the brokers' certificates "
        "(default: the system's trusted CAs).",
    )
    kafka_ssl_certfile: Path | None = Field(
        default=None, description="PEM client certificate, for brokers that require TLS clients."
    )
    kafka_ssl_keyfile: Path | None = Field(
        default=None, description="PEM private key of the client certificate."
    )
    kafka_ssl_check_hostname: bool = Field(
        default=True, description="Whether the broker certificate must name the broker's host."
    )
    app_id: str = Field(
        default="crmstream",
        min_length=1,
        description="Faust application id: the consumer group and the prefix of internal topics.",
    )
    topic_prefix: str = Field(
        default="crm.", description="Prefix of every topic name, e.g. 'crm.' gives 'crm.changes'."
    )
    topic_partitions: int = Field(
        default=4,
        ge=1,
        le=1000,
        description="Partitions of the topics crmstream creates: the most workers that can "
        "share the work. Each partition a worker holds costs it CPU and latency (every fetch "
        "asks for all of them; batches between agents split per partition): choose it for "
        "the most workers you will run.",
    )
    topic_replication_factor: int = Field(
        default=1, ge=1, le=10, description="Replication factor of the topics crmstream creates."
    )
    max_message_bytes: int = Field(
        default=DEFAULT_MAX_MESSAGE_BYTES,
        ge=1024,
        le=64 * 1_048_576,
        description="Inbound messages larger than this are dead-lettered as 'oversized'.",
    )
    processing_guarantee: Literal["at_least_once", "exactly_once"] = Field(
        default="at_least_once",
        description="at_least_once: a crash hands recent inputs over again, and their outputs "
        "come again; exactly_once: each stage's outputs, table writes and input offsets are one "
        "Kafka transaction per input partition, for readers with isolation.level=read_committed "
        "(docs/operations.md, processing guarantee).",
    )
    commit_interval_seconds: float = Field(
        default=2.8,
        gt=0.0,
        le=60.0,
        description="Seconds between commits of the worker's offsets (Faust's default): what "
        "a crash hands over again is at most about this much of the input.",
    )
    table_write_interval_seconds: float = Field(
        default=0.25,
        gt=0.0,
        le=60.0,
        description="Seconds between sendings of the table writes held since the last one, "
        "after the outputs of their events, between commits. A commit stops the agents while "
        "it sends what is still held, so a shorter interval shortens those pauses (the "
        "slowest events' latency); a longer one coalesces more writes of one key into one "
        "changelog message.",
    )
    producer_linger_ms: float = Field(
        default=0.0,
        ge=0.0,
        le=1000.0,
        description="Milliseconds the worker's producer waits to fill a batch. Each input "
        "passes four internal hops, so a linger adds up to four times its value to the "
        "latency; 5 ms saved 2-5% CPU per event in bench.throughput.",
    )
    web_host: str = Field(
        default="127.0.0.1", description="Interface the worker's web server (metrics) binds to."
    )
    web_port: int = Field(default=6066, ge=1, le=65535, description="Worker web server port.")
    data_dir: Path = Field(
        default=Path("crmstream-data"), description="Directory for the worker's local state."
    )
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        default="info", description="Worker log level."
    )
    input_format: InputFormat = Field(
        default="auto",
        description="Envelope format of the changes topic; 'auto' detects it per message.",
    )
    source_topics: dict[str, InputFormat] = Field(
        default_factory=dict,
        description="More input topics and their formats, as JSON: "
        '{"salesforce.cdc": "salesforce", "pg.public.leads": "debezium"}.',
    )
    field_mapping_file: Path | None = Field(
        default=None,
        description="JSON or TOML file extending the built-in source-to-canonical field mapping.",
    )
    default_phone_region: str = Field(
        default="US",
        pattern=r"^[A-Z]{2}$",
        description="ISO country code for phone numbers of records without a country.",
    )
    date_order: Literal["mdy", "dmy"] = Field(
        default="mdy",
        description="How to read dates like 03/04/2025 (month first or day first); "
        "ambiguous ones are flagged either way.",
    )

    table_store: Literal["memory", "rocksdb"] = Field(
        default="memory",
        description="Where tables (records, match blocks) live: 'memory' (rebuilt from their "
        "changelogs at start), or 'rocksdb' (on disk under data_dir, for tables larger than RAM).",
    )
    match_duplicate_threshold: float = Field(
        default=0.8, ge=0.0, le=1.0, description="Pair score at or above which it is a duplicate."
    )
    match_review_threshold: float = Field(
        default=0.65,
        ge=0.0,
        le=1.0,
        description="Pair score at or above which (below the duplicate threshold) a human reviews.",
    )
    match_weights: dict[str, float] = Field(
        default_factory=dict,
        description="Per-field weights of the pair score as JSON, merged over the defaults; "
        'custom attributes may take part, 0 removes a field: {"email": 3, "Tax_Id__c": 2}.',
    )
    match_max_block_size: int = Field(
        default=100,
        ge=2,
        description="Records sharing one blocking key beyond which the key is no longer used.",
    )

    model_min_labels: int = Field(
        default=200,
        ge=0,
        description="Labels an outcome model (lead score, churn risk, win probability) learns "
        "before its "
        "scores carry model_ready true.",
    )
    model_checkpoint_labels: int = Field(
        default=500,
        ge=1,
        description="New labels after which the learner writes a model checkpoint.",
    )
    model_checkpoint_seconds: float = Field(
        default=60.0,
        gt=0.0,
        description="Seconds after which the learner writes a checkpoint of any new labels.",
    )
    model_tier_cuts: tuple[int, int, int] = Field(
        default=(70, 45, 25),
        description="Lowest 0-100 score of tiers A, B and C, descending (below the last: D), "
        "as JSON: [70, 45, 25]. Tier B's cut is also where precision and recall are measured.",
    )
    model_features_include: list[str] | None = Field(
        default=None,
        description="When set, only these sources become model features, as JSON: canonical "
        'fields, "attr.<name>" custom attributes, engagement features: ["industry", '
        '"attr.Tier__c", "activities_30d"].',
    )
    model_features_exclude: list[str] = Field(
        default_factory=list,
        description="Sources that never become model features (outcome fields never do), as "
        'JSON: ["rating"].',
    )
    model_segments: dict[str, list[str]] = Field(
        default_factory=lambda: {
            "lead_score": ["country", "lead_source", "industry"],
            "churn_risk": ["billing_country", "industry", "plan"],
            "win_probability": ["stage"],
        },
        description="Per model, the record attributes its progressive metrics are also split "
        "by (bias audit: the gap between the best and the worst segment), as JSON.",
    )
    model_history_days: float = Field(
        default=7.0,
        gt=0.0,
        description="Days every checkpoint stays on crm.models, available to "
        "`crmstream models rollback`.",
    )
    model_promote_on_drift: bool = Field(
        default=True,
        description="On concept drift, train a challenger on the recent labels and promote it "
        "when it predicts the labels that follow better than the champion.",
    )
    model_recent_window: int = Field(
        default=1000,
        ge=100,
        description="Latest labels the learner keeps to train a challenger (drift, promote).",
    )
    model_trial_labels: int = Field(
        default=300,
        ge=1,
        description="Labels a drift challenger and the champion are compared on before the "
        "promotion decision.",
    )

    # The password read from CRMSTREAM_KAFKA_SASL_PASSWORD_FILE at start-up.
    _kafka_sasl_password_from_file: SecretStr | None = PrivateAttr(default=None)

    @field_validator("model_tier_cuts")
    @classmethod
    def _descending_cuts(cls, cuts: tuple[int, int, int]) -> tuple[int, int, int]:
        a, b, c = cuts
        if not 100 >= a > b > c >= 0:
            raise ValueError(f"tier cuts must be descending within 0-100, got {list(cuts)}")
        return cuts

    @model_validator(mode="after")
    def _ordered_thresholds(self) -> Settings:
        if self.match_review_threshold > self.match_duplicate_threshold:
            raise ValueError(
                "CRMSTREAM_MATCH_REVIEW_THRESHOLD must not exceed "
                "CRMSTREAM_MATCH_DUPLICATE_THRESHOLD"
            )
        return self

    @model_validator(mode="after")
    def _kafka_security(self) -> Settings:
        if self.kafka_sasl_password is not None and self.kafka_sasl_password_file is not None:
            raise ValueError(
                "set CRMSTREAM_KAFKA_SASL_PASSWORD or CRMSTREAM_KAFKA_SASL_PASSWORD_FILE, not both"
            )
        if self.kafka_sasl_password_file is not None:
            self._kafka_sasl_password_from_file = _read_secret(self.kafka_sasl_password_file)
        if self.kafka_security_protocol.startswith("SASL_"):
            _require_sasl(self)
        if self.kafka_security_protocol.endswith("SSL"):
            _require_ssl_files(self)
        return self

    @field_validator("kafka_bootstrap_servers")
    @classmethod
    def _host_port_list(cls, value: str | None) -> str | None:
        if value is None:
            return None
        servers = [server.strip() for server in value.split(",") if server.strip()]
        bad = [server for server in servers if not _HOST_PORT.match(server)]
        if not servers or bad:
            raise ValueError("expected a comma-separated list of host:port, e.g. 127.0.0.1:9092")
        return ",".join(servers)

    @field_validator("default_phone_region")
    @classmethod
    def _known_phone_region(cls, value: str) -> str:
        if value not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError("not a region libphonenumber knows (an ISO code such as US or DE)")
        return value

    @field_validator("topic_prefix")
    @classmethod
    def _legal_topic_prefix(cls, value: str) -> str:
        if not _TOPIC_PREFIX.match(value):
            raise ValueError("topic names may only contain letters, digits, '.', '_' and '-'")
        return value

    @property
    def bootstrap_servers(self) -> str:
        """The broker list, or a clear error for commands that cannot run without Kafka."""
        if self.kafka_bootstrap_servers is None:
            raise ConfigurationError(
                "no Kafka broker configured: set KAFKA_BOOTSTRAP_SERVERS (or "
                "CRMSTREAM_KAFKA_BOOTSTRAP_SERVERS), or start a local one with "
                "`crmstream kafka start`"
            )
        return self.kafka_bootstrap_servers

    @property
    def kafka_sasl_secret(self) -> SecretStr | None:
        """The SASL password, from the variable or the file; ``.get_secret_value()`` reveals it."""
        return self.kafka_sasl_password or self._kafka_sasl_password_from_file


def _read_secret(path: Path) -> SecretStr:
    """A secret file as Docker and Kubernetes mount it: the value, maybe a final newline."""
    try:
        value = path.read_text().removesuffix("\n").removesuffix("\r")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        message = f"CRMSTREAM_KAFKA_SASL_PASSWORD_FILE: cannot read {path}: {reason}"
        raise ValueError(message) from None
    if not value:
        raise ValueError(f"CRMSTREAM_KAFKA_SASL_PASSWORD_FILE: {path} is empty")
    return SecretStr(value)


def _require_sasl(settings: Settings) -> None:
    protocol = settings.kafka_security_protocol
    missing = [
        variable
        for variable, value in (
            ("CRMSTREAM_KAFKA_SASL_MECHANISM", settings.kafka_sasl_mechanism),
            ("CRMSTREAM_KAFKA_SASL_USERNAME", settings.kafka_sasl_username),
            (
                "CRMSTREAM_KAFKA_SASL_PASSWORD (or CRMSTREAM_KAFKA_SASL_PASSWORD_FILE)",
                settings.kafka_sasl_secret,
            ),
        )
        if not value
    ]
    if missing:
        raise ValueError(f"CRMSTREAM_KAFKA_SECURITY_PROTOCOL={protocol} needs {', '.join(missing)}")


def _require_ssl_files(settings: Settings) -> None:
    for variable, path in (
        ("CRMSTREAM_KAFKA_SSL_CAFILE", settings.kafka_ssl_cafile),
        ("CRMSTREAM_KAFKA_SSL_CERTFILE", settings.kafka_ssl_certfile),
        ("CRMSTREAM_KAFKA_SSL_KEYFILE", settings.kafka_ssl_keyfile),
    ):
        if path is not None and not path.is_file():
            raise ValueError(f"{variable}: no such file: {path}")
    if settings.kafka_ssl_keyfile is not None and settings.kafka_ssl_certfile is None:
        raise ValueError("CRMSTREAM_KAFKA_SSL_KEYFILE needs CRMSTREAM_KAFKA_SSL_CERTFILE")


def load_settings() -> Settings:
    """Read the environment, turning validation errors into one readable message."""
    try:
        return Settings()
    except ValidationError as exc:
        problems = [
            f"  {_variable_name(error['loc'])}: {error['msg']}"
            if error["loc"]
            # Errors across settings name their variables in the message itself.
            else f"  {error['msg'].removeprefix('Value error, ')}"
            for error in exc.errors(include_input=False, include_url=False)
        ]
        raise ConfigurationError("invalid configuration:\n" + "\n".join(problems)) from None


def _variable_name(loc: tuple[int | str, ...]) -> str:
    field = str(loc[0]) if loc else "?"
    info = Settings.model_fields.get(field.lower().removeprefix(ENV_PREFIX.lower()))
    if info is not None and isinstance(info.validation_alias, AliasChoices):
        return " or ".join(str(choice) for choice in info.validation_alias.choices)
    return f"{ENV_PREFIX}{field.upper()}"
