"""Online outcome models: features, labels, lead score, churn risk and win probability, anomaly
scores, progressive validation.

Pure code (no Kafka), wired into the stream by ``streams/``:

* :mod:`~models.scoring.features`: a merged standardized record plus its
  :class:`~models.scoring.features.Engagement` (a table value per lead or account) at an
  explicit ``now`` -> a flat feature dict; ids and free text never become features.
* :mod:`~models.scoring.labels`: the label a change produced (lead converted, opportunity
  won, account churned, ...), an explicit outcome event, and the
  :class:`~models.scoring.labels.PredictionMemory` that joins a label with the features
  scored *before* the outcome.
* :mod:`~models.scoring.scorer`: :class:`~models.scoring.scorer.OutcomeScorer` (champion
  logistic regression, shadow Hoeffding tree, calibration, score, tier, factors, readiness,
  checkpoints), configured as :data:`~models.scoring.scorer.LEAD_SCORE`,
  :data:`~models.scoring.scorer.CHURN_RISK` or :data:`~models.scoring.scorer.WIN_PROBABILITY`;
  :class:`~models.scoring.scorer.AnomalyDetector`.
* :mod:`~models.scoring.anomaly`: :class:`~models.scoring.anomaly.AnomalyWatch`, one
  anomaly detector per entity type with watched numbers (opportunity amount, account size
  and revenue), each record scored before it is learned.
* :mod:`~models.scoring.engagement`: :class:`~models.scoring.engagement.EngagementUpdate`,
  an activity's, opportunity's or contact's news for the engagement of the record it
  belongs to, which lives on another partition.
* :mod:`~models.scoring.validation`: progressive metrics, overall, rolling and per segment.
"""

from models.scoring.anomaly import WATCHED_NUMBERS, AnomalyWatch
from models.scoring.engagement import (
    EngagementStep,
    EngagementUpdate,
    apply_update,
    engagement_updates,
)
from models.scoring.features import (
    Engagement,
    FeatureConfig,
    FeatureExtractor,
    Features,
    engagement_targets,
    update_engagement,
)
from models.scoring.labels import (
    Label,
    LabelRules,
    OutcomeEvent,
    PredictionMemory,
    label_from_change,
    label_from_event,
    record_values,
    training_example,
)
from models.scoring.scorer import (
    CHURN_RISK,
    LEAD_SCORE,
    OUTCOME_MODELS,
    WIN_PROBABILITY,
    AnomalyDetector,
    AnomalyScore,
    Factor,
    OutcomeScorer,
    Score,
    ScorerConfig,
)
from models.scoring.validation import (
    EvaluationStep,
    ProgressiveValidation,
    ValidationConfig,
    segment_values,
)

__all__ = [
    "CHURN_RISK",
    "LEAD_SCORE",
    "OUTCOME_MODELS",
    "WATCHED_NUMBERS",
    "WIN_PROBABILITY",
    "AnomalyDetector",
    "AnomalyScore",
    "AnomalyWatch",
    "Engagement",
    "EngagementStep",
    "EngagementUpdate",
    "EvaluationStep",
    "Factor",
    "FeatureConfig",
    "FeatureExtractor",
    "Features",
    "Label",
    "LabelRules",
    "OutcomeEvent",
    "OutcomeScorer",
    "PredictionMemory",
    "ProgressiveValidation",
    "Score",
    "ScorerConfig",
    "ValidationConfig",
    "apply_update",
    "engagement_targets",
    "engagement_updates",
    "label_from_change",
    "label_from_event",
    "record_values",
    "segment_values",
    "training_example",
    "update_engagement",
]
