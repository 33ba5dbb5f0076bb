"""Model features from a merged, standardized CRM record and its engagement.

A lead score or a churn risk must be computed from what the CRM knows *now*, the same way
in the worker, in the benchmark and in tests, so extraction is a pure function of its
inputs: the record's standardized fields and custom attributes, an :class:`Engagement`
value (the entity's activities and opportunities, kept in a table by the stream), and an
explicit ``now``. Nothing reads the wall clock: replaying a stream gives the same features.

What becomes a feature, and how (one rule per field kind of :data:`schemas.entities.ENTITIES`):

* numbers (``integer``, ``number``, ``money``): a float; counts and amounts (``integer``,
  ``money``) as ``log1p``, since company sizes and deal amounts span six orders of
  magnitude and what matters is their order of magnitude. The model's pipeline scales them.
  A canonical number that is missing also gives ``<field>_missing = 1`` (an unknown company
  size is itself a signal).
* booleans: 1.0 or 0.0.
* categories (``category``, ``country``, ``state``): the value as a string; the model's
  pipeline one-hot encodes it with :class:`CappedOneHotEncoder`, which caps the categories
  kept per field (later ones share ``<field>=__other__``).
* dates and date-times: ``<field>_days_ago``, whole days for a date (a close date in the
  future is negative), fractional for a date-time.
* the record's age (``record_age_days``) and its engagement (:meth:`Engagement.features`).

**Ids and free text never become features**, enforced by kind, not by name lists kept in
sync with the vocabulary: only the kinds in :data:`FEATURE_KINDS` are read, so references
(ids), emails, phones, names, companies, streets, cities, postcodes, websites and ``text``
fields are never looked at. The one derived exception is ``title_seniority``: the free-text
job title is reduced to five levels by keyword (:func:`title_seniority`), and only the level
becomes a feature. Custom attributes have no declared kind, so their *names* and *values*
decide: a name that says id, key, email, phone, name, address, note, comment, description or
url (:data:`IDENTIFYING_NAME`) is skipped, and so is a string that is long, holds an ``@``,
a ``://``, several words, or mostly digits (ids and free text look like that). Fields that
only change at the outcome (``is_converted``, ``churn_date``, ...: :data:`OUTCOME_FIELDS`)
are excluded by default, since a model must never learn from the answer.

>>> from datetime import UTC, datetime
>>> now = datetime(2026, 3, 1, tzinfo=UTC)
>>> extractor = FeatureExtractor()
>>> features = extractor.extract(
...     "lead",
...     {"email": "ada@example.com", "industry": "Technology", "employees": 120,
...      "title": "VP of Sales", "is_converted": False},
...     {"crm_notes": "called twice, keen", "segment": "smb"},
...     now=now)
>>> sorted(features)
['annual_revenue_missing', 'attr.segment', 'employees', 'industry', 'title_seniority']
>>> features["title_seniority"], round(features["employees"], 3)
('vp', 4.796)
"""

from __future__ import annotations

import math
import re
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from typing import Any, Final

from river import base

from schemas.change import EntityType
from schemas.entities import ENTITIES, FieldKind

__all__ = [
    "FEATURE_KINDS",
    "IDENTIFYING_NAME",
    "OUTCOME_FIELDS",
    "CappedOneHotEncoder",
    "Engagement",
    "FeatureConfig",
    "FeatureExtractor",
    "FeatureValue",
    "Features",
    "engagement_targets",
    "title_seniority",
    "update_engagement",
]

FeatureValue = float | str
"""A number (already a float) or a category (one-hot encoded by the model's pipeline)."""
Features = dict[str, FeatureValue]

_NUMERIC: Final = frozenset({FieldKind.INTEGER, FieldKind.NUMBER, FieldKind.MONEY})
_LOGGED: Final = frozenset({FieldKind.INTEGER, FieldKind.MONEY})
_CATEGORICAL: Final = frozenset({FieldKind.CATEGORY, FieldKind.COUNTRY, FieldKind.STATE})
_DATES: Final = frozenset({FieldKind.DATE, FieldKind.DATETIME})
FEATURE_KINDS: Final = _NUMERIC | _CATEGORICAL | _DATES | {FieldKind.BOOLEAN}
"""The only field kinds read as features; every other kind holds ids, contact data or text."""

