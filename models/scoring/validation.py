"""Progressive (predict-then-learn) validation of an outcome model, with a bias audit.

An online model has no held-out test set: each label is first used to *judge* the
prediction the model made before it (the score kept in the entity's
:class:`~models.scoring.labels.PredictionMemory`) and only then to learn. Fed that way,
:class:`ProgressiveValidation` reports what an ML engineer watches:

* ROC AUC (ranking), log loss and Brier score (probability quality), and precision, recall
  and F1 of "predicted positive" at the tier cut sales ops act on;
* a calibration table (predicted vs observed rate per probability bin, and its expected
  calibration error);
* all of it overall and over the latest ``window_size`` labels (River's rolling metrics),
  since a model that was good last month may not be now;
* per value of each configured segment attribute (region, industry, lead source, ...) with
  the gap between the best and the worst segment (bias audit): a model may rank well
  overall and badly for one region.

River's metrics are used where they exist (``ROCAUC``, ``RollingROCAUC``, ``LogLoss``,
``MSE`` of the probability as the Brier score, ``Precision``/``Recall``/``F1``,
``utils.Rolling``). :meth:`ProgressiveValidation.update` returns each label's errors
(:class:`EvaluationStep`): that is the seam for concept-drift detectors (ADWIN,
Page-Hinkley in ``models/drift.py``), which watch the stream of model errors.

>>> validation = ProgressiveValidation(ValidationConfig(cut=0.5, segments=("region",)))
>>> for y, p, region in [(1, 0.9, "EU"), (0, 0.2, "EU"), (1, 0.6, "US"), (0, 0.7, "US")]:
...     step = validation.update(y, p, {"region": region})
>>> report = validation.report()
>>> report["overall"]["roc_auc"], report["overall"]["precision"], report["overall"]["count"]
(0.75, 0.6666666666666666, 4)
>>> round(step.log_loss, 4), round(step.squared_error, 2), step.misclassified
(1.204, 0.49, True)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Final

from river import metrics as river_metrics
from river import utils as river_utils

__all__ = ["EvaluationStep", "ProgressiveValidation", "ValidationConfig", "segment_values"]

# River's metric constructors and methods are partly untyped; they are used as Any here.
metrics: Any = river_metrics
utils: Any = river_utils

OTHER: Final = "__other__"
MISSING: Final = "__missing__"


@dataclass(frozen=True, slots=True)
class ValidationConfig:
    """How a model is judged.

    ``cut``: the probability at or above which a record counts as predicted positive (the
    tier cut sales ops act on, e.g. tier B's 45 -> 0.45). ``window_size``: labels in the
    rolling view. ``segments``: the attributes audited. ``max_segment_values``: values
    tracked per attribute (later ones pool as ``__other__``, so a free-form attribute cannot
    grow the state). ``min_segment_labels``: labels a segment needs to count in the
    disparity. ``calibration_bins``: equal-width probability bins. ``auc_thresholds``: River's
    ``ROCAUC`` resolution (100 is within about 0.001 of the exact AUC).
    """

    cut: float = 0.45
    window_size: int = 1000
    segments: tuple[str, ...] = ()
    max_segment_values: int = 20
    min_segment_labels: int = 30
    calibration_bins: int = 10
    auc_thresholds: int = 100

    def __post_init__(self) -> None:
        if not 0.0 < self.cut < 1.0:
            raise ValueError(f"cut must be within (0, 1), got {self.cut}")
        if self.window_size < 1 or self.calibration_bins < 1 or self.max_segment_values < 1:
            raise ValueError("window_size, calibration_bins and max_segment_values must be >= 1")


@dataclass(frozen=True, slots=True)
class EvaluationStep:
    """One label's errors, for drift detectors on model error: log loss, squared error
    (the Brier term) and whether the prediction at the cut was wrong."""

    log_loss: float
    squared_error: float
    misclassified: bool


_EPS: Final = 1e-15


def _float(value: Any) -> float:
    """River returns NumPy floats in places; reports must be plain JSON numbers."""
    return float(value)


def _log_loss(y: bool, p: float) -> float:
    p = min(max(p, _EPS), 1.0 - _EPS)
    return -math.log(p if y else 1.0 - p)


class _Metrics:
    """The metrics every slice reports, updated alike whether kept forever or rolling."""

    def __init__(
        self,
        cut: float,
        *,
        roc_auc: Any,
        log_loss: Any,
        brier: Any,
        precision: Any,
        recall: Any,
        f1: Any,
    ) -> None:
        self.cut = cut
        self.roc_auc, self.log_loss, self.brier = roc_auc, log_loss, brier
        self.precision, self.recall, self.f1 = precision, recall, f1
        self.count = 0

    def update(self, y: bool, p: float) -> None:
        predicted = p >= self.cut
        self.roc_auc.update(y, p)
        self.log_loss.update(y, p)
        self.brier.update(float(y), p)
        for metric in (self.precision, self.recall, self.f1):
            metric.update(y, predicted)
        self.count += 1

    def _scores(self) -> dict[str, Any]:
        return {
            "precision": _float(self.precision.get()),
            "recall": _float(self.recall.get()),
            "f1": _float(self.f1.get()),
        }


class _Summary(_Metrics):
    """The metrics of one slice of labels (everything, one segment)."""

    def __init__(self, cut: float, auc_thresholds: int) -> None:
        super().__init__(
            cut,
            roc_auc=metrics.ROCAUC(n_thresholds=auc_thresholds),
            log_loss=metrics.LogLoss(),
            brier=metrics.MSE(),
            precision=metrics.Precision(),
            recall=metrics.Recall(),
            f1=metrics.F1(),
        )
        self.positives = 0
        self.predicted_positive = 0
        self.probability_sum = 0.0

    def update(self, y: bool, p: float) -> None:
        super().update(y, p)
        self.positives += y
        self.predicted_positive += p >= self.cut
        self.probability_sum += p

    def report(self) -> dict[str, Any]:
        n = self.count
        both = 0 < self.positives < n  # AUC needs both classes
        return {
            "count": n,
            "positives": self.positives,
            "roc_auc": _float(self.roc_auc.get()) if both else None,
            "log_loss": _float(self.log_loss.get()) if n else None,
            "brier": _float(self.brier.get()) if n else None,
            **self._scores(),
            "positive_rate": self.positives / n if n else None,
            "predicted_positive_rate": self.predicted_positive / n if n else None,
            "mean_probability": self.probability_sum / n if n else None,
        }


class _RollingSummary(_Metrics):
    """The same metrics over the latest ``window_size`` labels."""

    def __init__(self, cut: float, window_size: int) -> None:
        super().__init__(
            cut,
            roc_auc=metrics.RollingROCAUC(window_size=window_size),
            log_loss=utils.Rolling(metrics.LogLoss, window_size=window_size),
            brier=utils.Rolling(metrics.MSE, window_size=window_size),
            precision=utils.Rolling(metrics.Precision, window_size=window_size),
            recall=utils.Rolling(metrics.Recall, window_size=window_size),
            f1=utils.Rolling(metrics.F1, window_size=window_size),
        )

    def report(self) -> dict[str, Any]:
        return {
            "count": min(self.count, self.roc_auc.window_size),
            "roc_auc": _float(self.roc_auc.get()) if self.count else None,
            "log_loss": _float(self.log_loss.get()) if self.count else None,
            "brier": _float(self.brier.get()) if self.count else None,
            **self._scores(),
        }


class ProgressiveValidation:
    """Metrics of one model's predictions, fed one label at a time (see the module doc).

    Feed it the probability the model gave *before* learning the label. Picklable, so it
    can travel in the model's checkpoint.

    Parameters
    ----------
    config
        Cut, window, segments and bins.
    """

    def __init__(self, config: ValidationConfig | None = None) -> None:
        self.config = config or ValidationConfig()
        self.overall = _Summary(self.config.cut, self.config.auc_thresholds)
        self.rolling = _RollingSummary(self.config.cut, self.config.window_size)
        bins = self.config.calibration_bins
        self.bin_counts = [0] * bins
        self.bin_positives = [0] * bins
        self.bin_probability = [0.0] * bins
        self.segments: dict[str, dict[str, _Summary]] = {n: {} for n in self.config.segments}

    def update(
        self, label: int, probability: float, segments: Mapping[str, object] | None = None
    ) -> EvaluationStep:
        """Judge one prediction by its label; returns the errors for drift detectors."""
        y = bool(label)
        p = min(max(float(probability), 0.0), 1.0)
        self.overall.update(y, p)
        self.rolling.update(y, p)
        index = min(int(p * len(self.bin_counts)), len(self.bin_counts) - 1)
        self.bin_counts[index] += 1
        self.bin_positives[index] += y
        self.bin_probability[index] += p
        for name, by_value in self.segments.items():
            value = self._segment_value(by_value, (segments or {}).get(name))
            if value not in by_value:
                by_value[value] = _Summary(self.config.cut, self.config.auc_thresholds)
            by_value[value].update(y, p)
        return EvaluationStep(
            log_loss=_log_loss(y, p),
            squared_error=(float(y) - p) ** 2,
            misclassified=(p >= self.config.cut) != y,
        )

    def _segment_value(self, by_value: Mapping[str, _Summary], raw: object) -> str:
        if raw is None or raw == "":
            return MISSING
        value = str(raw)
        if value in by_value or len(by_value) < self.config.max_segment_values:
            return value
        return OTHER

    def audit(self, segments: tuple[str, ...]) -> None:
        """Audit these attributes from now on: a deployment's setting may change between
        two runs of a restored model. Kept attributes keep their history; new ones start."""
        self.config = replace(self.config, segments=segments)
        self.segments = {name: self.segments.get(name, {}) for name in segments}

    @property
    def count(self) -> int:
        """Labels judged so far."""
        return self.overall.count

    def calibration(self) -> list[dict[str, Any]]:
        """Per probability bin: its range, labels, mean predicted and observed rate."""
        bins = len(self.bin_counts)
        return [
            {
                "low": i / bins,
                "high": (i + 1) / bins,
                "count": n,
                "mean_predicted": self.bin_probability[i] / n if n else None,
                "observed_rate": self.bin_positives[i] / n if n else None,
            }
            for i, n in enumerate(self.bin_counts)
        ]

    def expected_calibration_error(self) -> float | None:
        """The label-weighted mean gap between predicted and observed rates over bins."""
        total = sum(self.bin_counts)
        if not total:
            return None
        return (
            sum(
                abs(self.bin_probability[i] - self.bin_positives[i])
                for i in range(len(self.bin_counts))
            )
            / total
        )

    def disparity(self) -> dict[str, dict[str, Any]]:
        """Per audited attribute, over segments with at least ``min_segment_labels`` labels:
        the AUC gap (best minus worst, and which is worst), and the gaps in predicted-positive
        rate (who gets called) and in calibration (mean predicted minus observed rate)."""
        out: dict[str, dict[str, Any]] = {}
        for name, by_value in self.segments.items():
            reports = {
                value: summary.report()
                for value, summary in by_value.items()
                if summary.count >= self.config.min_segment_labels
            }
            aucs = {v: r["roc_auc"] for v, r in reports.items() if r["roc_auc"] is not None}
            rates = [r["predicted_positive_rate"] for r in reports.values()]
            bias = [r["mean_probability"] - r["positive_rate"] for r in reports.values()]
            out[name] = {
                "segments": len(reports),
                "roc_auc_gap": max(aucs.values()) - min(aucs.values()) if aucs else None,
                "worst_roc_auc_segment": min(aucs, key=aucs.__getitem__) if aucs else None,
                "predicted_positive_rate_gap": max(rates) - min(rates) if rates else None,
                "calibration_gap": max(bias) - min(bias) if bias else None,
            }
        return out

    def report(self) -> dict[str, Any]:
        """Everything, JSON-ready: overall, rolling, calibration, segments and disparity."""
        return {
            "overall": self.overall.report(),
            "rolling": self.rolling.report(),
            "calibration": self.calibration(),
            "expected_calibration_error": self.expected_calibration_error(),
            "segments": {
                name: {value: summary.report() for value, summary in by_value.items()}
                for name, by_value in self.segments.items()
            },
            "disparity": self.disparity(),
        }


def segment_values(record: Mapping[str, object], names: tuple[str, ...]) -> dict[str, str]:
    """The audited attributes of a record as the prediction memory keeps them (strings;
    missing ones left out, which the audit counts as ``__missing__``)."""
    return {name: str(value) for name in names if (value := record.get(name)) not in (None, "")}
