"""When a clock tick can next change a learner: everything in between is a no-op.

After a tick at `now`, a learner's state is a fixed point of later ticks until one of
these instants (`on_tick` in `stream.core.step` is idempotent):

- the next week's evaluation: its close plus the policy's grace;
- a day on which an assignment's standing changes: the day after its due day (missed),
  the day after its compliance limit (overdue), for a milestone the day after its counting
  window (no longer counted, and pruned), for completed assignments (stored by earlier
  releases, duties too) only the last. A duty (compliance, certification:
  `assignments.until_completed`) counts until completed, so its overdue days keep growing,
  but nothing it calls for changes after its limit: the tier only rises, and cannot fall
  while it counts; it is never pruned by a tick (`expires` says which are);
- the follow-up's due day;
- the day an overdue follow-up's reminder or escalation comes due
  (`stream.core.reminders.next_day`);
- the day after a leaving day (`stream.core.leaving`), when the tick ends the learner's
  evaluation; once ended, never (until a record arrives).

The deadline conditions, the follow-up's decision and the Tier 2 re-arming depend on the
day only through these dates (`stream.core.tiers`), and `rise` never moves on conditions
that did not change.
A record can change this. An event can set the first week to evaluate, complete an
assignment (which only weakens deadline conditions: the instant can only move later; a
voided one can reopen it, and is taken as an assignment is, below) or
raise the tier (setting a follow-up a day or more ahead), so after an event that set the
first week or the tier `quiet_until` is computed again as of the learner's last tick. A
profile, an assignment or an intervention can make a condition hold at once (a new role's
thresholds, an assignment already overdue, a `resolved`): the learner is evaluated at the
next tick. `stream.core.wakeups.WakeIndex` keeps this per learner, for replay and the
worker alike.

A worker (and a replay) that skips a learner whose `quiet_until` is later than the tick
gives the same states and transitions as one that evaluates everyone: the property tests
check this over generated and simulated histories.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from zoneinfo import ZoneInfo

from stream.core import leaving
from stream.core.policy import Policy
from stream.core.reminders import next_day
from stream.core.state import AssignmentState, LearnerState
from stream.core.today import clock_at
from stream.core.weeks import add_days, day_start, shifted, week_close


def quiet_until(state: LearnerState, now: dt.datetime, policy: Policy) -> dt.datetime | None:
    """The first instant after a tick at `now` at which a tick can change `state` (None:
    never, until a record arrives). A tick earlier than this leaves the state as it is."""
    tz = policy.tz
    today = clock_at(now, policy).today  # worked out once a tick
    last = leaving.left_on(state)
    if last is not None:
        if leaving.ended(state, tz):
            return None  # nothing is judged after the leaving day
        if today > last:  # not ended yet (a record since the tick): at once
            return now
    candidates: list[dt.datetime] = []
    start = state.first_week if state.evaluated_week is None else state.evaluated_week + 1
    if start is not None:
        candidates.append(_evaluated_at(start, tz, policy.weeks.close_grace_hours))
    days = [day for day in _deadline_days(state, policy) if day > today]
    if state.follow_up_due is not None and state.follow_up_due > today:
        days.append(state.follow_up_due)
    chase = next_day(state, policy) if state.talk_by is not None else None
    if chase is not None and chase > today:
        days.append(chase)
    if days:
        candidates.append(day_start(min(days), tz))
    if last is not None:
        candidates.append(leaving.leaving_instant(last, tz))
    return min(candidates, default=None)


@lru_cache(maxsize=4096)
def _evaluated_at(week: int, tz: ZoneInfo, grace_hours: float) -> dt.datetime:
    """When a tick first evaluates `week`: its close plus the grace, in real time (UTC);
    `END_OF_TIME` for a week that closes beyond the calendar."""
    return shifted(week_close(week, tz).astimezone(dt.UTC), dt.timedelta(hours=grace_hours))


def expires(item: AssignmentState, policy: Policy) -> bool:
    """Whether an assignment is forgotten once its counting window has passed: a milestone,
    or one stored completed by an earlier release (`[kind, due, 1]`), a duty too. A duty
    not completed counts until it is. The tick's pruning and the wake-up days share this."""
    return item.completed or item.kind not in policy.assignments.until_completed


def _deadline_days(state: LearnerState, policy: Policy) -> list[dt.date]:
    """The days on which an assignment's standing changes (see the module docstring)."""
    window = policy.assignments.counting_days + 1
    limit = policy.tiers.compliance_overdue_days + 1
    days: list[dt.date] = []
    for item in state.assignments.values():  # saturating: a due day may be 9999-12-31
        if expires(item, policy):
            days.append(add_days(item.due, window))
        if not item.completed:
            days.extend((add_days(item.due, 1), add_days(item.due, limit)))
    for row in state.completions:  # a milestone's row is pruned with it (`completions.prune`)
        if row.kind not in policy.assignments.until_completed:
            days.append(add_days(row.due, window))
    return days
