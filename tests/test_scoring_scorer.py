"""Outcome scorer: tiers, factors, readiness, checkpoints; the anomaly detector."""

from __future__ import annotations

import math
import random

import pytest

from models.scoring.features import Features
from models.scoring.scorer import (
    CHURN_RISK,
    LEAD_SCORE,
    AnomalyDetector,
    CheckpointError,
    OutcomeScorer,
    ScorerConfig,
    tier_of,
)


def _example(rng: random.Random) -> tuple[Features, int]:
    source = rng.choice(("referral", "partner", "web", "cold_call"))
    employees = rng.gauss(4.0, 1.5)
    z = {"referral": 1.2, "partner": 0.6, "web": 0.0, "cold_call": -1.2}[source]
    z += 0.6 * (employees - 4.0) - 0.3
    return {"lead_source": source, "employees": employees}, int(
        rng.random() < 1 / (1 + math.exp(-z))
    )


def _trained(n: int, config: ScorerConfig = LEAD_SCORE) -> OutcomeScorer:
    rng = random.Random(5)
    scorer = OutcomeScorer(config)
    for _ in range(n):
        scorer.learn_one(*_example(rng))
    return scorer


@pytest.mark.parametrize(
    ("score", "tier"),
    [(100, "A"), (70, "A"), (69, "B"), (45, "B"), (44, "C"), (25, "C"), (24, "D")],
)
def test_tiers_at_the_cuts(score: int, tier: str) -> None:
    assert tier_of(score, (70, 45, 25)) == tier


def test_tier_cuts_must_descend() -> None:
    with pytest.raises(ValueError, match="descending"):
        ScorerConfig(name="x", entity_type="lead", tier_cuts=(40, 60, 10))


def test_model_ready_flips_at_the_minimum() -> None:
    config = ScorerConfig(name="lead_score", entity_type="lead", min_labels=10)
    rng = random.Random(1)
    scorer = OutcomeScorer(config)
    for _ in range(9):
        scorer.learn_one(*_example(rng))
    assert not scorer.score_one({"lead_source": "web"}).model_ready
    scorer.learn_one(*_example(rng))
    assert scorer.score_one({"lead_source": "web"}).model_ready


def test_factors_sum_to_the_champion_log_odds_and_point_the_right_way() -> None:
    scorer = _trained(2000)
    features: Features = {"lead_source": "referral", "employees": 6.0}
    intercept, factors = scorer.explain_one(features)
    raw = scorer.raw_probability(features)
    assert math.isclose(intercept + sum(f.contribution for f in factors), math.log(raw / (1 - raw)))
    score = scorer.score_one(features)
    assert {f.feature for f in score.positive} == {"lead_source=referral", "employees"}
    assert all(f.contribution > 0 for f in score.positive)
    cold = scorer.score_one({"lead_source": "cold_call", "employees": 2.0})
    assert {f.feature for f in cold.negative} == {"lead_source=cold_call", "employees"}
    assert cold.score < score.score
    assert 0 <= cold.score <= 100
    assert cold.tier in "ABCD"


def test_challenger_scores_in_shadow() -> None:
    scorer = _trained(500)
    score = scorer.score_one({"lead_source": "referral", "employees": 6.0})
    assert score.challenger_probability is not None
    assert 0.0 <= score.challenger_probability <= 1.0


def test_churn_risk_is_the_same_class_configured() -> None:
    scorer = OutcomeScorer(CHURN_RISK)
    assert scorer.score_one({"plan": "free"}).model == "churn_risk"


def test_checkpoint_round_trip_gives_identical_scores() -> None:
    scorer = _trained(300)
    restored = OutcomeScorer.from_bytes(scorer.to_bytes())
    rng = random.Random(9)
    for _ in range(20):
        features, _ = _example(rng)
        assert restored.score_one(features) == scorer.score_one(features)
    features, label = _example(rng)
    scorer.learn_one(features, label)
    restored.learn_one(features, label)
    assert restored.score_one(features) == scorer.score_one(features)


def test_checkpoint_of_another_kind_or_version_is_refused() -> None:
    detector_bytes = AnomalyDetector().to_bytes()
    with pytest.raises(CheckpointError, match="outcome-scorer"):
        OutcomeScorer.from_bytes(detector_bytes)
    newer = OutcomeScorer(LEAD_SCORE).to_bytes().replace(b":1\n", b":99\n", 1)
    with pytest.raises(CheckpointError, match="format 99"):
        OutcomeScorer.from_bytes(newer)
    with pytest.raises(CheckpointError):
        OutcomeScorer.from_bytes(b"garbage")


def test_anomaly_flags_an_amount_far_beyond_the_usual() -> None:
    rng = random.Random(3)
    detector = AnomalyDetector(features=("amount",))
    assert not detector.score_one({"amount": 10.0}).ready
    for _ in range(3000):
        detector.learn_one({"amount": math.log1p(rng.lognormvariate(10.0, 0.7))})
    usual = [
        detector.score_one({"amount": math.log1p(rng.lognormvariate(10.0, 0.7))}).is_outlier
        for _ in range(2000)
    ]
    assert sum(usual) / len(usual) < 0.01
    far = detector.score_one({"amount": math.log1p(math.exp(10.0) * 50)})
    assert far.ready
    assert far.is_outlier
    restored = AnomalyDetector.from_bytes(detector.to_bytes())
    assert restored.score_one({"amount": 12.0}) == detector.score_one({"amount": 12.0})
