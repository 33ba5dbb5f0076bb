"""Drift monitors: the acceptance bounds on concept drift, data drift naming the right
features, state that resumes identically, bounded windows, and no crash on any input."""

from __future__ import annotations

import math
import random
from collections.abc import Iterator

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.drift import (
    FeatureDriftMonitor,
    ModelErrorMonitor,
    ks_statistic,
    misclassification,
    psi,
)

SHIFT_AT = 3_000


def zero_one_errors(
    seed: int, before: float, after: float, shift_at: int, total: int
) -> list[float]:
    rng = random.Random(seed)
    return [float(rng.random() < (before if i < shift_at else after)) for i in range(total)]


def alert_indices(monitor: ModelErrorMonitor, errors: list[float]) -> list[int]:
    return [i for i, error in enumerate(errors) if monitor.update(error) is not None]


def events(seed: int, total: int, shift_at: int | None) -> Iterator[dict[str, object]]:
    """``amount`` moves one standard deviation and ``source`` tilts to web at ``shift_at``;
    ``employees``, ``industry`` and ``has_phone`` never move."""
    rng = random.Random(seed)
    for i in range(total):
        shifted = shift_at is not None and i >= shift_at
        yield {
            "amount": rng.gauss(1.0 if shifted else 0.0, 1.0),
            "employees": rng.lognormvariate(4.0, 1.0),
            "source": rng.choices(
                ["web", "event", "partner"], [0.6, 0.2, 0.2] if shifted else [0.3, 0.4, 0.3]
            )[0],
            "industry": rng.choice(["tech", "retail", "finance", "health"]),
            "has_phone": rng.random() < 0.7,
        }


@pytest.mark.parametrize("seed", range(10))
def test_abrupt_error_rise_is_detected_within_500_labels(seed: int) -> None:
    errors = zero_one_errors(seed, 0.25, 0.45, SHIFT_AT, SHIFT_AT + 1_000)
    alerts = alert_indices(ModelErrorMonitor("lead_score"), errors)
    assert alerts, "the shift was not detected"
    assert alerts[0] >= SHIFT_AT, "false alarm before the shift"
    assert alerts[0] - SHIFT_AT + 1 <= 500


@pytest.mark.parametrize(("seed", "rate"), [(0, 0.25), (1, 0.05), (2, 0.5)])
def test_stationary_error_stream_of_100k_labels_raises_at_most_one_alarm(
    seed: int, rate: float
) -> None:
    errors = zero_one_errors(100 + seed, rate, rate, 100_000, 100_000)
    assert len(alert_indices(ModelErrorMonitor("lead_score"), errors)) <= 1


def test_concept_alert_names_model_statistic_and_windows() -> None:
    monitor = ModelErrorMonitor("churn")
    errors = zero_one_errors(4, 0.1, 0.6, 2_000, 3_000)
    alert = next(a for a in map(monitor.update, errors) if a is not None)
    assert alert.kind == "concept"
    assert alert.subject == "churn"
    assert alert.statistic == "adwin_error_rise"
    assert alert.threshold == monitor.delta
    assert alert.reference_mean is not None
    assert alert.current_mean is not None
    assert alert.current_mean > alert.reference_mean
    assert alert.value == pytest.approx(alert.current_mean - alert.reference_mean)
    assert alert.reference_size > 0
    assert alert.current_size > 0
    assert alert.to_dict()["subject"] == "churn"


def test_a_falling_error_is_an_improvement_not_an_alert() -> None:
    monitor = ModelErrorMonitor("lead_score")
    errors = zero_one_errors(5, 0.5, 0.1, 2_000, 4_000)
    assert alert_indices(monitor, errors) == []
    assert monitor.improvements >= 1


def test_misclassification_is_the_zero_one_error() -> None:
    assert misclassification(True, 0.9) == 0.0
    assert misclassification(False, 0.9) == 1.0
    assert misclassification(True, 0.2, cut=0.1) == 0.0


@pytest.mark.parametrize("statistic", ["psi", "ks"])
def test_shifted_features_are_named_and_stable_ones_are_not(statistic: str) -> None:
    monitor = FeatureDriftMonitor(
        reference_size=500,
        window_size=500,
        numeric_statistic="ks" if statistic == "ks" else "psi",
    )
    alerts = [a for event in events(1, 6_000, SHIFT_AT) for a in monitor.update(event)]
    named = {a.subject: a for a in alerts}
    assert set(named) == {"amount", "source"}
    assert all(a.kind == "data" and a.value > a.threshold for a in alerts)
    assert named["amount"].statistic == statistic
    assert named["source"].statistic == "psi"
    assert named["amount"].reference_size == 500
    assert named["amount"].current_size == 500
    assert named["amount"].current_mean is not None
    assert named["amount"].reference_mean is not None
    assert named["amount"].current_mean > named["amount"].reference_mean + 0.2
    report = {drift.feature: drift for drift in monitor.report()}
    assert report["amount"].drifted
    assert report["source"].drifted
    assert not report["employees"].drifted
    assert not report["industry"].drifted


