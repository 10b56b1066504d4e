"""What an event gave its week, and taking it back (a voided event: an xAPI voiding).

Counting an event in its open week also remembers what it gave (`OpenWeek.gave`, one small
code per id in `seen`, aligned from the end): the weekday it made active (activity only),
a completion, a fall. A voided event names the event it takes back (`retracts`: its id,
its time, the score it added). Then:

- its week still open: what it gave comes off the week (events, completions; the day and
  the fall when no other event there gave them too);
- its week evaluated: the week's own row stays (history is not rewritten), but its share
  of the baseline later weeks are compared with comes off, when the week is in the
  baseline; an event that came after its week was evaluated never counted (`late_keys`);
- in both, its score leaves the previous scores later assessments are compared with, and
  a completion reopens the assignment it closed (`stream.core.completions`);
- the learner's first active week, when all its activity is taken back, moves on to the
  next week with activity, and the baseline keeps the weeks from there on.

Transitions already emitted stay, and the tier does not move now: a retraction changes
only what later evaluations see. Each retraction is remembered (`retracted`, bounded), so a
repeated one takes back nothing more and the voided event, if it comes (again), does not
count. Every outcome is a notice: `retracted` (`open week`, `baseline`, `score`, `assignment`) or
`not_retracted` (`unknown`, `late`, `forgotten`: an earlier release did not remember what
it gave, `closed`: its week no longer counts anywhere).
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from schemas.events import LearningEvent, Retracted
from stream.core import completions
from stream.core.keys import event_key
from stream.core.policy import Policy
from stream.core.state import LearnerState, OpenWeek
from stream.core.weeks import week_of

WEEKDAY = 0b111  # the weekday + 1 an activity event made active (0: no activity)
COMPLETION = 0b1000
FELL = 0b10000
MAX_SEEN_PER_WEEK = 4096  # event ids remembered per open week; beyond it the oldest are forgotten
# Voiding is rare (a correction of a statement sent by mistake), and so is an event that
# comes after its week was evaluated; both sets are kept in every learner's state (about
# 21 bytes of JSON a key), so they are kept short: 128 each, newest last, under 6 KiB
# together. They need to reach back only as far as a redelivery does (a voiding sent again,
# a voided event coming after its voiding, a voiding of a late event): beyond that the
# oldest are forgotten (see the README's known limits).
MAX_RETRACTED = 128  # retractions remembered
MAX_LATE = 128  # ids of events that came after their week was evaluated

Outcome = Literal["retracted", "not_retracted", "duplicate"]


def count(
    state: LearnerState,
    bucket: OpenWeek,
    key: int,
    weekday: int | None,
    completion: bool,
    week: int,
) -> None:
    """Count an event in its open week, and remember what it gave: `weekday` (Monday = 0,
    in the policy's timezone) for the learner's own action, None for someone else's (no
    activity); `completion` for a completion."""
    code = 0
    if weekday is not None:  # only the learner's own actions are activity
        bucket.events += 1
        day = 1 << weekday
        if not bucket.days & day:  # most events fall on a day already active: no write
            bucket.days |= day
        code = weekday + 1
        if state.first_active_week is None or week < state.first_active_week:
            state.first_active_week = week
    if completion:
        bucket.completions += 1
        code |= COMPLETION
    bucket.seen.append(key)
    bucket.gave.append(code)
    if len(bucket.seen) > MAX_SEEN_PER_WEEK:
        del bucket.seen[0]
    if len(bucket.gave) > len(bucket.seen):
        del bucket.gave[0]


def fell(bucket: OpenWeek, when: dt.datetime) -> None:
    """The event counted last in the week, at `when`, made an assessment fall."""
    bucket.fall = True
    if bucket.fell_at is None or when < bucket.fell_at:
        bucket.fell_at = when
    if bucket.gave:
        bucket.gave[-1] |= FELL


def voided(state: LearnerState, key: int) -> bool:
    """Whether the event with this key was taken back (it no longer counts if it comes)."""
    return bool(state.retracted) and key in state.retracted


def came_late(state: LearnerState, key: int) -> None:
    """An event (its `event_key`) came after its week was evaluated: it never counted there."""
    state.late_keys = [*state.late_keys, key][-MAX_LATE:]


def retract(state: LearnerState, event: LearningEvent, policy: Policy) -> tuple[Outcome, str]:
    """Take back what the event a voided event names gave; the notice code and detail."""
    target: Retracted = event.retracts  # type: ignore[assignment]  # a voided event has one
    key = event_key(target.id)
    if key in state.retracted:
        return "duplicate", "retraction"
    state.retracted = [*state.retracted, key][-MAX_RETRACTED:]
    reopened = target.completed is not None and completions.reopen(state, target.completed)
    week = week_of(target.occurred_at, policy.tz)
    if state.evaluated_week is None or week > state.evaluated_week:
        bucket = state.open_weeks.get(week)
        outcome = _from_open_week(bucket, key) if bucket is not None else "unknown"
        if outcome == "open week" and bucket is not None and not bucket.events:
            _first_active_after(state, week)
    elif key in state.late_keys:
        outcome = "late"
    else:
        outcome = _from_baseline(state, week)
    counted = outcome not in ("unknown", "late")
    if counted and target.score is not None and _drop_score(state, target.score):
        outcome = "score" if outcome == "closed" else outcome
    if outcome in ("open week", "baseline", "score"):
        return "retracted", outcome
    if reopened:
        return "retracted", "assignment"
    return "not_retracted", outcome


def _from_open_week(bucket: OpenWeek, key: int) -> str:
    if key not in bucket.seen:
        return "unknown"
    index = bucket.seen.index(key) - (len(bucket.seen) - len(bucket.gave))
    if index < 0:
        return "forgotten"
    code, bucket.gave[index] = bucket.gave[index], 0
    if code & WEEKDAY:
        bucket.events -= 1
        if sum(1 for c in bucket.gave if c & WEEKDAY) == bucket.events:  # all known
            bucket.days = _days(bucket.gave)
    if code & COMPLETION:
        bucket.completions -= 1
    if code & FELL and len(bucket.gave) == len(bucket.seen):
        bucket.fall = any(c & FELL for c in bucket.gave)
        if not bucket.fall:  # with falls left, the earliest stays (theirs are not known)
            bucket.fell_at = None
    return "open week"


def _first_active_after(state: LearnerState, week: int) -> None:
    """A week whose activity was all taken back: when it was the learner's first active
    week, the first is the next open week with activity (weeks before it were evaluated
    without any, or it would not have been the first)."""
    if state.first_active_week != week:
        return
    active = [w for w, b in state.open_weeks.items() if b.events and w > week]
    state.first_active_week = min(active, default=None)


def _days(gave: list[int]) -> int:
    days = 0
    for code in gave:
        if code & WEEKDAY:
            days |= 1 << ((code & WEEKDAY) - 1)
    return days


def _from_baseline(state: LearnerState, week: int) -> str:
    """One event less in the baseline entry of an evaluated week. The baseline's entries
    are the activity of the last counted weeks without a dip, as the closed weeks' rows
    say; when the rows no longer reach back that far, which entry is whose is unknown."""
    window = state.baseline_window
    if not window:
        return "closed"
    first, since = state.first_active_week, state.baseline_from_week
    counted = [
        row.week
        for row in state.closed_weeks
        if row.level == 0
        and first is not None
        and row.week >= first
        and (since is None or row.week >= since)
    ]
    if len(counted) < len(window) or week not in counted[-len(window) :]:
        return "closed"
    weeks = counted[-len(window) :]
    index = weeks.index(week)
    window = [*window[:index], max(0, window[index] - 1), *window[index + 1 :]]
    state.baseline_window = window
    if week == first and not window[index]:  # the first active week had nothing else
        _first_active_gone(state, week, weeks)
    return "baseline"


def _first_active_gone(state: LearnerState, week: int, weeks: list[int]) -> None:
    """The first active week, evaluated, had no activity but what was taken back: the
    first is the next week with activity, evaluated or open, and the baseline keeps the
    entries of weeks from it on; with no evaluated week from it on, the weeks of no
    activity since were counted as dips only because of what was taken back."""
    active = [row.week for row in state.closed_weeks if row.week > week and row.events]
    active += [w for w, b in state.open_weeks.items() if b.events]
    first = min(active, default=None)
    state.first_active_week = first
    state.baseline_window = [
        v
        for w, v in zip(weeks, state.baseline_window, strict=True)
        if first is not None and w >= first
    ]
    evaluated = state.evaluated_week
    if first is None or evaluated is None or first > evaluated:
        state.persistence = 0


def _drop_score(state: LearnerState, score: float) -> bool:
    """The newest of the previous scores equal to `score` leaves them (if there is one)."""
    for index in range(len(state.scores) - 1, -1, -1):
        if state.scores[index] == score:
            state.scores = [*state.scores[:index], *state.scores[index + 1 :]]
            return True
    return False
