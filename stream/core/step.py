"""The step function: `step(state, input, policy) -> (state, outputs)`.

The streaming agents and the offline replay call this and nothing else, so the same
history always gives the same transitions. Time only moves with the inputs: an event at
its `occurred_at`, an intervention at its `at`, a clock tick at its `now`. The state
passed in is taken over (updated in place) and returned.

The step only sequences: it applies each input (counts an event in its open week, closes
the weeks a tick ends, records an intervention) and asks `stream.core.tiers`, where every
decision about the tier is, what that does to the tier.
"""

from __future__ import annotations

import datetime as dt
from typing import NamedTuple

from schemas.clock import Tick
from schemas.events import LearningEvent
from schemas.roster import (
    FEEDBACK_KINDS,
    Assignment,
    AssignmentKind,
    Intervention,
    LearnerProfile,
)
from schemas.transitions import Exposure, TierTransition
from stream.core import completions, leaving, reminders, retraction, tiers, timeliness
from stream.core.due import expires
from stream.core.keys import event_key
from stream.core.outputs import Notice, Output
from stream.core.policy import Policy
from stream.core.signals import assessment_fall, classify_week
from stream.core.state import ClosedWeek, LearnerState, OpenWeek
from stream.core.tiers import role_of
from stream.core.today import Clock, clock_at
from stream.core.weeks import local_date, week_label, week_of, week_of_date

Input = LearningEvent | LearnerProfile | Assignment | Intervention | Tick
MAX_SEEN_INTERVENTIONS = 256  # intervention keys remembered for de-duplication, newest last


def step(
    state: LearnerState | None, item: Input, policy: Policy
) -> tuple[LearnerState, list[Output]]:
    """Apply one input to a learner's state; return the new state and what it caused."""
    if isinstance(item, Tick):
        if state is None:
            raise ValueError("a tick needs a learner state")
        outputs = on_tick(state, item.now, policy)
        return state, [*outputs, *timeliness.track(state, outputs)] if outputs else outputs
    if state is None:
        state = LearnerState(learner_id=item.learner_id)
    elif state.learner_id != item.learner_id:
        raise ValueError(f"input for {item.learner_id!r} applied to state of {state.learner_id!r}")
    if isinstance(item, LearningEvent):
        outputs = on_event(state, item, policy)
    elif isinstance(item, LearnerProfile):
        outputs = on_profile(state, item, policy)
    elif isinstance(item, Assignment):
        outputs = on_assignment(state, item, policy)
    else:
        outputs = on_intervention(state, item, policy)
    return state, [*outputs, *timeliness.track(state, outputs)] if outputs else outputs


def _seen_at(state: LearnerState, week: int) -> None:
    if state.evaluated_week is None and (state.first_week is None or week < state.first_week):
        state.first_week = week


def on_event(state: LearnerState, event: LearningEvent, policy: Policy) -> list[Output]:
    if event.retracts is not None:  # a voided event: see `stream.core.retraction`
        code, detail = retraction.retract(state, event, policy)
        return [Notice(code, state.learner_id, detail)]
    local = event.occurred_at.astimezone(policy.tz)
    if leaving.gone_on(state, local.date()):
        return [Notice("after_leaving", state.learner_id, f"event {event.kind}")]
    key = event_key(event.id)
    if retraction.voided(state, key):  # taken back before it came: it gives nothing
        return [Notice("duplicate", state.learner_id)]
    completion = event.kind == "completion"
    if completion:
        completions.complete(state, event.object_id)
    weekday = local.weekday() if event.acted_by is None else None
    counted = _count(state, key, week_of_date(local.date()), weekday, completion)
    if not isinstance(counted, OpenWeek):
        return [counted]
    if event.kind != "assessment" or (event.score is None and event.success is None):
        return []
    return _on_assessment(state, event, counted, policy)


def _count(
    state: LearnerState, key: int, week: int, weekday: int | None, completion: bool
) -> OpenWeek | Notice:
    """Count an event (not voided, not taken back) in its week: the week's bucket, or the
    notice of an event that came late or again."""
    if state.evaluated_week is not None and week <= state.evaluated_week:
        if key in state.late_keys:  # the same late event again: counted once
            return Notice("duplicate", state.learner_id)
        state.late_events += 1
        retraction.came_late(state, key)
        return Notice("late_event", state.learner_id, week_label(week))
    bucket = state.open_weeks.get(week)
    if bucket is None:
        bucket = state.open_weeks[week] = OpenWeek()
    elif key in bucket.seen:
        return Notice("duplicate", state.learner_id)
    retraction.count(state, bucket, key, weekday, completion, week)
    _seen_at(state, week)
    return bucket


class Counted(NamedTuple):
    """An event that can only count in its week (see `counts_only`), reduced to what
    counting it needs; one policy's timezone gave its week and weekday."""

    key: int  # `event_key` of its id
    week: int
    weekday: int | None  # Monday = 0; None when someone else acted (no activity)
    day: dt.date  # its local day (nothing after a leaver's last day counts)
    kind: str  # the event's kind, named in the notice of one after leaving


