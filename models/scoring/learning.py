"""Learning the outcome models in one place: training examples, the learner, checkpoints.

Every worker scores with the model of the last checkpoint; one learner (the stream gives the
learning topic one partition) learns each label joined with the features scored before it,
judges the prediction first (progressive validation), and writes a versioned checkpoint every
N labels or T seconds. Pure code: the stream supplies the clock and stores the bytes.
"""

from __future__ import annotations

import pickle
import zlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal

import orjson
from pydantic import AwareDatetime, BaseModel

from models.scoring.scorer import OutcomeScorer, ScorerConfig
from models.scoring.validation import ProgressiveValidation

__all__ = [
    "ModelCheckpoint",
    "OutcomeLearner",
    "TrainingExample",
    "restored_scorer",
    "untrained",
]

_CHECKPOINT_MAGIC: Final = b"crmstream-checkpoint"


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
    metrics), then the zlib-compressed scorer (:meth:`OutcomeScorer.to_bytes`) and the
    pickled progressive validation, so that a restored learner keeps judging where it was.
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

    def to_bytes(self) -> bytes:
        scorer, validation = zlib.compress(self.scorer), zlib.compress(self.validation)
        header = {
            "model": self.model,
            "version": self.version,
            "labels": self.labels,
            "positives": self.positives,
            "model_ready": self.model_ready,
            "written_at": self.written_at.isoformat(),
            "metrics": self.metrics,
            "scorer_bytes": len(scorer),
            "validation_bytes": len(validation),
        }
        return _CHECKPOINT_MAGIC + b" " + orjson.dumps(header) + b"\n" + scorer + validation

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
        start = data.index(b"\n") + 1
        middle = start + int(header["scorer_bytes"])
        return cls(
            model=header["model"],
            version=int(header["version"]),
            labels=int(header["labels"]),
            positives=int(header["positives"]),
            model_ready=bool(header["model_ready"]),
            written_at=datetime.fromisoformat(header["written_at"]),
            metrics=header["metrics"],
            scorer=zlib.decompress(data[start:middle]),
            validation=zlib.decompress(data[middle : middle + int(header["validation_bytes"])]),
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


class OutcomeLearner:
    """The live state of one outcome model at its one learner: the scorer, its progressive
    validation, and what changed since the last checkpoint."""

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
        self.every_labels = every_labels
        self.every_seconds = every_seconds
        self.version = self.scorer.version
        self.pending = 0
        self.checkpointed_at = now

    def learn(self, example: TrainingExample) -> None:
        # Judge the prediction made before the label, then learn from it.
        self.validation.update(example.label, example.probability, example.segments)
        self.scorer.learn_one(dict(example.features), example.label)
        self.pending += 1

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
        )
