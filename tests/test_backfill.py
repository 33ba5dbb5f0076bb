"""Backfill: export rows become snapshot changes that never lose a column or clobber newer data."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from schemas.backfill import ExportLayout, ExportSource, export_columns, snapshot_from_row
from schemas.change import ChangeOp, EntityType
from schemas.errors import ErrorCode, InvalidChange
from schemas.mapping import DEFAULT_FIELD_MAPPING, ObjectMapping
from schemas.record import merge_change
from streams.backfill import count_rows, read_rows

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
