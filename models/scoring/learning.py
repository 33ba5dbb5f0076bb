"""Learning the outcome models in one place: training examples, the learner, checkpoints.

Every worker scores with the model of the last checkpoint; one learner (the stream gives the
learning topic one partition) learns each label joined with the features scored before it,
judges the prediction first (progressive validation), watches for drift (the error of the
prediction-time probability, and the features scored before each outcome), on concept drift
trials a challenger trained on the recent window (:mod:`models.scoring.promotion`), takes the
operator's promote and rollback (:class:`ModelCommand`), and writes a versioned checkpoint
every N labels or T seconds and after every decision, all of that state included. Pure code:
the stream supplies the clock, stores the bytes and publishes the alerts.
"""

from __future__ import annotations

import logging
import pickle
import zlib
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal

import orjson
from pydantic import AwareDatetime, BaseModel, Field

from models.drift import DriftAlert, FeatureDriftMonitor, ModelErrorMonitor, brier
from models.scoring.promotion import (
    ModelDecision,
    PromotionPolicy,
    PromotionTrial,
    RecentWindow,
    train_candidate,
)
from models.scoring.scorer import OutcomeScorer, ScorerConfig
from models.scoring.validation import ProgressiveValidation, ValidationConfig
from schemas.alerts import AlertEvent

__all__ = [
    "CHECKPOINT_FORMAT",
    "COMMAND_KEY",
    "ModelCheckpoint",
    "ModelCommand",
    "OutcomeLearner",
    "TrainingExample",
    "alert_event",
    "restored_scorer",
    "untrained",
]

_CHECKPOINT_MAGIC: Final = b"crmstream-checkpoint"
CHECKPOINT_FORMAT: Final = 3
"""Layout of a checkpoint's bytes, in its header as ``format``: 1 (no such field) is the
scorer and validation; 2 adds the drift monitors; 3 the recent window and a running
promotion trial (and the header may carry a ``decision``). Older layouts load; newer ones
raise."""
LABELS_REMEMBERED: Final = 10_000
"""Label ids a learner remembers, to learn a label sent again once: a label comes again when
the worker that found it crashed before its commit, within seconds to a few minutes of the
first, and far fewer than this many labels come in between."""
COMMAND_KEY: Final = b"__command__"
"""Key of an operator's :class:`ModelCommand` on the learning topic."""

log = logging.getLogger(__name__)


class TrainingExample(BaseModel):
    """A label joined with the features scored before it, on its way to the one learner."""

    model: str
    label: Literal[0, 1]
    outcome: str
    features: dict[str, float | str]
    probability: float
    challenger_probability: float | None = None
    model_version: int
    segments: dict[str, str] = {}
    labelled_at: AwareDatetime
    label_id: str | None = Field(
        default=None,
        description="the record and the change that gave the label: the same label sent "
        "again (its change handed over again after a crash) is learned once",
    )


