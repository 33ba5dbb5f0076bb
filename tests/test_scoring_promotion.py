"""A new champion for an outcome model: promoted after concept drift when it is better, or by an
operator (promote, rollback); every decision recorded in the checkpoint that follows it."""

from __future__ import annotations

import statistics
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from bench.drift import EPOCH, PROMOTION_FLIP_AT, flipping_leads, learn_stream
from models.scoring import LEAD_SCORE
from models.scoring.learning import ModelCheckpoint, ModelCommand, OutcomeLearner
from models.scoring.promotion import PromotionPolicy, PromotionTrial, train_candidate

CONFIG = replace(LEAD_SCORE, min_labels=200)
AT = datetime(2026, 11, 1, tzinfo=UTC)
FLIP_AT = PROMOTION_FLIP_AT


def learner(policy: PromotionPolicy | None = None) -> OutcomeLearner:
    return OutcomeLearner(
        CONFIG, None, every_labels=10**9, every_seconds=1e9, now=0.0, policy=policy
    )


def test_after_an_abrupt_change_a_challenger_trained_on_the_recent_window_is_promoted() -> None:
    promoting, keeping = learner(), learner(PromotionPolicy(enabled=False))
    alerts: list[int] = []
    promoted_losses = learn_stream(
        promoting, flipping_leads(FLIP_AT + 1500, flip_at=FLIP_AT), on_alert=alerts.append
    )
    kept_losses = learn_stream(keeping, flipping_leads(FLIP_AT + 1500, flip_at=FLIP_AT))

    # The model was still settling from its cold start when the change came: the change is
    # what makes ADWIN cut the cold start off, an improvement on its own terms; the rise at
    # the newest end of the window is still seen (ModelErrorMonitor._risen_tail).
    assert len(alerts) == 1, alerts
    assert FLIP_AT < alerts[0] < FLIP_AT + 100

    decision = promoting.checkpoint(AT, now=1.0).decision
    assert decision is not None, "the decision is recorded in the next checkpoint"
    assert (decision["action"], decision["reason"]) == ("promoted", "concept_drift")
    assert decision["candidate_log_loss"] < decision["champion_log_loss"]
    assert decision["trial_labels"] == PromotionPolicy().trial_labels
    assert EPOCH + timedelta(minutes=FLIP_AT) < datetime.fromisoformat(decision["decided_at"])
    assert keeping.checkpoint(AT, now=1.0).decision is None, "drift alone changes nothing"
    assert promoting.scorer.labels < FLIP_AT, "the champion is the model of the recent window"

    after = slice(FLIP_AT + 500, FLIP_AT + 1500)
    promoted, kept = statistics.mean(promoted_losses[after]), statistics.mean(kept_losses[after])
    assert promoted < 0.9 * kept, f"log loss after the change: {promoted:.3f} vs {kept:.3f}"


def test_a_stable_stream_starts_no_trial_and_decides_nothing() -> None:
    stable = learner()
    learn_stream(stable, flipping_leads(4000, flip_at=10**9))
    assert stable.trial is None
    assert stable.checkpoint(AT, now=1.0).decision is None


def test_a_trial_interrupted_by_a_restart_reaches_the_same_decision() -> None:
    stream = list(flipping_leads(FLIP_AT + 1000, flip_at=FLIP_AT))
    first = learner()
    learn_stream(first, iter(stream[: FLIP_AT + 150]))
    assert first.trial is not None, "the drift was seen and a trial runs"
    restored = OutcomeLearner(
        CONFIG,
        ModelCheckpoint.from_bytes(first.checkpoint(AT, now=1.0).to_bytes()),
        every_labels=10**9,
        every_seconds=1e9,
        now=1.0,
    )
    assert restored.trial is not None
    assert len(restored.recent) == len(first.recent)
    for learning in (first, restored):
        learn_stream(learning, iter(stream[FLIP_AT + 150 :]))
    first_decision = first.checkpoint(AT, now=2.0).decision
    assert first_decision is not None
    assert restored.checkpoint(AT, now=2.0).decision == first_decision


