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
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache
from typing import Final

__all__ = ["canonical_email", "email_local", "name_letters", "phone_digits", "soundex"]

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
