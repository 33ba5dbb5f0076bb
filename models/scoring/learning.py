"""Learning the outcome models in one place: training examples, the learner, checkpoints.

Every worker scores with the model of the last checkpoint; one learner (the stream gives the
learning topic one partition) learns each label joined with the features scored before it,
judges the prediction first (progressive validation), watches for drift (the error of the
prediction-time probability, and the features scored before each outcome), and writes a
versioned checkpoint every N labels or T seconds, drift monitors included. Pure code: the
stream supplies the clock, stores the bytes and publishes the alerts.
"""

from __future__ import annotations

import logging
import pickle
import zlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal

import orjson
from pydantic import AwareDatetime, BaseModel

from models.drift import DriftAlert, FeatureDriftMonitor, ModelErrorMonitor, brier
from models.scoring.scorer import OutcomeScorer, ScorerConfig
from models.scoring.validation import ProgressiveValidation
from schemas.alerts import AlertEvent

__all__ = [
    "CHECKPOINT_FORMAT",
    "ModelCheckpoint",
    "OutcomeLearner",
    "TrainingExample",
    "alert_event",
    "restored_scorer",
    "untrained",
]

_CHECKPOINT_MAGIC: Final = b"crmstream-checkpoint"
CHECKPOINT_FORMAT: Final = 2
"""Layout of a checkpoint's bytes, in its header as ``format``: 1 (no such field) is the
scorer and validation; 2 adds the drift monitors. Older layouts load; newer ones raise."""

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

    def to_bytes(self) -> bytes:
        parts = [
            zlib.compress(part)
            for part in (self.scorer, self.validation, self.concept_drift, self.data_drift)
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
        parts, start = [], data.index(b"\n") + 1
        for name in names:
            end = start + int(header[name])
            parts.append(zlib.decompress(data[start:end]))
            start = end
        parts += [b""] * (4 - len(parts))
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
        )


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


class OutcomeLearner:
    """The live state of one outcome model at its one learner: the scorer, its progressive
    validation, its drift monitors, and what changed since the last checkpoint.

    Drift is watched on what the learner alone sees whole, in label order: concept drift
    (:class:`~models.drift.ModelErrorMonitor`) on the Brier score of the probability given
    *at prediction time*, not of the model after learning; Brier rather than 0/1 error,
    because a model of a rare outcome rarely crosses 0.5 and its 0/1 error is mostly the
    base rate. Data drift (:class:`~models.drift.FeatureDriftMonitor`) on the features
    scored before each outcome, the inputs the model learns from.
    """

    def __init__(
        self,
        config: ScorerConfig,
        checkpoint: ModelCheckpoint | None,
        *,
        every_labels: int,
        every_seconds: float,
        now: float,
    ) -> None:
        self.config = config
        if checkpoint is None:
            self.scorer = untrained(config)
            self.validation = ProgressiveValidation()
        else:
            self.scorer = restored_scorer(config, checkpoint)
            # Written by this service's own learner, never by users (see ModelCheckpoint).
            self.validation = pickle.loads(checkpoint.validation)  # noqa: S301
        self.concept_drift = _concept_monitor(config.name, checkpoint)
        self.data_drift = _data_monitor(checkpoint)
        self.every_labels = every_labels
        self.every_seconds = every_seconds
        self.version = self.scorer.version
        self.pending = 0
        self.checkpointed_at = now

    def learn(self, example: TrainingExample) -> list[DriftAlert]:
        """Judge the prediction made before the label, watch for drift, then learn from it;
        the drift alerts this label raised (usually none)."""
        self.validation.update(example.label, example.probability, example.segments)
        alerts = self.data_drift.update(example.features)
        concept = self.concept_drift.update(brier(bool(example.label), example.probability))
        if concept is not None:
            alerts.append(concept)
        self.scorer.learn_one(dict(example.features), example.label)
        self.pending += 1
        return alerts

    def due(self, now: float) -> bool:
        """Whether a checkpoint is due at ``now`` (a monotonic clock reading)."""
        if self.pending >= self.every_labels:
            return True
        return self.pending > 0 and now - self.checkpointed_at >= self.every_seconds

    def checkpoint(self, written_at: datetime, now: float) -> ModelCheckpoint:
        self.version += 1
        self.scorer.version = self.version
        self.pending = 0
        self.checkpointed_at = now
        report = self.validation.report()
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
            },
            scorer=self.scorer.to_bytes(),
            validation=pickle.dumps(self.validation, protocol=pickle.HIGHEST_PROTOCOL),
            concept_drift=self.concept_drift.to_bytes(),
            data_drift=self.data_drift.to_bytes(),
        )
