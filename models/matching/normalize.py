"""Matching-only normalizations: what two spellings of one value have in common.

Standardization (``schemas.standardize``) keeps what a person typed, minus noise; matching
may go further and throw information away, because here the question is only "could these
be the same?": accents, plus tags and dots in an email's local part, the letters a name
sounds like.

>>> canonical_email("Ada.Lovelace+crm@Example.com")
'adalovelace@example.com'
>>> soundex("Lefèvre"), soundex("Lefevre"), soundex("Lefebvre")
('L116', 'L116', 'L116')
>>> name_letters("O'Brien-Smith")
'obriensmith'
>>> "robert" in given_name_forms("Bob"), "bob" in given_name_forms("Robert")
(True, True)
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from functools import lru_cache
from types import MappingProxyType
from typing import Final

from nicknames import NickNamer

__all__ = [
    "canonical_email",
    "email_local",
    "given_name_forms",
    "name_letters",
    "phone_digits",
    "soundex",
]

_SOUNDEX_CODES: Final = {
    **dict.fromkeys("bfpv", "1"),
    **dict.fromkeys("cgjkqsxz", "2"),
    **dict.fromkeys("dt", "3"),
    "l": "4",
    **dict.fromkeys("mn", "5"),
    "r": "6",
}


@lru_cache(maxsize=65536)
def name_letters(text: str) -> str:
    """Lower-case ASCII letters only: accents folded, punctuation and spaces dropped."""
    folded = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in folded if "a" <= ch <= "z")


@lru_cache(maxsize=65536)
def soundex(text: str) -> str:
    """American Soundex of a name (letter + 3 digits), "" for a name without letters.

    Phonetic enough to survive most typos after the first letter, which is where the
    generator and real people make them; 'h' and 'w' do not separate equal codes.
    """
    letters = name_letters(text)
    if not letters:
        return ""
    digits = []
    previous = _SOUNDEX_CODES.get(letters[0], "")
    for ch in letters[1:]:
        code = _SOUNDEX_CODES.get(ch, "")
        if code and code != previous:
            digits.append(code)
        if ch not in "hw":
            previous = code
    return (letters[0].upper() + "".join(digits) + "000")[:4]


_NICKNAMER: Final = NickNamer()

# Diminutives of the continental European given names CRMs see often, which the English
# table does not hold: one name each way, like the table's own entries.
_MORE_NICKNAMES: Final[Mapping[str, tuple[str, ...]]] = {
    "johannes": ("hans", "jo"), "katharina": ("kathi", "katja"), "franziska": ("franzi",),
    "sebastian": ("basti",), "andreas": ("andi",), "stefan": ("steff",),
    "wolfgang": ("wolf",), "willem": ("wim",), "pieter": ("piet",), "francisco": ("paco",),
    "jose": ("pepe",), "javier": ("javi",), "rafael": ("rafa",), "fernando": ("nando",),
    "alejandro": ("alex", "ale"), "gabriel": ("gabi",), "guillermo": ("memo",),
    "francesco": ("franco",), "giuseppe": ("beppe", "pino"), "nicolas": ("nico",),
}  # fmt: skip


def _each_way(groups: Mapping[str, tuple[str, ...]]) -> Mapping[str, frozenset[str]]:
    """Name -> the other names of its groups (a full name and its diminutives)."""
    table: dict[str, set[str]] = {}
    for full, nicknames in groups.items():
        names = {full, *nicknames}
        for name in names:
            table.setdefault(name, set()).update(names - {name})
    return MappingProxyType({name: frozenset(forms) for name, forms in table.items()})


_MORE_FORMS: Final = _each_way(_MORE_NICKNAMES)


@lru_cache(maxsize=65536)
def given_name_forms(name: str) -> frozenset[str]:
    """A given name with the names it is a nickname of and those it has as nicknames.

    Bob and Robert are one person's first name, which no string similarity knows; the
    forms are ``name_letters`` spellings, the name itself included.
    """
    letters = name_letters(name)
    if not letters:
        return frozenset()
    forms = {letters} | _NICKNAMER.canonicals_of(letters) | _NICKNAMER.nicknames_of(letters)
    forms |= _MORE_FORMS.get(letters, frozenset())
    return frozenset(forms)


def email_local(email: str) -> str:
    """The local part without plus tag and dots (what mailbox providers mostly ignore)."""
    local = email.partition("@")[0].casefold()
    return local.partition("+")[0].replace(".", "")


def canonical_email(email: str) -> str:
    """An address with plus tag and dots removed from its local part, lower-cased."""
    domain = email.rpartition("@")[2].casefold()
    return f"{email_local(email)}@{domain}"


def phone_digits(phone: str) -> str:
    """The digits of a phone number (E.164 without its plus, for standardized ones)."""
    return "".join(ch for ch in phone if ch.isdigit())
