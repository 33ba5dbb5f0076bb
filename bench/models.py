"""Online lead score and churn risk on generated CRM streams, beside a batch baseline.

``python -m bench.models [--events N] [--seed S] [--rescore-hours H]`` replays a
:class:`streams.generator.CrmSimulation` run in event order, as the stream would see it:
partial updates merged into each record, records standardized
(:func:`schemas.standardize.record.standardize_fields`), activities, opportunities and
contacts folded into their lead's or account's :class:`~models.scoring.features.Engagement`.
Every change of a lead, account or opportunity, and every engagement update, rescores the
entity and keeps its features in a :class:`~models.scoring.labels.PredictionMemory`; a
periodic rescore every ``--rescore-hours`` (the timer the stream runs so that a silent
account's risk rises while nothing happens) is emulated exactly: when a label arrives, the
latest timer tick after the last rescore is scored from the same pre-outcome state. Labels
come from :func:`~models.scoring.labels.label_from_change`, and each is first judged against
the kept prediction (progressive validation), then learned from the kept features.

It prints, per model: the progressive ROC AUC (exact, and River's ``ROCAUC``), and after the
``min_labels`` warm-up; a batch scikit-learn logistic regression's 5-fold cross-validated
AUC on the *same* features (the kept ones, one-hot and standardized); the difference; the
AUC of the generator's true probabilities on the same labels (the ceiling); the challenger's
progressive AUC; log loss, Brier score and calibration error; predict and learn cost per
call. The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
import sklearn
from sklearn.feature_extraction import DictVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from models.scoring.features import (
    Engagement,
    FeatureExtractor,
    Features,
    engagement_targets,
    update_engagement,
)
from models.scoring.labels import (
    Label,
    PredictionMemory,
    label_from_change,
    training_example,
)
from models.scoring.scorer import (
    CHURN_RISK,
    LEAD_SCORE,
    WIN_PROBABILITY,
    OutcomeScorer,
    ScorerConfig,
)
from models.scoring.validation import ProgressiveValidation, ValidationConfig
from schemas.standardize.record import standardize_fields
from streams.generator import CrmSimulation

DEFAULT_EVENTS = 150_000
DEFAULT_SEED = 20240611
SEGMENTS = {
    "lead": ("country", "lead_source"),
    "account": ("billing_country", "plan"),
    "opportunity": ("stage",),
}


@dataclass
class ModelRun:
    """One outcome model's replay: the scorer, its validation, and what the baseline needs."""

    config: ScorerConfig
    scorer: OutcomeScorer = field(init=False)
    validation: ProgressiveValidation = field(init=False)
    challenger: ProgressiveValidation = field(init=False)
    memories: dict[str, PredictionMemory] = field(default_factory=dict)
    examples: list[Features] = field(default_factory=list)
    labels: list[int] = field(default_factory=list)
    predicted: list[float] = field(default_factory=list)
    challenger_predicted: list[float] = field(default_factory=list)
    truth: list[float] = field(default_factory=list)
    unscored_labels: int = 0
    predict_seconds: float = 0.0
    predicts: int = 0
    learn_seconds: float = 0.0
    timer_rescores: int = 0

    def __post_init__(self) -> None:
        self.scorer = OutcomeScorer(self.config)
        cut = self.config.tier_cuts[1] / 100.0
        segments = SEGMENTS[self.config.entity_type]
        self.validation = ProgressiveValidation(ValidationConfig(cut=cut, segments=segments))
        self.challenger = ProgressiveValidation(ValidationConfig(cut=cut))


