"""Generated traffic in every source format means to the parsers what the native stream means.

The invariant: for every valid generated event, ``parse_message`` (format detected per
message, default mapping) yields changes that, merged in order with ``merge_change``, give the
same records as the native stream merged the same way: same records, same deletions, same
fields. Every exception the comparison needs is one streams/source_formats.py documents:

* custom fields: canonical fields the default mapping gives no source name are sent as custom
  fields and come back as attributes under that name (``Plan__c``; HubSpot ``plan``). They
  are moved back by name before comparing (``CUSTOM``; in a mixed run the newest of the
  two names wins); nothing else may be an attribute.
  With :func:`custom_field_mapping` they are canonical fields again, compared as they are.
* debezium: a row has every column, so a NULL column and an absent field are the same (None
  is dropped on both sides); money columns are doubles, equal to the native integers.
* hubspot (and mixed, which includes it): every value is text, so fields are compared once
  standardized (``standardize_fields``), where ``""`` clears a field like None does.
* salesforce: no exception; fields compare exactly.

No Kafka: everything here is pure.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
import pytest

from schemas.change import ChangeEvent, ChangeOp
from schemas.envelopes import ParsedMessage, SourceFormat, detect_format, parse_message
from schemas.mapping import DEFAULT_FIELD_MAPPING, FieldMapping, extend_field_mapping
from schemas.native import parse_native_change
from schemas.record import RecordState, merge_change
from schemas.standardize.record import standardize_fields
from streams.generator import CrmSimulation, GeneratedEvent
from streams.source_formats import (
    FormattedSimulation,
    OutputFormat,
    SourceRenderer,
    custom_field_mapping,
)

COUNT = 3000
SEED = 23
RENDERED = [OutputFormat.SALESFORCE, OutputFormat.DEBEZIUM, OutputFormat.HUBSPOT]
NON_NATIVE = [*RENDERED, OutputFormat.MIXED]
EXTENDED_MAPPING = extend_field_mapping(custom_field_mapping())
# Custom field name -> canonical field, per source section (see the module doc).
CUSTOM: dict[str, str] = {
    custom: canonical
    for objects in custom_field_mapping().values()
    for spec in objects.values()
    for custom, canonical in spec["fields"].items()
}
# Records the simulation can hold at once (the sum of its live pools' caps).
LIVE_RECORDS_CAP = 13_500

Records = dict[tuple[str, str], RecordState]


@dataclass
class Run:
    events: list[GeneratedEvent]
    parsed: dict[int, ParsedMessage]
    records: Records
    truth: dict[str, Any]


def replay(
    events: list[GeneratedEvent], mapping: FieldMapping
) -> tuple[dict[int, ParsedMessage], Records]:
    """Parse every valid event as the worker does and merge its changes in order."""
    parsed: dict[int, ParsedMessage] = {}
    records: Records = {}
    for event in events:
        if event.expected_error is not None:
            continue
        message = parse_message(event.value, source_format=None, mapping=mapping, max_bytes=10**6)
        parsed[event.index] = message
        for change in message.changes:
            key = (change.entity_type.value, change.entity_id)
            records[key], _ = merge_change(records.get(key), change)
    return parsed, records


def run_of(output_format: OutputFormat, seed: int = SEED, count: int = COUNT) -> Run:
    simulation = FormattedSimulation(CrmSimulation(seed), output_format)
    events = list(simulation.events(count))
    parsed, records = replay(events, DEFAULT_FIELD_MAPPING)
    return Run(events, parsed, records, simulation.ground_truth.to_dict())


@pytest.fixture(scope="module")
def runs() -> dict[OutputFormat, Run]:
    return {output_format: run_of(output_format) for output_format in OutputFormat}


def documents(run: Run, source_format: SourceFormat) -> Iterable[tuple[GeneratedEvent, Any]]:
    for event in run.events:
        if event.expected_error is None and event.source_format is source_format:
            yield event, orjson.loads(event.value)


def unwrapped(document: dict[str, Any]) -> dict[str, Any]:
    """A Kafka Connect record's payload, else the document."""
    return document["payload"] if "schema" in document else document


