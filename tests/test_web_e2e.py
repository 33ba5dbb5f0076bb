"""The worker's web port, through a real broker: metrics and health for operators, never the
contents or the layout of its tables.

Faust serves ``/table`` (every table, and any key's value: here merged CRM records with
names, emails and phones) and ``/router`` (which worker holds which partition) unless told
not to; crmstream turns both off, so a metrics port that Prometheus scrapes, or anyone on its
network reaches, gives away no personal data.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
from kafka import KafkaProducer

from streams.deployment import Deployment
from streams.topics import Topic
from streams.worker_process import wait_until_ready

pytestmark = pytest.mark.kafka

EMAIL = "ada.lovelace@analytical-engines.example"


def get(port: int, path: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def test_a_running_worker_serves_metrics_and_health_but_no_table_data(
    kafka_bootstrap: str, isolated_names: tuple[str, str], tmp_path: Path
) -> None:
    deployment = Deployment.create(kafka_bootstrap, isolated_names, tmp_path, topic_partitions="1")
    port = deployment.settings.web_port
    contact = {
        "event_id": "web-c1-create",
        "entity_type": "contact",
        "entity_id": "web-c1",
        "op": "create",
        "occurred_at": datetime.now(UTC).isoformat(),
        "source": "web-test",
        "fields": {"first_name": "Ada", "last_name": "Lovelace", "email": EMAIL},
    }
    with deployment.worker() as worker:
        wait_until_ready([worker])
        producer = KafkaProducer(bootstrap_servers=kafka_bootstrap)
        producer.send(deployment.topic(Topic.CHANGES), key=b"web-c1", value=orjson.dumps(contact))
        producer.flush()
        producer.close()
        assert deployment.read_outputs(expected=1, timeout=90), worker.log_tail()
        table_pages = {
            path: get(port, path)
            for path in (
                "/table/",
                "/table/records/",
                "/table/records/contact:web-c1/",
                "/table/matches/contact:web-c1/",
                "/router/",
                "/router/topics",
                "/router/records/contact:web-c1/",
            )
        }
        health = {path: get(port, path) for path in ("/metrics", "/live", "/ready")}

    for path, (status, body) in table_pages.items():
        assert status == 404, f"{path} answered {status}: {body[:200]!r}"
        assert b"records" not in body, path
        assert b"Ada" not in body, path
        assert EMAIL.encode() not in body, path
    for path, (status, body) in health.items():
        assert status == 200, f"{path} answered {status}"
        assert EMAIL.encode() not in body
    assert b"crmstream_events_enriched_total" in health["/metrics"][1]
