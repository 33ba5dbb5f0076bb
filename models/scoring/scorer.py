"""Online outcome models: lead score and churn risk, a shadow challenger, an anomaly score.

One class, :class:`OutcomeScorer`, serves every "will this record reach outcome X" question;
a :class:`ScorerConfig` says which (:data:`LEAD_SCORE`, :data:`CHURN_RISK`,
:data:`WIN_PROBABILITY`). Each holds:

* the **champion**, a River pipeline: numbers standardized, strings one-hot encoded with a
  cap (:class:`~models.scoring.features.CappedOneHotEncoder`), an L2-regularized logistic
  regression. Linear, so every score is explained exactly: a factor's contribution is its
  weight times its scaled value, in log-odds, and the contributions plus the intercept add
  up to the model's log-odds (:meth:`OutcomeScorer.explain_one`);
* a **challenger** (a Hoeffding adaptive tree on the same inputs) that learns from the same
  labels and is scored in shadow: its probability travels with each score, so progressive
  validation can compare the two and a promotion step (the drift work) can act on it;
* an online **calibration** (Platt scaling of the champion's log-odds, learned from the
  predictions made *before* each label): the probability sales ops read as a percentage
  should mean that percentage.

The calibrated probability becomes a 0-100 score and a tier A-D by configurable cuts.
Below ``min_labels`` labels the score carries ``model_ready: False``: a score exists, but
nobody should act on it yet.

:class:`AnomalyDetector` (River HalfSpaceTrees) scores how unusual a record's numbers are,
unsupervised, e.g. an opportunity amount far beyond the usual.

Checkpoints are :meth:`OutcomeScorer.to_bytes`: a header naming the kind and
:data:`FORMAT_VERSION`, then a pickle of the River objects (River models pickle cleanly).
Only load checkpoints this service wrote: unpickling runs code.

>>> scorer = OutcomeScorer(ScorerConfig(name="lead_score", entity_type="lead", min_labels=2))
>>> scorer.score_one({"lead_source": "referral"}).model_ready
False
>>> for _ in range(20):
...     scorer.learn_one({"lead_source": "referral", "employees": 5.0}, 1)
...     scorer.learn_one({"lead_source": "cold_call", "employees": 2.0}, 0)
>>> hot = scorer.score_one({"lead_source": "referral", "employees": 5.0})
>>> cold = scorer.score_one({"lead_source": "cold_call", "employees": 2.0})
>>> positive = {factor.feature for factor in hot.positive}
>>> hot.model_ready, hot.score > cold.score, "lead_source=referral" in positive
(True, True, True)
>>> OutcomeScorer.from_bytes(scorer.to_bytes()).score_one({"lead_source": "referral"}) == \\
...     scorer.score_one({"lead_source": "referral"})
True
"""

from __future__ import annotations

import math
import pickle
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, Final, Literal

from river import anomaly, compose, linear_model, optim, preprocessing, stats, tree

from models.scoring.features import CappedOneHotEncoder, Features
from schemas.change import EntityType

__all__ = [
    "CHURN_RISK",
    "FORMAT_VERSION",
    "LEAD_SCORE",
    "OUTCOME_MODELS",
    "TIERS",
    "WIN_PROBABILITY",
    "AnomalyDetector",
    "AnomalyScore",
    "CheckpointError",
    "Factor",
    "OutcomeScorer",
    "Score",
    "ScorerConfig",
    "tier_of",
]

FORMAT_VERSION: Final = 1
"""Bumped when the pickled state changes shape; older checkpoints are then refused."""
TIERS: Final = ("A", "B", "C", "D")


class CheckpointError(ValueError):
    """A checkpoint of another kind or format version, or not a checkpoint at all."""


@dataclass(frozen=True, slots=True)
class ScorerConfig:
    """One outcome model's settings.

    ``tier_cuts``: the lowest score of tiers A, B and C (descending); below the last is D.
    ``min_labels``: labels learned before ``model_ready``. ``learning_rate`` and ``l2``: the
    logistic regression's Adam step and ridge penalty. Adam, not plain SGD: one-hot
    categories are seen rarely and Adam's per-weight steps let them learn as fast as the
    dense numbers; ``python -m bench.models`` measured the lead model's progressive AUC gap to
    the batch baseline at 0.027 / 0.025 / 0.031 for three seeds, against 0.035 / 0.033 /
    0.037 with SGD at 0.02 (the best SGD rate tried). ``max_categories``: the one-hot cap
    per feature. ``top_factors``: factors reported each way. ``grace_period``: labels the
    challenger tree waits between split attempts. ``seed``: the challenger's randomness.
    """

    name: str
    entity_type: str
    tier_cuts: tuple[int, int, int] = (70, 45, 25)
    min_labels: int = 200
    learning_rate: float = 0.005
    l2: float = 1e-4
    max_categories: int = 30
    top_factors: int = 3
    calibrate: bool = True
    grace_period: int = 100
    seed: int = 7

    def __post_init__(self) -> None:
        a, b, c = self.tier_cuts
        if not 100 >= a > b > c >= 0:
            raise ValueError(f"tier_cuts must be descending within 0-100, got {self.tier_cuts}")
        if self.min_labels < 0 or self.top_factors < 0 or self.learning_rate <= 0:
            raise ValueError("min_labels and top_factors must be >= 0, learning_rate > 0")