OUTCOME_FIELDS: Final[Mapping[str, frozenset[str]]] = {
    EntityType.LEAD: frozenset({"is_converted"}),
    EntityType.ACCOUNT: frozenset({"status", "churn_date"}),
    EntityType.OPPORTUNITY: frozenset({"is_won", "is_closed"}),
}
"""Fields that only change when the outcome happens: excluded by default (never learn the
answer). A lead's ``status`` stays: before the outcome it is new/working/qualified, which is
exactly what a sales rep knows."""

IDENTIFYING_NAME: Final = re.compile(
    r"(^|_)(id|ids|uuid|guid|key|email|e_mail|phone|mobile|fax|name|first_name|last_name"
    r"|street|address|addr|note|notes|comment|comments|description|desc|body|subject|url"
    r"|link|website|ip|ssn|iban|token)$"
)
"""Custom attribute names (snake-cased) that hold identifiers, contact data or free text."""

_MAX_ABS: Final = 1e12  # beyond this a value is an error or an id, not a magnitude
_MAX_DAYS: Final = 36_500.0  # a century either way
_SENIORITY_RULES: Final = (
    # Vice presidents first: "president" alone is C-level, "vice president" is not.
    ("vp", re.compile(r"\b(vp|svp|evp|vice president|head of|head)\b")),
    ("c_level", re.compile(r"\b(chief|ceo|cto|cfo|coo|cio|cmo|founder|co-founder|owner"
                           r"|president|managing director|geschäftsführer|directeur général"
                           r"|general manager|partner)\b")),
    ("director", re.compile(r"\b(director|directeur|direktor|directora?)\b")),
    ("manager", re.compile(r"\b(manager|lead|supervisor|principal)\b")),
)  # fmt: skip


def title_seniority(title: object) -> str | None:
    """A job title's seniority level by keyword: ``c_level``, ``vp``, ``director``,
    ``manager`` or ``staff``; ``None`` without a title.

    B2B lead scoring leans on seniority (who can sign), and five levels are all of the free
    text a model may see: the title itself would be a high-cardinality free-text feature.

    >>> [title_seniority(t) for t in ("CEO", "Vice President, Marketing", "IT Director",
    ...                               "Team Lead", "Analyst", "Managing Director", None)]
    ['c_level', 'vp', 'director', 'manager', 'staff', 'c_level', None]
    """
    if not isinstance(title, str) or not title.strip():
        return None
    text = title.casefold()
    for level, pattern in _SENIORITY_RULES:
        if pattern.search(text):
            return level
    return "staff"


# --------------------------------------------------------------------------------------------
# Engagement: what happened around an entity, kept per entity in a table
# --------------------------------------------------------------------------------------------

RETENTION_DAYS: Final = 90.0
"""How long an activity is kept for rolling counts; windows must not be longer."""
_MAX_RECENT: Final = 256  # activities kept per entity: a flat cap, whatever the CRM does
_MAX_CONTACTS: Final = 500
_MAX_CLOSED: Final = 64
_DAY: Final = 86_400.0


