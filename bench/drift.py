"""Drift monitors on synthetic streams: detection delay, false alarms, data drift, cost.

``python -m bench.drift [--seeds N] [--sweep]`` measures ``models.drift`` with its defaults:

* concept drift: labels after an abrupt rise in a model's error rate (0.25 -> 0.45, and the
  smaller 0.25 -> 0.35) until :class:`~models.drift.ModelErrorMonitor` alerts, over several
  seeds and pre-shift lengths (median, max, misses);
* false alarms per 100k labels on stationary error streams (0/1 errors at three rates, the
  Brier score of a calibrated model, and 0/1 errors after a cold start);
* data drift: :class:`~models.drift.FeatureDriftMonitor` on events whose ``amount`` mean moves
  by one standard deviation and whose ``source`` shares change, beside features that do not
  move (which must not alert), and on a stationary stream; with PSI and with KS;
* microseconds per update, and the size of a serialized state;
* with ``--sweep``, false alarms and delays at other ADWIN deltas: the default's justification;
* promotion: an :class:`~models.scoring.learning.OutcomeLearner` on leads whose conversion
  rule turns around (:func:`flipping_leads`), with and without promoting a challenger of the
  recent window after the drift alert: the decision, when it came, and the log loss of the
  predictions after the change; and promotions on the same stream without a change (none
  expected).

The last line printed is a JSON object. :func:`measure_concept_drift` is what ``bench.models``
calls with the error stream of a real model.
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from models.drift import (
    FeatureDriftMonitor,
    ModelErrorMonitor,
    NumericStatistic,
    brier,
)
from models.scoring import LEAD_SCORE
from models.scoring.learning import OutcomeLearner, TrainingExample
from models.scoring.promotion import PromotionPolicy

__all__ = ["EPOCH", "DriftMeasurement", "flipping_leads", "learn_stream", "measure_concept_drift"]

DEFAULT_SEEDS = 10
STATIONARY_LABELS = 100_000
AFTER_SHIFT = 5_000
"""Labels watched after a shift; a shift not detected by then counts as missed."""
DATA_EVENTS = 40_000
DATA_SHIFT_AT = 20_000
SHIFTED_FEATURES = ("amount", "source")
SWEPT_DELTAS = (0.0005, 0.002, 0.01, 0.05)


@dataclass(frozen=True)
class DriftMeasurement:
    """What a concept-drift monitor made of one error stream with a shift at ``shift_at``.

    ``delay`` counts labels from the first shifted one to the alert, that one included (so an
    alert on the first shifted label has delay 1); ``None`` when no alert came after the shift.
    ``false_alarms`` are the alerts before it.
    """

    shift_at: int
    labels: int
    alerts: tuple[int, ...]
    delay: int | None
    false_alarms: int


def measure_concept_drift(
    errors: Iterable[float],
    shift_at: int,
    monitor: ModelErrorMonitor | None = None,
) -> DriftMeasurement:
    """Feed ``errors`` (one per label, in label order) to ``monitor`` (a default
    :class:`ModelErrorMonitor` if none) and say when it alerted relative to ``shift_at``,
    the index of the first label after the shift (past the end for a stationary stream)."""
    monitor = monitor or ModelErrorMonitor("bench")
    alerts: list[int] = []
    labels = 0
    for index, error in enumerate(errors):
        labels = index + 1
        if monitor.update(error) is not None:
            alerts.append(index)
    after = [index for index in alerts if index >= shift_at]
    return DriftMeasurement(
        shift_at=shift_at,
        labels=labels,
        alerts=tuple(alerts),
        delay=after[0] - shift_at + 1 if after else None,
        false_alarms=sum(1 for index in alerts if index < shift_at),
    )


def zero_one_errors(
    seed: int, rate_before: float, rate_after: float, shift_at: int, total: int
) -> Iterator[float]:
    """0/1 errors of a model whose error rate jumps at ``shift_at``."""
    rng = random.Random(seed)
    for index in range(total):
        rate = rate_before if index < shift_at else rate_after
        yield float(rng.random() < rate)


def brier_errors(seed: int, total: int) -> Iterator[float]:
    """Brier scores of a calibrated model on a stationary stream: probabilities spread over
    (0, 1), each label drawn with its probability."""
    rng = random.Random(seed)
    for _ in range(total):
        probability = rng.betavariate(2.0, 5.0)
        yield brier(rng.random() < probability, probability)


def _summary(delays: list[int | None]) -> dict[str, Any]:
    found = [delay for delay in delays if delay is not None]
    return {
        "runs": len(delays),
        "median": statistics.median(found) if found else None,
        "max": max(found) if found else None,
        "missed": len(delays) - len(found),
    }


def concept_delays(seeds: int, delta: float | None = None) -> dict[str, Any]:
    """Detection delay for each jump and pre-shift length, over ``seeds`` seeds (with the
    default monitor, or one with ADWIN's ``delta`` changed)."""
    results: dict[str, Any] = {}
    for before, after in ((0.25, 0.45), (0.25, 0.35)):
        for shift_at in (1_000, 5_000, 20_000):
            runs = [
                measure_concept_drift(
                    zero_one_errors(seed, before, after, shift_at, shift_at + AFTER_SHIFT),
                    shift_at,
                    _monitor(delta),
                )
                for seed in range(seeds)
            ]
            summary = _summary([run.delay for run in runs])
            summary["false_alarms_before_shift"] = sum(run.false_alarms for run in runs)
            results[f"{before}->{after} after {shift_at}"] = summary
    return results


def _stationary_zero_one(rate: float) -> Callable[[int], Iterable[float]]:
    return lambda seed: zero_one_errors(seed, rate, rate, STATIONARY_LABELS, STATIONARY_LABELS)


def _cold_start(seed: int) -> Iterator[float]:
    """A model that starts cold: its error falls from 0.45 to 0.25 over 2,000 labels, then
    stays. ADWIN cuts the fall off as an improvement, and the monitor then compares the fresh
    window with the level it kept: a false alarm there would come from that comparison."""
    rng = random.Random(seed)
    for index in range(STATIONARY_LABELS):
        rate = 0.45 - 0.2 * min(index, 2000) / 2000
        yield float(rng.random() < rate)


def _monitor(delta: float | None) -> ModelErrorMonitor:
    if delta is None:
        return ModelErrorMonitor("bench")
    return ModelErrorMonitor("bench", delta=delta)


def concept_false_alarms(seeds: int, delta: float | None = None) -> dict[str, Any]:
    """Alerts on stationary error streams, per 100k labels, each stream of 100k labels."""
    streams: dict[str, Callable[[int], Iterable[float]]] = {
        f"zero_one {rate}": _stationary_zero_one(rate) for rate in (0.05, 0.25, 0.5)
    }
    streams["brier calibrated"] = lambda seed: brier_errors(seed, STATIONARY_LABELS)
    streams["zero_one cold start 0.45->0.25"] = _cold_start
    results: dict[str, Any] = {}
    for name, make in streams.items():
        alarms = [
            len(measure_concept_drift(make(1000 + seed), STATIONARY_LABELS, _monitor(delta)).alerts)
            for seed in range(seeds)
        ]
        results[name] = {
            "labels": seeds * STATIONARY_LABELS,
            "alarms": sum(alarms),
            "per_100k": sum(alarms) * 100_000 / (seeds * STATIONARY_LABELS),
            "max_per_stream": max(alarms),
        }
    return results


def delta_sweep(seeds: int) -> dict[str, Any]:
    """Why the default delta: false alarms and delays at the default and at looser ones."""
    results: dict[str, Any] = {}
    for delta in SWEPT_DELTAS:
        alarms = concept_false_alarms(seeds, delta)
        delays = concept_delays(seeds, delta)
        results[str(delta)] = {
            "false_alarms": sum(summary["alarms"] for summary in alarms.values()),
            "stationary_labels": sum(summary["labels"] for summary in alarms.values()),
            "delay_median": {name: summary["median"] for name, summary in delays.items()},
            "delay_max": {name: summary["max"] for name, summary in delays.items()},
        }
        print(f"delta {delta}: {results[str(delta)]}", flush=True)
    return results


def crm_events(seed: int, total: int, shift_at: int | None) -> Iterator[dict[str, object]]:
    """Lead-like feature dicts; from ``shift_at`` on, ``amount`` moves up one standard
    deviation and ``source`` tilts toward web. The other features never move."""
    rng = random.Random(seed)
    industries = ["tech", "retail", "finance", "health", "energy", "media", "public", "other"]
    for index in range(total):
        shifted = shift_at is not None and index >= shift_at
        yield {
            "amount": rng.gauss(11.0 if shifted else 10.0, 1.0),
            "employees": rng.lognormvariate(4.0, 1.0),
            "days_since_activity": float(rng.randint(0, 90)),
            "source": rng.choices(
                ["web", "event", "partner", "referral"],
                [0.5, 0.2, 0.2, 0.1] if shifted else [0.3, 0.3, 0.25, 0.15],
            )[0],
            "industry": rng.choice(industries),
            "has_phone": rng.random() < 0.7,
        }


def data_drift(seeds: int, statistic: NumericStatistic) -> dict[str, Any]:
    """Shifted streams: which features alerted and after how many events; stationary
    streams: alerts per 100k events."""
    alerted: dict[str, int] = {}
    delays: dict[str, list[int | None]] = {name: [] for name in SHIFTED_FEATURES}
    false_alerts = 0
    for seed in range(seeds):
        monitor = FeatureDriftMonitor(numeric_statistic=statistic)
        first: dict[str, int] = {}
        for index, event in enumerate(crm_events(seed, DATA_EVENTS, DATA_SHIFT_AT)):
            for alert in monitor.update(event):
                first.setdefault(alert.subject, index)
                if index < DATA_SHIFT_AT:
                    false_alerts += 1
        for name in first:
            alerted[name] = alerted.get(name, 0) + 1
        for name in SHIFTED_FEATURES:
            at = first.get(name)
            delays[name].append(at - DATA_SHIFT_AT + 1 if at is not None else None)
    stationary_alerts = 0
    stationary_events = seeds * STATIONARY_LABELS
    for seed in range(seeds):
        monitor = FeatureDriftMonitor(numeric_statistic=statistic)
        for event in crm_events(500 + seed, STATIONARY_LABELS, None):
            stationary_alerts += len(monitor.update(event))
    return {
        "runs": seeds,
        "features_alerted_runs": dict(sorted(alerted.items())),
        "unmoved_features_alerted": sorted(set(alerted) - set(SHIFTED_FEATURES)),
        "delay_events": {name: _summary(found) for name, found in delays.items()},
        "alerts_before_shift": false_alerts,
        "stationary_alerts_per_100k": stationary_alerts * 100_000 / stationary_events,
    }


def costs() -> dict[str, Any]:
    """Microseconds per update and serialized state sizes, with the default parameters."""
    errors = list(zero_one_errors(1, 0.25, 0.25, 200_000, 200_000))
    monitor = ModelErrorMonitor("bench")
    started = time.perf_counter()
    for error in errors:
        monitor.update(error)
    error_us = (time.perf_counter() - started) * 1e6 / len(errors)
    events = list(crm_events(2, 50_000, None))
    timed: dict[str, float] = {}
    sizes: dict[str, int] = {}
    statistics_: tuple[NumericStatistic, ...] = ("psi", "ks")
    for statistic in statistics_:
        features = FeatureDriftMonitor(numeric_statistic=statistic)
        started = time.perf_counter()
        for event in events:
            features.update(event)
        timed[statistic] = (time.perf_counter() - started) * 1e6 / len(events)
        sizes[f"features_{statistic}"] = len(features.to_bytes())
    started = time.perf_counter()
    for _ in range(100):
        ModelErrorMonitor.from_bytes(monitor.to_bytes())
    round_trip_us = (time.perf_counter() - started) * 1e6 / 100
    sizes["model_error"] = len(monitor.to_bytes())
    per_event = len(events[0])
    return {
        "model_error_update_us": round(error_us, 3),
        "model_error_round_trip_us": round(round_trip_us, 1),
        "feature_event_us": {name: round(us, 2) for name, us in timed.items()},
        "feature_value_us": {name: round(us / per_event, 2) for name, us in timed.items()},
        "features_per_event": per_event,
        "state_bytes": sizes,
    }


LeadStream = Iterator[tuple[dict[str, float | str], int]]
PROMOTION_FLIP_AT = 3000
PROMOTION_AFTER = 2000
_SOURCES = {"web": 0.5, "event": -0.5, "referral": 1.0, "cold_call": -1.0}
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
"""When :func:`learn_stream` labels its first example; each next one a minute later."""


def flipping_leads(count: int, *, flip_at: int, seed: int = 1) -> LeadStream:
    """Leads whose conversion follows a logistic rule that turns around at ``flip_at``: what
    made a lead likely to convert makes it unlikely after (an abrupt concept change)."""
    rng = random.Random(seed)
    for index in range(count):
        sign = 1.0 if index < flip_at else -1.0
        employees, visits = rng.gauss(0.0, 1.0), rng.gauss(0.0, 1.0)
        source = rng.choice(list(_SOURCES))
        z = sign * (1.5 * employees - visits + _SOURCES[source])
        label = int(rng.random() < 1.0 / (1.0 + math.exp(1.0 - z)))
        yield {"employees": employees, "visits": visits, "lead_source": source}, label


def learn_stream(
    learner: OutcomeLearner, stream: LeadStream, on_alert: Callable[[int], None] | None = None
) -> list[float]:
    """Learn every label as the service does (predicted just before by the current champion,
    then learned); the log loss of each prediction. ``on_alert`` hears each concept alert's
    index."""
    losses = []
    for index, (features, label) in enumerate(stream):
        probability = learner.scorer.score_one(features).probability
        example = TrainingExample(
            model=learner.config.name,
            label=label,
            outcome="converted",
            features=features,
            probability=probability,
            model_version=learner.version,
            labelled_at=EPOCH + timedelta(minutes=index),
        )
        for alert in learner.learn(example):
            if alert.kind == "concept" and on_alert is not None:
                on_alert(index)
        losses.append(-math.log(max(1e-15, probability if label else 1.0 - probability)))
    return losses


def _lead_learner(enabled: bool) -> OutcomeLearner:
    return OutcomeLearner(
        LEAD_SCORE,
        None,
        every_labels=10**9,
        every_seconds=float("inf"),
        now=0.0,
        policy=PromotionPolicy(enabled=enabled),
    )


@dataclass(frozen=True)
class PromotionRun:
    """One seed of :func:`promotion`: delays count labels from the first changed one (1 is
    that label); log losses are (promoting, keeping) means over a span after the change."""

    alert_delay: int | None
    decision: str | None
    decision_delay: int | None
    log_loss_after: tuple[float, float]
    log_loss_500_1500: tuple[float, float]


def _promotion_run(seed: int) -> PromotionRun:
    total = PROMOTION_FLIP_AT + PROMOTION_AFTER
    alerts: list[int] = []
    promoting, keeping = _lead_learner(True), _lead_learner(False)
    promoted = learn_stream(
        promoting, flipping_leads(total, flip_at=PROMOTION_FLIP_AT, seed=seed), alerts.append
    )
    kept = learn_stream(keeping, flipping_leads(total, flip_at=PROMOTION_FLIP_AT, seed=seed))
    decision = promoting.checkpoint(EPOCH, now=0.0).decision
    decided_label = (
        None
        if decision is None
        else (datetime.fromisoformat(decision["decided_at"]) - EPOCH) // timedelta(minutes=1)
    )

    def means(span: slice) -> tuple[float, float]:
        return statistics.mean(promoted[span]), statistics.mean(kept[span])

    return PromotionRun(
        alert_delay=alerts[0] - PROMOTION_FLIP_AT + 1 if alerts else None,
        decision=None if decision is None else decision["action"],
        decision_delay=None if decided_label is None else decided_label - PROMOTION_FLIP_AT + 1,
        log_loss_after=means(slice(PROMOTION_FLIP_AT, total)),
        log_loss_500_1500=means(slice(PROMOTION_FLIP_AT + 500, PROMOTION_FLIP_AT + 1500)),
    )


def promotion(seeds: int) -> dict[str, Any]:
    """Promotion after an abrupt concept change, against keeping the champion, per seed; and
    decisions on the same streams without the change."""
    runs = [_promotion_run(seed) for seed in range(1, seeds + 1)]
    quiet_decisions = 0
    for seed in range(1, seeds + 1):
        quiet = _lead_learner(True)
        total = PROMOTION_FLIP_AT + PROMOTION_AFTER
        learn_stream(quiet, flipping_leads(total, flip_at=total, seed=seed))
        quiet_decisions += quiet.checkpoint(EPOCH, now=0.0).decision is not None
    ratios = [run.log_loss_500_1500[0] / run.log_loss_500_1500[1] for run in runs]
    delays = [run.decision_delay for run in runs if run.decision_delay is not None]
    return {
        "runs": len(runs),
        "promoted": sum(run.decision == "promoted" for run in runs),
        "median_alert_delay_labels": statistics.median(
            run.alert_delay for run in runs if run.alert_delay is not None
        ),
        "median_decision_delay_labels": statistics.median(delays) if delays else None,
        "median_log_loss_after_promoting": round(
            statistics.median(run.log_loss_after[0] for run in runs), 4
        ),
        "median_log_loss_after_keeping": round(
            statistics.median(run.log_loss_after[1] for run in runs), 4
        ),
        "median_ratio_500_1500": round(statistics.median(ratios), 3),
        "worst_ratio_500_1500": round(max(ratios), 3),
        "decisions_without_change": quiet_decisions,
        "per_seed": [asdict(run) for run in runs],
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seeds", type=int, default=DEFAULT_SEEDS)
    parser.add_argument(
        "--sweep", action="store_true", help=f"also measure ADWIN deltas {SWEPT_DELTAS}"
    )
    args = parser.parse_args(argv)
    started = time.perf_counter()
    report: dict[str, Any] = {"seeds": args.seeds}
    report["concept_delay_labels"] = concept_delays(args.seeds)
    for name, summary in report["concept_delay_labels"].items():
        print(f"concept delay {name}: {summary}", flush=True)
    report["concept_false_alarms"] = concept_false_alarms(args.seeds)
    for name, summary in report["concept_false_alarms"].items():
        print(f"concept false alarms {name}: {summary}", flush=True)
    if args.sweep:
        report["delta_sweep"] = delta_sweep(args.seeds)
    report["data_drift"] = {}
    numeric_statistics: tuple[NumericStatistic, ...] = ("psi", "ks")
    for statistic in numeric_statistics:
        result = data_drift(args.seeds, statistic)
        report["data_drift"][statistic] = result
        print(f"data drift {statistic}: {result}", flush=True)
    report["costs"] = costs()
    print(f"costs: {report['costs']}", flush=True)
    report["promotion"] = promotion(min(args.seeds, 5))
    summary = {k: v for k, v in report["promotion"].items() if k != "per_seed"}
    print(f"promotion: {summary}", flush=True)
    delays = report["concept_delay_labels"]
    report["acceptance"] = {
        "abrupt_shift_max_delay_labels": max(
            summary["max"] or 10**9 for name, summary in delays.items() if "0.45" in name
        ),
        "abrupt_shift_within_500": all(
            summary["missed"] == 0 and (summary["max"] or 10**9) <= 500
            for name, summary in delays.items()
            if "0.45" in name
        ),
        "max_false_alarms_per_100k": max(
            summary["max_per_stream"] for summary in report["concept_false_alarms"].values()
        ),
    }
    report["seconds"] = round(time.perf_counter() - started, 1)
    print(orjson.dumps(report).decode())


if __name__ == "__main__":
    main()
