"""Internet domain names, shared by email addresses and websites.

A domain is kept in lower-case Unicode ("müller.de", not "xn--mller-kva.de"): that is what
people type and read, and punycode labels are decoded so both spellings meet. Validity is
checked on the ASCII (IDNA) form: every label 1-63 letters, digits or inner hyphens, at most
253 characters, at least two labels, and a top-level domain of two or more letters.
Compatibility characters are folded first (NFKC: full-width letters become ASCII ones).
"""

from __future__ import annotations

import re
import unicodedata
from encodings import idna

__all__ = ["normalize_domain"]

_LDH_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?", re.ASCII)
_TLD = re.compile(r"[a-z]{2,63}|xn--[a-z0-9-]{1,59}", re.ASCII)
_MAX_LENGTH = 253
_ACE_PREFIX = "xn--"


def normalize_domain(text: str) -> str | None:
    """The domain in lower-case Unicode, or ``None`` when it is not a valid host name.

    >>> normalize_domain("Example.COM."), normalize_domain("XN--MLLER-KVA.de")
    ('example.com', 'müller.de')
    >>> normalize_domain("localhost") is None, normalize_domain("a..b") is None
    (True, True)
    """
    host = unicodedata.normalize("NFKC", text).strip().lower().removesuffix(".")
    if not host or len(host) > _MAX_LENGTH:
        return None
    labels = host.split(".")
    if len(labels) < 2:
        return None
    unicode_labels = []
    ascii_labels = []
    for label in labels:
        pair = _label_forms(label)
        if pair is None:
            return None
        unicode_labels.append(pair[0])
        ascii_labels.append(pair[1])
    if not _TLD.fullmatch(ascii_labels[-1]) or len(".".join(ascii_labels)) > _MAX_LENGTH:
        return None
    return ".".join(unicode_labels)


def _label_forms(label: str) -> tuple[str, str] | None:
    """A label's (Unicode, ASCII) forms, or ``None`` when it cannot be a DNS label."""
    try:
        if label.isascii():
            unicode_label = (
                idna.ToUnicode(label).lower() if label.startswith(_ACE_PREFIX) else label
            )
        else:
            unicode_label = label
        ascii_label = idna.ToASCII(unicode_label).decode("ascii") if unicode_label else ""
    except UnicodeError:
        return None
    if not _LDH_LABEL.fullmatch(ascii_label):
        return None
    return unicode_label, ascii_label.lower()
