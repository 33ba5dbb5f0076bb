"""Synthetic CRM changes as real sources send them: Salesforce CDC, Debezium, HubSpot webhooks.

crmstream reads four envelopes (README.md, "Inbound formats"), but the simulated CRM of
:mod:`streams.generator` writes only the native one. This module re-renders each native change
as the message a real source would send for it, so that the parsers, the detection and the
whole pipeline can be exercised with realistic traffic, and so that one run can mix formats
the way a deployment reading several connectors does. It is pure: no Kafka, no clock; the same
seed gives the same bytes.

How a canonical change becomes a source's message
    Field names come from inverting the field mapping (by default
    :data:`~schemas.mapping.DEFAULT_FIELD_MAPPING`): canonical ``first_name`` is Salesforce's
    ``FirstName``, HubSpot's ``firstname``, the column ``first_name``. A canonical field the
    mapping gives no source name is sent where the source keeps custom fields, under a custom
    name: a Salesforce custom field (``plan`` -> ``Plan__c``) or a HubSpot custom property
    (named like the canonical field). With the default mapping these are an account's
    ``status``, ``plan``, ``contract_end_date`` and ``churn_date`` (Salesforce and HubSpot),
    an activity's ``related_type`` and ``duration_minutes`` (Salesforce ``Task``) and an
    opportunity's ``account_id`` (HubSpot: deals reach companies by association, not by a
    property). The parser keeps them in ``attributes`` under that name, as it keeps any
    custom field; :func:`custom_field_mapping` is the mapping file that turns them back into
    canonical fields. A change's own ``attributes`` are sent under their own names.

Per format (what is lossy is said here, and tested in tests/test_source_formats.py)
    ``salesforce``
        A Change Data Capture event: per message, a seed-driven choice between the Streaming
        API message (``{"data": {"schema", "payload", "event": {"replayId"}}, "channel"}``),
        the bare payload, and a Kafka source connector's ``{schema, payload}`` record with
        compound fields flattened and every other field of the object ``null``. Name and
        address components are nested in their compound field (``Name.FirstName``,
        ``MailingAddress.City``) for Lead, Contact and Account; activities are Tasks (so an
        activity's ``related_id`` is ``WhoId`` whatever it relates to). Cleared fields are
        listed in ``nulledFields``. Values are unchanged: nothing is lost.
    ``debezium``
        A PostgreSQL connector's row event for the table ``public.<leads|contacts|...>``,
        sometimes in Kafka Connect's ``{schema, payload}``. Rows are whole (``REPLICA
        IDENTITY FULL``): ``after`` holds every column, ``before`` the previous row on
        updates and deletes, so the columns that differ are exactly the changed fields. The
        renderer therefore keeps each live record's row; it drops it on a delete and when the
        simulation retires the record (:meth:`SourceRenderer.forget`), so it holds no more
        rows than the simulation holds records. Lossy: a row cannot tell an absent field from
        a NULL one, and money columns arrive as doubles (``decimal.handling.mode=double``).
        Dates stay ISO text columns: Debezium's encoding of ``date`` columns (days since the
        epoch) is read by the date standardizer as epoch *seconds*, so it is not rendered.
    ``hubspot``
        A webhook batch (one JSON array per canonical change): ``creation`` then one
        ``propertyChange`` per field, ``deletion``, ``restore``. HubSpot has contacts,
        companies and deals only: leads and activities, which it cannot express, are sent
        native. Lossy: every value is text (numbers and booleans as written, a cleared field
        as ``""``, dates as midnight-UTC epoch milliseconds, the way HubSpot sends date
        properties, except ``date_of_birth``, a text property); deal ``probability`` is not
        rescaled to HubSpot's 0-1.
    ``mixed``
        Per message, a seed-driven choice among native and the formats that can express the
        change's entity type and operation.

Ids stay the simulation's own in every format (not 18-character Salesforce ids or numeric
HubSpot ones), so that a record keeps one key whichever source last changed it. Deliberately
broken messages are never re-rendered: their bytes are broken on purpose.

>>> renderer = SourceRenderer("debezium", seed=1)
>>> change = {"event_id": "e1", "entity_type": "lead", "entity_id": "lead-1", "op": "create",
...           "occurred_at": "2026-01-05T08:00:00Z", "source": "api",
...           "fields": {"first_name": "Ada", "annual_revenue": 1000}}
>>> message = renderer.render(change)
>>> document = orjson.loads(message.value)
>>> body = document.get("payload", document)
>>> body["op"], body["after"]["first_name"], body["after"]["annual_revenue"], body["after"]["city"]
('c', 'Ada', 1000.0, None)
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from random import Random
from typing import Any, Final, Protocol

import orjson

from schemas.change import ChangeEvent, EntityType
from schemas.entities import ENTITIES, FIELD_VOCABULARY, FieldKind
from schemas.envelopes import SourceFormat
from schemas.envelopes.common import stable_event_id
from schemas.mapping import DEFAULT_FIELD_MAPPING, FieldMapping, ObjectMapping, TableMapping
from streams.generator import CrmSimulation, GeneratedEvent, GroundTruth

__all__ = [
    "FormattedSimulation",
    "OutputFormat",
    "RenderedMessage",
    "SourceRenderer",
    "custom_field_mapping",
]


class OutputFormat(StrEnum):
    """How ``crmstream generate --format`` sends valid events."""

    NATIVE = "native"
    SALESFORCE = "salesforce"
    DEBEZIUM = "debezium"
    HUBSPOT = "hubspot"
    MIXED = "mixed"


@dataclass(frozen=True, slots=True)
class RenderedMessage:
    """One change as a source sends it.

    ``event_id`` is the id the parser derives for the change (for a HubSpot batch, for its
    first event), so a run's messages can still be matched with what the pipeline emits.
    """

    value: bytes
    source_format: SourceFormat
    event_id: str


# --------------------------------------------------------------------------------------------
# The change to render
# --------------------------------------------------------------------------------------------

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MILLISECOND: Final = timedelta(milliseconds=1)


@dataclass(frozen=True, slots=True)
class _Change:
    """A native change reduced to what the renderers read, with its time in epoch millis."""

    event_id: str
    entity_type: str
    entity_id: str
    op: str
    occurred_ms: int
    fields: Mapping[str, Any]
    attributes: Mapping[str, Any]


def _epoch_ms(moment: datetime) -> int:
    return (moment - _EPOCH) // _MILLISECOND


def _change_of(change: ChangeEvent | Mapping[str, Any]) -> _Change:
    """The change to render: a decoded native envelope is read directly (the generator's hot
    path), anything less plain is validated as a :class:`ChangeEvent` first."""
    if isinstance(change, Mapping):
        moment = _aware_moment(change.get("occurred_at"))
        if moment is None:
            return _change_of(ChangeEvent.model_validate(dict(change)))
        return _Change(
            event_id=str(change["event_id"]),
            entity_type=str(change["entity_type"]),
            entity_id=str(change["entity_id"]),
            op=str(change["op"]),
            occurred_ms=_epoch_ms(moment),
            fields=change.get("fields") or {},
            attributes=change.get("attributes") or {},
        )
    return _Change(
        event_id=change.event_id,
        entity_type=change.entity_type.value,
        entity_id=change.entity_id,
        op=change.op.value,
        occurred_ms=_epoch_ms(change.occurred_at),
        fields=change.fields,
        attributes=change.attributes,
    )


def _aware_moment(value: Any) -> datetime | None:
    """An ISO 8601 time with a zone, as the generator writes it; else None."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.utcoffset() is not None else None