LEAD_SCORE: Final = ScorerConfig(name="lead_score", entity_type=EntityType.LEAD.value)
CHURN_RISK: Final = ScorerConfig(name="churn_risk", entity_type=EntityType.ACCOUNT.value)
WIN_PROBABILITY: Final = ScorerConfig(
    name="win_probability", entity_type=EntityType.OPPORTUNITY.value
)
OUTCOME_MODELS: Final = (LEAD_SCORE, CHURN_RISK, WIN_PROBABILITY)
"""Every outcome model the service runs, one per entity type it scores."""


@dataclass(frozen=True, slots=True)
class Factor:
    """One input's push on a score: ``contribution`` in log-odds (weight * scaled value),
    ``value`` the input as the record has it (a category or the feature's number)."""

    feature: str
    value: float | str
    contribution: float


@dataclass(frozen=True, slots=True)
class Score:
    """A record's score as ``crm.scores`` carries it."""

    model: str
    version: int
    probability: float
    score: int
    tier: str
    model_ready: bool
    labels: int
    positive: tuple[Factor, ...]
    negative: tuple[Factor, ...]
    challenger_probability: float | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def tier_of(score: float, cuts: tuple[int, int, int]) -> str:
    """The tier of a 0-100 score: A at or above the first cut, ..., D below the last.

    >>> [tier_of(s, (70, 45, 25)) for s in (100, 70, 69, 45, 25, 24, 0)]
    ['A', 'A', 'B', 'B', 'C', 'D', 'D']
    """
    for tier, cut in zip(TIERS, cuts, strict=False):
        if score >= cut:
            return tier
    return TIERS[-1]


def _preprocessing(max_categories: int) -> Any:
    """Numbers standardized, strings one-hot encoded with a cap, side by side."""
    return compose.TransformerUnion(
        compose.SelectType(float, int) | preprocessing.StandardScaler(),
        compose.SelectType(str) | CappedOneHotEncoder(max_categories),
    )


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z)) if z >= 0.0 else math.exp(z) / (1.0 + math.exp(z))


def _logit(p: float) -> float:
    p = min(max(p, 1e-9), 1.0 - 1e-9)
    return math.log(p / (1.0 - p))


