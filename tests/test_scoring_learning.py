"""The one learner of an outcome model: when it checkpoints, and what a checkpoint restores."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime

from models.scoring import LEAD_SCORE
from models.scoring.learning import ModelCheckpoint, OutcomeLearner, TrainingExample

CONFIG = replace(LEAD_SCORE, min_labels=5)
AT = datetime(2026, 11, 1, tzinfo=UTC)


def examples(count: int, seed: int = 1) -> list[TrainingExample]:
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        employees = rng.uniform(1, 1000)
        out.append(
            TrainingExample(
                model=CONFIG.name,
                label=int(employees > 400),
                outcome="converted",
                features={"employees": employees, "lead_source": rng.choice(["web", "event"])},
                probability=0.5,
                model_version=0,
                labelled_at=AT,
            )
        )
    return out


def learner(checkpoint: ModelCheckpoint | None = None, now: float = 0.0) -> OutcomeLearner:
    return OutcomeLearner(CONFIG, checkpoint, every_labels=10, every_seconds=60.0, now=now)


def test_a_checkpoint_is_due_after_enough_labels_or_time_but_never_without_news() -> None:
    fresh = learner()
    assert not fresh.due(now=1e9), "nothing learned, nothing to write"
    for example in examples(9):
        fresh.learn(example)
    assert not fresh.due(now=59.0)
    assert fresh.due(now=60.0)
    fresh.learn(examples(1)[0])
    assert fresh.due(now=1.0)


def test_a_restored_checkpoint_scores_and_counts_as_the_learner_did() -> None:
    first = learner()
    for example in examples(40):
        first.learn(example)
    checkpoint = first.checkpoint(AT, now=5.0)
    data = checkpoint.to_bytes()
    header = ModelCheckpoint.header(data)
    assert (header["model"], header["version"], header["labels"]) == (CONFIG.name, 1, 40)
    restored = learner(ModelCheckpoint.from_bytes(data), now=5.0)
    probe = {"employees": 700.0, "lead_source": "web"}
    assert restored.scorer.score_one(probe) == first.scorer.score_one(probe)
    assert restored.version == 1
    assert restored.scorer.model_ready
    assert restored.validation.report() == first.validation.report()
    assert restored.checkpoint(AT, now=6.0).version == 2, "versions go on from the checkpoint"