@dataclass(frozen=True, slots=True)
class ModelCheckpoint:
    """One outcome model's checkpoint: the value of the global table and of ``crm.models``.

    A JSON header line anyone can read with a console consumer (model, version, labels,
    metrics, layout ``format``), then the zlib-compressed scorer
    (:meth:`OutcomeScorer.to_bytes`), the pickled progressive validation and the drift
    monitors' states (their own versioned ``to_bytes``), so that a restored learner keeps
    judging and watching where it was. A checkpoint of format 1 has no monitors (``b""``).
    Only load checkpoints this service wrote: unpickling runs code.
    """

    model: str
    version: int
    labels: int
    positives: int
    model_ready: bool
    written_at: datetime
    metrics: dict[str, Any]
    scorer: bytes
    validation: bytes
    concept_drift: bytes = b""
    data_drift: bytes = b""
    promotion: bytes = b""
    decision: dict[str, Any] | None = None
    """The :class:`~models.scoring.promotion.ModelDecision` that led to this checkpoint."""

    def to_bytes(self) -> bytes:
        parts = [
            zlib.compress(part)
            for part in (
                self.scorer,
                self.validation,
                self.concept_drift,
                self.data_drift,
                self.promotion,
            )
        ]
        header = {
            "format": CHECKPOINT_FORMAT,
            "model": self.model,
            "version": self.version,
            "labels": self.labels,
            "positives": self.positives,
            "model_ready": self.model_ready,
            "written_at": self.written_at.isoformat(),
            "metrics": self.metrics,
            "scorer_bytes": len(parts[0]),
            "validation_bytes": len(parts[1]),
            "concept_drift_bytes": len(parts[2]),
            "data_drift_bytes": len(parts[3]),
            "promotion_bytes": len(parts[4]),
            "decision": self.decision,
        }
        return _CHECKPOINT_MAGIC + b" " + orjson.dumps(header) + b"\n" + b"".join(parts)

    @staticmethod
    def header(data: bytes) -> dict[str, Any]:
        """The JSON header alone (cheap: the model is not unpacked)."""
        end = data.index(b"\n")
        magic, _, header = data[:end].partition(b" ")
        if magic != _CHECKPOINT_MAGIC:
            raise ValueError("not a crmstream model checkpoint")
        parsed: dict[str, Any] = orjson.loads(header)
        return parsed

    @classmethod
    def from_bytes(cls, data: bytes) -> ModelCheckpoint:
        header = cls.header(data)
        layout = int(header.get("format", 1))
        if layout > CHECKPOINT_FORMAT:
            raise ValueError(f"checkpoint format {layout} is newer than this release reads")
        names = ["scorer_bytes", "validation_bytes"]
        if layout >= 2:
            names += ["concept_drift_bytes", "data_drift_bytes"]
        if layout >= 3:
            names.append("promotion_bytes")
        parts, start = [], data.index(b"\n") + 1
        for name in names:
            end = start + int(header[name])
            parts.append(zlib.decompress(data[start:end]))
            start = end
        parts += [b""] * (5 - len(parts))
        return cls(
            model=header["model"],
            version=int(header["version"]),
            labels=int(header["labels"]),
            positives=int(header["positives"]),
            model_ready=bool(header["model_ready"]),
            written_at=datetime.fromisoformat(header["written_at"]),
            metrics=header["metrics"],
            scorer=parts[0],
            validation=parts[1],
            concept_drift=parts[2],
            data_drift=parts[3],
            promotion=parts[4],
            decision=header.get("decision"),
        )


class ModelCommand(BaseModel):
    """An operator's order to a model's one learner, sent on the learning topic (key
    :data:`COMMAND_KEY`) by ``crmstream models promote|rollback``: in order with the labels,
    so it acts between two of them, and replayed like them after a crash.

    A rollback carries the whole checkpoint it restores (read from ``crm.models`` by the
    command), so it does not depend on that topic still holding it when the learner acts.
    """

    action: Literal["promote", "rollback"]
    model: str
    version: int | None = Field(default=None, description="rollback: the version restored")
    requested_at: AwareDatetime

    def to_bytes(self, checkpoint: bytes = b"") -> bytes:
        return self.model_dump_json().encode() + b"\n" + checkpoint

    @classmethod
    def from_bytes(cls, data: bytes) -> tuple[ModelCommand, ModelCheckpoint | None]:
        line, _, rest = data.partition(b"\n")
        command = cls.model_validate_json(line)
        if command.action == "promote":
            return command, None
        checkpoint = ModelCheckpoint.from_bytes(rest)
        if (checkpoint.model, checkpoint.version) != (command.model, command.version):
            raise ValueError(
                f"rollback to {command.model} version {command.version} carries "
                f"{checkpoint.model} version {checkpoint.version}"
            )
        return command, checkpoint


