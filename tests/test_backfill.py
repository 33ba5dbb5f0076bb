"""Backfill: export rows become snapshot changes that never lose a column or clobber newer data."""

from __future__ import annotations

import os
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from schemas.backfill import ExportLayout, ExportSource, export_columns, snapshot_from_row
from schemas.change import ChangeOp, EntityType
from schemas.errors import ErrorCode, InvalidChange
from schemas.mapping import DEFAULT_FIELD_MAPPING, ObjectMapping
from schemas.native import parse_native_change
from schemas.record import merge_change
from streams.backfill import count_rows, read_rows
from streams.kafka_admin import ensure_topics
from streams.settings import Settings
from streams.topic_reader import read_records
from streams.topics import topic_specs
from streams.worker_process import crmstream_command

EXPORTED = datetime(2026, 11, 1, tzinfo=UTC)
LAYOUT = ExportLayout(
    ObjectMapping(entity_type="contact", fields={"FirstName": "first_name", "Email": "email"}),
    id_column="Id",
    timestamp_column="LastModifiedDate",
    source="salesforce-export",
)


def test_mapped_columns_become_fields_and_the_rest_attributes() -> None:
    change = snapshot_from_row(
        {
            "Id": "003A1",
            "FirstName": "Ada",
            "Email": "",
            "Tier__c": "gold",
            "LastModifiedDate": "2026-10-30T08:00:00Z",
        },
        LAYOUT,
        exported_at=EXPORTED,
    )
    assert change.op is ChangeOp.SNAPSHOT
    assert change.fields == {"first_name": "Ada"}, "an empty cell is unknown, not a clearing"
    assert change.attributes == {"Tier__c": "gold", "LastModifiedDate": "2026-10-30T08:00:00Z"}
    assert change.occurred_at == datetime(2026, 10, 30, 8, tzinfo=UTC)


def test_the_same_row_twice_has_the_same_event_id_so_it_is_applied_once() -> None:
    row = {"Id": "003A1", "FirstName": "Ada"}
    first = snapshot_from_row(row, LAYOUT, exported_at=EXPORTED)
    again = snapshot_from_row(dict(row), LAYOUT, exported_at=EXPORTED)
    changed = snapshot_from_row({**row, "FirstName": "Augusta"}, LAYOUT, exported_at=EXPORTED)
    assert first.event_id == again.event_id != changed.event_id


def test_a_backfill_older_than_live_changes_does_not_overwrite_them() -> None:
    live = snapshot_from_row({"Id": "003A1", "Email": "new@x.io"}, LAYOUT, exported_at=EXPORTED)
    state, _ = merge_change(None, live)
    old = snapshot_from_row(
        {"Id": "003A1", "Email": "old@x.io", "LastModifiedDate": "2025-01-01 10:00:00"},
        LAYOUT,
        exported_at=EXPORTED,
    )
    state, _ = merge_change(state, old)
    assert state.fields["email"] == "new@x.io"


@pytest.mark.parametrize(
    ("row", "code"),
    [
        ({"FirstName": "Ada"}, ErrorCode.MISSING_FIELD),
        ({"Id": "  ", "FirstName": "Ada"}, ErrorCode.MISSING_FIELD),
        ({"Id": "1", "FirstName": "Ada", "LastModifiedDate": "soon"}, ErrorCode.INVALID_TIMESTAMP),
    ],
)
def test_rows_that_cannot_be_changes_say_why(row: dict[str, str], code: ErrorCode) -> None:
    with pytest.raises(InvalidChange) as caught:
        snapshot_from_row(row, LAYOUT, exported_at=EXPORTED)
    assert caught.value.errors[0].code is code


