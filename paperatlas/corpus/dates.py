"""Parse the dates found in inputs into ISO ``YYYY-MM-DD`` strings."""

from __future__ import annotations

import re
from datetime import datetime

MONTHS = {
    name: number
    for number, name in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"),
        start=1,
    )
}

_ISO = re.compile(r"^(\d{4})-(\d{2})-(\d{2})")
_FORMATS = (
    "%m/%d/%Y",
    "%d %b %Y",
    "%b %d, %Y",
    "%B %d, %Y",
    "%a, %d %b %Y %H:%M:%S %Z",
    "%Y/%m/%d",
    "%Y%m%d",
)


def iso_date(year: int, month: int, day: int) -> str | None:
    """``YYYY-MM-DD`` if the day exists, else ``None``."""
    try:
        return datetime(year, month, day).strftime("%Y-%m-%d")
    except ValueError:
        return None


def parse_date(value: object) -> str | None:
    """An ISO date from common spellings; ``None`` when it cannot be read."""
    if value is None:
        return None
    if hasattr(value, "strftime"):
        try:
            return value.strftime("%Y-%m-%d")  # type: ignore[union-attr]
        except (ValueError, OverflowError):
            return None
    try:
        text = str(value).strip()
    except ValueError:  # an int of over 4,300 digits
        return None
    if not text or len(text) > 100:  # no date is spelled in more
        return None
        return None
    match = _ISO.match(text)
    if match:
        return iso_date(*(int(part) for part in match.groups()))
    if re.fullmatch(r"\d{4}", text):
        return None  # a bare year is not a date
    for fmt in _FORMATS:
        try:
            return datetime.strptime(text, fmt).strftime("%Y-%m-%d")
        except ValueError:
            continue
    return None
