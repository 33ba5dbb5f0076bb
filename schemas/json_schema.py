"""JSON Schema files of the records crmstream reads and writes, for downstream consumers.

Generated from the pydantic models (the one source of truth) into ``schemas/json/``; a test
fails when a model changes and the files were not regenerated, so a contract never drifts
silently. Regenerate with ``python -m schemas.json_schema``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import orjson
from pydantic import BaseModel

from schemas.alerts import AlertEvent
from schemas.change import ChangeEvent
from schemas.duplicates import DuplicateEvent, FeedbackVerdict
from schemas.enrich import EnrichedRecord, ScoreEvent
from schemas.outbound import DeadLetter

SCHEMA_DIR = Path(__file__).parent / "json"

# File stem -> model; the topic each one describes is in the README's topic contracts.
CONTRACTS: dict[str, type[BaseModel]] = {
    "change-event": ChangeEvent,
    "enriched": EnrichedRecord,
    "score": ScoreEvent,
    "deadletter": DeadLetter,
    "duplicate": DuplicateEvent,
    "feedback": FeedbackVerdict,
    "alert": AlertEvent,
}


def render(model: type[BaseModel]) -> bytes:
    """The schema as stable, diff-friendly JSON text."""
    schema = model.model_json_schema(mode="serialization")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return orjson.dumps(schema, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"


def export(directory: Path = SCHEMA_DIR) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for stem, model in CONTRACTS.items():
        path = directory / f"{stem}.schema.json"
        path.write_bytes(render(model))
        written.append(path)
    return written


if __name__ == "__main__":
    for written_path in export():
        sys.stdout.write(f"wrote {written_path}\n")
