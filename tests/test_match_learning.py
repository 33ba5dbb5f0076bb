"""The learned match model: the rule until people speak, then what they taught it."""

from __future__ import annotations

import json
import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.matching import Decision, DuplicateMatcher
from models.matching.learning import LearnedMatcher, pair_features

MATCHER = DuplicateMatcher()

# Few values per field, several of them equal or near-equal, so that pairs hit exact ties
# (scores exactly at a threshold), initials, swapped names and partial phone matches.
POOLS = {
    "first_name": ["Ada", "Ada", "Adaa", "A.", "Alan", "Lovelace"],
    "last_name": ["Lovelace", "Lovelace", "Lovelcae", "Ada", "Turing"],
    "email": ["ada@acme.io", "a.da+x@acme.io", "ada@gmail.com", "alan@acme.io", "adb@acme.io"],
    "phone": ["+442071234567", "+442081234567", "+441234000000"],
    "company": ["acme", "acme ltd", "initech"],
    "account_id": ["account-1", "account-2"],
    "website": ["acme.io", "initech.com"],
    "birthdate": ["1815-12-10", "1815-10-12", "1815-12-11", "1912-06-23"],
    "street": ["12 St James Square", "St James Square 12", "1 Main Street"],
    "postal_code": ["N1 9GU", "SW1Y 4JH"],
    "city": ["London", "Londres", "Manchester"],
    "state": ["ENG", "SCT"],
    "country": ["GB", "FR"],
}
profiles = st.fixed_dictionaries(
    {}, optional={field: st.sampled_from(values) for field, values in POOLS.items()}
)
similarity_vectors = st.dictionaries(
    st.sampled_from([*POOLS, "nickname"]),
    st.one_of(st.sampled_from([0.0, 0.5, 0.8, 0.85, 0.9, 1.0]), st.floats(0.0, 1.0)),
)

# Relatives: same surname, phone and address, different first names. The rule merges them.
RELATIVES = {
    "first_name": 0.0,
    "last_name": 1.0,
    "phone": 1.0,
    "street": 1.0,
    "postal_code": 1.0,
    "city": 1.0,
    "state": 1.0,
    "country": 1.0,
}
# One person under a second address of the same mailbox: what the rule is right about.
SAME_MAILBOX = {"first_name": 1.0, "last_name": 1.0, "email": 1.0, "phone": 0.8}


def rule_score(similarities: dict[str, float]) -> float:
    """The score as the matcher's module docstring defines it."""
    present = {f: v for f, v in similarities.items() if MATCHER.weights.get(f, 0.0) > 0}
    total = sum(MATCHER.weights[f] for f in present)
    weighted = sum(MATCHER.weights[f] * v for f, v in present.items())
    return weighted / max(total, MATCHER.min_weight) if present else 0.0


@settings(max_examples=300, deadline=None)
@given(profiles, profiles)
def test_before_feedback_decisions_are_the_rules(a: dict[str, str], b: dict[str, str]) -> None:
    result = MATCHER.score_profiles(a, b)
    p, decision = LearnedMatcher(MATCHER).decide(result.similarities)
    assert decision == result.decision
    assert p == pytest.approx(1 / (1 + math.exp(-20 * (result.score - 0.8))), abs=1e-12)


@settings(max_examples=300, deadline=None)
@given(similarity_vectors)
def test_before_feedback_any_similarities_decide_as_the_rule(
    similarities: dict[str, float],
) -> None:
    score = rule_score(similarities)
    assert sum(pair_features(MATCHER, similarities).values()) == pytest.approx(score, abs=1e-12)
    assert LearnedMatcher(MATCHER).decide(similarities)[1] == MATCHER.decide(score)


def jitter(rng: random.Random, similarities: dict[str, float]) -> dict[str, float]:
    """The same kind of pair, not the same pair: a field or two missing or a little off."""
    out = {f: v for f, v in similarities.items() if f == "first_name" or rng.random() > 0.15}
    return {
        f: v if v in (0.0, 1.0) and rng.random() > 0.2 else max(0.0, v - 0.1)
        for f, v in out.items()
    }