# --------------------------------------------------------------------------------------------
# Field names: the mapping, inverted
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _FieldNames:
    """One entity type's canonical fields as one source object names them.

    ``source`` maps every canonical field to its source name; ``custom`` holds those the
    mapping has no source name for (canonical -> the custom name they are sent under).
    """

    source: Mapping[str, str]
    custom: Mapping[str, str]

    def rename(self, values: Mapping[str, Any]) -> dict[str, Any]:
        source = self.source
        return {source.get(name, name): value for name, value in values.items()}


def _field_names(
    target: ObjectMapping, entity_type: str, custom_name: Callable[[str], str]
) -> _FieldNames:
    source: dict[str, str] = {}
    custom: dict[str, str] = {}
    for canonical in FIELD_VOCABULARY[entity_type]:
        name = _mapped_name(target, canonical)
        if name is None:
            name = custom[canonical] = custom_name(canonical)
            taken, _ = target.split({name: None})
            if taken:
                raise ValueError(f"custom field {name!r} is already mapped to {list(taken)}")
        source[canonical] = name
    return _FieldNames(source, custom)


def _mapped_name(target: ObjectMapping, canonical: str) -> str | None:
    """The source name the parser maps to ``canonical``: one listed in the mapping, or the
    canonical name itself where the mapping reads it as is (a Debezium column)."""
    listed = [source for source, mapped in target.fields.items() if mapped == canonical]
    for candidate in [*listed, canonical]:
        if target.split({candidate: None})[0] == {canonical: None}:
            return candidate
    return None


def _salesforce_custom_name(canonical: str) -> str:
    """``contract_end_date`` -> ``Contract_End_Date__c``, as an admin would name the field."""
    return "_".join(part.capitalize() for part in canonical.split("_")) + "__c"


