"""``crmstream report``: the data quality of the enriched records, as the people who fix it ask.

Pure: messages of ``crm.enriched`` (read by :mod:`streams.topic_snapshot`, or lines of a
file) come in, tables computed with pandas and a report directory (Markdown or HTML, PNG
charts) go out. Nothing here talks to Kafka.

What is counted over what:

* completeness, invalid, corrected and flagged fields, duplicates and scores describe the
  CRM as it is now: each record's latest enriched record (by ``enriched_at``), leaving out
  records deleted or merged away. A record updated ten times counts once, as it stands;
* timeliness describes the feed: every change, each delayed on its own, except snapshots
  (backfills, Debezium snapshot reads), which are dated by their export, not by an edit.

A message that is not an enriched record (not JSON, a required key missing or of the wrong
type) is counted and listed with its position and reason; it never stops the report.
"""

from __future__ import annotations

import html
import math
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

import orjson
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from schemas.change import EntityType
from schemas.entities import ENTITIES

__all__ = [
    "EVENT_COLUMNS",
    "Malformed",
    "ParsedInput",
    "QualityReport",
    "ReportError",
    "ReportFormat",
    "build_report",
    "parse_messages",
    "read_lines",
    "write_report",
]

# One row per enriched record read; the contract between parsing and the computations.
EVENT_COLUMNS = (
    "entity_type",  # lead, contact, ...
    "entity_id",
    "op",  # change.op: create, update, snapshot, ...
    "occurred_at",  # change.occurred_at (the source's timestamp), UTC
    "enriched_at",  # when crmstream emitted the record, UTC
    "completeness",  # quality.completeness, 0..1
    "missing_fields",  # list[str]: expected fields that are empty
    "invalid_fields",  # dict[str, str]: field -> reason code
    "corrected_fields",  # list[str]: fields standardization changed
    "flagged_fields",  # dict[str, list[str]]: field -> flag codes
    "gone",  # the record is deleted or merged into another one
    "matched",  # the record carries a duplicate verdict (leads, contacts, accounts)
    "duplicate_of",  # the verdict names an older record this one duplicates
    "possible_duplicates",  # how many records are in the review band with this one
    "scores",  # dict[str, float]: score path -> value (see _scores)
)

_TIMESTAMP_KEYS = ("change.occurred_at", "enriched_at")
_SNAPSHOT_OP = "snapshot"
_TOP_ROWS = 20  # rows of the longer tables (and bars of their charts) shown in the report
_MALFORMED_SHOWN = 20


class ReportError(Exception):
    """The report cannot be made: nothing to report on."""


class ReportFormat(StrEnum):
    MARKDOWN = "markdown"
    HTML = "html"


@dataclass(frozen=True, slots=True)
class Malformed:
    """A message that is not an enriched record: where it was and why not."""

    where: str
    reason: str


@dataclass(frozen=True)
class ParsedInput:
    """What was read: one row per enriched record (:data:`EVENT_COLUMNS`), and the rest."""

    events: pd.DataFrame
    malformed: list[Malformed]
    read: int


class _NotEnriched(ValueError):
    pass


# --- reading -------------------------------------------------------------------------------


def read_lines(path: Path) -> Iterator[tuple[str, bytes | None]]:
    """The non-blank lines of a JSON Lines file, each with its line number."""
    with path.open("rb") as lines:
        for number, line in enumerate(lines, start=1):
            if line.strip():
                yield f"line {number}", line


def parse_messages(messages: Iterable[tuple[str, bytes | None]]) -> ParsedInput:
    """Enriched records from ``(position, value)`` pairs; what is not one is counted aside.

    >>> parsed = parse_messages([("line 1", b"{not json"), ("line 2", b"[]")])
    >>> parsed.read, len(parsed.events), [m.reason for m in parsed.malformed]
    (2, 0, ['not JSON', 'not a JSON object'])
    """
    rows: list[dict[str, Any]] = []
    malformed: list[Malformed] = []
    read = 0
    for where, value in messages:
        read += 1
        try:
            if value is None:
                raise _NotEnriched("empty message (a tombstone)")
            try:
                document = orjson.loads(value)
            except orjson.JSONDecodeError:
                raise _NotEnriched("not JSON") from None
            rows.append(_row(document))
        except _NotEnriched as exc:
            malformed.append(Malformed(where, str(exc)))
    return ParsedInput(_events_frame(rows), malformed, read)


