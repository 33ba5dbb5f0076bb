"""Blocking: the keys that decide which known records a new record is compared with.

Comparing a record with every record in the table costs O(table) per record; blocking
indexes every record under a few keys and compares a record only with those sharing one.
A key is specific enough to keep its block small and loose enough to survive the variations
duplicates carry, and a duplicate needs only *one* surviving key to be found:

* ``email:`` the canonical email (plus tags and dots ignored: the same mailbox);
* ``phone:`` the E.164 phone;
* ``name:<soundex>+<initial>|<place>``: the Soundex of one name token and the initial of
  the other, both ways round, together with a postcode, company key or account id. Both
  ways, so that swapped names, a misspelled first or last name and an abbreviated first name
  all keep one key in common; the other token's initial makes the block about 20 times
  smaller than a Soundex alone would, and a nickname adds the initials of the names it stands
  for (Bob Smith meets Robert Smith under ``S530+r``);
* ``names:<soundex>+<soundex>|city:``: both tokens (sorted, so order does not matter) with
  the city, for records with neither postcode, company nor account: a city is too coarse a
  place to index every record under;
* accounts: ``domain:``, ``company:`` and the company key's Soundex with the postcode.

Leads and contacts share the person keys, so a lead that is already a contact meets it.
Keys hold standardized values: callers pass ``standardize_fields`` output. The blocks are
:class:`~models.matching.linking.Block` values of the stream's ``blocks`` table.

>>> sorted(blocking_keys(
...     "lead",
...     {"first_name": "Ada", "last_name": "Lovelace", "email": "ada.l+x@acme.io",
...      "postal_code": "N1 9GU", "city": "London"},
...     {"company_key": "acme"}))  # doctest: +NORMALIZE_WHITESPACE
['email:adal@acme.io', 'name:A300+l|company:acme', 'name:A300+l|postcode:N1 9GU',
 'name:L142+a|company:acme', 'name:L142+a|postcode:N1 9GU']
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Final

from models.matching.normalize import canonical_email, given_name_forms, name_letters, soundex
from models.matching.profile import PERSON_TYPES, Profile, match_profile

__all__ = ["blocking_keys", "profile_keys"]

# Profile fields that place a person narrowly enough to pair with one name token.
_PERSON_PLACES: Final = (
    ("postcode", "postal_code"),
    ("company", "company"),
    ("account", "account_id"),
)


def blocking_keys(
    entity_type: str, fields: Mapping[str, object], derived: Mapping[str, object]
) -> frozenset[str]:
    """The blocking keys of one standardized record (see the module docstring)."""
    return profile_keys(str(entity_type), match_profile(entity_type, fields, derived))


def profile_keys(entity_type: str, profile: Profile) -> frozenset[str]:
    """The blocking keys of a record already read as a profile."""
    keys = set(_contact_keys(profile))
    if entity_type in PERSON_TYPES:
        keys.update(_person_keys(profile))
    elif entity_type == "account":
        keys.update(_account_keys(profile))
    return frozenset(keys)


def _contact_keys(profile: Profile) -> Iterator[str]:
    if "email" in profile:
        yield f"email:{canonical_email(profile['email'])}"
    if "phone" in profile:
        yield f"phone:{profile['phone']}"


def _person_keys(profile: Profile) -> Iterator[str]:
    tokens = [
        letters
        for part in ("first_name", "last_name")
        if part in profile and (letters := name_letters(profile[part]))
    ]
    names = _name_codes(tokens)
    has_place = False
    for label, field in _PERSON_PLACES:
        if field in profile:
            has_place = True
            yield from (f"name:{code}|{label}:{profile[field]}" for code in names)
    if not has_place and len(tokens) == 2 and "city" in profile:
        first, second = sorted(soundex(token) for token in tokens)
        yield f"names:{first}+{second}|city:{name_letters(profile['city'])}"


def _name_codes(tokens: list[str]) -> set[str]:
    """One token's Soundex with the other's initials (its own and its nicknames'), both ways;
    a lone token's Soundex."""
    if len(tokens) != 2:
        return {soundex(token) for token in tokens}
    first, second = tokens
    return {
        f"{soundex(one)}+{form[0]}"
        for one, other in ((first, second), (second, first))
        for form in given_name_forms(other)
    }


def _account_keys(profile: Profile) -> Iterator[str]:
    if "website" in profile:
        yield f"domain:{profile['website']}"
    if "company" in profile:
        yield f"company:{profile['company']}"
        if "postal_code" in profile:
            yield f"company~:{soundex(profile['company'])}|postcode:{profile['postal_code']}"
