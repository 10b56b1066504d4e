"""The step function: `step(state, input, policy) -> (state, outputs)`.

The streaming agents and the offline replay call this and nothing else, so the same
history always gives the same transitions. Time only moves with the inputs: an event at
its `occurred_at`, an intervention at its `at`, a clock tick at its `now`. The state
passed in is taken over (updated in place) and returned.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

from schemas.clock import Tick
from schemas.events import LearningEvent
from schemas.roster import Assignment, AssignmentKind, Intervention, LearnerProfile
from schemas.transitions import Exposure, TierTransition
from stream.core import completions, retraction, rules
from stream.core.clock import Clock, clock_at
from stream.core.due import expires
from stream.core.keys import event_key
from stream.core.policy import DEFAULT_ROLE, Policy, Role
from stream.core.reason_text import cause
from stream.core.signals import assessment_fall, classify_week, missed_assignments
from stream.core.state import ClosedWeek, LearnerState, OpenWeek
from stream.core.transitions import move, rise
from stream.core.weeks import local_date, week_close, week_label, week_of, week_of_date

Input = LearningEvent | LearnerProfile | Assignment | Intervention | Tick
MAX_SEEN_INTERVENTIONS = 256  # intervention keys remembered for de-duplication, newest last


@dataclass(frozen=True, slots=True)
class Notice:
    """Something the edges should count or log; never a change of tier."""

    code: Literal["duplicate", "late_event", "unknown_role", "retracted", "not_retracted"]
    learner_id: str
    detail: str = ""


Output = TierTransition | Notice


def role_of(state: LearnerState, policy: Policy) -> tuple[Role, list[Exposure]]:
    """The learner's role (default when unknown) and exposure flags, profile overriding role."""
    profile = state.profile
    if profile is None:
        role, flags = policy.exposure((DEFAULT_ROLE, None, None, None))
    else:
        role, flags = policy.exposure(
            (
                profile.role,
                profile.customer_facing,
                profile.compliance_sensitive,
                profile.leadership_pipeline,
            )
        )
    return role, list(flags)


def step(
    state: LearnerState | None, item: Input, policy: Policy
) -> tuple[LearnerState, list[Output]]:
    """Apply one input to a learner's state; return the new state and what it caused."""
    if isinstance(item, Tick):
        if state is None:
            raise ValueError("a tick needs a learner state")
        return state, on_tick(state, item.now, policy)
    if state is None:
        state = LearnerState(learner_id=item.learner_id)
    elif state.learner_id != item.learner_id:
        raise ValueError(f"input for {item.learner_id!r} applied to state of {state.learner_id!r}")
    if isinstance(item, LearningEvent):
        return state, on_event(state, item, policy)
    if isinstance(item, LearnerProfile):
        return state, on_profile(state, item, policy)
    if isinstance(item, Assignment):
        return state, on_assignment(state, item, policy)
    return state, on_intervention(state, item, policy)


def _seen_at(state: LearnerState, week: int) -> None:
    if state.evaluated_week is None and (state.first_week is None or week < state.first_week):
        state.first_week = week


def on_event(state: LearnerState, event: LearningEvent, policy: Policy) -> list[Output]:
    if event.retracts is not None:  # a voided event: see `stream.core.retraction`
        code, detail = retraction.retract(state, event, policy)
        return [Notice(code, state.learner_id, detail)]
    key = event_key(event.id)
    if retraction.voided(state, key):  # taken back before it came: it gives nothing
        return [Notice("duplicate", state.learner_id)]
    if event.kind == "completion":
        completions.complete(state, event.object_id)
    local = event.occurred_at.astimezone(policy.tz)
    week = week_of_date(local.date())
    if state.evaluated_week is not None and week <= state.evaluated_week:
        if key in state.late_keys:  # the same late event again: counted once
            return [Notice("duplicate", state.learner_id)]
        state.late_events += 1
        retraction.came_late(state, event.id)
        return [Notice("late_event", state.learner_id, week_label(week))]
    bucket = state.open_weeks.get(week)
    if bucket is None:
        bucket = state.open_weeks[week] = OpenWeek()
    elif key in bucket.seen:
        return [Notice("duplicate", state.learner_id)]
    retraction.count(state, bucket, event, key, local, week)
    _seen_at(state, week)
    if event.kind != "assessment" or (event.score is None and event.success is None):
        return []
    return _on_assessment(state, event, bucket, policy)


def _on_assessment(
    state: LearnerState, event: LearningEvent, bucket: OpenWeek, policy: Policy
) -> list[Output]:
    rules_ = policy.assessments
    fall = assessment_fall(state.scores, event.score, event.success, rules_)
    if event.score is not None:
        state.scores = [*state.scores, event.score][-rules_.previous_scores :]
    fresh = state.evidence_from is None or event.occurred_at > state.evidence_from
    if fall is None or not fresh:
        return []
    retraction.fell(bucket, event.occurred_at)
    state.last_fall_at = event.occurred_at
    _, exposure = role_of(state, policy)
    moved = rise(state, [rules.fall_condition(fall)], event.occurred_at, exposure, policy)
    return [moved] if moved else []


