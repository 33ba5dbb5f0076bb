"""Replacing an outcome model: a challenger trained on the recent window after concept drift,
and the operator's promote and rollback; every decision recorded.

When the error of a model's predictions rises (concept drift, :class:`~models.drift.
ModelErrorMonitor`), the world the champion learned is partly gone. It keeps learning, but a
model that has seen thousands of labels of the old world moves slowly. So the learner trains a
fresh candidate on the labels since ADWIN's cut (the *recent window*, kept by
:class:`RecentWindow`) and runs a :class:`PromotionTrial`: on each of the next
``trial_labels`` labels both the champion and the candidate predict before learning it, and
their log losses are summed. At the end the candidate replaces the champion when its log loss
is lower by at least ``margin`` (relative) and it has learned ``min_labels``, so that the
promoted model is ready; otherwise the champion stays. Either way the decision is a
:class:`ModelDecision`, written in the header of the checkpoint that follows it.

Judging both on labels neither has learned, at the same moment, is what makes the comparison
fair; the prediction-time probability (from an older checkpoint) would favour the newer model.
Log loss, not AUC: a few hundred labels of a rare outcome give a noisy AUC, and a proper
scoring rule also rewards calibration, which is what the score shows.

Pure code: the learner (:mod:`models.scoring.learning`) calls it and owns the versions.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Literal

from models.scoring.features import Features
from models.scoring.scorer import OutcomeScorer, ScorerConfig

__all__ = [
    "ModelDecision",
    "PromotionPolicy",
    "PromotionTrial",
    "RecentWindow",
    "train_candidate",
]

Action = Literal["promoted", "kept", "rolled_back", "refused"]
Reason = Literal["concept_drift", "operator"]


@dataclass(frozen=True, slots=True)
class PromotionPolicy:
    """How drift leads to a new champion.

    ``recent_window``: labels kept for training a candidate (at most; the candidate takes
    those since ADWIN's cut, and at least ``min_training`` of them). ``trial_labels``: labels
    both are judged on before the decision. ``margin``: relative log-loss improvement the
    candidate must show (0.02: 2% lower), so that two equal models do not swap on noise.
    ``enabled``: false keeps the champion whatever drift says (operators can still promote).
    """

    recent_window: int = 1000
    min_training: int = 100
    trial_labels: int = 300
    margin: float = 0.02
    enabled: bool = True

    def __post_init__(self) -> None:
        if not 1 <= self.min_training <= self.recent_window:
            raise ValueError("min_training must be within 1..recent_window")
        if self.trial_labels < 1 or not 0.0 <= self.margin < 1.0:
            raise ValueError("trial_labels must be >= 1 and margin within [0, 1)")


@dataclass(frozen=True, slots=True)
class ModelDecision:
    """One change (or non-change) of a model's champion, as a checkpoint header records it.

    ``from_version`` is the champion's version when the decision was taken; the checkpoint
    carrying the decision has the next one. ``rolled_back_to`` names the version whose state
    a rollback restored. Log losses are the trial's means (``None`` without a trial).
    """

    action: Action
    reason: Reason
    from_version: int
    decided_at: datetime
    detail: str
    trial_labels: int = 0
    champion_log_loss: float | None = None
    candidate_log_loss: float | None = None
    candidate_labels: int = 0
    rolled_back_to: int | None = None

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["decided_at"] = self.decided_at.isoformat()
        return out


class RecentWindow:
    """The latest labelled examples (features kept at prediction time, label), oldest first."""

    def __init__(self, size: int) -> None:
        self.examples: deque[tuple[Features, int]] = deque(maxlen=size)

    def add(self, features: Features, label: int) -> None:
        self.examples.append((features, label))

    def latest(self, count: int) -> list[tuple[Features, int]]:
        count = min(count, len(self.examples))
        return list(self.examples)[len(self.examples) - count :]

    def __len__(self) -> int:
        return len(self.examples)


def train_candidate(
    config: ScorerConfig, examples: Iterable[tuple[Features, int]]
) -> OutcomeScorer:
    """A fresh scorer (champion, challenger, calibration) that learned ``examples`` in order."""
    candidate = OutcomeScorer(config)
    for features, label in examples:
        candidate.learn_one(features, label)
    return candidate


def _log_loss(label: int, probability: float) -> float:
    p = min(max(probability, 1e-15), 1.0 - 1e-15)
    return -math.log(p if label else 1.0 - p)


class PromotionTrial:
    """A candidate judged beside the champion on the labels that follow its training."""

    def __init__(
        self, candidate: OutcomeScorer, *, champion_version: int, reason: Reason, trained_on: int
    ) -> None:
        self.candidate = candidate
        self.champion_version = champion_version
        self.reason: Reason = reason
        self.trained_on = trained_on
        self.labels = 0
        self.champion_loss = 0.0
        self.candidate_loss = 0.0

    def judge(self, champion: OutcomeScorer, features: Features, label: int) -> None:
        """Both predict this label before either learns it; then the candidate learns it (the
        champion learns it in the learner, as always)."""
        self.champion_loss += _log_loss(label, champion.score_one(features).probability)
        self.candidate_loss += _log_loss(label, self.candidate.score_one(features).probability)
        self.candidate.learn_one(features, label)
        self.labels += 1

    def decide(
        self, policy: PromotionPolicy, *, champion_version: int, decided_at: datetime
    ) -> ModelDecision:
        """Promote the candidate, or keep the champion, on the trial so far."""
        champion = self.champion_loss / self.labels if self.labels else None
        candidate = self.candidate_loss / self.labels if self.labels else None
        improved = (
            champion is not None
            and candidate is not None
            and candidate < champion * (1.0 - policy.margin)
        )
        action: Action = "kept"
        if not self.candidate.model_ready:
            detail = (
                f"candidate learned {self.candidate.labels} labels, fewer than "
                f"min_labels {self.candidate.config.min_labels}"
            )
        elif improved:
            action = "promoted"
            detail = f"candidate log loss {candidate:.4f} < champion {champion:.4f}"
        else:
            detail = (
                f"candidate log loss {candidate:.4f} not {policy.margin:.0%} "
                f"below the champion's {champion:.4f}"
            )
        return ModelDecision(
            action=action,
            reason=self.reason,
            from_version=champion_version,
            decided_at=decided_at,
            detail=detail,
            trial_labels=self.labels,
            champion_log_loss=champion,
            candidate_log_loss=candidate,
            candidate_labels=self.candidate.labels,
        )
