"""The managers' weekly digests (issue 13, item 3): what a digest counts, when the teams
agent makes one (the first tick of a week on the manager's partition, once), and its id."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

from schemas.teams import DigestDue, Manager, TeamDigest, TeamRow, TeamUpdate
from stream.core import team
from stream.dispatch.config import parse_dispatch
from stream.dispatch.digest import plan_digest
from stream.dispatch.templates import Templates
from stream.settings import Settings
from stream.topics import partition_of
from stream.worker.agents.teams import TeamsAgent, updated, view_of
from tests.kit import POLICY

MONDAY = dt.datetime(2026, 3, 2, 0, 5, tzinfo=dt.UTC)  # 2026-W10
MIA = Manager(name="Mia", email="mia@example.com")


def row(learner: str, tier: int = 0, **dates: str) -> TeamRow:
    return TeamRow.model_validate({"learner_id": learner, "tier": tier, **dates})


def test_a_digest_counts_tiers_and_what_is_overdue_or_due_this_week():
    rows = [
        row("a", 2, talk_by="2026-02-27"),  # overdue
        row("b", 2, talk_by="2026-03-04", follow_up_due="2026-03-04"),  # due this week
        row("c", 3, follow_up_due="2026-03-20"),  # later
        row("d", 1),
        row("e", 0),
    ]
    made = team.digest("m1", MIA, rows, MONDAY, POLICY)
    assert made is not None
    assert (made.week, made.people, made.overdue, made.due_this_week) == ("2026-W10", 5, 1, 1)
    assert made.by_tier == {1: 1, 2: 2, 3: 1}
    again = team.digest("m1", MIA, rows[:1], MONDAY + dt.timedelta(days=2), POLICY)
    assert again is not None
    assert again.id == made.id  # the same manager and week: the same id
    assert team.digest("m2", MIA, rows, MONDAY, POLICY).id != made.id  # type: ignore[union-attr]
    later = team.digest("m1", MIA, rows, MONDAY + dt.timedelta(days=7), POLICY)
    assert later is not None
    assert later.id != made.id


def test_nobody_at_a_tier_and_nothing_due_is_no_digest():
    assert team.digest("m1", MIA, [row("a"), row("b")], MONDAY, POLICY) is None


class Table(dict):  # what the agent uses of a Faust table
    pass


def agent_with(views: dict[str, list[TeamRow]]) -> tuple[TeamsAgent, list[TeamDigest], Table]:
    sent: list[TeamDigest] = []

    async def send(d: TeamDigest) -> None:
        sent.append(d)

    table = Table()
    for manager, rows in views.items():
        raw = None
        for r in rows:
            update = TeamUpdate(manager_id=manager, learner_id=r.learner_id, row=r, manager=MIA)
            raw = updated(raw, update)
        if raw is not None:
            table[manager] = raw
    pipeline: Any = type("P", (), {"policy": POLICY, "settings": Settings(partitions=4)})()
    return TeamsAgent(pipeline, table, send), sent, table


def test_the_first_tick_of_a_week_makes_each_managers_digest_of_the_partition_once():
    managers = [f"m{i}" for i in range(12)]
    agent, sent, table = agent_with({m: [row(f"{m}-x", 2, talk_by="2026-03-03")] for m in managers})
    mine = sorted(m for m in managers if partition_of(m, 4) == 1)
    assert mine  # (12 managers over 4 partitions)
    due = DigestDue(partition=1, at=MONDAY)
    assert asyncio.run(agent.digests(due)) == len(mine)
    assert sorted(d.manager_id for d in sent) == mine
    assert all(d.manager == MIA for d in sent)
    later = DigestDue(partition=1, at=MONDAY + dt.timedelta(days=1))
    assert asyncio.run(agent.digests(later)) == 0  # this week's are made
    agent.digested.clear()  # a restart: the table says which were made
    assert asyncio.run(agent.digests(later)) == 0
    assert all(view_of(table[m])["digest"] == "2026-W10" for m in mine)
    next_week = DigestDue(partition=1, at=MONDAY + dt.timedelta(days=7))
    assert asyncio.run(agent.digests(next_week)) == len(mine)
    assert len({d.id for d in sent}) == 2 * len(mine)


def test_a_digest_keeps_the_rows_and_a_row_update_keeps_the_digest_week():
    agent, sent, table = agent_with({"m1": [row("a", 2, talk_by="2026-03-03")]})
    asyncio.run(agent.digests(DigestDue(partition=partition_of("m1", 4), at=MONDAY)))
    assert len(sent) == 1
    raw = updated(table["m1"], TeamUpdate(manager_id="m1", learner_id="b", row=row("b", 1)))
    assert set(view_of(raw)["rows"]) == {"a", "b"}
    assert view_of(raw)["digest"] == "2026-W10"


def test_a_digests_message_counts_links_the_view_and_names_nobody():
    """Planned for the manager on the outreach's channels (no route of its own): counts
    and the team link only, through the privacy scan; an empty route sends nothing."""
    config = parse_dispatch(
        {
            "channels": {
                "mail": {"type": "email", "host": "localhost", "sender": "tw@example.com"},
                "hook": {
                    "type": "webhook", "url": "https://hooks.example.com/x",
                    "secrets": ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
                },
            },
            "routes": {"manager_outreach": ["mail", "hook"]},
        }
    )  # fmt: skip
    rows = [row("a", 2, talk_by="2026-02-27"), row("b", 1)]
    made = team.digest("m1", MIA, rows, MONDAY, POLICY)
    assert made is not None
    link = "https://tw.example.com/team/TOKEN"
    result = plan_digest(made, config, Templates(), link)
    assert result.missing == []
    assert [(p.role, p.message.channel, p.message.recipient) for p in result.messages] == [
        ("manager", "mail", "mia@example.com"), ("manager", "hook", "https://hooks.example.com/x"),
    ]  # fmt: skip
    mail = result.messages[0].message
    assert mail.id == made.id
    assert link in mail.text
    assert "1 at Tier 2" in mail.text
    assert "1 conversation or follow-up date passed" in mail.text
    assert "Learner" not in mail.text
    off = config.model_copy(update={"routes": {**config.routes, "team_digest": []}})
    assert plan_digest(made, off, Templates(), link).skipped == ["no channel for team_digest"]
