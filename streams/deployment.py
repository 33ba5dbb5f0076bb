"""An isolated crmstream deployment on a broker, for end-to-end tests and benchmarks.

Each test gets its own topics, consumer group, web port and data directory, so tests never
see each other's records, whichever broker they run against.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

from schemas.envelopes import parse_message
from schemas.mapping import FieldMapping
from streams.kafka_admin import ensure_topics
from streams.kafka_security import kafka_python_options
from streams.ports import free_port
from streams.settings import ENV_PREFIX, Settings, load_settings
from streams.topic_reader import read_records
from streams.topics import Topic, topic_name, topic_specs
from streams.worker_process import WorkerProcess, scrape_metrics


@dataclass(frozen=True)
class Deployment:
    """A crmstream deployment of one test: its settings as the worker's environment sees them."""

    bootstrap: str
    env: dict[str, str]
    settings: Settings
    workdir: Path

    @classmethod
    def create(
        cls, bootstrap: str, names: tuple[str, str], workdir: Path, **settings: str
    ) -> Deployment:
        """Topics created, nothing running; ``settings`` are extra CRMSTREAM_* values."""
        prefix, app_id = names
        values = {
            "app_id": app_id,
            "topic_prefix": prefix,
            "web_port": str(free_port()),
            "data_dir": str(workdir / "worker-data"),
            **settings,
        }
        env = {"KAFKA_BOOTSTRAP_SERVERS": bootstrap}
        env |= {f"{ENV_PREFIX}{name.upper()}": value for name, value in values.items()}
        with mock.patch.dict(os.environ, env):  # read exactly as the worker will read it
            deployment = cls(bootstrap, env, load_settings(), workdir)
        ensure_topics(bootstrap, topic_specs(deployment.settings), security=deployment.security)
        return deployment

    @property
    def security(self) -> dict[str, Any]:
        """kafka-python connection options of this deployment (TLS, SASL), as the worker's."""
        return kafka_python_options(self.settings)

    def topic(self, topic: Topic) -> str:
        return topic_name(self.settings, topic)

    def worker(self, log_name: str = "worker.log", *, own_web_port: bool = False) -> WorkerProcess:
        """A worker of this deployment; a second one on this host needs ``own_web_port``."""
        env = {**self.env, f"{ENV_PREFIX}WEB_PORT": str(free_port())} if own_web_port else self.env
        return WorkerProcess(env, self.workdir / log_name)

    def read_outputs(self, expected: int, timeout: float) -> list[Any]:
        """Enriched records and dead letters, once ``expected`` of them arrived."""
        topics = [self.topic(Topic.ENRICHED), self.topic(Topic.DEADLETTER)]
        return read_records(
            self.bootstrap, topics, expected=expected, timeout=timeout, security=self.security
        )

    def metrics(self) -> dict[str, float]:
        return scrape_metrics(f"http://127.0.0.1:{self.settings.web_port}/metrics")


def count_changes(values: Iterable[bytes | None], mapping: FieldMapping) -> int:
    """How many enriched records these valid message values must produce (merges expanded)."""
    return sum(
        len(change.expand_merge())
        for value in values
        for change in parse_message(
            value, source_format=None, mapping=mapping, max_bytes=1 << 20
        ).changes
    )
