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
Keys hold standardized values: callers pass ``standardize_fields`` output.

>>> sorted(blocking_keys(
...     "lead",
...     {"first_name": "Ada", "last_name": "Lovelace", "email": "ada.l+x@acme.io",
...      "postal_code": "N1 9GU", "city": "London"},
...     {"company_key": "acme"}))  # doctest: +NORMALIZE_WHITESPACE
['email:adal@acme.io', 'name:A300+l|company:acme', 'name:A300+l|postcode:N1 9GU',
 'name:L142+a|company:acme', 'name:L142+a|postcode:N1 9GU']
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Final

from models.matching.normalize import canonical_email, given_name_forms, name_letters, soundex
from models.matching.profile import PERSON_TYPES, Profile, match_profile

__all__ = ["BlockingIndex", "blocking_keys"]

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


class BlockingIndex:
    """Which records carry which blocking key: key -> record ids, and back.

    The reverse map lets an update or a delete un-index a record without knowing its old
    keys. ``max_block_size`` bounds the work per record: a key shared by more records than
    that (a switchboard phone, a role address) says little about identity and is skipped by
    :meth:`candidates` rather than compared with every record behind it.

    >>> index = BlockingIndex()
    >>> index.add("lead-1", {"email:ada@acme.io", "phone:+441234"})
    >>> index.add("contact-7", {"phone:+441234"})
    >>> sorted(index.candidates({"phone:+441234", "email:x@y.z"}))
    ['contact-7', 'lead-1']
    >>> index.update("contact-7", {"phone:+449999"})
    >>> sorted(index.candidates({"phone:+441234"}, exclude="lead-1"))
    []
    >>> index.remove("lead-1"); len(index)
    1
    """

    def __init__(self, max_block_size: int = 1000) -> None:
        self.max_block_size = max_block_size
        self._blocks: dict[str, set[str]] = {}
        self._keys: dict[str, frozenset[str]] = {}

    def __len__(self) -> int:
        return len(self._keys)

    def __contains__(self, record_id: object) -> bool:
        return record_id in self._keys

    def keys_of(self, record_id: str) -> frozenset[str]:
        """The keys a record is indexed under (empty for an unknown record)."""
        return self._keys.get(record_id, frozenset())

    def add(self, record_id: str, keys: Iterable[str]) -> None:
        """Index a record under ``keys``; a record already indexed is re-indexed."""
        self.update(record_id, keys)

    def update(self, record_id: str, keys: Iterable[str]) -> None:
        """Replace a record's keys, touching only the blocks that changed."""
        new = frozenset(keys)
        old = self._keys.get(record_id, frozenset())
        for key in old - new:
            self._discard(key, record_id)
        for key in new - old:
            self._blocks.setdefault(key, set()).add(record_id)
        self._keys[record_id] = new

    def remove(self, record_id: str) -> None:
        """Un-index a record (deleted or merged away); unknown ids are ignored."""
        for key in self._keys.pop(record_id, frozenset()):
            self._discard(key, record_id)

    def candidates(self, keys: Iterable[str], exclude: str | None = None) -> set[str]:
        """The records sharing at least one key, over blocks of at most ``max_block_size``."""
        found: set[str] = set()
        for key in keys:
            block = self._blocks.get(key)
            if block is not None and len(block) <= self.max_block_size:
                found |= block
        if exclude is not None:
            found.discard(exclude)
        return found

    def _discard(self, key: str, record_id: str) -> None:
        block = self._blocks.get(key)
        if block is not None:
            block.discard(record_id)
            if not block:
                del self._blocks[key]
