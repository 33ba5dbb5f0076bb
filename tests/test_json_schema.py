"""The exported JSON Schema files match the models: contracts never drift silently."""

from __future__ import annotations

from datetime import UTC, datetime

import jsonschema
import orjson
import pytest

from schemas.enrich import StandardizeOptions, enrich_change
from schemas.ingest import ingest_message
from schemas.json_schema import CONTRACTS, SCHEMA_DIR, render
from schemas.mapping import DEFAULT_FIELD_MAPPING
from schemas.outbound import SourcePosition


@pytest.mark.parametrize("stem", sorted(CONTRACTS))
def test_the_committed_schema_file_is_up_to_date(stem: str) -> None:
    committed = SCHEMA_DIR / f"{stem}.schema.json"
    assert committed.exists(), "run: python -m schemas.json_schema"
    assert committed.read_bytes() == render(CONTRACTS[stem]), (
        f"{committed.name} is stale: run python -m schemas.json_schema and commit the result"
    )


@pytest.mark.parametrize("stem", sorted(CONTRACTS))
def test_each_schema_is_a_valid_json_schema(stem: str) -> None:
    jsonschema.Draft202012Validator.check_schema(orjson.loads(render(CONTRACTS[stem])))


def test_records_the_worker_writes_validate_against_their_schema() -> None:
    at = SourcePosition(topic="crm.changes", partition=0, offset=1)
    now = datetime(2026, 11, 23, tzinfo=UTC)
    good = (
        b'{"event_id":"e","entity_type":"lead","entity_id":"1","op":"create",'
        b'"occurred_at":"2026-11-23T00:00:00Z","source":"crm","fields":{"email":"a@b.co"}}'
    )
    options = {"source_format": None, "mapping": DEFAULT_FIELD_MAPPING, "max_bytes": 1024}
    [routed] = ingest_message(good, None, at, now, **options).routed
    _, enriched = enrich_change(routed, None, now=now, options=StandardizeOptions())
    letter = ingest_message(b"{", None, at, now, **options).dead_letter
    assert letter is not None
    for record, stem in (
        (enriched, "enriched"),
        (letter, "deadletter"),
        (routed.change, "change-event"),
    ):
        schema = orjson.loads((SCHEMA_DIR / f"{stem}.schema.json").read_bytes())
        jsonschema.validate(orjson.loads(record.model_dump_json()), schema)
