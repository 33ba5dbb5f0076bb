"""Progressive validation on tiny known sequences."""

from __future__ import annotations

import math
import pickle

import pytest

from models.scoring.validation import ProgressiveValidation, ValidationConfig, segment_values

SEQUENCE = [(1, 0.9), (0, 0.1), (1, 0.8), (0, 0.3), (1, 0.4), (0, 0.6)]


def test_metrics_on_a_known_sequence() -> None:
    validation = ProgressiveValidation(ValidationConfig(cut=0.5, window_size=2))
    steps = [validation.update(y, p) for y, p in SEQUENCE]
    overall = validation.report()["overall"]
    # Pairs (positive, negative) ranked right: 0.9 > all 3; 0.8 > all 3; 0.4 > 0.1, 0.3.
    assert overall["roc_auc"] == pytest.approx(8 / 9, abs=0.01)
    expected_log_loss = -sum(math.log(p if y else 1 - p) for y, p in SEQUENCE) / len(SEQUENCE)
    assert overall["log_loss"] == pytest.approx(expected_log_loss)
    assert overall["brier"] == pytest.approx(sum((y - p) ** 2 for y, p in SEQUENCE) / 6)
    # At 0.5: predicted positive 0.9, 0.8, 0.6 -> TP 2, FP 1, FN 1.
    assert overall["precision"] == pytest.approx(2 / 3)
    assert overall["recall"] == pytest.approx(2 / 3)
    assert overall["f1"] == pytest.approx(2 / 3)
    assert [s.misclassified for s in steps] == [False, False, False, False, True, True]
    assert steps[0].squared_error == pytest.approx(0.01)
    rolling = validation.report()["rolling"]
    assert rolling["count"] == 2
    assert rolling["log_loss"] == pytest.approx(-(math.log(0.4) + math.log(0.4)) / 2)


def test_calibration_bins() -> None:
    validation = ProgressiveValidation(ValidationConfig(calibration_bins=2))
    for y, p in SEQUENCE:
        validation.update(y, p)
    low, high = validation.calibration()
    assert (low["count"], low["observed_rate"]) == (3, pytest.approx(1 / 3))
    assert high["mean_predicted"] == pytest.approx((0.9 + 0.8 + 0.6) / 3)
    assert validation.expected_calibration_error() == pytest.approx(
        (abs(0.8 - 1) + abs(2.3 - 2)) / 6
    )


def test_segments_and_disparity() -> None:
    config = ValidationConfig(cut=0.5, segments=("region",), min_segment_labels=2)
    validation = ProgressiveValidation(config)
    for y, p in SEQUENCE[:4]:  # ranked perfectly
        validation.update(y, p, {"region": "EU"})
    for y, p in [(1, 0.2), (0, 0.7), (1, 0.3), (0, 0.8)]:  # ranked backwards
        validation.update(y, p, {"region": "US"})
    validation.update(1, 0.5, {})
    report = validation.report()
    assert report["segments"]["region"]["EU"]["roc_auc"] == pytest.approx(1.0, abs=0.01)
    assert report["segments"]["region"]["__missing__"]["count"] == 1
    disparity = report["disparity"]["region"]
    assert disparity["segments"] == 2
    assert disparity["worst_roc_auc_segment"] == "US"
    assert disparity["roc_auc_gap"] == pytest.approx(1.0, abs=0.01)


def test_segment_values_are_capped_and_state_pickles() -> None:
    config = ValidationConfig(segments=("industry",), max_segment_values=2)
    validation = ProgressiveValidation(config)
    for i in range(5):
        validation.update(i % 2, 0.5, {"industry": f"i{i}"})
    assert set(validation.segments["industry"]) == {"i0", "i1", "__other__"}
    restored = pickle.loads(pickle.dumps(validation))
    assert restored.report() == validation.report()


def test_a_restored_validation_audits_the_segments_configured_now() -> None:
    validation = ProgressiveValidation(ValidationConfig(segments=("region", "industry")))
    validation.update(1, 0.9, {"region": "EU", "industry": "retail"})
    validation.audit(("region", "source"))
    validation.update(0, 0.1, {"region": "EU", "source": "web"})
    segments = validation.report()["segments"]
    assert set(segments) == {"region", "source"}
    assert segments["region"]["EU"]["count"] == 2, "a kept attribute keeps its history"
    assert segments["source"]["web"]["count"] == 1, "a new one starts"


def test_segment_values_are_the_audited_attributes_as_strings() -> None:
    record = {"country": "DE", "employees": 40, "industry": "", "lead_source": None}
    audited = ("country", "employees", "industry", "lead_source", "plan")
    assert segment_values(record, audited) == {"country": "DE", "employees": "40"}
