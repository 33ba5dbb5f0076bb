"""The standardizers: examples of what they make of CRM values, and properties of all of them.

Every standardizer must never raise, never drop a value (an invalid one comes back as typed
with a reason), and be idempotent: standardizing its output again gives the same value and
validity, with nothing left to correct.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.standardize import (
    COUNTRIES,
    Money,
    Standardized,
    company_key,
    country_code,
    standardize_boolean,
    standardize_category,
    standardize_company_name,
    standardize_country,
    standardize_date,
    standardize_datetime,
    standardize_email,
    standardize_integer,
    standardize_money,
    standardize_number,
    standardize_person_name,
    standardize_phone,
    standardize_postal_code,
    standardize_reference,
    standardize_state,
    standardize_text,
    standardize_website,
)
from schemas.standardize.phones import SUPPORTED_REGIONS
from schemas.standardize.postcodes import POSTAL_FORMATS
from schemas.standardize.result import Flag, Reason

Standardizer = Callable[[object], Standardized]

E164 = re.compile(r"\+[1-9][0-9]{6,14}")
ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
ISO_UTC = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{3}|\.[0-9]{6})?Z"
)
DOUBTS = {Reason.AMBIGUOUS_DATE.value, Reason.ASSUMED_UTC.value}

# Anything a JSON document (or a careless caller) can put in a field.
anything = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.decimals(allow_nan=True, allow_infinity=True),
    st.text(),
    st.text(alphabet="0123456789 .,-/+()'$€£kKmM:TZ"),
    st.lists(st.integers(), max_size=2),
)

STANDARDIZERS: dict[str, Standardizer] = {
    "email": standardize_email,
    "phone_us": lambda value: standardize_phone(value, region="US"),
    "phone_no_region": lambda value: standardize_phone(value, region=None),
    "person_name": standardize_person_name,
    "company_name": standardize_company_name,
    "country": standardize_country,
    "state_us": lambda value: standardize_state(value, country="US"),
    "state_unknown_country": lambda value: standardize_state(value, country=None),
    "state_de": lambda value: standardize_state(value, country="DE"),
    "postal_us": lambda value: standardize_postal_code(value, country="US"),
    "postal_gb": lambda value: standardize_postal_code(value, country="GB"),
    "postal_none": lambda value: standardize_postal_code(value, country=None),
    "date_dmy": lambda value: standardize_date(value, date_order="dmy"),
    "date_no_order": standardize_date,
    "datetime_mdy": lambda value: standardize_datetime(value, date_order="mdy"),
    "money": standardize_money,
    "website": standardize_website,
    "integer": standardize_integer,
    "number": standardize_number,
    "boolean": standardize_boolean,
    "text": standardize_text,
    "category_closed": lambda value: standardize_category(value, ("closed_won", "new")),
    "category_open": standardize_category,
    "reference": standardize_reference,
}


def assert_idempotent(standardize: Standardizer, value: object) -> Standardized:
    """Standardize twice; the second pass must agree and find nothing to correct."""
    first = standardize(value)
    second = standardize(first.value)
    assert second.value is first.value or second.value == first.value  # NaN stays NaN
    assert type(second.value) is type(first.value)
    assert second.valid == first.valid
    if first.valid:
        assert not second.corrected
        assert first.reason is None or first.reason in DOUBTS
    else:
        assert first.value is value or first.value == value  # as typed (maybe a cached twin)
        assert first.reason is not None
        assert not first.corrected
    return first


# -- properties of every standardizer ------------------------------------------------------


@pytest.mark.parametrize("name", sorted(STANDARDIZERS))
@settings(deadline=None)
@given(value=anything)
def test_never_raises_and_is_idempotent(name: str, value: object) -> None:
    assert_idempotent(STANDARDIZERS[name], value)


@pytest.mark.parametrize("name", sorted(STANDARDIZERS))
def test_none_is_empty_and_valid(name: str) -> None:
    result = STANDARDIZERS[name](None)
    assert (result.value, result.valid, result.corrected) == (None, True, False)


# -- email ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected", "flags"),
    [
        ("  Ada.Lovelace@Example.COM ", "ada.lovelace@example.com", set()),
        ("Info@ACME.com", "info@acme.com", {"role_address"}),
        ("sales+crm@acme.com", "sales+crm@acme.com", {"role_address"}),
        ("k.smith@gmail.com", "k.smith@gmail.com", {"free_mail"}),
        ("someone@web.de", "someone@web.de", {"free_mail"}),
        ("x@mailinator.com", "x@mailinator.com", {"disposable"}),
        ("Ada <ada@example.org>", "ada@example.org", set()),
        ("mailto:bob@example.org", "bob@example.org", set()),
        ("jürgen@müller.de", "jürgen@müller.de", set()),
        ("jo@XN--MLLER-KVA.de", "jo@müller.de", set()),
    ],
)
def test_email_examples(raw: str, expected: str, flags: set[str]) -> None:
    result = standardize_email(raw)
    assert (result.value, result.valid, set(result.flags)) == (expected, True, flags)


@pytest.mark.parametrize(
    "raw",
    ["ada", "ada@", "@example.com", "ada@@example.com", "a..b@example.com", ".a@example.com",
     "ada@example", "ada lovelace@example.com", '"ada"@example.com', "ada@-example.com",
     "ada@example.c", "ada@[127.0.0.1]", "ada@1.2.3.4", 42],
)  # fmt: skip
def test_invalid_emails_are_kept_as_typed(raw: object) -> None:
    result = standardize_email(raw)
    assert (result.value, result.valid, result.reason) == (raw, False, "invalid_email")


@given(st.emails())
def test_generated_emails_are_valid_lowercase_and_stable(address: str) -> None:
    result = assert_idempotent(standardize_email, address)
    if result.valid:  # hypothesis also writes domains our pragmatic subset rejects
        assert isinstance(result.value, str)
        assert result.value == result.value.lower()
        assert result.value.count("@") == 1


# -- phone ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "region", "expected", "flags"),
    [
        ("(415) 555-2671", "US", "+14155552671", set()),
        ("415.555.2671", "US", "+14155552671", set()),
        ("+1 (415) 555-2671", "DE", "+14155552671", set()),
        ("+44 20 7946 0958", "US", "+442079460958", set()),
        ("020 7946 0958", "GB", "+442079460958", set()),
        ("+44 (0)20 7946 0958", "GB", "+442079460958", set()),
        ("030 12345678", "DE", "+493012345678", set()),
        ("0049 30 12345678", "DE", "+493012345678", set()),
        ("01.23.45.67.89", "FR", "+33123456789", set()),
        ("(415) 555-2671 ext. 12", "US", "+14155552671", {"extension_dropped"}),
        (4155552671, "US", "+14155552671", set()),
    ],
)
def test_phone_examples(raw: object, region: str, expected: str, flags: set[str]) -> None:
    result = standardize_phone(raw, region=region)
    assert (result.value, result.valid, set(result.flags)) == (expected, True, flags)


@pytest.mark.parametrize("raw", ["12", "555-2671", "+1 415 555 26711", "call me", "+999 1234567"])
def test_invalid_phones(raw: str) -> None:
    result = standardize_phone(raw, region="US")
    assert (result.value, result.valid, result.reason) == (raw, False, "invalid_phone")


def test_every_regions_example_number_reads_in_its_national_format() -> None:
    for region in sorted(SUPPORTED_REGIONS):
        number = phonenumbers.example_number(region)
        if number is None:
            continue
        national = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
        e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        assert standardize_phone(national, region=region).value == e164, region


@settings(deadline=None)
@given(
    digits=st.text(alphabet="0123456789", min_size=7, max_size=15),
    separators=st.lists(st.sampled_from(" -.()/"), max_size=4),
    region=st.sampled_from(["US", "GB", "DE", "FR", "IN", "BR", "AU"]),
)
def test_valid_phones_are_e164(digits: str, separators: list[str], region: str) -> None:
    raw = "".join(separators[:2]) + digits + "".join(separators[2:])
    result = assert_idempotent(lambda value: standardize_phone(value, region=region), raw)
    if result.valid:
        assert isinstance(result.value, str)
        assert E164.fullmatch(result.value)


# -- person names --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("MCDONALD", "McDonald"),
        ("mcdonald", "McDonald"),
        ("McDonald", "McDonald"),
        ("MACLEOD", "MacLeod"),
        ("MACK", "Mack"),
        ("O'NEIL", "O'Neil"),
        ("o\u2019neil", "O'Neil"),
        ("d'angelo", "D'Angelo"),
        ("VAN DER BERG", "van der Berg"),
        ("van der Berg", "van der Berg"),
        ("JAN VAN DER BERG", "Jan van der Berg"),
        ("DE LA CROIX", "de la Croix"),
        ("LE GALL", "Le Gall"),
        ("SMITH-JONES", "Smith-Jones"),
        ("jean-luc", "Jean-Luc"),
        ("Min-jun", "Min-jun"),
        ("MÜLLER", "Müller"),
        ("  ada   LOVELACE ", "Ada Lovelace"),
        ("J.R.R. TOLKIEN", "J.R.R. Tolkien"),
        ("JOHN SMITH III", "John Smith III"),
        ("IJSSELMEER", "IJsselmeer"),
        ("DeAngelo", "DeAngelo"),
        ("Ελένη", "Ελένη"),
        ("李", "李"),
    ],
)
def test_person_name_examples(raw: str, expected: str) -> None:
    result = standardize_person_name(raw)
    assert (result.value, result.valid) == (expected, True)


@pytest.mark.parametrize("raw", ["R2-D2", "john@example.com", "(unknown)", "---", 7])
def test_invalid_person_names(raw: object) -> None:
    assert standardize_person_name(raw).reason == "invalid_name"


@given(st.text(alphabet=st.characters(categories=["L", "M", "Zs"]) | st.sampled_from("'-.,")))
def test_names_are_tidy(raw: str) -> None:
    result = assert_idempotent(standardize_person_name, raw)
    if result.valid and isinstance(result.value, str):
        assert result.value == result.value.strip()
        assert "  " not in result.value


# -- companies -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "display", "key"),
    [
        ("ACME, Inc.", "ACME, Inc.", "acme"),
        ("Acme Inc", "Acme Inc", "acme"),
        ("acme incorporated", "Acme Incorporated", "acme"),
        ("  Blue   Analytics GmbH ", "Blue Analytics GmbH", "blue analytics"),
        ("blue analytics gmbh & co. kg", "Blue Analytics GmbH & Co. KG", "blue analytics"),
        ("Nordstern Solar UG (haftungsbeschränkt)", None, "nordstern solar"),
        ("Summit Logistics Pvt. Ltd.", None, "summit logistics"),
        ("Falcon Health Private Limited", None, "falcon health"),
        ("Oak Media Pty. Ltd.", None, "oak media"),
        ("Harbor Bank S.L.U.", None, "harbor bank"),
        ("Lumière SARL", None, "lumiere"),
        ("Apex S.p.A.", None, "apex"),
        ("Vertex B.V.", None, "vertex"),
        ("Smith & Jones LLC", None, "smith and jones"),
        ("Smith and Jones L.L.C.", None, "smith and jones"),
        ("Johnson & Johnson", None, "johnson and johnson"),
        ("The Coca-Cola Company", None, "coca cola"),
        ("McDonald's Corporation", None, "mcdonalds"),
        ("IBM", "IBM", "ibm"),
        ("Limited Inc", None, "limited"),
    ],
)
def test_company_examples(raw: str, display: str | None, key: str) -> None:
    result = standardize_company_name(raw)
    assert result.valid
    if display is not None:
        assert result.value == display
    assert company_key(raw) == key


@given(st.text())
def test_company_key_is_idempotent_and_never_empty_for_words(name: str) -> None:
    key = company_key(name)
    assert company_key(key) == key
    assert key == key.strip()
    if any(ch.isalnum() for ch in name):
        assert key or not any(ch.isalnum() for ch in name.replace("_", ""))


# -- countries and states ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Deutschland", "DE"), ("Germany", "DE"), ("DEU", "DE"), ("de", "DE"),
        ("USA", "US"), ("U.S.", "US"), ("U.S.A.", "US"), ("United States of America", "US"),
        ("UK", "GB"), ("Great Britain", "GB"), ("England", "GB"), ("gbr", "GB"),
        ("España", "ES"), ("espana", "ES"), ("The Netherlands", "NL"), ("Holland", "NL"),
        ("Brasil", "BR"), ("Côte d'Ivoire", "CI"), ("Ivory Coast", "CI"), ("Türkiye", "TR"),
        ("Korea, Republic of", "KR"), ("South Korea", "KR"), ("St. Lucia", "LC"),
        ("Trinidad & Tobago", "TT"), ("  france ", "FR"), ("中国", "CN"), ("Kosovo", "XK"),
    ],
)  # fmt: skip
def test_country_examples(raw: str, expected: str) -> None:
    assert standardize_country(raw).value == expected


@pytest.mark.parametrize("raw", ["Atlantis", "XX", "Europe", "U", 49])
def test_unknown_countries(raw: object) -> None:
    result = standardize_country(raw)
    assert (result.value, result.valid, result.reason) == (raw, False, "unknown_country")


def test_country_table_covers_iso_3166() -> None:
    assert len(COUNTRIES) == 250  # 249 ISO 3166-1 entries and XK
    assert len({country.alpha3 for country in COUNTRIES.values()}) == 250
    for code, country in COUNTRIES.items():
        assert country_code(code) == code
        assert country_code(country.alpha3.lower()) == code
        assert country_code(country.name.upper()) == code


@given(st.text(max_size=40))
def test_country_output_is_always_a_known_code(raw: str) -> None:
    result = assert_idempotent(standardize_country, raw)
    if result.valid and result.value is not None:
        assert result.value in COUNTRIES


@pytest.mark.parametrize(
    ("raw", "country", "expected"),
    [
        ("California", "US", "CA"), ("ca", "US", "CA"), ("new york", None, "NY"),
        ("District of Columbia", "US", "DC"), ("Washington, D.C.", "US", "DC"),
        ("Puerto Rico", "US", "PR"), ("Québec", "CA", "QC"), ("ON", "CA", "ON"),
        ("New South Wales", "AU", "NSW"), ("Bayern", "DE", "Bayern"),
        ("Greater  London", "GB", "Greater London"), ("Ontario", None, "Ontario"),
    ],
)  # fmt: skip
def test_state_examples(raw: str, country: str | None, expected: str) -> None:
    result = standardize_state(raw, country=country)
    assert (result.value, result.valid) == (expected, True)


def test_unknown_us_state_is_invalid() -> None:
    assert standardize_state("Narnia", country="US").reason == "unknown_state"


# -- postcodes -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "country", "expected", "flags"),
    [
        ("94107", "US", "94107", set()),
        ("94107-1234", "US", "94107-1234", set()),
        ("941071234", "US", "94107-1234", set()),
        (2134, "US", "02134", {"zero_padded"}),
        ("sw1a1aa", "GB", "SW1A 1AA", set()),
        ("EC1 2AB", "GB", "EC1 2AB", set()),
        ("m5v3l9", "CA", "M5V 3L9", set()),
        ("10115", "DE", "10115", set()),
        ("1012ab", "NL", "1012 AB", set()),
        ("01310100", "BR", "01310-100", set()),
        ("75008", "FR", "75008", set()),
        ("800", "AU", "0800", {"zero_padded"}),
        (" 1000  ", "ZA", "1000", set()),
        ("SE1 7PB", None, "SE1 7PB", set()),
    ],
)
def test_postal_code_examples(raw: object, country: str, expected: str, flags: set[str]) -> None:
    result = standardize_postal_code(raw, country=country)
    assert (result.value, result.valid, set(result.flags)) == (expected, True, flags)


@pytest.mark.parametrize(("raw", "country"), [("941", "DE"), ("ABCDE", "US"), ("12345", "GB")])
def test_invalid_postal_codes(raw: str, country: str) -> None:
    assert standardize_postal_code(raw, country=country).reason == "invalid_postal_code"


@given(
    raw=st.text(alphabet="0123456789ABCabc -", max_size=12),
    country=st.sampled_from(sorted(POSTAL_FORMATS)),
)
def test_postal_codes_are_idempotent_everywhere(raw: str, country: str) -> None:
    assert_idempotent(lambda value: standardize_postal_code(value, country=country), raw)


# -- dates and times -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "order", "expected", "reason", "flags"),
    [
        ("2025-03-04", "dmy", "2025-03-04", None, set()),
        ("2025-03-04T10:00:00Z", "dmy", "2025-03-04T10:00:00Z", None, set()),
        ("2025-03-04T10:00:00+02:00", "dmy", "2025-03-04T08:00:00Z", None, set()),
        ("2025-03-04 10:00:00.250-05:00", "dmy", "2025-03-04T15:00:00.250Z", None, set()),
        ("2025-03-04T10:00:00", "dmy", "2025-03-04T10:00:00Z", "assumed_utc", {"assumed_utc"}),
        ("03/04/2025", "dmy", "2025-04-03", "ambiguous_date", {"ambiguous_date"}),
        ("03/04/2025", "mdy", "2025-03-04", "ambiguous_date", {"ambiguous_date"}),
        ("13/04/2025", "mdy", "2025-04-13", None, set()),
        ("04/04/2025", "mdy", "2025-04-04", None, set()),
        ("31.12.2024", "mdy", "2024-12-31", None, set()),
        ("2025/03/04", "mdy", "2025-03-04", None, set()),
        ("12/31/99", "mdy", "1999-12-31", None, {"two_digit_year"}),
        ("4 March 2025", "mdy", "2025-03-04", None, set()),
        ("Mar 4th, 2025", "dmy", "2025-03-04", None, set()),
        ("4. März 2025", "mdy", "2025-03-04", None, set()),
        ("4 de marzo de 2025", "mdy", "2025-03-04", None, set()),
        ("Tue, 04 Mar 2025 10:00:00 +0000", "mdy", "2025-03-04T10:00:00Z", None, set()),
        ("03/04/2025 2:30 PM UTC", "mdy", "2025-03-04T14:30:00Z", "ambiguous_date",
         {"ambiguous_date"}),
        (1741082400, "mdy", "2025-03-04T10:00:00Z", None, set()),
        (1741082400000, "mdy", "2025-03-04T10:00:00Z", None, set()),
        ("1741082400123", "mdy", "2025-03-04T10:00:00.123Z", None, set()),
        (1741082400.5, "mdy", "2025-03-04T10:00:00.500Z", None, set()),
        ("20250304", "mdy", "2025-03-04", None, set()),
        (date(2025, 3, 4), "mdy", "2025-03-04", None, set()),
        (datetime(2025, 3, 4, 10, tzinfo=timezone(timedelta(hours=1))), "mdy",
         "2025-03-04T09:00:00Z", None, set()),
    ],
)  # fmt: skip
def test_datetime_examples(
    raw: object, order: str, expected: str, reason: str | None, flags: set[str]
) -> None:
    result = standardize_datetime(raw, date_order="dmy" if order == "dmy" else "mdy")
    assert (result.value, result.valid, result.reason, set(result.flags)) == (
        expected,
        True,
        reason,
        flags,
    )


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("2025-13-01", "invalid_date"),
        ("31/02/2025", "invalid_date"),
        ("yesterday", "invalid_date"),
        ("March 2025", "invalid_date"),
        ("03/04/2025", "ambiguous_date"),  # no date_order configured
        (True, "invalid_date"),
        (10**20, "invalid_date"),
    ],
)
def test_invalid_dates_are_kept_as_typed(raw: object, reason: str) -> None:
    result = standardize_date(raw)
    assert (result.value, result.valid, result.reason) == (raw, False, reason)


@pytest.mark.parametrize(
    ("epoch", "expected"),
    [
        (0, "1970-01-01T00:00:00Z"),
        (99_999_999_999, "5138-11-16T09:46:39Z"),  # the largest number read as seconds
        (100_000_000_000, "1973-03-03T09:46:40Z"),  # the smallest read as milliseconds
        (1_741_082_400_000_000, "2025-03-04T10:00:00Z"),  # microseconds
        (-315_619_200, "1960-01-01T00:00:00Z"),
    ],
)
def test_epoch_units_follow_magnitude(epoch: int, expected: str) -> None:
    assert standardize_datetime(epoch).value == expected


def test_a_date_field_keeps_the_date_as_written() -> None:
    result = standardize_date("2025-03-04T23:30:00-05:00")
    assert (result.value, set(result.flags)) == ("2025-03-04", {"time_dropped"})
    assert standardize_date("2025-03-04T00:00:00Z").flags == frozenset()


@given(st.datetimes(timezones=st.timezones() | st.just(UTC)))
def test_aware_datetimes_come_out_as_the_same_instant_in_utc(moment: datetime) -> None:
    result = assert_idempotent(standardize_datetime, moment.isoformat())
    if not result.valid:  # only at the edges of the calendar, where UTC falls out of range
        assert moment.year in (1, 9999)
        return
    assert isinstance(result.value, str)
    assert ISO_UTC.fullmatch(result.value)
    # Compared as written: zoneinfo times in a DST fold never equal other zones' (PEP 495).
    assert datetime.fromisoformat(result.value) == datetime.fromisoformat(moment.isoformat())


@given(st.integers(min_value=-62_135_596_800, max_value=10**16))  # from year 1 on
def test_epoch_numbers_give_utc_moments(epoch: int) -> None:
    result = assert_idempotent(standardize_datetime, epoch)
    assert result.valid
    assert isinstance(result.value, str)
    assert ISO_UTC.fullmatch(result.value) or ISO_DATE.fullmatch(result.value)


@given(
    st.dates(min_value=date(1000, 1, 1)),
    st.sampled_from(["%Y-%m-%d", "%d.%m.%Y", "%m/%d/%Y", "%d %B %Y", "%b %d, %Y"]),
)
def test_written_dates_read_back(day: date, pattern: str) -> None:
    text = day.strftime(pattern)
    result = standardize_date(text, date_order="dmy" if pattern.startswith("%d") else "mdy")
    assert (result.value, result.valid) == (day.isoformat(), True)


@settings(deadline=None)
@given(st.text(alphabet="0123456789/.-: TZapm+", max_size=25))
def test_valid_datetimes_are_iso_8601(raw: str) -> None:
    result = assert_idempotent(lambda value: standardize_datetime(value, date_order="dmy"), raw)
    if result.valid and result.value is not None:
        assert isinstance(result.value, str)
        assert ISO_UTC.fullmatch(result.value) or ISO_DATE.fullmatch(result.value)


# -- money ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "amount", "currency", "flags"),
    [
        ("1,234.50", "1234.50", None, set()),
        ("1.234,50 €", "1234.50", "EUR", set()),
        ("$1,234", "1234", "USD", {"assumed_currency", "ambiguous_separator"}),
        ("USD 1234", "1234", "USD", set()),
        ("1234 usd", "1234", "USD", set()),
        ("12k", "12000", None, {"multiplier"}),
        ("€1.5M", "1500000", "EUR", {"multiplier"}),
        ("(500.00)", "-500.00", None, set()),
        ("-£12.99", "-12.99", "GBP", set()),
        ("CHF 1'234.50", "1234.50", "CHF", set()),
        ("1 234 567,89 EUR", "1234567.89", "EUR", set()),
        ("R$ 1.234,56", "1234.56", "BRL", set()),
        ("12,5", "12.5", None, set()),
        (1234, "1234", None, set()),
        (99.95, "99.95", None, set()),
    ],
)
def test_money_examples(raw: object, amount: str, currency: str | None, flags: set[str]) -> None:
    result = standardize_money(raw)
    assert result.valid
    assert result.value == Money(Decimal(amount), currency)
    assert set(result.flags) == flags


@pytest.mark.parametrize(
    "raw", ["about 12k", "10-20k", "12%", "12 abc", "EUR 12 USD", "1,2,3", "5 kr", "--5", True]
)
def test_invalid_money(raw: object) -> None:
    result = standardize_money(raw)
    assert (result.value, result.valid, result.reason) == (raw, False, "invalid_money")


@given(
    st.decimals(
        allow_nan=False, allow_infinity=False, places=2, max_value=10**12, min_value=-(10**12)
    )
)
def test_written_amounts_read_back(amount: Decimal) -> None:
    for text in (f"{amount:,.2f}", f"{amount:.2f} EUR", f"USD {amount:,.2f}"):
        result = standardize_money(text)
        assert isinstance(result.value, Money), text
        assert result.value.amount == amount


# -- websites ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("https://www.Acme.com:8080/about?ref=x", "acme.com"),
        ("www.acme.com", "acme.com"),
        ("http://acme.com/", "acme.com"),
        ("ACME.COM", "acme.com"),
        ("//cdn.acme.com/x", "cdn.acme.com"),
        ("https://user:pw@shop.acme.co.uk/#top", "shop.acme.co.uk"),
        ("https://www.müller.de", "müller.de"),
        ("xn--mller-kva.de", "müller.de"),
        ("www.com", "www.com"),
    ],
)
def test_website_examples(raw: str, expected: str) -> None:
    assert standardize_website(raw).value == expected


@pytest.mark.parametrize("raw", ["not a website", "localhost", "http://127.0.0.1", "acme", "-.com"])
def test_invalid_websites(raw: str) -> None:
    assert standardize_website(raw).reason == "invalid_website"


@given(
    st.from_regex(
        r"(https?://)?(www\.)?[a-z0-9]{1,10}\.(com|de|co\.uk)(/[a-z]{0,5})?", fullmatch=True
    )
)
def test_websites_become_bare_domains(url: str) -> None:
    result = assert_idempotent(standardize_website, url)
    assert isinstance(result.value, str)
    assert not result.value.startswith("www.")
    assert "/" not in result.value
    assert ":" not in result.value


# -- scalars, text, categories, references -------------------------------------------------


@pytest.mark.parametrize(
    ("standardize", "raw", "expected"),
    [
        (standardize_integer, "1,200", 1200),
        (standardize_integer, 12.0, 12),
        (standardize_integer, " 42 ", 42),
        (standardize_number, "12,5", 12.5),
        (standardize_number, "60", 60),
        (standardize_boolean, "Yes", True),
        (standardize_boolean, "false", False),
        (standardize_boolean, 1, True),
        (standardize_text, "  VP   of\tSales ", "VP of Sales"),
        (standardize_reference, 42, "42"),
        (standardize_reference, " 003Dn00000A1bCdIAJ ", "003Dn00000A1bCdIAJ"),
    ],
)
def test_scalar_examples(standardize: Standardizer, raw: object, expected: object) -> None:
    result = standardize(raw)
    assert result.value == expected
    assert type(result.value) is type(expected)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("Closed Won", "closed_won"), ("closed-won", "closed_won"), ("NEW", "new")],
)
def test_closed_categories_match_loosely(raw: str, expected: str) -> None:
    assert standardize_category(raw, ("closed_won", "new")).value == expected


def test_unknown_category_and_bad_scalars_are_invalid() -> None:
    assert standardize_category("maybe", ("hot", "cold")).reason == "unknown_category"
    assert standardize_integer(12.5).reason == "invalid_integer"
    assert standardize_number(float("nan")).reason == "invalid_number"
    assert standardize_boolean("perhaps").reason == "invalid_boolean"
    assert standardize_text(5).reason == "invalid_text"
    assert standardize_reference(1.5).reason == "invalid_reference"


def test_reason_and_flag_codes_are_snake_case() -> None:
    for code in [*Reason, *Flag]:
        assert re.fullmatch(r"[a-z]+(_[a-z]+)*", code.value)


def test_a_debezium_date_column_counts_days_since_the_epoch() -> None:
    # io.debezium.time.Date: 2024-02-29 is day 19,782; negative days are before 1970.
    assert standardize_date(19_782).value == "2024-02-29"
    assert standardize_date(-1).value == "1969-12-31"
    assert standardize_datetime(19_782).value == "1970-01-01T05:29:42Z", "date-times stay epochs"
