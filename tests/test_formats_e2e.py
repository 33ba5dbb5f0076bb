"""Every inbound format end to end through a real broker and a real worker.

Documented examples of Salesforce CDC, Debezium and HubSpot (the fixtures of
test_envelopes_examples, each naming its source), a Salesforce create plus two partial
updates on a topic configured as Salesforce, and a native create with the same values all
go through ``crmstream worker``; the final enriched record of each entity must equal what the
pure merge of its changes gives, and the Salesforce and native leads must be identical.
Then generated traffic in mixed formats (Salesforce, Debezium, HubSpot, native) must rebuild
exactly the records its native twin describes.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from kafka import KafkaProducer

from schemas.enrich import StandardizeOptions, enrich_change
from schemas.envelopes import SourceFormat, parse_message
from schemas.ingest import RoutedChange
from schemas.mapping import extend_field_mapping
from schemas.native import parse_native_change
from schemas.outbound import SourcePosition
from schemas.record import RecordState
from streams.deployment import Deployment, count_changes
from streams.generator import CrmSimulation, GeneratedEvent
from streams.kafka_admin import ensure_topics
from streams.publish import publish_events
from streams.source_formats import FormattedSimulation, OutputFormat, custom_field_mapping
from streams.topics import Topic, TopicSpec
from tests.test_envelopes_examples import (
    DBZ_PG_CREATE,
    DBZ_PG_DELETE,
    DBZ_PG_TRUNCATE,
    DBZ_PG_UPDATE,
    HS_DOCUMENTED_BATCH,
    HS_LIFECYCLE_BATCH,
    SF_COMETD_WRAPPED_LEAD,
    SF_COMPOUND_CREATE,
    SF_CONFLUENT_CONNECTOR_CREATE,
)

pytestmark = pytest.mark.kafka

MAPPING_FILE = '[debezium.customers]\nentity_type = "contact"\n'
MAPPING = extend_field_mapping({"debezium": {"customers": {"entity_type": "contact"}}})
T0 = 1_764_000_000_000  # epoch ms


def sf_lead(change_type: str, sequence: int, changed: list[str], **values: Any) -> dict[str, Any]:
    header = {
        "entityName": "Lead",
        "recordIds": ["00Q000000000001AAA"],
        "changeType": change_type,
        "changedFields": changed,
        "transactionKey": f"tx-{sequence}",
        "sequenceNumber": 1,
        "commitTimestamp": T0 + sequence * 60_000,
        "commitNumber": 100 + sequence,
        "commitUser": "005000000000001AAA",
    }
    return {"ChangeEventHeader": header, **values}


SF_CREATE = sf_lead(
    "CREATE",
    0,
    [],
    Name={"FirstName": "grace", "LastName": "HOPPER"},
    Company="Cobol Systems, Inc.",
    Email="Grace.Hopper@Cobol.example",
    Phone="(415) 555-2671",
    Country="USA",
    LeadSource="Web",
)
SF_UPDATE_TITLE = sf_lead("UPDATE", 1, ["Title"], Title="Rear Admiral")
SF_UPDATE_EMAIL = sf_lead("UPDATE", 2, ["Email"], Email="grace@navy.example")
NATIVE_SAME_LEAD = {
    "event_id": "native-lead-2",
    "entity_type": "lead",
    "entity_id": "native-lead-2",
    "op": "create",
    "occurred_at": datetime.fromtimestamp((T0 + 120_000) / 1000, UTC).isoformat(),
    "source": "native",
    "fields": {
        "first_name": "grace",
        "last_name": "HOPPER",
        "company": "Cobol Systems, Inc.",
        "email": "grace@navy.example",
        "phone": "(415) 555-2671",
        "country": "USA",
        "lead_source": "Web",
        "title": "Rear Admiral",
    },
}

CHANGES_TOPIC_MESSAGES: list[Any] = [
    SF_COMETD_WRAPPED_LEAD,
    SF_COMPOUND_CREATE,
    SF_CONFLUENT_CONNECTOR_CREATE,
    DBZ_PG_CREATE,
    DBZ_PG_UPDATE,
    DBZ_PG_DELETE,
    None,  # Debezium's tombstone after the delete
    DBZ_PG_TRUNCATE,
    HS_DOCUMENTED_BATCH,
    HS_LIFECYCLE_BATCH,
    NATIVE_SAME_LEAD,
]
SALESFORCE_TOPIC_MESSAGES: list[Any] = [SF_CREATE, SF_UPDATE_TITLE, SF_UPDATE_EMAIL]
OBSERVED = ("fields", "attributes", "deleted", "merged_into", "merged_ids", "stale")


def encode(message: Any) -> bytes | None:
    return None if message is None else orjson.dumps(message)


def expected_records(messages: list[Any]) -> dict[str, dict[str, Any]]:
    """What the pure code says each record must look like after all these messages."""
    now = datetime.now(UTC)
    position = SourcePosition(topic="t", partition=0, offset=0)
    states: dict[str, RecordState] = {}
    views: dict[str, dict[str, Any]] = {}
    for message in messages:
        parsed = parse_message(
            encode(message), source_format=None, mapping=MAPPING, max_bytes=1 << 20
        )
        for change in (c for parsed_change in parsed.changes for c in parsed_change.expand_merge()):
            routed = RoutedChange(
                change=change, source_position=position, source_format=None, received_at=now
            )
            key = routed.record_key().decode()
            states[key], enriched = enrich_change(
                routed, states.get(key), now=now, options=StandardizeOptions()
            )
            views[key] = enriched.record.model_dump(mode="json", include=set(OBSERVED))
    return views


def keyed(messages: list[Any]) -> Iterator[tuple[bytes | None, bytes | None]]:
    for number, message in enumerate(messages):
        yield f"message-{number}".encode(), encode(message)


def test_every_format_comes_out_as_the_expected_canonical_records(
    kafka_bootstrap: str, isolated_names: tuple[str, str], tmp_path: Path
) -> None:
    salesforce_topic = f"{isolated_names[0]}sf.cdc"
    mapping_file = tmp_path / "mapping.toml"
    mapping_file.write_text(MAPPING_FILE)
    deployment = Deployment.create(
        kafka_bootstrap,
        isolated_names,
        tmp_path,
        topic_partitions="2",
        source_topics=orjson.dumps({salesforce_topic: "salesforce"}).decode(),
        field_mapping_file=str(mapping_file),
    )
    ensure_topics(kafka_bootstrap, [TopicSpec(salesforce_topic, 1, 1)])
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap)
    for key, value in keyed(CHANGES_TOPIC_MESSAGES):
        producer.send(deployment.topic(Topic.CHANGES), key=key, value=value)
    for key, value in keyed(SALESFORCE_TOPIC_MESSAGES):
        producer.send(salesforce_topic, key=key, value=value)
    producer.flush()

    expected = expected_records(CHANGES_TOPIC_MESSAGES) | expected_records(
        SALESFORCE_TOPIC_MESSAGES
    )
    all_messages = CHANGES_TOPIC_MESSAGES + SALESFORCE_TOPIC_MESSAGES
    expected_outputs = count_changes(map(encode, all_messages), MAPPING)
    with deployment.worker() as worker:
        records = deployment.read_outputs(expected=expected_outputs, timeout=120)
        metrics = deployment.metrics()
        assert worker.stop() == 0, worker.log_tail()

    assert not [r for r in records if r.topic.endswith("deadletter")], "nothing is parked"
    assert len(records) == expected_outputs
    final: dict[str, dict[str, Any]] = {}
    for record in records:  # per key, the last one is the record's final state
        enriched = orjson.loads(record.value)
        final[record.key.decode()] = {k: enriched["record"][k] for k in OBSERVED}
    assert final == expected

    salesforce_lead = final["lead:00Q000000000001AAA"]
    assert salesforce_lead == final["lead:native-lead-2"], "same values, whatever the format"
    assert salesforce_lead["fields"] == {
        "first_name": "Grace",
        "last_name": "Hopper",
        "company": "Cobol Systems, Inc.",
        "email": "grace@navy.example",
        "phone": "+14155552671",
        "country": "US",
        "lead_source": "Web",
        "title": "Rear Admiral",
    }
    documented_lead = final["lead:00Q5e00000AbCdEEAZ"]
    assert documented_lead["fields"]["country"] == "GB"
    assert documented_lead["attributes"]["Score__c"] == 87
    assert final["contact:1"]["deleted"] is True
    assert metrics['crmstream_messages_skipped_total{reason="tombstone"}'] == 1
    assert metrics['crmstream_messages_skipped_total{reason="truncate"}'] == 1
    assert metrics['crmstream_changes_routed_total{source_format="salesforce"}'] >= 6


GENERATED = 2_000


def without_blanks(fields: dict[str, Any]) -> dict[str, Any]:
    """A NULL column, an empty HubSpot property and an absent field all mean 'no value'."""
    return {name: value for name, value in fields.items() if value not in (None, "")}


def native_records(events: list[GeneratedEvent]) -> dict[str, tuple[dict[str, Any], bool]]:
    """Standardized fields and deletion of every record, from the native stream, purely."""
    now = datetime.now(UTC)
    position = SourcePosition(topic="t", partition=0, offset=0)
    states: dict[str, RecordState] = {}
    records: dict[str, tuple[dict[str, Any], bool]] = {}
    for event in events:
        if event.expected_error is not None:
            continue
        routed = RoutedChange(
            change=parse_native_change(event.value),
            source_position=position,
            source_format=None,
            received_at=now,
        )
        key = routed.record_key().decode()
        states[key], enriched = enrich_change(
            routed, states.get(key), now=now, options=StandardizeOptions()
        )
        records[key] = (without_blanks(enriched.record.fields), enriched.record.deleted)
    return records


def test_generated_traffic_in_mixed_formats_rebuilds_the_native_records(
    kafka_bootstrap: str, isolated_names: tuple[str, str], tmp_path: Path
) -> None:
    mapping_file = tmp_path / "mapping.json"
    mapping_file.write_bytes(orjson.dumps(custom_field_mapping()))
    deployment = Deployment.create(
        kafka_bootstrap,
        isolated_names,
        tmp_path,
        topic_partitions="3",
        field_mapping_file=str(mapping_file),
    )
    native = list(CrmSimulation(seed=5).events(GENERATED))
    mixed = list(FormattedSimulation(CrmSimulation(seed=5), OutputFormat.MIXED).events(GENERATED))
    assert {event.source_format for event in mixed} >= set(SourceFormat)
    expected = native_records(native)

    valid = [event.value for event in mixed if event.expected_error is None]
    invalid = len(mixed) - len(valid)
    enriched_count = count_changes(valid, extend_field_mapping(custom_field_mapping()))
    with deployment.worker() as worker:
        publish_events(
            mixed,
            bootstrap_servers=kafka_bootstrap,
            topic=deployment.topic(Topic.CHANGES),
            rate=None,
            progress=False,
        )
        outputs = deployment.read_outputs(expected=enriched_count + invalid, timeout=180)
        assert worker.stop() == 0, worker.log_tail()

    records = [record for record in outputs if record.topic == deployment.topic(Topic.ENRICHED)]
    assert (len(records), len(outputs) - len(records)) == (enriched_count, invalid)
    final: dict[str, tuple[dict[str, Any], bool]] = {}
    for record in records:
        view = orjson.loads(record.value)["record"]
        final[record.key.decode()] = (without_blanks(view["fields"]), view["deleted"])
    assert final.keys() == expected.keys()
    mismatched = [key for key in expected if final[key] != expected[key]]
    assert not mismatched, f"{len(mismatched)} records differ, e.g. {mismatched[:3]}"