def counts_only(event: LearningEvent) -> bool:
    """Whether an event can do nothing but count in its week: not voided, not a completion
    (it closes an assignment), not an assessment with a result (it may fall). Applying a
    run of such events in one call (`count_events`) gives what stepping each gives."""
    if event.retracts is not None or event.kind == "completion":
        return False
    return event.kind != "assessment" or (event.score is None and event.success is None)


def count_events(state: LearnerState, events: list[Counted]) -> list[Output]:
    """Apply events that `counts_only`, in order, as `step` would one by one: the notices
    of those that came late or again (a tick is never due between them: the caller's)."""
    out: list[Output] = []
    retracted, evaluated, buckets = state.retracted, state.evaluated_week, state.open_weeks
    last = leaving.left_on(state)  # a profile never comes within a run
    first, first_active = state.first_week, state.first_active_week  # set below only
    for key, week, weekday, day, kind in events:  # neither `retracted` nor `evaluated` moves
        if last is not None and day > last:  # `leaving.gone_on`
            out.append(Notice("after_leaving", state.learner_id, f"event {kind}"))
            continue
        if retracted and key in retracted:  # `retraction.voided`
            out.append(Notice("duplicate", state.learner_id))
            continue
        bucket = buckets.get(week)
        if (evaluated is not None and week <= evaluated) or (
            bucket is not None and key in bucket.seen
        ):
            counted = _count(state, key, week, weekday, False)  # late, or again: a notice
            if not isinstance(counted, OpenWeek):
                out.append(counted)
            continue
        if bucket is None:
            bucket = buckets[week] = OpenWeek()
        # `retraction.count` and `_seen_at` written out, the same writes: most of a
        # history's events come here, and the two calls were 0.4 us of an event's 0.9
        code = 0
        if weekday is not None:
            bucket.events += 1
            bucket.days |= 1 << weekday
            code = weekday + 1
            if first_active is None or week < first_active:
                state.first_active_week = first_active = week
        seen, gave = bucket.seen, bucket.gave
        seen.append(key)
        gave.append(code)
        if len(seen) > retraction.MAX_SEEN_PER_WEEK:
            del seen[0]
        if len(gave) > len(seen):
            del gave[0]
        if evaluated is None and (first is None or week < first):
            state.first_week = first = week
    return out


def _on_assessment(
    state: LearnerState, event: LearningEvent, bucket: OpenWeek, policy: Policy
) -> list[Output]:
    rules_ = policy.assessments
    fall = assessment_fall(state.scores, event.score, event.success, rules_)
    if event.score is not None:
        state.scores = [*state.scores, event.score][-rules_.previous_scores :]
    if fall is None or tiers.spent(state, event.occurred_at):
        return []
    retraction.fell(bucket, event.occurred_at)
    state.last_fall_at = event.occurred_at
    return [*tiers.assessment_fell(state, fall, event.occurred_at, policy)]


def on_profile(state: LearnerState, profile: LearnerProfile, policy: Policy) -> list[Output]:
    state.profile = profile
    if not policy.knows_role(profile.role):
        return [Notice("unknown_role", state.learner_id, profile.role)]
    return []


def on_assignment(state: LearnerState, assignment: Assignment, policy: Policy) -> list[Output]:
    if leaving.gone_on(state, local_date(assignment.assigned_at, policy.tz)):
        return [Notice("after_leaving", state.learner_id, f"assignment {assignment.kind}")]
    completions.assigned(state, assignment)
    _seen_at(state, week_of(assignment.assigned_at, policy.tz))
    return []


def intervention_key(item: Intervention) -> int:
    """A stable key of an intervention for de-duplication (stored in states: it must never
    change): its sender's id, or else its kind, instant and the transition it names."""
    if item.id is not None:
        return event_key(f"id|{item.id}")
    instant = item.at.astimezone(dt.UTC).isoformat()
    return event_key(f"{item.kind}|{instant}|{item.transition_id or ''}")


def on_intervention(state: LearnerState, item: Intervention, policy: Policy) -> list[Output]:
    if leaving.gone_on(state, local_date(item.at, policy.tz)):
        return [Notice("after_leaving", state.learner_id, f"intervention {item.kind}")]
    key = intervention_key(item)
    if key in state.seen_interventions:
        return [Notice("duplicate", state.learner_id, f"intervention {item.kind}")]
    state.seen_interventions.append(key)
    if len(state.seen_interventions) > MAX_SEEN_INTERVENTIONS:
        del state.seen_interventions[0]
    _seen_at(state, week_of(item.at, policy.tz))
    _last_action(state, item, policy)
    if item.kind == "concern_raised":
        return [*tiers.concern_raised(state, item.at, policy)]
    if item.kind == "resolved":
        return [*tiers.resolved(state, item.at, policy)]
    if item.kind == "conversation_held":
        return [*timeliness.conversation(state, item, policy)]
    if item.kind == "support_plan" and item.on is not None:
        tiers.support_plan_agreed(state, item.on, policy)
    if item.kind == "snoozed" and item.on is not None:  # the latest snooze holds
        state.snoozed_until = item.on
    return []


