"""A duplicate decision that learns from people confirming or rejecting pairs.

The rule in :mod:`~models.matching.matcher` was tuned on generated data; a real CRM has its
own blind spots (relatives sharing a surname, a phone and an address; a reseller entering
its customers under its own email domain). Reviewers see those as wrong merges, and their
verdicts are the only ground truth the stream ever gets, so this model learns from them one
label at a time.

It starts *as* the rule, so switching it on changes nothing until someone gives feedback: a
logistic regression over each field's share of the rule score (:func:`pair_features`, whose
values add up to ``MatchResult.score``), every weight ``steepness`` and the intercept
``-steepness * duplicate_threshold``, i.e. ``p = sigmoid(steepness * (score - threshold))``.
Labels then move the weights of the fields that misled it, and the review band, wide while
the model only knows the rule, narrows as evidence accumulates (:meth:`review_probability`).

Pure code (no Kafka): the stream keeps :meth:`LearnedMatcher.to_state` in a table.

>>> learned = LearnedMatcher(DuplicateMatcher())
>>> relatives = {"first_name": 0.0, "last_name": 1.0, "phone": 1.0, "street": 1.0,
...              "postal_code": 1.0, "city": 1.0}
>>> learned.decide(relatives)[1]
<Decision.DUPLICATE: 'duplicate'>
>>> for _ in range(150):
...     learned.learn(relatives, is_duplicate=False, decision_at_time=Decision.DUPLICATE)
>>> learned.decide(relatives)[1], learned.precision, learned.feedback_count
(<Decision.DISTINCT: 'distinct'>, 0.0, 150)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Final

from river import linear_model, optim, utils

from models.matching.matcher import Decision, DuplicateMatcher

__all__ = ["STATE_VERSION", "LearnedMatcher", "pair_features"]

STATE_VERSION: Final = 1
"""Bumped when :meth:`LearnedMatcher.to_state` changes shape, so old states are refused."""

_OUTCOMES: Final = ("confirmed", "rejected")


def pair_features(matcher: DuplicateMatcher, similarities: Mapping[str, float]) -> dict[str, float]:
    """Each weighted field's contribution to the rule score (they sum to the score).

    Contributions rather than raw similarities, so that a weight of ``steepness`` on every
    feature *is* the rule and learning measures how far each field deserves to move away from
    its hand-set weight. The rule's denominator stays in: a field present but dissimilar (two
    different first names) still dilutes the others, as it does in the rule.

    >>> features = pair_features(DuplicateMatcher(), {"email": 1.0, "phone": 0.8, "nickname": 1.0})
    >>> {name: round(value, 3) for name, value in features.items()}  # 2/3.5 and 1.5*0.8/3.5
    {'email': 0.571, 'phone': 0.343}
    """
    weights = {name: matcher.weights.get(name, 0.0) for name in similarities}
    present = {name: weight for name, weight in weights.items() if weight > 0.0}
    if not present:
        return {}
    total = max(sum(present.values()), matcher.min_weight)
    return {name: weight * similarities[name] / total for name, weight in present.items()}


def _rule_score(matcher: DuplicateMatcher, similarities: Mapping[str, float]) -> float:
    """The score exactly as ``DuplicateMatcher.score_profiles`` computes it (same order of
    operations), so that an untrained model can repeat the rule's decision bit for bit."""
    present = {n: v for n, v in similarities.items() if matcher.weights.get(n, 0.0) > 0.0}
    if not present:
        return 0.0
    total = sum(matcher.weights[name] for name in present)
    weighted = sum(matcher.weights[name] * value for name, value in present.items())
    return weighted / max(total, matcher.min_weight)


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z)) if z >= 0.0 else math.exp(z) / (1.0 + math.exp(z))


