"""The anomaly watch: which types are watched, score before learning, readiness."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime

import pytest

from models.scoring import FeatureExtractor
from models.scoring.anomaly import WATCHED_NUMBERS, AnomalyWatch

USUAL_AMOUNT = math.exp(9.0)  # about 8,100: the median of the opportunities below


def opportunity(rng: random.Random) -> dict[str, float | str]:
    return {"amount": math.log1p(rng.lognormvariate(9.0, 0.6)), "stage": "proposal"}


def learned_watch(seed: int, records: int = 1500) -> AnomalyWatch:
    rng = random.Random(seed)
    watch = AnomalyWatch(seed=seed)
    for _ in range(records):
        watch.score_then_learn("opportunity", opportunity(rng))
    return watch


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_an_amount_fifty_times_the_usual_is_flagged_and_a_usual_one_is_not(seed: int) -> None:
    watch = learned_watch(seed)
    far = watch.score_then_learn("opportunity", {"amount": math.log1p(50 * USUAL_AMOUNT)})
    usual = watch.score_then_learn("opportunity", {"amount": math.log1p(USUAL_AMOUNT)})
    assert far is not None
    assert usual is not None
    assert far.is_outlier
    assert not usual.is_outlier
    assert far.score > usual.score


def test_few_ordinary_records_are_flagged() -> None:
    rng = random.Random(11)
    watch = learned_watch(11, records=500)
    scores = [watch.score_then_learn("opportunity", opportunity(rng)) for _ in range(1000)]
    assert all(score is not None for score in scores)
    assert sum(score.is_outlier for score in scores if score is not None) <= 20  # 2%


def test_not_ready_before_two_windows_of_records() -> None:
    rng = random.Random(5)
    watch = AnomalyWatch(window_size=100)
    scores = [watch.score_then_learn("opportunity", opportunity(rng)) for _ in range(201)]
    assert scores[:200] == [None] * 200, "scored before learning: ready at the 201st record"
    assert scores[200] is not None


def test_each_record_is_scored_before_it_is_learned() -> None:
    watch = learned_watch(4, records=600)
    detector = watch.detectors["opportunity"]
    features = {"amount": math.log1p(40 * USUAL_AMOUNT)}
    before = detector.score_one(features)
    seen = detector.seen
    judged = watch.score_then_learn("opportunity", features)
    assert judged == before, "judged against the records before it, not itself"
    assert detector.seen == seen + 1, "then learned"


def test_types_without_watched_numbers_get_none() -> None:
    watch = AnomalyWatch()
    assert set(watch.entity_types) == {"opportunity", "account"}
    assert watch.score_then_learn("lead", {"employees": 5.0, "annual_revenue": 12.0}) is None
    assert watch.score_then_learn("contact", {"attr.size": 5.0}) is None


def test_a_record_without_all_its_watched_numbers_is_neither_judged_nor_learned() -> None:
    watch = AnomalyWatch(window_size=10)
    detector = watch.detectors["account"]
    for _ in range(30):
        watch.score_then_learn("account", {"employees": 4.0, "annual_revenue": 14.0})
    assert watch.score_then_learn("account", {"employees": 4.0, "annual_revenue_missing": 1.0}) is (
        None
    )
    assert watch.score_then_learn("opportunity", {"amount_missing": 1.0}) is None
    assert detector.seen == 30
    assert watch.detectors["opportunity"].seen == 0


def test_watched_numbers_are_features_the_extractor_produces() -> None:
    extractor = FeatureExtractor()
    now = datetime(2026, 11, 23, tzinfo=UTC)
    opportunity_features = extractor.extract(
        "opportunity", {"amount": 12_000, "stage": "proposal"}, now=now
    )
    account_features = extractor.extract(
        "account", {"employees": 120, "annual_revenue": 5_000_000}, now=now
    )
    for entity_type, features in (
        ("opportunity", opportunity_features),
        ("account", account_features),
    ):
        for name in WATCHED_NUMBERS[entity_type]:
            assert isinstance(features.get(name), float), (entity_type, name)
