"""Countries to ISO 3166-1 alpha-2 codes, from codes, English names, native names and aliases.

The table ships in code (all 249 ISO 3166-1 entries, plus XK for Kosovo, which the EU, CLDR
and libphonenumber use), so standardizing never needs the network or a data package. Each line
is ``alpha-2 alpha-3 English short name|alias|...`` (an indented line continues the
aliases of the line above); aliases cover what CRMs actually hold: "USA", "U.S.", "UK",
"Great Britain", "England", "Holland", "Deutschland", "España", "Brasil", "Türkiye",
"Czech Republic", "South Korea", ... Lookups ignore case, accents, dots, apostrophes, a
leading "The" and "St" vs "Saint" (see :func:`~schemas.standardize.text.lookup_key`).

>>> standardize_country("Deutschland").value, standardize_country("u.s.a.").value
('DE', 'US')
>>> standardize_country("Atlantis").reason
'unknown_country'
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from types import MappingProxyType
from typing import Final

from schemas.standardize.result import (
    Reason,
    Standardized,
    empty,
    invalid,
    memoized,
    standardized,
)
from schemas.standardize.text import lookup_key

__all__ = ["COUNTRIES", "Country", "country_code", "standardize_country"]

# fmt: off
_TABLE = """
AD AND Andorra
AE ARE United Arab Emirates|UAE|U.A.E.|Emirates
AF AFG Afghanistan
AG ATG Antigua and Barbuda
AI AIA Anguilla
AL ALB Albania|Shqipëria
AM ARM Armenia
AO AGO Angola
AQ ATA Antarctica
AR ARG Argentina
AS ASM American Samoa
AT AUT Austria|Österreich|Autriche
AU AUS Australia
AW ABW Aruba
AX ALA Åland Islands|Aland
AZ AZE Azerbaijan
BA BIH Bosnia and Herzegovina|Bosnia|Bosnia-Herzegovina
BB BRB Barbados
BD BGD Bangladesh
BE BEL Belgium|België|Belgique|Belgien
BF BFA Burkina Faso
BG BGR Bulgaria
BH BHR Bahrain
BI BDI Burundi
BJ BEN Benin
BL BLM Saint Barthélemy|St Barts
BM BMU Bermuda
BN BRN Brunei Darussalam|Brunei
BO BOL Bolivia|Bolivia, Plurinational State of
BQ BES Bonaire, Sint Eustatius and Saba|Caribbean Netherlands|Bonaire
BR BRA Brazil|Brasil
BS BHS Bahamas
BT BTN Bhutan
BV BVT Bouvet Island
BW BWA Botswana
BY BLR Belarus
BZ BLZ Belize
CA CAN Canada
CC CCK Cocos (Keeling) Islands|Cocos Islands
CD COD Congo, Democratic Republic of the|Democratic Republic of the Congo
    Democratic Republic of Congo|DR Congo|DRC|Congo-Kinshasa
CF CAF Central African Republic
CG COG Congo|Republic of the Congo|Congo-Brazzaville
CH CHE Switzerland|Schweiz|Suisse|Svizzera
CI CIV Côte d'Ivoire|Ivory Coast
CK COK Cook Islands
CL CHL Chile
CM CMR Cameroon
CN CHN China|People's Republic of China|PRC|中国
CO COL Colombia
CR CRI Costa Rica
CU CUB Cuba
CV CPV Cabo Verde|Cape Verde
CW CUW Curaçao
CX CXR Christmas Island
CY CYP Cyprus
CZ CZE Czechia|Czech Republic|Česko|Česká republika
DE DEU Germany|Deutschland|Allemagne|Alemania|Germania|Federal Republic of Germany
DJ DJI Djibouti
DK DNK Denmark|Danmark
DM DMA Dominica
DO DOM Dominican Republic
DZ DZA Algeria
EC ECU Ecuador
EE EST Estonia|Eesti
EG EGY Egypt
EH ESH Western Sahara
ER ERI Eritrea
ES ESP Spain|España|Espagne|Spanien|Spagna
ET ETH Ethiopia
FI FIN Finland|Suomi
FJ FJI Fiji
FK FLK Falkland Islands (Malvinas)|Falkland Islands
FM FSM Micronesia, Federated States of|Micronesia
FO FRO Faroe Islands
FR FRA France|Frankreich|Francia
GA GAB Gabon
GB GBR United Kingdom|United Kingdom of Great Britain and Northern Ireland|UK|Great Britain
    Britain|England|Scotland|Wales|Northern Ireland