class LearnedMatcher:
    """The duplicate decision of a :class:`DuplicateMatcher`, corrected by human feedback.

    Parameters
    ----------
    matcher
        The rule: its weights, thresholds and ``min_weight`` define the features and the
        starting point.
    steepness
        The logit per unit of rule score. 20 makes a pair at the review threshold of the
        default rule a 5% duplicate and a perfect pair a 98% one: confident enough that a few
        labels cannot flip a clear case, not so confident that hundreds cannot.
    learning_rate
        Plain SGD step for the field weights. Features are at most ~0.7 and weights start at
        ``steepness``, so 0.1 moves a pair's logit by a few hundredths per label: one
        mislabelled pair is noise, while a hundred consistent verdicts about a kind of pair
        move it by about one unit, which is what separates "duplicate" from "review".
    intercept_lr
        SGD step for the intercept, smaller than ``learning_rate``: the intercept shifts
        every pair at once, and feedback is skewed (reviewers mostly report wrong merges),
        so a fast intercept would raise the bar for everything instead of learning which
        fields mislead.
    band_half_life
        Labels after which the review band has closed half-way to 0.5 (see
        :meth:`review_probability`). 200: about when the weights have moved by a logit unit
        for the kinds of pairs people label, and when the precision they measure is known to
        within about ±5 points, i.e. when the model's probabilities start to deserve trust.

    SGD because it has no state beyond the weights (a Kafka table holds it as a small JSON
    document) and its constant step keeps adapting to a CRM whose data changes; no L2, as
    River's shrinks weights towards 0, i.e. towards "nothing is a duplicate", not towards
    the rule; staying near the rule comes from the small steps instead.
    """

    def __init__(
        self,
        matcher: DuplicateMatcher,
        *,
        steepness: float = 20.0,
        learning_rate: float = 0.1,
        intercept_lr: float = 0.02,
        band_half_life: float = 200.0,
    ) -> None:
        if steepness <= 0.0 or band_half_life <= 0.0:
            raise ValueError("steepness and band_half_life must be positive")
        self.matcher = matcher
        self.steepness = steepness
        self.learning_rate = learning_rate
        self.intercept_lr = intercept_lr
        self.band_half_life = band_half_life
        self.review_floor = _sigmoid(
            steepness * (matcher.review_threshold - matcher.duplicate_threshold)
        )
        """p_review before any feedback: where the rule's review threshold falls."""
        self._model = linear_model.LogisticRegression(
            optimizer=optim.SGD(learning_rate),
            l2=0.0,
            intercept_init=-steepness * matcher.duplicate_threshold,
            intercept_lr=intercept_lr,
            # A field the matcher weighs later starts at the rule's weight, as all did.
            initializer=optim.initializers.Constant(steepness),
        )
        self._set_weights({})
        self._counts = {decision: dict.fromkeys(_OUTCOMES, 0) for decision in Decision}

    def _set_weights(self, weights: Mapping[str, float]) -> None:
        """Every weighted field gets a weight up front: River's dot product reads a missing
        weight as 0, which would make a field count for nothing until its first label."""
        fields = [name for name, weight in self.matcher.weights.items() if weight > 0.0]
        full = {name: float(weights.get(name, self.steepness)) for name in fields}
        full.update({name: float(value) for name, value in weights.items()})
        self._model._weights = utils.VectorDict(full)

    @property
    def feedback_count(self) -> int:
        """Labels learned from so far."""
        return sum(sum(outcomes.values()) for outcomes in self._counts.values())

    @property
    def precision(self) -> float | None:
        """Share of labelled ``duplicate`` decisions that people confirmed (None before any):
        the number that says whether automatic merging can be trusted."""
        confirmed, rejected = self.feedback(Decision.DUPLICATE)
        return confirmed / (confirmed + rejected) if confirmed + rejected else None

    def feedback(self, decision: Decision) -> tuple[int, int]:
        """(confirmed, rejected) labels on pairs that were decided ``decision``."""
        counts = self._counts[Decision(decision)]
        return counts["confirmed"], counts["rejected"]

    @property
    def weights(self) -> dict[str, float]:
        """Field -> current weight (``steepness`` means "as the rule")."""
        return {str(name): float(value) for name, value in self._model.weights.items()}

    @property
    def intercept(self) -> float:
        return float(self._model.intercept)

    def review_probability(self) -> float:
        """The least probability of a ``possible`` pair.

        The band below 0.5 exists because the rule is unsure there; it shrinks as labels
        arrive, because a model corrected by people has earned probabilities that mean what
        they say, and reviewers' time goes to the pairs it is still unsure about.
        """
        n = self.feedback_count
        floor = self.review_floor
        return min(floor + (0.5 - floor) * n / (n + self.band_half_life), 0.5)

    def probability(self, similarities: Mapping[str, float]) -> float:
        """The probability that a pair with these field similarities is one entity."""
        x = pair_features(self.matcher, similarities)
        proba = self._model.predict_proba_one(x)  # type: ignore[no-untyped-call]  # River's isn't
        return float(proba[True])

    def decide(self, similarities: Mapping[str, float]) -> tuple[float, Decision]:
        """The probability and the decision for a pair.

        Until the first label the decision is the rule's own, computed with the rule's
        arithmetic: the model's logit equals ``steepness * (score - threshold)`` only up to
        rounding, and a pair exactly at a threshold must not change side when the model is
        switched on. (There, the probability may read 0.4999999 for a ``duplicate``.)
        """
        p = self.probability(similarities)
        if self.feedback_count == 0:
            return p, self.matcher.decide(_rule_score(self.matcher, similarities))
        if p >= 0.5:
            return p, Decision.DUPLICATE
        if p >= self.review_probability():
            return p, Decision.POSSIBLE
        return p, Decision.DISTINCT

    def learn(
        self, similarities: Mapping[str, float], is_duplicate: bool, *, decision_at_time: Decision
    ) -> None:
        """Learn from one verdict on a pair.

        ``decision_at_time`` is what the stream did with the pair when it was scored (not what
        the model would decide now): precision is about the merges that happened.
        """
        x = pair_features(self.matcher, similarities)
        self._model.learn_one(x, bool(is_duplicate))
        outcome = "confirmed" if is_duplicate else "rejected"
        self._counts[Decision(decision_at_time)][outcome] += 1

    def to_state(self) -> dict[str, Any]:
        """A JSON-serialisable snapshot: everything :meth:`from_state` needs to carry on.

        The hyperparameters and the review floor travel with the weights: they were learned
        together, and a state must decide the same after a restart even if defaults change.
        """
        return {
            "version": STATE_VERSION,
            "weights": self.weights,
            "intercept": self.intercept,
            "steps": int(self._model.optimizer.n_iterations),
            "counts": {str(d): dict(outcomes) for d, outcomes in self._counts.items()},
            "steepness": self.steepness,
            "learning_rate": self.learning_rate,
            "intercept_lr": self.intercept_lr,
            "band_half_life": self.band_half_life,
            "review_floor": self.review_floor,
        }

    @classmethod
    def from_state(cls, matcher: DuplicateMatcher, state: Mapping[str, Any]) -> LearnedMatcher:
        """The model :meth:`to_state` saved, over ``matcher`` (fields it weighs that the state
        lacks start at the rule's weight)."""
        if state.get("version") != STATE_VERSION:
            raise ValueError(f"unsupported learned matcher state version {state.get('version')}")
        learned = cls(
            matcher,
            steepness=float(state["steepness"]),
            learning_rate=float(state["learning_rate"]),
            intercept_lr=float(state["intercept_lr"]),
            band_half_life=float(state["band_half_life"]),
        )
        learned.review_floor = float(state["review_floor"])
        learned._set_weights(state["weights"])
        learned._model.intercept = float(state["intercept"])
        learned._model.optimizer.n_iterations = int(state["steps"])
        for decision, outcomes in state["counts"].items():
            for outcome in _OUTCOMES:
                learned._counts[Decision(decision)][outcome] = int(outcomes[outcome])
        return learned