# -- the invariant -----------------------------------------------------------------------------


def with_custom_fields_moved_back(state: RecordState) -> tuple[dict[str, Any], dict[str, Any]]:
    """Custom fields as the canonical fields they stand for. In a mixed run one field may be
    there under several names (native ``plan``, Salesforce ``Plan__c``, HubSpot ``plan`` as
    an attribute): the newest wins, by the version the merge recorded for each."""
    fields = dict(state.fields)
    attributes = dict(state.attributes)
    versions = dict(state.versions)
    for name in [name for name in attributes if name in CUSTOM]:
        value, version, canonical = attributes.pop(name), versions[f"@{name}"], CUSTOM[name]
        if canonical not in versions or version > versions[canonical]:
            fields[canonical], versions[canonical] = value, version
    return fields, attributes


def comparable(entity_type: str, fields: Mapping[str, Any], output_format: OutputFormat) -> Any:
    """Fields as the format can carry them (the exceptions of the module doc)."""
    if output_format is OutputFormat.SALESFORCE:
        return dict(fields)
    present = {name: value for name, value in fields.items() if value is not None}
    if output_format is OutputFormat.DEBEZIUM:
        return present
    standardized = standardize_fields(entity_type, present, default_region="US", date_order="mdy")
    return {name: value for name, value in standardized.fields.items() if value is not None}


def assert_same_records(
    native: Records, rendered: Records, output_format: OutputFormat, *, custom_moved: bool
) -> None:
    assert rendered.keys() == native.keys()
    for key, expected in native.items():
        state = rendered[key]
        fields, attributes = (
            with_custom_fields_moved_back(state)
            if custom_moved
            else (state.fields, state.attributes)
        )
        assert attributes == expected.attributes == {}, key
        assert state.deleted == expected.deleted, key
        assert comparable(key[0], fields, output_format) == comparable(
            key[0], expected.fields, output_format
        ), key


@pytest.mark.parametrize("output_format", NON_NATIVE)
def test_records_merged_from_a_format_are_the_native_records(
    runs: dict[OutputFormat, Run], output_format: OutputFormat
) -> None:
    native, rendered = runs[OutputFormat.NATIVE], runs[output_format]
    assert_same_records(native.records, rendered.records, output_format, custom_moved=True)
    assert sum(len(p.changes) for p in rendered.parsed.values()) >= len(rendered.parsed)


@pytest.mark.parametrize("output_format", NON_NATIVE)
def test_with_the_custom_field_mapping_custom_fields_are_canonical_again(
    runs: dict[OutputFormat, Run], output_format: OutputFormat
) -> None:
    _, records = replay(runs[output_format].events, EXTENDED_MAPPING)
    native = runs[OutputFormat.NATIVE].records
    assert_same_records(native, records, output_format, custom_moved=False)


def test_custom_fields_are_those_the_default_mapping_cannot_name() -> None:
    document = custom_field_mapping()
    assert document == {
        "salesforce": {
            "Account": {"fields": {"Status__c": "status", "Plan__c": "plan",
                                   "Contract_End_Date__c": "contract_end_date",
                                   "Churn_Date__c": "churn_date"}},
            "Task": {"fields": {"Related_Type__c": "related_type",
                                "Duration_Minutes__c": "duration_minutes"}},
        },
        "hubspot": {
            "company": {"fields": {"status": "status", "plan": "plan",
                                   "contract_end_date": "contract_end_date",
                                   "churn_date": "churn_date"}},
            "deal": {"fields": {"account_id": "account_id"}},
        },
    }  # fmt: skip
    assert custom_field_mapping(EXTENDED_MAPPING) == {}


def test_custom_fields_arrive_as_attributes_with_the_default_mapping(
    runs: dict[OutputFormat, Run],
) -> None:
    accounts = [
        state
        for (entity_type, _), state in runs[OutputFormat.SALESFORCE].records.items()
        if entity_type == "account"
    ]
    assert accounts
    for state in accounts:
        assert {"Plan__c", "Status__c"} <= state.attributes.keys()
        assert not {"plan", "status"} & state.fields.keys()


# -- what each message is ----------------------------------------------------------------------


