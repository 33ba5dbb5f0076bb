"""The agents: each reads like one step of DESIGN.md's flow and calls pure code for the work."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import faust
import orjson
from pydantic import BaseModel, ValidationError

from models.matching import MatchRecord
from models.matching.blocking import profile_keys
from models.matching.learning import LearnedMatcher
from models.matching.linking import (
    Block,
    BlockAnswer,
    Effects,
    IndexRequest,
    LearningSample,
    LinkMessage,
    MatchState,
    candidate_floor,
    feedback_messages,
    index_in_block,
    on_answer,
    on_link,
    on_record,
)
from schemas.duplicates import FeedbackVerdict
from schemas.enrich import enrich_change
from schemas.errors import ErrorDetail, errors_from_validation, internal_error
from schemas.ingest import RoutedChange, ingest_message
from schemas.outbound import DeadLetter, SourcePosition
from schemas.record import RecordState
from streams.app import (
    app,
    blocks_table,
    deadletter_topic,
    duplicates_topic,
    enriched_topic,
    feedback_topic,
    field_mapping,
    inbound_topic,
    input_formats,
    match_answers_topic,
    match_learning_topic,
    match_links_topic,
    match_model_table,
    match_requests_topic,
    matcher,
    matches_table,
    record_topic,
    records_table,
    routed_topic,
    settings,
    standardize_options,
)
from streams.metrics import (
    record_block_answer,
    record_enriched,
    record_feedback,
    record_ingest,
    record_match_model,
    record_matching,
    record_parked,
)

MATCH_MODEL_KEY = b"match-model"
CANDIDATE_FLOOR = candidate_floor(settings.match_review_threshold)


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


@app.agent(record_topic)
async def apply_changes(stream: faust.StreamT[bytes]) -> None:
    """Steps 2-4 for one record: merge, standardize, assess, match; publish when matched.

    Routed changes, block answers and pair news for a record share its partition, so the
    record's state and its duplicate state are only ever touched here, one event at a time.
    """
    async for event in stream.events():
        started = time.perf_counter()
        key = event.message.key
        topic = event.message.topic
        try:
            now = datetime.now(UTC)
            stored = matches_table.get(key)
            state = MatchState.model_validate_json(stored) if stored is not None else None
            if topic == match_answers_topic.get_topic_name():
                answer = BlockAnswer.model_validate_json(event.value)
                state, effects = on_answer(state, answer, _judge(), now)
            elif topic == match_links_topic.get_topic_name():
                state, effects = on_link(state, LinkMessage.model_validate_json(event.value), now)
            else:
                state, effects = _apply_change(key, event.value, state, now)
        except Exception as exc:  # a bug of ours parks the event instead of killing the agent
            app.log.exception("could not process a record event at %r", _position(event))
            await _park_internal_failure(event, exc)
            continue
        if state is not None:
            matches_table[key] = state.model_dump_json().encode()
        await _send(effects)
        record_matching(effects, time.perf_counter() - started)


def _apply_change(
    key: bytes, value: bytes, state: MatchState | None, now: datetime
) -> tuple[MatchState | None, Effects]:
    routed = RoutedChange.model_validate_json(value)
    stored = records_table.get(key)
    record_state = RecordState.model_validate_json(stored) if stored is not None else None
    new_state, enriched = enrich_change(routed, record_state, now=now, options=standardize_options)
    records_table[key] = new_state.model_dump_json().encode()
    view = enriched.record
    profile = matcher.profile(
        MatchRecord(
            view.entity_type, view.entity_id, {**view.attributes, **view.fields}, view.derived
        )
    )
    keys = profile_keys(view.entity_type, profile)
    return on_record(state, enriched, profile, keys, judge=_judge(), now=now)


@app.agent(match_requests_topic)
async def index_blocks(stream: faust.StreamT[bytes]) -> None:
    """Step 4, block side: compare a record with its block's members, then index it."""
    async for event in stream.events():
        key = event.message.key
        try:
            request = IndexRequest.model_validate_json(event.value)
            stored = blocks_table.get(key)
            block = Block.model_validate_json(stored) if stored is not None else None
            block, answer = index_in_block(
                block,
                request,
                matcher,
                max_members=settings.match_max_block_size,
                floor=CANDIDATE_FLOOR,
            )
        except Exception as exc:
            app.log.exception("could not index a record in a block at %r", _position(event))
            await _park_internal_failure(event, exc)
            continue
        if block is None:
            blocks_table.pop(key, None)
        else:
            blocks_table[key] = block.model_dump_json().encode()
        if answer is not None:
            await match_answers_topic.send(key=answer.record_key.encode(), value=_json(answer))
            record_block_answer()


