"""Field comparisons: how alike two profiles are, field by field, each in [0, 1].

Only fields present in both records are compared (a missing phone is no evidence either
way), and each comparison is built for the way that field varies between duplicates:

* names: Jaro-Winkler (typos near the end of a name cost little), trying first/last both
  straight and swapped; a first name reduced to its initial ("A." for "Ada") or written
  as a nickname ("Bob" for "Robert") counts as a near match;
* ``email``: 1 for the same canonical mailbox, 0.9 for the same local part at another
  domain (the same person on another provider), else at most 0.5 for very similar local
  parts: colleagues share a domain and often a name pattern, so two mailboxes are weak
  evidence;
* ``phone``: 1 for the same number, 0.8 for the same last 7 digits, else 0;
* ``company`` and ``street``: rapidfuzz token ratios (word order and legal suffixes vary);
* ``birthdate``: 1 equal, 0.5 for day and month swapped or one digit off, else 0;
* ``account_id``, ``postal_code``, ``website``: equal or not (ids and codes have no
  "almost");
* anything else (``city``, ``state``, custom fields): 1 equal, else a normalized Levenshtein
  similarity for text of some length.

>>> similarities = compare_profiles(
...     {"first_name": "Ada", "last_name": "Lovelace", "phone": "+442071234567"},
...     {"first_name": "Lovelace", "last_name": "Adaa", "email": "ada@x.io"})
>>> {name: round(value, 2) for name, value in similarities.items()}
{'first_name': 0.94, 'last_name': 1.0}
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Final

from rapidfuzz.distance import JaroWinkler, Levenshtein
from rapidfuzz.fuzz import token_set_ratio, token_sort_ratio

from models.matching.normalize import (
    canonical_email,
    email_local,
    given_name_forms,
    name_letters,
    phone_digits,
)
from models.matching.profile import Profile

__all__ = ["compare_profiles"]

_INITIAL_MATCH: Final = 0.85
_NICKNAME_MATCH: Final = 0.9
_OTHER_DOMAIN: Final = 0.9
_OTHER_MAILBOX: Final = 0.5  # two mailboxes are weak evidence of one person at best
_NAME_FLOOR: Final = 0.8
_EMAIL_FLOOR: Final = 0.85
_PHONE_SUFFIX_MATCH: Final = 0.8
_PHONE_SUFFIX_DIGITS: Final = 7
_NEAR_DATE: Final = 0.5
_EXACT_ONLY_BELOW: Final = 4  # shorter values (state codes, countries) compare as equal or not


def compare_profiles(a: Profile, b: Profile) -> dict[str, float]:
    """The similarity of every field present in both profiles (see the module docstring)."""
    similarities = _compare_names(a, b)
    for field in a.keys() & b.keys():
        if field not in similarities:
            similarities[field] = _COMPARATORS.get(field, _text_similarity)(a[field], b[field])
    return similarities


def _compare_names(a: Profile, b: Profile) -> dict[str, float]:
    """First and last name similarity, in whichever orientation (straight or swapped) fits."""
    straight = _name_pair(a, b, ("first_name", "last_name"))
    swapped = _name_pair(a, b, ("last_name", "first_name"))
    if sum(swapped.values()) > sum(straight.values()) and len(swapped) >= len(straight):
        return swapped
    return straight


def _name_pair(a: Profile, b: Profile, b_order: tuple[str, str]) -> dict[str, float]:
    out: dict[str, float] = {}
    for a_field, b_field in zip(("first_name", "last_name"), b_order, strict=True):
        if a_field in a and b_field in b:
            out[a_field] = _name_similarity(a[a_field], b[b_field])
    return out


def _name_similarity(x: str, y: str) -> float:
    left, right = name_letters(x), name_letters(y)
    if not left or not right:
        return 0.0
    if left == right:
        return 1.0
    if min(len(left), len(right)) == 1:  # an initial
        return _INITIAL_MATCH if left[0] == right[0] else 0.0
    if right in given_name_forms(left):
        return _NICKNAME_MATCH
    return _sharpen(float(JaroWinkler.normalized_similarity(left, right)), _NAME_FLOOR)


def _sharpen(similarity: float, floor: float) -> float:
    """Zero below ``floor``: Pooja and Priya are 0.6 alike by Jaro-Winkler yet two people,
    while typos stay above 0.8, so a middling similarity must not add up to a match."""
    return similarity if similarity >= floor else 0.0


def _email_similarity(x: str, y: str) -> float:
    if canonical_email(x) == canonical_email(y):
        return 1.0
    local_x, local_y = email_local(x), email_local(y)
    if local_x == local_y:  # the same person on another provider or employer domain
        return _OTHER_DOMAIN
    similarity = float(JaroWinkler.normalized_similarity(local_x, local_y))
    return _sharpen(similarity, _EMAIL_FLOOR) * _OTHER_MAILBOX


def _phone_similarity(x: str, y: str) -> float:
    left, right = phone_digits(x), phone_digits(y)
    if left == right:
        return 1.0
    if left[-_PHONE_SUFFIX_DIGITS:] == right[-_PHONE_SUFFIX_DIGITS:]:
        return _PHONE_SUFFIX_MATCH
    return 0.0


def _token_set(x: str, y: str) -> float:
    return token_set_ratio(x.casefold(), y.casefold()) / 100.0


def _token_sort(x: str, y: str) -> float:
    return token_sort_ratio(x.casefold(), y.casefold()) / 100.0


def _date_similarity(x: str, y: str) -> float:
    if x == y:
        return 1.0
    swapped = len(x) == 10 and x[:5] + x[8:] + x[7] + x[5:7] == y  # YYYY-DD-MM vs YYYY-MM-DD
    one_digit = len(x) == len(y) and Levenshtein.distance(x, y) == 1
    return _NEAR_DATE if swapped or one_digit else 0.0


def _exact(x: str, y: str) -> float:
    return 1.0 if x == y else 0.0


def _text_similarity(x: str, y: str) -> float:
    left, right = x.casefold().strip(), y.casefold().strip()
    if left == right:
        return 1.0
    if min(len(left), len(right)) < _EXACT_ONLY_BELOW:
        return 0.0
    return float(Levenshtein.normalized_similarity(left, right))


_COMPARATORS: Final[Mapping[str, Callable[[str, str], float]]] = {
    "email": _email_similarity,
    "phone": _phone_similarity,
    "company": _token_set,
    "street": _token_sort,
    "birthdate": _date_similarity,
    "account_id": _exact,
    "postal_code": _exact,
    "website": _exact,
}