def _as_is(canonical: str) -> str:
    return canonical


@dataclass(frozen=True, slots=True)
class _Catalogue:
    """Which object each entity type is in one source, and how it names custom fields."""

    section: str  # the source's section in a mapping file
    objects: Mapping[str, str]  # entity type -> object or table name
    custom_name: Callable[[str], str]
    lookup: Callable[[FieldMapping, str], ObjectMapping | None]


@dataclass(frozen=True, slots=True)
class _SourceObject:
    """An entity type as one source object: its name, mapping and field names."""

    entity_type: str
    name: str
    target: ObjectMapping
    names: _FieldNames


def _debezium_table(mapping: FieldMapping, table: str) -> ObjectMapping | None:
    return mapping.debezium_table(f"{_PG_SCHEMA}.{table}", f"{_DATABASE}.{table}", table)


_DATABASE: Final = "crm"
_PG_SCHEMA: Final = "public"
_SALESFORCE_OBJECTS: Final = {
    "lead": "Lead", "contact": "Contact", "account": "Account", "opportunity": "Opportunity",
    "activity": "Task",
}  # fmt: skip
_DEBEZIUM_TABLES: Final = {
    "lead": "leads", "contact": "contacts", "account": "accounts",
    "opportunity": "opportunities", "activity": "activities",
}  # fmt: skip
_SALESFORCE: Final = _Catalogue(
    "salesforce",
    _SALESFORCE_OBJECTS,
    _salesforce_custom_name,
    FieldMapping.salesforce_object,
)
_HUBSPOT: Final = _Catalogue(
    "hubspot",
    {"contact": "contact", "account": "company", "opportunity": "deal"},
    _as_is,
    FieldMapping.hubspot_object,
)
_DEBEZIUM: Final = _Catalogue(
    "debezium",
    _DEBEZIUM_TABLES,
    _as_is,
    _debezium_table,
)


def _source_objects(catalogue: _Catalogue, mapping: FieldMapping) -> dict[str, _SourceObject]:
    """The objects of a source that the mapping reads back as the intended entity type; an
    entity type without one cannot be expressed in that source (it is sent native)."""
    objects: dict[str, _SourceObject] = {}
    for entity_type, name in catalogue.objects.items():
        target = catalogue.lookup(mapping, name)
        if target is None or target.entity_type.value != entity_type:
            continue
        names = _field_names(target, entity_type, catalogue.custom_name)
        objects[entity_type] = _SourceObject(entity_type, name, target, names)
    return objects


def custom_field_mapping(mapping: FieldMapping = DEFAULT_FIELD_MAPPING) -> dict[str, Any]:
    """The mapping document (``CRMSTREAM_FIELD_MAPPING_FILE`` content) that maps the custom
    fields rendered for ``mapping`` back to their canonical fields.

    >>> custom_field_mapping()["salesforce"]["Task"]
    {'fields': {'Related_Type__c': 'related_type', 'Duration_Minutes__c': 'duration_minutes'}}
    >>> custom_field_mapping()["hubspot"]["deal"]
    {'fields': {'account_id': 'account_id'}}
    """
    document: dict[str, Any] = {}
    for catalogue in (_SALESFORCE, _HUBSPOT, _DEBEZIUM):
        for source in _source_objects(catalogue, mapping).values():
            if source.names.custom:
                fields = {custom: canonical for canonical, custom in source.names.custom.items()}
                document.setdefault(catalogue.section, {})[source.name] = {"fields": fields}
    return document


# --------------------------------------------------------------------------------------------
# What the three renderers share
# --------------------------------------------------------------------------------------------


class _Position:
    """A source's log position (commit number, LSN, replay id...): it starts at a seed-driven
    point and only moves forward, by a random step as a busy source's would."""

    __slots__ = ("_rng", "_step", "value")

    def __init__(self, rng: Random, start: int, step: int) -> None:
        self._rng = rng
        self._step = step
        self.value = start + int(rng.random() * start)

    def advance(self) -> int:
        self.value += 1 + int(self._rng.random() * self._step)
        return self.value


def _token(rng: Random, length: int) -> str:
    """A URL-safe random token, like the schema ids Salesforce hands out."""
    return base64.urlsafe_b64encode(rng.randbytes(length)).decode().rstrip("=")


def _hex_key(rng: Random) -> str:
    text = f"{rng.getrandbits(128):032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def _kafka_connect(schema: Mapping[str, Any], payload: Any) -> dict[str, Any]:
    """Kafka Connect's JsonConverter record (``schemas.enable=true``)."""
    return {"schema": schema, "payload": payload}