def _events_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    frame = pd.DataFrame.from_records(rows, columns=list(EVENT_COLUMNS))
    for column in ("occurred_at", "enriched_at"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    frame["completeness"] = frame["completeness"].astype(float)
    return frame


def _row(document: object) -> dict[str, Any]:
    """One enriched record as a row of :data:`EVENT_COLUMNS`; raises if it is not one."""
    if not isinstance(document, dict):
        raise _NotEnriched("not a JSON object")
    change = _get(document, "change", dict)
    quality = _get(document, "quality", dict)
    record = _get(document, "record", dict, default={})
    verdict = _get(document, "duplicates", dict, default=None)
    completeness = _get(quality, "completeness", float, path="quality.completeness")
    if not 0.0 <= completeness <= 1.0:
        raise _NotEnriched("quality.completeness is not between 0 and 1")
    return {
        "entity_type": _get(change, "entity_type", str, path="change.entity_type"),
        "entity_id": _get(change, "entity_id", str, path="change.entity_id"),
        "op": _get(change, "op", str, default=None, path="change.op"),
        "occurred_at": _timestamp(change, "occurred_at", "change.occurred_at"),
        "enriched_at": _timestamp(document, "enriched_at", "enriched_at"),
        "completeness": completeness,
        "missing_fields": _get(quality, "missing_fields", list, default=[]),
        "invalid_fields": _get(quality, "invalid_fields", dict, default={}),
        "corrected_fields": _get(quality, "corrected_fields", list, default=[]),
        "flagged_fields": _get(quality, "flagged_fields", dict, default={}),
        "gone": bool(record.get("deleted")) or record.get("merged_into") is not None,
        "matched": verdict is not None,
        "duplicate_of": verdict is not None and verdict.get("duplicate_of") is not None,
        "possible_duplicates": len(verdict.get("possible_duplicates") or []) if verdict else 0,
        "scores": dict(_scores(document)),
    }


_MISSING = object()


def _get(
    parent: Mapping[str, Any],
    key: str,
    kind: type[Any],
    *,
    default: Any = _MISSING,
    path: str | None = None,
) -> Any:
    value = parent.get(key)
    if value is None:
        if default is _MISSING:
            raise _NotEnriched(f"{path or key} is missing")
        return default
    number = kind is float and isinstance(value, int | float) and not isinstance(value, bool)
    if not (number or isinstance(value, kind)) or (kind is str and not value.strip()):
        raise _NotEnriched(f"{path or key} is not {_KIND_NAMES[kind]}")
    return float(value) if number else value


_KIND_NAMES = {dict: "an object", list: "an array", str: "a non-empty string", float: "a number"}


def _timestamp(parent: Mapping[str, Any], key: str, path: str) -> datetime:
    text = _get(parent, key, str, path=path)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise _NotEnriched(f"{path} is not an ISO 8601 date-time") from None
    if moment.tzinfo is None:
        raise _NotEnriched(f"{path} has no timezone")
    return moment.astimezone(UTC)


def _scores(document: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, float]]:
    """Numbers named ``score`` or ``*_score`` anywhere in the record but its CRM data.

    No score is published yet (lead scoring is upcoming); whatever shape it takes, a number
    so named is found by its path (e.g. ``lead_score`` or ``scores.lead.score``). The
    change and the record hold CRM fields, whose names are not ours, so they are skipped.

    >>> dict(_scores({"change": {"score": 1}, "scores": {"lead": {"score": 73, "tier": "B"}}}))
    {'scores.lead.score': 73.0}
    """
    for key, value in document.items():
        path = f"{prefix}{key}"
        if path in {"change", "record"}:
            continue
        if isinstance(value, dict):
            yield from _scores(value, f"{path}.")
        elif (
            (key == "score" or key.endswith("_score"))
            and isinstance(value, int | float)
            and not isinstance(value, bool)
            and math.isfinite(value)
        ):
            yield path, float(value)


# --- computation: DataFrame in, tables out -------------------------------------------------