def on_profile(state: LearnerState, profile: LearnerProfile, policy: Policy) -> list[Output]:
    state.profile = profile
    if not policy.knows_role(profile.role):
        return [Notice("unknown_role", state.learner_id, profile.role)]
    return []


def on_assignment(state: LearnerState, assignment: Assignment, policy: Policy) -> list[Output]:
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
    key = intervention_key(item)
    if key in state.seen_interventions:
        return [Notice("duplicate", state.learner_id, f"intervention {item.kind}")]
    state.seen_interventions.append(key)
    if len(state.seen_interventions) > MAX_SEEN_INTERVENTIONS:
        del state.seen_interventions[0]
    _seen_at(state, week_of(item.at, policy.tz))
    state.last_intervention = item.kind
    _, exposure = role_of(state, policy)
    if item.kind == "concern_raised":
        if state.tier == 3:  # already escalated, but the wellbeing service must still hear
            return [move(state, 3, item.at, [rules.CONCERN], exposure, policy)]
        moved = rise(state, [rules.CONCERN], item.at, exposure, policy)
        return [moved] if moved else []
    if item.kind != "resolved":
        return []
    out: list[Output] = []
    if state.tier > 0:
        reason = cause("resolved")
        cond = rules.Condition(0, "none", reason)
        out.append(move(state, 0, item.at, [cond], exposure, policy))
    state.evidence_from = item.at
    state.baseline_from_week = week_of(item.at, policy.tz) + 1
    state.baseline_window = []
    state.persistence = 0
    state.follow_up_due = None
    state.outreach_at = None
    for bucket in state.open_weeks.values():
        bucket.fall, bucket.fell_at = False, None
    return out


def _deadlines(state: LearnerState, today: dt.date, policy: Policy) -> list[rules.Condition]:
    if not state.assignments:
        return []
    spent = local_date(state.evidence_from, policy.tz) if state.evidence_from else None
    missed = missed_assignments(state.assignments.values(), today, policy.assignments, spent)
    if not missed.by_kind:
        return []  # nothing missed: no need of the role
    role, exposure = role_of(state, policy)
    return rules.deadline_conditions(missed, role, exposure, policy)


def on_tick(state: LearnerState, now: dt.datetime, policy: Policy) -> list[Output]:
    """Evaluate closed weeks, passed deadlines and a due follow-up, as of `now`.

    Idempotent: a repeated (or older) tick finds every closed week evaluated and every
    deadline condition already raised, and leaves the state as it was, so a worker stores
    nothing for a learner on a day when nothing happened."""
    out: list[Output] = []
    clock = clock_at(now, policy)
    start = state.first_week if state.evaluated_week is None else state.evaluated_week + 1
    closing = range(start, clock.closed + 1) if start is not None else range(0)
    waiting = state.assignments or state.completions or state.follow_up_due or state.tier == 2
    if not (closing or waiting):
        return out  # no week to close, no deadline, no follow-up: nothing can change
    if closing:
        _, exposure = role_of(state, policy)
        for week in closing:
            out.extend(_evaluate_week(state, week, clock, exposure, policy))
            state.evaluated_week = week
    # a week evaluated now has risen on today's deadline conditions already
    elif conditions := _deadlines(state, clock.today, policy):
        moved = rise(state, conditions, now, role_of(state, policy)[1], policy)
        if moved:
            out.append(moved)
    if state.follow_up_due is not None or state.tier == 2:  # else _follow_up has nothing to do
        out.extend(_follow_up(state, clock, policy))
    if state.assignments or state.completions:
        _prune_assignments(state, clock.today, policy)
    return out


def _evaluate_week(
    state: LearnerState,
    week: int,
    clock: Clock,
    exposure: list[Exposure],
    policy: Policy,
) -> list[Output]:
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
    conditions = rules.activity_conditions(dip, state.persistence, exposure, policy)
    if bucket.fall:
        conditions.append(_week_fall(week))
        conditions.extend(rules.performance_condition(dip))
    conditions.extend(_deadlines(state, clock.today, policy))
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
    moved = rise(state, conditions, clock.now, exposure, policy, week)
    if moved:
        return [moved]
    if conditions:
        state.quiet_weeks = 0
        return []
    return _quiet_week(state, week, clock.now, exposure, policy)


def _week_fall(week: int) -> rules.Condition:
    return rules.week_fall_condition(week)


