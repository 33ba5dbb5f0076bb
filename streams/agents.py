"""The agents: each reads like one step of DESIGN.md's flow and calls pure code for the work."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any, TypeVar, cast

import faust
import orjson
from aiokafka.errors import MessageSizeTooLargeError
from faust.types import TableT
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
from models.scoring import (
    AnomalyScore,
    AnomalyWatch,
    Engagement,
    EngagementUpdate,
    OutcomeScorer,
    PredictionMemory,
    Score,
    ScorerConfig,
    apply_update,
    engagement_updates,
    label_from_change,
    record_values,
    segment_values,
    training_example,
)
from models.scoring.learning import (
    COMMAND_KEY,
    ModelCheckpoint,
    ModelCommand,
    OutcomeLearner,
    TrainingExample,
    alert_event,
    restored_scorer,
    untrained,
)
from models.scoring.promotion import PromotionPolicy
from schemas.alerts import AlertEvent
from schemas.duplicates import FeedbackVerdict
from schemas.enrich import (
    EnrichedRecord,
    ModelScore,
    RecordView,
    ScoreEvent,
    ScoreFactor,
    enrich_change,
)
from schemas.errors import ErrorCode, ErrorDetail, errors_from_validation, internal_error
from schemas.ingest import RoutedChange, ingest_message
from schemas.outbound import DeadLetter, SourcePosition
from schemas.record import MergeOutcome, RecordState
from schemas.standardize.record import standardize_fields
from streams.app import (
    MONITOR_INTERVAL_SECONDS,
    alerts_topic,
    app,
    blocks_table,
    deadletter_topic,
    duplicates_topic,
    engagement_table,
    engagement_topic,
    enriched_topic,
    feature_extractor,
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
    model_learning_topic,
    models_topic,
    outcome_models,
    outcome_models_table,
    outcome_validation,
    predictions_table,
    record_topic,
    records_table,
    routed_topic,
    scores_topic,
    settings,
    standardize_options,
)
from streams.batches import Delivery
from streams.commits import ChangelogAtCommitProducer
from streams.decoded import DecodedValues
from streams.metrics import (
    publish_model,
    record_block_answer,
    record_drift_alert,
    record_enriched,
    record_feedback,
    record_ingest,
    record_label_repeated,
    record_match_model,
    record_matching,
    record_model_checkpoint,
    record_model_decision,
    record_model_error,
    record_outlier,
    record_parked,
    record_produced,
    record_score,
    record_scoring_failure,
    record_training_example,
    start_drift_alerts,
    start_model_decisions,
    start_outliers,
)
from streams.topics import Topic

MATCH_MODEL_KEY = b"match-model"
StoredModel = TypeVar("StoredModel", bound=BaseModel)
CANDIDATE_FLOOR = candidate_floor(settings.match_review_threshold)


def _position(delivery: Delivery) -> SourcePosition:
    return SourcePosition(
        topic=delivery.topic, partition=delivery.partition, offset=delivery.offset
    )


def _key(delivery: Delivery) -> bytes:
    """The key of a message on an internal topic, which names its record or block."""
    if delivery.key is None:
        raise ValueError(f"a message without a key on {delivery.topic}, a keyed topic")
    return delivery.key


def _value(delivery: Delivery) -> bytes:
    """The value of a message on an internal topic, where every message has one."""
    if delivery.value is None:
        raise ValueError(f"a message without a value on {delivery.topic}")
    return delivery.value


@app.agent(inbound_topic)
async def ingest_changes(stream: faust.StreamT[bytes]) -> None:
    """Step 1: decode each message into canonical changes and route them to their record."""
    await app.process_each(stream, _ingest, on_failure=_park_failure)


async def _ingest(delivery: Delivery) -> None:
    started = time.perf_counter()
    result = ingest_message(
        delivery.value,
        delivery.key,
        _position(delivery),
        datetime.now(UTC),
        source_format=input_formats.get(delivery.topic),
        mapping=field_mapping,
        max_bytes=settings.max_message_bytes,
    )
    for routed in result.routed:
        app.hand_over(routed_topic, routed.record_key(), routed.to_json())
    if result.dead_letter is not None:
        await deadletter_topic.send(key=delivery.key, value=result.dead_letter.to_json())
    record_ingest(result, time.perf_counter() - started)


@app.agent(record_topic)
async def apply_changes(stream: faust.StreamT[bytes]) -> None:
    """Steps 2-4 for one record: merge, standardize, assess, match; publish when matched.

    Routed changes, block answers, pair news and engagement news for a record share its
    partition, so the record's state, its duplicate state and its engagement are only ever
    touched here, one event at a time.
    """
    await app.process_each(stream, _take_record_event, on_failure=_park_failure)


async def _take_record_event(delivery: Delivery) -> None:
    if delivery.topic == engagement_topic.get_topic_name():
        await _take_engagement(delivery)
        return
    started = time.perf_counter()
    key = _key(delivery)
    topic = delivery.topic
    scoring: Scoring | None = None  # only a change is scored
    news: tuple[EngagementUpdate, ...] = ()  # only a change makes engagement
    now = datetime.now(UTC)
    stored = matches_table.get(key)
    state = previous = _match_states.get(key, stored)
    if topic == match_answers_topic.get_topic_name():
        answer = BlockAnswer.model_validate_json(_value(delivery))
        state, effects = on_answer(state, answer, _judge(), now)
    elif topic == match_links_topic.get_topic_name():
        state, effects = on_link(state, LinkMessage.model_validate_json(_value(delivery)), now)
    else:
        state, effects, scoring, news = _apply_change(key, _value(delivery), state, now)
    if state is not None and state is not previous:
        _store_if_changed(matches_table, _match_states, key, stored, state)
    await _send(effects)
    if scoring is not None:
        await _send_scoring(scoring)
    _send_engagement(news)
    record_matching(effects, time.perf_counter() - started)


def _apply_change(
    key: bytes, value: bytes, state: MatchState | None, now: datetime
) -> tuple[MatchState | None, Effects, Scoring | None, tuple[EngagementUpdate, ...]]:
    routed = RoutedChange.model_validate_json(value)
    record_state = _record_states.get(key, records_table.get(key))
    new_state, enriched = enrich_change(routed, record_state, now=now, options=standardize_options)
    # Before the state changes: a change whose enriched record its topic would refuse is
    # parked as result_too_large and leaves its record as it was.
    cast(ChangelogAtCommitProducer, app.producer).refuse_oversized(
        enriched_topic.get_topic_name(), enriched.record_key(), enriched.to_json()
    )
    written = records_table[key] = new_state.model_dump_json().encode()
    _record_states.remember(key, written, new_state)
    scoring = _scoring_or_none(
        key,
        enriched.record.entity_type.value,
        partial(_score_change, key, record_state, enriched, now),
    )
    if scoring is not None:
        enriched = enriched.model_copy(update={"score": scoring.event.score})
    view = enriched.record
    profile = matcher.profile(
        MatchRecord(
            view.entity_type, view.entity_id, {**view.attributes, **view.fields}, view.derived
        )
    )
    keys = profile_keys(view.entity_type, profile)
    state, effects = on_record(state, enriched, profile, keys, judge=_judge(), now=now)
    return state, effects, scoring, _engagement_news(enriched)


def _engagement_news(enriched: EnrichedRecord) -> tuple[EngagementUpdate, ...]:
    """An applied change of an activity, opportunity or contact, as news for the records
    whose engagement it is (they live on other partitions). A deleted one sends none: a
    deleted activity is not uncounted (see :mod:`models.scoring.engagement`)."""
    view = enriched.record
    if enriched.merge_outcome is not MergeOutcome.APPLIED or view.deleted:
        return ()  # a redelivered or superseded change was news already, or never
    change = enriched.change
    return engagement_updates(
        view.entity_type.value,
        view.entity_id,
        view.fields,
        event_id=change.event_id,
        occurred_at=change.occurred_at,
    )


async def _take_engagement(delivery: Delivery) -> None:
    """Engagement news for this record: fold it into the record's engagement, pass a
    contact's activity on to its account, and re-score the record when its engagement
    moved. A failure to score is counted like a change's, and the news kept."""
    now = datetime.now(UTC)
    update = EngagementUpdate.model_validate_json(_value(delivery))
    key = update.target_key()  # the message's key: how it came to this partition
    target = _record_states.get(key, records_table.get(key))
    fields = _standardized_fields(target) if target is not None else None
    step = apply_update(
        _stored_engagement(key),
        update,
        target_fields=fields,
        target_deleted=target is not None and target.deleted,
    )
    if step.engagement is not None:
        engagement_table[key] = orjson.dumps(step.engagement.to_dict())
    if step.forward is not None:
        _send_engagement([step.forward])
    if step.changed and target is not None and fields is not None:
        rescore = partial(_rescore, key, target, fields, update, now)
        scoring = _scoring_or_none(key, target.entity_type.value, rescore)
        if scoring is not None:
            await _send_scoring(scoring)


