"""Drift monitors: has the data moved (per feature), and has a model got worse (its error)?

Two questions an ML engineer asks of a model that learns online from CRM outcomes, answered
separately because they have different clocks and different remedies:

* **Data drift** (:class:`FeatureDriftMonitor`), one event at a time: each feature's values
  in a *current* sliding window are compared with a *reference* window (the first values seen,
  or the window current at the last alert when the reference rolls forward). Numbers use the
  population stability index over bins fixed from the reference's quantiles (or a two-sample
  Kolmogorov-Smirnov statistic); categories use the same index over category shares, the
  reference's most frequent categories each their own bin and the rest pooled. A moved input
  is worth an alert even before any label says the model suffers: labels come weeks later.
* **Concept drift** (:class:`ModelErrorMonitor`), one label at a time: River's ADWIN over the
  model's per-label error (0/1 misclassification or Brier score), alerting when the error rate
  has risen. An error that falls is the model learning, not an alarm.

Both are plain objects with bounded memory (fixed windows, ADWIN's logarithmic buckets) and
serialize to bytes with a format version, so a worker keeps them in a table and a restart
resumes where it stopped. Alerts are :class:`DriftAlert` records ready for ``crm.alerts``.

Parameters were chosen by measurement (``python -m bench.drift``); see :class:`ModelErrorMonitor`.

>>> import random
>>> rng = random.Random(7)
>>> monitor = FeatureDriftMonitor(reference_size=500, window_size=500)
>>> alerts = []
>>> for i in range(3000):
...     shifted = i >= 1500
...     event = {"amount": rng.gauss(3.0 if shifted else 0.0, 1.0),
...              "source": rng.choice(["web", "event", "partner"]),
...              "employees": rng.gauss(50.0, 10.0)}
...     alerts += monitor.update(event)
>>> [(a.subject, a.statistic) for a in alerts]
[('amount', 'psi')]
"""

from __future__ import annotations

import base64
import bisect
import math
import struct
from collections import Counter, deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Final, Literal

import numpy as np
import orjson
from river import drift as river_drift

__all__ = [
    "FORMAT_VERSION",
    "DriftAlert",
    "FeatureDrift",
    "FeatureDriftMonitor",
    "ModelErrorMonitor",
    "brier",
    "ks_critical_value",
    "ks_statistic",
    "misclassification",
    "psi",
]

FORMAT_VERSION: Final = 2
"""Version of the bytes written by ``to_bytes``; ``from_bytes`` refuses a newer one, so a
worker never silently misreads a state written by a later release. 2: the concept monitor
saves the error level it kept at its last improvement (a version-1 state loads without)."""

MAX_CATEGORY_CHARS: Final = 200
"""Longer category values are cut: no real category is longer, and values are kept in the
windows and the serialized state, so one garbage value must not bloat them."""

REARM_FRACTION: Final = 0.6
"""A drifted feature (reference kept) alerts again only after its statistic has fallen below
this fraction of the threshold: a statistic wavering around the threshold is one alert."""

NumericStatistic = Literal["psi", "ks"]
OnAlert = Literal["keep", "roll"]
FeatureKind = Literal["numeric", "categorical"]

_FEATURES_FORMAT: Final = "crmstream.drift.features"
_MODEL_ERROR_FORMAT: Final = "crmstream.drift.model_error"