class OutcomeScorer:
    """Champion and challenger for one outcome, with calibration and explanations.

    The protocol the stream uses: :meth:`score_one` on every scoring of a record (keep its
    features in a :class:`~models.scoring.labels.PredictionMemory`), :meth:`learn_one` with
    those kept features when the label arrives. Plain attributes, picklable.

    Parameters
    ----------
    config
        Which outcome, tier cuts, readiness threshold and learning settings.
    """

    def __init__(self, config: ScorerConfig = LEAD_SCORE) -> None:
        self.config = config
        self.champion = _preprocessing(config.max_categories) | linear_model.LogisticRegression(
            optimizer=optim.Adam(config.learning_rate), l2=config.l2
        )
        self.challenger = _preprocessing(
            config.max_categories
        ) | tree.HoeffdingAdaptiveTreeClassifier(
            grace_period=config.grace_period, leaf_prediction="nb", seed=config.seed
        )
        # Starts as the identity (weight 1, intercept 0) and only then learns.
        self.calibrator = linear_model.LogisticRegression(
            optimizer=optim.SGD(0.005),
            intercept_lr=0.005,
            initializer=optim.initializers.Constant(1.0),
        )
        self.labels = 0
        self.positives = 0
        self.version = 1
        """Set by whoever owns the model's lifecycle (checkpoints, promotion)."""

    @property
    def model_ready(self) -> bool:
        """Enough labels to act on the score."""
        return self.labels >= self.config.min_labels

    @property
    def _regression(self) -> Any:
        return self.champion.steps["LogisticRegression"]

    def raw_probability(self, features: Features) -> float:
        """The champion's uncalibrated probability of the outcome."""
        return float(self.champion.predict_proba_one(features).get(True, 0.0))

    def calibrated(self, raw: float) -> float:
        """Platt-scaled probability; the raw one while the calibrator is not increasing (a
        calibration must never reorder records)."""
        if not self.config.calibrate:
            return raw
        slope = self.calibrator.weights.get("logit", 1.0)
        if slope <= 0.1:
            return raw
        return _sigmoid(slope * _logit(raw) + self.calibrator.intercept)

    def challenger_probability(self, features: Features) -> float | None:
        """The challenger's probability, ``None`` before it has learned anything."""
        proba = self.challenger.predict_proba_one(features)
        return float(proba.get(True, 0.0)) if proba else None

    def score_one(self, features: Features) -> Score:
        """Score one record's features (never learns)."""
        intercept, factors = self.explain_one(features)
        probability = self.calibrated(_sigmoid(intercept + sum(f.contribution for f in factors)))
        score = round(100.0 * probability)
        ranked = sorted(factors, key=lambda f: f.contribution)
        n = self.config.top_factors
        return Score(
            model=self.config.name,
            version=self.version,
            probability=probability,
            score=score,
            tier=tier_of(score, self.config.tier_cuts),
            model_ready=self.model_ready,
            labels=self.labels,
            positive=tuple(f for f in reversed(ranked[-n:] if n else []) if f.contribution > 0),
            negative=tuple(f for f in ranked[:n] if f.contribution < 0),
            challenger_probability=self.challenger_probability(features),
        )

    def explain_one(self, features: Features) -> tuple[float, list[Factor]]:
        """The intercept and every input's contribution (weight * scaled value), in log-odds;
        together they are the champion's log-odds, before calibration."""
        scaled = self.champion.transform_one(features)
        regression = self._regression
        weights: Mapping[str, float] = regression.weights
        factors = []
        for name, x in scaled.items():
            contribution = weights.get(name, 0.0) * x
            if contribution != 0.0:
                factors.append(Factor(name, _input_value(name, features), contribution))
        return float(regression.intercept), factors

    def learn_one(self, features: Features, label: int) -> None:
        """Learn one label with the features kept when the record was scored."""
        y = bool(label)
        if self.config.calibrate:
            # Calibrate on the prediction made before this label: an honest, out-of-sample
            # view of how the champion's log-odds map to outcomes.
            self.calibrator.learn_one({"logit": _logit(self.raw_probability(features))}, y)
        self.champion.learn_one(features, y)
        self.challenger.learn_one(features, y)
        self.labels += 1
        self.positives += int(y)

    def to_bytes(self) -> bytes:
        """A checkpoint: header, format version, then the pickled scorer."""
        return _dump("outcome-scorer", self)

    @classmethod
    def from_bytes(cls, data: bytes) -> OutcomeScorer:
        """The scorer a checkpoint holds; :class:`CheckpointError` for anything else."""
        loaded = _load("outcome-scorer", data)
        if not isinstance(loaded, cls):
            raise CheckpointError("checkpoint does not hold an OutcomeScorer")
        return loaded


def _input_value(name: str, features: Features) -> float | str:
    if name in features:
        return features[name]
    source, _, category = name.partition("=")
    return category if source in features else name


# --------------------------------------------------------------------------------------------
# Anomaly score on numbers
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AnomalyScore:
    """How unusual a record's numbers are (0-1, higher is stranger), and whether that
    crosses the flag threshold. ``ready`` is false during the detector's first two windows
    (HalfSpaceTrees needs a full reference window, the threshold some scores)."""

    score: float
    is_outlier: bool
    ready: bool