def _last_action(state: LearnerState, item: Intervention, policy: Policy) -> None:
    """Remember the latest action (by the day it names, then by kind: the same whatever
    order the interventions are read in); feedback on a prompt is not an action."""
    if item.kind in FEEDBACK_KINDS:
        return
    # the day a conversation was held; any other action's day is when it was recorded (a
    # support plan's and a snooze's `on` are days ahead)
    day = (
        item.on if item.kind == "conversation_held" and item.on else local_date(item.at, policy.tz)
    )
    last = state.last_intervention_on
    if last is None or (day, item.kind) >= (last, state.last_intervention or ""):
        state.last_intervention, state.last_intervention_on = item.kind, day


def on_tick(state: LearnerState, now: dt.datetime, policy: Policy) -> list[Output]:
    """Evaluate closed weeks, passed deadlines, a due follow-up and an overdue one, as of
    `now`.

    Idempotent: a repeated (or older) tick finds every closed week evaluated and every
    deadline condition already raised, and leaves the state as it was, so a worker stores
    nothing for a learner on a day when nothing happened."""
    out: list[Output] = []
    clock = clock_at(now, policy)
    if leaving.gone_on(state, clock.today):  # nothing judged after the leaving day
        out.extend(tiers.left(state, clock, policy))
        return out
    start = state.first_week if state.evaluated_week is None else state.evaluated_week + 1
    closing = range(start, clock.closed + 1) if start is not None else range(0)
    waiting = (
        state.assignments
        or state.completions
        or state.follow_up_due
        or state.tier == 2
        or state.talk_by  # an overdue follow-up to chase (`stream.core.reminders`)
    )
    if not (closing or waiting):
        return out  # no week to close, no deadline, no follow-up: nothing can change
    if closing:
        _, exposure = role_of(state, policy)
        for week in closing:
            out.extend(_close_week(state, week, clock, exposure, policy))
            state.evaluated_week = week
    else:  # a week closed now has risen on today's deadline conditions already
        out.extend(tiers.deadlines_passed(state, clock, policy))
    if state.follow_up_due is not None or state.tier == 2:  # else no follow-up to decide
        out.extend(tiers.follow_up(state, clock, policy))
    if state.assignments or state.completions:
        _prune_assignments(state, clock.today, policy)
    if state.talk_by is not None:  # after the tier's decisions: a fall below 2 ends the wait
        out.extend(reminders.due(state, clock, policy))
    return out


def _close_week(
    state: LearnerState,
    week: int,
    clock: Clock,
    exposure: list[Exposure],
    policy: Policy,
) -> list[TierTransition]:
    """Count a closed week: its dip against the baseline, the dip's persistence, the
    baseline, its row; then what it does to the tier (`tiers.week_closed`)."""
    bucket = state.open_weeks.pop(week, None) or OpenWeek()
    counted = state.first_active_week is not None and week >= state.first_active_week
    if state.baseline_from_week is not None and week < state.baseline_from_week:
        counted = False
    dip = classify_week(bucket.events, state.baseline_window if counted else [], policy.activity)
    if not counted:
        state.persistence = 0
    elif dip.level != "none":
        state.persistence += 1
    else:
        state.persistence = 0
        state.baseline_window = [*state.baseline_window, bucket.events][
            -policy.activity.baseline_weeks :
        ]
    state.closed_weeks = [
        *state.closed_weeks,
        ClosedWeek.of(
            week=week,
            events=bucket.events,
            active_days=bucket.days.bit_count(),
            completions=bucket.completions,
            baseline=round(dip.baseline, 3) if dip.baseline is not None else None,
            dip=dip.level,
            persistence=state.persistence,
            fall=bucket.fall,
        ),
    ][-policy.weeks.history_weeks :]
    return tiers.week_closed(state, week, dip, bucket.fall, clock, exposure, policy)


def _prune_assignments(state: LearnerState, today: dt.date, policy: Policy) -> None:
    """Forget the milestones that no longer count (a duty counts until completed), also
    as completed, and assignments stored completed by earlier releases once their window
    has passed."""
    cutoff = today - dt.timedelta(days=policy.assignments.counting_days)  # due before: stale
    stale = [m for m, a in state.assignments.items() if a.due < cutoff and expires(a, policy)]
    for module in stale:
        del state.assignments[module]
    completions.prune(state, cutoff, policy)


# `role_of` is `stream.core.tiers`'s, imported from here by the learner view
__all__ = [
    "AssignmentKind", "Counted", "Input", "Notice", "Output", "count_events", "counts_only",
    "event_key", "role_of", "step",
]  # fmt: skip
