"""Issue periods: ISO weeks (or explicit ranges) in the newsletter's timezone.

An issue is named by its ISO week ("2023-W19"); the period is the half-open interval from
Monday 00:00 to the next Monday 00:00 local time, so DST changes need no special case.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from .errors import ConfigError
from .models import Period

_WEEK = re.compile(r"^(\d{4})-?W(\d{2})$", re.I)


def week_period(week: str, tz: ZoneInfo) -> Period:
    """The period of ISO week `week` ("2023-W19")."""
    match = _WEEK.match(week.strip())
    if not match:
        raise ConfigError([f"--week: '{week}' is not an ISO week such as 2023-W19"])
    year, number = int(match[1]), int(match[2])
    try:
        monday = date.fromisocalendar(year, number, 1)
    except ValueError as exc:
        raise ConfigError([f"--week: {year} has no week {number}"]) from exc
    return _period_from_monday(monday, tz)


def week_of(moment: datetime, tz: ZoneInfo) -> Period:
    """The ISO week that contains `moment`, seen in `tz`."""
    local = moment.astimezone(tz).date()
    return _period_from_monday(local - timedelta(days=local.weekday()), tz)


def range_period(since: date, until: date, tz: ZoneInfo) -> Period:
    """From `since` 00:00 to the end of `until` (inclusive), named after `until`'s week."""
    if until < since:
        raise ConfigError([f"--until {until} is before --since {since}"])
    start = datetime.combine(since, time(), tz)
    end = datetime.combine(until + timedelta(days=1), time(), tz)
    year, week, _ = until.isocalendar()
    return Period(name=f"{year}-W{week:02d}", start=start, end=end)


def _period_from_monday(monday: date, tz: ZoneInfo) -> Period:
    year, week, _ = monday.isocalendar()
    start = datetime.combine(monday, time(), tz)
    end = datetime.combine(monday + timedelta(days=7), time(), tz)
    return Period(name=f"{year}-W{week:02d}", start=start, end=end)


def parse_moment(text: str, tz: ZoneInfo) -> datetime:
    """An --as-of value: an ISO date or datetime; naive values are local to the newsletter."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise ConfigError([f"'{text}' is not an ISO date or datetime (2023-05-12T09:00)"]) from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=tz)
