"""A postal address, normalised once at the edge and rendered within each system's limits.

Normalisation: every text field is trimmed, runs of whitespace collapse to one space, control
characters go, and an empty field becomes None. The country becomes an ISO 3166-1 alpha-2
code (from a code, an alpha-3 code or a common English name). UK-format postcodes (GB and the
Crown Dependencies) are upper-cased and spaced ("sw1a1aa" -> "SW1A 1AA"); US ZIP codes become
"12345" or "12345-6789"; US states become their USPS code when spelled out.

Rendering (`render_fba_address`, `render_opayo_address`) fits the address into the target's
field limits. The limits are documented in docs/canonical-model.md with their sources.
Address lines that are too long are first reflowed at a word boundary into a free line; only
if that is impossible is text cut, and only when the caller passes `allow_truncation=True`.
Either way every change is returned as an `AddressAdjustment`, so nothing is lost silently.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, NoReturn

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    StringConstraints,
    ValidationInfo,
    field_validator,
)

from opayo_fba.card_numbers import quote_input
from opayo_fba.errors import InvalidInputError
from opayo_fba.model.countries import CountryCode

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_SPACES = re.compile(r"\s+")


def clean_text(value: Any) -> Any:
    """Trim, collapse whitespace, drop control characters; "" becomes None."""
    if not isinstance(value, str):
        return value
    cleaned = _SPACES.sub(" ", _CONTROL.sub(" ", value)).strip()
    return cleaned or None


# Every free-text field has a length limit (characters, after cleaning). Where a field is sent
# as it is, the limit is the target's; where a renderer reflows or fits it (address lines,
# names), the limit is the most the renderer can place. Sources: docs/canonical-model.md.
TEXT_MAX = 255
"""The default: Opayo's StatusDetail and other provider texts are at most 255 characters."""

CleanText = Annotated[
    Annotated[str, StringConstraints(max_length=TEXT_MAX)] | None, BeforeValidator(clean_text)
]
"""Cleaned text of at most TEXT_MAX characters; None when empty."""
NameText = Annotated[
    Annotated[str, StringConstraints(max_length=100)] | None, BeforeValidator(clean_text)
]
"""A person's or company's name: 100 (FBA's recipient name is 50, Opayo's 20; fitted on
rendering)."""
AddressLineText = Annotated[
    Annotated[str, StringConstraints(max_length=180)] | None, BeforeValidator(clean_text)
]
"""One address line: 180, the three 60-character FBA lines a long line may be reflowed into."""
CityText = Annotated[
    Annotated[str, StringConstraints(max_length=50)] | None, BeforeValidator(clean_text)
]
"""A city: FBA's 50 (Opayo's 40 is fitted on rendering)."""
RegionText = Annotated[
    Annotated[str, StringConstraints(max_length=150)] | None, BeforeValidator(clean_text)
]
"""District, county, state or region: FBA's 150."""
PostalCodeText = Annotated[
    Annotated[str, StringConstraints(max_length=20)] | None, BeforeValidator(clean_text)
]
"""A postcode: FBA's 20 (Opayo's 10 is checked on rendering)."""
PhoneText = Annotated[
    Annotated[str, StringConstraints(max_length=40)] | None, BeforeValidator(clean_text)
]
"""A phone number: 40, room for a formatted international number with an extension (FBA's
20 and Opayo's 19 are fitted on rendering)."""

UK_POSTCODE_COUNTRIES = frozenset({"GB", "JE", "GG", "IM"})
US_ZIP_COUNTRIES = frozenset({"US", "PR", "VI", "GU", "AS", "MP"})
_UK_POSTCODE = re.compile(r"^([A-Z]{1,2}[0-9][A-Z0-9]?)([0-9][A-Z]{2})$")
_US_ZIP = re.compile(r"^([0-9]{5})(?:-?([0-9]{4}))?$")

US_STATES: dict[str, str] = {
    "ALABAMA": "AL", "ALASKA": "AK", "ARIZONA": "AZ", "ARKANSAS": "AR", "CALIFORNIA": "CA",
    "COLORADO": "CO", "CONNECTICUT": "CT", "DELAWARE": "DE", "DISTRICT OF COLUMBIA": "DC",
    "FLORIDA": "FL", "GEORGIA": "GA", "HAWAII": "HI", "IDAHO": "ID", "ILLINOIS": "IL",
    "INDIANA": "IN", "IOWA": "IA", "KANSAS": "KS", "KENTUCKY": "KY", "LOUISIANA": "LA",
    "MAINE": "ME", "MARYLAND": "MD", "MASSACHUSETTS": "MA", "MICHIGAN": "MI",
    "MINNESOTA": "MN", "MISSISSIPPI": "MS", "MISSOURI": "MO", "MONTANA": "MT",
    "NEBRASKA": "NE", "NEVADA": "NV", "NEW HAMPSHIRE": "NH", "NEW JERSEY": "NJ",
    "NEW MEXICO": "NM", "NEW YORK": "NY", "NORTH CAROLINA": "NC", "NORTH DAKOTA": "ND",
    "OHIO": "OH", "OKLAHOMA": "OK", "OREGON": "OR", "PENNSYLVANIA": "PA",
    "RHODE ISLAND": "RI", "SOUTH CAROLINA": "SC", "SOUTH DAKOTA": "SD", "TENNESSEE": "TN",
    "TEXAS": "TX", "UTAH": "UT", "VERMONT": "VT", "VIRGINIA": "VA", "WASHINGTON": "WA",
    "WEST VIRGINIA": "WV", "WISCONSIN": "WI", "WYOMING": "WY", "PUERTO RICO": "PR",
    "GUAM": "GU", "VIRGIN ISLANDS": "VI", "AMERICAN SAMOA": "AS",
    "NORTHERN MARIANA ISLANDS": "MP", "ARMED FORCES AMERICAS": "AA",
    "ARMED FORCES EUROPE": "AE", "ARMED FORCES PACIFIC": "AP",
}  # fmt: skip
"""USPS state and territory codes by upper-case name (Opayo's `state` wants the code)."""
US_STATE_CODES = frozenset(US_STATES.values())