def test_a_lasting_shift_alerts_once_while_the_reference_is_kept() -> None:
    monitor = FeatureDriftMonitor(reference_size=300, window_size=300, check_every=10)
    rng = random.Random(2)
    values = [rng.gauss(0.0, 1.0) for _ in range(1_000)] + [
        rng.gauss(3.0, 1.0) for _ in range(3_000)
    ]
    alerts = [a for value in values for a in monitor.update({"amount": value})]
    assert len(alerts) == 1


def test_a_rolled_reference_accepts_the_new_normal_and_alerts_on_the_next_move() -> None:
    monitor = FeatureDriftMonitor(
        reference_size=300, window_size=300, check_every=10, on_alert="roll"
    )
    rng = random.Random(3)
    means = [0.0] * 1_000 + [3.0] * 2_000 + [-3.0] * 2_000
    alerts = [a for mean in means for a in monitor.update({"amount": rng.gauss(mean, 1.0)})]
    assert [a.subject for a in alerts] == ["amount", "amount"]
    assert alerts[1].reference_mean is not None
    assert alerts[1].reference_mean > 2.9  # the new normal, not a mix with the old one
    assert alerts[1].observed > 3_000


def test_constant_reference_still_sees_a_move_either_way() -> None:
    for moved in (-1.0, 1.0):
        monitor = FeatureDriftMonitor(reference_size=100, window_size=100, check_every=1)
        values = [5.0] * 200 + [5.0 + moved] * 200
        assert [a.subject for v in values for a in monitor.update({"x": v})] == ["x"]


def _run(monitor: FeatureDriftMonitor, stream: list[dict[str, object]]) -> list[object]:
    return [a for event in stream for a in monitor.update(event)]


@pytest.mark.parametrize("cut", [200, 3_100])  # reference still filling / both windows full
@pytest.mark.parametrize("statistic", ["psi", "ks"])
def test_feature_monitor_state_round_trip_continues_identically(cut: int, statistic: str) -> None:
    stream = list(events(7, 6_000, SHIFT_AT))
    monitor = FeatureDriftMonitor(
        reference_size=500,
        window_size=500,
        on_alert="roll",
        numeric_statistic="ks" if statistic == "ks" else "psi",
    )
    _run(monitor, stream[:cut])
    restored = FeatureDriftMonitor.from_bytes(monitor.to_bytes())
    assert restored.to_bytes() == monitor.to_bytes()
    expected = _run(monitor, stream[cut:])
    assert expected  # the shift lies ahead of the cut
    assert _run(restored, stream[cut:]) == expected
    assert restored.report() == monitor.report()
    assert restored.to_bytes() == monitor.to_bytes()


@pytest.mark.parametrize("cut", [10, 2_500, 3_050])
def test_model_error_monitor_state_round_trip_continues_identically(cut: int) -> None:
    errors = zero_one_errors(8, 0.25, 0.45, SHIFT_AT, 6_000)
    monitor = ModelErrorMonitor("lead_score")
    for error in errors[:cut]:
        monitor.update(error)
    restored = ModelErrorMonitor.from_bytes(monitor.to_bytes())
    tail = errors[cut:]
    expected = [monitor.update(error) for error in tail]
    assert any(expected)
    assert [restored.update(error) for error in tail] == expected
    assert restored.to_bytes() == monitor.to_bytes()


def test_model_error_state_round_trip_right_after_an_alert() -> None:
    errors = zero_one_errors(9, 0.1, 0.7, 1_000, 3_000)
    monitor = ModelErrorMonitor("lead_score")
    cut = next(i for i, error in enumerate(errors) if monitor.update(error)) + 1
    restored = ModelErrorMonitor.from_bytes(monitor.to_bytes())
    assert [restored.update(e) for e in errors[cut:]] == [monitor.update(e) for e in errors[cut:]]
    assert restored.window == monitor.window


def test_a_version_1_state_loads_without_its_kept_level() -> None:
    monitor = ModelErrorMonitor("m")
    for error in zero_one_errors(2, 0.2, 0.2, 500, 500):
        monitor.update(error)
    state = orjson.loads(monitor.to_bytes())
    state["version"] = 1
    del state["reference"]
    restored = ModelErrorMonitor.from_bytes(orjson.dumps(state))
    assert (restored.labels, restored.window) == (monitor.labels, monitor.window)


def test_states_refuse_other_versions_and_other_formats() -> None:
    features = FeatureDriftMonitor().to_bytes()
    model = ModelErrorMonitor("m").to_bytes()
    with pytest.raises(ValueError, match="version"):
        FeatureDriftMonitor.from_bytes(features.replace(b'"version":2', b'"version":99'))
    with pytest.raises(ValueError, match="model_error"):
        ModelErrorMonitor.from_bytes(features)
    with pytest.raises(ValueError, match="features"):
        FeatureDriftMonitor.from_bytes(model)
    with pytest.raises(ValueError, match="not a drift monitor state"):
        FeatureDriftMonitor.from_bytes(b"\x80garbage")


