"""Today and the last closed week as a tick sees them (its `Clock`): what the tick's `now`
means in the policy's timezone, the same for every learner that one tick sweeps over, so it
is worked out once per tick, not once per learner.

`today` is kept far enough inside the calendar that the step's day arithmetic (a
follow-up `follow_up.days` ahead, assignments pruned `assignments.counting_days` back)
never leaves it: a tick in the first year of the calendar or its last weeks is
evaluated as of the nearest day that leaves room. No real clock is ever near either end."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache

from stream.core.policy import Calendar, Policy
from stream.core.weeks import add_days, last_closed_week, local_date


@dataclass(frozen=True, slots=True)
class Clock:
    """What a tick's `now` means in the policy's timezone; the same for every learner."""

    now: dt.datetime
    today: dt.date
    closed: int  # the latest week that closed at least the grace period before `now`


def clock_at(now: dt.datetime, policy: Policy) -> Clock:
    """The clock of a tick at `now` in the policy's timezone, worked out once for all the
    learners one tick sweeps over (`_clock` is remembered by its arguments)."""
    return _clock(now, now.tzinfo, now.fold, policy.calendar)


@lru_cache(maxsize=64)
def _clock(now: dt.datetime, zone: dt.tzinfo | None, fold: int, calendar: Calendar) -> Clock:
    """The clock at `now` for a policy's calendar. A pure function of its arguments; `now`'s
    zone and fold are in them so that equal arguments are one way of writing `now` (equal
    instants written in two zones take the grace off in their own wall time)."""
    tz = calendar.tz
    today = _with_room(local_date(now, tz), calendar.back, calendar.ahead)
    grace = dt.timedelta(hours=calendar.close_grace_hours)
    return Clock(now, today, last_closed_week(now, tz, grace))


def _with_room(today: dt.date, back: int, ahead: int) -> dt.date:
    """The day nearest `today` from which the step's day arithmetic (`back` days before,
    `ahead` days after) stays in the calendar."""
    earliest = add_days(dt.date.min, back)
    latest = add_days(dt.date.max, -ahead)
    return min(max(today, earliest), latest)
