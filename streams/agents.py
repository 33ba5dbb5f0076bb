"""The agents: each reads like one step of DESIGN.md's flow and calls pure code for the work."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import faust

from schemas.ingest import ingest_message
from schemas.outbound import EnrichedChange, SourcePosition
from streams.app import app, changes_topic, deadletter_topic, enriched_topic, settings
from streams.metrics import record_outcome


@app.agent(changes_topic)
async def ingest_changes(stream: faust.StreamT[bytes]) -> None:
    """Step 1 of the flow: validate every change; the valid go on, the rest are parked."""
    async for event in stream.events():
        started = time.perf_counter()
        message = event.message
        position = SourcePosition(
            topic=message.topic, partition=message.partition, offset=message.offset
        )
        outcome = ingest_message(
            event.value,
            message.key,
            position,
            datetime.now(UTC),
            max_bytes=settings.max_message_bytes,
        )
        if isinstance(outcome, EnrichedChange):
            await enriched_topic.send(key=outcome.record_key(), value=outcome.to_json())
        else:
            await deadletter_topic.send(key=message.key, value=outcome.to_json())
        record_outcome(outcome, time.perf_counter() - started)
