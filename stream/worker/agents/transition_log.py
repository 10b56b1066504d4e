"""The alerts topic's one reader: it logs every tier transition and overdue follow-up
(learner pseudonymised) and hands it on to dispatch when dispatch is configured.

One agent, not one each: Faust acknowledges a record read by two agents only once both
took it, and a rebalance can clear it from one agent's buffer after the other took it; the
record then stays unacknowledged for good, and the next rebalance or stop waits for it
for ever (seen in the chaos suite's scale and rolling runs with dispatch on).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import structlog

from schemas.reminders import FollowUpOverdue
from schemas.teams import TeamDigest
from stream import codec
from stream.errors import InvalidRecord
from stream.worker.pipeline import Pipeline

log = structlog.get_logger("tierwatch.transitions")


def register(pipeline: Pipeline, then: Callable[[bytes], Awaitable[None]] | None = None) -> None:
    """The transition log on the alerts topic; `then` (dispatch) is given each record after."""
    channel = pipeline.app.topic(
        pipeline.topics.alerts, key_serializer="raw", value_serializer="raw"
    )

    async def transitions(stream: Any) -> None:
        async for value in stream:
            try:
                t = codec.decode_alert(value)
            except InvalidRecord as error:
                log.warning("unreadable_transition", error=str(error))
                continue
            if isinstance(t, TeamDigest):  # a manager's weekly digest, for dispatch
                log.info("team_digest", week=t.week, people=t.people, overdue=t.overdue)
            elif isinstance(t, FollowUpOverdue):  # an overdue follow-up, for dispatch too
                log.info(
                    "follow_up_overdue",
                    learner=pipeline.pseudonym(t.learner_id),
                    step=t.step,
                    tier=t.tier,
                    talk_by=t.talk_by.isoformat(),
                )
            else:
                log.info(
                    "tier_transition",
                    learner=pipeline.pseudonym(t.learner_id),
                    from_tier=t.from_tier,
                    to_tier=t.to_tier,
                    route=t.route,
                    week=t.week,
                    reasons=[r.code for r in t.reasons],
                )
            if then is not None:
                await then(value)

    pipeline.app.agent(channel, name="transition-log")(transitions)