@pytest.mark.parametrize("output_format", NON_NATIVE)
def test_each_message_is_detected_as_the_format_it_was_rendered_in(
    runs: dict[OutputFormat, Run], output_format: OutputFormat
) -> None:
    run = runs[output_format]
    for event in run.events:
        if event.expected_error is not None:
            continue
        assert detect_format(orjson.loads(event.value)) is event.source_format, event.index
        message = run.parsed[event.index]
        assert message.source_format is event.source_format
        assert message.skipped is None, event.index
        assert message.changes[0].event_id == event.event_id
        for change in message.changes:
            assert change.entity_id.encode() == event.key
            assert change.entity_type.value == event.entity_type


@pytest.mark.parametrize("output_format", RENDERED)
def test_a_single_format_renders_all_it_can_express_and_nothing_else(
    runs: dict[OutputFormat, Run], output_format: OutputFormat
) -> None:
    expected = SourceFormat(output_format.value)
    inexpressible = {"lead", "activity"} if output_format is OutputFormat.HUBSPOT else set()
    for event in runs[output_format].events:
        if event.expected_error is not None or event.entity_type in inexpressible:
            assert event.source_format is SourceFormat.NATIVE
        else:
            assert event.source_format is expected, event.index


def test_a_mixed_run_holds_all_four_formats_where_each_can_express_the_entity(
    runs: dict[OutputFormat, Run],
) -> None:
    seen: dict[str, Counter[SourceFormat]] = defaultdict(Counter)
    for event in runs[OutputFormat.MIXED].events:
        if event.expected_error is None:
            assert event.entity_type is not None
            seen[event.entity_type][event.source_format] += 1
    for entity_type in ("contact", "account", "opportunity"):
        assert set(seen[entity_type]) == set(SourceFormat), entity_type
    for entity_type in ("lead", "activity"):
        assert set(seen[entity_type]) == set(SourceFormat) - {SourceFormat.HUBSPOT}
    total = Counter[SourceFormat]()
    for counts in seen.values():
        total.update(counts)
    assert min(total.values()) >= 0.08 * sum(total.values()), total


# -- the simulation stays what it is -----------------------------------------------------------


def test_native_format_is_the_simulation_unchanged(runs: dict[OutputFormat, Run]) -> None:
    plain = list(CrmSimulation(SEED).events(COUNT))
    assert runs[OutputFormat.NATIVE].events == plain


@pytest.mark.parametrize("output_format", NON_NATIVE)
def test_the_simulation_and_its_ground_truth_do_not_depend_on_the_format(
    runs: dict[OutputFormat, Run], output_format: OutputFormat
) -> None:
    native, rendered = runs[OutputFormat.NATIVE], runs[output_format]
    assert rendered.truth == native.truth | {"format": output_format.value}
    assert native.truth["format"] == "native"
    for plain, event in zip(native.events, rendered.events, strict=True):
        assert (event.index, event.key, event.entity_type) == (
            plain.index,
            plain.key,
            plain.entity_type,
        )
        assert event.expected_error == plain.expected_error
        if plain.expected_error is not None:  # broken on purpose: the very same bytes
            assert event.value == plain.value
            assert event.event_id == plain.event_id


def test_same_seed_same_bytes_another_seed_other_bytes() -> None:
    first = [e.value for e in FormattedSimulation(CrmSimulation(5), "mixed").events(1500)]
    again = [e.value for e in FormattedSimulation(CrmSimulation(5), "mixed").events(1500)]
    other = [e.value for e in FormattedSimulation(CrmSimulation(6), "mixed").events(1500)]
    assert first == again
    assert sum(a != b for a, b in zip(first, other, strict=True)) > 1400


def test_rendering_continues_across_calls_like_the_simulation() -> None:
    simulation = FormattedSimulation(CrmSimulation(8), "mixed")
    resumed = [e.value for e in simulation.events(300)] + [e.value for e in simulation.events(200)]
    assert resumed == [e.value for e in FormattedSimulation(CrmSimulation(8), "mixed").events(500)]


# -- per format --------------------------------------------------------------------------------


