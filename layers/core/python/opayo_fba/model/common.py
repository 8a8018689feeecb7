"""Small annotated types every model uses: UTC datetimes and validated identifiers."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, StringConstraints


def _to_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


UtcDatetime = Annotated[AwareDatetime, AfterValidator(_to_utc)]
"""A timezone-aware datetime, converted to UTC. A naive datetime is rejected."""

OrderId = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True,
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/#-]*$",
    ),
]
"""Our order id, or a channel's: letters, digits and . _ : / # - (Amazon's are 3-7-7 digits)."""

Sku = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)]
"""A SKU (internal or Amazon seller SKU); Amazon allows up to 50 characters."""

Asin = Annotated[
    str, StringConstraints(strip_whitespace=True, to_upper=True, pattern=r"^[A-Z0-9]{10}$")
]
"""An Amazon Standard Identification Number: ten letters or digits."""

Email = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$"),
]
"""An e-mail address, checked for shape only (local@domain.tld); delivery proves the rest."""