class AnomalyDetector:
    """Half-space trees over a record's numeric features, learned without labels.

    Numbers are standardized, then mapped linearly from ``[-4, 4]`` standard deviations
    onto the unit interval HalfSpaceTrees partitions (beyond is clipped to the edge): one
    huge value barely moves the scaling and lands at the edge of the cube, where the trees
    saw little mass. HalfSpaceTrees' raw score is not comparable from one stream to the
    next, so the flag asks two things: the score reaches the ``quantile`` of the scores of
    the latest ``flag_window`` records ("stranger than 95% of recent records"), and some
    number is at least ``min_deviation`` standard deviations from its mean. The second is
    there because half-space trees see every value past the edge of the usual range alike
    (an amount 3 or 300 deviations out falls in the same empty half-space), so ordinary
    records in the tails tie with true outliers on the score alone. Watch few
    features per detector (an opportunity's amount, an account's size and revenue): random
    half-spaces dilute one odd number among many ordinary ones. Learn from every record of
    the type, outliers included: they are rare by definition.

    Parameters
    ----------
    features
        Numeric features watched (``None``: every float feature except ``*_missing``).
    quantile, flag_window
        The flag threshold: this quantile of the recent scores, over this many records.
    min_deviation
        Standard deviations from the mean some watched number must reach to be flagged.
    n_trees, height, window_size, seed
        HalfSpaceTrees' own parameters: more trees are steadier, the window is how many
        records make up its reference mass.

    >>> import random
    >>> rng = random.Random(1)
    >>> detector = AnomalyDetector(features=("amount",), window_size=100)
    >>> for _ in range(1000):
    ...     detector.learn_one({"amount": rng.gauss(10.0, 0.5)})
    >>> usual = detector.score_one({"amount": 10.1})
    >>> far = detector.score_one({"amount": 25.0})
    >>> usual.is_outlier, far.is_outlier, far.score > usual.score
    (False, True, True)
    """

    def __init__(
        self,
        features: tuple[str, ...] | None = None,
        *,
        quantile: float = 0.95,
        flag_window: int = 2000,
        min_deviation: float = 3.0,
        n_trees: int = 25,
        height: int = 4,
        window_size: int = 250,
        seed: int = 7,
    ) -> None:
        self.features = features
        self.window_size = window_size
        # River's scaler and trees are partly untyped: held as Any.
        self.scaler: Any = preprocessing.StandardScaler()
        self.trees: Any = anomaly.HalfSpaceTrees(
            n_trees=n_trees, height=height, window_size=window_size, seed=seed
        )
        self.threshold: Any = stats.RollingQuantile(q=quantile, window_size=flag_window)
        self.min_deviation = min_deviation
        self.seen = 0

    def _numbers(self, features: Features) -> dict[str, float]:
        if self.features is not None:
            return {
                name: float(value)
                for name in self.features
                if isinstance(value := features.get(name), float | int)
            }
        return {
            name: float(value)
            for name, value in features.items()
            if isinstance(value, float | int) and not name.endswith("_missing")
        }

    @staticmethod
    def _unit(scaled: Mapping[str, float]) -> dict[str, float]:
        return {name: min(1.0, max(0.0, (z + 4.0) / 8.0)) for name, z in scaled.items()}

    def score_one(self, features: Features) -> AnomalyScore:
        """How unusual these numbers are; never learns."""
        ready = self.seen >= 2 * self.window_size
        numbers = self._numbers(features)
        if not ready or not numbers:
            return AnomalyScore(0.0, False, ready)
        scaled = self.scaler.transform_one(numbers)
        score = float(self.trees.score_one(self._unit(scaled)))
        threshold = self.threshold.get()
        deviation = max(abs(z) for z in scaled.values())
        flagged = threshold is not None and score >= threshold
        return AnomalyScore(score, flagged and deviation >= self.min_deviation, ready)

    def learn_one(self, features: Features) -> None:
        """Learn one record's numbers (and the recent score distribution)."""
        numbers = self._numbers(features)
        if not numbers:
            return
        if self.seen >= self.window_size:
            scaled = self.scaler.transform_one(numbers)
            self.threshold.update(float(self.trees.score_one(self._unit(scaled))))
        self.scaler.learn_one(numbers)
        self.trees.learn_one(self._unit(self.scaler.transform_one(numbers)))
        self.seen += 1

    def to_bytes(self) -> bytes:
        """A checkpoint, as :meth:`OutcomeScorer.to_bytes`."""
        return _dump("anomaly-detector", self)

    @classmethod
    def from_bytes(cls, data: bytes) -> AnomalyDetector:
        """The detector a checkpoint holds; :class:`CheckpointError` for anything else."""
        loaded = _load("anomaly-detector", data)
        if not isinstance(loaded, cls):
            raise CheckpointError("checkpoint does not hold an AnomalyDetector")
        return loaded


# --------------------------------------------------------------------------------------------
# Checkpoint format
# --------------------------------------------------------------------------------------------

_MAGIC: Final = b"crmstream-model"


def _dump(kind: Literal["outcome-scorer", "anomaly-detector"], model: object) -> bytes:
    header = b"%s:%s:%d\n" % (_MAGIC, kind.encode(), FORMAT_VERSION)
    return header + pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL)


def _load(kind: str, data: bytes) -> object:
    header, newline, body = data.partition(b"\n")
    parts = header.split(b":")
    if not newline or len(parts) != 3 or parts[0] != _MAGIC or parts[1] != kind.encode():
        raise CheckpointError(f"not a {kind} checkpoint")
    if parts[2] != str(FORMAT_VERSION).encode():
        raise CheckpointError(
            f"{kind} checkpoint format {parts[2].decode(errors='replace')}, "
            f"this version reads {FORMAT_VERSION}"
        )
    # Checkpoints come from this service's own compacted topic or disk, never from users.
    return pickle.loads(body)  # noqa: S301