def _send_engagement(updates: Iterable[EngagementUpdate]) -> None:
    for update in updates:
        app.hand_over(engagement_topic, update.target_key(), _json(update))
        record_produced(Topic.ENGAGEMENT, update.source_type)


@app.agent(match_requests_topic)
async def index_blocks(stream: faust.StreamT[bytes]) -> None:
    """Step 4, block side: compare a record with its block's members, then index it."""
    await app.process_each(stream, _index_in_block, on_failure=_park_failure)


async def _index_in_block(delivery: Delivery) -> None:
    key = _key(delivery)
    request = IndexRequest.model_validate_json(_value(delivery))
    stored = blocks_table.get(key)
    block, answer = index_in_block(
        _blocks.get(key, stored),
        request,
        matcher,
        max_members=settings.match_max_block_size,
        floor=CANDIDATE_FLOOR,
    )
    if block is None:
        blocks_table.pop(key, None)
    else:
        _store_if_changed(blocks_table, _blocks, key, stored, block)
    if answer is not None:
        app.hand_over(match_answers_topic, answer.record_key.encode(), _json(answer))
        record_block_answer()


@app.agent(feedback_topic)
async def take_feedback(stream: faust.StreamT[bytes]) -> None:
    """Reviewers' verdicts: each record of the pair hears it; one side teaches the model."""
    await app.process_each(stream, _take_verdict, on_failure=_park_failure)


