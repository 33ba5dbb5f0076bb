"""The documented examples of every supported envelope, and what each must become.

Each fixture is the example a vendor publishes (trimmed only where it repeats itself, as
noted), so a change of ours that breaks a real feed breaks here first. The same fixtures feed
the fuzz test at the end: mutated, truncated and retyped, they must only ever produce valid
changes or an ``InvalidChange``.
"""

from __future__ import annotations

import copy
import random
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.change import ChangeEvent, ChangeOp, EntityType
from schemas.envelopes import ParsedMessage, SourceFormat, parse_message
from schemas.errors import ErrorCode, InvalidChange
from schemas.mapping import FieldMapping, extend_field_mapping

# Debezium's documentation uses a `customers` table (inventory example database), which no
# CRM default maps: the examples run with the mapping a deployment would add for it.
MAPPING = extend_field_mapping({"debezium": {"customers": {"entity_type": "contact"}}})


def at(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def parse(document: Any, source_format: SourceFormat | None = None) -> ParsedMessage:
    raw = orjson.dumps(document)
    return parse_message(raw, source_format=source_format, mapping=MAPPING, max_bytes=1 << 20)


def only_change(document: Any) -> ChangeEvent:
    parsed = parse(document)
    assert parsed.skipped is None
    assert len(parsed.changes) == 1
    return parsed.changes[0]


# --------------------------------------------------------------------------------------------
# Salesforce
# --------------------------------------------------------------------------------------------

# Salesforce, Change Data Capture Developer Guide, "Example: Delivered Enriched Event
# Messages" (atlas.en-us.236.0 change_data_capture cdc_enrich_event_example.htm): an account
# update over the Streaming API (CometD) with two enriched fields, Industry and a custom one.
SF_ENRICHED_UPDATE = {
    "schema": "I8b-dYxvxs5wOtCBr4qsew",
    "payload": {
        "LastModifiedDate": "2020-12-15T23:09:18.000Z",
        "Industry": "Biotechnology",
        "External_Account_ID__c": "1ABC",
        "Fax": "4155551212",
        "ChangeEventHeader": {
            "commitNumber": 74487681550,
            "commitUser": "005RM000001hv4SYAQ",
            "sequenceNumber": 1,
            "entityName": "Account",
            "changeType": "UPDATE",
            "changedFields": ["Fax", "LastModifiedDate"],
            "changeOrigin": "com/salesforce/api/soap/51.0;client=SfdcInternalAPI/",
            "transactionKey": "0005e192-9e62-2554-3880-3c3718bd6308",
            "commitTimestamp": 1608073758000,
            "recordIds": ["001RM000004UF9sYAG"],
        },
    },
    "event": {"replayId": 12},
}

# Same page: the delete of that account, which carries only the enriched fields.
SF_ENRICHED_DELETE = {
    "schema": "I8b-dYxvxs5wOtCBr4qsew",
    "payload": {
        "Industry": "Biotechnology",
        "External_Account_ID__c": "1ABC",
        "ChangeEventHeader": {
            "commitNumber": 74488073004,
            "commitUser": "005RM000001hv4SYAQ",
            "sequenceNumber": 1,
            "entityName": "Account",
            "changeType": "DELETE",
            "changedFields": [],
            "changeOrigin": "com/salesforce/api/soap/51.0;client=SfdcInternalAPI/",
            "transactionKey": "0005e1af-70bd-cce1-59c2-00f45864bbfb",
            "commitTimestamp": 1608073975000,
            "recordIds": ["001RM000004UF9sYAG"],
        },
    },
    "event": {"replayId": 13},
}

# Salesforce, Change Data Capture Developer Guide (API 55.0), "Get Compound Fields in Change
# Events" (atlas.en-us.242.0 cdc_subscribe_compound_fields.htm): a CometD create with the
# BillingAddress compound field nested.
SF_COMPOUND_CREATE = {
    "schema": "Jx8Hz9ElkIUaBf-heF1ShA",
    "payload": {
        "BillingAddress": {
            "State": "CA",
            "Street": "415 Mission Street",
            "PostalCode": "94105",
            "Country": "United States",
            "City": "San Francisco",
        },
        "LastModifiedDate": "2022-06-10T22:42:34.000Z",
        "OwnerId": "005T1000000HjlbIAC",
        "CreatedById": "005T1000000HjlbIAC",
        "ChangeEventHeader": {
            "commitNumber": 72227828942,
            "commitUser": "005T1000000HjlbIAC",
            "sequenceNumber": 1,
            "entityName": "Account",
            "changeType": "CREATE",
            "changedFields": [],
            "changeOrigin": "com/salesforce/api/soap/55.0;client=SfdcInternalAPI/",
            "transactionKey": "000001d3-3d55-688b-98ea-39d0a21240f4",
            "commitTimestamp": 1654900954000,
            "recordIds": ["001T1000001nI4jIAE"],
        },
        "CreatedDate": "2022-06-10T22:42:34.000Z",
        "Website": "www.salesforce.com",
        "LastModifiedById": "005T1000000HjlbIAC",
        "Name": "Acme",
    },
    "event": {"replayId": 1398411},
}

# Salesforce, Change Data Capture Developer Guide (current), "Get Compound Fields in Change
# Events": the same create as a Pub/Sub API client decodes it, every field present, unset
# ones null (the tail of null standard fields is trimmed here).
SF_PUBSUB_CREATE = {
    "ChangeEventHeader": {
        "entityName": "Account",
        "recordIds": ["0015f00002JUXA8AAP"],
        "changeType": "CREATE",
        "changeOrigin": "com/salesforce/api/soap/60.0;client=SfdcInternalAPI/",
        "transactionKey": "00006bec-ce66-0611-9018-30a98446c9f2",
        "sequenceNumber": 1,
        "commitTimestamp": 1714156685000,
        "commitNumber": 1100670838951,
        "commitUser": "0055f000005mc66AAA",
        "nulledFields": [],
        "diffFields": [],
        "changedFields": [],
    },
    "Name": "Acme",
    "Type": None,
    "ParentId": None,
    "BillingAddress": {
        "Street": "415 Mission Street",
        "City": "San Francisco",
        "State": "CA",
        "PostalCode": "94105",
        "Country": "United States",
        "Latitude": None,
        "Longitude": None,
        "GeocodeAccuracy": None,
    },
    "ShippingAddress": None,
    "Phone": None,
    "Fax": None,
    "Website": None,
    "Industry": None,
    "AnnualRevenue": None,
    "NumberOfEmployees": None,
    "OwnerId": "0055f000005mc66AAA",
    "CreatedDate": 1714156685000,
    "CreatedById": "0055f000005mc66AAA",
    "LastModifiedDate": 1714156685000,
    "LastModifiedById": "0055f000005mc66AAA",
    "CleanStatus": "Pending",
}

# Salesforce's Pub/Sub API Node client (pozil/pub-sub-api-node-client) README: an account
# update as the client logs it, unchanged fields null and the changed compound component
# listed as BillingAddress.State (trailing null standard fields trimmed).
SF_PUBSUB_UPDATE = {
    "replayId": 18098167,
    "payload": {
        "ChangeEventHeader": {
            "entityName": "Account",
            "recordIds": ["0014H00002LbR7QQAV"],
            "changeType": "UPDATE",
            "changeOrigin": "com/salesforce/api/soap/58.0;client=SfdcInternalAPI/",
            "transactionKey": "000046c7-a642-11e2-c29b-229c6786473e",
            "sequenceNumber": 1,
            "commitTimestamp": 1696444513000,
            "commitNumber": 11657372702432,
            "commitUser": "00558000000yFyDAAU",
            "nulledFields": [],
            "diffFields": [],
            "changedFields": ["LastModifiedDate", "BillingAddress.State"],
        },
        "Name": None,
        "Type": None,
        "ParentId": None,
        "BillingAddress": {
            "Street": None,
            "City": None,
            "State": "CA",
            "PostalCode": None,
            "Country": None,
            "StateCode": None,
            "CountryCode": None,
            "Latitude": None,
            "Longitude": None,
            "Xyz": None,
            "GeocodeAccuracy": None,
        },
        "ShippingAddress": None,
        "Phone": None,
        "Website": None,
        "Industry": None,
        "OwnerId": None,
        "CreatedDate": None,
        "LastModifiedDate": 1696444513000,
        "LastModifiedById": None,
    },
}

# kafka-docker-playground, connect/connect-salesforce-cdc-source README: what Confluent's
# Salesforce CDC Source connector writes with the JsonConverter (schemas enabled) for a new
# contact: compounds flattened, Id/ReplayId/_ObjectType/_EventType added (the schema block
# and some null fields trimmed).
SF_CONFLUENT_CONNECTOR_CREATE = {
    "payload": {
        "AccountId": None,
        "Birthdate": None,
        "ChangeEventHeader": {
            "changeOrigin": "com/salesforce/api/rest/49.0;client=sfdx toolbelt",
            "changeType": "CREATE",
            "changedFields": [],
            "commitNumber": 10832042834831,
            "commitTimestamp": 1596116025000,
            "commitUser": "0052X00000AJGNCQA5",
            "entityName": "Contact",
            "recordIds": ["0032X00002QU10JQAT"],
            "sequenceNumber": 1,
            "transactionKey": "000162ba-13b5-6862-79f9-0805a616799d",
        },
        "CleanStatus": "Pending",
        "CreatedById": "0052X00000AJGNCQA5",
        "CreatedDate": 1596116025000,
        "Email": None,
        "FirstName": "John_1241",
        "Id": "0032X00002QU10JQAT",
        "Languages__c": None,
        "LastModifiedById": "0052X00000AJGNCQA5",
        "LastModifiedDate": 1596116025000,
        "LastName": "Doe_19419",
        "MailingAddress": None,
        "MailingCity": None,
        "MobilePhone": None,
        "Name": None,
        "OwnerId": "0052X00000AJGNCQA5",
        "Phone": None,
        "ReplayId": "1305887",
        "Salutation": None,
        "Title": None,
        "_EventType": "R1-FSrKj5SMSfaXy7QNdEw",
        "_ObjectType": "ContactChangeEvent",
    },
    "schema": {"type": "struct", "name": "ContactChangeEvent", "optional": False},
}

# Salesforce, Change Data Capture Developer Guide (API 46.0), "Change Event Message
# Structure" (atlas.en-us.224.0 cdc_message_structure.htm): the whole CometD message with
# its data/channel wrapper, here around a lead created through the API.
SF_COMETD_WRAPPED_LEAD = {
    "data": {
        "schema": "IeRuaY6cbI_HsV8Rv1Mc5g",
        "payload": {
            "ChangeEventHeader": {
                "entityName": "Lead",
                "recordIds": ["00Q5e00000AbCdEEAZ"],
                "changeType": "CREATE",
                "changedFields": [],
                "changeOrigin": "com/salesforce/api/rest/46.0;client=crmstream-test",
                "transactionKey": "0004b9d5-1ec2-4b5a-2bf4-d3c28c4bd1a2",
                "sequenceNumber": 1,
                "commitTimestamp": 1569435071000,
                "commitUser": "0055e000001ABCDAAA",
                "commitNumber": 10589421187,
            },
            "Name": {"Salutation": "Ms.", "FirstName": "Ada", "LastName": "Lovelace"},
            "Company": "Analytical Engines Ltd",
            "Email": "ada@example.com",
            "Status": "Open - Not Contacted",
            "Address": {"City": "London", "Country": "United Kingdom"},
            "Score__c": 87,
        },
        "event": {"replayId": 5},
    },
    "channel": "/data/LeadChangeEvent",
}


def test_salesforce_enriched_update_keeps_current_values_and_custom_fields() -> None:
    assert only_change(SF_ENRICHED_UPDATE) == ChangeEvent(
        event_id="sf:0005e192-9e62-2554-3880-3c3718bd6308:1:001RM000004UF9sYAG",
        entity_type=EntityType.ACCOUNT,
        entity_id="001RM000004UF9sYAG",
        op=ChangeOp.UPDATE,
        occurred_at=at(1608073758000),
        source="salesforce",
        fields={"industry": "Biotechnology"},
        attributes={
            "LastModifiedDate": "2020-12-15T23:09:18.000Z",
            "External_Account_ID__c": "1ABC",
            "Fax": "4155551212",
        },
        commit_number=74487681550,
        sequence_number=1,
    )


def test_salesforce_delete_is_a_delete_of_each_record() -> None:
    change = only_change(SF_ENRICHED_DELETE)
    assert (change.op, change.entity_id) == (ChangeOp.DELETE, "001RM000004UF9sYAG")
    assert change.occurred_at == datetime(2020, 12, 15, 23, 12, 55, tzinfo=UTC)


def test_salesforce_nested_compound_fields_become_canonical_fields() -> None:
    change = only_change(SF_COMPOUND_CREATE)
    assert change.op is ChangeOp.CREATE
    assert change.fields == {
        "billing_state": "CA",
        "billing_street": "415 Mission Street",
        "billing_postal_code": "94105",
        "billing_country": "United States",
        "billing_city": "San Francisco",
        "website": "www.salesforce.com",
        "name": "Acme",
    }
    assert set(change.attributes) == {
        "LastModifiedDate", "OwnerId", "CreatedById", "CreatedDate", "LastModifiedById",
    }  # fmt: skip


def test_salesforce_pubsub_nulls_are_unset_not_cleared() -> None:
    change = only_change(SF_PUBSUB_CREATE)
    assert change.fields == {
        "name": "Acme",
        "billing_street": "415 Mission Street",
        "billing_city": "San Francisco",
        "billing_state": "CA",
        "billing_postal_code": "94105",
        "billing_country": "United States",
    }
    assert None not in change.attributes.values()


def test_salesforce_pubsub_update_carries_only_the_changed_component() -> None:
    change = only_change(SF_PUBSUB_UPDATE)
    assert change.fields == {"billing_state": "CA"}
    assert change.attributes == {"LastModifiedDate": 1696444513000}
    assert change.event_id == "sf:000046c7-a642-11e2-c29b-229c6786473e:1:0014H00002LbR7QQAV"


def test_salesforce_connector_record_maps_flattened_fields() -> None:
    change = only_change(SF_CONFLUENT_CONNECTOR_CREATE)
    assert change.entity_type is EntityType.CONTACT
    assert change.entity_id == "0032X00002QU10JQAT"
    assert change.fields == {"first_name": "John_1241", "last_name": "Doe_19419"}
    assert "Id" not in change.attributes
    assert "ReplayId" not in change.attributes
    assert change.attributes["CleanStatus"] == "Pending"


def test_salesforce_cometd_wrapper_is_unwrapped_and_custom_fields_kept() -> None:
    change = only_change(SF_COMETD_WRAPPED_LEAD)
    assert change.entity_type is EntityType.LEAD
    assert change.fields == {
        "first_name": "Ada",
        "last_name": "Lovelace",
        "company": "Analytical Engines Ltd",
        "email": "ada@example.com",
        "status": "Open - Not Contacted",
        "city": "London",
        "country": "United Kingdom",
    }
    assert change.attributes == {"Salutation": "Ms.", "Score__c": 87}


# --------------------------------------------------------------------------------------------
# Debezium
# --------------------------------------------------------------------------------------------

_PG_SOURCE = {
    "version": "2.7.0.Final",
    "connector": "postgresql",
    "name": "PostgreSQL_server",
    "ts_ms": 1559033904863,
    "ts_us": 1559033904863123,
    "ts_ns": 1559033904863123000,
    "snapshot": False,
    "db": "postgres",
    "schema": "public",
    "table": "customers",
    "txId": 556,
    "lsn": 46523128,
    "xmin": None,
}

# Debezium documentation, "Debezium connector for PostgreSQL", Data change events, "create
# events": the value with the JsonConverter's schema (the schema block trimmed).
DBZ_PG_CREATE = {
    "schema": {"type": "struct", "name": "PostgreSQL_server.inventory.customers.Envelope"},
    "payload": {
        "before": None,
        "after": {
            "id": 1,
            "first_name": "Anne",
            "last_name": "Kretchmar",
            "email": "annek@noanswer.org",
        },
        "source": _PG_SOURCE
        | {"snapshot": True, "sequence": '["24023119","24023128"]', "txId": 555, "lsn": 24023128},
        "op": "c",
        "ts_ms": 1559033904863,
        "ts_us": 1559033904863841,
        "ts_ns": 1559033904863841257,
    },
}

# Same page, "update events" (REPLICA IDENTITY DEFAULT: `before` holds the key only).
DBZ_PG_UPDATE = {
    "schema": {"type": "struct"},
    "payload": {
        "before": {"id": 1},
        "after": {
            "id": 1,
            "first_name": "Anne Marie",
            "last_name": "Kretchmar",
            "email": "annek@noanswer.org",
        },
        "source": _PG_SOURCE | {"ts_us": 1559033904863769, "lsn": 24023128},
        "op": "u",
        "ts_ms": 1465584025523,
        "ts_us": 1465584025523514,
        "ts_ns": 1465584025523514964,
    },
}

# Same page, "delete events".
DBZ_PG_DELETE = {
    "schema": {"type": "struct"},
    "payload": {
        "before": {"id": 1},
        "after": None,
        "source": _PG_SOURCE,
        "op": "d",
        "ts_ms": 1465581902461,
    },
}

# Same page, "truncate events" and "message events" (transactional message).
DBZ_PG_TRUNCATE = {
    "schema": {"type": "struct"},
    "payload": {"source": _PG_SOURCE, "op": "t", "ts_ms": 1559033904961},
}
DBZ_PG_MESSAGE = {
    "schema": {"type": "struct"},
    "payload": {
        "source": _PG_SOURCE | {"schema": "", "table": ""},
        "op": "m",
        "ts_ms": 1559033904961,
        "message": {"prefix": "foo", "content": "Ymfy"},
    },
}

# Debezium documentation, "Debezium connector for MySQL", "create events", as the payload
# alone (JsonConverter with schemas.enable=false).
DBZ_MYSQL_CREATE = {
    "before": None,
    "after": {
        "id": 1004,
        "first_name": "Anne",
        "last_name": "Kretchmar",
        "email": "annek@noanswer.org",
    },
    "source": {
        "version": "2.7.0.Final",
        "connector": "mysql",
        "name": "mysql-server-1",
        "ts_ms": 1465491411815,
        "snapshot": False,
        "db": "inventory",
        "table": "customers",
        "server_id": 223344,
        "gtid": None,
        "file": "mysql-bin.000003",
        "pos": 484,
        "row": 0,
        "thread": 7,
        "query": "INSERT INTO customers (first_name, last_name, email) VALUES ('Anne', ...)",
    },
    "op": "c",
    "ts_ms": 1465491411815,
}


def test_debezium_postgres_create_maps_identity_columns() -> None:
    assert only_change(DBZ_PG_CREATE) == ChangeEvent(
        event_id="dbz:PostgreSQL_server:c:lsn=24023128:txId=555:public.customers:1",
        entity_type=EntityType.CONTACT,
        entity_id="1",
        op=ChangeOp.CREATE,
        occurred_at=at(1559033904863),
        source="debezium:PostgreSQL_server",
        fields={"first_name": "Anne", "last_name": "Kretchmar", "email": "annek@noanswer.org"},
        commit_number=24023128,
    )


def test_debezium_update_with_key_only_before_carries_every_after_column() -> None:
    change = only_change(DBZ_PG_UPDATE)
    assert change.op is ChangeOp.UPDATE
    assert change.fields == {
        "first_name": "Anne Marie",
        "last_name": "Kretchmar",
        "email": "annek@noanswer.org",
    }


def test_debezium_delete_takes_the_id_from_before() -> None:
    change = only_change(DBZ_PG_DELETE)
    assert (change.op, change.entity_id, change.fields) == (ChangeOp.DELETE, "1", {})


@pytest.mark.parametrize(
    ("document", "reason"), [(DBZ_PG_TRUNCATE, "truncate"), (DBZ_PG_MESSAGE, "message")]
)
def test_debezium_truncate_and_message_events_are_skipped(document: Any, reason: str) -> None:
    assert parse(document) == ParsedMessage([], SourceFormat.DEBEZIUM, reason)


def test_debezium_mysql_event_id_comes_from_the_binlog_position() -> None:
    change = only_change(DBZ_MYSQL_CREATE)
    assert change.event_id == (
        "dbz:mysql-server-1:c:file=mysql-bin.000003:pos=484:row=0:inventory.customers:1004"
    )
    assert change.commit_number is None


# --------------------------------------------------------------------------------------------
# HubSpot
# --------------------------------------------------------------------------------------------

# HubSpot developer documentation, "Webhooks API", Webhook payloads: the example batch,
# verbatim (the page's example names the type `eventType`; the field table and real
# deliveries call it `subscriptionType`: both are read).
HS_DOCUMENTED_BATCH = [
    {
        "objectId": 1246965,
        "propertyName": "lifecyclestage",
        "propertyValue": "subscriber",
        "changeSource": "ACADEMY",
        "eventId": 3816279340,
        "subscriptionId": 25,
        "portalId": 33,
        "appId": 1160452,
        "occurredAt": 1462216307945,
        "eventType": "contact.propertyChange",
        "attemptNumber": 0,
    },
    {
        "objectId": 1246978,
        "changeSource": "IMPORT",
        "eventId": 3816279480,
        "subscriptionId": 22,
        "portalId": 33,
        "appId": 1160452,
        "occurredAt": 1462216307945,
        "eventType": "contact.creation",
        "attemptNumber": 0,
    },
]


def _hubspot(event_id: int, subscription_type: str, **extra: Any) -> dict[str, Any]:
    return {
        "eventId": event_id,
        "subscriptionId": 25,
        "portalId": 33,
        "appId": 1160452,
        "occurredAt": 1462216307945 + event_id,
        "subscriptionType": subscription_type,
        "attemptNumber": 0,
        "changeSource": "CRM_UI",
    } | extra


# HubSpot Developer Changelog, "New subscription types for Webhooks" (merge, restore and
# association change payload properties) and "Webhooks API" (creation, propertyChange,
# deletion, privacyDeletion): one batch with every kind of record change.
HS_LIFECYCLE_BATCH = [
    _hubspot(1, "contact.creation", objectId=101),
    _hubspot(2, "contact.propertyChange", objectId=101, propertyName="email",
             propertyValue="ada@example.com"),
    _hubspot(3, "contact.propertyChange", objectId=101, propertyName="hs_lead_status",
             propertyValue="OPEN"),
    _hubspot(4, "contact.merge", objectId=101, primaryObjectId=101, mergedObjectIds=[102],
             newObjectId=101, numberOfPropertiesMoved=3),
    _hubspot(5, "contact.deletion", objectId=101),
    _hubspot(6, "contact.restore", objectId=101),
    _hubspot(7, "deal.propertyChange", objectId=9001, propertyName="amount",
             propertyValue="1500.50"),
    _hubspot(8, "company.associationChange", fromObjectId=7, toObjectId=101,
             associationType="COMPANY_TO_CONTACT", associationRemoved=False),
    _hubspot(9, "contact.privacyDeletion", objectId=102),
]  # fmt: skip

# HubSpot developer documentation, "Create generic webhook subscriptions": the object.*
# subscription types name the object by objectTypeId (0-1 is contacts).
HS_GENERIC_PROPERTY_CHANGE = [
    _hubspot(10, "object.propertyChange", objectId=101, objectTypeId="0-1",
             propertyName="firstname", propertyValue="Ada"),
]  # fmt: skip


def test_hubspot_documented_batch() -> None:
    parsed = parse(HS_DOCUMENTED_BATCH)
    assert parsed.source_format is SourceFormat.HUBSPOT
    update, create = parsed.changes
    assert update == ChangeEvent(
        event_id="hs:33:3816279340:25:1246965",
        entity_type=EntityType.CONTACT,
        entity_id="1246965",
        op=ChangeOp.UPDATE,
        occurred_at=at(1462216307945),
        source="hubspot",
        attributes={"lifecyclestage": "subscriber"},
    )
    assert (create.op, create.entity_id, create.fields) == (ChangeOp.CREATE, "1246978", {})


def test_hubspot_lifecycle_batch_maps_every_kind_of_change() -> None:
    parsed = parse(HS_LIFECYCLE_BATCH)
    summary = [(c.entity_type.value, c.op.value, c.entity_id) for c in parsed.changes]
    assert summary == [
        ("contact", "create", "101"),
        ("contact", "update", "101"),
        ("contact", "update", "101"),
        ("contact", "merge", "101"),
        ("contact", "delete", "101"),
        ("contact", "undelete", "101"),
        ("opportunity", "update", "9001"),
        ("contact", "delete", "102"),
    ]
    email, status, merge = parsed.changes[1], parsed.changes[2], parsed.changes[3]
    assert email.fields == {"email": "ada@example.com"}
    assert status.attributes == {"hs_lead_status": "OPEN"}
    assert merge.merged_ids == ["102"]
    assert parsed.changes[6].fields == {"amount": "1500.50"}  # HubSpot's text, as sent
    assert parsed.skipped is None


def test_hubspot_generic_object_subscriptions_use_the_object_type_id() -> None:
    change = only_change(HS_GENERIC_PROPERTY_CHANGE)
    assert (change.entity_type, change.fields) == (EntityType.CONTACT, {"first_name": "Ada"})


# --------------------------------------------------------------------------------------------
# Detection over every example
# --------------------------------------------------------------------------------------------

NATIVE_UPDATE = {
    "event_id": "5d1c9b0e-4f0e-4d7e-9a51-6f1f3e1c2a10",
    "entity_type": "contact",
    "entity_id": "003Dn00000A1bCdIAJ",
    "op": "update",
    "occurred_at": "2026-11-23T13:41:57Z",
    "source": "salesforce",
    "fields": {"email": "ada.lovelace@example.com", "phone": None},
}  # README.md, "Inbound: the native change envelope"

EXAMPLES: dict[str, tuple[Any, SourceFormat]] = {
    "native": (NATIVE_UPDATE, SourceFormat.NATIVE),
    "sf_enriched_update": (SF_ENRICHED_UPDATE, SourceFormat.SALESFORCE),
    "sf_enriched_delete": (SF_ENRICHED_DELETE, SourceFormat.SALESFORCE),
    "sf_compound_create": (SF_COMPOUND_CREATE, SourceFormat.SALESFORCE),
    "sf_pubsub_create": (SF_PUBSUB_CREATE, SourceFormat.SALESFORCE),
    "sf_pubsub_update": (SF_PUBSUB_UPDATE, SourceFormat.SALESFORCE),
    "sf_connector": (SF_CONFLUENT_CONNECTOR_CREATE, SourceFormat.SALESFORCE),
    "sf_cometd_wrapped": (SF_COMETD_WRAPPED_LEAD, SourceFormat.SALESFORCE),
    "dbz_pg_create": (DBZ_PG_CREATE, SourceFormat.DEBEZIUM),
    "dbz_pg_update": (DBZ_PG_UPDATE, SourceFormat.DEBEZIUM),
    "dbz_pg_delete": (DBZ_PG_DELETE, SourceFormat.DEBEZIUM),
    "dbz_pg_truncate": (DBZ_PG_TRUNCATE, SourceFormat.DEBEZIUM),
    "dbz_pg_message": (DBZ_PG_MESSAGE, SourceFormat.DEBEZIUM),
    "dbz_mysql_create": (DBZ_MYSQL_CREATE, SourceFormat.DEBEZIUM),
    "hs_documented": (HS_DOCUMENTED_BATCH, SourceFormat.HUBSPOT),
    "hs_lifecycle": (HS_LIFECYCLE_BATCH, SourceFormat.HUBSPOT),
    "hs_generic": (HS_GENERIC_PROPERTY_CHANGE, SourceFormat.HUBSPOT),
}


@pytest.mark.parametrize("name", list(EXAMPLES))
def test_detection_picks_each_examples_format(name: str) -> None:
    document, expected = EXAMPLES[name]
    detected = parse(document)
    assert detected.source_format is expected
    assert detected == parse(document, source_format=expected)


@pytest.mark.parametrize("name", list(EXAMPLES))
def test_a_redelivered_example_has_the_same_event_ids(name: str) -> None:
    document, _ = EXAMPLES[name]
    first, again = parse(document), parse(copy.deepcopy(document))
    assert [c.event_id for c in first.changes] == [c.event_id for c in again.changes]


def test_hubspot_retries_keep_the_event_id() -> None:
    retried = [event | {"attemptNumber": 3} for event in HS_LIFECYCLE_BATCH]
    assert [c.event_id for c in parse(retried).changes] == [
        c.event_id for c in parse(HS_LIFECYCLE_BATCH).changes
    ]


# --------------------------------------------------------------------------------------------
# Fuzz: mutated examples never break the parser
# --------------------------------------------------------------------------------------------

_FUZZ_ROUNDS = 100
_MUTATIONS_PER_ROUND = 100  # 10,000 mutated documents in all
_ODD_VALUES: tuple[Any, ...] = (
    None, True, False, 0, -1, 2**63, 1.5, -1e300, "", " ", "x" * 300, "2026-13-45",
    "GAP_OVERFLOW", "UPDATE", "u", "t", "contact.merge", "object.creation", "0-1", [], [None],
    [{}], {}, {"id": None}, {"ChangeEventHeader": {}}, "__debezium_unavailable_value",
    "0x650004E0", "Lead", "001*", 1700000000000, -1700000000000,
)  # fmt: skip


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _paths(value, (*prefix, index))
    return found


def _mutate(document: Any, rng: random.Random) -> Any:
    """Delete, replace, retype or rename one node of a copy of ``document``."""
    document = copy.deepcopy(document)
    path = rng.choice(_paths(document)[1:] or [()])
    if not path:
        return rng.choice(_ODD_VALUES)
    parent = document
    for step in path[:-1]:
        parent = parent[step]
    last, value = path[-1], parent[path[-1]]
    action = rng.randrange(4)
    if action == 0 and isinstance(parent, dict):
        del parent[last]
    elif action == 1:
        parent[last] = rng.choice(_ODD_VALUES)
    elif action == 2:
        parent[last] = rng.choice([str(value), [value], {"value": value}, len(str(value))])
    elif isinstance(parent, dict):
        parent[f"{last}_"] = parent.pop(last)
    return document


def mutated_example(rng: random.Random) -> bytes:
    """One documented example, mutated 1-4 times, sometimes truncated (shared with the e2e fuzz)."""
    document, _ = EXAMPLES[rng.choice(list(EXAMPLES))]
    for _ in range(rng.randint(1, 4)):
        document = _mutate(document, rng)
    raw = orjson.dumps(document)
    if rng.random() < 0.1:
        raw = raw[: rng.randrange(len(raw) + 1)]
    return raw


def _check(parsed: ParsedMessage) -> None:
    assert isinstance(parsed, ParsedMessage)
    for change in parsed.changes:
        assert isinstance(change, ChangeEvent)
        assert ChangeEvent.model_validate_json(change.model_dump_json()) == change


def _outcome(raw: bytes, source_format: SourceFormat | None) -> ParsedMessage | InvalidChange:
    try:
        return parse_message(raw, source_format=source_format, mapping=MAPPING, max_bytes=1 << 20)
    except InvalidChange as exc:
        return exc


@settings(max_examples=_FUZZ_ROUNDS, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.randoms(use_true_random=False))
def test_mutated_examples_give_valid_changes_or_invalid_change(rng: random.Random) -> None:
    formats: list[SourceFormat | None] = [None, *SourceFormat]
    for _ in range(_MUTATIONS_PER_ROUND):
        outcome = _outcome(mutated_example(rng), rng.choice(formats))
        if isinstance(outcome, InvalidChange):
            assert outcome.errors
            assert all(isinstance(error.code, ErrorCode) for error in outcome.errors)
        else:
            _check(outcome)


def test_the_example_mapping_is_a_field_mapping() -> None:
    assert isinstance(MAPPING, FieldMapping)