@dataclass(frozen=True, slots=True)
class Engagement:
    """An entity's engagement: its recent activities, opportunities and contacts.

    The value of a table keyed by lead or account id, updated from activity, opportunity and
    contact changes (:func:`update_engagement`) and read at scoring time
    (:meth:`features`). Immutable, so an update returns a new value the agent stores, and
    JSON-ready through :meth:`to_dict`/:meth:`from_dict`. Times are Unix seconds.

    Bounded whatever the entity's history: activities older than :data:`RETENTION_DAYS`
    before the newest are dropped from the rolling list (``activities_total`` still counts
    them), and at most 256 are kept. Known approximations: an edit of an activity already
    dropped counts it again, a deleted activity is not uncounted, and a contact that moves to
    another account still counts for the first.

    >>> from datetime import UTC, datetime
    >>> e = Engagement().with_activity("a1", datetime(2026, 1, 1, tzinfo=UTC).timestamp())
    >>> e = e.with_activity("a2", datetime(2026, 1, 20, tzinfo=UTC).timestamp())
    >>> e = e.with_opportunity("o1", amount=5000.0, closed=False, won=False)
    >>> f = e.features(datetime(2026, 1, 25, tzinfo=UTC), windows_days=(7, 30))
    >>> f["activities_7d"], f["activities_30d"], f["days_since_last_activity"], f["open_opportunities"]
    (1.0, 2.0, 5.0, 1.0)
    >>> Engagement.from_dict(e.to_dict()) == e
    True
    """  # noqa: E501

    activities: tuple[tuple[str, float], ...] = ()
    activities_total: int = 0
    last_activity_at: float | None = None
    open_opportunities: tuple[tuple[str, float], ...] = ()
    closed_opportunities: tuple[str, ...] = ()
    won: int = 0
    lost: int = 0
    won_amount: float = 0.0
    contacts: tuple[str, ...] = ()

    def with_activity(self, activity_id: str, at: float) -> Engagement:
        """This engagement with one activity logged at ``at`` (or moved there, if known)."""
        known = any(existing == activity_id for existing, _ in self.activities)
        kept = [(i, t) for i, t in self.activities if i != activity_id] + [(activity_id, at)]
        newest = max(t for _, t in kept)
        kept = [(i, t) for i, t in kept if t >= newest - RETENTION_DAYS * _DAY]
        kept.sort(key=lambda item: item[1])
        last = at if self.last_activity_at is None else max(self.last_activity_at, at)
        return replace(
            self,
            activities=tuple(kept[-_MAX_RECENT:]),
            activities_total=self.activities_total + (0 if known else 1),
            last_activity_at=last,
        )

    def with_opportunity(
        self, opportunity_id: str, *, amount: float | None, closed: bool, won: bool
    ) -> Engagement:
        """This engagement with an opportunity's current state: open with its amount, or
        closed (won or lost, counted once)."""
        open_ = tuple((i, a) for i, a in self.open_opportunities if i != opportunity_id)
        if not closed:
            if opportunity_id in self.closed_opportunities:
                return self  # a late update of a deal already closed
            return replace(self, open_opportunities=(*open_, (opportunity_id, amount or 0.0)))
        if opportunity_id in self.closed_opportunities:
            return replace(self, open_opportunities=open_)
        return replace(
            self,
            open_opportunities=open_,
            closed_opportunities=(*self.closed_opportunities, opportunity_id)[-_MAX_CLOSED:],
            won=self.won + won,
            lost=self.lost + (not won),
            won_amount=self.won_amount + ((amount or 0.0) if won else 0.0),
        )

    def with_contact(self, contact_id: str) -> Engagement:
        """This (account's) engagement with one more contact, counted once."""
        if contact_id in self.contacts or len(self.contacts) >= _MAX_CONTACTS:
            return self
        return replace(self, contacts=(*self.contacts, contact_id))

    def features(self, now: datetime, *, windows_days: Iterable[int] = (7, 30)) -> Features:
        """Activity counts per rolling window, lifetime counts, days since the last activity,
        open opportunities and their amount, deals won and lost, contacts."""
        at = now.timestamp()
        out: Features = {
            f"activities_{days}d": float(
                sum(1 for _, t in self.activities if at - days * _DAY < t <= at)
            )
            for days in windows_days
        }
        out["activities_total"] = float(self.activities_total)
        if self.last_activity_at is not None:
            out["days_since_last_activity"] = max(0.0, (at - self.last_activity_at) / _DAY)
        open_amount = sum(amount for _, amount in self.open_opportunities)
        out["open_opportunities"] = float(len(self.open_opportunities))
        out["open_opportunity_amount"] = math.log1p(max(0.0, open_amount))
        out["opportunities_won"] = float(self.won)
        out["opportunities_lost"] = float(self.lost)
        out["contacts"] = float(len(self.contacts))
        return out

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (lists for tuples) for the engagement table."""
        return {
            "activities": [list(item) for item in self.activities],
            "activities_total": self.activities_total,
            "last_activity_at": self.last_activity_at,
            "open_opportunities": [list(item) for item in self.open_opportunities],
            "closed_opportunities": list(self.closed_opportunities),
            "won": self.won,
            "lost": self.lost,
            "won_amount": self.won_amount,
            "contacts": list(self.contacts),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Engagement:
        """The inverse of :meth:`to_dict`."""
        return cls(
            activities=tuple((str(i), float(t)) for i, t in data.get("activities", ())),
            activities_total=int(data.get("activities_total", 0)),
            last_activity_at=(
                None if data.get("last_activity_at") is None else float(data["last_activity_at"])
            ),
            open_opportunities=tuple(
                (str(i), float(a)) for i, a in data.get("open_opportunities", ())
            ),
            closed_opportunities=tuple(str(i) for i in data.get("closed_opportunities", ())),
            won=int(data.get("won", 0)),
            lost=int(data.get("lost", 0)),
            won_amount=float(data.get("won_amount", 0.0)),
            contacts=tuple(str(i) for i in data.get("contacts", ())),
        )


EntityKey = tuple[str, str]
"""(entity type, entity id): the key of an engagement table row."""


def engagement_targets(
    entity_type: str, fields: Mapping[str, object], *, account_of_contact: str | None = None
) -> tuple[EntityKey, ...]:
    """Whose engagement a changed activity, opportunity or contact record updates.

    An activity counts for the record it relates to and, for a contact's activity, for the
    contact's account too (``account_of_contact``, looked up by the caller in the record
    table): account health is the sum of its people's engagement. An opportunity and a
    contact count for their account.

    >>> engagement_targets("activity", {"related_type": "contact", "related_id": "C1"},
    ...                    account_of_contact="A1")
    (('contact', 'C1'), ('account', 'A1'))
    """
    targets: list[EntityKey] = []
    if entity_type == EntityType.ACTIVITY:
        related_type, related_id = fields.get("related_type"), fields.get("related_id")
        if isinstance(related_type, str) and isinstance(related_id, str) and related_id:
            targets.append((related_type, related_id))
        if related_type == EntityType.CONTACT and account_of_contact:
            targets.append((EntityType.ACCOUNT.value, account_of_contact))
    elif entity_type in (EntityType.OPPORTUNITY, EntityType.CONTACT):
        account_id = fields.get("account_id")
        if isinstance(account_id, str) and account_id:
            targets.append((EntityType.ACCOUNT.value, account_id))
    return tuple(targets)


def update_engagement(
    engagement: Engagement | None,
    entity_type: str,
    entity_id: str,
    fields: Mapping[str, object],
    *,
    occurred_at: datetime,
) -> Engagement:
    """Apply one changed (standardized, merged) activity, opportunity or contact record.

    An activity counts at its ``activity_date`` but never later than when it was logged
    (``occurred_at``): a meeting booked for next week is engagement now, and a future date
    would otherwise make "days since last activity" negative.
    """
    current = engagement or Engagement()
    if entity_type == EntityType.ACTIVITY:
        logged = occurred_at.timestamp()
        when = _moment(fields.get("activity_date"))
        return current.with_activity(entity_id, min(logged, when) if when else logged)
    if entity_type == EntityType.OPPORTUNITY:
        amount = _number(fields.get("amount"))
        return current.with_opportunity(
            entity_id,
            amount=amount,
            closed=fields.get("is_closed") is True
            or fields.get("stage") in ("closed_won", "closed_lost"),
            won=fields.get("is_won") is True or fields.get("stage") == "closed_won",
        )
    if entity_type == EntityType.CONTACT:
        return current.with_contact(entity_id)
    return current


# --------------------------------------------------------------------------------------------
# Extraction
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FeatureConfig:
    """What to extract; set once from settings.

    ``include``: when given, only these sources become features; ``exclude``: these never
    do (added to :data:`OUTCOME_FIELDS` unless ``exclude_outcome_fields`` is off). A source
    is a canonical field name, ``attr.<name>`` for a custom attribute, or an engagement or
    record feature name (``activities_30d``, ``record_age_days``, ``title_seniority``).
    ``activity_windows_days``: the rolling windows counted (at most :data:`RETENTION_DAYS`).
    ``max_category_length``: longer strings are free text, not categories.
    """

    include: frozenset[str] | None = None
    exclude: frozenset[str] = frozenset()
    exclude_outcome_fields: bool = True
    activity_windows_days: tuple[int, ...] = (7, 30)
    max_category_length: int = 40

    def __post_init__(self) -> None:
        if any(not 0 < days <= RETENTION_DAYS for days in self.activity_windows_days):
            raise ValueError(f"activity windows must be within 1-{RETENTION_DAYS:.0f} days")
        if self.max_category_length < 1:
            raise ValueError("max_category_length must be at least 1")


@dataclass(frozen=True, slots=True)
class FeatureExtractor:
    """Turns a merged standardized record (plus engagement) into a flat feature dict.

    Stateless and pure (see the module docstring for the rules), so the worker, the
    benchmark and the tests compute identical features; the category cap, which needs
    state, lives in the model's pipeline (:class:`CappedOneHotEncoder`).
    """

    config: FeatureConfig = field(default_factory=FeatureConfig)

    def extract(
        self,
        entity_type: str,
        fields: Mapping[str, object],
        attributes: Mapping[str, object] | None = None,
        *,
        now: datetime,
        created_at: datetime | None = None,
        engagement: Engagement | None = None,
    ) -> Features:
        """Features of one record at ``now`` (tz-aware). Never raises on odd values: a value
        that is not what its kind promises is left out, as if missing."""
        now = _aware(now)
        out: Features = {}
        self._canonical(entity_type, fields, now, out)
        for name, value in (attributes or {}).items():
            self._attribute(str(name), value, now, out)
        age_days: float | None = None
        if created_at is not None:
            age_days = max(0.0, (now - _aware(created_at)).total_seconds() / _DAY)
            out["record_age_days"] = age_days
        if engagement is not None:
            out.update(engagement.features(now, windows_days=self.config.activity_windows_days))
            if age_days is not None and age_days > 0.0:
                # The share of the relationship spent without a touch: an old account silent
                # for a month is not a new account nobody has called yet.
                silent = out.get("days_since_last_activity", age_days)
                out["silent_share"] = min(1.0, float(silent) / age_days)
        return {name: value for name, value in out.items() if self._wanted(entity_type, name)}

    def _canonical(
        self, entity_type: str, fields: Mapping[str, object], now: datetime, out: Features
    ) -> None:
        spec = ENTITIES.get(EntityType(entity_type)) if entity_type in _ENTITY_NAMES else None
        if spec is None:
            return
        for name, field_spec in spec.fields.items():
            kind = field_spec.kind
            value = fields.get(name)
            if name == "title" and kind is FieldKind.TEXT:
                level = title_seniority(value)
                if level is not None:
                    out["title_seniority"] = level
            elif kind in FEATURE_KINDS:  # ids, contact data, names, free text: never features
                out.update(self._field(name, kind, value, now))

    def _field(self, name: str, kind: FieldKind, value: object, now: datetime) -> Features:
        """The features of one canonical field of a feature kind (empty when unusable)."""
        if kind in _NUMERIC:
            number = _number(value)
            if number is None:
                return {f"{name}_missing": 1.0}
            return {name: _signed_log1p(number) if kind in _LOGGED else number}
        if kind is FieldKind.BOOLEAN:
            return {name: float(value)} if isinstance(value, bool) else {}
        if kind in _CATEGORICAL:
            category = self._category(value)
            return {name: category} if category is not None else {}
        days = _days_ago(value, now)
        return {f"{name}_days_ago": days} if days is not None else {}

    def _attribute(self, name: str, value: object, now: datetime, out: Features) -> None:
        key = f"attr.{name}"
        if IDENTIFYING_NAME.search(_snake(name)):
            return
        if isinstance(value, bool):
            out[key] = float(value)
        elif isinstance(value, int | float):
            number = _number(value)
            if number is not None:
                out[key] = number
        elif isinstance(value, str):
            if _ISO_DATE.match(value):
                days = _days_ago(value, now)
                if days is not None:
                    out[f"{key}_days_ago"] = days
                return
            category = self._category(value)
            if category is not None and not _looks_like_id_or_text(category):
                out[key] = category

    def _category(self, value: object) -> str | None:
        if not isinstance(value, str):
            return None
        text = value.strip()
        if not text or len(text) > self.config.max_category_length:
            return None
        return text

    def _wanted(self, entity_type: str, name: str) -> bool:
        source = _source_of(name)
        config = self.config
        if config.include is not None and source not in config.include:
            return False
        if source in config.exclude:
            return False
        return not (config.exclude_outcome_fields and source in OUTCOME_FIELDS.get(entity_type, ()))


_ENTITY_NAMES: Final = frozenset(entity_type.value for entity_type in EntityType)
_ISO_DATE: Final = re.compile(r"^\d{4}-\d{2}-\d{2}([T ][0-9:.]+(Z|[+-]\d{2}:?\d{2})?)?$")
_SUFFIXES: Final = ("_days_ago", "_missing")


def _source_of(feature: str) -> str:
    """The field, attribute or engagement name a feature comes from (what settings name)."""
    for suffix in _SUFFIXES:
        if feature.endswith(suffix):
            return feature[: -len(suffix)]
    return feature


def _snake(name: str) -> str:
    """``AccountId`` and ``account-id`` -> ``account_id``: one spelling for the name rules."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name)
    return re.sub(r"[^0-9a-z]+", "_", spaced.casefold()).strip("_")


