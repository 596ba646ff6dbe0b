"""Issue periods: ISO weeks (or explicit ranges) in the newsletter's timezone.

An issue is named by its ISO week ("2023-W19"); the period is the half-open interval from
Monday 00:00 to the next Monday 00:00 local time, so DST changes need no special case.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from .errors import UsageError, quoted
from .i18n import t
from .models import Period

_WEEK = re.compile(r"^(\d{4})-?W(\d{2})$", re.I)

# The calendar digest works in. Python's ends at 9999-12-31, and an issue reaches past its
# days (the next Monday, deadlines, the weeks before it), so the last year is left as room;
# before 1900, a year is a typo (0203 for 2023), not a back-fill.
FIRST_DAY = date(1900, 1, 1)
LAST_DAY = date(9998, 12, 31)


def in_calendar(day: date) -> bool:
    """Whether `day` is in the calendar digest works in (FIRST_DAY to LAST_DAY)."""
    return FIRST_DAY <= day <= LAST_DAY


def _outside(option: str, text: str) -> UsageError:
    return UsageError(
        t("period.outside", option=option, value=text, first=FIRST_DAY, last=LAST_DAY),
        hint=t("period.outside_hint"),
    )


def week_period(week: str, tz: ZoneInfo) -> Period:
    """The period of ISO week `week` ("2023-W19")."""
    match = _WEEK.match(week.strip())
    if not match:
        raise UsageError(
            t("period.not_a_week", week=quoted(week)), hint=t("period.not_a_week_hint")
        )
    year, number = int(match[1]), int(match[2])
    try:
        monday = date.fromisocalendar(year, number, 1)
    except ValueError as exc:
        raise UsageError(t("period.no_such_week", year=year, number=number)) from exc
    if not in_calendar(monday):  # as --as-of: a week is in if it starts in
        raise _outside("--week", week.strip())
    return _period_from_monday(monday, tz)


def is_week(text: str) -> bool:
    """Whether `text` names an ISO week ("2023-W19"), as issue ids do."""
    match = _WEEK.match(text.strip())
    if not match:
        return False
    try:
        monday = date.fromisocalendar(int(match[1]), int(match[2]), 1)
    except ValueError:
        return False
    return in_calendar(monday)


def unknown_issue_hint(issue_id: str) -> str:
    """The hint for an issue the store does not have: build it, or the ids that exist."""
    if is_week(issue_id):
        return t("period.unknown_issue_hint", week=issue_id.upper())
    return t("period.issue_names_hint")


def week_of(moment: datetime, tz: ZoneInfo) -> Period:
    """The ISO week that contains `moment`, seen in `tz`."""
    local = moment.astimezone(tz).date()
    return _period_from_monday(local - timedelta(days=local.weekday()), tz)


def range_period(since: date, until: date, tz: ZoneInfo) -> Period:
    """From `since` 00:00 to the end of `until` (inclusive), named after `until`'s week."""
    for option, day in (("--since", since), ("--until", until)):
        if not in_calendar(day):
            raise _outside(option, day.isoformat())
    if until < since:
        raise UsageError(t("period.until_before_since", until=until, since=since))
    start = datetime.combine(since, time(), tz)
    end = datetime.combine(until + timedelta(days=1), time(), tz)
    year, week, _ = until.isocalendar()
    return Period(name=f"{year}-W{week:02d}", start=start, end=end)


def _period_from_monday(monday: date, tz: ZoneInfo) -> Period:
    year, week, _ = monday.isocalendar()
    start = datetime.combine(monday, time(), tz)
    end = datetime.combine(monday + timedelta(days=7), time(), tz)
    return Period(name=f"{year}-W{week:02d}", start=start, end=end)


def parse_moment(text: str, tz: ZoneInfo, option: str = "--as-of") -> datetime:
    """An --as-of value: an ISO date or datetime; naive values are local to the newsletter.

    UsageError if it is not one, or if it falls outside FIRST_DAY..LAST_DAY (as written or
    in the newsletter's timezone): nothing computed from it can then overflow.
    """
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise UsageError(
            t("period.not_a_moment", option=option, value=quoted(text)),
            hint=t("period.not_a_moment_hint"),
        ) from exc
    moment = moment if moment.tzinfo else moment.replace(tzinfo=tz)
    # The date as written first: converting 0001-01-01T00:00+05:00 would itself overflow.
    if not (in_calendar(moment.date()) and in_calendar(moment.astimezone(tz).date())):
        raise _outside(option, text.strip())
    return moment