async def _take_verdict(delivery: Delivery) -> None:
    try:
        verdict = FeedbackVerdict.model_validate_json(delivery.value or b"")
    except ValidationError as exc:  # a reviewer's tool sent it: bad input, not our failure
        await _park(delivery, errors_from_validation(exc))
        return
    messages = feedback_messages(verdict.record, verdict.other, verdict.verdict)
    for message in messages:
        app.hand_over(match_links_topic, message.target.encode(), _json(message))
    record_feedback(verdict.verdict, links=len(messages))


@app.agent(match_learning_topic)
async def learn_matches(stream: faust.StreamT[bytes]) -> None:
    """The one learner of the match model (its topic has one partition)."""
    await app.process_each(stream, _learn_match, on_failure=_park_failure)


async def _learn_match(delivery: Delivery) -> None:
    sample = LearningSample.model_validate_json(_value(delivery))
    model = _judge()
    model.learn(sample.similarities, sample.is_duplicate, decision_at_time=sample.decision_at_time)
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


def _store_if_changed(
    table: TableT[bytes, bytes],
    memo: DecodedValues[StoredModel],
    key: bytes,
    stored: bytes | None,
    value: StoredModel,
) -> None:
    """Write ``value`` unless the table already holds it: every write is a changelog message,
    and most events (an answer that finds nothing, a redelivery) leave the state as it was."""
    data = value.model_dump_json().encode()
    if data != stored:
        table[key] = data
        memo.remember(key, data, value)


# Each table's values as last decoded (see streams.decoded).
_match_states = DecodedValues(MatchState.model_validate_json)
_record_states = DecodedValues(RecordState.model_validate_json)
_blocks = DecodedValues(Block.model_validate_json)