def alert_event(alert: DriftAlert, example: TrainingExample, raised_at: datetime) -> AlertEvent:
    """The alert ``example`` raised, as published on ``crm.alerts``: it names the model and
    the checkpoint version that scored the example."""
    return AlertEvent(
        **alert.to_dict(),
        model=example.model,
        model_version=example.model_version,
        raised_at=raised_at,
    )


def untrained(config: ScorerConfig) -> OutcomeScorer:
    scorer = OutcomeScorer(config)
    scorer.version = 0  # no checkpoint yet: versions count checkpoints from 1
    return scorer


def restored_scorer(config: ScorerConfig, checkpoint: ModelCheckpoint) -> OutcomeScorer:
    scorer = OutcomeScorer.from_bytes(checkpoint.scorer)
    scorer.config = config  # readiness and cuts are this deployment's settings
    scorer.version = checkpoint.version
    return scorer


def _concept_monitor(model: str, checkpoint: ModelCheckpoint | None) -> ModelErrorMonitor:
    """The checkpoint's concept-drift monitor, or a fresh one when it has none (format 1) or
    River can no longer read it: one window of labels before the detector is sharp again."""
    if checkpoint is not None and checkpoint.concept_drift:
        try:
            return ModelErrorMonitor.from_bytes(checkpoint.concept_drift)
        except ValueError:
            log.warning("concept-drift state of %s unreadable: starting afresh", model)
    return ModelErrorMonitor(model)


def _data_monitor(checkpoint: ModelCheckpoint | None) -> FeatureDriftMonitor:
    if checkpoint is not None and checkpoint.data_drift:
        try:
            return FeatureDriftMonitor.from_bytes(checkpoint.data_drift)
        except ValueError:
            log.warning("data-drift state of %s unreadable: starting afresh", checkpoint.model)
    return FeatureDriftMonitor()


class LabelIds:
    """The ids of the latest labels learned, oldest first, at most :data:`LABELS_REMEMBERED`."""

    def __init__(self, ids: Iterable[str] = ()) -> None:
        self._order: deque[str] = deque(maxlen=LABELS_REMEMBERED)
        self._known: set[str] = set()
        for label_id in ids:
            self.add(label_id)

    def __contains__(self, label_id: object) -> bool:
        return label_id in self._known

    def add(self, label_id: str) -> None:
        if len(self._order) == self._order.maxlen:
            self._known.discard(self._order[0])
        self._order.append(label_id)
        self._known.add(label_id)

    def __iter__(self) -> Iterator[str]:
        return iter(self._order)


def _remembered_state(
    checkpoint: ModelCheckpoint | None, policy: PromotionPolicy
) -> tuple[RecentWindow, PromotionTrial | None, LabelIds]:
    """The checkpoint's recent window (resized to this deployment's policy), running trial
    and label ids; empty, none and none for a checkpoint before format 3. They travel in the
    checkpoint's ``promotion`` part (the ids since they were added, as ``learned``)."""
    recent = RecentWindow(policy.recent_window)
    if checkpoint is None or not checkpoint.promotion:
        return recent, None, LabelIds()
    # Written by this service's own learner, never by users (see ModelCheckpoint).
    state = pickle.loads(checkpoint.promotion)  # noqa: S301
    for features, label in state["recent"]:
        recent.add(features, label)
    trial: PromotionTrial | None = state["trial"]
    return recent, trial, LabelIds(state.get("learned", ()))


