"""A tick's clock: what its `now` means in the policy's timezone, the same for every learner
that one tick sweeps over, so it is worked out once per tick, not once per learner.

`today` is kept far enough inside the calendar that the step's day arithmetic (a
follow-up `follow_up.days` ahead, assignments pruned `assignments.counting_days` back)
never leaves it: a tick in the first year of the calendar or its last weeks is
evaluated as of the nearest day that leaves room. No real clock is ever near either end."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from stream.core.policy import Policy
from stream.core.weeks import add_days, last_closed_week, local_date


@dataclass(frozen=True, slots=True)
class Clock:
    """What a tick's `now` means in the policy's timezone; the same for every learner."""

    now: dt.datetime
    today: dt.date
    closed: int  # the latest week that closed at least the grace period before `now`


_last_clock: tuple[Policy, Clock] | None = None


def clock_at(now: dt.datetime, policy: Policy) -> Clock:
    """The clock of a tick, computed once for the learners that one tick sweeps over
    (remembered for the last `now` object and policy; holding both keeps their ids unique)."""
    global _last_clock
    last = _last_clock
    if last is not None and last[0] is policy and last[1].now is now:
        return last[1]
    grace = dt.timedelta(hours=policy.weeks.close_grace_hours)
    today = _with_room(local_date(now, policy.tz), policy)  # see the module docstring
    clock = Clock(now, today, last_closed_week(now, policy.tz, grace))
    _last_clock = (policy, clock)
    return clock


def _with_room(today: dt.date, policy: Policy) -> dt.date:
    """The day nearest `today` from which the step's day arithmetic stays in the calendar."""
    back = policy.assignments.counting_days + 1
    ahead = max(policy.follow_up.days, policy.follow_up.exposed_days) + 1
    earliest = add_days(dt.date.min, back)
    latest = add_days(dt.date.max, -ahead)
    return min(max(today, earliest), latest)
