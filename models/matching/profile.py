"""The comparable values of a standardized record, under one vocabulary for every entity type.

Leads and contacts name their address fields differently (``city`` / ``mailing_city``) and an
account's company name is ``name`` where a lead's is ``company``; matching reads them all as
one *profile* so that a lead can be compared with a contact and blocking and comparison agree
on what a field is. Values are the standardized ones (E.164 phones, lower-cased emails,
``company_key`` rather than the typed company name), as strings; absent or empty values are
left out, which is how "compare only the fields present in both records" works downstream.

>>> match_profile(
...     "contact",
...     {"first_name": "Ada", "last_name": "Lovelace", "mailing_city": "London",
...      "mailing_postal_code": "", "account_id": "account-1"},
...     {})
{'first_name': 'Ada', 'last_name': 'Lovelace', 'account_id': 'account-1', 'city': 'London'}
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Final

__all__ = ["PERSON_TYPES", "Profile", "match_profile"]

Profile = dict[str, str]
"""Profile field -> standardized value as text."""

MAX_VALUE_CHARS: Final = 200
"""Longer values are cut: no real name or address is longer, and a profile is stored in every
block of its record, so one garbage value must not make those table values huge."""

PERSON_TYPES: Final = frozenset({"lead", "contact"})
"""Entity types that describe a person; they are matched against each other."""

# Profile field -> where the value comes from: ("fields" | "derived", source name).
_PERSON_SOURCES: Final = (
    ("first_name", ("fields", "first_name")),
    ("last_name", ("fields", "last_name")),
    ("email", ("fields", "email")),
    ("phone", ("fields", "phone")),
    ("company", ("derived", "company_key")),
    ("account_id", ("fields", "account_id")),
    ("birthdate", ("fields", "birthdate")),
)
_ADDRESS_PARTS: Final = ("street", "city", "postal_code", "state", "country")
_ACCOUNT_SOURCES: Final = (
    ("company", ("derived", "company_key")),
    ("website", ("derived", "website_domain")),
    ("phone", ("fields", "phone")),
)
_SOURCES: Final[Mapping[str, tuple[tuple[str, tuple[str, str]], ...]]] = MappingProxyType(
    {
        "lead": _PERSON_SOURCES + tuple((part, ("fields", part)) for part in _ADDRESS_PARTS),
        "contact": _PERSON_SOURCES
        + tuple((part, ("fields", f"mailing_{part}")) for part in _ADDRESS_PARTS),
        "account": _ACCOUNT_SOURCES
        + tuple((part, ("fields", f"billing_{part}")) for part in _ADDRESS_PARTS),
    }
)


def match_profile(
    entity_type: str,
    fields: Mapping[str, object],
    derived: Mapping[str, object],
    extra: Iterable[str] = (),
) -> Profile:
    """Read the comparable values of one standardized record (see the module docstring).

    ``extra`` names further fields (custom attributes included) to take as they are, so a
    deployment can let its own identifying fields take part in matching. Entity types the
    matcher does not know (opportunities, activities) have an empty profile.
    """
    sources = {"fields": fields, "derived": derived}
    profile: Profile = {}
    for name, (where, source) in _SOURCES.get(str(entity_type), ()):
        _put(profile, name, sources[where].get(source))
    for name in extra:
        if name not in profile:  # a standard profile field (company_key as "company") wins
            _put(profile, name, fields.get(name))
    return profile


def _put(profile: Profile, name: str, value: object) -> None:
    if value is None or isinstance(value, bool):
        return
    text = str(value).strip()[:MAX_VALUE_CHARS]
    if text:
        profile[name] = text