def format_postcode(postcode: str, country_code: str) -> str:
    """Format a postcode by the rules of its country; raise ValueError if clearly malformed."""
    if country_code in UK_POSTCODE_COUNTRIES:
        compact = postcode.replace(" ", "").upper()
        if compact == "GIR0AA":
            return "GIR 0AA"
        match = _UK_POSTCODE.match(compact)
        if match is None:
            raise ValueError(f"{quote_input(postcode)} is not a valid UK postcode (e.g. SW1A 1AA)")
        return f"{match.group(1)} {match.group(2)}"
    if country_code in US_ZIP_COUNTRIES:
        match = _US_ZIP.match(postcode.replace(" ", "-", 1).replace(" ", ""))
        if match is None:
            raise ValueError(
                f"{quote_input(postcode)} is not a valid US ZIP code (12345 or 12345-6789)"
            )
        return match.group(1) + (f"-{match.group(2)}" if match.group(2) else "")
    return postcode.upper()


class Address(BaseModel):
    """A postal address. Only the country is required: Amazon hides most of a buyer's address
    unless a Restricted Data Token was used, and the canonical model must still hold what it got.
    Renderers check what their target requires and name the missing field.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    country_code: CountryCode
    name: NameText = None
    company: NameText = None
    line1: AddressLineText = None
    line2: AddressLineText = None
    line3: AddressLineText = None
    city: CityText = None
    district_or_county: RegionText = None
    state_or_region: RegionText = None
    postal_code: PostalCodeText = None
    phone: PhoneText = None

    @field_validator("postal_code")
    @classmethod
    def _format_postal_code(cls, value: str | None, info: ValidationInfo) -> str | None:
        country = info.data.get("country_code")
        if value is None or country is None:
            return value
        return format_postcode(value, country)

    @field_validator("state_or_region")
    @classmethod
    def _us_state_code(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None or info.data.get("country_code") != "US":
            return value
        upper = value.upper().replace(".", "")
        if upper in US_STATE_CODES:
            return upper
        return US_STATES.get(upper, value)

    def lines(self) -> list[str]:
        return [line for line in (self.line1, self.line2, self.line3) if line]


class AddressAdjustment(BaseModel):
    """One change made to fit a field limit. `dropped` is the text that was cut ("" if none)."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    field: str
    kind: Literal["reflowed", "truncated"]
    limit: int
    original_length: int
    dropped: str = ""

    def describe(self) -> str:
        """A log-safe sentence: lengths and field name, no address text (it is PII)."""
        if self.kind == "reflowed":
            return f"{self.field}: {self.original_length} chars > {self.limit}, moved to next line"
        return (
            f"{self.field}: truncated to {self.limit} chars, "
            f"{len(self.dropped)} of {self.original_length} dropped"
        )


