"""The field mapping: built-in defaults, a user file extending them, and clear errors."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from schemas.change import EntityType
from schemas.entities import FIELD_VOCABULARY
from schemas.envelopes import SourceFormat, parse_message
from schemas.mapping import (
    DEFAULT_FIELD_MAPPING,
    FieldMapping,
    FieldMappingError,
    load_field_mapping,
)

USER_TOML = """
[salesforce.Lead.fields]
Score__c = "rating"
LeadSource = ""

[salesforce.Customer__c]
entity_type = "account"
fields = { Name = "name", Tier__c = "plan" }

[hubspot.contact.fields]
hs_lead_status = ""
mobilephone = "phone"

[hubspot.ticket]
entity_type = "activity"
fields = { subject = "subject" }

[hubspot_object_type_ids]
"0-5" = "ticket"

[debezium."crm.people"]
entity_type = "contact"
primary_key = "person_id"
fields = { mail = "email" }

[debezium.leads]
primary_key = "lead_id"
"""


@pytest.fixture
def user_mapping(tmp_path: Path) -> FieldMapping:
    path = tmp_path / "mapping.toml"
    path.write_text(USER_TOML)
    return load_field_mapping(path)


def test_every_default_target_is_a_canonical_field_of_its_entity() -> None:
    sections = [DEFAULT_FIELD_MAPPING.salesforce, DEFAULT_FIELD_MAPPING.hubspot]
    for objects in sections:
        for spec in objects.values():
            assert set(spec.fields.values()) <= set(FIELD_VOCABULARY[spec.entity_type])
    assert load_field_mapping(None) is DEFAULT_FIELD_MAPPING


def test_defaults_cover_the_crm_objects_of_each_source() -> None:
    mapping = DEFAULT_FIELD_MAPPING
    salesforce = {name: mapping.salesforce_object(name) for name in
                  ("Lead", "Contact", "Account", "Opportunity", "Task", "Event")}  # fmt: skip
    assert {name: spec.entity_type.value for name, spec in salesforce.items() if spec} == {
        "Lead": "lead", "Contact": "contact", "Account": "account",
        "Opportunity": "opportunity", "Task": "activity", "Event": "activity",
    }  # fmt: skip
    hubspot = {name: mapping.hubspot_object(name) for name in ("contact", "company", "deal")}
    assert [spec.entity_type.value for spec in hubspot.values() if spec] == [
        "contact", "account", "opportunity",
    ]  # fmt: skip
    for table in ("public.leads", "Contact", "accounts", "opportunities", "activities", "Task"):
        assert mapping.debezium_table(table, table.rpartition(".")[2]) is not None, table


def test_a_user_file_extends_and_overrides_the_defaults(user_mapping: FieldMapping) -> None:
    lead = user_mapping.salesforce_object("Lead")
    assert lead is not None
    values = {"Score__c": "hot", "Rating": "Warm", "LeadSource": "Web", "Email": "a@x.io"}
    assert lead.split(values) == (
        {"rating": "hot", "email": "a@x.io"},
        {"Rating": "Warm", "LeadSource": "Web"},
    )
    customer = user_mapping.salesforce_object("customer__C")  # case-insensitive fallback
    assert customer is not None
    assert customer.entity_type is EntityType.ACCOUNT
    contact = user_mapping.hubspot_object("CONTACT")
    assert contact is not None
    assert contact.split({"mobilephone": "1", "phone": "2", "hs_lead_status": "NEW"}) == (
        {"phone": "1"},
        {"phone": "2", "hs_lead_status": "NEW"},
    )
    assert user_mapping.hubspot_object_name("0-5") == "ticket"
    people = user_mapping.debezium_table("crm.people")
    assert people is not None
    assert people.primary_key == "person_id"
    leads = user_mapping.debezium_table("leads")
    assert leads is not None
    assert (leads.entity_type, leads.primary_key) == (EntityType.LEAD, "lead_id")


def test_the_user_mapping_changes_what_parse_message_produces(user_mapping: FieldMapping) -> None:
    event = {
        "ChangeEventHeader": {
            "entityName": "Customer__c",
            "recordIds": ["a015e00000XyZ12AAB"],
            "changeType": "CREATE",
            "transactionKey": "tk",
            "sequenceNumber": 1,
            "commitTimestamp": 1_764_000_000_000,
        },
        "Name": "Acme",
        "Tier__c": "enterprise",
        "Region__c": "EMEA",
    }
    parsed = parse_message(
        orjson.dumps(event), source_format=None, mapping=user_mapping, max_bytes=1 << 20
    )
    assert parsed.source_format is SourceFormat.SALESFORCE
    (change,) = parsed.changes
    assert (change.entity_type, change.fields, change.attributes) == (
        EntityType.ACCOUNT, {"name": "Acme", "plan": "enterprise"}, {"Region__c": "EMEA"},
    )  # fmt: skip


def test_json_files_work_like_toml(tmp_path: Path) -> None:
    path = tmp_path / "mapping.json"
    path.write_text('{"debezium": {"people": {"entity_type": "contact"}}}')
    people = load_field_mapping(path).debezium_table("people")
    assert people is not None
    assert people.entity_type is EntityType.CONTACT


@pytest.mark.parametrize(
    ("content", "names"),
    [
        ('[salesforce.Lead]\nfeilds = { Email = "email" }\n', "salesforce.Lead.feilds"),
        ('[salesforce.Lead.fields]\nScore__c = "score"\n', "fields.Score__c"),
        ('[salesforce.Lead.fields]\nA__c = "rating"\nB__c = "rating"\n', "fields.B__c"),
        ('[salesforce.Thing__c]\nfields = { Name = "name" }\n', "salesforce.Thing__c.entity_type"),
        ('[debezium.people]\nentity_type = "customer"\n', "debezium.people.entity_type"),
        ('[hubspot_object_type_ids]\n"0-9" = "widget"\n', "hubspot_object_type_ids.0-9"),
        ('[debezium.leads]\nprimary_key = ""\n', "debezium.leads.primary_key"),
        ("[salesforce\n", "not valid TOML"),
        ('surprise = "x"\n', "surprise"),
    ],
)
def test_a_wrong_file_is_reported_with_the_offending_key(
    tmp_path: Path, content: str, names: str
) -> None:
    path = tmp_path / "mapping.toml"
    path.write_text(content)
    with pytest.raises(FieldMappingError) as caught:
        load_field_mapping(path)
    assert str(path) in str(caught.value)
    assert names in str(caught.value)


def test_unreadable_or_unknown_files_are_reported(tmp_path: Path) -> None:
    with pytest.raises(FieldMappingError, match="cannot read"):
        load_field_mapping(tmp_path / "missing.toml")
    yaml = tmp_path / "mapping.yaml"
    yaml.write_text("salesforce: {}")
    with pytest.raises(FieldMappingError, match=r"\.json or \.toml"):
        load_field_mapping(yaml)
    broken = tmp_path / "mapping.json"
    broken.write_text("{")
    with pytest.raises(FieldMappingError, match="not valid JSON"):
        load_field_mapping(broken)