@dataclass
class Replay:
    """The merged records, engagement and models of one replayed run."""

    extractor: FeatureExtractor
    rescore_seconds: float
    models: dict[str, ModelRun]
    raw: dict[str, dict[str, object]] = field(default_factory=dict)
    standardized: dict[str, dict[str, object]] = field(default_factory=dict)
    created: dict[str, datetime] = field(default_factory=dict)
    engagement: dict[tuple[str, str], Engagement] = field(default_factory=dict)
    closed: set[str] = field(default_factory=set)
    true_probability: dict[tuple[str, int], float] = field(default_factory=dict)

    def features(self, entity_type: str, entity_id: str, now: datetime) -> Features:
        return self.extractor.extract(
            entity_type,
            self.standardized[entity_id],
            now=now,
            created_at=self.created[entity_id],
            engagement=self.engagement.get((entity_type, entity_id)),
        )

    def score(self, run: ModelRun, entity_id: str, now: datetime) -> None:
        """Score an entity and keep what the model saw (the stream's scoring step)."""
        start = time.perf_counter()
        features = self.features(run.config.entity_type, entity_id, now)
        score = run.scorer.score_one(features)
        run.predict_seconds += time.perf_counter() - start
        run.predicts += 1
        values = self.standardized[entity_id]
        run.memories[entity_id] = PredictionMemory(
            features=features,
            probability=score.probability,
            scored_at=now,
            model_version=score.version,
            challenger_probability=score.challenger_probability,
            segments={name: str(values.get(name, "")) for name in SEGMENTS[run.config.entity_type]},
        )

    def latest_timer_tick(self, run: ModelRun, entity_id: str, now: datetime) -> None:
        """Rescore as the periodic timer would have, at its last tick before ``now``, when
        that tick came after the entity's last rescore (nothing about the entity changed
        since then, or it would have been rescored: the state is the pre-outcome one)."""
        memory = run.memories.get(entity_id)
        at = now.timestamp()
        tick = datetime.fromtimestamp(at - at % self.rescore_seconds, UTC)
        created = self.created[entity_id]
        if memory is not None and memory.scored_at < tick and created <= tick:
            self.score(run, entity_id, tick)
            run.timer_rescores += 1

    def learn(self, run: ModelRun, entity_id: str, label: Label, now: datetime, index: int) -> None:
        """Judge the kept prediction by the label, then learn from the kept features."""
        self.latest_timer_tick(run, entity_id, now)
        memory = run.memories.pop(entity_id, None)
        example = training_example(memory, label, labelled_at=now)
        if memory is None or example is None:
            run.unscored_labels += 1
            return
        features, y = example
        run.validation.update(y, memory.probability, memory.segments)
        if memory.challenger_probability is not None:
            run.challenger.update(y, memory.challenger_probability)
        run.examples.append(features)
        run.labels.append(y)
        run.predicted.append(memory.probability)
        run.challenger_predicted.append(
            0.5 if memory.challenger_probability is None else memory.challenger_probability
        )
        run.truth.append(self.true_probability.get((entity_id, index), math.nan))
        start = time.perf_counter()
        run.scorer.learn_one(features, y)
        run.learn_seconds += time.perf_counter() - start

    def apply(self, event: dict[str, Any], index: int) -> None:
        entity_type, entity_id = event["entity_type"], event["entity_id"]
        now = datetime.fromisoformat(event["occurred_at"])
        if event["op"] == "delete":
            self.raw.pop(entity_id, None)
            self.standardized.pop(entity_id, None)
            for each in self.models.values():
                each.memories.pop(entity_id, None)
            self.closed.add(entity_id)
            return
        raw = self.raw.setdefault(entity_id, {})
        raw.update(event.get("fields") or {})
        self.created.setdefault(entity_id, now)
        run = self.models.get(entity_type)
        if run is not None:
            self._record_change(run, entity_id, raw, now, index)
        else:
            self._engagement_change(entity_type, entity_id, raw, now)

    def _record_change(
        self,
        run: ModelRun,
        entity_id: str,
        raw: dict[str, object],
        now: datetime,
        index: int,
    ) -> None:
        entity_type = run.config.entity_type
        previous = self.standardized.get(entity_id)
        current = standardize_fields(entity_type, raw, default_region="US", date_order="mdy")
        label = label_from_change(entity_type, previous, current.fields)
        if label is not None and previous is not None:
            self.learn(run, entity_id, label, now, index)
        self.standardized[entity_id] = current.fields
        if entity_type == "opportunity":  # a deal is also its account's engagement
            self._engagement_change(entity_type, entity_id, current.fields, now)
        if label is not None and (label.value == 1 or entity_type != "account"):
            # Converted, disqualified, won, lost, churned: nothing left to predict. A renewed
            # account goes on to its next contract decision.
            self.closed.add(entity_id)
            run.memories.pop(entity_id, None)
        if entity_id in self.closed:
            return
        self.score(run, entity_id, now)

    def _engagement_change(
        self, entity_type: str, entity_id: str, fields: dict[str, object], now: datetime
    ) -> None:
        account_of_contact = None
        if fields.get("related_type") == "contact":
            contact = self.raw.get(str(fields.get("related_id")), {})
            account = contact.get("account_id")
            account_of_contact = account if isinstance(account, str) else None
        for target_type, target_id in engagement_targets(
            entity_type, fields, account_of_contact=account_of_contact
        ):
            key = (target_type, target_id)
            self.engagement[key] = update_engagement(
                self.engagement.get(key), entity_type, entity_id, fields, occurred_at=now
            )
            run = self.models.get(target_type)
            if run is not None and target_id in self.standardized and target_id not in self.closed:
                self.score(run, target_id, now)


