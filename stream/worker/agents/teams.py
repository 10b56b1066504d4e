"""The teams topic's one reader: it keeps each manager's team view in the `teams` table,
and makes the managers' weekly digests.

The table is keyed by manager; its value (JSON) holds how the manager is reached, their
rows by learner, and the last week a digest was made for them. An update replaces a
learner's row or, with no row, takes the learner out. Updates are sent before the
learner's state is stored, so a step read again after a crash sends the same update
again: the table keeps the last, and a repeat changes nothing.

A `DigestDue` (a tick evaluated the partition) makes, once per week, a digest for each
manager of the partition with someone at a tier or something due (`stream.core.team.digest`),
sent to the alerts topic for dispatch; its id is the manager's and the week's, so a marker
read again after a crash sends the same digest, which dispatch and receivers take once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import orjson
import structlog
from pydantic import ValidationError

from schemas.teams import TEAMS_RECORD, DigestDue, Manager, TeamDigest, TeamRow, TeamUpdate
from stream.core import team
from stream.core.weeks import local_date, week_label, week_of_date
from stream.topics import partition_of
from stream.worker.pipeline import Pipeline

log = structlog.get_logger("tierwatch.teams")
SendDigest = Callable[[TeamDigest], Awaitable[None]]


def view_of(raw: bytes | None) -> dict[str, Any]:
    """A manager's value in the teams table: {"manager": {...}, "rows": {...}, "digest": week}."""
    return orjson.loads(raw) if raw else {}


def team_of(raw: bytes | None) -> dict[str, TeamRow]:
    """A manager's rows, by learner."""
    return {k: TeamRow.model_validate(v) for k, v in view_of(raw).get("rows", {}).items()}


def manager_of(raw: bytes | None) -> Manager:
    return Manager.model_validate(view_of(raw).get("manager", {}))


def encoded(view: dict[str, Any]) -> bytes | None:
    """The table's value of a view (None: nobody left in it, the key goes)."""
    return orjson.dumps(view, option=orjson.OPT_SORT_KEYS) if view.get("rows") else None


def updated(raw: bytes | None, update: TeamUpdate) -> bytes | None:
    """The table's value after an update (None: the manager's view is empty)."""
    view = view_of(raw)
    rows: dict[str, Any] = view.setdefault("rows", {})
    if update.row is None:
        rows.pop(update.learner_id, None)
    else:
        rows[update.learner_id] = update.row.model_dump(mode="json", exclude_none=True)
        if update.manager is not None:
            view["manager"] = update.manager.model_dump(mode="json", exclude_none=True)
    return encoded(view)


class TeamsAgent:
    """Applies the teams topic's updates to the teams table; makes the weekly digests."""

    def __init__(self, pipeline: Pipeline, table: Any, send: SendDigest) -> None:
        self.pipeline = pipeline
        self.table = table
        self.send = send
        self.digested: dict[int, str] = {}  # partition -> the last week its digests were made

    async def run(self, stream: Any) -> None:
        async for value in stream:
            try:
                record = TEAMS_RECORD.validate_json(value)
            except ValidationError as error:
                log.warning("unreadable_team_record", error=str(error)[:300])
                continue
            if isinstance(record, DigestDue):
                await self.digests(record)
                continue
            raw = self.table.get(record.manager_id)
            new = updated(raw, record)
            if new is None:
                self.table.pop(record.manager_id, None)
            elif new != raw:
                self.table[record.manager_id] = new

    async def digests(self, due: DigestDue) -> int:
        """The digests of the week `due.at` falls in, for the partition's managers that have
        none for it yet; how many were sent."""
        policy = self.pipeline.policy
        week = week_label(week_of_date(local_date(due.at, policy.tz)))
        if self.digested.get(due.partition) == week:
            return 0
        n, sent = self.pipeline.settings.partitions, 0
        for manager_id in [
            k for k in list(self.table.keys()) if partition_of(k, n) == due.partition
        ]:
            raw = self.table.get(manager_id)
            view = view_of(raw)
            if raw is None or view.get("digest", "") >= week:
                continue
            rows = list(team_of(raw).values())
            made = team.digest(manager_id, manager_of(raw), rows, due.at, policy)
            if made is not None:
                await self.send(made)
                sent += 1
            view["digest"] = week
            new = encoded(view)
            if new is not None:  # (a view with nobody in it is not kept at all)
                self.table[manager_id] = new
        self.digested[due.partition] = week
        if sent:
            log.info("team_digests", partition=due.partition, week=week, sent=sent)
        return sent


def register(pipeline: Pipeline, send: SendDigest) -> Any:
    """The teams agent and its table (returned: the team pages read it)."""
    app, settings = pipeline.app, pipeline.settings
    table = app.Table("teams", partitions=settings.partitions, key_type=str, value_type=bytes)
    channel = app.topic(pipeline.topics.teams, key_serializer="raw", value_serializer="raw")
    app.agent(channel, name="teams")(TeamsAgent(pipeline, table, send).run)
    return table