def salesforce_shape(document: dict[str, Any]) -> str:
    if "channel" in document:
        return "streaming_api"
    if "schema" in document:
        assert document["payload"]["_ObjectType"].endswith("ChangeEvent")
        return "connector"
    assert "ChangeEventHeader" in document
    return "bare"


def test_salesforce_events_come_in_every_shape_with_a_complete_header(
    runs: dict[OutputFormat, Run],
) -> None:
    shapes = Counter[str]()
    commits: list[int] = []
    for _, document in documents(runs[OutputFormat.SALESFORCE], SourceFormat.SALESFORCE):
        shapes[salesforce_shape(document)] += 1
        body = document["data"]["payload"] if "data" in document else unwrapped(document)
        header = body["ChangeEventHeader"]
        assert header.keys() >= {
            "entityName", "recordIds", "changeType", "commitTimestamp", "commitNumber",
            "transactionKey", "sequenceNumber", "changedFields", "nulledFields",
        }  # fmt: skip
        assert header["entityName"] in {"Lead", "Contact", "Account", "Opportunity", "Task"}
        commits.append(header["commitNumber"])
    assert set(shapes) == {"streaming_api", "bare", "connector"}
    assert commits == sorted(commits)
    assert len(set(commits)) == len(commits)


def lead_update(fields: dict[str, Any], attributes: dict[str, Any] | None = None) -> ChangeEvent:
    return ChangeEvent.model_validate(
        {"event_id": "e-9", "entity_type": "lead", "entity_id": "lead-0000009", "op": "update",
         "occurred_at": "2026-01-05T09:00:00Z", "source": "api", "fields": fields,
         "attributes": attributes or {}}
    )  # fmt: skip


def test_salesforce_nests_compound_fields_and_lists_cleared_ones() -> None:
    change = lead_update({"first_name": "Ada", "city": "Oslo", "phone": None})
    renderer = SourceRenderer("salesforce", seed=1)
    seen = set()
    for _ in range(40):  # every shape
        message = renderer.render(change)
        assert message is not None
        document = orjson.loads(message.value)
        seen.add(salesforce_shape(document))
        parsed = parse_message(
            message.value, source_format=None, mapping=DEFAULT_FIELD_MAPPING, max_bytes=10**6
        )
        assert parsed.changes[0].fields == change.fields
        if "data" in document:
            body = document["data"]["payload"]
            assert body["Name"] == {"FirstName": "Ada"}
            assert body["Address"] == {"City": "Oslo"}
            assert "Phone" not in body
            header = body["ChangeEventHeader"]
            assert header["changedFields"] == ["Name.FirstName", "Address.City", "Phone"]
            assert header["nulledFields"] == ["Phone"]
    assert len(seen) == 3


def test_debezium_rows_are_whole_and_differ_exactly_in_the_changed_columns(
    runs: dict[OutputFormat, Run],
) -> None:
    native_state: dict[str, dict[str, Any]] = {}
    plain = {e.index: e for e in runs[OutputFormat.NATIVE].events}
    ops = Counter[str]()
    wrapped = Counter[bool]()
    for event, document in documents(runs[OutputFormat.DEBEZIUM], SourceFormat.DEBEZIUM):
        change = parse_native_change(plain[event.index].value)
        previous = native_state.setdefault(change.entity_id, {})
        body = unwrapped(document)
        wrapped["schema" in document] += 1
        ops[body["op"]] += 1
        assert body["source"]["table"] in {
            "leads", "contacts", "accounts", "opportunities", "activities"
        }  # fmt: skip
        if change.op is ChangeOp.UPDATE:
            before, after = body["before"], body["after"]
            assert before.keys() == after.keys()
            differing = {column for column in after if before[column] != after[column]}
            assert differing == {k for k, v in change.fields.items() if previous.get(k) != v}
        elif change.op is ChangeOp.DELETE:
            assert body["after"] is None
            assert body["before"]["id"] == change.entity_id
        else:
            assert body["before"] is None
        previous.update(change.fields)
    assert set(ops) == {"c", "u", "d"}
    assert wrapped[True] > 0
    assert wrapped[False] > 0