def current_records(events: pd.DataFrame) -> pd.DataFrame:
    """Each record's latest enriched record, records deleted or merged away left out."""
    ordered = events.sort_values("enriched_at", kind="stable")
    latest = ordered.drop_duplicates(["entity_type", "entity_id"], keep="last")
    return latest[~latest["gone"].astype(bool)].reset_index(drop=True)


def overview(events: pd.DataFrame) -> pd.DataFrame:
    """Per entity type: enriched records read, distinct records, how many are gone, the rest."""
    rows = []
    for entity_type, group in _by_type(events):
        latest = group.sort_values("enriched_at", kind="stable").drop_duplicates(
            "entity_id", keep="last"
        )
        current = latest[~latest["gone"].astype(bool)]
        rows.append(
            {
                "entity_type": entity_type,
                "enriched_records": len(group),
                "distinct_records": len(latest),
                "deleted_or_merged": len(latest) - len(current),
                "current_records": len(current),
                "mean_completeness": _mean(current["completeness"]),
            }
        )
    return _frame(rows, _OVERVIEW_COLUMNS)


def field_completeness(current: pd.DataFrame) -> pd.DataFrame:
    """Per entity type and expected field: how many current records have it, and the share.

    The expected fields are those of :mod:`schemas.entities`, the ones
    ``quality.missing_fields`` is computed over.
    """
    rows = []
    for entity_type, group in _by_type(current):
        missing = Counter(name for names in group["missing_fields"] for name in names)
        for name in _expected_fields(entity_type, missing):
            present = len(group) - missing[name]
            rows.append(
                {
                    "entity_type": entity_type,
                    "field": name,
                    "present": present,
                    "records": len(group),
                    "completeness": present / len(group),
                }
            )
    return _frame(rows, ["entity_type", "field", "present", "records", "completeness"])


def invalid_fields(current: pd.DataFrame) -> pd.DataFrame:
    """Per entity type, field and reason: current records holding a value kept as typed."""
    return _field_counts(current, "invalid_fields", lambda invalid: invalid.items(), ["reason"])


def corrected_fields(current: pd.DataFrame) -> pd.DataFrame:
    """Per entity type and field: current records whose value standardization changed."""
    return _field_counts(current, "corrected_fields", lambda names: ((n,) for n in names), [])


def flagged_fields(current: pd.DataFrame) -> pd.DataFrame:
    """Per entity type, field and flag: role or free-mail addresses, ambiguous dates, ..."""
    return _field_counts(
        current,
        "flagged_fields",
        lambda flagged: ((name, flag) for name, flags in flagged.items() for flag in flags),
        ["flag"],
    )


def duplicate_rates(current: pd.DataFrame) -> pd.DataFrame:
    """Per matched entity type: current records naming an older duplicate, or in review."""
    rows = []
    for entity_type, group in _by_type(current[current["matched"].astype(bool)]):
        duplicates = int(group["duplicate_of"].astype(bool).sum())
        possible = int((group["possible_duplicates"] > 0).sum())
        rows.append(
            {
                "entity_type": entity_type,
                "records": len(group),
                "duplicate_of": duplicates,
                "duplicate_rate": duplicates / len(group),
                "with_possible": possible,
                "possible_rate": possible / len(group),
            }
        )
    return _frame(rows, _DUPLICATE_COLUMNS)


def delays(events: pd.DataFrame) -> pd.DataFrame:
    """Seconds from each live change's source timestamp to its enrichment (snapshots left out)."""
    live = events[events["op"] != _SNAPSHOT_OP]
    seconds = (live["enriched_at"] - live["occurred_at"]).dt.total_seconds()
    return pd.DataFrame(
        {"entity_type": live["entity_type"].to_numpy(), "delay_s": seconds.to_numpy(dtype=float)}
    )


def timeliness(delay: pd.DataFrame) -> pd.DataFrame:
    """Per entity type and for all: the delay's quantiles, and changes dated in the future."""
    groups = [*_by_type(delay), ("all", delay)] if len(delay) else []
    rows = [
        {
            "entity_type": entity_type,
            "changes": len(group),
            "median_s": float(group["delay_s"].median()),
            "p90_s": float(group["delay_s"].quantile(0.9)),
            "p99_s": float(group["delay_s"].quantile(0.99)),
            "max_s": float(group["delay_s"].max()),
            "ahead_of_clock": int((group["delay_s"] < 0).sum()),
        }
        for entity_type, group in groups
    ]
    return _frame(rows, _TIMELINESS_COLUMNS)