def _quiet_week(
    state: LearnerState, week: int, now: dt.datetime, exposure: list[Exposure], policy: Policy
) -> list[Output]:
    """A closed week with no condition: the tier falls one step (Tier 3 needs more weeks),
    unless evidence already seen in a week still open calls for the tier it would leave."""
    if state.tier == 0:
        return []
    if state.tier_since is not None and state.tier_since >= week_close(week, policy.tz):
        return []  # the tier was set after this week ended: the week says nothing of recovery
    if state.tier <= _open_evidence(state, week, now):
        return []  # one fall, one nudge: not resolved now to be raised again at its week
    state.quiet_weeks += 1
    rules_ = policy.de_escalation
    needed = rules_.tier3_quiet_weeks if state.tier == 3 else rules_.quiet_weeks_per_step
    if state.quiet_weeks < needed:
        return []
    reason = cause("quiet_weeks", {"quiet_weeks": state.quiet_weeks}, week=week)
    to_tier = state.tier - 1
    return [move(state, to_tier, now, [rules.Condition(0, "none", reason)], exposure, policy, week)]


def _open_evidence(state: LearnerState, week: int, now: dt.datetime) -> int:
    """The tier that evidence already seen at `now` in the weeks after `week` (still open)
    calls for: an assessment fall, which counts for its week when it closes. A fall after
    `now` does not count, whether or not it was taken before the tick."""
    falls = any(
        bucket.fall and (bucket.fell_at is None or bucket.fell_at <= now)
        for later, bucket in state.open_weeks.items()
        if later > week
    )
    return rules.week_fall_condition(week).tier if falls else 0


def _tier2_holding(
    state: LearnerState, today: dt.date, week: int, exposure: list[Exposure], policy: Policy
) -> list[rules.Condition]:
    """The Tier 2 (or higher) conditions that hold now, judging activity by closed `week`."""
    holding = [c for c in _deadlines(state, today, policy) if c.tier >= 2]
    tiers = policy.tiers
    for closed in state.closed_weeks:
        if closed.week != week or closed.dip == "none":
            continue
        exposed = closed.dip == "major" and bool(exposure) and tiers.exposed_major_dip_tier >= 2
        if closed.persistence >= tiers.tier2_dip_weeks or exposed:
            reason = cause("still_down", {"week": week_label(week)})
            holding.append(rules.Condition(2, "major", reason))
    return holding


def _follow_up(state: LearnerState, clock: Clock, policy: Policy) -> list[Output]:
    """At the follow-up, re-assess on evidence newer than the outreach; escalate if Tier 2 holds.

    A learner who stays at Tier 2 with no follow-up pending (the last one found nothing,
    or the tier fell to 2) gets a new one as soon as Tier 2 evidence holds again, so Tier 2
    never lingers unreviewed.
    """
    _, exposure = role_of(state, policy)
    due, since = state.follow_up_due, state.outreach_at
    today, now = clock.today, clock.now
    if due is None or since is None:
        week = state.evaluated_week
        rearm = state.tier == 2 and week is not None
        if rearm and _tier2_holding(state, today, week, exposure, policy):  # type: ignore[arg-type]
            days = policy.follow_up.exposed_days if exposure else policy.follow_up.days
            state.follow_up_due = today + dt.timedelta(days=days)
            state.outreach_at = now
        return []
    if today < due:
        return []
    if state.tier != 2:
        state.follow_up_due = state.outreach_at = None
        return []
    # activity: the first week that closed after the outreach (the one holding it); until
    # it has been evaluated, only deadlines can decide, and the follow-up stays pending
    first_after = week_of(since, policy.tz)
    holding = _tier2_holding(state, today, first_after, exposure, policy)
    evaluated = state.evaluated_week is not None and state.evaluated_week >= first_after
    if not holding and not evaluated:
        return []
    state.follow_up_due = None
    state.outreach_at = None
    if not holding:  # judged by the outreach's week: a later week may still hold Tier 2,
        return _follow_up(state, clock, policy)  # and re-arms now, not at the next tick
    reason = cause("follow_up_unresolved", {"follow_up_due": due.isoformat()})
    conditions = [rules.Condition(3, "major", reason), *holding]
    return [move(state, 3, now, conditions, exposure, policy)]


def _prune_assignments(state: LearnerState, today: dt.date, policy: Policy) -> None:
    """Forget the milestones that no longer count (a duty counts until completed), also
    as completed, and assignments stored completed by earlier releases once their window
    has passed."""
    cutoff = today - dt.timedelta(days=policy.assignments.counting_days)  # due before: stale
    stale = [m for m, a in state.assignments.items() if a.due < cutoff and expires(a, policy)]
    for module in stale:
        del state.assignments[module]
    completions.prune(state, cutoff, policy)


__all__ = ["AssignmentKind", "Input", "Notice", "Output", "event_key", "step"]
