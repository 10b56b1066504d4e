"""The teams topic's one reader: it keeps each manager's team view in the `teams` table.

The table is keyed by manager; its value is the manager's rows, by learner (JSON). An
update replaces a learner's row or, with no row, takes the learner out. Updates are sent
before the learner's state is stored, so a learner's step read again after a crash sends
the same update again: the table keeps the last, and a repeat changes nothing.
"""

from __future__ import annotations

from typing import Any

import orjson
import structlog
from pydantic import ValidationError

from schemas.teams import TeamRow, TeamUpdate
from stream.worker.pipeline import Pipeline

log = structlog.get_logger("tierwatch.teams")


def team_of(raw: bytes | None) -> dict[str, TeamRow]:
    """A manager's rows as the teams table keeps them."""
    if not raw:
        return {}
    return {k: TeamRow.model_validate(v) for k, v in orjson.loads(raw).items()}


def updated(raw: bytes | None, update: TeamUpdate) -> bytes | None:
    """The table's value after an update (None: the manager's view is empty)."""
    rows: dict[str, Any] = orjson.loads(raw) if raw else {}
    if update.row is None:
        rows.pop(update.learner_id, None)
    else:
        rows[update.learner_id] = update.row.model_dump(mode="json", exclude_none=True)
    return orjson.dumps(rows, option=orjson.OPT_SORT_KEYS) if rows else None


class TeamsAgent:
    """Applies the teams topic's updates to the teams table."""

    def __init__(self, pipeline: Pipeline, table: Any) -> None:
        self.pipeline = pipeline
        self.table = table

    async def run(self, stream: Any) -> None:
        async for value in stream:
            try:
                update = TeamUpdate.model_validate_json(value)
            except ValidationError as error:
                log.warning("unreadable_team_update", error=str(error)[:300])
                continue
            raw = self.table.get(update.manager_id)
            new = updated(raw, update)
            if new is None:
                self.table.pop(update.manager_id, None)
            elif new != raw:
                self.table[update.manager_id] = new


def register(pipeline: Pipeline) -> Any:
    """The teams agent and its table (returned: the team pages read it)."""
    app, settings = pipeline.app, pipeline.settings
    table = app.Table("teams", partitions=settings.partitions, key_type=str, value_type=bytes)
    channel = app.topic(pipeline.topics.teams, key_serializer="raw", value_serializer="raw")
    app.agent(channel, name="teams")(TeamsAgent(pipeline, table).run)
    return table
