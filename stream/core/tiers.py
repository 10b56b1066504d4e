"""Every decision about a learner's tier: when it rises, holds, falls, is followed up and
is resolved.

`stream.core.rules` says what each signal calls for (a condition: the tier, its severity,
its reason); this module decides what the tier does with those conditions, and
`stream.core.step` only applies the inputs and calls it:

- the tier only rises on evidence, to the highest tier a condition calls for (`rise`): an
  assessment fall (`assessment_fell`), a closed week's activity, falls and deadlines
  (`week_closed`), a deadline passed between two week closes (`deadlines_passed`);
- a concern the employee raised goes to Tier 3 and the wellbeing service, even from Tier 3
  (`concern_raised`);
- a closed week with no condition lets the tier fall one step, Tier 3 only after
  `de_escalation.tier3_quiet_weeks` such weeks (`_quiet_week`);
- every arrival at Tier 2, up or down, is followed up `follow_up.days` later
  (`exposed_days` for an exposed role); at the follow-up, Tier 2 still holding escalates to
  Tier 3, and a learner left at Tier 2 with no follow-up gets one as soon as Tier 2 holds
  again (`follow_up`);
- `resolved` ends the episode: the tier goes to 0, and the evidence before it is spent
  (`resolved`, `spent`);
- a learner who left is not evaluated after their leaving day: the first tick after it
  ends an open episode and evaluation (`left`; `stream.core.leaving`).
"""

from __future__ import annotations

import datetime as dt

from schemas.transitions import Exposure, TierTransition
from stream.core import leaving, rules
from stream.core.policy import DEFAULT_ROLE, Policy, Role
from stream.core.reason_text import cause
from stream.core.signals import Dip, Fall, missed_assignments
from stream.core.state import LearnerState
from stream.core.today import Clock
from stream.core.transitions import move
from stream.core.weeks import (
    add_days,
    local_date,
    week_close,
    week_label,
    week_of,
    week_of_date,
)

Moves = list[TierTransition]


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


def spent(state: LearnerState, at: dt.datetime) -> bool:
    """Whether evidence at `at` was dealt with by a `resolved` intervention (at or after it)."""
    return state.evidence_from is not None and at <= state.evidence_from


def follow_up_days(exposure: list[Exposure], policy: Policy) -> int:
    """How many days after an arrival at Tier 2 the follow-up is due."""
    return policy.follow_up.exposed_days if exposure else policy.follow_up.days


def rise(
    state: LearnerState,
    conditions: list[rules.Condition],
    at: dt.datetime,
    exposure: list[Exposure],
    policy: Policy,
    week: int | None = None,
) -> TierTransition | None:
    """The tier only rises on evidence: move up when a condition calls for a higher tier."""
    if not conditions:
        return None
    target = max((c.tier for c in conditions), default=0)
    if target <= state.tier:
        return None
    return _move(state, target, at, conditions, exposure, policy, week)


def _move(
    state: LearnerState,
    to_tier: int,
    at: dt.datetime,
    conditions: list[rules.Condition],
    exposure: list[Exposure],
    policy: Policy,
    week: int | None = None,
) -> TierTransition:
    follow_up = None
    if to_tier == 2:  # every arrival at Tier 2, up or down, is followed up
        days = follow_up_days(exposure, policy)
        follow_up = add_days(local_date(at, policy.tz), days)  # saturating at 9999-12-31
    return move(state, to_tier, at, conditions, exposure, follow_up, week)


def assessment_fell(state: LearnerState, fall: Fall, at: dt.datetime, policy: Policy) -> Moves:
    """An assessment fall (not spent) calls for a nudge at once."""
    _, exposure = role_of(state, policy)
    moved = rise(state, [rules.fall_condition(fall)], at, exposure, policy)
    return [moved] if moved else []


def concern_raised(state: LearnerState, at: dt.datetime, policy: Policy) -> Moves:
    """A health or personal concern escalates to Tier 3, routed to wellbeing."""
    _, exposure = role_of(state, policy)
    if state.tier == 3:  # already escalated, but the wellbeing service must still hear
        return [_move(state, 3, at, [rules.CONCERN], exposure, policy)]
    moved = rise(state, [rules.CONCERN], at, exposure, policy)
    return [moved] if moved else []


def resolved(state: LearnerState, at: dt.datetime, policy: Policy) -> Moves:
    """The manager resolved the episode: back to Tier 0, and every piece of evidence so far
    is spent (the baseline starts again the week after, open weeks' falls no longer count,
    no follow-up is pending)."""
    _, exposure = role_of(state, policy)
    out: Moves = []
    if state.tier > 0:
        cond = rules.Condition(0, "none", cause("resolved"))
        out.append(_move(state, 0, at, [cond], exposure, policy))
    state.evidence_from = at
    state.baseline_from_week = week_of(at, policy.tz) + 1
    state.baseline_window = []
    state.persistence = 0
    state.follow_up_due = None
    state.outreach_at = None
    for bucket in state.open_weeks.values():
        bucket.fall, bucket.fell_at = False, None
    return out


