"""The learner agent: every per-learner input topic, one state table, the step function.

A tombstone on the profiles topic (the learner's key, no value) erases the learner: the
state and the dispatch log are deleted, and the learner is marked erased (by keyed
pseudonym, not by id) so that later records for them are dropped and no transition or
message is produced, until a new profile for them arrives.

Each record is processed (and its transitions sent) as it comes; states are written, and
offsets acknowledged, in batches (`TIERWATCH_BATCH_MAX` records, or when the oldest has
waited `TIERWATCH_BATCH_WITHIN_S`, or at once when a tick waits for them): each learner's
state is read and written once per batch (see `stream.worker.agents.batch`).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import structlog

from schemas.events import LearningEvent
from schemas.roster import FEEDBACK_KINDS, Intervention, LearnerProfile
from stream import codec
from stream.core import team
from stream.core.bounds import event_time_problem
from stream.core.state import LearnerState
from stream.core.step import intervention_key
from stream.errors import InvalidRecord
from stream.worker.agents.batch import Batch, Intake, acting_for
from stream.worker.pipeline import Pipeline

log = structlog.get_logger("tierwatch.learners")
FLUSH_CHECK_S = 0.02  # how often an idle agent checks whether processed records wait


def erase(pipeline: Pipeline, learner_id: str) -> None:
    """Delete everything kept about a learner and remember that they were erased."""
    pipeline.table.pop(learner_id, None)
    if pipeline.dispatch_table is not None:
        pipeline.dispatch_table.pop(learner_id, None)
    pipeline.erased[pipeline.pseudonym(learner_id)] = b"1"
    pipeline.metrics.worker.erasures.inc()
    log.info("learner_erased", learner=pipeline.pseudonym(learner_id))


def received_at(msg: Any) -> dt.datetime:
    """When the broker says a record was produced (its timestamp), or now if it has none:
    the clock an event's time is judged by, as ingest judges it by its own."""
    stamp = getattr(msg, "timestamp", None)
    if isinstance(stamp, int | float) and stamp > 0:
        return dt.datetime.fromtimestamp(stamp, dt.UTC)
    return dt.datetime.now(dt.UTC)


def count_feedback(pipeline: Pipeline, record: Intervention, state: LearnerState | None) -> None:
    """Count feedback per reason code of the transition it names (the learner's latest;
    older ones are counted under `earlier_transition`: `tierwatch feedback` has them all).
    The same intervention again (a form posted twice, a button clicked twice) is not."""
    metric = pipeline.metrics.worker.feedback
    if state is not None and intervention_key(record) in state.seen_interventions:
        return
    if state is None or record.transition_id != state.last_transition_id:
        metric.labels(record.kind, "earlier_transition").inc()
        return
    for code in dict.fromkeys(reason.code for reason in state.reasons):
        metric.labels(record.kind, code).inc()


class LearnerAgent:
    """The learner agent of one worker: decodes each input record, drops what it must
    (invalid, dated outside the window, an erased learner's), steps the rest in the
    current batch, and stores and acknowledges the batch when it is due."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        topics = pipeline.topics
        self.profiles = topics.profiles
        self.kinds = dict(
            zip(topics.inputs, ("event", "profile", "assignment", "intervention"), strict=True)
        )

    async def learners(self, stream: Any) -> None:
        """The agent: records are acknowledged once their states are stored."""
        pipeline = self.pipeline
        manual = stream.noack()
        intake = pipeline.intake
        if not isinstance(intake, Intake):  # None until the agent first starts
            intake = pipeline.intake = Intake(pipeline, manual)
        else:  # the agent restarted (after a crash): what the old run processed is kept
            intake.stream = manual
        async for event in manual.events():
            async with pipeline.writing:
                await self.take(event, intake)
                if intake.due():
                    await intake.flush()

    async def take(self, event: Any, intake: Intake) -> None:
        """Process one record; one that fails is dead-lettered, and the agent goes on."""
        try:
            with acting_for(event):  # table reads and writes go to the event's partition
                await self.handle(event, intake.batch)
        except Exception as exc:
            msg = event.message
            log.exception("processing_error", topic=msg.topic, offset=msg.offset)
            await self.pipeline.refuse(event, InvalidRecord("processing_error", repr(exc)[:500]))
        intake.add(event)

    async def handle(self, event: Any, batch: Batch) -> None:
        """Erase on a profile tombstone, else decode, check and step one record."""
        pipeline, msg = self.pipeline, event.message
        if msg.topic == self.profiles and msg.value is None and msg.key:
            learner_id = msg.key.decode("utf-8", "replace")
            await pipeline.send_team(team.erased(learner_id, batch.state(learner_id, event).state))
            batch.forget(learner_id)
            erase(pipeline, learner_id)
            return
        try:
            record = codec.decode_input(self.kinds[msg.topic], msg.key, msg.value)
        except InvalidRecord as error:
            await pipeline.refuse(event, error)
            return
        if isinstance(record, LearningEvent):
            problem = event_time_problem(record.occurred_at, received_at(msg), pipeline.policy)
            if problem is not None:
                await pipeline.refuse(event, InvalidRecord(problem.reason, problem.detail))
                return
        if pipeline.is_erased(record.learner_id):
            if not isinstance(record, LearnerProfile):
                pipeline.metrics.worker.erased_dropped.inc()
                return
            pipeline.erased.pop(pipeline.pseudonym(record.learner_id), None)
        if isinstance(record, Intervention) and record.kind in FEEDBACK_KINDS:
            count_feedback(pipeline, record, batch.state(record.learner_id, event).state)
        await batch.apply(record, event)

    async def flush(self, when_due: bool = True) -> None:
        """Store and acknowledge what waits: when due and no new record comes to do it
        (the timer), or at once (the app stops)."""
        intake = self.pipeline.intake
        if intake is not None and (intake.due() or not when_due):
            async with self.pipeline.writing:
                await intake.flush()

    async def flush_when_due(self) -> None:
        await self.flush()

    async def flush_before_stop(self) -> None:
        await self.flush(when_due=False)


def register(pipeline: Pipeline) -> None:
    """Attach the learner agent, its flush timer and its stop hook to the pipeline's app."""
    app = pipeline.app
    channel = app.topic(*pipeline.topics.inputs, key_serializer="raw", value_serializer="raw")
    agent = LearnerAgent(pipeline)
    app.agent(channel, name="learners")(agent.learners)
    app.timer(FLUSH_CHECK_S)(agent.flush_when_due)
    app.before_stop.append(agent.flush_before_stop)
