"""The learner agent: every per-learner input topic, one state table, the step function."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from stream import codec
from stream.errors import InvalidRecord

if TYPE_CHECKING:
    from stream.app import Pipeline


def register(pipeline: Pipeline) -> None:
    """Attach the learner agent to the pipeline's app."""
    topics = pipeline.topics
    kinds = dict(
        zip(topics.inputs, ("event", "profile", "assignment", "intervention"), strict=True)
    )
    channel = pipeline.app.topic(*topics.inputs, key_serializer="raw", value_serializer="raw")

    processed = pipeline.metrics.worker.events_processed

    async def learners(stream: Any) -> None:
        async for event in stream.events():
            msg = event.message
            try:
                record = codec.decode_input(kinds[msg.topic], msg.key, msg.value)
            except InvalidRecord as error:
                await pipeline.refuse(event, error)
            else:
                await pipeline.apply(pipeline.load(record.learner_id), record)
            pipeline.progress.mark(msg.topic, msg.partition, msg.offset)
            processed.labels(pipeline.topics.logical(msg.topic)).inc()

    pipeline.app.agent(channel, name="learners")(learners)
