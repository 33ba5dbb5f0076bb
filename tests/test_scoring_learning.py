"""The one learner of an outcome model: when it checkpoints, what a checkpoint restores, and
the drift it watches."""

from __future__ import annotations

import random
import zlib
from dataclasses import replace
from datetime import UTC, datetime

import jsonschema
import orjson
import pytest

from models.drift import DriftAlert
from models.scoring import LEAD_SCORE
from models.scoring.learning import (
    CHECKPOINT_FORMAT,
    LABELS_REMEMBERED,
    LabelIds,
    ModelCheckpoint,
    OutcomeLearner,
    TrainingExample,
    alert_event,
)
from schemas.json_schema import SCHEMA_DIR
from streams.cli_models import checkpoint_headers

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


def test_a_label_sent_again_is_learned_once_even_by_a_learner_restored_in_between() -> None:
    labelled = [
        example.model_copy(update={"label_id": f"lead:lead-{n} change-{n}"})
        for n, example in enumerate(examples(30))
    ]
    first = learner()
    for example in labelled[:20]:
        first.learn(example)
    checkpoint = ModelCheckpoint.from_bytes(first.checkpoint(AT, now=1.0).to_bytes())
    restored = learner(checkpoint, now=1.0)
    # A crash sent labels 15-19 again, then the stream went on.
    for example in labelled[15:30]:
        restored.learn(example)
    assert restored.scorer.labels == 30
    assert restored.repeats_passed_over == 5
    assert restored.validation.report()["overall"]["count"] == 30
    unnamed = examples(1)[0]  # a label from before ids: learned as it comes
    restored.learn(unnamed)
    restored.learn(unnamed)
    assert restored.scorer.labels == 32


def test_the_learner_remembers_the_latest_label_ids_only() -> None:
    ids = LabelIds(f"label-{n}" for n in range(LABELS_REMEMBERED + 5))
    assert "label-4" not in ids
    assert "label-5" in ids
    assert f"label-{LABELS_REMEMBERED + 4}" in ids
    assert len(list(ids)) == LABELS_REMEMBERED


# -- drift: watched by the learner, carried by its checkpoints --------------------------------


def outcomes(
    count: int, *, positive_rate: float, probability: float = 0.2, seed: int = 2, shift: float = 0.0
) -> list[TrainingExample]:
    """Labels drawn at ``positive_rate`` for predictions that all said ``probability``: the
    prediction's error is stable while the rate is, and rises when it moves away. ``shift``
    moves the ``employees`` feature (in its own units) without touching the labels."""
    rng = random.Random(seed)
    return [
        TrainingExample(
            model=CONFIG.name,
            label=int(rng.random() < positive_rate),
            outcome="converted",
            features={
                "employees": rng.uniform(1, 1000) + shift,
                "lead_source": rng.choice(["web", "event"]),
            },
            probability=probability,
            model_version=0,
            labelled_at=AT,
        )
        for _ in range(count)
    ]


def learn_all(
    learner: OutcomeLearner, stream: list[TrainingExample]
) -> list[tuple[int, DriftAlert]]:
    """(index in ``stream``, alert) of every alert the learner raised."""
    return [
        (index, alert) for index, example in enumerate(stream) for alert in learner.learn(example)
    ]


def test_a_rise_in_the_prediction_error_raises_one_concept_alert_naming_the_model() -> None:
    fresh = learner()
    assert learn_all(fresh, outcomes(1500, positive_rate=0.2)) == [], "calibrated: no alarm"
    raised = learn_all(fresh, outcomes(500, positive_rate=0.7, seed=3))
    concept = [(index, alert) for index, alert in raised if alert.kind == "concept"]
    assert len(concept) == 1, raised
    index, alert = concept[0]
    assert index < 500, "detected within 500 labels of the shift"
    assert (alert.subject, alert.statistic) == (CONFIG.name, "adwin_error_rise")
    assert alert.current_mean > alert.reference_mean
    assert alert.observed == 1500 + index + 1