class OutcomeLearner:
    """The live state of one outcome model at its one learner: the scorer, its progressive
    validation, its drift monitors, the recent window and a promotion trial, and what changed
    since the last checkpoint.

    Drift is watched on what the learner alone sees whole, in label order: concept drift
    (:class:`~models.drift.ModelErrorMonitor`) on the Brier score of the probability given
    *at prediction time*, not of the model after learning; Brier rather than 0/1 error,
    because a model of a rare outcome rarely crosses 0.5 and its 0/1 error is mostly the
    base rate. Data drift (:class:`~models.drift.FeatureDriftMonitor`) on the features
    scored before each outcome, the inputs the model learns from.

    Every change of champion (promotion, rollback) restarts the concept-drift monitor: the
    new model's error is a new reference. Progressive validation goes on: it judges whatever
    scored. A checkpoint's ``labels`` are those its scorer learned, so they drop when a
    candidate trained on the recent window is promoted.
    """

    def __init__(
        self,
        config: ScorerConfig,
        checkpoint: ModelCheckpoint | None,
        *,
        every_labels: int,
        every_seconds: float,
        now: float,
        policy: PromotionPolicy | None = None,
        validation: ValidationConfig | None = None,
    ) -> None:
        self.config = config
        self.policy = policy or PromotionPolicy()
        validation = validation or ValidationConfig()
        if checkpoint is None:
            self.scorer = untrained(config)
            self.validation = ProgressiveValidation(validation)
        else:
            self.scorer = restored_scorer(config, checkpoint)
            # Written by this service's own learner, never by users (see ModelCheckpoint).
            self.validation = pickle.loads(checkpoint.validation)  # noqa: S301
            self.validation.audit(validation.segments)
        self.concept_drift = _concept_monitor(config.name, checkpoint)
        self.data_drift = _data_monitor(checkpoint)
        self.recent, self.trial, self.learned = _remembered_state(checkpoint, self.policy)
        if self.trial is not None:
            self.trial.candidate.config = config
        self.decision: ModelDecision | None = None
        """Taken since the last checkpoint, which records it (and is due at once)."""
        self.every_labels = every_labels
        self.every_seconds = every_seconds
        self.version = self.scorer.version
        self.repeats_passed_over = 0
        self.pending = 0
        self.checkpointed_at = now

    def learn(self, example: TrainingExample) -> list[DriftAlert]:
        """Judge the prediction made before the label, watch for drift, then learn from it
        (the champion, and a trial's candidate); the drift alerts this label raised (usually
        none). A concept-drift alert starts a trial; the label that ends it decides. A label
        learned already (the same ``label_id``) is passed over: at least once delivery sends
        a label again after a crash, and learning it twice would weigh it double and count
        it twice in the metrics."""
        if example.label_id is not None:
            if example.label_id in self.learned:
                self.repeats_passed_over += 1
                return []
            self.learned.add(example.label_id)
        label = example.label
        features = dict(example.features)
        self.validation.update(label, example.probability, example.segments)
        alerts = self.data_drift.update(features)
        concept = self.concept_drift.update(brier(bool(label), example.probability))
        if self.trial is not None:
            self.trial.judge(self.scorer, features, label)
        self.scorer.learn_one(features, label)
        self.recent.add(features, label)
        self.pending += 1
        if concept is not None:
            alerts.append(concept)
            self._start_trial(since_cut=concept.current_size)
        if self.trial is not None and self.trial.labels >= self.policy.trial_labels:
            decision = self.trial.decide(
                self.policy, champion_version=self.version, decided_at=example.labelled_at
            )
            if decision.action == "promoted":
                self._replace_champion(self.trial.candidate)
            self._record(decision)
        return alerts

    def _start_trial(self, since_cut: int) -> None:
        if not self.policy.enabled or self.trial is not None:
            return
        if len(self.recent) < self.policy.min_training:
            log.info("%s: too few recent labels to train a challenger", self.config.name)
            return
        window = self.recent.latest(max(since_cut, self.policy.min_training))
        self.trial = PromotionTrial(
            train_candidate(self.config, window),
            champion_version=self.version,
            reason="concept_drift",
            trained_on=len(window),
        )

    def _replace_champion(self, scorer: OutcomeScorer) -> None:
        scorer.config = self.config
        scorer.version = self.version
        self.scorer = scorer
        self.concept_drift = ModelErrorMonitor(self.config.name)

    def _record(self, decision: ModelDecision) -> None:
        self.trial = None
        self.decision = decision
        log.info("%s: %s (%s)", self.config.name, decision.action, decision.detail)

    def promote(self, decided_at: datetime) -> ModelDecision:
        """The operator's promote: the running trial's candidate now, whatever the trial says
        so far; without a trial, a candidate trained on the whole recent window. Refused (and
        recorded so) when the candidate has fewer than ``min_labels``: it would score with
        ``model_ready`` false."""
        trial = self.trial
        if trial is None and len(self.recent):
            trial = PromotionTrial(
                train_candidate(self.config, self.recent.latest(len(self.recent))),
                champion_version=self.version,
                reason="operator",
                trained_on=len(self.recent),
            )
        if trial is None or not trial.candidate.model_ready:
            learned = 0 if trial is None else trial.candidate.labels
            decision = ModelDecision(
                action="refused",
                reason="operator",
                from_version=self.version,
                decided_at=decided_at,
                detail=f"a challenger learned {learned} labels, fewer than min_labels "
                f"{self.config.min_labels}",
                candidate_labels=learned,
            )
        else:
            decision = ModelDecision(
                action="promoted",
                reason="operator",
                from_version=self.version,
                decided_at=decided_at,
                detail=f"promoted by an operator after {trial.labels} trial labels",
                trial_labels=trial.labels,
                champion_log_loss=trial.champion_loss / trial.labels if trial.labels else None,
                candidate_log_loss=trial.candidate_loss / trial.labels if trial.labels else None,
                candidate_labels=trial.candidate.labels,
            )
            self._replace_champion(trial.candidate)
        self._record(decision)
        return decision

    def rollback(self, checkpoint: ModelCheckpoint, decided_at: datetime) -> ModelDecision:
        """The operator's rollback: score and learn on from ``checkpoint``'s model (the next
        checkpoint gets a new version; versions never go back). A running trial ends."""
        if checkpoint.model != self.config.name:
            raise ValueError(f"a {checkpoint.model} checkpoint cannot roll back {self.config.name}")
        self._replace_champion(restored_scorer(self.config, checkpoint))
        decision = ModelDecision(
            action="rolled_back",
            reason="operator",
            from_version=self.version,
            decided_at=decided_at,
            detail=f"rolled back to version {checkpoint.version} ({checkpoint.labels} labels)",
            rolled_back_to=checkpoint.version,
        )
        self._record(decision)
        return decision

    def due(self, now: float) -> bool:
        """Whether a checkpoint is due at ``now`` (a monotonic clock reading)."""
        if self.decision is not None or self.pending >= self.every_labels:
            return True
        return self.pending > 0 and now - self.checkpointed_at >= self.every_seconds

    def checkpoint(self, written_at: datetime, now: float) -> ModelCheckpoint:
        self.version += 1
        self.scorer.version = self.version
        self.pending = 0
        self.checkpointed_at = now
        decision, self.decision = self.decision, None
        report = self.validation.report()
        promotion = {
            "recent": list(self.recent.examples),
            "trial": self.trial,
            "learned": list(self.learned),
        }
        return ModelCheckpoint(
            model=self.config.name,
            version=self.version,
            labels=self.scorer.labels,
            positives=self.scorer.positives,
            model_ready=self.scorer.model_ready,
            written_at=written_at,
            metrics={
                "overall": report["overall"],
                "rolling": report["rolling"],
                "expected_calibration_error": report["expected_calibration_error"],
                "disparity": report["disparity"],
                "segment_labels": {
                    name: {value: summary["count"] for value, summary in by_value.items()}
                    for name, by_value in report["segments"].items()
                },
            },
            scorer=self.scorer.to_bytes(),
            validation=pickle.dumps(self.validation, protocol=pickle.HIGHEST_PROTOCOL),
            concept_drift=self.concept_drift.to_bytes(),
            data_drift=self.data_drift.to_bytes(),
            promotion=pickle.dumps(promotion, protocol=pickle.HIGHEST_PROTOCOL),
            decision=None if decision is None else decision.to_dict(),
        )