GD GRD Grenada
GE GEO Georgia
GF GUF French Guiana
GG GGY Guernsey
GH GHA Ghana
GI GIB Gibraltar
GL GRL Greenland
GM GMB Gambia
GN GIN Guinea
GP GLP Guadeloupe
GQ GNQ Equatorial Guinea
GR GRC Greece|Hellas|Ελλάδα
GS SGS South Georgia and the South Sandwich Islands
GT GTM Guatemala
GU GUM Guam
GW GNB Guinea-Bissau
GY GUY Guyana
HK HKG Hong Kong
HM HMD Heard Island and McDonald Islands
HN HND Honduras
HR HRV Croatia|Hrvatska
HT HTI Haiti
HU HUN Hungary|Magyarország
ID IDN Indonesia
IE IRL Ireland|Republic of Ireland|Éire
IL ISR Israel
IM IMN Isle of Man
IN IND India|Bharat
IO IOT British Indian Ocean Territory
IQ IRQ Iraq
IR IRN Iran|Iran, Islamic Republic of
IS ISL Iceland|Ísland
IT ITA Italy|Italia|Italien
JE JEY Jersey
JM JAM Jamaica
JO JOR Jordan
JP JPN Japan|Nippon|日本
KE KEN Kenya
KG KGZ Kyrgyzstan
KH KHM Cambodia
KI KIR Kiribati
KM COM Comoros
KN KNA Saint Kitts and Nevis
KP PRK Korea, Democratic People's Republic of|North Korea
KR KOR Korea, Republic of|South Korea|Korea|Republic of Korea|대한민국|한국
KW KWT Kuwait
KY CYM Cayman Islands
KZ KAZ Kazakhstan
LA LAO Lao People's Democratic Republic|Laos
LB LBN Lebanon
LC LCA Saint Lucia
LI LIE Liechtenstein
LK LKA Sri Lanka
LR LBR Liberia
LS LSO Lesotho
LT LTU Lithuania|Lietuva
LU LUX Luxembourg|Luxemburg
LV LVA Latvia|Latvija
LY LBY Libya
MA MAR Morocco|Maroc
MC MCO Monaco
MD MDA Moldova|Moldova, Republic of
ME MNE Montenegro
MF MAF Saint Martin (French part)|Saint Martin
MG MDG Madagascar
MH MHL Marshall Islands
MK MKD North Macedonia|Macedonia
ML MLI Mali
MM MMR Myanmar|Burma
MN MNG Mongolia
MO MAC Macao|Macau
MP MNP Northern Mariana Islands
MQ MTQ Martinique
MR MRT Mauritania
MS MSR Montserrat
MT MLT Malta
MU MUS Mauritius
MV MDV Maldives
MW MWI Malawi
MX MEX Mexico|México
MY MYS Malaysia
MZ MOZ Mozambique
NA NAM Namibia
NC NCL New Caledonia
NE NER Niger
NF NFK Norfolk Island
NG NGA Nigeria
NI NIC Nicaragua
NL NLD Netherlands|Netherlands (Kingdom of the)|Holland|Nederland|Niederlande|Pays-Bas
    Países Bajos