def _json(message: BaseModel) -> bytes:
    return message.model_dump_json().encode()


async def _send(effects: Effects) -> None:
    for request in effects.index_requests:
        app.hand_over(match_requests_topic, request.block_key.encode(), _json(request))
    for link in effects.links:
        app.hand_over(match_links_topic, link.target.encode(), _json(link))
    for sample in effects.learning:
        app.hand_over(match_learning_topic, MATCH_MODEL_KEY, _json(sample))
    for duplicate in effects.duplicates:
        await duplicates_topic.send(key=duplicate.record_key(), value=duplicate.to_json())
    for enriched in effects.enriched:
        await enriched_topic.send(key=enriched.record_key(), value=enriched.to_json())
        record_enriched(enriched)


async def _park_failure(delivery: Delivery, exc: Exception) -> None:
    """A delivery whose processing failed is parked instead of stopping the agent or being
    lost: as ``result_too_large`` when a message it made was too large for its topic (a
    record grown past the limit), else as ``processing_failed``, a failure of crmstream's
    own (a bug, or a message on an internal topic no producer of ours wrote), with its
    traceback in the log."""
    where = (_position(delivery), delivery.index)
    if isinstance(exc, MessageSizeTooLargeError):
        app.log.warning("parked the delivery at %r (batch item %s): %s", *where, exc)
        await _park(delivery, [ErrorDetail(ErrorCode.RESULT_TOO_LARGE, str(exc))])
        return
    app.log.exception("could not process the delivery at %r (batch item %s): parked", *where)
    await _park(delivery, [internal_error(exc)])


async def _park(delivery: Delivery, errors: list[ErrorDetail]) -> None:
    letter = DeadLetter.of(
        errors,
        delivery.value,
        delivery.key,
        _position(delivery),
        datetime.now(UTC),
        keep_bytes=settings.max_message_bytes,
        batch_index=delivery.index,
    )
    await deadletter_topic.send(key=delivery.key, value=letter.to_json())
    record_parked(letter)


# -- outcome models: score on the record's partition, learn in one place ------------------------

_RELOAD_SECONDS = 1.0
TICK_KEY = b"__tick__"
"""Key of the periodic message that lets the learner checkpoint when labels stop coming."""


@dataclass(frozen=True, slots=True)
class Scoring:
    """What scoring one change produced: its score event, and a lesson when it was an outcome."""

    event: ScoreEvent
    example: TrainingExample | None


def _publish_checkpoint(checkpoint: ModelCheckpoint) -> None:
    overall = checkpoint.metrics.get("overall", {})
    publish_model(
        checkpoint.model,
        version=checkpoint.version,
        labels=checkpoint.labels,
        ready=checkpoint.model_ready,
        roc_auc=overall.get("roc_auc"),
        log_loss=overall.get("log_loss"),
    )


class _ScorerCache:
    """The checkpoint each model is scored with, as the global table holds it, re-read only
    when it changes; before the first checkpoint an untrained model (version 0)."""

    def __init__(self) -> None:
        self.stored: dict[str, bytes] = {}
        self.scorers: dict[str, OutcomeScorer] = {}
        self.read_at: dict[str, float] = {}

    def current(self, config: ScorerConfig) -> OutcomeScorer:
        scorer = self.scorers.get(config.name)
        read_at = self.read_at.get(config.name)
        now = time.monotonic()
        # A checkpoint is large: with the RocksDB store each read copies it, so the table
        # is looked at once a second, not at every record.
        if scorer is not None and read_at is not None and now - read_at < _RELOAD_SECONDS:
            return scorer
        self.read_at[config.name] = now
        stored = outcome_models_table.get(config.name.encode())
        known = self.stored.get(config.name)
        if stored is not None and stored is not known and stored != known:
            checkpoint = ModelCheckpoint.from_bytes(stored)
            self.scorers[config.name] = restored_scorer(config, checkpoint)
            self.stored[config.name] = stored
            _publish_checkpoint(checkpoint)
        scorer = self.scorers.get(config.name)
        if scorer is None:
            scorer = self.scorers[config.name] = untrained(config)
        return scorer