def test_csv_cells_stay_strings_so_ids_and_postcodes_keep_leading_zeros(tmp_path: Path) -> None:
    export = tmp_path / "contacts.csv"
    export.write_text('Id,PostalCode,Note\n00123,02134,"multi\nline"\n00124,,\n')
    rows = list(read_rows(export, chunk_size=1))
    assert rows == [
        {"Id": "00123", "PostalCode": "02134", "Note": "multi\nline"},
        {"Id": "00124", "PostalCode": "", "Note": ""},
    ]
    assert count_rows(export) >= 2


def test_json_lines_keep_their_types(tmp_path: Path) -> None:
    export = tmp_path / "leads.jsonl"
    export.write_text('{"Id": "00Q1", "NumberOfEmployees": 250}\n\n{"Id": "00Q2"}\n')
    assert list(read_rows(export)) == [{"Id": "00Q1", "NumberOfEmployees": 250}, {"Id": "00Q2"}]


def test_an_export_is_read_with_its_source_s_live_mapping_plus_overrides() -> None:
    columns = export_columns(
        DEFAULT_FIELD_MAPPING, EntityType.ACCOUNT, ExportSource.HUBSPOT, overrides={"Tier": "plan"}
    )
    fields, attributes = columns.split({"name": "Acme", "Tier": "pro", "notes": "x"})
    assert fields == {"name": "Acme", "plan": "pro"}
    assert attributes == {"notes": "x"}


def test_canonical_exports_map_columns_named_like_fields() -> None:
    columns = export_columns(DEFAULT_FIELD_MAPPING, EntityType.LEAD, ExportSource.NATIVE)
    assert columns.split({"email": "a@x.io", "Custom": 1}) == ({"email": "a@x.io"}, {"Custom": 1})


def test_an_override_to_a_non_canonical_field_is_refused() -> None:
    with pytest.raises(ValueError, match="not a canonical"):
        export_columns(
            DEFAULT_FIELD_MAPPING,
            EntityType.LEAD,
            "salesforce",
            overrides={"Foo": "favourite_colour"},
        )


@pytest.mark.kafka
def test_the_replay_command_publishes_rows_and_lists_rejects(
    kafka_bootstrap: str, isolated_names: tuple[str, str], tmp_path: Path
) -> None:
    prefix, app_id = isolated_names
    settings = Settings.model_validate(
        {"topic_prefix": prefix, "app_id": app_id, "topic_partitions": 1}
    )
    ensure_topics(kafka_bootstrap, topic_specs(settings))
    export = tmp_path / "leads.csv"
    export.write_text(
        "Id,FirstName,LastName,Email,LastModifiedDate,Score__c\n"
        "00Q1,Ada,Lovelace,ada@example.com,2026-10-01T10:00:00Z,87\n"
        ",No,Id,nobody@example.com,2026-10-01T10:00:00Z,1\n"
        "00Q3,Grace,Hopper,grace@example.com,2026-10-02T10:00:00Z,\n"
    )
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "CRMSTREAM_TOPIC_PREFIX": prefix,
        "CRMSTREAM_APP_ID": app_id,
        "CRMSTREAM_TOPIC_PARTITIONS": "1",
    }
    result = subprocess.run(
        [
            *crmstream_command(),
            "replay",
            str(export),
            "--entity-type",
            "lead",
            "--source",
            "salesforce",
            "--timestamp-column",
            "LastModifiedDate",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "3 rows: 2 published" in result.stdout
    rejects = (tmp_path / "leads.csv.rejects.jsonl").read_text().splitlines()
    assert [orjson.loads(line)["row"] for line in rejects] == [2]

    published = read_records(kafka_bootstrap, [f"{prefix}changes"], expected=2, timeout=30)
    changes = [parse_native_change(record.value) for record in published]
    assert {c.entity_id: c.fields["first_name"] for c in changes} == {
        "00Q1": "Ada",
        "00Q3": "Grace",
    }
    assert {c.op for c in changes} == {ChangeOp.SNAPSHOT}
    assert next(c for c in changes if c.entity_id == "00Q1").attributes["Score__c"] == "87"