NO NOR Norway|Norge|Noreg
NP NPL Nepal
NR NRU Nauru
NU NIU Niue
NZ NZL New Zealand|Aotearoa
OM OMN Oman
PA PAN Panama
PE PER Peru
PF PYF French Polynesia
PG PNG Papua New Guinea
PH PHL Philippines
PK PAK Pakistan
PL POL Poland|Polska
PM SPM Saint Pierre and Miquelon
PN PCN Pitcairn|Pitcairn Islands
PR PRI Puerto Rico
PS PSE Palestine, State of|Palestine
PT PRT Portugal
PW PLW Palau
PY PRY Paraguay
QA QAT Qatar
RE REU Réunion
RO ROU Romania|România
RS SRB Serbia|Srbija
RU RUS Russian Federation|Russia|Россия
RW RWA Rwanda
SA SAU Saudi Arabia|KSA
SB SLB Solomon Islands
SC SYC Seychelles
SD SDN Sudan
SE SWE Sweden|Sverige|Schweden
SG SGP Singapore
SH SHN Saint Helena, Ascension and Tristan da Cunha|Saint Helena
SI SVN Slovenia|Slovenija
SJ SJM Svalbard and Jan Mayen
SK SVK Slovakia|Slovensko
SL SLE Sierra Leone
SM SMR San Marino
SN SEN Senegal
SO SOM Somalia
SR SUR Suriname
SS SSD South Sudan
ST STP Sao Tome and Principe
SV SLV El Salvador
SX SXM Sint Maarten (Dutch part)|Sint Maarten
SY SYR Syrian Arab Republic|Syria
SZ SWZ Eswatini|Swaziland
TC TCA Turks and Caicos Islands
TD TCD Chad
TF ATF French Southern Territories
TG TGO Togo
TH THA Thailand
TJ TJK Tajikistan
TK TKL Tokelau
TL TLS Timor-Leste|East Timor
TM TKM Turkmenistan
TN TUN Tunisia
TO TON Tonga
TR TUR Türkiye|Turkey
TT TTO Trinidad and Tobago
TV TUV Tuvalu
TW TWN Taiwan|Taiwan, Province of China
TZ TZA Tanzania|Tanzania, United Republic of
UA UKR Ukraine|Україна
UG UGA Uganda
UM UMI United States Minor Outlying Islands
US USA United States|United States of America|America
UY URY Uruguay
UZ UZB Uzbekistan
VA VAT Holy See|Vatican City|Vatican
VC VCT Saint Vincent and the Grenadines
VE VEN Venezuela|Venezuela, Bolivarian Republic of
VG VGB Virgin Islands (British)|British Virgin Islands
VI VIR Virgin Islands (U.S.)|U.S. Virgin Islands
VN VNM Viet Nam|Vietnam
VU VUT Vanuatu
WF WLF Wallis and Futuna
WS WSM Samoa
XK XKX Kosovo
YE YEM Yemen
YT MYT Mayotte
ZA ZAF South Africa
ZM ZMB Zambia
ZW ZWE Zimbabwe
"""
# fmt: on


@dataclass(frozen=True, slots=True)
class Country:
    """One country: its ISO 3166-1 codes and English short name."""

    alpha2: str
    alpha3: str
    name: str


def _parse(table: str) -> tuple[dict[str, Country], dict[str, str]]:
    """The countries by alpha-2, and every lookup key (codes, names, aliases) to alpha-2."""
    countries: dict[str, Country] = {}
    keys: dict[str, str] = {}
    alpha2 = ""
    for line in table.strip().splitlines():
        if line.startswith(" "):
            spellings = line.strip().split("|")
        else:
            alpha2, alpha3, names = line.split(" ", 2)
            spellings = [alpha2, alpha3, *names.split("|")]
            countries[alpha2] = Country(alpha2, alpha3, spellings[2])
        for spelling in spellings:
            key = _country_key(spelling)
            if keys.setdefault(key, alpha2) != alpha2:
                raise ValueError(f"{spelling!r} names both {keys[key]} and {alpha2}")
    return countries, keys


def _country_key(text: str) -> str:
    words = lookup_key(text).split(" ")
    if len(words) > 1 and words[0] == "the":
        words = words[1:]
    return " ".join("saint" if word == "st" else word for word in words)


_COUNTRIES, _KEYS = _parse(_TABLE)

COUNTRIES: Final[Mapping[str, Country]] = MappingProxyType(_COUNTRIES)
"""Every known country by its alpha-2 code: what :func:`standardize_country` can return."""


@lru_cache(maxsize=4096)
def country_code(text: str) -> str | None:
    """The alpha-2 code ``text`` names, or ``None``; cached, since a CRM repeats its countries.

    >>> country_code("The Netherlands"), country_code("GBR"), country_code("St. Lucia")
    ('NL', 'GB', 'LC')
    """
    return _KEYS.get(_country_key(text))


@memoized
def standardize_country(value: object) -> Standardized:
    """A country as its ISO 3166-1 alpha-2 code; unknown ones stay as typed, invalid.

    >>> standardize_country("España").value, standardize_country("UK").value
    ('ES', 'GB')
    """
    if value is None:
        return empty(value)
    if not isinstance(value, str):
        return invalid(value, Reason.UNKNOWN_COUNTRY)
    if not value.strip():
        return empty(value)
    code = country_code(value)
    return standardized(value, code) if code else invalid(value, Reason.UNKNOWN_COUNTRY)