def replay(events: int, seed: int, rescore_hours: float) -> tuple[Replay, float]:
    simulation = CrmSimulation(seed)
    configs = (LEAD_SCORE, CHURN_RISK, WIN_PROBABILITY)
    state = Replay(
        extractor=FeatureExtractor(),
        rescore_seconds=rescore_hours * 3600.0,
        models={config.entity_type: ModelRun(config) for config in configs},
    )
    start = time.perf_counter()
    generated = [e for e in simulation.events(events) if e.expected_error is None]
    for outcome in simulation.ground_truth.outcomes:
        state.true_probability[(outcome.entity_id, outcome.index)] = outcome.probability
    for event in generated:
        state.apply(orjson.loads(event.value), event.index)
    return state, time.perf_counter() - start


def batch_auc(examples: list[Features], labels: list[int], seed: int) -> float:
    """5-fold cross-validated AUC of a batch logistic regression on the same features."""
    model = make_pipeline(
        DictVectorizer(sparse=False),
        StandardScaler(),
        LogisticRegression(C=1.0, max_iter=2000),
    )
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=seed)
    proba = cross_val_predict(model, examples, labels, cv=folds, method="predict_proba")
    return float(roc_auc_score(labels, proba[:, 1]))


def _auc(labels: list[int], scores: list[float]) -> float | None:
    pairs = [(y, s) for y, s in zip(labels, scores, strict=True) if not math.isnan(s)]
    ys = [y for y, _ in pairs]
    if len(set(ys)) < 2:
        return None
    return float(roc_auc_score(ys, [s for _, s in pairs]))


def summarize(run: ModelRun, seed: int) -> dict[str, Any]:
    n = len(run.labels)
    warm = run.config.min_labels
    report = run.validation.report()
    progressive = _auc(run.labels, run.predicted)
    batch = batch_auc(run.examples, run.labels, seed) if n >= 50 else None
    return {
        "model": run.config.name,
        "labels": n,
        "positives": sum(run.labels),
        "labels_without_prediction": run.unscored_labels,
        "progressive_auc": progressive,
        "progressive_auc_river": report["overall"]["roc_auc"],
        "progressive_auc_after_warmup": _auc(run.labels[warm:], run.predicted[warm:]),
        "batch_cv_auc": batch,
        "difference": None if progressive is None or batch is None else progressive - batch,
        "true_probability_auc": _auc(run.labels, run.truth),
        "challenger_progressive_auc": _auc(run.labels, run.challenger_predicted),
        "log_loss": report["overall"]["log_loss"],
        "brier": report["overall"]["brier"],
        "expected_calibration_error": report["expected_calibration_error"],
        "rolling_auc": report["rolling"]["roc_auc"],
        "f1_at_tier_b": report["overall"]["f1"],
        "disparity": report["disparity"],
        "predict_us": 1e6 * run.predict_seconds / max(run.predicts, 1),
        "learn_us": 1e6 * run.learn_seconds / max(n, 1),
        "predictions": run.predicts,
        "timer_rescores": run.timer_rescores,
    }


def _fmt(value: float | None) -> str:
    return "   -  " if value is None else f"{value:.4f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.models", description=__doc__)
    parser.add_argument("--events", type=int, default=DEFAULT_EVENTS)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--rescore-hours", type=float, default=24.0)
    args = parser.parse_args(argv)
    state, seconds = replay(args.events, args.seed, args.rescore_hours)
    results = [summarize(run, args.seed) for run in state.models.values()]
    print(f"{args.events} events (seed {args.seed}) replayed in {seconds:.1f} s", file=sys.stderr)
    header = "model            labels  progressive  batch-cv   diff     ceiling  challenger"
    print(header)
    for r in results:
        print(
            f"{r['model']:<16} {r['labels']:>6}  {_fmt(r['progressive_auc'])}       "
            f"{_fmt(r['batch_cv_auc'])}   {_fmt(r['difference'])}  "
            f"{_fmt(r['true_probability_auc'])}  {_fmt(r['challenger_progressive_auc'])}"
            f"   (after warm-up {_fmt(r['progressive_auc_after_warmup'])}; predict"
            f" {r['predict_us']:.0f} us, learn {r['learn_us']:.0f} us)"
        )
    summary = {
        "bench": "models",
        "events": args.events,
        "seed": args.seed,
        "rescore_hours": args.rescore_hours,
        "replay_seconds": seconds,
        "sklearn": sklearn.__version__,
        "models": {r["model"]: r for r in results},
    }
    print(orjson.dumps(summary).decode())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
