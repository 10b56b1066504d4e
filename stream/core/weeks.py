"""ISO weeks in the policy's timezone, as plain integers.

A week is numbered by the Mondays since 1970-01-05 (a Monday): week 0 is 1970-W02.
Integers make "the previous week" and "weeks between" plain arithmetic, and keep state small.

Every function here is total over the instants and dates a record can hold
(`schemas.limits`): arithmetic that would leave the calendar (a week after the last one,
the day after 9999-12-31) saturates at its ends instead of raising OverflowError.
`END_OF_TIME` stands for "never": later than every instant a record can hold.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

_EPOCH_MONDAY = dt.date(1970, 1, 5)
START_OF_TIME = dt.datetime.min.replace(tzinfo=dt.UTC)
END_OF_TIME = dt.datetime.max.replace(tzinfo=dt.UTC)


def add_days(day: dt.date, days: int) -> dt.date:
    """`day` plus `days` (negative: minus), saturating at the calendar's first and last day."""
    try:
        return day + dt.timedelta(days=days)
    except OverflowError:
        return dt.date.max if days > 0 else dt.date.min


def shifted(at: dt.datetime, delta: dt.timedelta) -> dt.datetime:
    """`at` plus `delta`, saturating at `START_OF_TIME` and `END_OF_TIME`."""
    try:
        return at + delta
    except OverflowError:
        return END_OF_TIME if delta > dt.timedelta(0) else START_OF_TIME


def local_date(at: dt.datetime, tz: ZoneInfo) -> dt.date:
    """The calendar date of an instant in the given timezone (the calendar's first or last
    day for an instant whose local date lies outside it)."""
    try:
        return at.astimezone(tz).date()
    except OverflowError:
        return dt.date.max if at.year > 5000 else dt.date.min


def week_of_date(day: dt.date) -> int:
    """The week number holding a calendar date."""
    return (day - _EPOCH_MONDAY).days // 7


def week_of(at: dt.datetime, tz: ZoneInfo) -> int:
    """The week number holding an instant, in the given timezone."""
    return week_of_date(local_date(at, tz))


def monday(week: int) -> dt.date:
    """The Monday that starts a week (a week beyond the calendar: its first or last day)."""
    return add_days(_EPOCH_MONDAY, 7 * week)


def day_start(day: dt.date, tz: ZoneInfo) -> dt.datetime:
    """Midnight at the start of a calendar day in the given timezone (DST-safe)."""
    return dt.datetime.combine(day, dt.time(0), tzinfo=tz)


_LAST_MONDAY = dt.date(9999, 12, 27)  # the last Monday of the calendar: its week never closes


def week_close(week: int, tz: ZoneInfo) -> dt.datetime:
    """The instant a week closes: midnight of the following Monday (`END_OF_TIME` for a
    week whose following Monday is beyond the calendar)."""
    following = monday(week + 1)
    if following > _LAST_MONDAY or following.weekday() != 0:
        return END_OF_TIME
    return day_start(following, tz)


def week_label(week: int) -> str:
    """The ISO label of a week, such as 2026-W05."""
    year, number, _ = monday(week).isocalendar()
    return f"{year:04d}-W{number:02d}"


def last_closed_week(now: dt.datetime, tz: ZoneInfo, grace: dt.timedelta) -> int:
    """The latest week that closed at least `grace` before `now`."""
    return week_of(shifted(now, -grace), tz) - 1
