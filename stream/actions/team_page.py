"""A manager's team view: the team's tiers, the conversations and follow-ups due (overdue
first), and the last action recorded per learner. Aggregates only, as the action pages.

The page is built from the rows of the manager's teams table (`schemas.teams.TeamRow`)
and the query of the page's own form: which learners (`show`: everyone, or those with a
tier, or those with something due) and in which order (`sort`). Filtering and sorting are
plain GET parameters: they work without JavaScript, and a sorted view can be bookmarked.
Each learner with a transition links to their action page (a manager's action link, made
for this view and relative to it: it keeps whatever path a proxy put in front).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from schemas.teams import TeamRow
from stream.actions.links import ACTIONS
from stream.actions.page import environment
from stream.actions.tokens import ActionKeys, Grant
from stream.core.team import due_of

SHOW = {"all": "Everyone", "flagged": "Tier 1 or above", "due": "With something due"}
SORT = {"due": "Due first (overdue on top)", "tier": "Tier, highest first", "name": "Name"}
NO_DATE = dt.date.max
MANAGER_ACTIONS = ACTIONS["manager"]
ACTION_NAMES = {  # the last action, as a column names it
    "conversation_held": "Conversation held", "support_plan": "Support plan agreed",
    "concern_raised": "Concern raised", "resolved": "Resolved", "snoozed": "Snoozed",
}  # fmt: skip


@dataclass(frozen=True)
class Line:
    """One learner as the table shows them."""

    name: str
    role: str
    tier: int
    since: str
    talk_by: str
    follow_up_due: str
    due: dt.date | None  # the earliest of the two
    overdue: bool
    last_action: str
    act: str | None  # the action page's token


@dataclass(frozen=True)
class TeamPage:
    lines: list[Line]
    total: int  # learners in the team, before the filter
    by_tier: dict[int, int]
    overdue: int
    show: str
    sort: str
    today: str
    shows: dict[str, str]
    sorts: dict[str, str]


def choice(query: Mapping[str, str], name: str, options: Mapping[str, str]) -> str:
    """The query's value of a parameter, when it is one of the options; else the first."""
    value = query.get(name, "")
    return value if value in options else next(iter(options))


def line_of(row: TeamRow, today: dt.date, act: str | None) -> Line:
    due = due_of(row)
    last = ACTION_NAMES.get(row.last_action or "", row.last_action or "")
    return Line(
        name=row.name or row.learner_id,
        role=row.role,
        tier=row.tier,
        since=row.since.isoformat() if row.since else "",
        talk_by=row.talk_by.isoformat() if row.talk_by else "",
        follow_up_due=row.follow_up_due.isoformat() if row.follow_up_due else "",
        due=due,
        overdue=due is not None and due < today,
        last_action=f"{last} ({row.last_action_on.isoformat()})" if row.last_action_on else "",
        act=act,
    )


def ordered(lines: Iterable[Line], sort: str) -> list[Line]:
    """`due`: overdue first, then by the date due, then the highest tier; `tier`: the
    highest tier first, then by the date due; `name`: by name."""
    if sort == "name":
        return sorted(lines, key=lambda x: (x.name.casefold(), x.name))
    if sort == "tier":
        return sorted(lines, key=lambda x: (-x.tier, x.due or NO_DATE, x.name.casefold()))
    return sorted(
        lines, key=lambda x: (not x.overdue, x.due or NO_DATE, -x.tier, x.name.casefold())
    )


def wanted(line: Line, show: str) -> bool:
    if show == "flagged":
        return line.tier > 0
    if show == "due":
        return line.due is not None
    return True


def team_page(
    rows: Mapping[str, TeamRow], manager_id: str, query: Mapping[str, str], keys: ActionKeys,
    now: dt.datetime, today: dt.date, link_days: int,
) -> TeamPage:  # fmt: skip
    """The page for a manager's rows, filtered and sorted as the query asks."""
    show, sort = choice(query, "show", SHOW), choice(query, "sort", SORT)
    expires = now + dt.timedelta(days=link_days)
    lines = []
    for row in rows.values():
        act = None
        if row.transition_id is not None:
            act = keys.issue(Grant(
                transition_id=row.transition_id, learner_id=row.learner_id, recipient="manager",
                recipient_id=manager_id, team=row.team, actions=MANAGER_ACTIONS, expires=expires,
                at=row.transition_at,
            ))  # fmt: skip
        lines.append(line_of(row, today, act))
    by_tier = {tier: sum(1 for x in lines if x.tier == tier) for tier in (0, 1, 2, 3)}
    return TeamPage(
        lines=ordered((x for x in lines if wanted(x, show)), sort),
        total=len(lines),
        by_tier=by_tier,
        overdue=sum(1 for x in lines if x.overdue),
        show=show,
        sort=sort,
        today=today.isoformat(),
        shows=SHOW,
        sorts=SORT,
    )


def render_team(page: TeamPage) -> str:
    return environment().get_template("team.html.j2").render(page=page)
