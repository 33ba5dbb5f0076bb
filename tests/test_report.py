"""``crmstream report``: the numbers a reader reads, from a file and from a real demo run.

The unit tests build a few enriched records by hand and check the tables a user would read
(completeness 2/3 when one of three leads lacks a phone, ...); the CLI tests write a JSON Lines
file and check the report and its charts; the end-to-end test runs a worker fed by the
generator and reports over its enriched topic.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import orjson
import pytest
from matplotlib.image import imread
from typer.testing import CliRunner

from streams.cli import cli
from streams.deployment import Deployment
from streams.generator import CrmSimulation
from streams.publish import publish_events
from streams.report import (
    ReportError,
    build_report,
    corrected_fields,
    current_records,
    delays,
    duplicate_rates,
    field_completeness,
    invalid_fields,
    overview,
    parse_messages,
    score_distribution,
    score_values,
    timeliness,
)
from streams.topic_reader import read_records
from streams.topics import Topic
from streams.worker_process import crmstream_command

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
NO_VERDICT: dict[str, Any] = {"duplicate_of": None, "possible_duplicates": []}


def enriched(
    entity_type: str,
    entity_id: str,
    *,
    missing: tuple[str, ...] = (),
    invalid: dict[str, str] | None = None,
    corrected: tuple[str, ...] = (),
    verdict: dict[str, Any] | None = None,
    occurred_at: str = "2026-11-23T13:41:57Z",
    enriched_at: str = "2026-11-23T13:41:58Z",
    op: str = "update",
    deleted: bool = False,
    **extra: Any,
) -> dict[str, Any]:
    """An enriched record as the worker writes it, with only what the report reads."""
    return {
        "schema_version": 3,
        "change": {
            "entity_type": entity_type,
            "entity_id": entity_id,
            "op": op,
            "occurred_at": occurred_at,
        },
        "merge_outcome": "applied",
        "record": {"entity_type": entity_type, "entity_id": entity_id, "deleted": deleted},
        "quality": {
            "completeness": 1.0,
            "missing_fields": list(missing),
            "invalid_fields": invalid or {},
            "corrected_fields": list(corrected),
            "flagged_fields": {},
            "timeliness_ms": 1000.0,
            "stale": False,
        },
        "enriched_at": enriched_at,
        "duplicates": verdict,
        **extra,
    }


def lines(*records: dict[str, Any]) -> list[tuple[str, bytes | None]]:
    return [(f"line {n}", orjson.dumps(r)) for n, r in enumerate(records, start=1)]


def current(*records: dict[str, Any]) -> Any:
    return current_records(parse_messages(lines(*records)).events)


def row(table: Any, **where: str) -> dict[str, Any]:
    """The one row of ``table`` matching ``where``."""
    selected = table
    for column, value in where.items():
        selected = selected[selected[column] == value]
    assert len(selected) == 1, f"{where}: {len(selected)} rows"
    found: dict[str, Any] = selected.iloc[0].to_dict()
    return found


# --- the numbers -----------------------------------------------------------------------------


def test_completeness_per_field_counts_the_records_that_have_it() -> None:
    table = field_completeness(
        current(
            enriched("lead", "L1"),
            enriched("lead", "L2", missing=("phone",)),
            enriched("lead", "L3"),
            enriched("contact", "C1", missing=("email", "phone")),
        )
    )
    phone = row(table, entity_type="lead", field="phone")
    assert (phone["present"], phone["records"]) == (2, 3)
    assert phone["completeness"] == pytest.approx(2 / 3)
    assert row(table, entity_type="lead", field="email")["completeness"] == 1.0
    assert row(table, entity_type="contact", field="email")["completeness"] == 0.0
    # Every expected field is listed, present or not.
    assert set(table[table["entity_type"] == "contact"]["field"]) >= {"first_name", "account_id"}


def test_a_record_counts_once_as_it_is_now_and_deleted_records_not_at_all() -> None:
    events = parse_messages(
        lines(
            enriched("lead", "L1", missing=("phone",), enriched_at="2026-11-23T13:00:00Z"),
            enriched("lead", "L1", enriched_at="2026-11-23T14:00:00Z"),  # phone added later
            enriched("lead", "L2"),
            enriched("lead", "L3", deleted=True),
        )
    ).events
    now = current_records(events)
    assert sorted(now["entity_id"]) == ["L1", "L2"]
    assert row(field_completeness(now), field="phone")["completeness"] == 1.0
    lead = row(overview(events), entity_type="lead")
    assert lead["enriched_records"] == 4
    assert lead["distinct_records"] == 3
    assert lead["deleted_or_merged"] == 1
    assert lead["current_records"] == 2


def test_invalid_fields_by_field_and_reason_and_corrected_fields_by_field() -> None:
    now = current(
        enriched("contact", "C1", invalid={"email": "invalid_email"}, corrected=("phone",)),
        enriched("contact", "C2", invalid={"email": "invalid_email", "phone": "invalid_phone"}),
        enriched("contact", "C3", corrected=("phone", "first_name")),
        enriched("contact", "C4"),
    )
    invalid = invalid_fields(now)
    email = row(invalid, field="email", reason="invalid_email")
    assert (email["records"], email["share"]) == (2, 0.5)
    assert row(invalid, field="phone", reason="invalid_phone")["records"] == 1
    assert list(invalid["field"]) == ["email", "phone"], "most frequent first"
    corrected = corrected_fields(now)
    assert row(corrected, field="phone")["share"] == 0.5
    assert row(corrected, field="first_name")["records"] == 1


def test_duplicate_rate_per_matched_entity_type() -> None:
    older = {"entity_type": "contact", "entity_id": "C1"}
    table = duplicate_rates(
        current(
            enriched("contact", "C1", verdict=NO_VERDICT),
            enriched("contact", "C2", verdict={**NO_VERDICT, "duplicate_of": older}),
            enriched("contact", "C3", verdict={**NO_VERDICT, "possible_duplicates": [older]}),
            enriched("contact", "C4", verdict=NO_VERDICT),
            enriched("lead", "L1", verdict=NO_VERDICT),
            enriched("opportunity", "O1", verdict=None),  # never matched
        )
    )
    contact = row(table, entity_type="contact")
    assert (contact["records"], contact["duplicate_of"], contact["with_possible"]) == (4, 1, 1)
    assert contact["duplicate_rate"] == 0.25
    assert contact["possible_rate"] == 0.25
    assert row(table, entity_type="lead")["duplicate_rate"] == 0.0
    assert "opportunity" not in set(table["entity_type"])


def test_timeliness_is_source_timestamp_to_enrichment_over_live_changes() -> None:
    at = "2026-11-23T13:00:0{}Z".format
    parsed = parse_messages(
        lines(
            enriched("lead", "L1", occurred_at=at(0), enriched_at=at(1)),
            enriched("lead", "L2", occurred_at=at(0), enriched_at=at(2)),
            enriched("lead", "L3", occurred_at=at(0), enriched_at=at(3)),
            enriched("account", "A1", occurred_at=at(5), enriched_at=at(4)),  # clock ahead
            enriched("account", "A2", op="snapshot", occurred_at="2020-01-01T00:00:00Z"),
        )
    )
    table = timeliness(delays(parsed.events))
    lead = row(table, entity_type="lead")
    assert (lead["changes"], lead["median_s"], lead["max_s"]) == (3, 2.0, 3.0)
    account = row(table, entity_type="account")
    assert (account["changes"], account["ahead_of_clock"], account["max_s"]) == (1, 1, -1.0)
    assert row(table, entity_type="all")["changes"] == 4
    assert build_report(parsed, "test").snapshots == 1


def test_scores_are_shown_when_records_carry_them() -> None:
    values = score_values(
        current(
            enriched("lead", "L1", lead_score=20),
            enriched("lead", "L2", lead_score=80),
            enriched("lead", "L3"),
        )
    )
    table = score_distribution(values)
    lead = row(table, score="lead_score", entity_type="lead")
    assert (lead["records"], lead["mean"], lead["min"], lead["max"]) == (2, 50.0, 20.0, 80.0)
    assert score_values(current(enriched("lead", "L1"))).empty


def test_malformed_messages_are_counted_with_position_and_reason() -> None:
    bad_time = enriched("lead", "L2", enriched_at="yesterday")
    no_type = enriched("lead", "L3")
    del no_type["change"]["entity_type"]
    parsed = parse_messages(
        [
            *lines(enriched("lead", "L1")),
            ("line 2", b"{oops"),
            ("line 3", b'"a string"'),
            ("line 4", orjson.dumps(bad_time)),
            ("line 5", orjson.dumps(no_type)),
            ("partition 0 offset 9", None),
        ]
    )
    assert (parsed.read, len(parsed.events)) == (6, 1)
    assert [(m.where, m.reason) for m in parsed.malformed] == [
        ("line 2", "not JSON"),
        ("line 3", "not a JSON object"),
        ("line 4", "enriched_at is not an ISO 8601 date-time"),
        ("line 5", "change.entity_type is missing"),
        ("partition 0 offset 9", "empty message (a tombstone)"),
    ]


def test_nothing_to_report_on_is_an_error() -> None:
    with pytest.raises(ReportError, match="is empty"):
        build_report(parse_messages([]), "enriched.jsonl")
    with pytest.raises(ReportError, match="all 1 message"):
        build_report(parse_messages([("line 1", b"nope")]), "enriched.jsonl")


# --- the command on a file -------------------------------------------------------------------


def assert_valid_pngs(directory: Path, names: set[str]) -> None:
    charts = {path.name for path in directory.glob("*.png")}
    assert charts >= names, f"missing charts: {names - charts}"
    for name in charts:
        path = directory / name
        assert path.read_bytes().startswith(PNG_SIGNATURE), name
        height, width, _ = imread(path).shape
        assert min(height, width) > 100, name


def write_jsonl(path: Path, records: list[dict[str, Any]], *, extra: bytes = b"") -> Path:
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records) + extra)
    return path


def sample_records() -> list[dict[str, Any]]:
    older = {"entity_type": "lead", "entity_id": "L1"}
    return [
        enriched("lead", "L1", verdict=NO_VERDICT, invalid={"email": "invalid_email"}),
        enriched("lead", "L2", missing=("phone",), verdict={**NO_VERDICT, "duplicate_of": older}),
        enriched("lead", "L3", verdict=NO_VERDICT, corrected=("phone",)),
        enriched("opportunity", "O1"),
    ]


def test_report_from_a_file_writes_markdown_and_charts(tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "enriched.jsonl", sample_records(), extra=b"{broken\n\n")
    out = tmp_path / "report"
    result = CliRunner().invoke(cli, ["report", "--input", str(source), "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert "4 enriched records; 1 malformed skipped" in result.output
    text = (out / "report.md").read_text()
    assert "| lead | phone | 2 | 3 | 66.7% |" in text  # completeness 2/3
    assert "| lead | email | invalid_email | 1 | 33.3% |" in text
    assert "| lead | 3 | 1 | 33.3% | 0 | 0.0% |" in text  # duplicate rate
    assert "| all | 4 | 1.0 s | 1.0 s | 1.0 s | 1.0 s | 0 |" in text  # timeliness
    assert "No scores yet" in text
    assert "| line 5 | not JSON |" in text
    charts = {"completeness.png", "invalid_fields.png", "duplicates.png", "timeliness.png"}
    for chart in charts:
        assert f"]({chart})" in text
    assert_valid_pngs(out, charts)


def test_report_as_html_with_scores(tmp_path: Path) -> None:
    records = [enriched("lead", f"L{i}", scores={"lead": {"score": i * 10}}) for i in range(5)]
    source = write_jsonl(tmp_path / "enriched.jsonl", records)
    out = tmp_path / "report"
    args = ["report", "--input", str(source), "--output", str(out), "--format", "html"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    page = (out / "report.html").read_text()
    assert page.startswith("<!DOCTYPE html>")
    assert '<img src="scores.png"' in page
    assert "<td>scores.lead.score</td>" in page
    assert "No scores yet" not in page
    assert_valid_pngs(out, {"scores.png", "completeness.png"})


def test_an_empty_file_says_so_and_fails(tmp_path: Path) -> None:
    source = tmp_path / "empty.jsonl"
    source.write_bytes(b"\n")
    result = CliRunner().invoke(cli, ["report", "--input", str(source), "--output", str(tmp_path)])
    assert result.exit_code == 1
    assert "is empty: no enriched records to report on" in result.output
    assert not (tmp_path / "report.md").exists()


def test_an_unknown_format_is_refused(tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "enriched.jsonl", sample_records())
    result = CliRunner().invoke(cli, ["report", "--input", str(source), "--format", "pdf"])
    assert result.exit_code == 2
    assert "--format must be markdown or html" in result.output


# --- through a real broker -------------------------------------------------------------------


@pytest.mark.kafka
def test_report_over_the_enriched_topic_of_a_demo_run(
    kafka_bootstrap: str, isolated_names: tuple[str, str], tmp_path: Path
) -> None:
    deployment = Deployment.create(kafka_bootstrap, isolated_names, tmp_path, topic_partitions="2")
    enriched_topic = deployment.topic(Topic.ENRICHED)
    env = {**os.environ, **deployment.env}
    env.pop("CRMSTREAM_KAFKA_BOOTSTRAP_SERVERS", None)  # the deployment's broker, not another
    out = tmp_path / "report"

    def report() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*crmstream_command(), "report", "--output", str(out)],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    empty = report()
    assert empty.returncode == 1
    assert f"topic {enriched_topic} is empty" in empty.stderr

    events = list(CrmSimulation(seed=3).events(400))
    valid = sum(1 for event in events if event.expected_error is None)
    with deployment.worker() as worker:
        publish_events(
            events,
            bootstrap_servers=kafka_bootstrap,
            topic=deployment.topic(Topic.CHANGES),
            rate=None,
            progress=False,
        )
        records = read_records(kafka_bootstrap, [enriched_topic], expected=valid, timeout=120)
        assert worker.stop(timeout=60) == 0, worker.log_tail()
    assert len(records) == valid

    result = report()
    assert result.returncode == 0, result.stderr
    assert f"report written to {out / 'report.md'} ({valid} enriched records)" in result.stdout
    text = (out / "report.md").read_text()
    assert f"{valid} message(s) read from topic {enriched_topic}: {valid} enriched records" in text
    for section in ("Completeness", "Duplicates", "Timeliness", "Scores"):
        assert f"## {section}" in text
    assert "| lead | first_name |" in text
    # Since enriched schema 4, leads and accounts carry their score.
    assert "| score.score | lead |" in text
    assert "| score.score | account |" in text
    assert_valid_pngs(out, {"completeness.png", "duplicates.png", "timeliness.png", "scores.png"})