def test_windows_keep_memory_bounded() -> None:
    monitor = FeatureDriftMonitor(
        reference_size=200, window_size=300, max_categories=5, max_features=4
    )
    rng = random.Random(11)
    sizes = []
    for i in range(20_000):
        monitor.update(
            {
                "amount": rng.gauss(0.0, 1.0),
                "owner": f"user-{rng.randrange(10**6)}",  # an id posing as a category
                "source": rng.choice(["web", "event"]),
                "stage": rng.choice(["new", "open"]),
                "late": rng.random(),  # a fifth feature: over max_features
            }
        )
        if i in (9_999, 19_999):
            sizes.append(len(monitor.to_bytes()))
    report = {drift.feature: drift for drift in monitor.report()}
    assert set(report) == {"amount", "owner", "source", "stage"}
    assert all(d.current_size <= 300 and d.reference_size <= 200 for d in report.values())
    windows = monitor._features["owner"]
    assert len(windows.reference_counts) == 5 + 1
    assert windows.reference == []
    assert sizes[1] <= sizes[0] * 1.01


def test_model_error_window_stays_small_in_memory_on_a_long_stream() -> None:
    monitor = ModelErrorMonitor("lead_score")
    sizes = []
    for i, error in enumerate(zero_one_errors(12, 0.3, 0.3, 200_000, 200_000)):
        monitor.update(error)
        if i in (9_999, 199_999):
            sizes.append(len(monitor.to_bytes()))
    assert sizes[1] < sizes[0] * 2  # ADWIN's buckets grow with the log of the window


def test_psi_and_ks_are_zero_on_identical_samples_and_grow_with_the_gap() -> None:
    assert psi([10, 20, 30], [10, 20, 30]) == 0.0
    assert psi([10, 20, 30], [30, 20, 10]) > psi([10, 20, 30], [15, 20, 25]) > 0.0
    assert ks_statistic([0.0, 1.0, 2.0], [0.0, 1.0, 2.0]) == 0.0
    assert ks_statistic([0.0, 1.0, 2.0], [5.0, 6.0]) == 1.0


feature_values = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.text(max_size=30),
    st.booleans(),
    st.none(),
    st.lists(st.integers(), max_size=2),
)
feature_events = st.lists(
    st.dictionaries(st.sampled_from(["a", "b", "c", "d"]), feature_values, max_size=4),
    max_size=80,
)


@settings(max_examples=150, deadline=None)
@given(
    stream=feature_events,
    statistic=st.sampled_from(["psi", "ks"]),
    on_alert=st.sampled_from(["keep", "roll"]),
)
def test_any_feature_stream_never_raises_and_statistics_are_finite_non_negative(
    stream: list[dict[str, object]], statistic: str, on_alert: str
) -> None:
    monitor = FeatureDriftMonitor(
        reference_size=4,
        window_size=3,
        check_every=1,
        bins=3,
        max_categories=2,
        numeric_statistic="ks" if statistic == "ks" else "psi",
        on_alert="roll" if on_alert == "roll" else "keep",
    )
    for event in stream:
        for alert in monitor.update(event):
            assert math.isfinite(alert.value)
            assert alert.value >= 0.0
    for drift in monitor.report():
        if drift.value is not None:
            assert math.isfinite(drift.value)
            assert drift.value >= 0.0
    restored = FeatureDriftMonitor.from_bytes(monitor.to_bytes())
    assert restored.report() == monitor.report()


@settings(max_examples=150, deadline=None)
@given(st.lists(st.floats(allow_nan=True, allow_infinity=True), max_size=300))
def test_any_error_stream_never_raises_and_the_error_rate_stays_in_range(
    errors: list[float],
) -> None:
    monitor = ModelErrorMonitor("m", grace_period=5)
    for error in errors:
        alert = monitor.update(error)
        if alert is not None:
            assert math.isfinite(alert.value)
            assert alert.value > 0.0
    assert 0.0 <= monitor.error_rate <= 1.0
    assert ModelErrorMonitor.from_bytes(monitor.to_bytes()).to_bytes() == monitor.to_bytes()


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 10**6)), min_size=1, max_size=30),
    st.lists(st.floats(allow_nan=False, allow_infinity=False), min_size=1, max_size=50),
    st.lists(st.floats(allow_nan=False, allow_infinity=False), min_size=1, max_size=50),
)
def test_statistics_are_finite_and_non_negative(
    counts: list[tuple[int, int]], reference: list[float], current: list[float]
) -> None:
    index = psi([c[0] for c in counts], [c[1] for c in counts])
    assert math.isfinite(index)
    assert index >= 0.0
    gap = ks_statistic(sorted(reference), current)
    assert 0.0 <= gap <= 1.0
