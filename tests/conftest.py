"""Shared fixtures: one real Kafka broker per test session, never a fake.

``KAFKA_BOOTSTRAP_SERVERS`` (or ``CRMSTREAM_KAFKA_BOOTSTRAP_SERVERS``) points the suite at an
existing broker; otherwise a local one is started from Apache Kafka's jars and stopped at
the end. Each test isolates itself with its own topic prefix and application id.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

from streams.local_kafka import LocalKafka


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "kafka: needs a real Kafka broker (a local one is started if none is set)"
    )


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    configured = os.environ.get("CRMSTREAM_KAFKA_BOOTSTRAP_SERVERS") or os.environ.get(
        "KAFKA_BOOTSTRAP_SERVERS"
    )
    if configured:
        yield configured
        return
    broker = LocalKafka(tmp_path_factory.mktemp("kafka-broker"))
    bootstrap = broker.start(timeout=120)
    try:
        yield bootstrap
    finally:
        broker.stop()


@pytest.fixture
def isolated_names() -> tuple[str, str]:
    """A topic prefix and app id of this test alone, so runs and tests never share state."""
    run = uuid.uuid4().hex[:10]
    return f"test-{run}.crm.", f"crmstream-test-{run}"
