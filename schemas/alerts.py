"""The drift alert as published on ``crm.alerts``: one JSON object per alert, keyed by model.

Raised by the one learner of an outcome model (``models.scoring.learning``): ``data`` when a
feature scored before the outcomes has moved, ``concept`` when the error of the model's
predictions has risen. It says what was measured on which windows, so it reads on its own.

>>> from datetime import UTC, datetime
>>> alert = AlertEvent(kind="concept", subject="lead_score", statistic="adwin_error_rise",
...     value=0.19, threshold=0.002, reference_size=1480, current_size=120, observed=1600,
...     reference_mean=0.16, current_mean=0.35, model="lead_score", model_version=3,
...     raised_at=datetime(2026, 11, 23, 18, 0, tzinfo=UTC))
>>> alert.record_key()
b'lead_score'
"""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, Field

from schemas.outbound import OutboundRecord

__all__ = ["AlertEvent"]


class AlertEvent(OutboundRecord):
    """A drift alert on ``crm.alerts``."""

    schema_version: Literal[1] = 1
    kind: Literal["data", "concept"] = Field(
        description="data: a feature's distribution moved; concept: the model's error rose"
    )
    subject: str = Field(description="the feature (data drift) or the model (concept drift)")
    statistic: str = Field(
        description="what was measured: psi or ks (data), adwin_error_rise (concept)"
    )
    value: float = Field(
        description="the statistic; for concept drift the rise of the mean error (Brier)"
    )
    threshold: float = Field(
        description="what the value crossed; for ADWIN its significance level delta"
    )
    reference_size: int = Field(description="values in the reference (older) window")
    current_size: int = Field(description="values in the current (recent) window")
    observed: int = Field(description="values the monitor had taken for this subject")
    reference_mean: float | None = Field(
        default=None, description="mean of the reference window (numbers and errors)"
    )
    current_mean: float | None = Field(
        default=None, description="mean of the current window (numbers and errors)"
    )
    model: str = Field(description="the outcome model whose learner raised the alert")
    model_version: int = Field(
        description="checkpoint version that scored the label that raised the alert"
    )
    raised_at: AwareDatetime

    def record_key(self) -> bytes:
        return self.model.encode()