class AddressLimitError(InvalidInputError, ValueError):
    """A field does not fit the target system and truncation was not allowed, or a required
    field is missing. `field` names the target system's field."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(f"{field}: {message}")


class RenderedAddress(BaseModel):
    model_config = ConfigDict(frozen=True, defer_build=True)

    fields: dict[str, str]
    adjustments: tuple[AddressAdjustment, ...] = ()

    @property
    def truncated(self) -> bool:
        return any(adjustment.kind == "truncated" for adjustment in self.adjustments)


# Field limits (characters). Sources and reasoning: docs/canonical-model.md#address-limits.
FBA_ADDRESS_LIMITS: dict[str, int] = {
    "name": 50,
    "addressLine1": 60,
    "addressLine2": 60,
    "addressLine3": 60,
    "city": 50,
    "districtOrCounty": 150,
    "stateOrRegion": 150,
    "postalCode": 20,
    "countryCode": 2,
    "phone": 20,
}
OPAYO_ADDRESS_LIMITS: dict[str, int] = {
    "address1": 50,
    "address2": 50,
    "city": 40,
    "postalCode": 10,
    "country": 2,
    "state": 2,
}
OPAYO_POSTCODE_OPTIONAL = frozenset({"IE"})
"""Opayo requires a billing postcode except where the country has none in common use."""


class FieldFitter:
    """Fits text into field limits: truncates only when allowed, and reports every cut."""

    def __init__(self, allow_truncation: bool) -> None:
        self.allow_truncation = allow_truncation
        self.adjustments: list[AddressAdjustment] = []

    def refuse(self, field: str, value: str, limit: int) -> NoReturn:
        raise AddressLimitError(
            field,
            f"{len(value)} characters exceed the limit of {limit}; shorten it or "
            "render with allow_truncation=True",
        )

    def fit(self, field: str, value: str, limit: int) -> str:
        if len(value) <= limit:
            return value
        if not self.allow_truncation:
            self.refuse(field, value, limit)
        kept = value[:limit].rstrip()
        self.adjustments.append(
            AddressAdjustment(
                field=field,
                kind="truncated",
                limit=limit,
                original_length=len(value),
                dropped=value[len(kept) :].strip(),
            )
        )
        return kept

    def fit_lines(self, fields: list[str], lines: list[str], limit: int) -> dict[str, str]:
        """Spread `lines` over the fields, reflowing long lines at a space into free fields;
        surplus lines are joined into the last field."""
        pending = [line for line in lines if line]
        placed: list[str] = []
        while pending:
            line = pending.pop(0)
            free_after = len(fields) - len(placed) - 1 - len(pending)
            if len(line) > limit and free_after > 0:
                cut = line.rfind(" ", 1, limit + 1)
                if cut > 0:
                    self.adjustments.append(
                        AddressAdjustment(
                            field=fields[len(placed)],
                            kind="reflowed",
                            limit=limit,
                            original_length=len(line),
                        )
                    )
                    placed.append(line[:cut])
                    pending.insert(0, line[cut + 1 :])
                    continue
            placed.append(line)
        if len(placed) > len(fields):
            joined = ", ".join(placed[len(fields) - 1 :])
            placed[len(fields) - 1 :] = [joined]
            self.adjustments.append(
                AddressAdjustment(
                    field=fields[-1], kind="reflowed", limit=limit, original_length=len(joined)
                )
            )
        return {
            field: self.fit(field, line, limit) for field, line in zip(fields, placed, strict=False)
        }


def _require(field: str, value: str | None) -> str:
    if not value:
        raise AddressLimitError(field, "is required but the address has none")
    return value


def render_fba_address(address: Address, *, allow_truncation: bool = False) -> RenderedAddress:
    """The `Address` of Amazon's FBA outbound API (createFulfillmentOrder destinationAddress).

    The company, when present, becomes the first address line, as the Royal Mail and USPS
    conventions put the organisation between the name and the street.
    """
    fitter = FieldFitter(allow_truncation)
    limits = FBA_ADDRESS_LIMITS
    _require("addressLine1", address.line1)
    fields: dict[str, str] = {
        "name": fitter.fit("name", _require("name", address.name), limits["name"]),
    }
    lines = [address.company or "", *address.lines()]
    fields.update(
        fitter.fit_lines(["addressLine1", "addressLine2", "addressLine3"], lines, 60),
    )
    if address.city:
        fields["city"] = fitter.fit("city", address.city, limits["city"])
    elif address.country_code != "JP":
        _require("city", None)
    optional = {
        "districtOrCounty": address.district_or_county,
        "stateOrRegion": address.state_or_region,
    }
    for field, value in optional.items():
        if value:
            fields[field] = fitter.fit(field, value, limits[field])
    postal = _require("postalCode", address.postal_code)
    fields["postalCode"] = fitter.fit("postalCode", postal, limits["postalCode"])
    fields["countryCode"] = address.country_code
    if address.phone:
        fields["phone"] = fitter.fit("phone", address.phone, limits["phone"])
    return RenderedAddress(fields=fields, adjustments=tuple(fitter.adjustments))


def render_opayo_address(address: Address, *, allow_truncation: bool = False) -> RenderedAddress:
    """Opayo Pi `billingAddress` (address1, address2, city, postalCode, country, state).

    The company is left out on purpose: Opayo's AVS check compares the numbers in address1
    and postalCode with the card issuer's record, and a company name in address1 breaks it.
    `state` is sent only for US addresses, as the two-letter USPS code Opayo requires.
    """
    fitter = FieldFitter(allow_truncation)
    limits = OPAYO_ADDRESS_LIMITS
    _require("address1", address.line1)
    fields = fitter.fit_lines(["address1", "address2"], address.lines(), limits["address1"])
    fields["city"] = fitter.fit("city", _require("city", address.city), limits["city"])
    if address.postal_code:
        fields["postalCode"] = fitter.fit("postalCode", address.postal_code, limits["postalCode"])
    elif address.country_code not in OPAYO_POSTCODE_OPTIONAL:
        _require("postalCode", None)
    fields["country"] = address.country_code
    if address.country_code == "US":
        state = _require("state", address.state_or_region)
        if state not in US_STATE_CODES:
            raise AddressLimitError(
                "state", f"{quote_input(state)} is not a US state code (e.g. NY)"
            )
        fields["state"] = state
    return RenderedAddress(fields=fields, adjustments=tuple(fitter.adjustments))