def test_a_candidate_no_better_than_the_champion_is_not_promoted() -> None:
    stream = list(flipping_leads(1200, flip_at=10**9))
    champion = train_candidate(CONFIG, stream[:1000])
    twin = PromotionTrial(
        train_candidate(CONFIG, stream[:1000]),
        champion_version=4,
        reason="concept_drift",
        trained_on=1000,
    )
    for features, label in stream[1000:]:
        twin.judge(champion, features, label)
        champion.learn_one(features, label)
    decision = twin.decide(PromotionPolicy(), champion_version=4, decided_at=AT)
    assert decision.candidate_log_loss == pytest.approx(decision.champion_log_loss)
    assert (decision.action, decision.from_version) == ("kept", 4)
    assert "not 2% below" in decision.detail


def test_a_candidate_that_is_not_ready_is_not_promoted() -> None:
    stream = list(flipping_leads(400, flip_at=0))
    champion = train_candidate(CONFIG, stream[:300])
    young = PromotionTrial(
        train_candidate(CONFIG, stream[:50]),
        champion_version=2,
        reason="concept_drift",
        trained_on=50,
    )
    for features, label in stream[300:350]:
        young.judge(champion, features, label)
    decision = young.decide(PromotionPolicy(), champion_version=2, decided_at=AT)
    assert decision.action == "kept"
    assert "fewer than min_labels 200" in decision.detail


def test_an_operator_promotes_a_challenger_of_the_recent_window() -> None:
    quiet = learner()
    refused = quiet.promote(AT)
    assert refused.action == "refused", "nothing learned: nothing to promote"
    learn_stream(quiet, flipping_leads(600, flip_at=10**9))
    promoted = quiet.promote(AT)
    assert (promoted.action, promoted.reason, promoted.candidate_labels) == (
        "promoted",
        "operator",
        600,
    )
    checkpoint = quiet.checkpoint(AT, now=1.0)
    assert checkpoint.decision == promoted.to_dict()
    assert checkpoint.version == 1
    assert checkpoint.model_ready


def test_a_rollback_scores_with_the_old_version_under_a_new_one() -> None:
    learning = learner()
    stream = list(flipping_leads(2000, flip_at=10**9))
    learn_stream(learning, iter(stream[:500]))
    old = ModelCheckpoint.from_bytes(learning.checkpoint(AT, now=1.0).to_bytes())
    learn_stream(learning, iter(stream[500:]))
    assert learning.checkpoint(AT, now=2.0).version == 2
    probe = stream[0][0]
    before = learning.scorer.score_one(probe).probability

    decision = learning.rollback(old, AT)
    checkpoint = learning.checkpoint(AT, now=3.0)
    assert (decision.action, decision.rolled_back_to, decision.from_version) == (
        "rolled_back",
        1,
        2,
    )
    assert checkpoint.version == 3, "versions never go back: workers reload the newer one"
    assert checkpoint.labels == 500
    assert checkpoint.decision == decision.to_dict()
    rolled_back = learning.scorer.score_one(probe).probability
    assert (
        rolled_back
        == OutcomeLearner(CONFIG, old, every_labels=1, every_seconds=1.0, now=0.0)
        .scorer.score_one(probe)
        .probability
    )
    assert rolled_back != before

    other = replace(old, model="churn_risk")
    with pytest.raises(ValueError, match="churn_risk checkpoint cannot roll back lead_score"):
        learning.rollback(other, AT)


def test_a_rollback_command_carries_its_checkpoint_and_must_match_it() -> None:
    learning = learner()
    learn_stream(learning, flipping_leads(50, flip_at=10**9))
    data = learning.checkpoint(AT, now=1.0).to_bytes()
    command = ModelCommand(action="rollback", model=CONFIG.name, version=1, requested_at=AT)
    parsed, checkpoint = ModelCommand.from_bytes(command.to_bytes(data))
    assert parsed == command
    assert checkpoint is not None
    assert checkpoint.version == 1
    wrong = command.model_copy(update={"version": 7})
    with pytest.raises(ValueError, match="carries lead_score version 1"):
        ModelCommand.from_bytes(wrong.to_bytes(data))
    promote = ModelCommand(action="promote", model=CONFIG.name, requested_at=AT)
    assert ModelCommand.from_bytes(promote.to_bytes()) == (promote, None)