def score_values(current: pd.DataFrame) -> pd.DataFrame:
    """One row per score a current record carries: entity type, score path, value."""
    rows = [
        {"entity_type": entity_type, "score": path, "value": value}
        for entity_type, scores in zip(current["entity_type"], current["scores"], strict=True)
        for path, value in scores.items()
    ]
    return _frame(rows, ["entity_type", "score", "value"])


def score_distribution(values: pd.DataFrame) -> pd.DataFrame:
    """Per score and entity type: how many records carry it, and its quantiles."""
    rows = []
    for (score, entity_type), group in values.groupby(["score", "entity_type"], sort=True):
        numbers = group["value"]
        rows.append(
            {
                "score": score,
                "entity_type": entity_type,
                "records": len(group),
                "mean": float(numbers.mean()),
                "min": float(numbers.min()),
                "p10": float(numbers.quantile(0.1)),
                "median": float(numbers.median()),
                "p90": float(numbers.quantile(0.9)),
                "max": float(numbers.max()),
            }
        )
    return _frame(rows, _SCORE_COLUMNS)


_OVERVIEW_COLUMNS = [
    "entity_type",
    "enriched_records",
    "distinct_records",
    "deleted_or_merged",
    "current_records",
    "mean_completeness",
]
_DUPLICATE_COLUMNS = [
    "entity_type",
    "records",
    "duplicate_of",
    "duplicate_rate",
    "with_possible",
    "possible_rate",
]
_TIMELINESS_COLUMNS = [
    "entity_type",
    "changes",
    "median_s",
    "p90_s",
    "p99_s",
    "max_s",
    "ahead_of_clock",
]
_SCORE_COLUMNS = ["score", "entity_type", "records", "mean", "min", "p10", "median", "p90", "max"]