@dataclass(frozen=True)
class DriftAlert:
    """One drift alert, as published on ``crm.alerts``.

    ``kind`` is ``"data"`` (``subject`` names a feature) or ``"concept"`` (``subject`` names a
    model). ``statistic`` and ``value`` are what was measured, ``threshold`` what it crossed:
    for ADWIN the significance level delta, because ADWIN's cut is adaptive (it depends on the
    window sizes and variance) and has no fixed threshold. ``reference_size`` and
    ``current_size`` are the two windows compared; ``observed`` counts the values (events or
    labels) the monitor had taken for this subject when it fired. The means are given for
    numbers and error rates so the alert reads on its own ("error rose from 0.25 to 0.44").
    """

    kind: Literal["data", "concept"]
    subject: str
    statistic: str
    value: float
    threshold: float
    reference_size: int
    current_size: int
    observed: int
    reference_mean: float | None = None
    current_mean: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict, for the alerts topic."""
        return asdict(self)


@dataclass(frozen=True)
class FeatureDrift:
    """The latest verdict on one feature: ``value`` is ``None`` until both windows are full."""

    feature: str
    kind: FeatureKind
    statistic: str
    value: float | None
    threshold: float | None
    drifted: bool
    reference_size: int
    current_size: int
    observed: int


def psi(reference: Sequence[float], current: Sequence[float], smoothing: float = 0.5) -> float:
    """Population stability index between two histograms over the same bins (counts).

    Every bin gets ``smoothing`` added to its count: a bin empty on one side would otherwise
    make the index infinite, and half a count is the usual continuity correction. Each term
    ``(q - p) * ln(q / p)`` is non-negative, so the index is too.

    >>> psi([50, 50], [50, 50])
    0.0
    >>> round(psi([80, 20], [20, 80]), 3)
    1.625
    """
    if len(reference) != len(current):
        raise ValueError("psi needs the same bins on both sides")
    bins = len(reference)
    ref_total = sum(reference) + smoothing * bins
    cur_total = sum(current) + smoothing * bins
    total = 0.0
    for ref_count, cur_count in zip(reference, current, strict=True):
        p = (ref_count + smoothing) / ref_total
        q = (cur_count + smoothing) / cur_total
        total += (q - p) * math.log(q / p)
    return max(total, 0.0)


def ks_statistic(reference_sorted: Sequence[float], current: Sequence[float]) -> float:
    """Two-sample Kolmogorov-Smirnov statistic: the largest gap between the empirical CDFs.

    >>> ks_statistic([1.0, 2.0, 3.0], [1.0, 2.0, 3.0])
    0.0
    >>> ks_statistic([1.0, 2.0], [3.0, 4.0])
    1.0
    """
    if not reference_sorted or not current:
        return 0.0
    ref = np.asarray(reference_sorted, dtype=float)
    cur = np.sort(np.asarray(current, dtype=float))
    points = np.concatenate([ref, cur])
    gap = np.abs(
        np.searchsorted(ref, points, side="right") / ref.size
        - np.searchsorted(cur, points, side="right") / cur.size
    )
    return float(gap.max())


def ks_critical_value(reference_size: int, current_size: int, alpha: float) -> float:
    """The KS statistic above which two samples of these sizes differ at level ``alpha``
    (the asymptotic formula; the windows are hundreds of values, where it is accurate).

    >>> round(ks_critical_value(1000, 1000, 0.05), 4)
    0.0607
    """
    c_alpha = math.sqrt(-math.log(alpha / 2.0) / 2.0)
    return c_alpha * math.sqrt((reference_size + current_size) / (reference_size * current_size))


def misclassification(label: bool, probability: float, cut: float = 0.5) -> float:
    """0/1 error of a probabilistic prediction at ``cut``: the error signal ADWIN watches.

    >>> misclassification(True, 0.8), misclassification(False, 0.8)
    (0.0, 1.0)
    """
    return 0.0 if (probability >= cut) == bool(label) else 1.0


def brier(label: bool, probability: float) -> float:
    """Squared error of the probability, in [0, 1]: a smoother error signal than 0/1 that
    also sees a model becoming unsure before it becomes wrong.

    >>> round(brier(True, 0.8), 4)
    0.04
    """
    return (float(bool(label)) - min(max(probability, 0.0), 1.0)) ** 2


# --------------------------------------------------------------------------------------------
# Data drift


class _FeatureWindows:
    """A reference and a current window of one feature, binned for the statistic.

    The reference fills first; once full it is frozen into bins (quantile edges for numbers,
    most frequent categories for strings) and only its bin counts are kept (plus its sorted
    values for KS). The current window keeps raw values (KS sorts them, the alert gives their
    mean, the state stores them) and bin counts updated as values enter and leave.
    """

    def __init__(self, kind: FeatureKind) -> None:
        self.kind: FeatureKind = kind
        self.observed = 0
        self.restart()

    def restart(self) -> None:
        """Forget both windows and the verdict: the next values form a new reference."""
        self.reference: list[Any] = []  # raw values while filling; sorted numbers for KS
        self.frozen = False
        self.edges: list[float] = []
        self.categories: dict[str, int] = {}
        self.reference_counts: list[int] = []
        self.reference_mean: float | None = None
        self.reference_size = 0
        self.current: deque[Any] = deque()
        self.current_counts: list[int] = []
        self.since_check = 0
        self.value: float | None = None
        self.threshold: float | None = None
        self.drifted = False

    def bin_of(self, value: Any) -> int:
        """Numbers: below the reference minimum, equal to it, then one bin per quantile step
        (edges are upper bounds) and above the top edge; so a constant reference still has
        a bin on each side and a shift either way shows."""
        if self.kind == "categorical":
            return self.categories.get(value, len(self.categories))
        if value < self.edges[0]:
            return 0
        return 1 + bisect.bisect_left(self.edges, value)

    def freeze(self, values: Sequence[Any], bins: int, max_categories: int, keep: bool) -> None:
        if self.kind == "numeric":
            ordered = sorted(values)
            quantiles = [
                ordered[min(len(ordered) - 1, (len(ordered) * i) // bins)] for i in range(bins)
            ]
            self.edges = sorted({ordered[0], *quantiles[1:]})
            self.reference_counts = [0] * (len(self.edges) + 2)
            self.reference_mean = _mean(ordered)
            self.reference = ordered if keep else []
        else:
            counts = Counter(values)
            top = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:max_categories]
            self.categories = {name: index for index, (name, _) in enumerate(top)}
            self.reference_counts = [0] * (len(self.categories) + 1)
            self.reference = []
        for value in values:
            self.reference_counts[self.bin_of(value)] += 1
        self.reference_size = len(values)
        self.current_counts = [0] * len(self.reference_counts)
        self.frozen = True

    def add_current(self, value: Any, window_size: int) -> None:
        if len(self.current) >= window_size:
            self.current_counts[self.bin_of(self.current.popleft())] -= 1
        self.current.append(value)
        self.current_counts[self.bin_of(value)] += 1

    def current_mean(self) -> float | None:
        if self.kind != "numeric" or not self.current:
            return None
        return _mean(self.current)


def _mean(values: Sequence[float] | deque[float]) -> float:
    """Mean that cannot overflow on finite values (``fsum`` raises on ``[1e308, 1e308]``)."""
    count = len(values)
    return sum(value / count for value in values)


class FeatureDriftMonitor:
    """Data drift per feature: a reference window against a sliding current window.

    Feed it each event's features (``update``); it returns the alerts raised by that event.
    A feature's kind is fixed by its first usable value: finite numbers are numeric; strings
    and booleans categorical. Missing, ``None`` and non-finite values, and values of the
    other kind, are skipped (data quality is another monitor's job).

    Parameters
    ----------
    reference_size
        Values of a feature forming its reference (its first values, or the current window
        when the reference rolls). Bigger is steadier and slower to become ready.
    window_size
        Values in the current window: the most recent ones. The statistic is computed only
        when it is full, so it reacts to a shift within about this many events of the feature.
    numeric_statistic
        ``"psi"`` (binned, cheap, the industry's reading: < 0.1 stable, > 0.25 a major shift)
        or ``"ks"`` (exact two-sample KS, catches shape changes PSI's bins blur; it sorts the
        window at each check, so costs more).
    psi_threshold
        PSI above which a feature has drifted (numbers and categories). Measured on stationary
        streams with the default windows, the index of two samples of one distribution peaked
        at 0.09 over 300k events (a 21-bin category; numbers stayed under 0.07), so 0.15 keeps
        a margin; it is crossed by a source whose share goes from 30 % to 50 % (0.17) and by a
        mean moving half a standard deviation (about 0.25). Smaller windows need a higher one:
        the noise grows like ``(bins - 1) * (1/reference_size + 1/window_size)``.
    ks_alpha
        Level for the KS threshold (the critical value for the two window sizes). Small,
        because the test is repeated every ``check_every`` values on overlapping windows.
    bins
        Quantile bins of a numeric reference.
    max_categories
        Most frequent reference categories kept as their own bins; the rest, and categories
        never seen in the reference, share one bin. Bounds memory, and keeps the index from
        adding up noise over thousands of rare values (ids masquerading as categories).
    check_every
        Values of a feature between two computations of its statistic: bounds the cost per
        event; drift is a matter of hundreds of events, so a lag of this many is harmless.
    on_alert
        ``"keep"``: the reference stays frozen; the feature alerts once, and again only
        after its statistic has fallen back well below the threshold. ``"roll"``: the moved
        distribution is accepted as the new normal: the windows empty and the next
        ``reference_size`` values form the new reference, so a further move alerts again.
        Not the current window: an alert fires while that window still straddles the shift,
        and a reference mixing old and new values would alert again once the window holds
        only new ones.
    max_features
        Features tracked at most; later new names are ignored, so memory stays bounded even
        if custom attributes multiply.

    >>> monitor = FeatureDriftMonitor(reference_size=3, window_size=3, check_every=1)
    >>> for value in [1.0, 2.0, 3.0, 1.0, 2.0, 3.0]:
    ...     monitor.update({"amount": value, "source": "web"})
    []
    []
    []
    []
    []
    []
    >>> [(d.feature, d.value) for d in monitor.report()]
    [('amount', 0.0), ('source', 0.0)]
    """

    def __init__(
        self,
        *,
        reference_size: int = 1000,
        window_size: int = 1000,
        numeric_statistic: NumericStatistic = "psi",
        psi_threshold: float = 0.15,
        ks_alpha: float = 1e-4,
        bins: int = 10,
        max_categories: int = 20,
        check_every: int = 50,
        on_alert: OnAlert = "keep",
        max_features: int = 500,
    ) -> None:
        if reference_size < 1 or window_size < 1 or bins < 1 or check_every < 1:
            raise ValueError("window sizes, bins and check_every must be positive")
        if numeric_statistic not in ("psi", "ks"):
            raise ValueError(f"unknown numeric statistic {numeric_statistic!r}")
        if on_alert not in ("keep", "roll"):
            raise ValueError(f"unknown on_alert policy {on_alert!r}")
        if not 0.0 < ks_alpha < 1.0:
            raise ValueError("ks_alpha must be in (0, 1)")
        self.reference_size = reference_size
        self.window_size = window_size
        self.numeric_statistic: NumericStatistic = numeric_statistic
        self.psi_threshold = psi_threshold
        self.ks_alpha = ks_alpha
        self.bins = bins
        self.max_categories = max_categories
        self.check_every = check_every
        self.on_alert: OnAlert = on_alert
        self.max_features = max_features
        self._features: dict[str, _FeatureWindows] = {}

    def update(self, features: Mapping[str, object]) -> list[DriftAlert]:
        """Take one event's features; the alerts this event raised (usually none)."""
        alerts: list[DriftAlert] = []
        for name, raw in features.items():
            kind, value = _usable(raw)
            if kind is None:
                continue
            windows = self._features.get(name)
            if windows is None:
                if len(self._features) >= self.max_features:
                    continue
                windows = self._features[name] = _FeatureWindows(kind)
            elif windows.kind != kind:
                continue
            alert = self._take(name, windows, value)
            if alert is not None:
                alerts.append(alert)
        return alerts

    def report(self) -> list[FeatureDrift]:
        """Every tracked feature's latest statistic and verdict, by feature name."""
        return [
            FeatureDrift(
                feature=name,
                kind=windows.kind,
                statistic=self._statistic_name(windows),
                value=windows.value,
                threshold=windows.threshold,
                drifted=windows.drifted,
                reference_size=windows.reference_size or len(windows.reference),
                current_size=len(windows.current),
                observed=windows.observed,
            )
            for name, windows in sorted(self._features.items())
        ]

    def _statistic_name(self, windows: _FeatureWindows) -> str:
        return self.numeric_statistic if windows.kind == "numeric" else "psi"

    def _keeps_reference_values(self, windows: _FeatureWindows) -> bool:
        return windows.kind == "numeric" and self.numeric_statistic == "ks"

    def _take(self, name: str, windows: _FeatureWindows, value: Any) -> DriftAlert | None:
        windows.observed += 1
        if not windows.frozen:
            windows.reference.append(value)
            if len(windows.reference) >= self.reference_size:
                self._freeze(windows, windows.reference)
            return None
        windows.add_current(value, self.window_size)
        windows.since_check += 1
        if len(windows.current) < self.window_size or windows.since_check < self.check_every:
            return None
        windows.since_check = 0
        return self._check(name, windows)

    def _freeze(self, windows: _FeatureWindows, values: Sequence[Any]) -> None:
        keep = self._keeps_reference_values(windows)
        windows.freeze(list(values), self.bins, self.max_categories, keep)

    def _check(self, name: str, windows: _FeatureWindows) -> DriftAlert | None:
        """Compute the statistic; alert on the crossing, not on every check above it, so a
        lasting shift is one alert rather than one every ``check_every`` events (see
        :data:`REARM_FRACTION` for when a drifted feature may alert again)."""
        if self._statistic_name(windows) == "ks":
            value = ks_statistic(windows.reference, windows.current)
            threshold = ks_critical_value(
                windows.reference_size, len(windows.current), self.ks_alpha
            )
        else:
            value = psi(windows.reference_counts, windows.current_counts)
            threshold = self.psi_threshold
        windows.value, windows.threshold = value, threshold
        if windows.drifted:
            windows.drifted = value > threshold * REARM_FRACTION
            return None
        windows.drifted = value > threshold
        if not windows.drifted:
            return None
        alert = DriftAlert(
            kind="data",
            subject=name,
            statistic=self._statistic_name(windows),
            value=value,
            threshold=threshold,
            reference_size=windows.reference_size,
            current_size=len(windows.current),
            observed=windows.observed,
            reference_mean=windows.reference_mean,
            current_mean=windows.current_mean(),
        )
        if self.on_alert == "roll":
            windows.restart()
        return alert

    def to_bytes(self) -> bytes:
        """The monitor's settings and windows, versioned (see :data:`FORMAT_VERSION`).

        Numbers travel as packed little-endian doubles, not JSON text: a state holds up to
        ``reference_size + window_size`` values per feature and is written to a table.
        """
        state = {
            "format": _FEATURES_FORMAT,
            "version": FORMAT_VERSION,
            "params": self._params(),
            "features": {name: _windows_state(w) for name, w in self._features.items()},
        }
        return orjson.dumps(state)

    @classmethod
    def from_bytes(cls, data: bytes) -> FeatureDriftMonitor:
        """The monitor :meth:`to_bytes` saved; it continues exactly where that one stopped."""
        state = _load(data, _FEATURES_FORMAT)
        monitor = cls(**state["params"])
        monitor._features = {
            str(name): _windows_from_state(features) for name, features in state["features"].items()
        }
        return monitor

    def _params(self) -> dict[str, Any]:
        return {
            "reference_size": self.reference_size,
            "window_size": self.window_size,
            "numeric_statistic": self.numeric_statistic,
            "psi_threshold": self.psi_threshold,
            "ks_alpha": self.ks_alpha,
            "bins": self.bins,
            "max_categories": self.max_categories,
            "check_every": self.check_every,
            "on_alert": self.on_alert,
            "max_features": self.max_features,
        }


def _usable(raw: object) -> tuple[FeatureKind | None, Any]:
    if isinstance(raw, bool):
        return "categorical", "true" if raw else "false"
    if isinstance(raw, int | float):
        number = float(raw)
        return ("numeric", number) if math.isfinite(number) else (None, None)
    if isinstance(raw, str):
        text = raw[:MAX_CATEGORY_CHARS]
        if not text.isascii():  # a lone surrogate would make the state unserializable
            text = text.encode("utf-8", "replace").decode("utf-8")
        return "categorical", text
    return None, None


def _pack(values: Iterable[float]) -> str:
    numbers = list(values)
    return base64.b64encode(struct.pack(f"<{len(numbers)}d", *numbers)).decode("ascii")


def _unpack(text: str) -> list[float]:
    raw = base64.b64decode(text)
    return list(struct.unpack(f"<{len(raw) // 8}d", raw))


def _windows_state(windows: _FeatureWindows) -> dict[str, Any]:
    numeric = windows.kind == "numeric"
    values = _pack if numeric else list
    return {
        "kind": windows.kind,
        "reference": values(windows.reference),
        "frozen": windows.frozen,
        "edges": _pack(windows.edges),
        "categories": list(windows.categories),
        "reference_counts": windows.reference_counts,
        "reference_mean": windows.reference_mean,
        "reference_size": windows.reference_size,
        "current": values(windows.current),
        "observed": windows.observed,
        "since_check": windows.since_check,
        "value": windows.value,
        "threshold": windows.threshold,
        "drifted": windows.drifted,
    }


def _windows_from_state(state: Mapping[str, Any]) -> _FeatureWindows:
    kind: FeatureKind = "numeric" if state["kind"] == "numeric" else "categorical"
    windows = _FeatureWindows(kind)
    values = _unpack if kind == "numeric" else list
    windows.reference = values(state["reference"])
    windows.frozen = bool(state["frozen"])
    windows.edges = _unpack(state["edges"])
    windows.categories = {str(name): index for index, name in enumerate(state["categories"])}
    windows.reference_counts = [int(count) for count in state["reference_counts"]]
    windows.reference_mean = state["reference_mean"]
    windows.reference_size = int(state["reference_size"])
    windows.current = deque(values(state["current"]))
    windows.current_counts = [0] * len(windows.reference_counts)
    for value in windows.current:  # derived, so not stored: recount from the values
        windows.current_counts[windows.bin_of(value)] += 1
    windows.observed = int(state["observed"])
    windows.since_check = int(state["since_check"])
    windows.value = state["value"]
    windows.threshold = state["threshold"]
    windows.drifted = bool(state["drifted"])
    return windows


def _load(data: bytes, expected_format: str) -> dict[str, Any]:
    try:
        state = orjson.loads(data)
    except orjson.JSONDecodeError as error:
        raise ValueError(f"not a drift monitor state: {error}") from error
    if not isinstance(state, dict) or state.get("format") != expected_format:
        raise ValueError(f"not a {expected_format} state")
    if not 1 <= int(state.get("version") or 0) <= FORMAT_VERSION:
        raise ValueError(f"unsupported {expected_format} state version {state.get('version')}")
    return state


# --------------------------------------------------------------------------------------------
# Concept drift


class ModelErrorMonitor:
    """Concept drift: River's ADWIN over one model's per-label error, alerting on a rise.

    Feed it the model's error on each label, in the order labels arrive (``update``): 0/1
    :func:`misclassification` or the :func:`brier` score. ADWIN keeps an adaptive window of
    recent errors and cuts it where the older and the newer part differ more than chance at
    level ``delta`` allows; when the newer part has the higher error, that is an alert. A cut
    where the error fell (the model learning, a cold start settling) is counted in
    ``improvements`` and not raised. Values are scaled by ``1 / error_scale`` and clipped to
    [0, 1], the range ADWIN's bound assumes: scale log loss (e.g. ``error_scale=5``).

    Defaults, measured with ``python -m bench.drift --sweep`` (10 seeds): false alarms over
    4M stationary labels (0/1 errors at rates 0.05, 0.25, 0.5 and calibrated Brier scores,
    100k labels a stream) and labels to detect a rise after 1k, 5k or 20k stable labels:

    * ``delta=0.002`` (River's and MOA's default): no false alarm in 4M labels; 0.25 -> 0.45
      detected after a median of 127-153 labels, at most 353; 0.25 -> 0.35 after a median of
      460-630. ``delta=0.01`` is some 20 % faster but raised 5 false alarms in 4M, ``0.05``
      raised 32 (0.8 per 100k, at the acceptance bound); ``0.0005`` was slower (max 450 for
      the large rise) with no fewer false alarms. 0.002 keeps a margin on both sides of the
      acceptance (at most 1 false alarm per 100k, an abrupt shift within 500 labels).
    * ``clock=1``: check for a cut at every label. Labels are rare next to events, and the
      check costs well under a microsecond in River's Rust ADWIN; checking every 32 labels
      (River's default) only adds up to 31 labels of delay.
    * ``grace_period=30``: no cut is tested on fewer labels, the first ones after a start or an
      alert, where a fresh model's error says little.

    After an improvement the level ADWIN kept stays the reference. A model that starts cold
    has a falling error for a while, and the rise of a later drift can be what makes ADWIN
    cut the cold start off: the dropped, older part had the higher error, so the cut reads as
    an improvement, and River empties the window at the next value; the risen errors then
    fill a fresh window with nothing to compare them with, and a model that adapts within a
    few hundred labels would never alert. So until the next cut, the fresh window is also
    compared with the kept level, with ADWIN's own bound at the same ``delta`` (once it
    holds ``grace_period`` values); a significantly higher error is the alert.

    >>> import random
    >>> rng = random.Random(3)
    >>> monitor = ModelErrorMonitor("lead_score")
    >>> for n in range(4000):
    ...     rate = 0.25 if n < 3000 else 0.45
    ...     alert = monitor.update(float(rng.random() < rate))
    ...     if alert:
    ...         print(n, alert.subject, alert.statistic, alert.reference_mean < alert.current_mean)
    3081 lead_score adwin_error_rise True
    """

    def __init__(
        self,
        model: str,
        *,
        delta: float = 0.002,
        clock: int = 1,
        grace_period: int = 30,
        min_window_length: int = 5,
        error_scale: float = 1.0,
        alert_on: Literal["rise", "any"] = "rise",
    ) -> None:
        if not 0.0 < delta < 1.0:
            raise ValueError("delta must be in (0, 1)")
        if error_scale <= 0.0 or not math.isfinite(error_scale):
            raise ValueError("error_scale must be a positive number")
        if alert_on not in ("rise", "any"):
            raise ValueError(f"unknown alert_on {alert_on!r}")
        self.model = model
        self.delta = delta
        self.clock = clock
        self.grace_period = grace_period
        self.min_window_length = min_window_length
        self.error_scale = error_scale
        self.alert_on: Literal["rise", "any"] = alert_on
        self.labels = 0
        self.alerts = 0
        self.improvements = 0
        self.skipped = 0
        self._adwin = self._new_adwin()
        self._reference: tuple[float, int, float] | None = None
        """(mean, values, variance per value) of the window kept at the last improvement."""

    def _new_adwin(self) -> Any:
        return river_drift.ADWIN(  # type: ignore[no-untyped-call]  # River's isn't typed
            delta=self.delta,
            clock=self.clock,
            min_window_length=self.min_window_length,
            grace_period=self.grace_period,
        )

    @property
    def error_rate(self) -> float:
        """Mean error in ADWIN's current window: the model's error since the last change."""
        return float(self._adwin.estimation)

    @property
    def window(self) -> int:
        """Labels in ADWIN's current window."""
        return int(self._adwin.width)

    def update(self, error: float) -> DriftAlert | None:
        """Take one label's error; an alert if the error has risen (see the class docstring).

        Non-finite errors are skipped and counted in ``skipped``: one bad prediction must not
        poison the window's sums for good.
        """
        if not math.isfinite(error):
            self.skipped += 1
            return None
        self.labels += 1
        adwin = self._adwin
        width_before, total_before = float(adwin.width), float(adwin.total)
        if adwin.drift_detected:  # River would reset inside update: our totals must match
            width_before, total_before = 0.0, 0.0
        value = min(max(error / self.error_scale, 0.0), 1.0)
        adwin.update(value)
        if not adwin.drift_detected:
            return self._above_reference()
        # The cut keeps the newer part of (window + value); the older part is what it dropped.
        width_after, total_after = float(adwin.width), float(adwin.total)
        dropped = width_before + 1.0 - width_after
        current_mean = total_after / width_after if width_after else 0.0
        reference_mean = (total_before + value - total_after) / dropped if dropped else 0.0
        rise = current_mean - reference_mean
        if rise <= 0.0 and self.alert_on == "rise":
            self.improvements += 1
            variance = float(adwin.variance) / width_after if width_after else 0.0
            self._reference = (current_mean, int(width_after), variance)
            return None
        self.alerts += 1
        self._reference = None
        return DriftAlert(
            kind="concept",
            subject=self.model,
            statistic="adwin_error_rise" if rise > 0.0 else "adwin_error_change",
            value=rise * self.error_scale,
            threshold=self.delta,
            reference_size=int(dropped),
            current_size=int(width_after),
            observed=self.labels,
            reference_mean=reference_mean * self.error_scale,
            current_mean=current_mean * self.error_scale,
        )

    def _above_reference(self) -> DriftAlert | None:
        """An alert when the fresh window's error is significantly above the level kept at
        the last improvement (see the class docstring); the window then starts afresh."""
        if self._reference is None or self._adwin.width < max(self.grace_period, 1):
            return None
        reference_mean, reference_size, reference_variance = self._reference
        width = float(self._adwin.width)
        current_mean = float(self._adwin.estimation)
        variance = (reference_variance * reference_size + float(self._adwin.variance)) / (
            reference_size + width
        )
        m = 1.0 / (1.0 / width + 1.0 / reference_size)
        confidence = math.log(2.0 * math.log(reference_size + width) / self.delta)
        bound = math.sqrt(2.0 * variance * confidence / m) + 2.0 * confidence / (3.0 * m)
        rise = current_mean - reference_mean
        if rise <= bound:
            return None
        self.alerts += 1
        self._reference = None
        self._adwin = self._new_adwin()
        return DriftAlert(
            kind="concept",
            subject=self.model,
            statistic="adwin_error_rise",
            value=rise * self.error_scale,
            threshold=self.delta,
            reference_size=reference_size,
            current_size=int(width),
            observed=self.labels,
            reference_mean=reference_mean * self.error_scale,
            current_mean=current_mean * self.error_scale,
        )

    def to_bytes(self) -> bytes:
        """Settings, counters and ADWIN's own state, versioned (see :data:`FORMAT_VERSION`).

        ADWIN's window is River's Rust structure, saved with its own serializer; a River
        release that changes it makes :meth:`from_bytes` raise, and the caller starts a
        fresh monitor (the cost: one window of labels before the detector is sharp again).
        """
        state = {
            "format": _MODEL_ERROR_FORMAT,
            "version": FORMAT_VERSION,
            "params": {
                "model": self.model,
                "delta": self.delta,
                "clock": self.clock,
                "grace_period": self.grace_period,
                "min_window_length": self.min_window_length,
                "error_scale": self.error_scale,
                "alert_on": self.alert_on,
            },
            "labels": self.labels,
            "alerts": self.alerts,
            "improvements": self.improvements,
            "skipped": self.skipped,
            "drift_detected": bool(self._adwin.drift_detected),
            "adwin": base64.b64encode(self._adwin._helper.__getstate__()).decode("ascii"),
            "reference": self._reference,
        }
        return orjson.dumps(state)

    @classmethod
    def from_bytes(cls, data: bytes) -> ModelErrorMonitor:
        """The monitor :meth:`to_bytes` saved; it continues exactly where that one stopped."""
        state = _load(data, _MODEL_ERROR_FORMAT)
        params = dict(state["params"])
        monitor = cls(str(params.pop("model")), **params)
        monitor.labels = int(state["labels"])
        monitor.alerts = int(state["alerts"])
        monitor.improvements = int(state["improvements"])
        monitor.skipped = int(state["skipped"])
        try:
            monitor._adwin._helper.__setstate__(base64.b64decode(state["adwin"]))
        except Exception as error:
            raise ValueError(f"ADWIN state unreadable by this River release: {error}") from error
        monitor._adwin._drift_detected = bool(state["drift_detected"])
        reference = state.get("reference")
        if reference is not None:
            mean, size, variance = reference
            monitor._reference = (float(mean), int(size), float(variance))
        return monitor
