"""Dates as subscribers read them: "jeudi 11 mai", "Semaine du 8 au 14 mai 2023".

Babel supplies the day and month names of the language; the catalog in words.py supplies
how they are put together, so French gets "du 29 mai au 4 juin 2023" and "1er".
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from babel.dates import format_date

from ..models import Period


@lru_cache(maxsize=1024)
def _names(day: date, locale: str) -> tuple[str, str]:
    """Weekday and month names (cached: an issue shows the same few days many times)."""
    return format_date(day, "EEEE", locale=locale), format_date(day, "MMMM", locale=locale)


def _number(day: date, words: Mapping[str, str]) -> str:
    return words["first_day"] if day.day == 1 else str(day.day)


def day_label(moment: datetime, tz: ZoneInfo, words: Mapping[str, str], *, year: bool) -> str:
    """ "jeudi 11 mai" (with the year when asked), in the newsletter's timezone."""
    day = moment.astimezone(tz).date()
    weekday, month = _names(day, words["locale"])
    pattern = words["day_year" if year else "day"]
    return pattern.format(weekday=weekday, d=_number(day, words), month=month, year=day.year)


def event_label(moment: datetime, tz: ZoneInfo, words: Mapping[str, str], year: int) -> str:
    """An agenda date: the day, the year when it is not `year`, and the time unless 00:00."""
    local = moment.astimezone(tz)
    label = day_label(local, tz, words, year=local.year != year)
    if local.minute:
        label += ", " + words["time"].format(h=local.hour, mm=f"{local.minute:02d}")
    elif local.hour:
        label += ", " + words["time_hour"].format(h=local.hour)
    return label


def _range(first: date, last: date, words: Mapping[str, str]) -> str:
    locale = words["locale"]
    values = {
        "d1": _number(first, words),
        "d2": _number(last, words),
        "m1": _names(first, locale)[1],
        "m2": _names(last, locale)[1],
        "y1": first.year,
        "y2": last.year,
    }
    if first.year != last.year:
        return words["range_other_year"].format(**values)
    if first.month != last.month:
        return words["range_same_year"].format(**values)
    return words["range_same_month"].format(**values)


def period_label(period: Period, tz: ZoneInfo, words: Mapping[str, str]) -> str:
    """ "Semaine du 8 au 14 mai 2023" for an ISO week, "Du 1er au 20 mai 2023" otherwise."""
    first = period.start.astimezone(tz).date()
    # The period's end is exclusive: its last day is the day before.
    last = (period.end.astimezone(tz) - timedelta(microseconds=1)).date()
    if first == last:
        day = f"{_number(first, words)} {_names(first, words['locale'])[1]} {first.year}"
        return words["day_period"].format(day=day)
    if (last - first).days == 6 and first.weekday() == 0:
        return words["week"].format(range=_range(first, last, words))
    return words["period"].format(range=_range(first, last, words))