def _by_type(frame: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """Groups by entity type in the CRM's order (leads first), unknown types after."""
    known = [t.value for t in EntityType]
    present = set(frame["entity_type"])
    order = [t for t in known if t in present] + sorted(present - set(known))
    return [(t, frame[frame["entity_type"] == t]) for t in order]


def _expected_fields(entity_type: str, missing: Counter[str]) -> list[str]:
    spec = ENTITIES.get(EntityType(entity_type)) if entity_type in set(EntityType) else None
    expected = list(spec.expected) if spec else []
    return expected + sorted(set(missing) - set(expected))


def _field_counts(
    current: pd.DataFrame,
    column: str,
    keys: Callable[[Any], Iterable[tuple[str, ...]]],
    extra: list[str],
) -> pd.DataFrame:
    """Per entity type and key (field, reason, ...): current records with it, and the share."""
    rows = []
    for entity_type, group in _by_type(current):
        counts: Counter[tuple[str, ...]] = Counter()
        for value in group[column]:
            counts.update(set(keys(value)))
        for key, count in counts.items():
            rows.append(
                {
                    "entity_type": entity_type,
                    **dict(zip(["field", *extra], key, strict=True)),
                    "records": count,
                    "share": count / len(group),
                }
            )
    table = _frame(rows, ["entity_type", "field", *extra, "records", "share"])
    order = {t: i for i, (t, _) in enumerate(_by_type(current))}
    return (
        table.assign(_order=table["entity_type"].map(order))
        .sort_values(["_order", "records", "field"], ascending=[True, False, True])
        .drop(columns="_order")
        .reset_index(drop=True)
    )


def _frame(rows: list[dict[str, Any]], columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame.from_records(rows, columns=columns)


def _mean(values: pd.Series) -> float:
    return float(values.mean()) if len(values) else math.nan


# --- the report ----------------------------------------------------------------------------


@dataclass(frozen=True)
class QualityReport:
    """Every table of the report, computed from what was read."""

    source: str
    read: int
    malformed: list[Malformed]
    overview: pd.DataFrame
    field_completeness: pd.DataFrame
    invalid: pd.DataFrame
    corrected: pd.DataFrame
    flagged: pd.DataFrame
    duplicates: pd.DataFrame
    delays: pd.DataFrame
    timeliness: pd.DataFrame
    snapshots: int
    scores: pd.DataFrame
    score_distribution: pd.DataFrame
    generated_at: datetime = field(default_factory=lambda: datetime.now(UTC))


def build_report(parsed: ParsedInput, source: str) -> QualityReport:
    """Compute the report; raises :class:`ReportError` when there is nothing to report on."""
    if parsed.read == 0:
        raise ReportError(f"{source} is empty: no enriched records to report on")
    if parsed.events.empty:
        reasons = Counter(m.reason for m in parsed.malformed).most_common(3)
        raise ReportError(
            f"{source} holds no enriched records: all {parsed.read} message(s) are malformed "
            f"({', '.join(f'{n} {reason}' for reason, n in reasons)})"
        )
    events = parsed.events
    current = current_records(events)
    delay = delays(events)
    scores = score_values(current)
    return QualityReport(
        source=source,
        read=parsed.read,
        malformed=parsed.malformed,
        overview=overview(events),
        field_completeness=field_completeness(current),
        invalid=invalid_fields(current),
        corrected=corrected_fields(current),
        flagged=flagged_fields(current),
        duplicates=duplicate_rates(current),
        delays=delay,
        timeliness=timeliness(delay),
        snapshots=int((events["op"] == _SNAPSHOT_OP).sum()),
        scores=scores,
        score_distribution=score_distribution(scores),
    )


@dataclass(frozen=True)
class _Table:
    caption: str
    frame: pd.DataFrame


@dataclass(frozen=True)
class _Chart:
    file: str
    alt: str


_Block = str | _Table | _Chart


@dataclass(frozen=True)
class _Section:
    title: str
    blocks: list[_Block]


def write_report(report: QualityReport, directory: Path, report_format: ReportFormat) -> Path:
    """Write the charts and the report into ``directory``; returns the report's path."""
    directory.mkdir(parents=True, exist_ok=True)
    sections = _sections(report, directory)
    if report_format is ReportFormat.HTML:
        path, text = directory / "report.html", _html(report, sections)
    else:
        path, text = directory / "report.md", _markdown(report, sections)
    path.write_text(text, encoding="utf-8")
    return path


def _sections(report: QualityReport, directory: Path) -> list[_Section]:
    return [
        _overview_section(report),
        _completeness_section(report, directory),
        _validity_section(report, directory),
        _duplicates_section(report, directory),
        _timeliness_section(report, directory),
        _scores_section(report, directory),
        *([_malformed_section(report)] if report.malformed else []),
    ]


def _overview_section(report: QualityReport) -> _Section:
    records = int(report.overview["enriched_records"].sum())
    current = int(report.overview["current_records"].sum())
    skipped = f"; {len(report.malformed)} malformed, skipped (listed at the end)"
    return _Section(
        "Overview",
        [
            f"{report.read} message(s) read from {report.source}: {records} enriched records"
            f"{skipped if report.malformed else ''}. They describe {current} current records "
            "(each record's latest enriched record, without records deleted or merged away); "
            "the sections below describe those, except timeliness, which describes every change.",
            _Table("Records per entity type", report.overview),
        ],
    )


def _completeness_section(report: QualityReport, directory: Path) -> _Section:
    return _one_chart_section(
        "Completeness",
        "The share of current records in which each expected field is present and not empty.",
        report.field_completeness,
        empty="No expected fields for these entity types.",
        chart=("completeness.png", "completeness per field and entity type"),
        draw=_completeness_chart,
        table_title="Completeness per entity type and field",
        directory=directory,
    )


def _one_chart_section(
    title: str,
    intro: str,
    table: pd.DataFrame,
    *,
    empty: str,
    chart: tuple[str, str],
    draw: Callable[[pd.DataFrame, Path], None],
    table_title: str,
    directory: Path,
) -> _Section:
    """A section of one chart and the table it draws, or a sentence when there is none."""
    if table.empty:
        return _Section(title, [intro, empty])
    file_name, caption = chart
    draw(table, directory / file_name)
    return _Section(title, [intro, _Chart(file_name, caption), _Table(table_title, table)])


def _validity_section(report: QualityReport, directory: Path) -> _Section:
    blocks: list[_Block] = [
        "Values standardization could not accept are kept as typed and listed with a reason; "
        "corrected values were standardized (trimmed, re-cased, E.164, ISO codes, ...); flags "
        "mark values that are valid but worth a look."
    ]
    for title, table, chart in (
        ("Invalid fields", report.invalid, "invalid_fields.png"),
        ("Corrected fields", report.corrected, "corrected_fields.png"),
        ("Flagged fields", report.flagged, "flagged_fields.png"),
    ):
        if table.empty:
            blocks.append(f"{title}: none.")
            continue
        _field_count_chart(table, title, directory / chart)
        shown = table.head(_TOP_ROWS)
        more = f" (the {_TOP_ROWS} most frequent of {len(table)})" if len(table) > _TOP_ROWS else ""
        blocks += [_Chart(chart, title.lower()), _Table(f"{title}{more}", shown)]
    return _Section("Invalid, corrected and flagged fields", blocks)


def _duplicates_section(report: QualityReport, directory: Path) -> _Section:
    return _one_chart_section(
        "Duplicates",
        "Current records whose duplicate verdict names an older record they duplicate "
        "(`duplicate_of`), or records to review with them (`possible_duplicates`). Only "
        "leads, contacts and accounts are matched.",
        report.duplicates,
        empty="No record carries a duplicate verdict.",
        chart=("duplicates.png", "duplicate rate per entity type"),
        draw=_duplicates_chart,
        table_title="Duplicate rate per entity type",
        directory=directory,
    )


def _timeliness_section(report: QualityReport, directory: Path) -> _Section:
    blocks: list[_Block] = [
        "Delay from each change's source timestamp (`change.occurred_at`) to its enrichment "
        "(`enriched_at`). `ahead of clock` counts changes dated after their enrichment (a "
        "source clock running ahead)."
    ]
    if report.snapshots:
        blocks.append(
            f"{report.snapshots} snapshot change(s) (backfills, snapshot reads) are left out: "
            "they carry the export's date, not the edit's."
        )
    if report.timeliness.empty:
        return _Section("Timeliness", [*blocks, "No live changes to measure."])
    _timeliness_chart(report.delays, directory / "timeliness.png")
    return _Section(
        "Timeliness",
        [
            *blocks,
            _Chart("timeliness.png", "delay from source to enrichment"),
            _Table("Delay from source to enrichment", report.timeliness),
        ],
    )


def _scores_section(report: QualityReport, directory: Path) -> _Section:
    if report.scores.empty:
        return _Section(
            "Scores",
            ["No scores yet: no enriched record carries a score (lead scoring is upcoming)."],
        )
    _scores_chart(report.scores, directory / "scores.png")
    return _Section(
        "Scores",
        [
            "Numbers named `score` or `*_score` that the current records carry, by path.",
            _Chart("scores.png", "score distributions"),
            _Table("Score distribution", report.score_distribution),
        ],
    )


def _malformed_section(report: QualityReport) -> _Section:
    reasons = Counter(m.reason for m in report.malformed)
    by_reason = _frame(
        [{"reason": r, "messages": n} for r, n in reasons.most_common()], ["reason", "messages"]
    )
    first = _frame(
        [{"where": m.where, "reason": m.reason} for m in report.malformed[:_MALFORMED_SHOWN]],
        ["where", "reason"],
    )
    return _Section(
        "Malformed input",
        [
            f"{len(report.malformed)} message(s) were not enriched records and were skipped.",
            _Table("By reason", by_reason),
            _Table(f"The first {len(first)} of them", first),
        ],
    )


# --- charts (matplotlib's Agg canvas: no display, no global pyplot state) -------------------


def _save(figure: Figure, path: Path) -> None:
    FigureCanvasAgg(figure)
    figure.savefig(path, format="png", dpi=100, bbox_inches="tight")


def _completeness_chart(table: pd.DataFrame, path: Path) -> None:
    groups = _by_type(table)
    sizes = [len(group) for _, group in groups]
    figure = Figure(figsize=(7, 1.0 + 0.28 * sum(sizes) + 0.5 * len(groups)))
    axes = figure.subplots(len(groups), 1, squeeze=False, gridspec_kw={"height_ratios": sizes})
    for ax, (entity_type, group) in zip(axes[:, 0], groups, strict=True):
        ax.barh(group["field"], group["completeness"] * 100, color="tab:blue")
        ax.set_xlim(0, 100)
        ax.invert_yaxis()
        ax.set_title(entity_type, loc="left", fontsize=10)
    axes[-1, 0].set_xlabel("records with the field (%)")
    figure.suptitle("Completeness per field")
    figure.tight_layout()
    _save(figure, path)


def _field_count_chart(table: pd.DataFrame, title: str, path: Path) -> None:
    shown = table.head(_TOP_ROWS)
    labels = [
        " ".join(str(v) for v in row[:-2]) for row in shown.itertuples(index=False, name=None)
    ]
    figure = Figure(figsize=(7, 1.0 + 0.3 * len(shown)))
    ax = figure.subplots()
    ax.barh(labels, shown["share"] * 100, color="tab:orange")
    ax.invert_yaxis()
    ax.set_xlabel("current records of the entity type (%)")
    ax.set_title(title)
    figure.tight_layout()
    _save(figure, path)


def _duplicates_chart(table: pd.DataFrame, path: Path) -> None:
    figure = Figure(figsize=(6, 3.5))
    ax = figure.subplots()
    positions = range(len(table))
    width = 0.4
    for offset, column, label in (
        (-width / 2, "duplicate_rate", "duplicate of an older record"),
        (width / 2, "possible_rate", "possible duplicates to review"),
    ):
        ax.bar([p + offset for p in positions], table[column] * 100, width, label=label)
    ax.set_xticks(list(positions), list(table["entity_type"]))
    ax.set_ylabel("current records (%)")
    ax.set_title("Duplicate rate")
    ax.legend()
    figure.tight_layout()
    _save(figure, path)


def _timeliness_chart(delay: pd.DataFrame, path: Path) -> None:
    """The share of changes enriched within a delay, per entity type (log scale)."""
    figure = Figure(figsize=(7, 4))
    ax = figure.subplots()
    for entity_type, group in _by_type(delay):
        seconds = group["delay_s"].sort_values().to_numpy()
        # A log axis has no room for zero or negative delays: they are drawn at 1 ms.
        clipped = [max(s, 0.001) for s in seconds]
        shares = [i / len(seconds) * 100 for i in range(len(seconds) + 1)]
        ax.step([clipped[0], *clipped], shares, where="post", label=entity_type)
    ax.set_xscale("log")
    ax.set_xlabel("delay from source to enrichment (s)")
    ax.set_ylabel("changes enriched within (%)")
    ax.set_ylim(0, 100)
    ax.set_title("Timeliness")
    ax.legend()
    figure.tight_layout()
    _save(figure, path)


def _scores_chart(values: pd.DataFrame, path: Path) -> None:
    scores = sorted(set(values["score"]))
    figure = Figure(figsize=(7, 3 * len(scores)))
    axes = figure.subplots(len(scores), 1, squeeze=False)
    for ax, score in zip(axes[:, 0], scores, strict=True):
        _score_histogram(ax, values[values["score"] == score], score)
    figure.tight_layout()
    _save(figure, path)


def _score_histogram(ax: Axes, values: pd.DataFrame, score: str) -> None:
    for entity_type, group in _by_type(values):
        ax.hist(group["value"], bins=20, alpha=0.6, label=entity_type)
    ax.set_title(score, loc="left", fontsize=10)
    ax.set_ylabel("records")
    ax.legend()


# --- rendering -----------------------------------------------------------------------------

_PERCENT_COLUMNS = frozenset(
    {"completeness", "mean_completeness", "share", "duplicate_rate", "possible_rate"}
)


def _display(frame: pd.DataFrame) -> tuple[list[str], list[list[str]]]:
    """Headers and cells as a reader reads them: percentages, durations, plain counts."""
    headers = [_header(column) for column in frame.columns]
    cells = [
        [_cell(column, value) for column, value in zip(frame.columns, row, strict=True)]
        for row in frame.itertuples(index=False, name=None)
    ]
    return headers, cells


def _header(column: str) -> str:
    return column.removesuffix("_s").replace("_", " ")


def _cell(column: str, value: object) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return "-"
        if column in _PERCENT_COLUMNS:
            return f"{value:.1%}"
        if column.endswith("_s"):
            return _duration(value)
        return f"{value:.3g}"
    return str(value)


def _duration(seconds: float) -> str:
    """A delay in the unit a person would say it in.

    >>> _duration(0.412), _duration(-3.25), _duration(5400), _duration(9000), _duration(3 * 86400)
    ('412 ms', '-3.2 s', '90.0 min', '2.5 h', '3.0 d')
    """
    sign, size = ("-" if seconds < 0 else ""), abs(seconds)
    if size < 1:
        return f"{sign}{size * 1000:.0f} ms"
    for unit, scale, below in (("s", 1, 120), ("min", 60, 7200), ("h", 3600, 172800)):
        if size < below:
            return f"{sign}{size / scale:.1f} {unit}"
    return f"{sign}{size / 86400:.1f} d"


def _markdown(report: QualityReport, sections: list[_Section]) -> str:
    lines = [
        "# Data-quality report",
        "",
        f"Source: {report.source}. Generated {report.generated_at:%Y-%m-%d %H:%M:%S} UTC.",
    ]
    for section in sections:
        lines += ["", f"## {section.title}"]
        for block in section.blocks:
            lines.append("")
            if isinstance(block, str):
                lines.append(block)
            elif isinstance(block, _Chart):
                lines.append(f"![{block.alt}]({block.file})")
            else:
                lines += [f"**{block.caption}**", "", *_markdown_table(block.frame)]
    return "\n".join(lines) + "\n"


def _markdown_table(frame: pd.DataFrame) -> list[str]:
    headers, cells = _display(frame)

    def line(values: list[str]) -> str:
        return "| " + " | ".join(v.replace("|", "\\|").replace("\n", " ") for v in values) + " |"

    aligns = ["---" if _is_text(frame[c]) else "---:" for c in frame.columns]
    return [line(headers), "|" + "|".join(aligns) + "|", *(line(row) for row in cells)]


def _is_text(column: pd.Series) -> bool:
    return not pd.api.types.is_numeric_dtype(column)


def _html(report: QualityReport, sections: list[_Section]) -> str:
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8"><title>Data-quality report</title>',
        f"<style>{_CSS}</style></head><body>",
        "<h1>Data-quality report</h1>",
        f"<p>Source: {html.escape(report.source)}. "
        f"Generated {report.generated_at:%Y-%m-%d %H:%M:%S} UTC.</p>",
    ]
    for section in sections:
        parts.append(f"<h2>{html.escape(section.title)}</h2>")
        for block in section.blocks:
            if isinstance(block, str):
                parts.append(f"<p>{_inline_code(block)}</p>")
            elif isinstance(block, _Chart):
                parts.append(
                    f'<img src="{html.escape(block.file)}" alt="{html.escape(block.alt)}">'
                )
            else:
                parts.append(_html_table(block))
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _inline_code(text: str) -> str:
    """Markdown's `code` spans as <code>, everything else escaped."""
    pieces = html.escape(text).split("`")
    return "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(pieces))


def _html_table(table: _Table) -> str:
    headers, cells = _display(table.frame)
    numeric = [not _is_text(table.frame[c]) for c in table.frame.columns]

    def cell(tag: str, value: str, right: bool) -> str:
        attributes = ' class="n"' if right else ""
        return f"<{tag}{attributes}>{html.escape(value)}</{tag}>"

    head = "".join(cell("th", h, n) for h, n in zip(headers, numeric, strict=True))
    body = "".join(
        "<tr>" + "".join(cell("td", v, n) for v, n in zip(row, numeric, strict=True)) + "</tr>"
        for row in cells
    )
    return (
        f"<table><caption>{html.escape(table.caption)}</caption>"
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    )


_CSS = (
    "body{font-family:sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}"
    "table{border-collapse:collapse;margin:1rem 0}caption{font-weight:bold;text-align:left}"
    "th,td{border:1px solid #ccc;padding:.2rem .5rem;text-align:left}.n{text-align:right}"
    "img{max-width:100%}"
)
