"""The Faust application and its topics, declared once from the settings.

Values stay raw bytes on the way in (decoding is ingest's job, so that undecodable bytes
become dead letters instead of Faust deserialization crashes) and are written as JSON
produced by the typed outbound records.
"""

from __future__ import annotations

import faust
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from streams.settings import load_settings
from streams.topics import Topic, deadletter_max_bytes, topic_specs

settings = load_settings()

app = faust.App(
    settings.app_id,
    broker=[f"kafka://{server}" for server in settings.bootstrap_servers.split(",")],
    key_serializer="raw",
    value_serializer="raw",
    processing_guarantee=settings.processing_guarantee,
    consumer_auto_offset_reset="earliest",
    producer_max_request_size=deadletter_max_bytes(settings),
    topic_partitions=settings.topic_partitions,
    topic_replication_factor=settings.topic_replication_factor,
    topic_disable_leader=True,
    datadir=str(settings.data_dir),
    store="memory://",
    web_enabled=True,
    web_bind=settings.web_host,
    web_host=settings.web_host,
    web_port=settings.web_port,
)

_specs = {spec.name: spec for spec in topic_specs(settings)}


def _declare(topic: Topic) -> faust.TopicT:
    spec = _specs[f"{settings.topic_prefix}{topic.value}"]
    return app.topic(
        spec.name,
        key_type=bytes,
        value_type=bytes,
        partitions=spec.partitions,
        replicas=spec.replication_factor,
        config=spec.config or None,
    )


changes_topic = _declare(Topic.CHANGES)
enriched_topic = _declare(Topic.ENRICHED)
deadletter_topic = _declare(Topic.DEADLETTER)


@app.page("/metrics")
async def metrics(web: faust.web.View, request: faust.web.Request) -> faust.web.Response:
    """Prometheus scrape endpoint on the worker's own web port."""
    # Passed as a header: aiohttp refuses a charset inside its content_type argument.
    return web.bytes(generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})
