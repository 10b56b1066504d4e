"""The learner agent: every per-learner input topic, one state table, the step function.

A tombstone on the profiles topic (the learner's key, no value) erases the learner: the
state and the dispatch log are deleted, and the learner is marked erased (by keyed
pseudonym, not by id) so that later records for them are dropped and no transition or
message is produced, until a new profile for them arrives.

Records are taken in batches (`TIERWATCH_BATCH_MAX`, `TIERWATCH_BATCH_WITHIN_S`): each
learner's state is read and written once per batch (see `stream.agents.batch`), and the
batch's offsets are committed after its states are stored.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import structlog

from schemas.roster import FEEDBACK_KINDS, Intervention, LearnerProfile
from stream import codec
from stream.agents.batch import Batch, acting_for
from stream.core.state import LearnerState
from stream.errors import InvalidRecord

if TYPE_CHECKING:
    from stream.app import Pipeline

log = structlog.get_logger("tierwatch.learners")


def erase(pipeline: Pipeline, learner_id: str) -> None:
    """Delete everything kept about a learner and remember that they were erased."""
    pipeline.table.pop(learner_id, None)
    if pipeline.dispatch_table is not None:
        pipeline.dispatch_table.pop(learner_id, None)
    pipeline.erased[pipeline.pseudonym(learner_id)] = b"1"
    pipeline.metrics.worker.erasures.inc()
    log.info("learner_erased", learner=pipeline.pseudonym(learner_id))


def count_feedback(pipeline: Pipeline, record: Intervention, state: LearnerState | None) -> None:
    """Count feedback per reason code of the transition it names (the learner's latest;
    older ones are counted under `earlier_transition`: `tierwatch feedback` has them all)."""
    metric = pipeline.metrics.worker.feedback
    if state is None or record.transition_id != state.last_transition_id:
        metric.labels(record.kind, "earlier_transition").inc()
        return
    for code in dict.fromkeys(reason.code for reason in state.reasons):
        metric.labels(record.kind, code).inc()


def register(pipeline: Pipeline) -> None:
    """Attach the learner agent to the pipeline's app."""
    topics, settings = pipeline.topics, pipeline.settings
    kinds = dict(
        zip(topics.inputs, ("event", "profile", "assignment", "intervention"), strict=True)
    )
    channel = pipeline.app.topic(*topics.inputs, key_serializer="raw", value_serializer="raw")
    processed = pipeline.metrics.worker.events_processed

    async def handle(event: Any, batch: Batch) -> None:
        msg = event.message
        if msg.topic == topics.profiles and msg.value is None and msg.key:
            learner_id = msg.key.decode("utf-8", "replace")
            batch.forget(learner_id)
            erase(pipeline, learner_id)
            return
        try:
            record = codec.decode_input(kinds[msg.topic], msg.key, msg.value)
        except InvalidRecord as error:
            await pipeline.refuse(event, error)
            return
        if pipeline.is_erased(record.learner_id):
            if not isinstance(record, LearnerProfile):
                pipeline.metrics.worker.erased_dropped.inc()
                return
            pipeline.erased.pop(pipeline.pseudonym(record.learner_id), None)
        if isinstance(record, Intervention) and record.kind in FEEDBACK_KINDS:
            count_feedback(pipeline, record, batch.state(record.learner_id, event).state)
        await batch.apply(record, event)

    async def process(events: list[Any]) -> None:
        batch = Batch(pipeline)
        for event in events:
            try:
                with acting_for(event):  # table reads and writes go to the event's partition
                    await handle(event, batch)
            except Exception as exc:
                msg = event.message
                log.exception("processing_error", topic=msg.topic, offset=msg.offset)
                await pipeline.refuse(event, InvalidRecord("processing_error", repr(exc)[:500]))
        batch.flush()

    async def learners(stream: Any) -> None:
        async for events in stream.take_events(settings.batch_max, settings.batch_within_s):
            async with pipeline.writing:
                await process(events)
            for event in events:
                msg = event.message
                pipeline.progress.mark(msg.topic, msg.partition, msg.offset)
                processed.labels(topics.logical(msg.topic)).inc()

    pipeline.app.agent(channel, name="learners")(learners)
