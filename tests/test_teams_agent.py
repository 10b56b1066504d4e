"""The teams agent as Faust runs it (`agent.test_context()`, `tests/faust_kit.py`): rows
from the teams topic make each manager's view in the `teams` table, and a `DigestDue`
marker makes the week's digests once. What a digest counts, and when the agent makes one,
are in `tests/test_team_digest.py`."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any
from unittest import mock

from schemas.teams import DigestDue, Manager, TeamDigest, TeamRow, TeamUpdate
from stream.topics import partition_of
from stream.worker.agents import teams
from stream.worker.agents.teams import team_of, view_of
from tests.faust_kit import Driven, agent_of, driving, worker

MONDAY = dt.datetime(2026, 3, 2, 0, 5, tzinfo=dt.UTC)  # 2026-W10
MIA = Manager(name="Mia", email="mia@example.com")


def teams_agent(tmp_path: Path) -> tuple[Any, mock.AsyncMock, Any]:
    """The teams agent on a worker's app, the digest sender (a mock) and the table."""
    pipeline = worker(tmp_path)
    send = mock.AsyncMock()
    table = teams.register(pipeline, send)
    return agent_of(pipeline, "teams"), send, table


async def put_update(agent: Driven, manager: str, learner: str, tier: int | None) -> None:
    """A learner's row (None: the learner leaves the view), keyed by the manager."""
    row = None if tier is None else TeamRow(learner_id=learner, tier=tier)
    update = TeamUpdate(manager_id=manager, learner_id=learner, row=row, manager=MIA)
    value = update.model_dump_json(exclude_none=True).encode()
    await agent.put(value, manager.encode(), partition=partition_of(manager, 4))


async def put_due(agent: Driven, manager: str, at: dt.datetime) -> None:
    """The marker a tick of the manager's partition sends after evaluating it."""
    partition = partition_of(manager, 4)
    value = DigestDue(partition=partition, at=at).model_dump_json().encode()
    await agent.put(value, b"digest-due", partition=partition)


async def test_rows_make_the_view_and_the_last_learner_out_removes_it(tmp_path: Path) -> None:
    """A row adds or replaces a learner (and says how the manager is reached); an update
    without one takes the learner out; an empty view leaves the table. An unreadable
    record is skipped and the agent goes on."""
    faust_agent, _, table = teams_agent(tmp_path)
    async with driving(faust_agent) as agent:
        await put_update(agent, "m1", "a", 2)
        await put_update(agent, "m1", "b", 1)
        await put_update(agent, "m1", "b", 0)
        assert {k: r.tier for k, r in team_of(table["m1"]).items()} == {"a": 2, "b": 0}
        assert view_of(table["m1"])["manager"] == {"name": "Mia", "email": "mia@example.com"}
        await put_update(agent, "m1", "a", None)
        await agent.put(b"{not json", b"m1")
        await put_update(agent, "m1", "b", None)
    assert "m1" not in table


async def test_a_marker_makes_the_week_s_digest_once_through_the_stream(tmp_path: Path) -> None:
    """Week 10's first marker sends m1's digest; a second that week sends nothing; week
    11's sends the next. The table keeps the week of the last one."""
    faust_agent, send, table = teams_agent(tmp_path)
    async with driving(faust_agent) as agent:
        await put_update(agent, "m1", "a", 2)
        await put_due(agent, "m1", MONDAY)
        await put_due(agent, "m1", MONDAY + dt.timedelta(days=2))
        assert view_of(table["m1"])["digest"] == "2026-W10"
        await put_due(agent, "m1", MONDAY + dt.timedelta(days=7))
    made: list[TeamDigest] = [call.args[0] for call in send.await_args_list]
    assert [(d.manager_id, d.week, d.people) for d in made] == [
        ("m1", "2026-W10", 1), ("m1", "2026-W11", 1),
    ]  # fmt: skip
    assert view_of(table["m1"])["digest"] == "2026-W11"
