"""``crmstream replay FILE``: load an existing CRM export onto the changes topic.

Files are read in chunks (CSV through pandas, JSON Lines line by line) so an export of
millions of rows never sits in memory; rows that cannot become a change are written to a
rejects file with their row number and reasons, never silently skipped.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pandas as pd

from schemas.backfill import ExportLayout, snapshot_from_row
from schemas.errors import InvalidChange
from streams.publish import PublishReport, publish_events


@dataclass(frozen=True, slots=True)
class BackfillMessage:
    """One snapshot change, ready for the producer."""

    key: bytes | None
    value: bytes


@dataclass
class BackfillReport:
    rows: int = 0
    rejected: int = 0
    published: PublishReport | None = None
    rejects_path: Path | None = None
    reasons: dict[str, int] = field(default_factory=dict)


def read_rows(path: Path, *, chunk_size: int = 10_000) -> Iterator[dict[str, Any]]:
    """Rows of a CSV or JSON Lines export, as column -> cell (CSV cells stay strings)."""
    if path.suffix.lower() in {".jsonl", ".ndjson"}:
        with path.open("rb") as lines:
            for line in lines:
                if line.strip():
                    yield orjson.loads(line)
        return
    # Strings only: an id like 00123 or a postcode must not become a number.
    for chunk in pd.read_csv(path, chunksize=chunk_size, dtype=str, keep_default_na=False):
        for row in chunk.to_dict(orient="records"):
            yield {str(column): cell for column, cell in row.items()}


def count_rows(path: Path) -> int:
    """Cheap estimate for the progress bar: lines, less a CSV header."""
    with path.open("rb") as lines:
        total = sum(1 for _ in lines)
    return total if path.suffix.lower() in {".jsonl", ".ndjson"} else max(0, total - 1)


def backfill(
    path: Path,
    layout: ExportLayout,
    *,
    bootstrap_servers: str,
    topic: str,
    rate: float | None,
    progress: bool,
) -> BackfillReport:
    """Publish every row of ``path`` as a snapshot change; report rejects beside the file."""
    exported_at = datetime.fromtimestamp(path.stat().st_mtime, tz=UTC)
    report = BackfillReport(rejects_path=path.with_name(path.name + ".rejects.jsonl"))
    assert report.rejects_path is not None
    with report.rejects_path.open("wb") as rejects:

        def messages() -> Iterator[BackfillMessage]:
            for number, row in enumerate(read_rows(path), start=1):
                report.rows += 1
                try:
                    change = snapshot_from_row(row, layout, exported_at=exported_at)
                except InvalidChange as exc:
                    _reject(report, rejects, number, exc)
                    continue
                yield BackfillMessage(change.entity_id.encode(), change.model_dump_json().encode())

        report.published = publish_events(
            messages(),
            bootstrap_servers=bootstrap_servers,
            topic=topic,
            rate=rate,
            progress=progress,
            total=count_rows(path),
        )
    if report.rejected == 0:
        report.rejects_path.unlink()
        report.rejects_path = None
    return report


def _reject(report: BackfillReport, rejects: Any, number: int, exc: InvalidChange) -> None:
    report.rejected += 1
    for error in exc.errors:
        report.reasons[error.code.value] = report.reasons.get(error.code.value, 0) + 1
    problems = [{"code": e.code.value, "field": e.field, "message": e.message} for e in exc.errors]
    rejects.write(orjson.dumps({"row": number, "errors": problems}) + b"\n")
