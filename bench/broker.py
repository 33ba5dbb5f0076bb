"""The broker a benchmark runs against: ``KAFKA_BOOTSTRAP_SERVERS`` when set, else a local one
started in the benchmark's directory and stopped after it."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from streams.local_kafka import LocalKafka


@contextlib.contextmanager
def kafka_broker(workdir: Path) -> Iterator[str]:
    configured = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if configured:
        yield configured
        return
    with LocalKafka(workdir / "broker") as bootstrap:
        yield bootstrap
