"""A learner's row in their manager's team view, and the updates a step makes to it.

A row is a pure function of the learner's state, so the same inputs give the same rows and
a step read again after a crash sends the same updates (the teams table keeps the last
one; a repeat changes nothing). `updates` compares what a step changed: a changed row goes
to the learner's manager; a learner who moved to another manager (or has none any more)
leaves the old manager's view. `placed` is cheap (a tuple of the state's fields), as it is
taken before and after every step; the row itself is built only when it changed.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import NamedTuple
from zoneinfo import ZoneInfo

from schemas.teams import Manager, TeamDigest, TeamRow, TeamUpdate
from schemas.transitions import TierTransition
from stream.core import leaving
from stream.core.outputs import Output
from stream.core.policy import Policy
from stream.core.state import LearnerState
from stream.core.weeks import local_date, week_label, week_of_date

DIGEST_NAMESPACE = uuid.UUID("5b0b7d4e-2f0c-4e43-9a59-7d1f5a1f2c61")  # digest ids


class Placed(NamedTuple):
    """What a learner's row is made of, and whose view it is in."""

    manager_id: str
    name: str | None
    role: str
    team: str | None
    tier: int
    tier_since: dt.datetime | None
    talk_by: dt.date | None
    follow_up_due: dt.date | None
    last_action: str | None
    last_action_on: dt.date | None
    transition_id: str | None
    manager_name: str | None
    manager_email: str | None


def placed(state: LearnerState | None, tz: ZoneInfo) -> Placed | None:
    """The learner's place in their manager's view (None: no manager to see it, or the
    learner left and their evaluation ended: `stream.core.leaving`)."""
    p = state.profile if state is not None else None
    if state is None or p is None or not p.manager_id:
        return None
    if p.left_on is not None and leaving.ended(state, tz):
        return None
    return Placed(
        p.manager_id, p.name, p.role, p.team, state.tier, state.tier_since, state.talk_by,
        state.follow_up_due, state.last_intervention, state.last_intervention_on,
        state.last_transition_id, p.manager_name, p.manager_email,
    )  # fmt: skip


def event_moves(outputs: list[Output]) -> bool:
    """Whether an event's step can have changed the learner's row: only a transition does
    (an event changes no profile, no intervention, no follow-up but by moving the tier).
    The row after such a step is sent as it is (no removal: the manager is the same)."""
    return any(isinstance(o, TierTransition) for o in outputs)


def row_of(learner_id: str, place: Placed, policy: Policy) -> TeamRow:
    """The row a manager's team view shows for the learner."""
    since = place.tier_since if place.tier else None
    return TeamRow(
        learner_id=learner_id,
        name=place.name,
        role=place.role,
        team=place.team,
        tier=place.tier,
        since=local_date(since, policy.tz) if since is not None else None,
        talk_by=place.talk_by,
        follow_up_due=place.follow_up_due,
        last_action=place.last_action if place.last_action_on is not None else None,
        last_action_on=place.last_action_on,
        transition_id=place.transition_id,
        transition_at=place.tier_since if place.transition_id is not None else None,
    )


def updates(
    learner_id: str, before: Placed | None, after: Placed | None, policy: Policy
) -> list[TeamUpdate]:
    """What the teams topic must hear when a learner's place changed in a step."""
    if before == after:
        return []
    old = before.manager_id if before is not None else None
    out: list[TeamUpdate] = []
    if old is not None and (after is None or after.manager_id != old):
        out.append(TeamUpdate(manager_id=old, learner_id=learner_id, row=None))
    if after is not None:
        row = row_of(learner_id, after, policy)
        manager = Manager(name=after.manager_name, email=after.manager_email)
        out.append(
            TeamUpdate(manager_id=after.manager_id, learner_id=learner_id, row=row, manager=manager)
        )
    return out


def erased(learner_id: str, state: LearnerState | None) -> list[TeamUpdate]:
    """An erased learner leaves their manager's view."""
    manager = state.profile.manager_id if state is not None and state.profile else None
    if not manager:
        return []
    return [TeamUpdate(manager_id=manager, learner_id=learner_id, row=None)]


def due_of(row: TeamRow) -> dt.date | None:
    """The earliest day something is due for a learner: a conversation, or the follow-up."""
    days = [d for d in (row.talk_by, row.follow_up_due) if d is not None]
    return min(days) if days else None


def digest(
    manager_id: str, manager: Manager, rows: list[TeamRow], at: dt.datetime, policy: Policy
) -> TeamDigest | None:
    """A manager's digest of the week `at` falls in (None: nobody at a tier and nothing
    due: no message). Its id is the same for the same manager and week."""
    today = local_date(at, policy.tz)
    week = week_label(week_of_date(today))
    end = today + dt.timedelta(days=6 - today.weekday())
    dues = [d for d in map(due_of, rows) if d is not None]
    by_tier = {tier: sum(1 for r in rows if r.tier == tier) for tier in (1, 2, 3)}
    if not dues and not any(by_tier.values()):
        return None
    return TeamDigest(
        id=str(uuid.uuid5(DIGEST_NAMESPACE, f"{manager_id}\n{week}")),
        manager_id=manager_id,
        manager=manager,
        week=week,
        at=at,
        people=len(rows),
        by_tier=by_tier,
        overdue=sum(1 for d in dues if d < today),
        due_this_week=sum(1 for d in dues if today <= d <= end),
    )