def _looks_like_id_or_text(text: str) -> bool:
    """Values no category should hold: emails, URLs, sentences, numbers-as-ids."""
    if "@" in text or "://" in text or len(text.split()) > 3:
        return True
    digits = sum(ch.isdigit() for ch in text)
    return digits >= 5 and digits * 2 >= len(text)


def _number(value: object) -> float | None:
    """A finite float within ``±1e12``, or ``None`` (booleans are not numbers here)."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    if isinstance(value, str) and (len(value) > 40 or not value.strip()):
        return None
    try:
        number = float(value)
    except (ValueError, OverflowError):
        return None
    if not math.isfinite(number) or abs(number) > _MAX_ABS:
        return None
    return number


def _signed_log1p(number: float) -> float:
    return math.copysign(math.log1p(abs(number)), number)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _moment(value: object) -> float | None:
    """Unix seconds of a date-time value (ISO string or datetime), or ``None``."""
    if isinstance(value, datetime):
        return _aware(value).timestamp()
    if isinstance(value, str) and _ISO_DATE.match(value):
        try:
            return _aware(datetime.fromisoformat(value)).timestamp()
        except (ValueError, OverflowError):
            return None
    return None


def _days_ago(value: object, now: datetime) -> float | None:
    """Days from a date or date-time to ``now`` (negative when in the future), capped at a
    century; whole days for a plain date, so a date 30 days back is exactly 30."""
    days: float
    if isinstance(value, datetime):
        days = (now - _aware(value)).total_seconds() / _DAY
    elif isinstance(value, date):
        days = float((now.date() - value).days)
    elif isinstance(value, str) and _ISO_DATE.match(value):
        try:
            if len(value) == 10:
                days = float((now.date() - date.fromisoformat(value)).days)
            else:
                days = (now - _aware(datetime.fromisoformat(value))).total_seconds() / _DAY
        except (ValueError, OverflowError):
            return None
    else:
        return None
    return max(-_MAX_DAYS, min(_MAX_DAYS, days))


# --------------------------------------------------------------------------------------------
# The category cap, as a River transformer for the model's pipeline
# --------------------------------------------------------------------------------------------

OTHER: Final = "__other__"


class CappedOneHotEncoder(base.Transformer):
    """One-hot encoding of string features with at most ``max_categories`` per feature.

    Picklists grow (a new lead source, a typo that slipped through) and custom attributes
    can hold anything, so each feature keeps the first ``max_categories`` values it learns
    and maps every later one to ``<feature>=__other__``: the model's size stays bounded and
    a rare value shares the weight of the other rare ones. First come, first kept (not the
    most frequent): an admitted category never leaves, so a weight never changes meaning.
    Non-string values pass through untouched.

    Parameters
    ----------
    max_categories
        Categories kept per feature (``__other__`` not counted).

    >>> encoder = CappedOneHotEncoder(max_categories=2)
    >>> for industry in ("Retail", "Energy", "Media"):
    ...     encoder.learn_one({"industry": industry})
    >>> encoder.transform_one({"industry": "Media", "employees": 3.0})
    {'industry=__other__': 1.0, 'employees': 3.0}
    >>> encoder.transform_one({"industry": "Energy"})
    {'industry=Energy': 1.0}
    """

    def __init__(self, max_categories: int = 30) -> None:
        if max_categories < 1:
            raise ValueError("max_categories must be at least 1")
        self.max_categories = max_categories
        self.categories: dict[Hashable, set[str]] = {}

    def learn_one(self, x: dict[Hashable, Any]) -> None:
        for name, value in x.items():
            if isinstance(value, str):
                known = self.categories.setdefault(name, set())
                if len(known) < self.max_categories:
                    known.add(value)

    def transform_one(self, x: dict[Hashable, Any]) -> dict[Hashable, Any]:
        out: dict[Hashable, Any] = {}
        for name, value in x.items():
            if isinstance(value, str):
                kept = value in self.categories.get(name, ())
                out[f"{name}={value if kept else OTHER}"] = 1.0
            else:
                out[name] = value
        return out