def test_an_alert_is_published_as_the_alert_contract_says() -> None:
    fresh = learner()
    learn_all(fresh, outcomes(1500, positive_rate=0.2))
    shifted = outcomes(500, positive_rate=0.7, seed=3)
    index, alert = learn_all(fresh, shifted)[0]
    example = shifted[index].model_copy(update={"model_version": 4})
    event = alert_event(alert, example, raised_at=AT)
    published = orjson.loads(event.to_json())
    jsonschema.validate(published, orjson.loads((SCHEMA_DIR / "alert.schema.json").read_bytes()))
    assert event.record_key() == CONFIG.name.encode()
    assert published["schema_version"] == 1
    assert (published["kind"], published["subject"], published["statistic"]) == (
        "concept",
        CONFIG.name,
        "adwin_error_rise",
    )
    assert (published["model"], published["model_version"]) == (CONFIG.name, 4)
    assert published["value"] == alert.value
    assert published["threshold"] == alert.threshold
    assert (published["reference_size"], published["current_size"]) == (
        alert.reference_size,
        alert.current_size,
    )


def test_a_stable_stream_raises_no_alert() -> None:
    assert learn_all(learner(), outcomes(3000, positive_rate=0.2, seed=4)) == []


def test_moved_features_raise_a_data_alert_naming_the_feature() -> None:
    fresh = learner()
    stream = outcomes(1000, positive_rate=0.2, seed=5) + outcomes(
        1000, positive_rate=0.2, seed=6, shift=600.0
    )
    raised = learn_all(fresh, stream)
    assert [(a.kind, a.subject, a.statistic) for _, a in raised] == [("data", "employees", "psi")]


def test_a_restored_learner_continues_its_drift_monitors() -> None:
    first = learner()
    learn_all(first, outcomes(1500, positive_rate=0.2))
    data = first.checkpoint(AT, now=1.0).to_bytes()
    assert ModelCheckpoint.header(data)["format"] == CHECKPOINT_FORMAT
    restored = learner(ModelCheckpoint.from_bytes(data), now=1.0)
    assert restored.concept_drift.to_bytes() == first.concept_drift.to_bytes()
    assert restored.data_drift.to_bytes() == first.data_drift.to_bytes()
    after = outcomes(500, positive_rate=0.7, seed=3)
    expected = learn_all(first, after)
    assert expected, "the shift is detected by the learner that never stopped"
    assert learn_all(restored, after) == expected, "and at the same label by the restored one"


def format_1(checkpoint: ModelCheckpoint) -> bytes:
    """The bytes the previous release wrote: no layout field, no drift monitors."""
    scorer, validation = zlib.compress(checkpoint.scorer), zlib.compress(checkpoint.validation)
    header = {
        "model": checkpoint.model,
        "version": checkpoint.version,
        "labels": checkpoint.labels,
        "positives": checkpoint.positives,
        "model_ready": checkpoint.model_ready,
        "written_at": checkpoint.written_at.isoformat(),
        "metrics": checkpoint.metrics,
        "scorer_bytes": len(scorer),
        "validation_bytes": len(validation),
    }
    return b"crmstream-checkpoint " + orjson.dumps(header) + b"\n" + scorer + validation


def test_a_checkpoint_without_drift_monitors_still_loads_and_starts_them_afresh() -> None:
    first = learner()
    learn_all(first, outcomes(100, positive_rate=0.2))
    checkpoint = first.checkpoint(AT, now=1.0)
    old = ModelCheckpoint.from_bytes(format_1(checkpoint))
    assert (old.concept_drift, old.data_drift) == (b"", b"")
    assert old.scorer == checkpoint.scorer
    restored = learner(old, now=1.0)
    assert restored.version == 1
    assert restored.concept_drift.labels == 0
    assert restored.data_drift.report() == []
    assert restored.checkpoint(AT, now=2.0).concept_drift, "the next checkpoint carries them"


def test_a_checkpoint_of_a_newer_format_is_refused() -> None:
    data = learner().checkpoint(AT, now=1.0).to_bytes()
    newer = data.replace(
        f'"format":{CHECKPOINT_FORMAT}'.encode(), f'"format":{CHECKPOINT_FORMAT + 1}'.encode()
    )
    with pytest.raises(ValueError, match="newer"):
        ModelCheckpoint.from_bytes(newer)


def test_the_models_command_reads_checkpoint_headers_and_passes_over_the_rest() -> None:
    first = learner()
    for example in examples(12):
        first.learn(example)
    values = [first.checkpoint(AT, now=1.0).to_bytes(), None, b"not a checkpoint"]
    values.append(first.checkpoint(AT, now=2.0).to_bytes())
    headers = checkpoint_headers(values)
    assert [(h["model"], h["version"], h["labels"]) for h in headers] == [
        (CONFIG.name, 1, 12),
        (CONFIG.name, 2, 12),
    ]