_scorers = _ScorerCache()


async def publish_model_gauges() -> None:
    """Load new checkpoints even while no record arrives, so the gauges follow the table."""
    try:
        for config in outcome_models.values():
            _scorers.current(config)
    except Exception:  # monitoring must never stop the worker
        app.log.exception("could not read the outcome models' checkpoints")


app.timer(interval=MONITOR_INTERVAL_SECONDS)(publish_model_gauges)


# How unusual each record's numbers are: one detector per watched entity type, in this
# process's memory only, learned from the partitions this worker holds (a random sample by
# key, so the same distribution); not checkpointed, so not ready again after a restart.
_anomalies = AnomalyWatch()
start_outliers(_anomalies.entity_types)


def _scoring_or_none(
    key: bytes, entity_type: str, score: Callable[[], Scoring | None]
) -> Scoring | None:
    """Scoring, isolated: a model that cannot score must not stop records being enriched,
    nor their engagement being kept."""
    try:
        return score()
    except Exception:
        app.log.exception("could not score %r", key)
        record_scoring_failure(entity_type)
        return None


def _score_change(
    key: bytes, previous: RecordState | None, enriched: EnrichedRecord, now: datetime
) -> Scoring | None:
    """Step 5 for a lead, an account or an opportunity: label the change if it is an outcome,
    score it, and remember the features of a record still waiting for its outcome. Types with
    watched numbers (opportunities, accounts) also get an anomaly score, judged against the
    records before this one and then learned (:class:`~models.scoring.AnomalyWatch`).

    Features are taken at the change's ``occurred_at`` (source time), not at the worker's
    clock: a replay or a backlog then gives the same features as live processing did, and a
    label's time compares with its prediction's on one clock. They include the record's
    engagement as its table holds it then.
    """
    view = enriched.record
    config = outcome_models.get(view.entity_type.value)
    if config is None or enriched.merge_outcome is not MergeOutcome.APPLIED:
        return None  # a redelivered or superseded change left the record as it was scored
    if view.deleted:
        predictions_table.pop(key, None)
        return None
    change = enriched.change
    label = label_from_change(
        view.entity_type.value,
        _standardized_values(previous),
        record_values(view.fields, view.attributes),
    )
    example = None
    if label is not None:  # one label, one lesson: the memory goes either way
        stored = predictions_table.pop(key, None)
        memory = None if stored is None else PredictionMemory.from_dict(orjson.loads(stored))
        pair = training_example(memory, label, labelled_at=change.occurred_at)
        if memory is not None and pair is not None:
            example = TrainingExample(
                model=config.name,
                label=pair[1],
                outcome=label.outcome,
                features=pair[0],
                probability=memory.probability,
                challenger_probability=memory.challenger_probability,
                model_version=memory.model_version,
                segments=dict(memory.segments),
                labelled_at=change.occurred_at,
                label_id=f"{key.decode()} {change.event_id}",
            )
    event = _score_record(
        key,
        config,
        view,
        view.fields,
        event_id=change.event_id,
        at=change.occurred_at,
        now=now,
        judge_numbers=True,
        remember=label is None,  # after its outcome a record is scored, never learned from
    )
    return Scoring(event, example)


def _rescore(
    key: bytes,
    record: RecordState,
    fields: dict[str, Any],
    update: EngagementUpdate,
    now: datetime,
) -> Scoring | None:
    """A lead, an account or an opportunity again, its engagement having moved: a score
    event with the event id of the change that moved it, features at that change's time.

    Its prediction memory is updated when it has one (none after its outcome). Its watched
    numbers did not change, so they are neither judged again (anomaly fields null) nor
    learned twice.
    """
    config = outcome_models.get(record.entity_type.value)
    if config is None or record.deleted:
        return None
    event = _score_record(
        key,
        config,
        record,
        fields,
        event_id=update.event_id,
        at=update.occurred_at,
        now=now,
        judge_numbers=False,
        remember=key in predictions_table,
    )
    return Scoring(event, None)


