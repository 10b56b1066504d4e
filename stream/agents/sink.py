"""A sink that logs every tier transition, learner pseudonymised."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import structlog

from stream import codec
from stream.errors import InvalidRecord

if TYPE_CHECKING:
    from stream.app import Pipeline

log = structlog.get_logger("tierwatch.transitions")


def register(pipeline: Pipeline) -> None:
    channel = pipeline.app.topic(
        pipeline.topics.alerts, key_serializer="raw", value_serializer="raw"
    )

    async def transitions(stream: Any) -> None:
        async for value in stream:
            try:
                t = codec.decode_transition(value)
            except InvalidRecord as error:
                log.warning("unreadable_transition", error=str(error))
                continue
            log.info(
                "tier_transition",
                learner=pipeline.pseudonym(t.learner_id),
                from_tier=t.from_tier,
                to_tier=t.to_tier,
                route=t.route,
                week=t.week,
                reasons=[r.code for r in t.reasons],
            )

    pipeline.app.agent(channel, name="transition-log")(transitions)
