"""Text tidying shared by every standardizer, and the plain text, category and id fields.

Two notions of "the same text":

* :func:`tidy` is for values people read: Unicode NFC (a precomposed "é" and "e" + combining
  accent look identical but compare unequal) and whitespace collapsed to single spaces.
* :func:`lookup_key` is for comparing against a vocabulary ("España" with "espana", "U.S."
  with "us"): accents folded, case folded, punctuation dropped. It is never shown to anyone.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from schemas.standardize.result import (
    Reason,
    Standardized,
    empty,
    invalid,
    memoized,
    standardized,
)

__all__ = [
    "APOSTROPHES",
    "fold_ascii",
    "lookup_key",
    "standardize_category",
    "standardize_reference",
    "standardize_text",
    "tidy",
]

_WHITESPACE = re.compile(r"\s+")
_MAX_REFERENCE_LENGTH = 255  # the envelope's own limit for an entity id


def tidy(text: str) -> str:
    """NFC, whitespace runs (tabs, newlines, no-break spaces) to one space, ends trimmed.

    >>> tidy("  Blue\\u00a0 Analytics\\n")
    'Blue Analytics'
    """
    return _WHITESPACE.sub(" ", unicodedata.normalize("NFC", text)).strip()


# Letters NFKD does not decompose into a base letter plus accent.
_FOLD = str.maketrans(
    {"ø": "o", "Ø": "O", "æ": "ae", "Æ": "AE", "ł": "l", "Ł": "L", "đ": "d", "Đ": "D",
     "þ": "th", "Þ": "TH", "œ": "oe", "Œ": "OE", "\u0131": "i"}
)  # fmt: skip


def fold_ascii(text: str) -> str:
    """Accents and ligatures folded away (Müller -> Muller); other scripts are kept.

    >>> fold_ascii("Lumière Søndergård")
    'Lumiere Sondergard'
    """
    if text.isascii():
        return text
    decomposed = unicodedata.normalize("NFKD", text.translate(_FOLD))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


APOSTROPHES = "'\u2019\u2018\u02bc`\u00b4"
"""What people type for an apostrophe (typographic quotes, modifier letter, accents)."""
_DROPPED = re.compile(f"[.{APOSTROPHES}]")  # U.S.A. -> USA, Côte d'Ivoire -> Cote dIvoire
_SEPARATORS = re.compile(r"[\W_]+")


def lookup_key(text: str) -> str:
    """A comparison key: folded, lower case, dots and apostrophes dropped, "&" as "and".

    >>> lookup_key(" U.S.A. "), lookup_key("Trinidad & Tobago"), lookup_key("ESPAÑA")
    ('usa', 'trinidad and tobago', 'espana')
    """
    folded = fold_ascii(text).casefold().replace("&", " and ")
    return _SEPARATORS.sub(" ", _DROPPED.sub("", folded)).strip()


@memoized
def standardize_text(value: object) -> Standardized:
    """Free text (titles, subjects, cities, streets): tidied, never re-cased.

    >>> standardize_text("  VP   of Sales ").value
    'VP of Sales'
    """
    if value is None:
        return empty(value)
    if not isinstance(value, str):
        return invalid(value, Reason.INVALID_TEXT)
    text = tidy(value)
    return standardized(value, text) if text else empty(value)


def _choice_key(text: str) -> str:
    return lookup_key(text).replace(" ", "_")


@lru_cache(maxsize=64)
def _choice_index(choices: tuple[str, ...]) -> dict[str, str]:
    return {_choice_key(choice): choice for choice in choices}


@memoized
def standardize_category(value: object, choices: tuple[str, ...] = ()) -> Standardized:
    """A picklist value. With ``choices``, matched ignoring case, accents, spaces and dashes.

    An empty ``choices`` means an open picklist: the value is only tidied.

    >>> standardize_category("Closed Won", ("closed_won", "closed_lost")).value
    'closed_won'
    >>> standardize_category("maybe", ("hot", "cold")).reason
    'unknown_category'
    """
    result = standardize_text(value)
    if not choices or not isinstance(result.value, str) or not result.valid:
        return result if result.valid else invalid(value, Reason.UNKNOWN_CATEGORY)
    choice = _choice_index(choices).get(_choice_key(result.value))
    if choice is None:
        return invalid(value, Reason.UNKNOWN_CATEGORY)
    return standardized(value, choice)


def standardize_reference(value: object) -> Standardized:
    """The id of another record: text, trimmed; numeric ids become text (ids compare as text).

    >>> standardize_reference(42).value, standardize_reference(" 003A1 ").value
    ('42', '003A1')
    """
    if value is None:
        return empty(value)
    if isinstance(value, int) and not isinstance(value, bool):
        value_text = str(value)
    elif isinstance(value, str):
        value_text = value.strip()
    else:
        return invalid(value, Reason.INVALID_REFERENCE)
    if not value_text:
        return empty(value)
    if len(value_text) > _MAX_REFERENCE_LENGTH:
        return invalid(value, Reason.INVALID_REFERENCE)
    return standardized(value, value_text)
