"""Synthetic CRM change events: a small simulated CRM that feeds crmstream realistic input.

crmstream needs a stream that exercises everything downstream at once: partial CDC updates
that only make sense merged onto earlier records, near-duplicate contacts and leads for the
matcher, outcomes (conversions, wins, churn) for the models to learn from, and the odd broken
message for the dead-letter path. Real CRM exports are private, so this module simulates one.

It is pure: no Kafka, no files, no wall clock. Everything is drawn from one
``random.Random(seed)`` and time comes from a simulated clock that starts at a fixed instant
and moves forward by a random gap with every event, so the same seed and arguments always give
byte-identical messages (benchmarks and integration tests replay exactly the same input).
:mod:`streams.publish` sends the events to Kafka; :class:`GroundTruth` says what a perfect
pipeline should find in them.

How events are ordered
    Every entity is first created (``op`` ``create`` with most fields), then receives partial
    updates carrying 1-3 changed fields (status progression, a phone added, a new title, an
    opportunity moving through its stages, ...), and is occasionally deleted. Contacts and
    opportunities belong to accounts created earlier; activities relate to an existing lead,
    contact or account. Nothing happens to an entity after its delete.

Labels, themselves CRM changes
    Leads are converted (``status`` ``converted``, ``is_converted`` true: label 1) or
    disqualified (``status`` ``disqualified``: label 0); opportunities close won
    (``stage`` ``closed_won``, ``is_won``, ``is_closed``: label 1) or lost (``closed_lost``:
    label 0); accounts churn (``status`` ``churned`` with a ``churn_date``: label 1) or renew
    (``contract_end_date`` moved a year forward, still active: label 0). Each outcome is drawn
    from a logistic of features a model can see before the outcome (lead source, title
    seniority, company size, industry, rating and status, activities so far; opportunity stage
    reached, amount, account size and plan; account plan, size, contacts and how recently it was
    touched) plus a hidden per-record propensity the stream never reveals, so a model can do
    clearly better than chance but never perfectly (a logistic model on the visible features
    reaches a ROC AUC of about 0.75-0.8; the true probabilities, about 0.8-0.85).

Near duplicates
    A share of new contacts and leads re-enter an earlier record of the same type with the
    variations real CRMs accumulate: name typos, first and last name swapped, an abbreviated or
    nick-named first name, email variants (case, dots, plus tags, another domain, missing),
    phone formatting variants or a missing phone, a moved address, a company written
    differently. :class:`GroundTruth` records which record duplicates which and how.

Invalid messages
    A share of messages is broken in one of ten ways, each with one expected primary
    :class:`~schemas.errors.ErrorCode` (see ``INVALID_KINDS``). They leave the simulated CRM
    untouched, as a dead-lettered message would.

Field vocabulary (canonical snake_case names; Salesforce and HubSpot names map onto these)
    lead
        first_name, last_name, email, phone, company, title, industry, lead_source, status
        (new, working, nurturing, qualified, converted, disqualified), is_converted, country,
        state, city, postal_code, street, employees, annual_revenue, website, rating (hot, warm,
        cold)
    contact
        first_name, last_name, email, phone, account_id, title, mailing_street, mailing_city,
        mailing_state, mailing_postal_code, mailing_country, birthdate (YYYY-MM-DD)
    account
        name, website, phone, industry, employees, annual_revenue, billing_street,
        billing_city, billing_state, billing_postal_code, billing_country, status (active,
        churned), plan (free, starter, pro, enterprise), contract_end_date, churn_date
    opportunity
        account_id, name, amount, stage (prospecting, qualification, needs_analysis, proposal,
        negotiation, closed_won, closed_lost), close_date, probability (0-100), is_won,
        is_closed
    activity
        type (call, email, meeting), subject, related_type (lead, contact, account),
        related_id, activity_date (ISO-8601 UTC), duration_minutes

Values are deliberately as messy as real CRM data: names from several cultures with accents,
particles and apostrophes (McDonald, O'Neil, van der Berg, Müller), companies with legal
suffixes, countries written as names or ISO codes, phones in the formats people type, emails
derived from names and company domains or on free-mail providers, and optional fields missing.

>>> simulation = CrmSimulation(seed=7)
>>> events = list(simulation.events(200))
>>> len(events), simulation.ground_truth.count
(200, 200)
>>> events[0].value[:13]
b'{"event_id":"'
"""

from __future__ import annotations

import hashlib
import math
import unicodedata
from bisect import bisect_right
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from random import Random
from types import MappingProxyType
from typing import Final, Generic, TypeVar

import orjson

from schemas.entities import FIELD_VOCABULARY
from schemas.envelopes import SourceFormat
from schemas.errors import ErrorCode

__all__ = [
    "BASE_TIME",
    "FIELD_VOCABULARY",
    "INVALID_KINDS",
    "CrmSimulation",
    "DuplicateTruth",
    "GeneratedEvent",
    "GroundTruth",
    "InvalidEventTruth",
    "OutcomeTruth",
    "generate_events",
    "record_lifetimes",
]

JsonScalar = str | int | float | bool | None
Fields = dict[str, JsonScalar]
T = TypeVar("T")

BASE_TIME: Final = datetime(2026, 1, 5, 8, 0, 0, tzinfo=UTC)
"""Where the simulated clock starts unless told otherwise: fixed, so output is reproducible."""


# --------------------------------------------------------------------------------------------
# Public records
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GeneratedEvent:
    """One Kafka message ready to send, with what the generator knows about it.

    ``key`` is the entity id in UTF-8 (``None`` when the message deliberately has none),
    ``value`` the exact message bytes, ``index`` its position in the run. ``expected_error``
    is set only for deliberately invalid messages, whose ``entity_type`` is then ``None``
    because the message cannot be trusted to say it. ``event_id`` is the id the pipeline
    will see on the change (for a message holding several, the first one's).
    ``source_format`` says which envelope ``value`` is: the simulation writes native ones,
    :class:`streams.source_formats.FormattedSimulation` re-renders them as other sources send
    them.
    """

    key: bytes | None
    value: bytes
    index: int
    event_id: str | None
    entity_type: str | None
    expected_error: ErrorCode | None = None
    source_format: SourceFormat = SourceFormat.NATIVE


@dataclass(frozen=True, slots=True)
class InvalidEventTruth:
    """A message broken on purpose and the primary error a parser must report for it."""

    index: int
    event_id: str | None
    kind: str
    expected_error: ErrorCode
    sha256: str


@dataclass(frozen=True, slots=True)
class DuplicateTruth:
    """A record created as a near duplicate of an earlier record of the same type.

    The original may have been deleted before: people re-enter records that were removed
    (see :func:`record_lifetimes`).
    """

    entity_type: str
    entity_id: str
    duplicate_of: str
    variations: tuple[str, ...]
    index: int


@dataclass(frozen=True, slots=True)
class OutcomeTruth:
    """A label-bearing change: which record, which outcome, its 0/1 label, where it happened.

    ``probability`` is the generator's true probability of label 1 at that moment (hidden
    propensity included), so benchmarks can compare a model with the best achievable scorer.
    """

    entity_type: str
    entity_id: str
    outcome: str
    label: int
    index: int
    probability: float


@dataclass(slots=True)
class GroundTruth:
    """What a perfect pipeline should find in a generated run, filled while generating.

    Kept small enough for million-event runs: per-event data is held only for the invalid,
    duplicate and outcome events, never for every event. ``format`` is how the valid events
    were sent (``native`` unless :class:`streams.source_formats.FormattedSimulation` says
    otherwise); what they mean, and so everything else here, is the same in every format.
    """

    seed: int
    duplicate_share: float
    invalid_share: float
    start: datetime
    format: str = "native"
    count: int = 0
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    invalid: list[InvalidEventTruth] = field(default_factory=list)
    duplicates: list[DuplicateTruth] = field(default_factory=list)
    outcomes: list[OutcomeTruth] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready view with a stable shape for test harnesses and benchmarks."""
        by_error: dict[str, int] = {}
        for item in self.invalid:
            by_error[item.expected_error.value] = by_error.get(item.expected_error.value, 0) + 1
        return {
            "seed": self.seed,
            "format": self.format,
            "count": self.count,
            "duplicate_share": self.duplicate_share,
            "invalid_share": self.invalid_share,
            "start": self.start.isoformat(),
            "counts": self.counts,
            "invalid_count": len(self.invalid),
            "invalid_by_error": by_error,
            "invalid": [
                {
                    "index": item.index,
                    "event_id": item.event_id,
                    "kind": item.kind,
                    "expected_error": item.expected_error.value,
                    "sha256": item.sha256,
                }
                for item in self.invalid
            ],
            "duplicates": [
                {
                    "entity_type": item.entity_type,
                    "entity_id": item.entity_id,
                    "duplicate_of": item.duplicate_of,
                    "variations": list(item.variations),
                    "index": item.index,
                }
                for item in self.duplicates
            ],
            "outcomes": [
                {
                    "entity_type": item.entity_type,
                    "entity_id": item.entity_id,
                    "outcome": item.outcome,
                    "label": item.label,
                    "index": item.index,
                    "probability": item.probability,
                }
                for item in self.outcomes
            ],
        }

    def to_json(self) -> bytes:
        """Serialized :meth:`to_dict`, indented for people who open the file."""
        return orjson.dumps(self.to_dict(), option=orjson.OPT_INDENT_2)

    def _count(self, entity_type: str, op: str) -> None:
        per_op = self.counts.setdefault(entity_type, {"create": 0, "update": 0, "delete": 0})
        per_op[op] += 1


# --------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------


class _Weighted(Generic[T]):
    """A weighted choice with precomputed cumulative weights: hot paths pick millions of times."""

    __slots__ = ("_cumulative", "_total", "items")

    def __init__(self, pairs: Sequence[tuple[T, float]]) -> None:
        self.items: tuple[T, ...] = tuple(item for item, _ in pairs)
        running = 0.0
        cumulative = []
        for _, weight in pairs:
            running += weight
            cumulative.append(running)
        self._cumulative = tuple(cumulative)
        self._total = running

    def pick(self, rng: Random) -> T:
        return self.items[bisect_right(self._cumulative, rng.random() * self._total)]


# ``Random.choice`` and ``Random.randint`` cost about a microsecond each through rejection
# sampling; scaling ``random()`` is exact enough for these small ranges and several times
# faster, which matters at dozens of draws per event.
def _pick(rng: Random, options: Sequence[T]) -> T:
    return options[int(rng.random() * len(options))]


def _below(rng: Random, n: int) -> int:
    return int(rng.random() * n)


def _between(rng: Random, low: int, high: int) -> int:
    """An integer in ``[low, high]``, both included, like ``randint``."""
    return low + int(rng.random() * (high - low + 1))


def _uuid4(rng: Random) -> str:
    """A random (version 4) UUID drawn from the seeded generator, formatted like ``uuid4()``."""
    bits = rng.getrandbits(128) & ~(0xF000 << 64) & ~(0xC000 << 48)
    text = f"{bits | (0x4000 << 64) | (0x8000 << 48):032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def _digits(rng: Random, n: int) -> str:
    return f"{_below(rng, 10**n):0{n}d}" if n > 0 else ""


def _fill_pattern(rng: Random, pattern: str) -> str:
    """Postal codes and the like: ``#`` is a digit, ``@`` an uppercase letter."""
    out = []
    for ch in pattern:
        if ch == "#":
            out.append("0123456789"[_below(rng, 10)])
        elif ch == "@":
            out.append(_pick(rng, "ABCDEFGHJKLMNPRSTUWXYZ"))
        else:
            out.append(ch)
    return "".join(out)


_ASCII_FOLD = str.maketrans(
    {"ß": "ss", "ø": "o", "Ø": "O", "æ": "ae", "Æ": "AE", "ł": "l", "Ł": "L", "œ": "oe"}
)


@lru_cache(maxsize=8192)
def _slug(text: str) -> str:
    """Lowercase ASCII letters and digits only, as people write names in email addresses."""
    folded = unicodedata.normalize("NFKD", text.translate(_ASCII_FOLD))
    return "".join(ch for ch in folded.encode("ascii", "ignore").decode().lower() if ch.isalnum())


