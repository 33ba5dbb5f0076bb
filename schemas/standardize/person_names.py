"""Person names: tidied, and words typed in one case (all caps or all lower) re-cased.

Rules, in order:

1. Unicode NFC, whitespace collapsed, typographic apostrophes (curly quotes, the modifier
   letter apostrophe, backtick, acute accent) written as ``'``.
2. A name needs a letter and may hold only letters (any script), combining marks, spaces,
   apostrophes, hyphens, dots and commas. Anything else (digits, "@", brackets) makes it
   invalid (``invalid_name``) and it is kept as typed.
3. A mixed-case word is left as typed: "McDonald", "DeAngelo", "Min-jun" are deliberate,
   and no rule knows a family's spelling better than the family does.
4. A word in one case ("O'NEIL", "berg", the "DUPONT" of "Jean-Pierre DUPONT") is re-cased:

   * each word, each part of a hyphenated word and each part after a dot starts with a
     capital: SMITH-JONES -> Smith-Jones, J.R. -> J.R.;
   * Mc always takes a capital after it (MCDONALD -> McDonald); Mac only in a list of
     Scottish and Irish names (MACLEOD -> MacLeod), since Mack, Macey or Machado are not Mac-;
   * one letter and an apostrophe: O'NEIL -> O'Neil, D'ANGELO -> D'Angelo, N'DIAYE -> N'Diaye;
   * Dutch IJ stays together: IJSSEL -> IJssel; Roman numerals stay capitals (III);
   * particles (van, von, de, der, den, del, della, di, da, dos, das, do, du, ten, ter, zu, y)
     stay lower case when another word follows, first word included, because in a last-name
     field they are written that way (VAN DER BERG -> van der Berg, JAN DE JONG ->
     Jan de Jong); la, le, las and los only after another particle (DE LA CROIX -> de la
     Croix) since alone they usually start the name (LE GALL -> Le Gall, LA FONTAINE -> La
     Fontaine). The last word is always capitalized, so a name never ends in a lower-case
     particle.

>>> [standardize_person_name(name).value for name in ("MCDONALD", "o'neil", "VAN DER BERG")]
['McDonald', "O'Neil", 'van der Berg']
>>> standardize_person_name("jean-pierre DUPONT").value
'Jean-Pierre Dupont'
>>> standardize_person_name("R2-D2").reason
'invalid_name'
"""

from __future__ import annotations

import unicodedata

from schemas.standardize.result import (
    Reason,
    Standardized,
    empty,
    invalid,
    memoized,
    standardized,
)
from schemas.standardize.text import APOSTROPHES, tidy

__all__ = ["standardize_person_name"]

_TO_ASCII_APOSTROPHE = str.maketrans(dict.fromkeys(APOSTROPHES, "'"))
_PUNCTUATION = frozenset(" '-.,")
_PARTICLES = frozenset(
    {"van", "von", "de", "der", "den", "del", "della", "di", "da", "dos", "das", "do", "du",
     "ten", "ter", "zu", "y"}
)  # fmt: skip
_ARTICLES = frozenset({"la", "le", "las", "los"})
_ROMAN_NUMERALS = frozenset({"ii", "iii", "iv", "vi", "vii", "viii"})
_MAC_NAMES = frozenset(
    {"macarthur", "macaulay", "macbeth", "maccallum", "maccarthy", "macdonald", "macdonnell",
     "macdougall", "macfarlane", "macgregor", "macinnes", "macintosh", "macintyre", "mackay",
     "mackenzie", "mackinnon", "mackintosh", "maclachlan", "maclean", "macleod", "macmillan",
     "macnamara", "macneil", "macneill", "macpherson", "macquarie", "macrae"}
)  # fmt: skip


@memoized
def standardize_person_name(value: object) -> Standardized:
    """A first, last or full name (see the module's rules)."""
    if value is None:
        return empty(value)
    if not isinstance(value, str):
        return invalid(value, Reason.INVALID_NAME)
    text = tidy(value).translate(_TO_ASCII_APOSTROPHE)
    if not text:
        return empty(value)
    if not _plausible(text):
        return invalid(value, Reason.INVALID_NAME)
    # Apostrophes once more: title-casing U+0149 ("'n" in one letter) writes U+02BC.
    cased = unicodedata.normalize("NFC", _recase(text)).translate(_TO_ASCII_APOSTROPHE)
    return standardized(value, cased)


def _plausible(text: str) -> bool:
    has_letter = False
    for ch in text:
        if ch.isalpha():
            has_letter = True
        elif ch not in _PUNCTUATION and not unicodedata.category(ch).startswith("M"):
            return False
    return has_letter


def _single_case(text: str) -> bool:
    """True for "SMITH" or "smith", false for "Smith" or "McDonald"."""
    return not (any(ch.isupper() for ch in text) and any(ch.islower() for ch in text))


def _recase(text: str) -> str:
    words = text.split(" ")
    lower = [word.lower() for word in words]
    last = len(words) - 1
    cased = []
    for i, word in enumerate(words):
        if not _single_case(word):
            cased.append(word)
            continue
        previous = lower[i - 1] if i else ""
        particle = lower[i] in _PARTICLES or (lower[i] in _ARTICLES and previous in _PARTICLES)
        cased.append(lower[i] if particle and i < last else _case_word(lower[i]))
    return " ".join(cased)


def _case_word(word: str) -> str:
    return "-".join(
        ".".join(_case_segment(segment) for segment in part.split(".")) for part in word.split("-")
    )


def _case_segment(segment: str) -> str:
    """One lower-case run of letters between hyphens and dots."""
    if segment.startswith("mc") and len(segment) > 2:
        return "Mc" + _capitalize(segment[2:])
    if segment in _MAC_NAMES:
        return "Mac" + _capitalize(segment[3:])
    if len(segment) > 2 and segment[1] == "'" and segment[0].isalpha():
        return segment[0].title() + "'" + _capitalize(segment[2:])
    if segment.startswith("ij"):
        return "IJ" + segment[2:]
    if segment in _ROMAN_NUMERALS:
        return segment.upper()
    return _capitalize(segment)


def _capitalize(text: str) -> str:
    """The first letter in title case (the rest is lower case already)."""
    for i, ch in enumerate(text):
        if ch.isalpha():
            return text[:i] + ch.title() + text[i + 1 :]
    return text