def _fields_of_kind(entity_type: str, kind: FieldKind) -> frozenset[str]:
    spec = ENTITIES[EntityType(entity_type)].fields
    return frozenset(name for name, field in spec.items() if field.kind is kind)


class _Renderer(Protocol):
    """One source format: which changes it can express, and how it sends one."""

    source_format: SourceFormat

    def expresses(self, entity_type: str, op: str) -> bool: ...

    def render(self, change: _Change) -> RenderedMessage: ...


def _message(document: Any, source_format: SourceFormat, event_id: str) -> RenderedMessage:
    return RenderedMessage(orjson.dumps(document), source_format, event_id)


# --------------------------------------------------------------------------------------------
# Salesforce Change Data Capture
# --------------------------------------------------------------------------------------------

_SALESFORCE_CHANGE_TYPES: Final = {
    "create": "CREATE",
    "update": "UPDATE",
    "delete": "DELETE",
    "undelete": "UNDELETE",
}
# Compound fields per object: (compound, prefix of its components' field names).
_COMPOUND_FIELDS: Final = {
    "Lead": (("Name", ""), ("Address", "")),
    "Contact": (("Name", ""), ("MailingAddress", "Mailing"), ("OtherAddress", "Other")),
    "Account": (("BillingAddress", "Billing"), ("ShippingAddress", "Shipping")),
}
_NAME_PARTS: Final = frozenset({"Salutation", "FirstName", "MiddleName", "LastName", "Suffix"})
_ADDRESS_PARTS: Final = frozenset({"Street", "City", "State", "PostalCode", "Country"})
_CHANGE_ORIGIN: Final = "com/salesforce/api/rest/61.0;client=crmstream-generator"
_COMMIT_USER: Final = "005Dn000003GvBzIAK"