def _iso_z(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


# --------------------------------------------------------------------------------------------
# Vocabulary: names, places, phones, companies, titles
# --------------------------------------------------------------------------------------------

_FIRST_NAMES: Final[Mapping[str, tuple[str, ...]]] = {
    "anglo": (
        "Robert", "William", "James", "John", "Michael", "David", "Richard", "Thomas",
        "Christopher", "Daniel", "Matthew", "Anthony", "Joseph", "Andrew", "Steven", "Edward",
        "Jonathan", "Nicholas", "Benjamin", "Samuel", "Timothy", "Patrick", "Kevin", "Brian",
        "Connor", "Liam", "Sean", "Elizabeth", "Jennifer", "Margaret", "Katherine", "Patricia",
        "Susan", "Deborah", "Rebecca", "Victoria", "Jessica", "Sarah", "Emily", "Laura",
        "Amanda", "Michelle", "Rachel", "Olivia", "Hannah", "Megan", "Siobhan", "Aoife", "Grace",
        "Chloe",
    ),
    "german": (
        "Johannes", "Klaus", "Stefan", "Andreas", "Jürgen", "Matthias", "Wolfgang", "Uwe",
        "Dieter", "Lukas", "Felix", "Maximilian", "Tobias", "Florian", "Sebastian", "Jörg",
        "Björn", "Günter", "Katharina", "Anna", "Julia", "Sabine", "Petra", "Ursula", "Monika",
        "Lena", "Heike", "Birgit", "Franziska", "Annika",
    ),
    "french": (
        "Jean", "Pierre", "François", "Louis", "Nicolas", "Julien", "Mathieu", "Antoine",
        "Guillaume", "Sébastien", "Thierry", "Olivier", "Jean-Luc", "Marie", "Camille", "Chloé",
        "Élodie", "Isabelle", "Nathalie", "Céline", "Amélie", "Hélène", "Margaux", "Renée",
        "Anne-Sophie", "Manon",
    ),
    "spanish": (
        "José", "Juan", "Carlos", "Luis", "Javier", "Miguel", "Alejandro", "Pablo", "Sergio",
        "Diego", "Andrés", "Fernando", "Francisco", "María", "Carmen", "Lucía", "Ana", "Isabel",
        "Sofía", "Marta", "Paula", "Elena", "Raquel", "Nuria",
    ),
    "portuguese": (
        "João", "Pedro", "Rafael", "Thiago", "Gabriel", "Lucas", "Mateus", "Gustavo", "Bruno",
        "Felipe", "Beatriz", "Fernanda", "Mariana", "Letícia", "Inês", "Juliana", "Camila",
        "Larissa", "Vitória", "Aline",
    ),
    "dutch": (
        "Jan", "Pieter", "Sander", "Bram", "Daan", "Joost", "Thijs", "Ruud", "Maarten", "Willem",
        "Sanne", "Lotte", "Femke", "Anouk", "Eva", "Fleur", "Marieke", "Søren", "Lars", "Astrid",
    ),
    "indian": (
        "Aarav", "Vivek", "Rahul", "Arjun", "Rohan", "Sanjay", "Amit", "Raj", "Vikram", "Karthik",
        "Suresh", "Anil", "Priya", "Ananya", "Divya", "Pooja", "Neha", "Kavya", "Lakshmi",
        "Deepa", "Sneha", "Aishwarya",
    ),
    "east_asian": (
        "Wei", "Jing", "Hiroshi", "Yuki", "Min-jun", "Ji-woo", "Minh", "Linh", "Mei", "Kenji",
        "Hana", "Daniel", "Grace", "Kevin",
    ),
}  # fmt: skip

_LAST_NAMES: Final[Mapping[str, tuple[str, ...]]] = {
    "anglo": (
        "Smith", "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis", "Wilson", "Anderson",
        "Taylor", "Thomas", "Moore", "Jackson", "White", "Harris", "Martin", "Thompson", "Clark",
        "Lewis", "Walker", "Hall", "Young", "King", "Wright", "Scott", "Green", "Baker", "Adams",
        "Nelson", "Campbell", "McDonald", "MacLeod", "McAllister", "O'Neil", "O'Brien",
        "O'Connor", "Fitzgerald", "Murphy", "Kelly", "Sullivan", "Hughes", "Evans", "Roberts",
        "Turner", "Parker", "Collins", "Edwards", "Stewart", "Morris", "Cooper", "Reed",
        "Smith-Jones",
    ),
    "german": (
        "Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker",
        "Schulz", "Hoffmann", "Schäfer", "Koch", "Bauer", "Richter", "Klein", "Wolf", "Schröder",
        "Neumann", "Schwarz", "Zimmermann", "Braun", "Krüger", "Hofmann", "Hartmann", "Lange",
        "Schmitt", "Werner", "Krause", "von Bülow", "Weiß",
    ),
    "french": (
        "Martin", "Bernard", "Dubois", "Petit", "Durand", "Leroy", "Moreau", "Simon", "Laurent",
        "Lefèvre", "Michel", "Bertrand", "Roux", "Vincent", "Fournier", "Girard", "Bonnet",
        "Dupont", "Lambert", "Fontaine", "Rousseau", "Blanc", "Guérin", "Faure", "André",
        "Mercier", "de la Croix", "Le Gall",
    ),
    "spanish": (
        "García", "Fernández", "González", "Rodríguez", "López", "Martínez", "Sánchez", "Pérez",
        "Gómez", "Martín", "Jiménez", "Ruiz", "Hernández", "Díaz", "Moreno", "Álvarez", "Romero",
        "Navarro", "Torres", "de la Cruz", "Muñoz", "Ortega",
    ),
    "portuguese": (
        "Silva", "Santos", "Oliveira", "Souza", "Pereira", "Costa", "Carvalho", "Almeida",
        "Ferreira", "Rodrigues", "Gomes", "Ribeiro", "Araújo", "Barbosa", "Lima", "Conceição",
        "da Silva", "dos Santos",
    ),
    "dutch": (
        "de Jong", "Jansen", "de Vries", "van den Berg", "van der Berg", "van Dijk", "Bakker",
        "Janssen", "Visser", "Smit", "Meijer", "de Boer", "Mulder", "de Groot", "Bos", "Vos",
        "Peters", "Hendriks", "van Leeuwen", "Dekker", "van der Meer", "Jørgensen",
    ),
    "indian": (
        "Sharma", "Patel", "Singh", "Kumar", "Gupta", "Reddy", "Iyer", "Nair", "Rao", "Mehta",
        "Shah", "Desai", "Joshi", "Chopra", "Banerjee", "Chatterjee", "Menon", "Krishnan",
        "Pillai", "Agarwal",
    ),
    "east_asian": (
        "Chen", "Wang", "Li", "Zhang", "Liu", "Yang", "Huang", "Nguyen", "Tran", "Kim", "Park",
        "Lee", "Tanaka", "Sato", "Suzuki", "Wong",
    ),
}  # fmt: skip

_NICKNAMES: Final[Mapping[str, tuple[str, ...]]] = {
    "Robert": ("Bob", "Rob", "Bobby"), "William": ("Bill", "Will", "Billy"),
    "James": ("Jim", "Jimmy", "Jamie"), "John": ("Jack", "Johnny"), "Michael": ("Mike", "Mick"),
    "Richard": ("Rick", "Rich", "Dick"), "Thomas": ("Tom", "Tommy"), "Christopher": ("Chris",),
    "Daniel": ("Dan", "Danny"), "Matthew": ("Matt",), "Anthony": ("Tony",),
    "Joseph": ("Joe", "Joey"), "Andrew": ("Andy", "Drew"), "Steven": ("Steve",),
    "Edward": ("Ed", "Ted", "Eddie"), "Jonathan": ("Jon",), "Nicholas": ("Nick",),
    "Benjamin": ("Ben",), "Samuel": ("Sam",), "Timothy": ("Tim",), "Patrick": ("Pat", "Paddy"),
    "David": ("Dave",), "Elizabeth": ("Liz", "Beth", "Betty"), "Jennifer": ("Jen", "Jenny"),
    "Margaret": ("Maggie", "Peggy", "Meg"), "Katherine": ("Kate", "Kathy", "Katie"),
    "Patricia": ("Pat", "Patty", "Trish"), "Susan": ("Sue", "Susie"), "Deborah": ("Deb", "Debbie"),
    "Rebecca": ("Becky", "Becca"), "Victoria": ("Vicky", "Tori"), "Jessica": ("Jess",),
    "Amanda": ("Mandy",), "Johannes": ("Hans", "Jo"), "Maximilian": ("Max",),
    "Katharina": ("Kathi",), "Franziska": ("Franzi",), "Nicolas": ("Nico",),
    "Francisco": ("Paco",), "José": ("Pepe",), "Javier": ("Javi",), "Rafael": ("Rafa",),
    "Fernando": ("Nando",), "Alejandro": ("Alex",), "Gabriel": ("Gabi",), "Willem": ("Wim",),
    "Pieter": ("Piet",), "Sebastian": ("Basti",), "Andreas": ("Andi",), "Stefan": ("Steff",),
}  # fmt: skip

# Names that are all Latin-1 encodable: what a legacy system mis-encodes into invalid UTF-8.
_LATIN1_NAMES: Final = ("Müller", "José", "François", "Søren", "Björn", "Renée", "Schäfer", "Muñoz")


@dataclass(frozen=True, slots=True)
class _City:
    name: str
    state: str
    postal: str  # pattern for _fill_pattern
    area: str  # landline area code, national significant digits
    groups: tuple[int, ...]  # landline subscriber digit groups
    first: str  # allowed first digits of the subscriber number
    nearby: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class _MobilePlan:
    prefixes: tuple[str, ...]  # "" means: the city's area code
    area_len: int
    groups: tuple[int, ...]
    first: str


@dataclass(frozen=True, slots=True)
class _Country:
    code: str
    spellings: _Weighted[str]
    calling_code: str
    trunk: str
    templates: tuple[str, ...]
    mobile: _MobilePlan | None
    street_style: str
    cultures: _Weighted[str]
    legal_suffixes: tuple[str, ...]
    tlds: tuple[str, ...]
    free_mail: tuple[str, ...]
    cities: tuple[_City, ...]

    def city(self, name: str) -> _City:
        for city in self.cities:
            if city.name == name:
                return city
        raise KeyError(name)


# Phone templates: {cc} country code, {t} trunk prefix, {a} area code, {s} subscriber groups
# joined by spaces, {sd} by dashes, {sdot} by dots, {sc} without separators.
_NANP_TEMPLATES = (
    "({a}) {sd}", "{a}-{sd}", "+{cc} {a} {s}", "{a}.{sdot}", "+{cc}{a}{sc}", "{cc}-{a}-{sd}",
    "{a}{sc}", "+{cc} ({a}) {sd}",
)  # fmt: skip
_GLOBAL_FREE_MAIL = (
    "gmail.com", "yahoo.com", "outlook.com", "hotmail.com", "icloud.com", "protonmail.com",
)  # fmt: skip


def _w(*pairs: tuple[str, float]) -> _Weighted[str]:
    return _Weighted(pairs)


# fmt: off
_US_CITIES = (
    _City("San Francisco", "CA", "941##", "415", (3, 4), "2345678", ("Oakland", "San Jose")),
    _City("Oakland", "CA", "946##", "510", (3, 4), "2345678", ("San Francisco",)),
    _City("San Jose", "CA", "951##", "408", (3, 4), "2345678", ("San Francisco",)),
    _City("New York", "NY", "100##", "212", (3, 4), "2345678", ("Brooklyn", "Jersey City")),
    _City("Brooklyn", "NY", "112##", "718", (3, 4), "2345678", ("New York",)),
    _City("Jersey City", "NJ", "073##", "201", (3, 4), "2345678", ("New York",)),
    _City("Boston", "MA", "021##", "617", (3, 4), "2345678", ("Cambridge",)),
    _City("Cambridge", "MA", "021##", "617", (3, 4), "2345678", ("Boston",)),
    _City("Austin", "TX", "787##", "512", (3, 4), "2345678", ("Round Rock",)),
    _City("Round Rock", "TX", "786##", "512", (3, 4), "2345678", ("Austin",)),
    _City("Chicago", "IL", "606##", "312", (3, 4), "2345678", ("Evanston",)),
    _City("Evanston", "IL", "602##", "847", (3, 4), "2345678", ("Chicago",)),
    _City("Seattle", "WA", "981##", "206", (3, 4), "2345678", ("Bellevue",)),
    _City("Bellevue", "WA", "980##", "425", (3, 4), "2345678", ("Seattle",)),
    _City("Denver", "CO", "802##", "303", (3, 4), "2345678", ("Boulder",)),
    _City("Boulder", "CO", "803##", "303", (3, 4), "2345678", ("Denver",)),
)
_GB_CITIES = (
    _City("London", "Greater London", "EC# #@@", "20", (4, 4), "378", ("Croydon",)),
    _City("Croydon", "Greater London", "CR# #@@", "20", (4, 4), "378", ("London",)),
    _City("Manchester", "Greater Manchester", "M# #@@", "161", (3, 4), "2345678", ("Salford",)),
    _City("Salford", "Greater Manchester", "M# #@@", "161", (3, 4), "2345678", ("Manchester",)),
    _City("Cambridge", "Cambridgeshire", "CB# #@@", "1223", (3, 3), "2345678"),
    _City("Edinburgh", "Scotland", "EH# #@@", "131", (3, 4), "2345678"),
)
_DE_CITIES = (
    _City("Berlin", "Berlin", "10###", "30", (8,), "23456789", ("Potsdam",)),
    _City("Potsdam", "Brandenburg", "14###", "331", (7,), "23456789", ("Berlin",)),
    _City("München", "Bayern", "80###", "89", (7,), "123456789", ("Freising",)),
    _City("Freising", "Bayern", "85###", "8161", (6,), "23456789", ("München",)),
    _City("Hamburg", "Hamburg", "20###", "40", (8,), "23456789"),
    _City("Frankfurt am Main", "Hessen", "60###", "69", (8,), "23456789", ("Offenbach am Main",)),
    _City("Offenbach am Main", "Hessen", "63###", "69", (8,), "23456789", ("Frankfurt am Main",)),
)
_FR_CITIES = (
    _City("Paris", "Île-de-France", "750##", "1", (2, 2, 2, 2), "23456789",
          ("Boulogne-Billancourt",)),
    _City("Boulogne-Billancourt", "Île-de-France", "92100", "1", (2, 2, 2, 2), "23456789",
          ("Paris",)),
    _City("Lyon", "Auvergne-Rhône-Alpes", "6900#", "4", (2, 2, 2, 2), "23456789",
          ("Villeurbanne",)),
    _City("Villeurbanne", "Auvergne-Rhône-Alpes", "6910#", "4", (2, 2, 2, 2), "23456789",
          ("Lyon",)),
    _City("Toulouse", "Occitanie", "310##", "5", (2, 2, 2, 2), "6"),
)
_ES_CITIES = (
    _City("Madrid", "Madrid", "280##", "91", (3, 2, 2), "2345678", ("Alcobendas",)),
    _City("Alcobendas", "Madrid", "281##", "91", (3, 2, 2), "2345678", ("Madrid",)),
    _City("Barcelona", "Cataluña", "080##", "93", (3, 2, 2), "2345678",
          ("L'Hospitalet de Llobregat",)),
    _City("L'Hospitalet de Llobregat", "Cataluña", "089##", "93", (3, 2, 2), "2345678",
          ("Barcelona",)),
)
_NL_CITIES = (
    _City("Amsterdam", "Noord-Holland", "10## @@", "20", (3, 4), "2345678", ("Amstelveen",)),
    _City("Amstelveen", "Noord-Holland", "11## @@", "20", (3, 4), "2345678", ("Amsterdam",)),
    _City("Rotterdam", "Zuid-Holland", "30## @@", "10", (3, 4), "2345678", ("Schiedam",)),
    _City("Schiedam", "Zuid-Holland", "31## @@", "10", (3, 4), "2345678", ("Rotterdam",)),
)
_CA_CITIES = (
    _City("Toronto", "ON", "M5@ #@#", "416", (3, 4), "2345678", ("Mississauga",)),
    _City("Mississauga", "ON", "L5@ #@#", "905", (3, 4), "2345678", ("Toronto",)),
    _City("Vancouver", "BC", "V6@ #@#", "604", (3, 4), "2345678", ("Burnaby",)),
    _City("Burnaby", "BC", "V5@ #@#", "604", (3, 4), "2345678", ("Vancouver",)),
    _City("Montréal", "QC", "H2@ #@#", "514", (3, 4), "2345678", ("Laval",)),
    _City("Laval", "QC", "H7@ #@#", "450", (3, 4), "2345678", ("Montréal",)),
)
_BR_CITIES = (
    _City("São Paulo", "SP", "01###-###", "11", (4, 4), "345", ("Guarulhos",)),
    _City("Guarulhos", "SP", "07###-###", "11", (4, 4), "345", ("São Paulo",)),
    _City("Rio de Janeiro", "RJ", "20###-###", "21", (4, 4), "345", ("Niterói",)),
    _City("Niterói", "RJ", "24###-###", "21", (4, 4), "345", ("Rio de Janeiro",)),
)
_IN_CITIES = (
    _City("Bengaluru", "Karnataka", "5600##", "80", (4, 4), "234", ("Whitefield",)),
    _City("Whitefield", "Karnataka", "5600##", "80", (4, 4), "234", ("Bengaluru",)),
    _City("Mumbai", "Maharashtra", "4000##", "22", (4, 4), "2", ("Thane",)),
    _City("Thane", "Maharashtra", "4006##", "22", (4, 4), "2", ("Mumbai",)),
    _City("New Delhi", "Delhi", "1100##", "11", (4, 4), "234", ("Gurugram",)),
    _City("Gurugram", "Haryana", "1220##", "124", (3, 4), "4", ("New Delhi",)),
)
_AU_CITIES = (
    _City("Sydney", "NSW", "20##", "2", (4, 4), "89", ("Parramatta",)),
    _City("Parramatta", "NSW", "21##", "2", (4, 4), "89", ("Sydney",)),
    _City("Melbourne", "VIC", "30##", "3", (4, 4), "89", ("Geelong",)),
    _City("Geelong", "VIC", "32##", "3", (4, 4), "5", ("Melbourne",)),
)

_COUNTRIES: Final[tuple[tuple[_Country, float], ...]] = (
    (_Country(
        code="US",
        spellings=_w(("United States", 5), ("USA", 3), ("US", 3),
                     ("United States of America", 1), ("U.S.", 1)),
        calling_code="1", trunk="", templates=_NANP_TEMPLATES, mobile=None, street_style="en",
        cultures=_w(("anglo", 60), ("spanish", 12), ("east_asian", 12), ("indian", 8),
                    ("german", 4), ("french", 4)),
        legal_suffixes=("Inc.", "Inc", "LLC", "Corp.", "Corporation", "Co."),
        tlds=(".com", ".com", ".io", ".co"),
        free_mail=(*_GLOBAL_FREE_MAIL, "aol.com", "comcast.net"),
        cities=_US_CITIES,
    ), 35.0),
    (_Country(
        code="GB",
        spellings=_w(("United Kingdom", 5), ("UK", 4), ("GB", 1), ("Great Britain", 1),
                     ("England", 1)),
        calling_code="44", trunk="0",
        templates=("{t}{a} {s}", "+{cc} {a} {s}", "+{cc} (0){a} {s}", "({t}{a}) {s}",
                   "+{cc}{a}{sc}", "{t}{a}{sc}"),
        mobile=_MobilePlan(("74", "75", "78", "79"), 4, (6,), "0123456789"),
        street_style="uk",
        cultures=_w(("anglo", 75), ("indian", 12), ("french", 4), ("german", 4),
                    ("east_asian", 5)),
        legal_suffixes=("Ltd", "Ltd.", "Limited", "PLC", "LLP"),
        tlds=(".co.uk", ".co.uk", ".com"),
        free_mail=(*_GLOBAL_FREE_MAIL, "btinternet.com", "yahoo.co.uk"),
        cities=_GB_CITIES,
    ), 12.0),
    (_Country(
        code="DE",
        spellings=_w(("Germany", 6), ("DE", 3), ("Deutschland", 2)),
        calling_code="49", trunk="0",
        templates=("{t}{a} {s}", "+{cc} {a} {s}", "+{cc} (0){a} {s}", "({t}{a}) {s}",
                   "{t}{a}/{sc}", "{t}{a}-{sc}", "+{cc}{a}{sc}", "00{cc} {a} {s}"),
        mobile=_MobilePlan(("151", "152", "157", "170", "171", "172", "175", "176"), 3, (8,),
                           "123456789"),
        street_style="de",
        cultures=_w(("german", 82), ("anglo", 5), ("spanish", 3), ("east_asian", 3),
                    ("indian", 3), ("dutch", 4)),
        legal_suffixes=("GmbH", "GmbH", "AG", "GmbH & Co. KG", "UG", "SE"),
        tlds=(".de", ".de", ".com"),
        free_mail=(*_GLOBAL_FREE_MAIL, "gmx.de", "web.de", "t-online.de"),
        cities=_DE_CITIES,
    ), 12.0),
    (_Country(
        code="FR",
        spellings=_w(("France", 8), ("FR", 3)),
        calling_code="33", trunk="0",
        templates=("{t}{a} {s}", "+{cc} {a} {s}", "+{cc} (0){a} {s}", "{t}{a}{sc}",
                   "{t}{a}.{sdot}", "+{cc}{a}{sc}"),
        mobile=_MobilePlan(("6",), 1, (2, 2, 2, 2), "1245678"),
        street_style="fr",
        cultures=_w(("french", 85), ("spanish", 5), ("anglo", 4), ("portuguese", 3),
                    ("german", 3)),
        legal_suffixes=("S.A.", "SAS", "SARL", "S.A.S."),
        tlds=(".fr", ".fr", ".com"),
        free_mail=(*_GLOBAL_FREE_MAIL, "orange.fr", "free.fr", "laposte.net"),
        cities=_FR_CITIES,
    ), 8.0),
    (_Country(
        code="ES",
        spellings=_w(("Spain", 6), ("ES", 2), ("España", 3)),
        calling_code="34", trunk="",
        templates=("{a} {s}", "+{cc} {a} {s}", "{a}{sc}", "+{cc}{a}{sc}", "00{cc} {a} {s}"),
        mobile=_MobilePlan(("6",), 3, (3, 3), "0123456789"),
        street_style="es",
        cultures=_w(("spanish", 90), ("anglo", 3), ("french", 3), ("portuguese", 4)),
        legal_suffixes=("S.A.", "S.L.", "S.L.U."),
        tlds=(".es", ".es", ".com"),
        free_mail=(*_GLOBAL_FREE_MAIL, "telefonica.net"),
        cities=_ES_CITIES,
    ), 5.0),
    (_Country(
        code="NL",
        spellings=_w(("Netherlands", 6), ("NL", 3), ("The Netherlands", 2), ("Holland", 1)),
        calling_code="31", trunk="0",
        templates=("{t}{a} {s}", "{t}{a}-{sc}", "+{cc} {a} {s}", "+{cc} (0){a} {s}",
                   "+{cc}{a}{sc}"),
        mobile=_MobilePlan(("6",), 1, (8,), "12345"),
        street_style="nl",
        cultures=_w(("dutch", 85), ("german", 5), ("anglo", 5), ("indian", 5)),
        legal_suffixes=("B.V.", "B.V.", "N.V."),
        tlds=(".nl", ".nl", ".com"),
        free_mail=(*_GLOBAL_FREE_MAIL, "ziggo.nl", "kpnmail.nl"),
        cities=_NL_CITIES,
    ), 5.0),
    (_Country(
        code="CA",
        spellings=_w(("Canada", 8), ("CA", 3)),
        calling_code="1", trunk="", templates=_NANP_TEMPLATES, mobile=None, street_style="en",
        cultures=_w(("anglo", 55), ("french", 20), ("east_asian", 12), ("indian", 10),
                    ("spanish", 3)),
        legal_suffixes=("Inc.", "Ltd.", "Corp.", "Inc"),
        tlds=(".ca", ".com"),
        free_mail=(*_GLOBAL_FREE_MAIL, "rogers.com", "shaw.ca"),
        cities=_CA_CITIES,
    ), 6.0),
    (_Country(
        code="BR",
        spellings=_w(("Brazil", 5), ("Brasil", 4), ("BR", 2)),
        calling_code="55", trunk="0",
        templates=("({a}) {sd}", "+{cc} {a} {sd}", "+{cc} ({a}) {sd}", "{a} {s}",
                   "+{cc}{a}{sc}", "({t}{a}) {sd}"),
        mobile=_MobilePlan(("",), 0, (5, 4), "9"),
        street_style="pt",
        cultures=_w(("portuguese", 88), ("spanish", 4), ("german", 4), ("east_asian", 4)),
        legal_suffixes=("Ltda.", "Ltda", "S.A."),
        tlds=(".com.br",),
        free_mail=(*_GLOBAL_FREE_MAIL, "uol.com.br", "bol.com.br"),
        cities=_BR_CITIES,
    ), 5.0),
    (_Country(
        code="IN",
        spellings=_w(("India", 8), ("IN", 3)),
        calling_code="91", trunk="0",
        templates=("{a} {s}", "+{cc} {a} {s}", "+{cc}-{a}{sc}", "{t}{a} {s}", "+{cc}{a}{sc}"),
        mobile=_MobilePlan(("98", "97", "99", "88", "70"), 5, (5,), "0123456789"),
        street_style="in",
        cultures=_w(("indian", 94), ("anglo", 6)),
        legal_suffixes=("Pvt Ltd", "Private Limited", "Pvt. Ltd.", "Ltd."),
        tlds=(".in", ".co.in", ".com"),
        free_mail=(*_GLOBAL_FREE_MAIL, "rediffmail.com"),
        cities=_IN_CITIES,
    ), 6.0),
    (_Country(
        code="AU",
        spellings=_w(("Australia", 8), ("AU", 3)),
        calling_code="61", trunk="0",
        templates=("({t}{a}) {s}", "{t}{a} {s}", "+{cc} {a} {s}", "+{cc}{a}{sc}",
                   "{t}{a}{sc}"),
        mobile=_MobilePlan(("40", "41", "42", "43"), 3, (3, 3), "0123456789"),
        street_style="en",
        cultures=_w(("anglo", 70), ("east_asian", 15), ("indian", 10), ("german", 5)),
        legal_suffixes=("Pty Ltd", "Pty. Ltd.", "Ltd"),
        tlds=(".com.au",),
        free_mail=(*_GLOBAL_FREE_MAIL, "bigpond.com"),
        cities=_AU_CITIES,
    ), 6.0),
)
# fmt: on
_COUNTRY_CHOICE: Final = _Weighted(_COUNTRIES)

# Towns: the long tail of places a CRM's people live in beyond the big cities above. A real
# CRM of a million people spans thousands of towns and tens of thousands of postcodes; with
# only the ~60 cities, one postcode ("92100") would hold 1.6% of everyone, which no
# postcode-based rule (blocking, data quality) meets in practice. Names are composed from
# country-typical parts; each town borrows state, area code and number plan from one of its
# country's cities, and has its own postcode prefix in the country's format.
_TOWN_SHARE: Final = 0.65  # people outside the big cities
_TOWNS_PER_COUNTRY: Final = 300
_TOWN_PARTS: Final[Mapping[str, tuple[tuple[str, ...], tuple[str, ...]]]] = {
    "US": (
        ("Spring", "Green", "Oak", "Maple", "Fair", "River", "Lake", "Clear", "West", "North",
         "Pine", "Cedar", "Elm", "Mill", "Bridge", "Rock", "Glen", "Brook"),
        ("field", "ville", "ton", "wood", "dale", "port", "view", "side", "burg", "ford",
         "haven", "land", "mont", "crest", "ridge", "water", "town"),
    ),
    "GB": (
        ("Ash", "Brad", "Chester", "Dun", "Kings", "Lang", "Mar", "New", "Stan", "Wick", "Brom",
         "Hal", "Nor", "Sut", "Thorn", "Wal", "Cran", "Bel"),
        ("ford", "ham", "ley", "ton", "bury", "wick", "by", "worth", "field", "stead", "mouth",
         "borough", "combe", "den", "hurst", "well", "minster"),
    ),
    "DE": (
        ("Ober", "Unter", "Neu", "Alt", "Klein", "Groß", "Hohen", "Stein", "Wald", "Berg",
         "Rosen", "Linden", "Eichen", "Birken", "Sonnen", "Mühl", "Kirch", "Burg"),
        ("dorf", "heim", "hausen", "bach", "berg", "burg", "feld", "stadt", "au", "ingen",
         "hofen", "brunn", "tal", "rode", "born", "furt", "walde"),
    ),
    "FR": (
        ("Saint-Martin", "Saint-Denis", "Saint-Jean", "Saint-Pierre", "Sainte-Marie",
         "Villeneuve", "Montigny", "Châteauneuf", "Beaumont", "Bourg", "Fontaine", "Belleville",
         "Mont", "Neuville", "Roche", "Champ", "Val", "Clermont"),
        ("-sur-Loire", "-sur-Seine", "-sur-Marne", "-en-Provence", "-le-Bois", "-la-Forêt",
         "-les-Bains", "-sur-Mer", "-le-Château", "-d'Azur", "-du-Lac", "-en-Vexin",
         "-la-Rivière", "-sous-Bois", "-le-Vieux", "-lès-Dijon", ""),
    ),
    "ES": (
        ("San ", "Santa ", "Villa", "Puerto ", "Torre", "Castel", "Monte", "Alba", "Val",
         "Villanueva ", "Fuente", "Campo", "Sierra ", "Río", "Nava", "Peña", "Mira",
         "Torrejón "),
        ("Martín", "Cruz", "real", "llano", "blanca", " de Oro", "mayor", "verde", "nueva",
         " del Río", "alta", "seca", " de Arriba", "flores", " del Mar", "hermosa", "rubia"),
    ),
    "NL": (
        ("Noord", "Zuid", "Oost", "West", "Nieuw", "Oud", "Groot", "Klein", "Hoog", "Laag",
         "Berg", "Zand", "Water", "Veen", "Hout", "Kerk", "Brug", "Dijk"),
        ("wijk", "dam", "dorp", "veen", "broek", "hoven", "horst", "burg", "kerk", "woude",
         "meer", "dijk", "zijl", "haven", "loo", "beek", "hout"),
    ),
    "CA": (
        ("Spring", "Oak", "Pine", "Maple", "River", "Green", "Elm", "Cedar", "Rock", "Bright",
         "Fair", "Glen", "Brook", "Ash", "Mill", "Stone", "Red", "Clear"),
        ("field", "ville", "ton", "wood", "dale", "view", "side", "ford", "haven", "land",
         "mont", "brook", "bury", "ridge", "water", "vale", "crest"),
    ),
    "BR": (
        ("São ", "Santa ", "Porto ", "Campo ", "Nova ", "Vila ", "Rio ", "Monte ", "Barra ",
         "Ponte ", "Serra ", "Lagoa ", "Pedra ", "Ribeirão ", "Bom ", "Três ", "Boa ", "Alto "),
        ("Vicente", "Cruz", "Alegre", "Grande", "Esperança", "Verde", "Bonito", "Branco",
         "Claro", "Jardim", "Mar", "Sul", "Norte", "Preto", "Feliz", "Belo", "Azul"),
    ),
    "IN": (
        ("Ram", "Shiv", "Krishna", "Hari", "Chandra", "Indra", "Lakshmi", "Durga", "Ganga",
         "Raj", "Vijay", "Surya", "Sita", "Dev", "Gopal", "Anand", "Jai", "Kamal"),
        ("pur", "nagar", "abad", "ganj", "garh", "puram", "palli", "wadi", "kot", "gaon",
         "halli", "patnam", "kheda", "mangalam", "pet", "peta", "giri"),
    ),
    "AU": (
        ("Mount ", "Port ", "Glen", "Spring", "Black", "Wood", "Kings", "Bay", "Rose", "Sandy",
         "Green", "Red", "Blue", "Lake ", "Castle", "Hill", "Bright", "West"),
        ("wood", "field", "vale", "hill", "ton", "bank", "water", "creek", "ridge", "haven",
         "dale", "brook", "side", "view", "hurst", "ford", "bay"),
    ),
}  # fmt: skip
# A town's postcodes: fixed characters, then "#"/"@" drawn per address (see _fill_pattern).
_TOWN_POSTAL: Final[Mapping[str, Callable[[Random], str]]] = {
    "US": lambda rng: f"{rng.randrange(1000, 10000)}#",
    "GB": lambda rng: (
        f"{_pick(rng, 'BCDGHKLNPRSTW')}{_pick(rng, 'AELNRSTY')}{rng.randrange(10, 100)} #@@"
    ),
    "DE": lambda rng: f"{rng.randrange(1000, 10000)}#",
    "FR": lambda rng: f"{rng.randrange(1, 96):02d}{rng.randrange(10, 100)}0",
    "ES": lambda rng: f"{rng.randrange(1, 53):02d}{rng.randrange(10, 100)}#",
    "NL": lambda rng: f"{rng.randrange(1000, 10000)} @@",
    "CA": lambda rng: (
        f"{_pick(rng, 'ABCEGHJKLMNPRSTVXY')}{rng.randrange(10)}"
        f"{_pick(rng, 'ABCEGHJKLMNPRSTVWXYZ')} #@#"
    ),
    "BR": lambda rng: f"{rng.randrange(10000, 100000)}-###",
    "IN": lambda rng: f"{rng.randrange(11000, 86000)}#",
    "AU": lambda rng: f"{rng.randrange(200, 800)}#",
}


def _make_towns(country: _Country) -> tuple[_City, ...]:
    """The country's towns, the same in every run (their own fixed seed)."""
    rng = Random(f"crmstream-towns-{country.code}")
    prefixes, suffixes = _TOWN_PARTS[country.code]
    names = [
        " ".join(
            (prefix + (suffix[:1].upper() + suffix[1:] if prefix.endswith(" ") else suffix)).split()
        )
        for prefix in prefixes
        for suffix in suffixes
    ]
    towns = []
    for name in rng.sample(names, min(_TOWNS_PER_COUNTRY, len(names))):
        like = _pick(rng, country.cities)
        postal = _TOWN_POSTAL[country.code](rng)
        towns.append(_City(name, like.state, postal, like.area, like.groups, like.first))
    return tuple(towns)


_TOWNS: Final[Mapping[str, tuple[_City, ...]]] = MappingProxyType(
    {country.code: _make_towns(country) for country, _ in _COUNTRIES}
)

_STREET_NAMES: Final[Mapping[str, tuple[str, ...]]] = {
    "en": (
        "Main", "Oak", "Maple", "Market", "Mission", "Pine", "Cedar", "Elm", "Washington",
        "Lake", "Hill", "Park", "Sunset", "Highland", "Valencia", "Lincoln", "Jackson", "2nd",
        "5th", "Riverside", "Spring", "Church",
    ),
    "uk": (
        "High", "Church", "Victoria", "King's", "Queen's", "Station", "Mill", "Baker", "Abbey",
        "Park", "London", "Manor", "Green",
    ),
    "de": (
        "Haupt", "Bahnhof", "Goethe", "Schiller", "Berliner ", "Garten", "Linden", "Friedrich",
        "Kaiser", "Wilhelm", "Ring", "Markt", "Kirch", "Schloss",
    ),
    "fr": (
        "de la Paix", "Victor Hugo", "des Lilas", "du Général de Gaulle", "Saint-Honoré",
        "Jean Jaurès", "de Rivoli", "de la République", "Pasteur", "des Écoles",
    ),
    "es": (
        "Mayor", "de Alcalá", "Gran Vía", "de la Castellana", "del Prado", "Serrano",
        "de Goya", "Diagonal", "de Gràcia",
    ),
    "pt": (
        "Augusta", "Paulista", "das Flores", "Oscar Freire", "Sete de Setembro",
        "Rio Branco", "da Consolação", "Atlântica",
    ),
    "nl": ("Keizers", "Prinsen", "Heren", "Kalver", "Dam", "Van Baerle", "Oranje", "Linnaeus"),
    "in": (
        "MG Road", "Brigade Road", "Residency Road", "Linking Road", "Nehru Place",
        "Park Street", "Anna Salai", "Hill Road", "Outer Ring Road",
    ),
}  # fmt: skip
_STREET_SUFFIXES: Final[Mapping[str, tuple[str, ...]]] = {
    "en": (
        "Street", "St", "St.", "Avenue", "Ave", "Road", "Rd", "Boulevard", "Blvd", "Drive", "Way",
        "Lane",
    ),
    "uk": ("Road", "Street", "Lane", "Close", "Gardens", "Way"),
    "de": ("straße", "str.", "strasse", "weg", "allee", "platz"),
    "fr": ("rue", "avenue", "boulevard", "place"),
    "es": ("Calle", "Avenida", "Paseo", "Plaza"),
    "pt": ("Rua", "Avenida", "Alameda"),
    "nl": ("straat", "gracht", "weg", "laan", "plein"),
    "in": ("",),
}  # fmt: skip

_COMPANY_PREFIXES: Final = (
    "Blue", "North", "Silver", "Bright", "Green", "Red", "Summit", "Pioneer", "Atlas", "Nova",
    "Apex", "Vertex", "Harbor", "River", "Oak", "Iron", "Quantum", "Stellar", "Crystal",
    "Golden", "Eagle", "Falcon", "Cedar", "Maple", "Horizon", "Lumen", "Vector", "Orbit",
    "Alpine", "Coastal", "Nordstern", "Lumière", "Sol", "Delta", "Prime", "Keystone",
)  # fmt: skip
# Each company noun fixes the industry, as real company names usually hint at it.
_COMPANY_NOUNS: Final = (
    ("Analytics", "Technology"), ("Software", "Technology"), ("Systems", "Technology"),
    ("Networks", "Telecommunications"), ("Telecom", "Telecommunications"),
    ("Logistics", "Transportation"), ("Freight", "Transportation"), ("Foods", "Retail"),
    ("Retail", "Retail"), ("Health", "Healthcare"), ("Clinics", "Healthcare"),
    ("Pharma", "Healthcare"), ("Biotech", "Healthcare"), ("Capital", "Financial Services"),
    ("Insurance", "Financial Services"), ("Bank", "Financial Services"), ("Media", "Media"),
    ("Studios", "Media"), ("Energy", "Energy"), ("Solar", "Energy"), ("Consulting", "Consulting"),
    ("Partners", "Consulting"), ("Industries", "Manufacturing"), ("Manufacturing", "Manufacturing"),
    ("Robotics", "Manufacturing"), ("Motors", "Manufacturing"), ("Textiles", "Manufacturing"),
    ("Learning", "Education"), ("Academy", "Education"), ("Properties", "Real Estate"),
    ("Realty", "Real Estate"), ("Hotels", "Hospitality"), ("Foundation", "Nonprofit"),
    ("Labs", "Technology"), ("Solutions", "Technology"),
)  # fmt: skip
_INDUSTRIES: Final = tuple(sorted({industry for _, industry in _COMPANY_NOUNS} | {"Government"}))

_LEAD_SOURCES: Final = _Weighted(
    (
        ("web", 28), ("referral", 8), ("partner", 7), ("event", 8), ("webinar", 8),
        ("social", 10), ("advertisement", 12), ("cold_call", 10), ("purchased_list", 9),
    )
)  # fmt: skip
_RECORD_SOURCES: Final = _w(("salesforce", 55), ("hubspot", 30), ("csv_import", 10), ("api", 5))

_TITLES_BY_SENIORITY: Final = (
    (
        "Software Engineer", "Analyst", "Business Analyst", "Sales Representative",
        "Account Executive", "Consultant", "Accountant", "Developer", "Data Scientist",
        "Marketing Specialist", "Executive Assistant", "Intern", "Student", "Buyer",
    ),
    (
        "IT Manager", "Sales Manager", "Product Manager", "Marketing Manager",
        "Procurement Manager", "Office Manager", "Project Manager", "Operations Manager",
        "Team Lead", "Account Manager",
    ),
    (
        "Director of IT", "Marketing Director", "Sales Director", "Director of Operations",
        "IT Director", "Finance Director", "Director, Customer Success",
    ),
    (
        "VP of Sales", "Vice President, Marketing", "VP Engineering", "SVP Operations",
        "Head of Sales", "Head of IT", "Head of Procurement", "Head of Marketing",
    ),
    (
        "CEO", "Chief Executive Officer", "CTO", "CFO", "COO", "CIO", "Chief Marketing Officer",
        "Founder", "Co-Founder", "Owner", "President", "Managing Director", "Geschäftsführer",
        "Directeur Général",
    ),
)  # fmt: skip
_SENIORITY_CHOICE: Final = _Weighted(((0, 38.0), (1, 27.0), (2, 15.0), (3, 10.0), (4, 10.0)))
_SENIORITY_OF_TITLE: Final = {
    title: level for level, titles in enumerate(_TITLES_BY_SENIORITY) for title in titles
}

_ACTIVITY_SUBJECTS: Final[Mapping[str, tuple[str, ...]]] = {
    "call": (
        "Intro call", "Discovery call", "Follow-up call", "Left voicemail", "Pricing discussion",
        "Check-in call", "Support escalation call",
    ),
    "email": (
        "Re: your inquiry", "Follow-up: proposal", "Pricing information", "Meeting recap",
        "Contract renewal", "Case study you asked for", "Re: Re: next steps",
    ),
    "meeting": (
        "Product demo", "Quarterly business review", "Onsite visit", "Kick-off meeting",
        "Negotiation meeting", "Technical deep dive", "Executive sponsor lunch",
    ),
}  # fmt: skip
_OPPORTUNITY_PRODUCTS: Final = (
    "Platform subscription", "Enterprise license", "Pilot", "Expansion", "Renewal",
    "Professional services", "Add-on seats", "Starter package", "Data integration",
)  # fmt: skip

_STAGES: Final = ("prospecting", "qualification", "needs_analysis", "proposal", "negotiation")
_STAGE_PROBABILITY: Final = (10, 20, 40, 60, 80)
_PLANS: Final = ("free", "starter", "pro", "enterprise")
_PLUS_TAGS: Final = ("crm", "news", "work", "sales", "2024", "promo")
# Email local parts: {f} given name, {l} family name, {i}/{j} their initials, {n} a number.
_WORK_LOCALS: Final = ("{f}.{l}", "{i}{l}", "{f}", "{f}{j}", "{i}.{l}", "{l}.{f}", "{f}_{l}")
_FREE_MAIL_LOCALS: Final = ("{f}.{l}", "{f}{l}", "{f}.{l}{n}", "{i}{l}{n}", "{f}_{l}", "{f}{n}")

# --------------------------------------------------------------------------------------------
# How outcomes depend on what a model can see (plus hidden noise)
# --------------------------------------------------------------------------------------------

_LEAD_SOURCE_EFFECT: Final = {
    "referral": 1.5, "partner": 1.0, "event": 0.5, "webinar": 0.4, "web": 0.0, "social": -0.4,
    "advertisement": -0.5, "cold_call": -1.0, "purchased_list": -1.5,
}  # fmt: skip
_SENIORITY_EFFECT: Final = (-0.9, 0.0, 0.45, 0.75, 1.1)
_INDUSTRY_EFFECT: Final = {
    "Technology": 0.4, "Financial Services": 0.3, "Consulting": 0.25, "Healthcare": 0.1,
    "Telecommunications": 0.1, "Energy": 0.1, "Manufacturing": 0.0, "Media": 0.0,
    "Transportation": 0.0, "Retail": -0.15, "Real Estate": -0.15, "Hospitality": -0.3,
    "Education": -0.4, "Government": -0.5, "Nonprofit": -0.6,
}  # fmt: skip
_STATUS_EFFECT: Final = {"new": -0.3, "working": 0.0, "nurturing": -0.4, "qualified": 0.5}
_RATING_BY_SCORE: Final = ((1.0, "hot"), (-0.3, "warm"))
_PLAN_HEALTH: Final = {"free": -0.8, "starter": -0.3, "pro": 0.3, "enterprise": 0.8}
_PLAN_OPPORTUNITY_EFFECT: Final = {"free": -0.4, "starter": -0.1, "pro": 0.15, "enterprise": 0.35}


def _size_effect(employees: JsonScalar) -> float:
    """Bigger companies buy and stay more; unknown size is a mildly bad sign."""
    if not isinstance(employees, int) or employees <= 0:
        return -0.2
    return 0.35 * (math.log10(employees) - 1.5)


# --------------------------------------------------------------------------------------------
# Invalid messages
# --------------------------------------------------------------------------------------------

INVALID_KINDS: Final[Mapping[str, ErrorCode]] = MappingProxyType(
    {
        "truncated_json": ErrorCode.MALFORMED_JSON,
        "invalid_utf8": ErrorCode.INVALID_UTF8,
        "json_array": ErrorCode.NOT_AN_OBJECT,
        "missing_entity_id": ErrorCode.MISSING_FIELD,
        "unknown_entity_type": ErrorCode.UNKNOWN_ENTITY_TYPE,
        "unknown_op": ErrorCode.UNKNOWN_OP,
        "naive_timestamp": ErrorCode.INVALID_TIMESTAMP,
        "fields_not_object": ErrorCode.WRONG_TYPE,
        "unknown_top_level_key": ErrorCode.UNKNOWN_FIELD,
        "empty_update": ErrorCode.EMPTY_CHANGE,
    }
)
"""Each way a generated message is broken, with the primary error code it must produce."""
_INVALID_KIND_NAMES: Final = tuple(INVALID_KINDS)
_BAD_ENTITY_TYPES: Final = ("ticket", "case", "campaign", "Lead", "deal", "company")
_BAD_OPS: Final = ("upsert", "insert", "modify", "remove", "UPDATE")
_EXTRA_KEYS: Final = ("schema_version", "changed_by", "tenant", "correlation_id", "payload")


# --------------------------------------------------------------------------------------------
# Simulation state
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Phone:
    """A phone number kept as parts, so a duplicate can write the same number differently."""

    country: _Country
    area: str
    groups: tuple[str, ...]
    template: int

    def render(self, template: int | None = None) -> str:
        pattern = self.country.templates[self.template if template is None else template]
        return pattern.format(
            cc=self.country.calling_code,
            t=self.country.trunk,
            a=self.area,
            s=" ".join(self.groups),
            sd="-".join(self.groups),
            sdot=".".join(self.groups),
            sc="".join(self.groups),
        )


@dataclass(slots=True, eq=False)
class _Record:
    """What the simulation remembers about one live entity (its merged fields and hidden traits).

    ``propensity`` is the hidden part of its outcome odds that no event reveals directly.
    """

    entity_type: str
    entity_id: str
    source: str
    fields: Fields
    created_index: int
    created_t: int
    propensity: float = 0.0
    country: _Country | None = None
    city: _City | None = None
    phone: _Phone | None = None
    domain: str = ""
    account: _Record | None = None
    n_activities: int = 0
    n_contacts: int = 0
    last_touch_t: int = 0
    stage: int = 0
    last_decision_index: int = -1


class _Pool:
    """Live records of one type, capped so memory stays flat however long the run.

    When full, a random record is forgotten: it simply receives no more events, like a stale
    CRM record nobody touches again. Every record leaving the pool (forgotten, deleted,
    decided) is noted in ``retired``, so that whoever keeps per-record state outside the
    simulation can forget it too.
    """

    __slots__ = ("_cap", "_position", "_records", "_retired")

    def __init__(self, cap: int, retired: list[str]) -> None:
        self._cap = cap
        self._records: list[_Record] = []
        self._position: dict[str, int] = {}
        self._retired = retired

    def __len__(self) -> int:
        return len(self._records)

    def add(self, record: _Record, rng: Random) -> None:
        if len(self._records) >= self._cap:
            self.remove(_pick(rng, self._records))
        self._position[record.entity_id] = len(self._records)
        self._records.append(record)

    def remove(self, record: _Record) -> None:
        position = self._position.pop(record.entity_id, None)
        if position is None:
            return
        self._retired.append(record.entity_id)
        last = self._records.pop()
        if last is not record:
            self._records[position] = last
            self._position[last.entity_id] = position

    def pick(self, rng: Random) -> _Record:
        return _pick(rng, self._records)


class _Reservoir:
    """Earlier contacts or leads that a new record may duplicate; capped, random replacement."""

    __slots__ = ("_cap", "_records")

    def __init__(self, cap: int) -> None:
        self._cap = cap
        self._records: list[_Record] = []

    def __len__(self) -> int:
        return len(self._records)

    def add(self, record: _Record, rng: Random) -> None:
        if len(self._records) < self._cap:
            self._records.append(record)
        else:
            self._records[_below(rng, self._cap)] = record

    def pick(self, rng: Random) -> _Record:
        return _pick(rng, self._records)


_ID_PREFIX: Final = {
    "lead": "lead-",
    "contact": "contact-",
    "account": "account-",
    "opportunity": "opp-",
    "activity": "activity-",
}
_LIVE_POOL_CAP: Final = {
    "lead": 4000,
    "contact": 4000,
    "account": 2000,
    "opportunity": 2000,
    "activity": 1500,
}
_DUPLICATE_SOURCE_CAP: Final = 3000
_MIN_AGE_FOR_OUTCOME: Final = 40  # events; a lead decided the moment it exists is not realistic
_MEAN_GAP_SECONDS: Final = 20.0

# Fields a re-entered lead copies from the record it duplicates; status and rating start anew.
_LEAD_IDENTITY_FIELDS: Final = frozenset(FIELD_VOCABULARY["lead"]) - {
    "status", "is_converted", "rating", "lead_source",
}  # fmt: skip

# Variation name -> (weight, exclusive group); one variation per group at most.
_VARIATIONS: Final = (
    ("abbreviated_first_name", 2.0, "first"),
    ("name_typo", 3.0, "name_typo"),
    ("swapped_names", 1.0, "swap"),
    ("email_case", 1.0, "email"),
    ("email_dots", 1.0, "email"),
    ("email_plus_tag", 1.0, "email"),
    ("email_domain", 1.5, "email"),
    ("email_missing", 0.7, "email"),
    ("phone_format", 2.0, "phone"),
    ("phone_missing", 0.7, "phone"),
    ("moved_address", 1.5, "address"),
    ("company_variant", 1.0, "company"),
)
_VARIATION_ORDER: Final = tuple(name for name, _, _ in _VARIATIONS)
_VARIATION_COUNT: Final = _Weighted(((1, 45.0), (2, 35.0), (3, 20.0)))

_KEYBOARD_ROWS: Final = ("qwertyuiop", "asdfghjkl", "zxcvbnm")


def _keyboard_neighbours() -> dict[str, str]:
    neighbours: dict[str, str] = {}
    for row_index, row in enumerate(_KEYBOARD_ROWS):
        for col, ch in enumerate(row):
            near = [row[col - 1]] if col > 0 else []
            near += [row[col + 1]] if col + 1 < len(row) else []
            for other in (row_index - 1, row_index + 1):
                if 0 <= other < len(_KEYBOARD_ROWS) and col < len(_KEYBOARD_ROWS[other]):
                    near.append(_KEYBOARD_ROWS[other][col])
            neighbours[ch] = "".join(near)
    return neighbours


_NEIGHBOURS: Final = _keyboard_neighbours()

_LEGAL_SUFFIX_VARIANTS: Final = {
    "Inc.": "Inc", "Inc": "Incorporated", "LLC": "L.L.C.", "Corp.": "Corporation",
    "Corporation": "Corp", "Co.": "Company", "Ltd": "Limited", "Ltd.": "Ltd", "Limited": "Ltd",
    "PLC": "plc", "LLP": "L.L.P.", "GmbH": "Gmbh", "AG": "A.G.", "GmbH & Co. KG": "GmbH & Co KG",
    "UG": "UG (haftungsbeschränkt)", "SE": "S.E.", "S.A.": "SA", "SAS": "S.A.S.",
    "SARL": "S.A.R.L.", "S.A.S.": "SAS", "S.L.": "SL", "S.L.U.": "SLU", "B.V.": "BV",
    "N.V.": "NV", "Ltda.": "Ltda", "Ltda": "LTDA", "Pvt Ltd": "Private Limited",
    "Private Limited": "Pvt. Ltd.", "Pvt. Ltd.": "Pvt Ltd", "Pty Ltd": "Pty. Ltd.",
    "Pty. Ltd.": "PTY LTD",
}  # fmt: skip


# --------------------------------------------------------------------------------------------
# The simulation
# --------------------------------------------------------------------------------------------

_Action = Callable[[int], GeneratedEvent]
_Change = Callable[["_Record"], Fields]


class CrmSimulation:
    """A small simulated CRM that emits its changes as native crmstream change events.

    Parameters
    ----------
    seed
        Seeds the only source of randomness; the same seed and arguments give byte-identical
        events, so runs can be replayed exactly.
    duplicate_share
        Share of new contacts and leads created as near duplicates of an earlier record of
        the same type.
    invalid_share
        Share of messages broken on purpose, each with one expected primary error code.
    start
        Where the simulated clock starts (tz-aware); it moves forward by a random gap of about
        twenty seconds with every event.

    :attr:`ground_truth` fills up while :meth:`events` is consumed. Calling :meth:`events`
    again continues the same simulation.

    >>> simulation = CrmSimulation(seed=3, invalid_share=0.5)
    >>> events = list(simulation.events(40))
    >>> [event.index for event in events[:3]]
    [0, 1, 2]
    >>> len(simulation.ground_truth.invalid) == sum(e.expected_error is not None for e in events)
    True
    """

    def __init__(
        self,
        seed: int,
        *,
        duplicate_share: float = 0.05,
        invalid_share: float = 0.02,
        start: datetime = BASE_TIME,
    ) -> None:
        if not 0.0 <= duplicate_share <= 1.0:
            raise ValueError(f"duplicate_share must be within [0, 1], got {duplicate_share}")
        if not 0.0 <= invalid_share <= 1.0:
            raise ValueError(f"invalid_share must be within [0, 1], got {invalid_share}")
        if start.tzinfo is None:
            raise ValueError("start must be timezone-aware")
        self.seed = seed
        self.duplicate_share = duplicate_share
        self.invalid_share = invalid_share
        self.ground_truth = GroundTruth(
            seed=seed, duplicate_share=duplicate_share, invalid_share=invalid_share, start=start
        )
        self._rng = Random(seed)
        self._now = start.astimezone(UTC)
        self._t = 0  # seconds since start
        self._index = 0
        self._next_id = dict.fromkeys(_ID_PREFIX, 0)
        self._retired: list[str] = []
        self._pools = {
            entity_type: _Pool(cap, self._retired) for entity_type, cap in _LIVE_POOL_CAP.items()
        }
        self._duplicate_sources = {
            "lead": _Reservoir(_DUPLICATE_SOURCE_CAP),
            "contact": _Reservoir(_DUPLICATE_SOURCE_CAP),
        }
        # What a partial update may change, per entity type, and how often.
        self._changes: dict[str, _Weighted[_Change]] = {
            "lead": _Weighted(
                (
                    (self._lead_status_change, 3.0),
                    (self._phone_change, 1.5),
                    (self._title_change, 1.0),
                    (self._rating_change, 1.0),
                    (self._size_change, 0.8),
                    (self._website_change, 0.4),
                    (self._email_change, 0.6),
                    (self._address_change, 0.6),
                    (self._industry_change, 0.4),
                )
            ),
            "contact": _Weighted(
                (
                    (self._title_change, 2.0),
                    (self._phone_change, 2.0),
                    (self._email_change, 1.0),
                    (self._address_change, 1.0),
                    (self._birthdate_change, 0.4),
                    (self._account_change, 0.15),
                )
            ),
            "account": _Weighted(
                (
                    (self._size_change, 2.0),
                    (self._plan_change, 1.0),
                    (self._website_change, 0.5),
                    (self._phone_change, 0.7),
                    (self._address_change, 0.6),
                    (self._industry_change, 0.5),
                )
            ),
            "opportunity": _Weighted(
                (
                    (self._stage_change, 4.0),
                    (self._amount_change, 1.0),
                    (self._close_date_change, 1.0),
                )
            ),
            "activity": _Weighted(((self._activity_edit, 1.0),)),
        }
        # A change that (almost) always changes something, for records where nothing else does.
        self._fallback_changes: dict[str, _Change] = {
            "lead": self._phone_change,
            "contact": self._phone_change,
            "account": self._phone_change,
            "opportunity": self._close_date_change,
            "activity": self._subject_change,
        }
        self._actions: _Weighted[_Action] = _Weighted(
            (
                (self._create_account, 5.0),
                (self._create_contact, 9.0),
                (self._create_lead, 12.0),
                (self._create_opportunity, 4.5),
                (self._create_activity, 24.0),
                (self._update_lead, 10.0),
                (self._update_contact, 7.0),
                (self._update_account, 4.5),
                (self._update_opportunity, 7.0),
                (self._update_activity, 2.0),
                (self._decide_lead, 5.5),
                (self._close_opportunity, 2.5),
                (self._decide_account, 1.2),
                (self._delete_record, 1.3),
            )
        )

    # -- driving --------------------------------------------------------------------------

    def events(self, count: int) -> Iterator[GeneratedEvent]:
        """Yield exactly ``count`` more events, in the order the simulated CRM produced them."""
        if count < 0:
            raise ValueError(f"count must be >= 0, got {count}")
        for _ in range(count):
            yield self._next_event()

    @property
    def retired_ids(self) -> tuple[str, ...]:
        """Ids of the records that left the simulation while it made the latest event.

        No later event changes them, so state kept per record outside the simulation (a
        renderer's table rows) can be dropped and stays as bounded as the simulation's own.
        """
        return tuple(self._retired)

    def _next_event(self) -> GeneratedEvent:
        rng = self._rng
        index = self._index
        self._retired.clear()
        self._index += 1
        gap = 1 + int(rng.expovariate(1.0 / _MEAN_GAP_SECONDS))
        self._t += gap
        self._now += timedelta(seconds=gap)
        self.ground_truth.count += 1
        if self.invalid_share and rng.random() < self.invalid_share:
            return self._invalid_event(index)
        return self._actions.pick(rng)(index)

    def _emit(self, index: int, record: _Record, op: str, fields: Fields) -> GeneratedEvent:
        event_id = _uuid4(self._rng)
        value = orjson.dumps(
            {
                "event_id": event_id,
                "entity_type": record.entity_type,
                "entity_id": record.entity_id,
                "op": op,
                "occurred_at": self._now,
                "source": record.source,
                "fields": fields,
            },
            option=orjson.OPT_UTC_Z,
        )
        self.ground_truth._count(record.entity_type, op)
        return GeneratedEvent(
            key=record.entity_id.encode(),
            value=value,
            index=index,
            event_id=event_id,
            entity_type=record.entity_type,
        )

    def _new_record(self, entity_type: str, index: int, fields: Fields) -> _Record:
        self._next_id[entity_type] += 1
        return _Record(
            entity_type=entity_type,
            entity_id=f"{_ID_PREFIX[entity_type]}{self._next_id[entity_type]:07d}",
            source=_RECORD_SOURCES.pick(self._rng),
            fields=fields,
            created_index=index,
            created_t=self._t,
            last_touch_t=self._t,
        )

    def _today(self, days: int = 0) -> str:
        return (self._now.date() + timedelta(days=days)).isoformat()

    # -- values ---------------------------------------------------------------------------

    def _country(self) -> _Country:
        return _COUNTRY_CHOICE.pick(self._rng)

    def _place(self, country: _Country) -> _City:
        """Where a new person or account is: a big city, or one of the country's towns."""
        rng = self._rng
        return _pick(rng, _TOWNS[country.code] if rng.random() < _TOWN_SHARE else country.cities)

    def _name(self, country: _Country) -> tuple[str, str]:
        culture = country.cultures.pick(self._rng)
        return (
            _pick(self._rng, _FIRST_NAMES[culture]),
            _pick(self._rng, _LAST_NAMES[culture]),
        )

    def _phone(self, country: _Country, city: _City, *, mobile_share: float = 0.5) -> _Phone:
        rng = self._rng
        plan = country.mobile
        if plan is not None and rng.random() < mobile_share:
            prefix = _pick(rng, plan.prefixes)
            area = prefix + _digits(rng, plan.area_len - len(prefix)) if prefix else city.area
            sizes, first = plan.groups, plan.first
        else:
            area, sizes, first = city.area, city.groups, city.first
        number = _pick(rng, first) + _digits(rng, sum(sizes) - 1)
        groups = []
        offset = 0
        for size in sizes:
            groups.append(number[offset : offset + size])
            offset += size
        return _Phone(country, area, tuple(groups), _below(rng, len(country.templates)))

    def _street(self, country: _Country) -> str:
        rng = self._rng
        style = country.street_style
        name = _pick(rng, _STREET_NAMES[style])
        suffix = _pick(rng, _STREET_SUFFIXES[style])
        number = _between(rng, 1, 250) if style != "en" else _between(rng, 1, 9999)
        if style in ("en", "uk"):
            street = f"{number} {name} {suffix}"
            if rng.random() < 0.15:
                street += _pick(
                    rng, (f", Suite {_between(rng, 100, 990)}", f" Apt {_between(rng, 1, 40)}")
                )
            return street
        if style in ("de", "nl"):
            return (
                f"{name}{suffix} {number}"
                if not name.endswith(" ")
                else f"{name}{suffix.capitalize()} {number}"
            )
        if style == "fr":
            return f"{number} {suffix} {name}"
        if style in ("es", "pt"):
            return f"{suffix} {name}, {number}"
        return f"{number}, {name}"

    def _address(self, country: _Country, city: _City, prefix: str, street_share: float) -> Fields:
        rng = self._rng
        fields: Fields = {}
        if rng.random() < street_share:
            fields[f"{prefix}street"] = self._street(country)
        fields[f"{prefix}city"] = city.name
        fields[f"{prefix}state"] = city.state
        fields[f"{prefix}postal_code"] = _fill_pattern(rng, city.postal)
        # Leads keep ``country``; contacts and accounts prefix it like the rest of the address.
        fields[f"{prefix}country"] = country.spellings.pick(rng)
        return fields

    def _company(self, country: _Country) -> tuple[str, str, str]:
        """A company name with a legal suffix, its web domain, and its industry."""
        rng = self._rng
        noun, industry = _pick(rng, _COMPANY_NOUNS)
        if rng.random() < 0.2:
            _, last = self._name(country)
            stem = f"{last} {noun}" if rng.random() < 0.6 else f"{last} & {self._name(country)[1]}"
        else:
            stem = f"{_pick(rng, _COMPANY_PREFIXES)} {noun}"
        suffix = _pick(rng, country.legal_suffixes)
        name = (
            f"{stem}, {suffix}"
            if suffix.startswith("Inc") and rng.random() < 0.3
            else f"{stem} {suffix}"
        )
        if rng.random() < 0.05:
            industry = "Government" if noun in ("Systems", "Consulting", "Logistics") else industry
        slug = _slug(stem.replace("&", "and"))
        domain = slug + _pick(rng, country.tlds)
        return name, domain, industry

    def _website(self, domain: str) -> str:
        pattern = _pick(self._rng, ("https://www.{}", "www.{}", "http://{}", "{}", "https://{}/"))
        return pattern.format(domain)

    def _email(
        self, first: str, last: str, domain: str, country: _Country, free_share: float
    ) -> str:
        """An address the way people pick them: from the name, at work or on free mail."""
        rng = self._rng
        given, family = _slug(first) or "x", _slug(last) or "x"
        if rng.random() < free_share:
            domain = _pick(rng, country.free_mail)
            pattern = _pick(rng, _FREE_MAIL_LOCALS)
        else:
            pattern = _pick(rng, _WORK_LOCALS)
        local = pattern.format(f=given, l=family, i=given[0], j=family[0], n=_between(rng, 1, 99))
        return f"{local}@{domain}"

    def _title(self, seniority: int | None = None) -> str:
        level = _SENIORITY_CHOICE.pick(self._rng) if seniority is None else seniority
        return _pick(self._rng, _TITLES_BY_SENIORITY[level])

    def _employees(self) -> int:
        return max(1, min(250_000, round(math.exp(self._rng.gauss(3.8, 1.6)))))

    def _revenue(self, employees: int) -> int:
        return int(round(employees * self._rng.lognormvariate(math.log(120_000), 0.6), -3))

    # -- leads ----------------------------------------------------------------------------

    def _lead_score(self, record: _Record) -> float:
        """Log-odds of conversion: what a model could see plus the hidden propensity."""
        fields = record.fields
        title = fields.get("title")
        seniority = _SENIORITY_OF_TITLE.get(title) if isinstance(title, str) else None
        industry = fields.get("industry")
        return (
            _LEAD_SOURCE_EFFECT.get(str(fields.get("lead_source")), 0.0)
            + (_SENIORITY_EFFECT[seniority] if seniority is not None else -0.3)
            + (_INDUSTRY_EFFECT.get(industry, 0.0) if isinstance(industry, str) else -0.1)
            + _size_effect(fields.get("employees"))
            + record.propensity
        )

    def _rating_for(self, record: _Record) -> str:
        noisy = self._lead_score(record) + self._rng.gauss(0.0, 0.8)
        for threshold, rating in _RATING_BY_SCORE:
            if noisy > threshold:
                return rating
        return "cold"

    def _create_lead(self, index: int) -> GeneratedEvent:
        duplicate = self._maybe_duplicate("lead", index)
        if duplicate is not None:
            return duplicate
        rng = self._rng
        country = self._country()
        city = self._place(country)
        first, last = self._name(country)
        company, domain, industry = self._company(country)
        fields: Fields = {
            "first_name": first,
            "last_name": last,
            "email": self._email(first, last, domain, country, free_share=0.4),
        }
        phone = self._phone(country, city) if rng.random() < 0.8 else None
        if phone is not None:
            fields["phone"] = phone.render()
        fields["company"] = company
        if rng.random() < 0.8:
            fields["title"] = self._title()
        if rng.random() < 0.85:
            fields["industry"] = industry
        fields["lead_source"] = _LEAD_SOURCES.pick(rng)
        fields["status"] = "new"
        fields["is_converted"] = False
        fields.update(self._address(country, city, "", street_share=0.55))
        if rng.random() < 0.6:
            employees = self._employees()
            fields["employees"] = employees
            if rng.random() < 0.7:
                fields["annual_revenue"] = self._revenue(employees)
        if rng.random() < 0.55:
            fields["website"] = self._website(domain)
        record = self._new_record("lead", index, fields)
        record.country, record.city, record.phone, record.domain = country, city, phone, domain
        record.propensity = rng.gauss(-0.2, 0.75)
        if rng.random() < 0.5:
            fields["rating"] = self._rating_for(record)
        return self._register(index, record)

    def _update_lead(self, index: int) -> GeneratedEvent:
        return self._update_some("lead", index, self._create_lead)

    def _lead_status_change(self, record: _Record) -> Fields:
        status = record.fields.get("status")
        rng = self._rng
        if status == "new":
            return {"status": "working"}
        if status in ("working", "nurturing"):
            qualified = rng.random() < _sigmoid(
                self._lead_score(record) + 0.3 * record.n_activities
            )
            if qualified:
                return {"status": "qualified"}
            return {"status": "nurturing"} if status == "working" else {"status": "working"}
        return {}

    def _rating_change(self, record: _Record) -> Fields:
        rating = self._rating_for(record)
        return {"rating": rating} if rating != record.fields.get("rating") else {}

    def _decide_lead(self, index: int) -> GeneratedEvent:
        """A lead reaches its outcome: converted (label 1) or disqualified (label 0)."""
        pool = self._pools["lead"]
        if not pool:
            return self._create_lead(index)
        record = pool.pick(self._rng)
        if index - record.created_index < _MIN_AGE_FOR_OUTCOME:
            return self._apply_update(index, record)
        status = str(record.fields.get("status"))
        probability = _sigmoid(
            self._lead_score(record)
            + 0.35 * min(record.n_activities, 5)
            + _STATUS_EFFECT.get(status, 0.0)
            - 0.6
        )
        converted = self._rng.random() < probability
        fields: Fields
        if converted:
            fields = {"status": "converted", "is_converted": True}
        else:
            fields = {"status": "disqualified"}
            if self._rng.random() < 0.3 and record.fields.get("rating") != "cold":
                fields["rating"] = "cold"
        pool.remove(record)
        record.fields.update(fields)
        self._record_outcome(
            record, "converted" if converted else "disqualified", converted, index, probability
        )
        return self._emit(index, record, "update", fields)

    # -- contacts -------------------------------------------------------------------------

    def _create_contact(self, index: int) -> GeneratedEvent:
        accounts = self._pools["account"]
        if not accounts:
            return self._create_account(index)
        duplicate = self._maybe_duplicate("contact", index)
        if duplicate is not None:
            return duplicate
        rng = self._rng
        account = accounts.pick(rng)
        if account.country is not None and account.city is not None and rng.random() < 0.8:
            country = account.country
            city = account.city if rng.random() < 0.6 else self._place(country)
        else:
            country = self._country()
            city = self._place(country)
        first, last = self._name(country)
        fields: Fields = {
            "first_name": first,
            "last_name": last,
            "email": self._email(first, last, account.domain, country, free_share=0.12),
        }
        phone = self._phone(country, city, mobile_share=0.6) if rng.random() < 0.85 else None
        if phone is not None:
            fields["phone"] = phone.render()
        fields["account_id"] = account.entity_id
        if rng.random() < 0.85:
            fields["title"] = self._title()
        fields.update(self._address(country, city, "mailing_", street_share=0.7))
        if rng.random() < 0.25:
            fields["birthdate"] = date(
                _between(rng, 1955, 2002), _between(rng, 1, 12), _between(rng, 1, 28)
            ).isoformat()
        record = self._new_record("contact", index, fields)
        record.country, record.city, record.phone = country, city, phone
        record.domain, record.account = account.domain, account
        account.n_contacts += 1
        return self._register(index, record)

    def _update_contact(self, index: int) -> GeneratedEvent:
        return self._update_some("contact", index, self._create_contact)

    def _birthdate_change(self, record: _Record) -> Fields:
        if "birthdate" in record.fields:
            return {}
        rng = self._rng
        born = date(_between(rng, 1955, 2002), _between(rng, 1, 12), _between(rng, 1, 28))
        return {"birthdate": born.isoformat()}

    def _account_change(self, record: _Record) -> Fields:
        """A contact changes jobs to another account."""
        accounts = self._pools["account"]
        if not accounts:
            return {}
        account = accounts.pick(self._rng)
        if account.entity_id == record.fields.get("account_id"):
            return {}
        record.account, record.domain = account, account.domain
        account.n_contacts += 1
        first, last = str(record.fields.get("first_name")), str(record.fields.get("last_name"))
        country = record.country or self._country()
        return {
            "account_id": account.entity_id,
            "email": self._email(first, last, account.domain, country, free_share=0.0),
            "title": self._title(),
        }

    # -- accounts -------------------------------------------------------------------------

    def _account_health(self, record: _Record) -> float:
        """Log-odds of staying: plan and size a model can see, plus hidden propensity."""
        fields = record.fields
        return (
            _PLAN_HEALTH.get(str(fields.get("plan")), 0.0)
            + 1.4 * _size_effect(fields.get("employees"))
            + record.propensity
        )

    def _create_account(self, index: int) -> GeneratedEvent:
        rng = self._rng
        country = self._country()
        city = self._place(country)
        name, domain, industry = self._company(country)
        employees = self._employees()
        size = math.log10(employees) + rng.gauss(0.0, 0.7)
        plan = (
            "free"
            if size < 1.0
            else "starter"
            if size < 1.8
            else "pro"
            if size < 2.7
            else "enterprise"
        )
        phone = self._phone(country, city, mobile_share=0.1)
        fields: Fields = {"name": name, "website": self._website(domain), "phone": phone.render()}
        if rng.random() < 0.9:
            fields["industry"] = industry
        fields["employees"] = employees
        if rng.random() < 0.75:
            fields["annual_revenue"] = self._revenue(employees)
        fields.update(self._address(country, city, "billing_", street_share=0.85))
        fields["status"] = "active"
        fields["plan"] = plan
        fields["contract_end_date"] = self._today(_between(rng, 30, 400))
        record = self._new_record("account", index, fields)
        record.country, record.city, record.phone, record.domain = country, city, phone, domain
        record.propensity = rng.gauss(0.0, 1.0)
        self._pools["account"].add(record, rng)
        return self._emit(index, record, "create", fields)

    def _update_account(self, index: int) -> GeneratedEvent:
        return self._update_some("account", index, self._create_account)

    def _plan_change(self, record: _Record) -> Fields:
        plan = str(record.fields.get("plan"))
        position = _PLANS.index(plan) if plan in _PLANS else 1
        # Healthy accounts upgrade, unhealthy ones downgrade: another visible trace of health.
        up = self._rng.random() < _sigmoid(self._account_health(record))
        position = min(position + 1, len(_PLANS) - 1) if up else max(position - 1, 0)
        return {"plan": _PLANS[position]} if _PLANS[position] != plan else {}

    def _decide_account(self, index: int) -> GeneratedEvent:
        """An account reaches its contract decision: churned (label 1) or renewed (label 0)."""
        rng = self._rng
        pool = self._pools["account"]
        if not pool:
            return self._create_account(index)
        record = pool.pick(rng)
        last_decision = max(record.created_index, record.last_decision_index)
        if index - last_decision < 4 * _MIN_AGE_FOR_OUTCOME:
            return self._apply_update(index, record)
        age = max(1, self._t - record.created_t)
        silent_share = (self._t - record.last_touch_t) / age
        probability = _sigmoid(
            -self._account_health(record)
            + 1.1 * silent_share
            - 0.3 * min(record.n_activities, 6)
            - 0.15 * min(record.n_contacts, 5)
            - 0.8
        )
        churned = rng.random() < probability
        fields: Fields
        if churned:
            fields = {"status": "churned", "churn_date": self._today()}
            pool.remove(record)
        else:
            current = record.fields.get("contract_end_date")
            base = date.fromisoformat(current) if isinstance(current, str) else self._now.date()
            fields = {"contract_end_date": (base + timedelta(days=365)).isoformat()}
            upgrade = self._plan_change(record) if rng.random() < 0.2 else {}
            fields.update(upgrade)
        record.last_decision_index = index
        record.fields.update(fields)
        self._record_outcome(
            record, "churned" if churned else "renewed", churned, index, probability
        )
        return self._emit(index, record, "update", fields)

    # -- opportunities --------------------------------------------------------------------

    def _opportunity_score(self, record: _Record) -> float:
        """Log-odds of winning before the stage reached: deal size against account size."""
        amount = record.fields.get("amount")
        amount_effect = (
            -0.6 * math.log10(amount / 25_000) if isinstance(amount, int) and amount > 0 else 0.0
        )
        return amount_effect + record.propensity

    def _create_opportunity(self, index: int) -> GeneratedEvent:
        accounts = self._pools["account"]
        if not accounts:
            return self._create_account(index)
        rng = self._rng
        account = accounts.pick(rng)
        employees = account.fields.get("employees")
        size = employees if isinstance(employees, int) else 50
        amount = max(
            500, int(round(20_000 * (size / 100) ** 0.35 * rng.lognormvariate(0, 0.7), -2))
        )
        stage = 0 if rng.random() < 0.75 else 1
        fields: Fields = {
            "account_id": account.entity_id,
            "name": f"{account.fields.get('name')} - {_pick(rng, _OPPORTUNITY_PRODUCTS)}",
            "amount": amount,
            "stage": _STAGES[stage],
            "close_date": self._today(_between(rng, 14, 120)),
            "probability": _STAGE_PROBABILITY[stage],
            "is_won": False,
            "is_closed": False,
        }
        record = self._new_record("opportunity", index, fields)
        record.account, record.stage = account, stage
        record.propensity = (
            1.2 * _size_effect(employees)
            + _PLAN_OPPORTUNITY_EFFECT.get(str(account.fields.get("plan")), 0.0)
            + 0.1 * min(account.n_activities, 5)
            + rng.gauss(0.0, 0.7)
        )
        self._pools["opportunity"].add(record, rng)
        return self._emit(index, record, "create", fields)

    def _update_opportunity(self, index: int) -> GeneratedEvent:
        return self._update_some("opportunity", index, self._create_opportunity)

    def _stage_change(self, record: _Record) -> Fields:
        """Good deals advance through the stages; poor ones stall (and get their date pushed)."""
        if record.stage >= len(_STAGES) - 1:
            return {}
        if self._rng.random() < _sigmoid(self._opportunity_score(record) + 0.2):
            record.stage += 1
            return {"stage": _STAGES[record.stage], "probability": _STAGE_PROBABILITY[record.stage]}
        return self._close_date_change(record)

    def _amount_change(self, record: _Record) -> Fields:
        amount = record.fields.get("amount")
        if not isinstance(amount, int):
            return {}
        new_amount = max(500, int(round(amount * self._rng.uniform(0.7, 1.3), -2)))
        return {"amount": new_amount} if new_amount != amount else {}

    def _close_date_change(self, record: _Record) -> Fields:
        return {"close_date": self._today(_between(self._rng, 7, 90))}

    def _close_opportunity(self, index: int) -> GeneratedEvent:
        """An opportunity closes: won (label 1) or lost (label 0)."""
        rng = self._rng
        pool = self._pools["opportunity"]
        if not pool:
            return self._create_opportunity(index)
        record = pool.pick(rng)
        if index - record.created_index < _MIN_AGE_FOR_OUTCOME:
            return self._apply_update(index, record)
        probability = _sigmoid(self._opportunity_score(record) + 0.9 * (record.stage - 2))
        won = rng.random() < probability
        fields: Fields
        if won:
            fields = {"stage": "closed_won", "is_won": True, "is_closed": True, "probability": 100}
        else:
            fields = {"stage": "closed_lost", "is_closed": True, "probability": 0}
        fields["close_date"] = self._today()
        pool.remove(record)
        record.fields.update(fields)
        self._record_outcome(record, "won" if won else "lost", won, index, probability)
        return self._emit(index, record, "update", fields)

    # -- activities -----------------------------------------------------------------------

    def _engaged(self, pool: _Pool, score: Callable[[_Record], float]) -> _Record:
        """Pick a record, favouring promising ones: sales reps call hot leads more often."""
        rng = self._rng
        first = pool.pick(rng)
        if rng.random() < 0.6:
            second = pool.pick(rng)
            return first if score(first) >= score(second) else second
        return first

    def _create_activity(self, index: int) -> GeneratedEvent:
        rng = self._rng
        related_type = _pick(
            rng, ("lead", "lead", "lead", "contact", "contact", "account", "account")
        )
        pool = self._pools[related_type]
        if not pool:
            create = {"lead": self._create_lead, "contact": self._create_contact}
            return create.get(related_type, self._create_account)(index)
        related: _Record
        if related_type == "lead":
            related = self._engaged(pool, self._lead_score)
        elif related_type == "account":
            related = self._engaged(pool, self._account_health)
        else:
            related = pool.pick(rng)
        kind = _pick(rng, ("call", "call", "email", "email", "meeting"))
        when = self._now + timedelta(
            minutes=_between(rng, 0, 14 * 24 * 60) if kind == "meeting" else 0
        )
        fields: Fields = {
            "type": kind,
            "subject": _pick(rng, _ACTIVITY_SUBJECTS[kind]),
            "related_type": related_type,
            "related_id": related.entity_id,
            "activity_date": _iso_z(when),
        }
        if kind == "call":
            fields["duration_minutes"] = _between(rng, 1, 45)
        elif kind == "meeting":
            fields["duration_minutes"] = _pick(rng, (15, 30, 30, 45, 60, 60, 90))
        self._touch(related)
        record = self._new_record("activity", index, fields)
        self._pools["activity"].add(record, rng)
        return self._emit(index, record, "create", fields)

    def _touch(self, related: _Record) -> None:
        related.n_activities += 1
        related.last_touch_t = self._t
        account = related.account if related.entity_type == "contact" else None
        if account is not None:
            account.n_activities += 1
            account.last_touch_t = self._t

    def _update_activity(self, index: int) -> GeneratedEvent:
        return self._update_some("activity", index, self._create_activity)

    def _activity_edit(self, record: _Record) -> Fields:
        rng = self._rng
        kind = str(record.fields.get("type"))
        choice = rng.random()
        if kind != "email" and choice < 0.5:
            duration = _between(rng, 5, 90)
            return (
                {"duration_minutes": duration}
                if duration != record.fields.get("duration_minutes")
                else {}
            )
        if kind == "meeting" and choice < 0.8:
            return {
                "activity_date": _iso_z(
                    self._now + timedelta(minutes=_between(rng, 60, 10 * 24 * 60))
                )
            }
        return self._subject_change(record)

    def _subject_change(self, record: _Record) -> Fields:
        kind = str(record.fields.get("type"))
        subjects = [
            subject
            for subject in _ACTIVITY_SUBJECTS.get(kind, _ACTIVITY_SUBJECTS["call"])
            if subject != record.fields.get("subject")
        ]
        return {"subject": _pick(self._rng, subjects)}

    # -- shared changes -------------------------------------------------------------------

    def _update_some(self, entity_type: str, index: int, create: _Action) -> GeneratedEvent:
        pool = self._pools[entity_type]
        if not pool:
            return create(index)
        return self._apply_update(index, pool.pick(self._rng))

    def _apply_update(self, index: int, record: _Record) -> GeneratedEvent:
        """Apply 1-3 realistic partial changes and emit only the fields that changed."""
        rng = self._rng
        wanted = _VARIATION_COUNT.pick(rng)
        changes = self._changes[record.entity_type]
        fields: Fields = {}
        tried: list[_Change] = []
        for _ in range(2 * wanted + 2):
            change = changes.pick(rng)
            if change in tried:
                continue
            tried.append(change)
            for name, value in change(record).items():
                if len(fields) < 3 and record.fields.get(name) != value:
                    fields[name] = value
            if len(fields) >= wanted:
                break
        if not fields:  # nothing drawn changed anything for this record
            fields = self._fallback_changes[record.entity_type](record)
        record.fields.update(fields)
        return self._emit(index, record, "update", fields)

    def _fresh_phone(self, record: _Record) -> str:
        country = record.country or self._country()
        city = record.city or self._place(country)
        record.phone = self._phone(country, city)
        return record.phone.render()

    def _phone_change(self, record: _Record) -> Fields:
        return {"phone": self._fresh_phone(record)}

    def _title_change(self, record: _Record) -> Fields:
        title = record.fields.get("title")
        current = _SENIORITY_OF_TITLE.get(title) if isinstance(title, str) else None
        if current is None:
            return {"title": self._title()}
        promoted = min(current + 1, 4) if self._rng.random() < 0.6 else current
        new_title = self._title(promoted)
        return {"title": new_title} if new_title != title else {}

    def _size_change(self, record: _Record) -> Fields:
        employees = record.fields.get("employees")
        if not isinstance(employees, int):
            employees = self._employees()
        else:
            employees = max(1, round(employees * self._rng.uniform(0.85, 1.35)))
        fields: Fields = {"employees": employees}
        if self._rng.random() < 0.5:
            fields["annual_revenue"] = self._revenue(employees)
        return fields

    def _website_change(self, record: _Record) -> Fields:
        if "website" in record.fields or not record.domain:
            return {}
        return {"website": self._website(record.domain)}

    def _industry_change(self, record: _Record) -> Fields:
        if "industry" in record.fields and self._rng.random() < 0.8:
            return {}
        return {"industry": _pick(self._rng, _INDUSTRIES)}

    def _email_change(self, record: _Record) -> Fields:
        first, last = str(record.fields.get("first_name")), str(record.fields.get("last_name"))
        country = record.country or self._country()
        domain = record.domain or self._company(country)[1]
        return {"email": self._email(first, last, domain, country, free_share=0.5)}

    def _address_prefix(self, record: _Record) -> str:
        return {"lead": "", "contact": "mailing_", "account": "billing_"}.get(
            record.entity_type, ""
        )

    def _address_change(self, record: _Record) -> Fields:
        """The record moved: a new street, in the same city or a nearby one."""
        rng = self._rng
        country = record.country or self._country()
        city = record.city or self._place(country)
        if city.nearby and rng.random() < 0.5:
            city = country.city(_pick(rng, city.nearby))
        record.country, record.city = country, city
        prefix = self._address_prefix(record)
        fields = self._address(country, city, prefix, street_share=1.0)
        fields.pop(f"{prefix}country")
        return fields

    # -- creation bookkeeping -------------------------------------------------------------

    def _register(self, index: int, record: _Record) -> GeneratedEvent:
        rng = self._rng
        self._pools[record.entity_type].add(record, rng)
        self._duplicate_sources[record.entity_type].add(record, rng)
        return self._emit(index, record, "create", record.fields)

    def _record_outcome(
        self, record: _Record, outcome: str, positive: bool, index: int, probability: float
    ) -> None:
        self.ground_truth.outcomes.append(
            OutcomeTruth(
                entity_type=record.entity_type,
                entity_id=record.entity_id,
                outcome=outcome,
                label=int(positive),
                index=index,
                probability=round(probability, 4),
            )
        )

    def _delete_record(self, index: int) -> GeneratedEvent:
        """Junk leads, departed contacts, abandoned deals, mis-logged activities get deleted."""
        rng = self._rng
        entity_type = _pick(
            rng, ("lead", "lead", "contact", "contact", "opportunity", "activity", "activity")
        )
        pool = self._pools[entity_type]
        if not pool:
            return self._create_lead(index)
        record = pool.pick(rng)
        pool.remove(record)
        return self._emit(index, record, "delete", {})

    # -- near duplicates ------------------------------------------------------------------

    def _maybe_duplicate(self, entity_type: str, index: int) -> GeneratedEvent | None:
        sources = self._duplicate_sources[entity_type]
        if not self.duplicate_share or not sources or self._rng.random() >= self.duplicate_share:
            return None
        original = sources.pick(self._rng)
        if entity_type == "lead":
            fields = {k: v for k, v in original.fields.items() if k in _LEAD_IDENTITY_FIELDS}
            fields.update(
                lead_source=_LEAD_SOURCES.pick(self._rng), status="new", is_converted=False
            )
        else:
            fields = dict(original.fields)
        record = self._new_record(entity_type, index, fields)
        record.country, record.city, record.phone = original.country, original.city, original.phone
        record.domain, record.account = original.domain, original.account
        record.propensity = original.propensity + self._rng.gauss(0.0, 0.3)
        variations = self._vary(record)
        # Keep the usual field order (a re-entered record is typed in the same form).
        order = FIELD_VOCABULARY[entity_type]
        record.fields = {name: record.fields[name] for name in order if name in record.fields}
        if record.account is not None:
            record.account.n_contacts += 1
        self.ground_truth.duplicates.append(
            DuplicateTruth(
                entity_type=entity_type,
                entity_id=record.entity_id,
                duplicate_of=original.entity_id,
                variations=variations,
                index=index,
            )
        )
        return self._register(index, record)

    def _vary(self, record: _Record) -> tuple[str, ...]:
        """Apply 1-3 variations (one per group) in a fixed order; return the names applied."""
        rng = self._rng
        fields = record.fields
        applicable = [
            (name, weight, group)
            for name, weight, group in _VARIATIONS
            if (not name.startswith("email") or "email" in fields)
            and (not name.startswith("phone") or (record.phone is not None and "phone" in fields))
            and (name != "company_variant" or "company" in fields)
        ]
        wanted = _VARIATION_COUNT.pick(rng)
        chosen: set[str] = set()
        while applicable and len(chosen) < wanted:
            name, _, group = _Weighted([(option, option[1]) for option in applicable]).pick(rng)
            chosen.add(name)
            applicable = [option for option in applicable if option[2] != group]
        applied = []
        for name in _VARIATION_ORDER:
            if name in chosen and self._apply_variation(record, name):
                applied.append(name)
        for fallback in ("name_typo", "swapped_names"):  # a duplicate must differ somehow
            if not applied and self._apply_variation(record, fallback):
                applied.append(fallback)
        return tuple(applied)

    def _apply_variation(self, record: _Record, name: str) -> bool:
        rng = self._rng
        fields = record.fields
        first, last = str(fields["first_name"]), str(fields["last_name"])
        if name == "name_typo":
            # A name needs a few letters to mistype (not "B." after an abbreviation).
            targets = [
                key for key in ("first_name", "last_name") if _letters(str(fields[key])) >= 3
            ]
            if not targets:
                return False
            target = _pick(rng, targets)
            fields[target] = _typo(rng, str(fields[target]))
        elif name == "swapped_names":
            fields["first_name"], fields["last_name"] = last, first
        elif name == "abbreviated_first_name":
            nicknames = _NICKNAMES.get(first)
            if nicknames and rng.random() < 0.75:
                fields["first_name"] = _pick(rng, nicknames)
            else:
                fields["first_name"] = first[0] + _pick(rng, (".", "", "."))
        elif name.startswith("email"):
            return self._vary_email(record, name)
        elif name == "phone_format":
            return self._vary_phone(record)
        elif name == "phone_missing":
            del fields["phone"]
        elif name == "moved_address":
            fields.update(self._address_change(record))
        elif name == "company_variant":
            fields["company"] = _company_variant(rng, str(fields["company"]))
        return True

    def _vary_email(self, record: _Record, name: str) -> bool:
        rng = self._rng
        email = str(record.fields["email"])
        local, _, domain = email.partition("@")
        if name == "email_missing":
            del record.fields["email"]
            return True
        if name == "email_case":
            variant = email.upper() if rng.random() < 0.3 else local.title() + "@" + domain.title()
        elif name == "email_dots":
            if "." in local:
                variant = local.replace(".", "") + "@" + domain
            else:
                cut = _between(rng, 1, max(1, len(local) - 1))
                variant = f"{local[:cut]}.{local[cut:]}@{domain}"
        elif name == "email_plus_tag":
            variant = f"{local}+{_pick(rng, _PLUS_TAGS)}@{domain}"
        else:  # email_domain
            country = record.country or self._country()
            other = _pick(rng, country.free_mail)
            if other == domain:
                other = "gmail.com" if domain != "gmail.com" else "outlook.com"
            variant = f"{local}@{other}"
        if variant == email:
            return False
        record.fields["email"] = variant
        return True

    def _vary_phone(self, record: _Record) -> bool:
        phone = record.phone
        if phone is None:
            return False
        current = phone.render()
        others = [i for i in range(len(phone.country.templates)) if phone.render(i) != current]
        if not others:
            return False
        template = _pick(self._rng, others)
        record.phone = _Phone(phone.country, phone.area, phone.groups, template)
        record.fields["phone"] = record.phone.render()
        return True

    # -- invalid messages -----------------------------------------------------------------

    def _invalid_event(self, index: int) -> GeneratedEvent:
        """A message broken in one of the ways real producers break them; state is untouched."""
        rng = self._rng
        kind = _pick(rng, _INVALID_KIND_NAMES)
        non_empty = [pool for pool in self._pools.values() if pool]
        record = _pick(rng, non_empty).pick(rng) if non_empty else None
        entity_type = record.entity_type if record is not None else "lead"
        entity_id = record.entity_id if record is not None else "lead-0000000"
        event_id = _uuid4(rng)
        change = _plausible_change(rng, entity_type)
        document: dict[str, object] = {
            "event_id": event_id,
            "entity_type": entity_type,
            "entity_id": entity_id,
            "op": "update",
            "occurred_at": self._now,
            "source": record.source if record is not None else "legacy_sync",
            "fields": change,
        }
        key: bytes | None = entity_id.encode()
        if kind == "invalid_utf8":
            target = {"lead": "last_name", "contact": "last_name", "account": "name"}.get(
                entity_type, "subject"
            )
            document["fields"] = {target: _pick(rng, _LATIN1_NAMES)}
            value = orjson.dumps(document, option=orjson.OPT_UTC_Z).decode().encode("latin-1")
        elif kind == "truncated_json":
            text = orjson.dumps(document, option=orjson.OPT_UTC_Z).decode()
            value = text[: _between(rng, text.index('"entity_type"'), len(text) - 2)].encode()
        elif kind == "json_array":
            value = orjson.dumps([document], option=orjson.OPT_UTC_Z)
        else:
            if kind == "missing_entity_id":
                del document["entity_id"]
                key = None
            elif kind == "unknown_entity_type":
                document["entity_type"] = _pick(rng, _BAD_ENTITY_TYPES)
            elif kind == "unknown_op":
                document["op"] = _pick(rng, _BAD_OPS)
            elif kind == "naive_timestamp":
                separator = _pick(rng, ("T", " "))
                document["occurred_at"] = self._now.strftime(f"%Y-%m-%d{separator}%H:%M:%S")
            elif kind == "fields_not_object":
                # Double-encoded JSON or a list of names: both seen from hand-written producers.
                as_text = orjson.dumps(change).decode()
                document["fields"] = as_text if rng.random() < 0.6 else list(change)
            elif kind == "unknown_top_level_key":
                document[_pick(rng, _EXTRA_KEYS)] = _pick(rng, (2, "user-17", "acme", event_id[:8]))
            elif kind == "empty_update":
                document["fields"] = {}
            value = orjson.dumps(document, option=orjson.OPT_UTC_Z)
        expected = INVALID_KINDS[kind]
        self.ground_truth.invalid.append(
            InvalidEventTruth(
                index=index,
                event_id=event_id,
                kind=kind,
                expected_error=expected,
                sha256=hashlib.sha256(value).hexdigest(),
            )
        )
        return GeneratedEvent(
            key=key,
            value=value,
            index=index,
            event_id=event_id,
            entity_type=None,
            expected_error=expected,
        )


def _plausible_change(rng: Random, entity_type: str) -> Fields:
    """The kind of small update an invalid message was meant to carry."""
    if entity_type in ("lead", "contact"):
        return {"title": _pick(rng, _TITLES_BY_SENIORITY[_below(rng, 5)])}
    if entity_type == "account":
        return {"employees": _between(rng, 5, 5000)}
    if entity_type == "opportunity":
        return {"amount": _between(rng, 10, 900) * 100}
    return {"duration_minutes": _between(rng, 5, 60)}


def _typo(rng: Random, text: str) -> str:
    """One keyboard slip after the first letter: a neighbouring key, a dropped, doubled or
    swapped letter (people rarely mistype the capital they start with)."""
    positions = [i for i, ch in enumerate(text) if ch.isalpha() and i > 0]
    for _ in range(5):
        i = _pick(rng, positions)
        ch = text[i]
        operation = _below(rng, 4)
        if operation == 0:
            near = _NEIGHBOURS.get(ch.lower(), "")
            if not near:
                continue
            candidate = text[:i] + _pick(rng, near) + text[i + 1 :]
        elif operation == 1 and len(positions) >= 3:
            candidate = text[:i] + text[i + 1 :]
        elif operation == 2:
            candidate = text[:i] + ch + text[i:]
        elif i + 1 < len(text) and text[i + 1].isalpha():
            candidate = text[:i] + text[i + 1] + ch + text[i + 2 :]
        else:
            continue
        if candidate != text:
            return candidate
    return text[:-1] + text[-1] * 2


def _letters(text: str) -> int:
    return sum(ch.isalpha() for ch in text)


def _company_variant(rng: Random, company: str) -> str:
    """The same company written differently: suffix dropped or spelled another way, case."""
    for suffix in sorted(_LEGAL_SUFFIX_VARIANTS, key=len, reverse=True):
        if company.endswith(" " + suffix) or company.endswith(", " + suffix):
            stem = company[: -len(suffix)].rstrip(", ")
            roll = rng.random()
            if roll < 0.4:
                return stem
            if roll < 0.8:
                return f"{stem} {_LEGAL_SUFFIX_VARIANTS[suffix]}"
            return company.upper()
    return company.upper() if company.upper() != company else company.lower()


def generate_events(
    count: int, seed: int, *, duplicate_share: float = 0.05, invalid_share: float = 0.02
) -> Iterator[GeneratedEvent]:
    """Exactly ``count`` events of a fresh :class:`CrmSimulation`, when no ground truth is needed.

    >>> [event.index for event in generate_events(3, seed=1)]
    [0, 1, 2]
    """
    simulation = CrmSimulation(seed, duplicate_share=duplicate_share, invalid_share=invalid_share)
    return simulation.events(count)


def record_lifetimes(values: Iterable[bytes | None]) -> dict[str, tuple[int, float]]:
    """When each record of a stream of native change messages existed: ``type:id`` -> the
    positions of its create and its delete (``inf`` if never deleted); messages that are not
    a change are skipped.

    People re-enter records that were deleted; a pipeline that lets deleted records go cannot
    pair two records that never existed at one moment, so a fair score leaves such pairs out
    (:func:`models.matching.evaluation.coexisting`).

    >>> record_lifetimes([b'{"entity_type":"lead","entity_id":"l1","op":"create"}', b"{",
    ...                   b'{"entity_type":"lead","entity_id":"l1","op":"delete"}'])
    {'lead:l1': (0, 2)}
    """
    created: dict[str, int] = {}
    deleted: dict[str, int] = {}
    for position, value in enumerate(values):
        try:
            change = orjson.loads(value or b"")
            key, op = f"{change['entity_type']}:{change['entity_id']}", change["op"]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            continue
        if op == "create":
            created.setdefault(key, position)
        elif op == "delete":
            deleted.setdefault(key, position)
    return {key: (start, deleted.get(key, math.inf)) for key, start in created.items()}