def _score_record(
    key: bytes,
    config: ScorerConfig,
    record: RecordView | RecordState,
    fields: dict[str, Any],
    *,
    event_id: str,
    at: datetime,
    now: datetime,
    judge_numbers: bool,
    remember: bool,
) -> ScoreEvent:
    """Score a record (standardized ``fields``) and its stored engagement at ``at``;
    ``judge_numbers``: score its watched numbers and learn them; ``remember``: keep the
    prediction for the label to come."""
    entity_type = record.entity_type.value
    features = feature_extractor.extract(
        entity_type,
        fields,
        record.attributes,
        now=at,
        created_at=record.created_at,
        engagement=_stored_engagement(key),
    )
    score = _scorers.current(config).score_one(features)
    anomaly = _anomalies.score_then_learn(entity_type, features) if judge_numbers else None
    if remember:
        audited = outcome_validation[config.name].segments
        memory = PredictionMemory(
            features,
            score.probability,
            at,
            score.version,
            score.challenger_probability,
            segment_values(record_values(fields, record.attributes), audited),
        )
        predictions_table[key] = orjson.dumps(memory.to_dict())
    return ScoreEvent(
        entity_type=record.entity_type,
        entity_id=record.entity_id,
        event_id=event_id,
        score=_model_score(score, config, anomaly, features_at=at, scored_at=now),
    )


def _stored_engagement(key: bytes) -> Engagement | None:
    stored = engagement_table.get(key)
    return None if stored is None else Engagement.from_dict(orjson.loads(stored))


def _standardized_values(previous: RecordState | None) -> dict[str, object] | None:
    """The record before the change as label rules compare it: standardized, as the new one."""
    if previous is None or previous.deleted:
        return None
    return record_values(_standardized_fields(previous), previous.attributes)


def _standardized_fields(record: RecordState) -> dict[str, Any]:
    """A stored record's fields standardized, as its enriched record shows them."""
    return standardize_fields(
        record.entity_type,
        record.fields,
        default_region=standardize_options.default_phone_region,
        date_order=standardize_options.date_order,
    ).fields


def _model_score(
    score: Score,
    config: ScorerConfig,
    anomaly: AnomalyScore | None,
    *,
    features_at: datetime,
    scored_at: datetime,
) -> ModelScore:
    def factors(chosen: tuple[Any, ...]) -> list[ScoreFactor]:
        return [
            ScoreFactor(feature=f.feature, value=f.value, contribution=f.contribution)
            for f in chosen
        ]

    return ModelScore(
        model=score.model,
        model_version=score.version,
        model_ready=score.model_ready,
        labels=score.labels,
        probability=score.probability,
        score=score.score,
        tier=score.tier,
        churn_risk=score.probability if config.entity_type == "account" else None,
        positive_factors=factors(score.positive),
        negative_factors=factors(score.negative),
        challenger_probability=score.challenger_probability,
        anomaly_score=None if anomaly is None else anomaly.score,
        is_outlier=None if anomaly is None else anomaly.is_outlier,
        features_at=features_at,
        scored_at=scored_at,
    )


async def _send_scoring(scoring: Scoring) -> None:
    event = scoring.event
    await scores_topic.send(key=event.record_key(), value=event.to_json())
    record_score(event.score.model, event.entity_type.value, event.score.score)
    if event.score.is_outlier:
        record_outlier(event.entity_type.value)
    if scoring.example is not None:
        model = scoring.example.model
        app.hand_over(model_learning_topic, model.encode(), _json(scoring.example))
        record_training_example(model)


_outcome_configs = {config.name: config for config in outcome_models.values()}
_learners: dict[str, OutcomeLearner] = {}
_promotion = PromotionPolicy(
    recent_window=settings.model_recent_window,
    trial_labels=settings.model_trial_labels,
    enabled=settings.model_promote_on_drift,
)
start_drift_alerts(_outcome_configs)
start_model_decisions(_outcome_configs)


