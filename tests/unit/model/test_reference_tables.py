"""Our country and currency tables, checked against maintained references (dev-only
dependencies: the Lambda layer keeps its own compact tables, model/countries.py and
model/money.py).

- Countries: the same alpha-2 and alpha-3 codes as pycountry's ISO 3166-1, and every ISO
  short name (as ISO writes it, e.g. "Korea, Republic of") resolves to its own code.
- Currencies: the same active ISO 4217 codes as the iso4217 package's list (those with a minor
  unit: funds and metals such as XAU or XDR have none), each with the same exponent.
"""

from __future__ import annotations

import iso4217
import pycountry
import pytest

from opayo_fba.model.countries import ALPHA3_BY_ALPHA2, country_code
from opayo_fba.model.money import CURRENCY_EXPONENTS


def test_the_country_codes_are_iso_3166_1() -> None:
    assert {c.alpha_2: c.alpha_3 for c in pycountry.countries} == ALPHA3_BY_ALPHA2


@pytest.mark.parametrize("country", list(pycountry.countries), ids=lambda c: str(c.alpha_2))
def test_every_iso_name_of_a_country_resolves_to_it(country: object) -> None:
    names = {country.name, getattr(country, "common_name", None)} - {None}
    for name in names:
        assert country_code(name) == country.alpha_2, name


def test_the_currencies_and_their_minor_units_are_iso_4217() -> None:
    iso = {c.code: c.exponent for c in iso4217.Currency if c.exponent is not None}
    assert iso == CURRENCY_EXPONENTS