@dataclass(frozen=True, slots=True)
class _SalesforceObject:
    """A Salesforce object as its change events show it."""

    source: _SourceObject
    compound_of: Mapping[str, tuple[str, str]]  # field -> (compound, component)
    schema_id: str
    null_record: Mapping[str, None]  # every field a fixed-schema connector sends

    @property
    def event_type(self) -> str:
        return f"{self.source.name}ChangeEvent"

    @property
    def connector_schema(self) -> dict[str, Any]:
        """The connector record's ``schema`` block, its field list left out."""
        name = f"io.confluent.salesforce.{self.event_type}"
        return {"type": "struct", "optional": False, "name": name}

    def dotted(self, name: str) -> str:
        """The name header lists use: ``Name.FirstName`` for a compound's component."""
        compound = self.compound_of.get(name)
        return name if compound is None else f"{compound[0]}.{compound[1]}"

    def nested(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """The body as Salesforce sends it: components inside their compound, nulls left out
        (the header's ``nulledFields`` says which fields were cleared)."""
        body: dict[str, Any] = {}
        for name, value in values.items():
            if value is None:
                continue
            compound = self.compound_of.get(name)
            if compound is None:
                body[name] = value
            else:
                body.setdefault(compound[0], {})[compound[1]] = value
        return body


def _compounds(object_name: str, field_names: Iterable[str]) -> dict[str, tuple[str, str]]:
    found: dict[str, tuple[str, str]] = {}
    for compound, prefix in _COMPOUND_FIELDS.get(object_name, ()):
        parts = _NAME_PARTS if compound == "Name" else _ADDRESS_PARTS
        for name in field_names:
            if name.startswith(prefix) and name[len(prefix) :] in parts:
                found[name] = (compound, name[len(prefix) :])
    return found


def _salesforce_object(source: _SourceObject, rng: Random) -> _SalesforceObject:
    names = list(source.names.source.values())
    compound_of = _compounds(source.name, names)
    compounds = {compound for compound, _ in compound_of.values()}
    return _SalesforceObject(
        source=source,
        compound_of=compound_of,
        schema_id=_token(rng, 16),
        null_record=dict.fromkeys([*names, *sorted(compounds)]),
    )


class _Salesforce:
    """Change Data Capture events, in one of the three shapes they reach Kafka in."""

    source_format = SourceFormat.SALESFORCE

    def __init__(self, mapping: FieldMapping, rng: Random) -> None:
        self._rng = rng
        self._objects = {
            entity_type: _salesforce_object(source, rng)
            for entity_type, source in _source_objects(_SALESFORCE, mapping).items()
        }
        self._commits = _Position(rng, start=10_000_000_000, step=5_000)
        self._replays = _Position(rng, start=1_000_000, step=3)
        # Twice as many Streaming API messages as each of the other shapes.
        self._shapes: tuple[_SalesforceShape, ...] = (
            _streaming_api_message,
            _streaming_api_message,
            _bare_payload,
            _connector_record,
        )

    def expresses(self, entity_type: str, op: str) -> bool:
        return entity_type in self._objects and op in _SALESFORCE_CHANGE_TYPES

    def render(self, change: _Change) -> RenderedMessage:
        target = self._objects[change.entity_type]
        values = target.source.names.rename(change.fields) | dict(change.attributes)
        header = self._header(target, change, values)
        shape = self._shapes[int(self._rng.random() * len(self._shapes))]
        document = shape(target, header, values, change.entity_id, self._replays.advance())
        event_id = stable_event_id("sf", header["transactionKey"], 1, change.entity_id)
        return _message(document, SourceFormat.SALESFORCE, event_id)

    def _header(
        self, target: _SalesforceObject, change: _Change, values: Mapping[str, Any]
    ) -> dict[str, Any]:
        change_type = _SALESFORCE_CHANGE_TYPES[change.op]
        changed = [target.dotted(name) for name in values] if change_type == "UPDATE" else []
        return {
            "entityName": target.source.name,
            "recordIds": [change.entity_id],
            "changeType": change_type,
            "changeOrigin": _CHANGE_ORIGIN,
            "transactionKey": _hex_key(self._rng),
            "sequenceNumber": 1,
            "commitTimestamp": change.occurred_ms,
            "commitNumber": self._commits.advance(),
            "commitUser": _COMMIT_USER,
            "nulledFields": [target.dotted(name) for name, v in values.items() if v is None],
            "diffFields": [],
            "changedFields": changed,
        }


class _SalesforceShape(Protocol):
    """One of the shapes a change event reaches Kafka in."""

    def __call__(
        self,
        target: _SalesforceObject,
        header: dict[str, Any],
        values: Mapping[str, Any],
        entity_id: str,
        replay: int,
    ) -> Any: ...


def _streaming_api_message(
    target: _SalesforceObject,
    header: dict[str, Any],
    values: Mapping[str, Any],
    entity_id: str,
    replay: int,
) -> dict[str, Any]:
    """What a CometD client receives on ``/data/<Object>ChangeEvent``."""
    payload = _bare_payload(target, header, values, entity_id, replay)
    return {
        "data": {"schema": target.schema_id, "payload": payload, "event": {"replayId": replay}},
        "channel": f"/data/{target.event_type}",
    }


def _bare_payload(
    target: _SalesforceObject,
    header: dict[str, Any],
    values: Mapping[str, Any],
    entity_id: str,
    replay: int,
) -> dict[str, Any]:
    """The event alone, as a client hands it on after unwrapping it."""
    return {"ChangeEventHeader": header, **target.nested(values)}


def _connector_record(
    target: _SalesforceObject,
    header: dict[str, Any],
    values: Mapping[str, Any],
    entity_id: str,
    replay: int,
) -> dict[str, Any]:
    """A Salesforce CDC source connector's record: a fixed schema (every field, null when
    the event has no value for it), compounds flattened, the record id and replay id added."""
    payload = {
        "ChangeEventHeader": header,
        **target.null_record,
        **values,
        "Id": entity_id,
        "ReplayId": str(replay),
        "_ObjectType": target.event_type,
        "_EventType": target.schema_id,
    }
    return _kafka_connect(target.connector_schema, payload)


# --------------------------------------------------------------------------------------------
# Debezium
# --------------------------------------------------------------------------------------------

_DEBEZIUM_OPS: Final = {"create": "c", "update": "u", "delete": "d", "snapshot": "r"}
_DEBEZIUM_VERSION: Final = "2.7.3.Final"
_CONNECT_TYPES: Final = {
    FieldKind.INTEGER: "int64",
    FieldKind.NUMBER: "double",
    FieldKind.MONEY: "double",
    FieldKind.BOOLEAN: "boolean",
}
_WRAPPED_SHARE: Final = 0.3  # share of events with Kafka Connect's schema block
_MAX_LAG_MS: Final = 800  # the connector's own clock trails the commit by up to this


@dataclass(frozen=True, slots=True)
class _Table:
    """A captured table: its columns, key, which columns hold money, its Connect schema."""

    source: _SourceObject
    primary_key: str
    null_row: Mapping[str, None]
    money_columns: frozenset[str]
    schema: Mapping[str, Any]

    def row(self, entity_id: str) -> dict[str, Any]:
        """The row of a record with no values yet: every column NULL but the key."""
        return {self.primary_key: entity_id, **self.null_row}

    def columns(self, change: _Change) -> dict[str, Any]:
        """The change's values as the connector sends the columns (money as doubles)."""
        columns = self.source.names.rename(change.fields)
        for name in self.money_columns.intersection(columns):
            value = columns[name]
            if isinstance(value, int) and not isinstance(value, bool):
                columns[name] = float(value)
        return columns | dict(change.attributes)


def _debezium_table_of(source: _SourceObject) -> _Table:
    assert isinstance(source.target, TableMapping)  # _debezium_table returns table mappings
    names = source.names.source
    money = _fields_of_kind(source.entity_type, FieldKind.MONEY)
    return _Table(
        source=source,
        primary_key=source.target.primary_key,
        null_row=dict.fromkeys(names.values()),
        money_columns=frozenset(names[field] for field in money),
        schema=_table_schema(source, source.target.primary_key),
    )


def _table_schema(source: _SourceObject, primary_key: str) -> dict[str, Any]:
    """The ``schema`` block of Kafka Connect's JsonConverter for one table's events."""
    prefix = f"{_DATABASE}.{_PG_SCHEMA}.{source.name}"
    spec = ENTITIES[EntityType(source.entity_type)].fields
    columns = [{"type": "string", "optional": False, "field": primary_key}] + [
        {"type": _CONNECT_TYPES.get(spec[field].kind, "string"), "optional": True, "field": name}
        for field, name in source.names.source.items()
    ]
    row = {"type": "struct", "optional": True, "name": f"{prefix}.Value", "fields": columns}
    return {
        "type": "struct",
        "optional": False,
        "name": f"{prefix}.Envelope",
        "version": 2,
        "fields": [
            row | {"field": "before"},
            row | {"field": "after"},
            {"type": "struct", "optional": False, "name": "io.debezium.connector.postgresql.Source",
             "field": "source"},
            {"type": "string", "optional": False, "field": "op"},
            {"type": "int64", "optional": True, "field": "ts_ms"},
        ],
    }  # fmt: skip


class _Debezium:
    """PostgreSQL row events with whole rows, which is why it keeps every live record's row."""

    source_format = SourceFormat.DEBEZIUM

    def __init__(self, mapping: FieldMapping, rng: Random) -> None:
        self._rng = rng
        self._tables = {
            entity_type: _debezium_table_of(source)
            for entity_type, source in _source_objects(_DEBEZIUM, mapping).items()
        }
        self._rows: dict[str, dict[str, Any]] = {}
        self._lsn = _Position(rng, start=30_000_000, step=4_000)
        self._transactions = _Position(rng, start=700, step=3)

    def expresses(self, entity_type: str, op: str) -> bool:
        return entity_type in self._tables and op in _DEBEZIUM_OPS

    def observe(self, change: _Change) -> None:
        """Keep the row up to date with a change another format sends (mixed runs)."""
        if change.entity_type in self._tables:
            self._apply(self._tables[change.entity_type], change)

    @property
    def rows_kept(self) -> int:
        return len(self._rows)

    def forget(self, entity_ids: Iterable[str]) -> None:
        for entity_id in entity_ids:
            self._rows.pop(entity_id, None)

    def render(self, change: _Change) -> RenderedMessage:
        table = self._tables[change.entity_type]
        before, after = self._apply(table, change)
        op = _DEBEZIUM_OPS[change.op]
        previous_lsn, lsn = self._lsn.value, self._lsn.advance()
        transaction = self._transactions.advance()
        envelope = {
            "before": before,
            "after": after,
            "source": {
                "version": _DEBEZIUM_VERSION, "connector": "postgresql", "name": _DATABASE,
                "ts_ms": change.occurred_ms, "snapshot": "false", "db": _DATABASE,
                "sequence": f'["{previous_lsn}","{lsn}"]', "schema": _PG_SCHEMA,
                "table": table.source.name, "txId": transaction, "lsn": lsn, "xmin": None,
            },
            "op": op,
            "ts_ms": change.occurred_ms + 1 + int(self._rng.random() * _MAX_LAG_MS),
            "transaction": None,
        }  # fmt: skip
        wrapped = self._rng.random() < _WRAPPED_SHARE
        document = _kafka_connect(table.schema, envelope) if wrapped else envelope
        event_id = stable_event_id(
            "dbz", _DATABASE, op, f"lsn={lsn}", f"txId={transaction}",
            f"{_PG_SCHEMA}.{table.source.name}", change.entity_id,
        )  # fmt: skip
        return _message(document, SourceFormat.DEBEZIUM, event_id)

    def _apply(
        self, table: _Table, change: _Change
    ) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        """The row before and after the change (None where Debezium sends null), kept."""
        rows = self._rows
        current = rows.get(change.entity_id)
        if change.op == "delete":
            rows.pop(change.entity_id, None)
            return (current or table.row(change.entity_id)), None
        base = current if current is not None else table.row(change.entity_id)
        after = base | table.columns(change)
        rows[change.entity_id] = after
        return (base if change.op == "update" else None), after


# --------------------------------------------------------------------------------------------
# HubSpot webhooks
# --------------------------------------------------------------------------------------------

_HUBSPOT_ACTIONS: Final = {
    "create": "creation",
    "update": "propertyChange",
    "delete": "deletion",
    "undelete": "restore",
}
_CHANGE_FLAGS: Final = {"creation": "CREATED", "deletion": "DELETED", "restore": "RESTORED"}
# HubSpot's default contact property "Date of birth" is single-line text, not a date picker:
# what was typed is what is sent.
_TEXT_PROPERTIES: Final = frozenset({"date_of_birth"})
_RETRIED_SHARE: Final = 0.05  # batches HubSpot delivers again after a failed attempt
_APP_ID: Final = 1_160_452


@dataclass(frozen=True, slots=True)
class _HubSpotObject:
    """A HubSpot object type: its properties, which hold dates, its subscriptions."""

    source: _SourceObject
    date_properties: frozenset[str]
    subscriptions: Mapping[str, int]  # action -> subscription id


def _hubspot_object(source: _SourceObject, rng: Random) -> _HubSpotObject:
    dates = {
        source.names.source[field] for field in _fields_of_kind(source.entity_type, FieldKind.DATE)
    }
    return _HubSpotObject(
        source=source,
        date_properties=frozenset(dates - _TEXT_PROPERTIES),
        subscriptions={
            action: 100_000 + int(rng.random() * 900_000) for action in _HUBSPOT_ACTIONS.values()
        },
    )


def _property_text(value: Any, is_date: bool) -> str:
    """A property value the way HubSpot writes every one: text; a date as the epoch millis of
    its midnight UTC; a cleared property as the empty string."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if is_date and isinstance(value, str):
        try:
            midnight = datetime.combine(date.fromisoformat(value), datetime.min.time(), UTC)
        except ValueError:
            return value
        return str(_epoch_ms(midnight))
    return str(value)


class _HubSpot:
    """Webhook batches: one per canonical change, one property per event."""

    source_format = SourceFormat.HUBSPOT

    def __init__(self, mapping: FieldMapping, rng: Random) -> None:
        self._rng = rng
        self._objects = {
            entity_type: _hubspot_object(source, rng)
            for entity_type, source in _source_objects(_HUBSPOT, mapping).items()
        }
        self._portal = 20_000_000 + int(rng.random() * 9_000_000)
        self._event_ids = _Position(rng, start=1_000, step=40)

    def expresses(self, entity_type: str, op: str) -> bool:
        return entity_type in self._objects and op in _HUBSPOT_ACTIONS

    def render(self, change: _Change) -> RenderedMessage:
        target = self._objects[change.entity_type]
        attempt = 0 if self._rng.random() >= _RETRIED_SHARE else 1 + int(self._rng.random() * 2)
        batch = [
            self._event(target, change, action, attempt, extra)
            for action, extra in self._actions(target, change)
        ]
        first = batch[0]
        event_id = stable_event_id(
            "hs", self._portal, first["eventId"], first["subscriptionId"], change.entity_id
        )
        return _message(batch, SourceFormat.HUBSPOT, event_id)

    def _actions(
        self, target: _HubSpotObject, change: _Change
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        """The events of a change: its own, then one per property (none on a delete)."""
        action = _HUBSPOT_ACTIONS[change.op]
        if action != "propertyChange":
            yield action, {"changeFlag": _CHANGE_FLAGS[action]}
        if action == "deletion":
            return
        values = target.source.names.rename(change.fields) | dict(change.attributes)
        for name, value in values.items():
            if value is None and action != "propertyChange":
                continue  # a new record has no value to clear
            text = _property_text(value, name in target.date_properties)
            yield "propertyChange", {"propertyName": name, "propertyValue": text}

    def _event(
        self,
        target: _HubSpotObject,
        change: _Change,
        action: str,
        attempt: int,
        extra: dict[str, Any],
    ) -> dict[str, Any]:
        return {
            "eventId": self._event_ids.advance(),
            "subscriptionId": target.subscriptions[action],
            "portalId": self._portal,
            "appId": _APP_ID,
            "occurredAt": change.occurred_ms,
            "subscriptionType": f"{target.source.name}.{action}",
            "attemptNumber": attempt,
            "objectId": change.entity_id,
            "changeSource": "CRM_UI",
            **extra,
        }


# --------------------------------------------------------------------------------------------
# Choosing the format
# --------------------------------------------------------------------------------------------

_RENDERERS: Final[Mapping[OutputFormat, tuple[type[_Salesforce | _Debezium | _HubSpot], ...]]] = {
    OutputFormat.NATIVE: (),
    OutputFormat.SALESFORCE: (_Salesforce,),
    OutputFormat.DEBEZIUM: (_Debezium,),
    OutputFormat.HUBSPOT: (_HubSpot,),
    OutputFormat.MIXED: (_Salesforce, _Debezium, _HubSpot),
}


class SourceRenderer:
    """Renders valid native changes as the messages of one source format, or a mix of them.

    Parameters
    ----------
    output_format
        ``native`` renders nothing (every change stays as it is); ``salesforce``,
        ``debezium`` and ``hubspot`` render every change that format can express; ``mixed``
        picks, per change, among native and the formats that can express it.
    seed
        Seeds every choice and every invented value (replay ids, LSNs, event ids...), with a
        generator of its own: the same seed and changes give the same bytes, and the
        simulation's stream is the same whatever the format.
    mapping
        The field mapping the parser will read the messages with; the renderer inverts it.

    Changes must be rendered in the order they happened: Debezium rows are kept from one
    change to the next.
    """

    def __init__(
        self,
        output_format: OutputFormat | str,
        *,
        seed: int,
        mapping: FieldMapping = DEFAULT_FIELD_MAPPING,
    ) -> None:
        self.output_format = OutputFormat(output_format)
        self.seed = seed
        self._rng = Random(f"crmstream.source_formats:{seed}")
        self._renderers: tuple[_Renderer, ...] = tuple(
            renderer(mapping, self._rng) for renderer in _RENDERERS[self.output_format]
        )
        found = [r for r in self._renderers if isinstance(r, _Debezium)]
        self._debezium: _Debezium | None = found[0] if found else None

    def render(self, change: ChangeEvent | Mapping[str, Any]) -> RenderedMessage | None:
        """The change as its chosen source sends it; None when it stays native (the format
        cannot express it, or a mixed run picked native)."""
        if not self._renderers:
            return None
        plain = _change_of(change)
        chosen = self._choose(plain)
        if self._debezium is not None and chosen is not self._debezium:
            self._debezium.observe(plain)
        return None if chosen is None else chosen.render(plain)

    def forget(self, entity_ids: Iterable[str]) -> None:
        """Drop what is kept for records that will not change again (see
        :attr:`streams.generator.CrmSimulation.retired_ids`)."""
        if self._debezium is not None:
            self._debezium.forget(entity_ids)

    @property
    def rows_kept(self) -> int:
        """How many records' rows are kept for Debezium's whole-row events (0 without)."""
        return 0 if self._debezium is None else self._debezium.rows_kept

    def _choose(self, change: _Change) -> _Renderer | None:
        able = [r for r in self._renderers if r.expresses(change.entity_type, change.op)]
        if self.output_format is not OutputFormat.MIXED:
            return able[0] if able else None
        pick = int(self._rng.random() * (len(able) + 1))
        return able[pick] if pick < len(able) else None


class FormattedSimulation:
    """A :class:`~streams.generator.CrmSimulation` whose valid events are sent in a format.

    Composition rather than an option of the simulation: the simulated CRM, its native
    events and its ground truth stay exactly what they are for the seed; only the bytes of
    valid events change (and their ``event_id``, to the id the parser derives). Deliberately
    broken messages pass through untouched. The ground truth's ``format`` says which format
    was asked for.

    >>> simulation = FormattedSimulation(CrmSimulation(seed=3), "mixed")
    >>> events = list(simulation.events(50))
    >>> simulation.ground_truth.format, len(events)
    ('mixed', 50)
    """

    def __init__(
        self,
        simulation: CrmSimulation,
        output_format: OutputFormat | str,
        *,
        mapping: FieldMapping = DEFAULT_FIELD_MAPPING,
    ) -> None:
        self.simulation = simulation
        self.renderer = SourceRenderer(output_format, seed=simulation.seed, mapping=mapping)
        simulation.ground_truth.format = self.renderer.output_format.value

    @property
    def ground_truth(self) -> GroundTruth:
        return self.simulation.ground_truth

    def events(self, count: int) -> Iterator[GeneratedEvent]:
        """Exactly ``count`` more events, rendered, in the simulation's order."""
        native = self.renderer.output_format is OutputFormat.NATIVE
        for event in self.simulation.events(count):
            rendered = event if native else self._rendered(event)
            self.renderer.forget(self.simulation.retired_ids)
            yield rendered

    def _rendered(self, event: GeneratedEvent) -> GeneratedEvent:
        if event.expected_error is not None:
            return event
        message = self.renderer.render(orjson.loads(event.value))
        if message is None:
            return event
        return GeneratedEvent(
            key=event.key,
            value=message.value,
            index=event.index,
            event_id=message.event_id,
            entity_type=event.entity_type,
            source_format=message.source_format,
        )