def left(state: LearnerState, clock: Clock, policy: Policy) -> Moves:
    """The first tick after the learner's leaving day ends their evaluation: an open
    episode falls to Tier 0 (reason `left`), nothing is pending, the weeks not evaluated
    yet never are, and the evidence so far is spent (a rehire starts afresh). Idempotent."""
    last = leaving.left_on(state)
    if last is None or leaving.ended(state, policy.tz):
        return []
    out: Moves = []
    if state.tier > 0:
        _, exposure = role_of(state, policy)
        cond = rules.Condition(0, "none", cause("left"))
        out.append(_move(state, 0, clock.now, [cond], exposure, policy))
    week = week_of_date(last)
    state.evidence_from = leaving.leaving_instant(last, policy.tz)
    state.baseline_from_week = week + 1
    state.baseline_window = []
    state.persistence = state.quiet_weeks = 0
    state.follow_up_due = state.outreach_at = None
    state.open_weeks.clear()
    if state.evaluated_week is None or state.evaluated_week < week:
        state.evaluated_week = week
    return out


def support_plan_agreed(state: LearnerState, on: dt.date, policy: Policy) -> None:
    """A support plan was agreed with a follow-up on `on`: a follow-up pending (Tier 2)
    is on that day instead (re-assessed then on evidence newer than the outreach)."""
    since = state.outreach_at
    if state.follow_up_due is not None and since is not None:
        state.follow_up_due = max(on, local_date(since, policy.tz))


def _deadlines(state: LearnerState, today: dt.date, policy: Policy) -> list[rules.Condition]:
    """The conditions of the assignments missed on `today` and not spent."""
    if not state.assignments:
        return []
    spent_to = local_date(state.evidence_from, policy.tz) if state.evidence_from else None
    missed = missed_assignments(state.assignments.values(), today, policy.assignments, spent_to)
    if not missed.by_kind:
        return []  # nothing missed: no need of the role
    role, exposure = role_of(state, policy)
    return rules.deadline_conditions(missed, role, exposure, policy)


def deadlines_passed(state: LearnerState, clock: Clock, policy: Policy) -> Moves:
    """A tick that closes no week: the deadlines passed by today may raise the tier."""
    conditions = _deadlines(state, clock.today, policy)
    if not conditions:
        return []
    moved = rise(state, conditions, clock.now, role_of(state, policy)[1], policy)
    return [moved] if moved else []


def week_closed(
    state: LearnerState,
    week: int,
    dip: Dip,
    fell: bool,
    clock: Clock,
    exposure: list[Exposure],
    policy: Policy,
) -> Moves:
    """A closed week (its dip and `state.persistence` counted): its activity, a fall in it
    and today's deadlines may raise the tier; a week with no condition at all may let it fall."""
    conditions = rules.activity_conditions(dip, state.persistence, exposure, policy)
    if fell:
        conditions.append(rules.week_fall_condition(week))
        conditions.extend(rules.performance_condition(dip))
    conditions.extend(_deadlines(state, clock.today, policy))
    moved = rise(state, conditions, clock.now, exposure, policy, week)
    if moved:
        return [moved]
    if conditions:
        state.quiet_weeks = 0
        return []
    return _quiet_week(state, week, clock.now, exposure, policy)


def _quiet_week(
    state: LearnerState, week: int, now: dt.datetime, exposure: list[Exposure], policy: Policy
) -> Moves:
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
    cond = rules.Condition(0, "none", reason)
    return [_move(state, to_tier, now, [cond], exposure, policy, week)]


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


def tier2_holding(
    state: LearnerState, today: dt.date, week: int, exposure: list[Exposure], policy: Policy
) -> list[rules.Condition]:
    """The Tier 2 (or higher) conditions that hold now, judging activity by closed `week`:
    its dip still calls for Tier 2 or more (`rules.dip_tiers`, as when the week closed)."""
    holding = [c for c in _deadlines(state, today, policy) if c.tier >= 2]
    for closed in state.closed_weeks:
        if closed.week != week:
            continue
        if max(rules.dip_tiers(closed.dip, closed.persistence, exposure, policy.tiers)) >= 2:
            reason = cause("still_down", {"week": week_label(week)})
            holding.append(rules.Condition(2, "major", reason))
    return holding


def follow_up(state: LearnerState, clock: Clock, policy: Policy) -> Moves:
    """At the follow-up, re-assess on evidence newer than the outreach; escalate if Tier 2 holds.

    A learner who stays at Tier 2 with no follow-up pending (the last one found nothing,
    or the tier fell to 2) gets a new one as soon as Tier 2 evidence holds again, so Tier 2
    never lingers unreviewed.
    """
    if state.follow_up_due is None and state.tier != 2:
        return []  # nothing due, nothing to arm
    _, exposure = role_of(state, policy)
    due, since = state.follow_up_due, state.outreach_at
    today, now = clock.today, clock.now
    if due is None or since is None:
        week = state.evaluated_week
        if (
            state.tier == 2
            and week is not None
            and tier2_holding(state, today, week, exposure, policy)
        ):
            state.follow_up_due = today + dt.timedelta(days=follow_up_days(exposure, policy))
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
    holding = tier2_holding(state, today, first_after, exposure, policy)
    evaluated = state.evaluated_week is not None and state.evaluated_week >= first_after
    if not holding and not evaluated:
        return []
    state.follow_up_due = None
    state.outreach_at = None
    if not holding:  # judged by the outreach's week: a later week may still hold Tier 2,
        return follow_up(state, clock, policy)  # and re-arms now, not at the next tick
    reason = cause("follow_up_unresolved", {"follow_up_due": due.isoformat()})
    conditions = [rules.Condition(3, "major", reason), *holding]
    return [_move(state, 3, now, conditions, exposure, policy)]
