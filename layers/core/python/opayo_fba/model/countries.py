"""ISO 3166-1 countries: alpha-2, alpha-3 and the English names people actually type.

A compact built-in table (249 officially assigned codes, ISO 3166-1 as of 2024) rather than a
dependency: the address normaliser only needs "which alpha-2 code did the shop mean", and
pycountry would add megabytes of translations to the Lambda layer for that.

Each row is `alpha-2 alpha-3 Name|Alias|Alias`. Aliases cover common short forms ("UK",
"USA", "Holland", "Czech Republic") and constituent countries that shops put in the country
field ("England", "Scotland"), and ISO's own short names ("Korea, Republic of"). "Korea"
means South Korea. A code may take a second row, for more aliases than fit on one line.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Annotated, Any

from pydantic import BeforeValidator

from opayo_fba.card_numbers import quote_input
from opayo_fba.errors import InvalidInputError

_TABLE = """
AD AND Andorra
AE ARE United Arab Emirates|UAE
AF AFG Afghanistan
AG ATG Antigua and Barbuda
AI AIA Anguilla
AL ALB Albania
AM ARM Armenia
AO AGO Angola
AQ ATA Antarctica
AR ARG Argentina
AS ASM American Samoa
AT AUT Austria
AU AUS Australia
AW ABW Aruba
AX ALA Åland Islands|Aland Islands
AZ AZE Azerbaijan
BA BIH Bosnia and Herzegovina
BB BRB Barbados
BD BGD Bangladesh
BE BEL Belgium
BF BFA Burkina Faso
BG BGR Bulgaria
BH BHR Bahrain
BI BDI Burundi
BJ BEN Benin
BL BLM Saint Barthélemy|Saint Barthelemy
BM BMU Bermuda
BN BRN Brunei Darussalam|Brunei
BO BOL Bolivia|Bolivia, Plurinational State of
BQ BES Bonaire, Sint Eustatius and Saba|Caribbean Netherlands
BR BRA Brazil
BS BHS Bahamas|The Bahamas
BT BTN Bhutan
BV BVT Bouvet Island
BW BWA Botswana
BY BLR Belarus
BZ BLZ Belize
CA CAN Canada
CC CCK Cocos (Keeling) Islands|Cocos Islands
CD COD Democratic Republic of the Congo|DR Congo|Congo-Kinshasa
CD COD Congo, The Democratic Republic of the
CF CAF Central African Republic
CG COG Congo|Republic of the Congo|Congo-Brazzaville
CH CHE Switzerland
CI CIV Côte d'Ivoire|Cote d'Ivoire|Ivory Coast
CK COK Cook Islands
CL CHL Chile
CM CMR Cameroon
CN CHN China|People's Republic of China|PRC
CO COL Colombia
CR CRI Costa Rica
CU CUB Cuba
CV CPV Cabo Verde|Cape Verde
CW CUW Curaçao|Curacao
CX CXR Christmas Island
CY CYP Cyprus
CZ CZE Czechia|Czech Republic
DE DEU Germany|Deutschland
DJ DJI Djibouti
DK DNK Denmark
DM DMA Dominica
DO DOM Dominican Republic
DZ DZA Algeria
EC ECU Ecuador
EE EST Estonia
EG EGY Egypt
EH ESH Western Sahara
ER ERI Eritrea
ES ESP Spain|España|Espana
ET ETH Ethiopia
FI FIN Finland
FJ FJI Fiji
FK FLK Falkland Islands|Falkland Islands (Malvinas)
FM FSM Micronesia|Federated States of Micronesia|Micronesia, Federated States of
FO FRO Faroe Islands
FR FRA France
GA GAB Gabon
GB GBR United Kingdom|UK|Great Britain|Britain|England|Scotland|Wales|Northern Ireland
GD GRD Grenada
GE GEO Georgia
GF GUF French Guiana
GG GGY Guernsey
GH GHA Ghana
GI GIB Gibraltar
GL GRL Greenland
GM GMB Gambia|The Gambia
GN GIN Guinea
GP GLP Guadeloupe
GQ GNQ Equatorial Guinea
GR GRC Greece
GS SGS South Georgia and the South Sandwich Islands
GT GTM Guatemala
GU GUM Guam
GW GNB Guinea-Bissau
GY GUY Guyana
HK HKG Hong Kong
HM HMD Heard Island and McDonald Islands
HN HND Honduras
HR HRV Croatia
HT HTI Haiti
HU HUN Hungary
ID IDN Indonesia
IE IRL Ireland|Republic of Ireland|Eire
IL ISR Israel
IM IMN Isle of Man
IN IND India
IO IOT British Indian Ocean Territory
IQ IRQ Iraq
IR IRN Iran|Iran, Islamic Republic of
IS ISL Iceland
IT ITA Italy|Italia
JE JEY Jersey
JM JAM Jamaica
JO JOR Jordan
JP JPN Japan
KE KEN Kenya
KG KGZ Kyrgyzstan
KH KHM Cambodia
KI KIR Kiribati
KM COM Comoros
KN KNA Saint Kitts and Nevis
KP PRK North Korea|Democratic People's Republic of Korea|Korea, Democratic People's Republic of
KR KOR South Korea|Republic of Korea|Korea|Korea, Republic of
KW KWT Kuwait
KY CYM Cayman Islands
KZ KAZ Kazakhstan
LA LAO Laos|Lao People's Democratic Republic
LB LBN Lebanon
LC LCA Saint Lucia
LI LIE Liechtenstein
LK LKA Sri Lanka
LR LBR Liberia
LS LSO Lesotho
LT LTU Lithuania
LU LUX Luxembourg
LV LVA Latvia
LY LBY Libya
MA MAR Morocco
MC MCO Monaco
MD MDA Moldova|Republic of Moldova|Moldova, Republic of
ME MNE Montenegro
MF MAF Saint Martin|Saint Martin (French part)
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
NL NLD Netherlands|The Netherlands|Holland
NO NOR Norway
NP NPL Nepal
NR NRU Nauru
NU NIU Niue
NZ NZL New Zealand
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
PS PSE Palestine|State of Palestine|Palestine, State of
PT PRT Portugal
PW PLW Palau
PY PRY Paraguay
QA QAT Qatar
RE REU Réunion|Reunion
RO ROU Romania
RS SRB Serbia
RU RUS Russia|Russian Federation
RW RWA Rwanda
SA SAU Saudi Arabia
SB SLB Solomon Islands
SC SYC Seychelles
SD SDN Sudan
SE SWE Sweden|Sverige
SG SGP Singapore
SH SHN Saint Helena, Ascension and Tristan da Cunha|Saint Helena
SI SVN Slovenia
SJ SJM Svalbard and Jan Mayen
SK SVK Slovakia
SL SLE Sierra Leone
SM SMR San Marino
SN SEN Senegal
SO SOM Somalia
SR SUR Suriname
SS SSD South Sudan
ST STP Sao Tome and Principe|São Tomé and Príncipe
SV SLV El Salvador
SX SXM Sint Maarten|Sint Maarten (Dutch part)
SY SYR Syria|Syrian Arab Republic
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
TR TUR Türkiye|Turkey|Turkiye
TT TTO Trinidad and Tobago
TV TUV Tuvalu
TW TWN Taiwan|Taiwan, Province of China
TZ TZA Tanzania|United Republic of Tanzania|Tanzania, United Republic of
UA UKR Ukraine
UG UGA Uganda
UM UMI United States Minor Outlying Islands
US USA United States|United States of America|USA|US|America
UY URY Uruguay
UZ UZB Uzbekistan
VA VAT Holy See|Vatican City|Vatican|Holy See (Vatican City State)
VC VCT Saint Vincent and the Grenadines
VE VEN Venezuela|Venezuela, Bolivarian Republic of
VG VGB British Virgin Islands|Virgin Islands (British)
VI VIR United States Virgin Islands|US Virgin Islands|Virgin Islands (U.S.)
VN VNM Viet Nam|Vietnam
VU VUT Vanuatu
WF WLF Wallis and Futuna
WS WSM Samoa
YE YEM Yemen
YT MYT Mayotte
ZA ZAF South Africa
ZM ZMB Zambia
ZW ZWE Zimbabwe
"""


class UnknownCountryError(InvalidInputError, ValueError):
    """A country is neither an ISO 3166-1 code nor a name in the table."""


def _key(text: str) -> str:
    """Case-, accent- and punctuation-insensitive lookup key: "Côte d'Ivoire" -> "cotedivoire"."""
    decomposed = unicodedata.normalize("NFKD", text.casefold().replace("&", "and"))
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    plain = re.sub(r"^the\s+", "", plain.strip())
    return re.sub(r"[^a-z0-9]", "", plain)


def _load() -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    names: dict[str, str] = {}
    alpha3: dict[str, str] = {}
    lookup: dict[str, str] = {}
    for row in _TABLE.strip().splitlines():
        code2, code3, aliases = row.split(" ", 2)
        spellings = aliases.split("|")
        names.setdefault(code2, spellings[0])  # a second row of a code adds aliases
        alpha3[code2] = code3
        for spelling in spellings:
            lookup.setdefault(_key(spelling), code2)
    return names, alpha3, lookup


COUNTRY_NAMES, ALPHA3_BY_ALPHA2, _BY_NAME = _load()
"""alpha-2 -> English short name, alpha-2 -> alpha-3."""

_ALPHA2_BY_ALPHA3 = {code3: code2 for code2, code3 in ALPHA3_BY_ALPHA2.items()}


def country_code(value: str) -> str:
    """ISO 3166-1 alpha-2 code for an alpha-2 code, an alpha-3 code or a common English name.

    Codes are matched case-insensitively; names ignore case, accents, punctuation and a
    leading "The". Raises UnknownCountryError naming what it could not recognise.
    """
    text = value.strip()
    upper = text.upper()
    if len(upper) == 2 and upper in COUNTRY_NAMES:
        return upper
    if len(upper) == 3 and upper in _ALPHA2_BY_ALPHA3:
        return _ALPHA2_BY_ALPHA3[upper]
    found = _BY_NAME.get(_key(text))
    if found is None:
        raise UnknownCountryError(
            f"unknown country {quote_input(value)}: use an ISO 3166-1 code such as GB or GBR, "
            "or an English name such as United Kingdom"
        )
    return found


def alpha3(code: str) -> str:
    """The alpha-3 code of an alpha-2 code (GB -> GBR)."""
    return ALPHA3_BY_ALPHA2[country_code(code)]


def _to_country_code(value: Any) -> Any:
    return country_code(value) if isinstance(value, str) else value


CountryCode = Annotated[str, BeforeValidator(_to_country_code)]
"""A country field: accepts codes and names, stores the ISO 3166-1 alpha-2 code."""
