"""The date formats Amazon writes in settlement reports -> timezone-aware UTC datetimes.

Seen in V2 flat files: "2026-11-01 08:00:00 UTC", "2026-11-01T08:00:00+00:00",
"2026-11-01T08:00:00Z", "01.11.2026 08:00:00 UTC" (EU marketplaces), "01/11/2026 08:00:00"
(day first, EU), "2026/11/01", and date-only posted-date values. A date without a time
is midnight UTC. Values repeat a lot within a file, so parsing is cached.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from functools import lru_cache

_TIME = r"(?:[T ](?P<H>\d{2}):(?P<M>\d{2})(?::(?P<S>\d{2})(?:\.\d{1,6})?)?)?"
_ZONE = r"\s*(?P<Z>Z|UTC|GMT|[A-Z]{3,4}|[+-]\d{2}:?\d{2})?"
_FORMATS = (
    re.compile(rf"(?P<y>\d{{4}})-(?P<m>\d{{2}})-(?P<d>\d{{2}}){_TIME}{_ZONE}"),
    re.compile(rf"(?P<y>\d{{4}})/(?P<m>\d{{2}})/(?P<d>\d{{2}}){_TIME}{_ZONE}"),
    re.compile(rf"(?P<d>\d{{2}})\.(?P<m>\d{{2}})\.(?P<y>\d{{4}}){_TIME}{_ZONE}"),
    re.compile(rf"(?P<d>\d{{2}})/(?P<m>\d{{2}})/(?P<y>\d{{4}}){_TIME}{_ZONE}"),
)
# Abbreviations Amazon has been seen to print instead of an offset.
_ZONES: dict[str, int] = {
    "Z": 0, "UTC": 0, "GMT": 0, "BST": 60, "CET": 60, "CEST": 120,
    "PST": -480, "PDT": -420, "JST": 540,
}  # fmt: skip


@lru_cache(maxsize=4096)
def parse_amazon_datetime(text: str) -> datetime:
    """Parse one of Amazon's settlement date formats; ValueError naming the value if not."""
    value = text.strip()
    for pattern in _FORMATS:
        match = pattern.fullmatch(value)
        if match is not None:
            break
    else:
        raise ValueError(f"{text!r} is not a date in a format Amazon uses")
    zone = match["Z"] or "UTC"
    if zone[0] in "+-":
        digits = zone[1:].replace(":", "")
        minutes = int(digits[:2]) * 60 + int(digits[2:])
        offset = minutes if zone[0] == "+" else -minutes
    elif zone in _ZONES:
        offset = _ZONES[zone]
    else:
        raise ValueError(f"{text!r} has an unknown time zone {zone!r}")
    try:
        local = datetime(
            int(match["y"]),
            int(match["m"]),
            int(match["d"]),
            int(match["H"] or 0),
            int(match["M"] or 0),
            int(match["S"] or 0),
            tzinfo=timezone(timedelta(minutes=offset)),
        )
    except ValueError as error:
        raise ValueError(f"{text!r} is not a valid date: {error}") from None
    return local.astimezone(UTC)
