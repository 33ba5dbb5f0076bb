"""Which numbers of which record types are watched for anomalies, and in what order.

An :class:`~models.scoring.scorer.AnomalyDetector` judges a few numbers against the ones it
has seen; :class:`AnomalyWatch` holds one detector per entity type with watched numbers
(:data:`WATCHED_NUMBERS`: an opportunity's amount, an account's size and revenue) and scores
each record *before* learning it, so an outlier is judged against what came before it, not
against itself. Types without watched numbers (leads, contacts, activities) get ``None``.

The stream keeps one watch per worker process, in memory, learned from the records of the
partitions it holds: partitions are a random sample by key, so each worker sees the same
distribution. It is not checkpointed: after a restart each detector is not ready again for
its first ``2 * window_size`` records, and its scores are ``None`` meanwhile.

A record is judged (and learned) only when it has every watched number of its type:
half-space trees split on the features of the first record they learn, so a detector that
first met an account without revenue would never look at revenue again.

>>> import math, random
>>> rng = random.Random(3)
>>> watch = AnomalyWatch(window_size=50)
>>> usual = [{"amount": math.log1p(rng.lognormvariate(9.0, 0.3))} for _ in range(500)]
>>> [watch.score_then_learn("opportunity", f) for f in usual[:2]]  # not ready yet
[None, None]
>>> for features in usual[2:]:
...     _ = watch.score_then_learn("opportunity", features)
>>> watch.score_then_learn("opportunity", {"amount": math.log1p(8000.0 * 50)}).is_outlier
True
>>> watch.score_then_learn("opportunity", {"amount": math.log1p(8000.0)}).is_outlier
False
>>> watch.score_then_learn("lead", {"employees": 5.0}) is None
True
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from models.scoring.features import Features
from models.scoring.scorer import AnomalyDetector, AnomalyScore
from schemas.change import EntityType

__all__ = ["WATCHED_NUMBERS", "AnomalyWatch"]

WATCHED_NUMBERS: Final[Mapping[str, tuple[str, ...]]] = {
    EntityType.OPPORTUNITY.value: ("amount",),
    EntityType.ACCOUNT.value: ("employees", "annual_revenue"),
}
"""The features watched per entity type, as :class:`~models.scoring.features.FeatureExtractor`
names them (``log1p`` of the canonical ``amount``, ``employees`` and ``annual_revenue``).
Few per type, on purpose: random half-spaces dilute one odd number among many ordinary ones."""


class AnomalyWatch:
    """One :class:`~models.scoring.scorer.AnomalyDetector` per entity type with watched
    numbers; :meth:`score_then_learn` is the only step the stream takes.

    Parameters
    ----------
    watched
        The features watched per entity type.
    window_size, seed
        Each detector's half-space trees window (a detector is ready after two of them)
        and randomness.
    """

    def __init__(
        self,
        watched: Mapping[str, tuple[str, ...]] = WATCHED_NUMBERS,
        *,
        window_size: int = 250,
        seed: int = 7,
    ) -> None:
        self.detectors = {
            entity_type: AnomalyDetector(features=features, window_size=window_size, seed=seed)
            for entity_type, features in watched.items()
        }

    @property
    def entity_types(self) -> tuple[str, ...]:
        """The entity types that have a detector."""
        return tuple(self.detectors)

    def score_then_learn(self, entity_type: str, features: Features) -> AnomalyScore | None:
        """How unusual this record's watched numbers are against the records before it, then
        learn them. ``None`` when the type has no detector, the record lacks one of its
        watched numbers (neither judged nor learned), or the detector is not ready yet."""
        detector = self.detectors.get(entity_type)
        if detector is None or detector.features is None:
            return None
        if not all(isinstance(features.get(name), float | int) for name in detector.features):
            return None
        score = detector.score_one(features)
        detector.learn_one(features)
        return score if score.ready else None
