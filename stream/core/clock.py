"""A tick's clock: what its `now` means in the policy's timezone, the same for every learner
that one tick sweeps over, so it is worked out once per tick, not once per learner.

`today` is kept far enough inside the calendar that the step's day arithmetic (a
follow-up `follow_up.days` ahead, assignments pruned `assignments.counting_days` back)
never leaves it: a tick in the first year of the calendar or its last weeks is
evaluated as of the nearest day that leaves room. No real clock is ever near either end."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache
from zoneinfo import ZoneInfo

from stream.core.policy import Policy
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
    follow_up = policy.follow_up
    ahead = max(follow_up.days, follow_up.exposed_days) + 1
    back = policy.assignments.counting_days + 1
    grace = policy.weeks.close_grace_hours
    return _clock(now, now.tzinfo, now.fold, policy.tz, grace, back, ahead)


@lru_cache(maxsize=64)
def _clock(
    now: dt.datetime,
    zone: dt.tzinfo | None,
    fold: int,
    tz: ZoneInfo,
    grace_hours: float,
    back: int,
    ahead: int,
) -> Clock:
    """The clock at `now` for a policy's timezone, grace and room (`back` days before
    today, `ahead` after it: see the module docstring). A pure function of its arguments;
    `now`'s zone and fold are in them so that equal arguments are one way of writing `now`
    (equal instants written in two zones take the grace off in their own wall time)."""
    today = _with_room(local_date(now, tz), back, ahead)
    return Clock(now, today, last_closed_week(now, tz, dt.timedelta(hours=grace_hours)))


def _with_room(today: dt.date, back: int, ahead: int) -> dt.date:
    """The day nearest `today` from which the step's day arithmetic (`back` days before,
    `ahead` days after) stays in the calendar."""
    earliest = add_days(dt.date.min, back)
    latest = add_days(dt.date.max, -ahead)
    return min(max(today, earliest), latest)