def _learner(model: str) -> OutcomeLearner:
    """The model's learner, restored from the global table at first use, and again when a
    newer checkpoint is there (another worker held the learning partition meanwhile)."""
    config = _outcome_configs.get(model)
    if config is None:
        raise ValueError(f"no outcome model {model!r}; the models are {sorted(_outcome_configs)}")
    learner = _learners.get(model)
    stored = outcome_models_table.get(model.encode())
    stored_version = 0 if stored is None else int(ModelCheckpoint.header(stored)["version"])
    if learner is None or stored_version > learner.version:
        checkpoint = None if stored is None else ModelCheckpoint.from_bytes(stored)
        learner = _learners[model] = OutcomeLearner(
            config,
            checkpoint,
            every_labels=settings.model_checkpoint_labels,
            every_seconds=settings.model_checkpoint_seconds,
            now=time.monotonic(),
            policy=_promotion,
            validation=outcome_validation[model],
        )
    return learner


def _obey(data: bytes) -> OutcomeLearner:
    """An operator's promote or rollback (``crmstream models``), decided at its request time
    so that a replay decides alike; the checkpoint that follows records the decision."""
    command, checkpoint = ModelCommand.from_bytes(data)
    learner = _learner(command.model)
    if checkpoint is None:
        learner.promote(command.requested_at)
    else:
        learner.rollback(checkpoint, command.requested_at)
    return learner


@app.agent(model_learning_topic)
async def learn_outcomes(stream: faust.StreamT[bytes]) -> None:
    """The one learner of the outcome models (its topic has one partition): learn each label,
    publish the drift alerts it raised on ``crm.alerts``, obey operators' commands,
    checkpoint every N labels or T seconds and after each decision, to the global table and
    ``crm.models``."""
    await app.process_each(stream, _learn_outcome, on_failure=_park_failure)


async def _learn_outcome(delivery: Delivery) -> None:
    alerts: list[AlertEvent] = []
    if delivery.key == TICK_KEY:
        due = [_learner(model) for model in list(_learners)]
    elif delivery.key == COMMAND_KEY:
        due = [_obey(_value(delivery))]
    else:
        example = TrainingExample.model_validate_json(_value(delivery))
        learner = _learner(example.model)
        repeats = learner.repeats_passed_over
        raised = learner.learn(example)
        if learner.repeats_passed_over > repeats:
            record_label_repeated(example.model)
        alerts = [alert_event(alert, example, datetime.now(UTC)) for alert in raised]
        record_model_error(example.model, learner.concept_drift.error_rate)
        due = [learner]
    for alert in alerts:
        await alerts_topic.send(key=alert.record_key(), value=alert.to_json())
        record_drift_alert(alert.model, alert.kind)
        app.log.warning("drift alert: %s", alert.model_dump_json())
    now = time.monotonic()
    for learner in due:
        if learner.due(now):
            await _write_checkpoint(learner.checkpoint(datetime.now(UTC), now))


async def _write_checkpoint(checkpoint: ModelCheckpoint) -> None:
    data = checkpoint.to_bytes()
    outcome_models_table[checkpoint.model.encode()] = data
    history_key = f"{checkpoint.model}:{checkpoint.version}".encode()
    await models_topic.send(key=history_key, value=data)
    record_model_checkpoint(checkpoint.model)
    if checkpoint.decision is not None:
        record_model_decision(checkpoint.model, checkpoint.decision["action"])
        app.log.warning(
            "model decision, checkpoint %s version %d: %s",
            checkpoint.model,
            checkpoint.version,
            orjson.dumps(checkpoint.decision).decode(),
        )
    app.log.info(
        "checkpoint %s version %d after %d labels",
        checkpoint.model,
        checkpoint.version,
        checkpoint.labels,
    )


async def tick_outcome_learner() -> None:
    """Lets the learner checkpoint the labels of a quiet period (tables are written in the
    agent's stream only, so the clock reaches it as a message)."""
    await model_learning_topic.send(key=TICK_KEY, value=b"{}")


app.timer(interval=settings.model_checkpoint_seconds)(tick_outcome_learner)