def test_rejected_relatives_stop_merging_while_shared_mailboxes_keep_merging() -> None:
    learned = LearnedMatcher(MATCHER)
    assert learned.decide(RELATIVES)[1] is Decision.DUPLICATE
    assert rule_score(RELATIVES) == pytest.approx(0.82, abs=0.01)
    rng = random.Random(7)
    verdicts = [(RELATIVES, False), (SAME_MAILBOX, True)] * 200
    for n, (kind, is_duplicate) in enumerate(verdicts, start=1):
        pair = jitter(rng, kind)
        learned.learn(pair, is_duplicate, decision_at_time=learned.decide(pair)[1])
        if n == 10:  # a few verdicts are not a policy
            assert learned.decide(RELATIVES)[1] is Decision.DUPLICATE
    p, decision = learned.decide(RELATIVES)
    assert decision is not Decision.DUPLICATE
    assert p < 0.4
    assert learned.decide(SAME_MAILBOX)[1] is Decision.DUPLICATE
    assert learned.decide({"email": 1.0, "last_name": 1.0})[1] is Decision.DUPLICATE
    # It learned what misled it, not to distrust everything: untouched fields are the rule's.
    assert learned.weights["street"] < 20.0 < learned.weights["email"]
    assert learned.weights["website"] == 20.0


def test_the_review_band_narrows_with_feedback() -> None:
    learned = LearnedMatcher(MATCHER)
    floor = 1 / (1 + math.exp(-20 * (0.65 - 0.8)))
    assert learned.review_probability() == pytest.approx(floor)
    seen = [learned.review_probability()]
    for _ in range(200):
        learned.learn(SAME_MAILBOX, True, decision_at_time=Decision.DUPLICATE)
        seen.append(learned.review_probability())
    assert seen == sorted(seen)
    assert seen[-1] == pytest.approx((floor + 0.5) / 2)  # half-way after band_half_life labels
    # A pair the rule would have sent to review (score 0.7) is now left alone.
    weak = {"last_name": 1.0, "first_name": 0.0, "phone": 0.8, "city": 1.0}
    assert MATCHER.decide(rule_score(weak)) is Decision.POSSIBLE
    assert learned.decide(weak)[1] is Decision.DISTINCT
    state = learned.to_state() | {"counts": {"duplicate": {"confirmed": 10**9, "rejected": 0}}}
    assert LearnedMatcher.from_state(MATCHER, state).review_probability() <= 0.5


def test_precision_counts_the_verdicts_on_merges() -> None:
    learned = LearnedMatcher(MATCHER)
    assert learned.precision is None
    assert learned.feedback_count == 0
    for is_duplicate in (True, True, True, False):
        learned.learn(SAME_MAILBOX, is_duplicate, decision_at_time=Decision.DUPLICATE)
    learned.learn(RELATIVES, True, decision_at_time=Decision.POSSIBLE)
    learned.learn(RELATIVES, False, decision_at_time=Decision.DISTINCT)
    assert learned.precision == 0.75
    assert learned.feedback_count == 6
    assert learned.feedback(Decision.DUPLICATE) == (3, 1)
    assert learned.feedback(Decision.POSSIBLE) == (1, 0)
    assert learned.feedback(Decision.DISTINCT) == (0, 1)


def test_state_round_trips_through_json() -> None:
    learned = LearnedMatcher(MATCHER)
    rng = random.Random(3)
    for _ in range(100):
        kind, is_duplicate = rng.choice([(RELATIVES, False), (SAME_MAILBOX, True)])
        learned.learn(jitter(rng, kind), is_duplicate, decision_at_time=Decision.DUPLICATE)
    restored = LearnedMatcher.from_state(MATCHER, json.loads(json.dumps(learned.to_state())))
    pairs = [jitter(rng, rng.choice([RELATIVES, SAME_MAILBOX])) for _ in range(50)]
    assert [restored.decide(p) for p in pairs] == [learned.decide(p) for p in pairs]
    assert (restored.precision, restored.feedback_count) == (learned.precision, 100)
    for model in (learned, restored):  # and they keep learning alike
        model.learn(RELATIVES, False, decision_at_time=Decision.DUPLICATE)
    assert restored.to_state() == learned.to_state()
    with pytest.raises(ValueError, match="version"):
        LearnedMatcher.from_state(MATCHER, learned.to_state() | {"version": 0})


def test_a_field_the_matcher_weighs_later_starts_as_the_rule() -> None:
    state = LearnedMatcher(MATCHER).to_state()
    wider = DuplicateMatcher({**MATCHER.weights, "nickname": 1.0})
    restored = LearnedMatcher.from_state(wider, state)
    assert restored.weights["nickname"] == 20.0
    assert restored.probability({"nickname": 1.0, "email": 1.0}) > 0.5
