"""The agents: each reads like one step of DESIGN.md's flow and calls pure code for the work."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import faust

from schemas.enrich import enrich_change
from schemas.errors import internal_error
from schemas.ingest import RoutedChange, ingest_message
from schemas.outbound import DeadLetter, SourcePosition
from schemas.record import RecordState
from streams.app import (
    app,
    deadletter_topic,
    enriched_topic,
    field_mapping,
    inbound_topic,
    input_formats,
    records_table,
    routed_topic,
    settings,
    standardize_options,
)
from streams.metrics import record_enriched, record_ingest, record_parked


def _position(event: faust.EventT[bytes]) -> SourcePosition:
    message = event.message
    return SourcePosition(topic=message.topic, partition=message.partition, offset=message.offset)


@app.agent(inbound_topic)
async def ingest_changes(stream: faust.StreamT[bytes]) -> None:
    """Step 1: decode each message into canonical changes and route them to their record."""
    async for event in stream.events():
        started = time.perf_counter()
        result = ingest_message(
            event.value,
            event.message.key,
            _position(event),
            datetime.now(UTC),
            source_format=input_formats.get(event.message.topic),
            mapping=field_mapping,
            max_bytes=settings.max_message_bytes,
        )
        for routed in result.routed:
            await routed_topic.send(key=routed.record_key(), value=routed.to_json())
        if result.dead_letter is not None:
            await deadletter_topic.send(key=event.message.key, value=result.dead_letter.to_json())
        record_ingest(result, time.perf_counter() - started)


@app.agent(routed_topic)
async def apply_changes(stream: faust.StreamT[bytes]) -> None:
    """Steps 2-3: merge each change into its record, standardize, assess, publish."""
    async for event in stream.events():
        started = time.perf_counter()
        key = event.message.key
        try:
            routed = RoutedChange.model_validate_json(event.value)
            stored = records_table.get(key)
            state = RecordState.model_validate_json(stored) if stored is not None else None
            new_state, enriched = enrich_change(
                routed, state, now=datetime.now(UTC), options=standardize_options
            )
        except Exception as exc:  # a bug of ours parks the change instead of killing the agent
            app.log.exception("could not apply a routed change at %r", _position(event))
            await _park_internal_failure(event, exc)
            continue
        records_table[key] = new_state.model_dump_json().encode()
        await enriched_topic.send(key=enriched.record_key(), value=enriched.to_json())
        record_enriched(enriched, time.perf_counter() - started)


async def _park_internal_failure(event: faust.EventT[bytes], exc: Exception) -> None:
    letter = DeadLetter.of(
        [internal_error(exc)],
        event.value,
        event.message.key,
        _position(event),
        datetime.now(UTC),
        keep_bytes=settings.max_message_bytes,
    )
    await deadletter_topic.send(key=event.message.key, value=letter.to_json())
    record_parked(letter)
