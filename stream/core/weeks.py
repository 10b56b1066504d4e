"""ISO weeks in the policy's timezone, as plain integers.

A week is numbered by the Mondays since 1970-01-05 (a Monday): week 0 is 1970-W02.
Integers make "the previous week" and "weeks between" plain arithmetic, and keep state small.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

_EPOCH_MONDAY = dt.date(1970, 1, 5)


def local_date(at: dt.datetime, tz: ZoneInfo) -> dt.date:
    """The calendar date of an instant in the given timezone."""
    return at.astimezone(tz).date()


def week_of_date(day: dt.date) -> int:
    """The week number holding a calendar date."""
    return (day - _EPOCH_MONDAY).days // 7


def week_of(at: dt.datetime, tz: ZoneInfo) -> int:
    """The week number holding an instant, in the given timezone."""
    return week_of_date(local_date(at, tz))


def monday(week: int) -> dt.date:
    """The Monday that starts a week."""
    return _EPOCH_MONDAY + dt.timedelta(days=7 * week)


def day_start(day: dt.date, tz: ZoneInfo) -> dt.datetime:
    """Midnight at the start of a calendar day in the given timezone (DST-safe)."""
    return dt.datetime.combine(day, dt.time(0), tzinfo=tz)


def week_close(week: int, tz: ZoneInfo) -> dt.datetime:
    """The instant a week closes: midnight of the following Monday."""
    return day_start(monday(week + 1), tz)


def week_label(week: int) -> str:
    """The ISO label of a week, such as 2026-W05."""
    year, number, _ = monday(week).isocalendar()
    return f"{year}-W{number:02d}"


def last_closed_week(now: dt.datetime, tz: ZoneInfo, grace: dt.timedelta) -> int:
    """The latest week that closed at least `grace` before `now`."""
    return week_of(now - grace, tz) - 1