def test_debezium_keeps_rows_only_for_records_the_simulation_still_keeps() -> None:
    simulation = FormattedSimulation(CrmSimulation(2), "debezium")
    for _ in simulation.events(40_000):
        pass
    assert 0 < simulation.renderer.rows_kept <= LIVE_RECORDS_CAP


def test_retired_records_never_change_again() -> None:
    simulation = CrmSimulation(4)
    retired: set[str] = set()
    for event in simulation.events(20_000):
        if event.expected_error is None:
            assert event.key is not None
            assert event.key.decode() not in retired, event.index
        retired.update(simulation.retired_ids)
    assert len(retired) > 1000


def test_hubspot_sends_one_batch_per_change_with_one_text_property_per_event(
    runs: dict[OutputFormat, Run],
) -> None:
    event_ids: list[int] = []
    objects = Counter[str]()
    for _, batch in documents(runs[OutputFormat.HUBSPOT], SourceFormat.HUBSPOT):
        assert isinstance(batch, list)
        assert len({item["occurredAt"] for item in batch}) == 1
        kinds = [item["subscriptionType"].partition(".")[2] for item in batch]
        objects[batch[0]["subscriptionType"].partition(".")[0]] += 1
        if kinds[0] == "creation":
            assert set(kinds[1:]) == {"propertyChange"}
        elif kinds[0] == "deletion":
            assert kinds == ["deletion"]
        else:
            assert set(kinds) == {"propertyChange"}
        for item in batch:
            assert item.keys() >= {"eventId", "subscriptionId", "portalId", "occurredAt",
                                   "attemptNumber", "objectId"}  # fmt: skip
            if "propertyValue" in item:
                assert isinstance(item["propertyValue"], str)
            event_ids.append(item["eventId"])
    assert set(objects) == {"contact", "company", "deal"}
    assert len(set(event_ids)) == len(event_ids)


@pytest.mark.parametrize("output_format", RENDERED)
def test_cleared_fields_and_attributes_survive_every_format(output_format: OutputFormat) -> None:
    change = ChangeEvent.model_validate(
        {"event_id": "e-1", "entity_type": "contact", "entity_id": "contact-1", "op": "update",
         "occurred_at": "2026-01-05T09:00:00Z", "source": "api",
         "fields": {"phone": None, "mailing_city": "Oslo"}, "attributes": {"Tier__c": "gold"}}
    )  # fmt: skip
    created = change.model_copy(
        update={"op": ChangeOp.CREATE, "fields": {"phone": "+4722"}, "attributes": {}}
    )
    as_dict = orjson.loads(orjson.dumps(change.model_dump(mode="json")))
    for source in (change, as_dict):
        renderer = SourceRenderer(output_format, seed=3)
        assert renderer.render(created) is not None  # Debezium can only clear what was set
        message = renderer.render(source)
        assert message is not None
        assert message.source_format.value == output_format.value
        parsed = parse_message(
            message.value, source_format=None, mapping=DEFAULT_FIELD_MAPPING, max_bytes=10**6
        )
        fields: dict[str, Any] = {}
        attributes: dict[str, Any] = {}
        for each in parsed.changes:
            fields |= each.fields
            attributes |= each.attributes
        cleared = "" if output_format is OutputFormat.HUBSPOT else None
        assert fields == {"phone": cleared, "mailing_city": "Oslo"}
        assert attributes == {"Tier__c": "gold"}


def test_changes_a_format_cannot_express_stay_native() -> None:
    lead = lead_update({"status": "working"})
    assert SourceRenderer("hubspot", seed=1).render(lead) is None
    assert SourceRenderer("native", seed=1).render(lead) is None
    undelete = lead.model_copy(update={"op": ChangeOp.UNDELETE, "fields": {}})
    assert SourceRenderer("debezium", seed=1).render(undelete) is None
    rendered = SourceRenderer("salesforce", seed=1).render(undelete)
    assert rendered is not None
    parsed = parse_message(
        rendered.value, source_format=None, mapping=DEFAULT_FIELD_MAPPING, max_bytes=10**6
    )
    assert parsed.changes[0].op is ChangeOp.UNDELETE


def test_an_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="xml"):
        SourceRenderer("xml", seed=1)