@app.agent(feedback_topic)
async def take_feedback(stream: faust.StreamT[bytes]) -> None:
    """Reviewers' verdicts: each record of the pair hears it; one side teaches the model."""
    async for event in stream.events():
        try:
            verdict = FeedbackVerdict.model_validate_json(event.value or b"")
        except ValidationError as exc:
            await _park(event, errors_from_validation(exc))
            continue
        messages = feedback_messages(verdict.record, verdict.other, verdict.verdict)
        for message in messages:
            await match_links_topic.send(key=message.target.encode(), value=_json(message))
        record_feedback(verdict.verdict, links=len(messages))


@app.agent(match_learning_topic)
async def learn_matches(stream: faust.StreamT[bytes]) -> None:
    """The one learner of the match model (its topic has one partition)."""
    async for event in stream.events():
        try:
            sample = LearningSample.model_validate_json(event.value)
            model = _judge()
            model.learn(
                sample.similarities, sample.is_duplicate, decision_at_time=sample.decision_at_time
            )
        except Exception as exc:
            app.log.exception("could not learn from a reviewed pair at %r", _position(event))
            await _park_internal_failure(event, exc)
            continue
        match_model_table[MATCH_MODEL_KEY] = orjson.dumps(model.to_state())
        record_match_model(model)


class _ModelCache:
    """The learned model as the global table holds it, re-read only when it changes."""

    def __init__(self) -> None:
        self.state: bytes | None = None
        self.model = LearnedMatcher(matcher)

    def current(self) -> LearnedMatcher:
        stored = match_model_table.get(MATCH_MODEL_KEY)
        if stored is not None and stored != self.state:
            self.model = LearnedMatcher.from_state(matcher, orjson.loads(stored))
            self.state = stored
        return self.model


_model_cache = _ModelCache()


def _judge() -> LearnedMatcher:
    return _model_cache.current()


def _json(message: BaseModel) -> bytes:
    return message.model_dump_json().encode()


async def _send(effects: Effects) -> None:
    for request in effects.index_requests:
        await match_requests_topic.send(key=request.block_key.encode(), value=_json(request))
    for link in effects.links:
        await match_links_topic.send(key=link.target.encode(), value=_json(link))
    for sample in effects.learning:
        await match_learning_topic.send(key=MATCH_MODEL_KEY, value=_json(sample))
    for duplicate in effects.duplicates:
        await duplicates_topic.send(key=duplicate.record_key(), value=duplicate.to_json())
    for enriched in effects.enriched:
        await enriched_topic.send(key=enriched.record_key(), value=enriched.to_json())
        record_enriched(enriched)


async def _park_internal_failure(event: faust.EventT[bytes], exc: Exception) -> None:
    await _park(event, [internal_error(exc)])


async def _park(event: faust.EventT[bytes], errors: list[ErrorDetail]) -> None:
    letter = DeadLetter.of(
        errors,
        event.value,
        event.message.key,
        _position(event),
        datetime.now(UTC),
        keep_bytes=settings.max_message_bytes,
    )
    await deadletter_topic.send(key=event.message.key, value=letter.to_json())
    record_parked(letter)
