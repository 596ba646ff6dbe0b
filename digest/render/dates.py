"""Dates as subscribers read them: "jeudi 11 mai", "Semaine du 8 au 14 mai 2023".

Babel supplies the day and month names of the language; the catalogue's date.* messages
supply how they are put together, so French gets "du 29 mai au 4 juin 2023" and "1er".
French dates then get their no-break spaces (render.typography): "14 mai", "mai 2023",
"dimanche 14" and "9 h 30" never break across lines, in the email, its text part and the
site alike.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from babel.dates import format_date

from ..i18n import Messages, say
from ..models import Period
from .typography import is_french, typo_text


@lru_cache(maxsize=1024)
def _names(day: date, locale: str) -> tuple[str, str]:
    """Weekday and month names (cached: an issue shows the same few days many times)."""
    return format_date(day, "EEEE", locale=locale), format_date(day, "MMMM", locale=locale)


def _locale(words: Messages) -> str:
    # TRANSLATORS: not a sentence: the Babel locale whose day and month names dates use.
    return say(words, "date.locale")


def _spaced(label: str, words: Messages) -> str:
    """`label` with French no-break spaces when the words are French (catalogue messages
    and staff's own .po files need only ordinary spaces)."""
    return _typeset(label) if is_french(words.language) else label


@lru_cache(maxsize=1024)
def _typeset(label: str) -> str:
    """typo_text, cached: an issue shows the same few dates many times."""
    return typo_text(label)


def _number(day: date, words: Messages) -> str:
    return say(words, "date.first_day") if day.day == 1 else str(day.day)


def day_label(moment: datetime, tz: ZoneInfo, words: Messages, *, year: bool) -> str:
    """ "jeudi 11 mai" (with the year when asked), in the newsletter's timezone."""
    day = moment.astimezone(tz).date()
    weekday, month = _names(day, _locale(words))
    number = _number(day, words)
    if year:
        label = say(words, "date.day_year", weekday=weekday, d=number, month=month, year=day.year)
    else:
        label = say(words, "date.day", weekday=weekday, d=number, month=month)
    return _spaced(label, words)


def issue_year(period: Period, tz: ZoneInfo) -> int | None:
    """The year of every day of `period`, or None when it spans two years or more (the week
    of 30 December to 5 January, `--since 2023-12-20 --until 2024-01-10`)."""
    first = period.start.astimezone(tz).date()
    last = (period.end.astimezone(tz) - timedelta(microseconds=1)).date()
    return first.year if first.year == last.year else None


def other_year(moment: datetime, tz: ZoneInfo, year: int | None) -> bool:
    """True when a date must show its year: it is not `year`, the issue's (None: the issue
    spans several years, so every date shows it)."""
    return moment.astimezone(tz).year != year


def event_label(moment: datetime, tz: ZoneInfo, words: Messages, year: int | None) -> str:
    """An agenda date: the day, the year when it is not `year` (see `issue_year`), and the
    time unless 00:00."""
    local = moment.astimezone(tz)
    label = day_label(local, tz, words, year=other_year(local, tz, year))
    if local.minute:
        minutes = f"{local.minute:02d}"
        label += ", " + _spaced(say(words, "date.time", h=local.hour, mm=minutes), words)
    elif local.hour:
        label += ", " + _spaced(say(words, "date.time_hour", h=local.hour), words)
    return label


def _range(first: date, last: date, words: Messages) -> str:
    locale = _locale(words)
    values = {
        "d1": _number(first, words),
        "d2": _number(last, words),
        "m1": _names(first, locale)[1],
        "m2": _names(last, locale)[1],
        "y1": first.year,
        "y2": last.year,
    }
    if first.year != last.year:
        return say(words, "date.range_other_year", **values)
    if first.month != last.month:
        return say(words, "date.range_same_year", **values)
    return say(words, "date.range_same_month", **values)


def period_label(period: Period, tz: ZoneInfo, words: Messages) -> str:
    """ "Semaine du 8 au 14 mai 2023" for an ISO week, "Du 1er au 20 mai 2023" otherwise."""
    return _spaced(_period(period, tz, words), words)


def _period(period: Period, tz: ZoneInfo, words: Messages) -> str:
    first = period.start.astimezone(tz).date()
    # The period's end is exclusive: its last day is the day before.
    last = (period.end.astimezone(tz) - timedelta(microseconds=1)).date()
    if first == last:
        day = f"{_number(first, words)} {_names(first, _locale(words))[1]} {first.year}"
        return say(words, "date.day_period", day=day)
    if (last - first).days == 6 and first.weekday() == 0:
        return say(words, "date.week", range=_range(first, last, words))
    return say(words, "date.period", range=_range(first, last, words))
