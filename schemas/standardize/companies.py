"""Company names: a tidy display name, and a separate key for matching.

The display name keeps what the CRM says, only tidier: NFC, whitespace collapsed, no space
before a comma. An all-lower-case name ("blue analytics gmbh") is title-cased with legal forms
in their usual spelling ("Blue Analytics GmbH"); anything else keeps its casing, because
"IBM", "SAP SE" and "eBay Inc." are written that way on purpose and all-caps acronyms cannot
be told from shouting.

:func:`company_key` is for blocking and comparing, never for display: accents folded, lower
case, "&" read as "and", dots and apostrophes dropped (L.L.C. = LLC, McDonald's =
McDonalds), other punctuation as spaces, a leading "the" dropped, and legal forms removed from
the end, repeatedly ("GmbH & Co. KG", "Pty. Ltd.", "Private Limited", "Sp. z o.o."). Words
that are legal forms only next to another one ("Pty", "Pvt", "Private", "Sdn", "and") go only
in such company. The key always keeps at least one word, so "Limited Inc" is "limited". One
known trade-off: "S.p.A." and "Spa" become the same word, so "Serenity Spa" keys as
"serenity".

>>> standardize_company_name("  blue analytics gmbh & co. kg ").value
'Blue Analytics GmbH & Co. KG'
>>> company_key("ACME, Inc."), company_key("Smith & Jones Pty. Ltd.")
('acme', 'smith and jones')
"""

from __future__ import annotations

import re
from functools import lru_cache

from schemas.standardize.result import (
    Reason,
    Standardized,
    empty,
    invalid,
    memoized,
    standardized,
)
from schemas.standardize.text import APOSTROPHES, fold_ascii, tidy

__all__ = ["company_key", "standardize_company_name"]

# fmt: off
_LEGAL_FORMS = frozenset({
    "inc", "incorporated", "corp", "corporation", "co", "company", "llc", "llp", "lp", "ltd",
    "limited", "plc", "gmbh", "mbh", "ag", "kg", "kgaa", "ohg", "ug", "haftungsbeschrankt",
    "ev", "se", "sa", "sas", "sarl", "sasu", "sca", "sl", "slu", "srl", "spa", "sapa", "bv",
    "nv", "vof", "oy", "oyj", "ab", "as", "asa", "aps", "ltda", "eireli", "pte", "bhd", "kk",
    "pty", "pvt", "sro", "doo", "kft", "zrt", "oo", "ooo", "cv",
})
_LEGAL_QUALIFIERS = frozenset({"pty", "pvt", "private", "sdn", "and", "z", "oo", "sp"})
# Display spellings of legal forms (keys: the form lower-cased, dots removed).
_FORM_SPELLING = {
    "gmbh": "GmbH", "ag": "AG", "kg": "KG", "kgaa": "KGaA", "ohg": "OHG", "ug": "UG",
    "se": "SE", "llc": "LLC", "llp": "LLP", "lp": "LP", "plc": "PLC", "sa": "SA", "sas": "SAS",
    "sarl": "SARL", "sl": "SL", "slu": "SLU", "srl": "SRL", "spa": "SpA", "bv": "BV",
    "nv": "NV", "ab": "AB", "as": "AS", "asa": "ASA", "aps": "ApS", "pte": "Pte",
    "bhd": "Bhd", "kk": "KK", "sro": "s.r.o", "doo": "d.o.o",
}
_SMALL_WORDS = frozenset({"and", "of", "the", "for", "und", "et", "de", "du", "des", "y"})
# fmt: on

_SPACE_BEFORE_COMMA = re.compile(r"\s+,")
_DROPPED_IN_KEY = str.maketrans(dict.fromkeys("." + APOSTROPHES, ""))
_KEY_SEPARATORS = re.compile(r"[\W_]+")


@memoized
def standardize_company_name(value: object) -> Standardized:
    """A company's display name, tidied; invalid (``invalid_company``) without a letter or digit."""
    if value is None:
        return empty(value)
    if not isinstance(value, str):
        return invalid(value, Reason.INVALID_COMPANY)
    text = _SPACE_BEFORE_COMMA.sub(",", tidy(value))
    if not text:
        return empty(value)
    if not any(ch.isalnum() for ch in text):
        return invalid(value, Reason.INVALID_COMPANY)
    if text.islower():
        text = _title_case(text)
    return standardized(value, text)


def _title_case(text: str) -> str:
    words = text.split(" ")
    return " ".join(_title_word(word, first=i == 0) for i, word in enumerate(words))


def _title_word(word: str, *, first: bool) -> str:
    core = word.rstrip(".,")
    tail = word[len(core) :]
    key = core.replace(".", "")
    if key in _FORM_SPELLING and "." in core:  # dotted forms keep their dots: S.A., B.V.
        return core.upper() + tail if key != "spa" else "S.p.A" + tail
    if key in _FORM_SPELLING:
        return _FORM_SPELLING[key] + tail
    if word in _SMALL_WORDS and not first:
        return word
    return _capitalize_parts(word)


def _capitalize_parts(word: str) -> str:
    """Capitalize after the start, hyphens and dots: "rolls-royce" -> "Rolls-Royce"."""
    out = []
    capital_next = True
    for ch in word:
        out.append(ch.title() if capital_next and ch.isalpha() else ch)
        if ch.isalnum():
            capital_next = False
        elif ch in "-./":
            capital_next = True
    return "".join(out)


@lru_cache(maxsize=4096)
def company_key(name: str) -> str:
    """The matching key of a company name (see the module docstring); cached.

    >>> company_key("Blue Analytics GmbH & Co. KG"), company_key("The Coca-Cola Company")
    ('blue analytics', 'coca cola')
    """
    folded = fold_ascii(name).casefold().replace("&", " and ").translate(_DROPPED_IN_KEY)
    words = _KEY_SEPARATORS.sub(" ", folded).split()
    if len(words) > 1 and words[0] == "the":
        words = words[1:]
    stripped = False
    while len(words) > 1 and (
        words[-1] in _LEGAL_FORMS or (stripped and words[-1] in _LEGAL_QUALIFIERS)
    ):
        words.pop()
        stripped = True
    return " ".join(words)
