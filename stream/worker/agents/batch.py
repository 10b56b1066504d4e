"""A batch of input records: each learner's state is read once, stepped through every
record of the batch for them, and written once.

Every write to a Faust table sends one changelog record, and encoding a learner's state
costs more than stepping it: a learner with ten records in a batch costs one read and one
write instead of ten of each. The outputs of each step are sent as they come (before the
state is stored, as for a single record), so at-least-once holds: if the worker stops
before the batch's offsets are committed, the batch is processed again from the stored
states and gives the same transitions with the same ids.
"""

from __future__ import annotations

import os
import random
import signal
import time
from dataclasses import dataclass, field
from typing import Any

import structlog

from schemas.events import LearningEvent
from schemas.history import Record
from stream.core import team
from stream.core.policy import Policy
from stream.core.state import LearnerState
from stream.core.step import step
from stream.core.wakeups import plain
from stream.worker.faust_compat import acting_for
from stream.worker.pipeline import Pipeline

log = structlog.get_logger("tierwatch.learners")
__all__ = ["Batch", "Intake", "Pending", "acting_for"]


@dataclass
class Pending:
    """A learner's state within a batch: as stored, as stepped so far, and by what."""

    stored: bytes | None
    state: LearnerState | None
    event: Any  # the learner's latest event in the batch: it names the partition
    applied: list[Record] = field(default_factory=list)

    def rebuild(self, policy: Policy) -> None:
        """Start again from the stored state and the records applied without error (a
        step that raised may have left the state half updated)."""
        state = LearnerState.model_validate_json(self.stored) if self.stored else None
        for record in self.applied:
            state, _ = step(state, record, policy)
        self.state = state


class Batch:
    """The learners touched by one batch of input records, written back by `flush`."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self.pending: dict[str, Pending] = {}

    def state(self, learner_id: str, event: Any) -> Pending:
        """The learner's state in this batch (read from the table the first time)."""
        pending = self.pending.get(learner_id)
        if pending is None:
            with acting_for(event):
                raw = self.pipeline.table.get(learner_id)
            state = LearnerState.model_validate_json(raw) if raw is not None else None
            pending = self.pending[learner_id] = Pending(raw, state, event)
        pending.event = event
        return pending

    async def apply(self, record: Record, event: Any) -> LearnerState:
        """Step a learner with one record and send what it caused."""
        pending = self.state(record.learner_id, event)
        policy = self.pipeline.policy
        try:
            # an event changes a learner's row only by a transition (`team.event_moves`):
            # the two rows are not taken for the many events that move nothing
            event = isinstance(record, LearningEvent)
            before = None if event else team.placed(pending.state, policy.tz)
            state, outputs = step(pending.state, record, policy)
            pending.state = state
            await self.pipeline.emit(outputs)
            if not event or team.event_moves(outputs):
                after = team.placed(state, policy.tz)
                await self.pipeline.emit_team(record.learner_id, before, after)
        except Exception:  # a failed step or send: the state as if the record never came
            pending.rebuild(self.pipeline.policy)
            raise
        pending.applied.append(record)
        return state

    def forget(self, learner_id: str) -> None:
        """Drop a learner from the batch (erased: nothing of them is written back)."""
        self.pending.pop(learner_id, None)
        self.pipeline.wakeups.forget(learner_id)

    def flush(self) -> int:
        """Store every changed state once; return how many were written."""
        written = 0
        for learner_id, pending in self.pending.items():
            if pending.state is None:
                continue
            try:
                with acting_for(pending.event):
                    written += self.pipeline.store(pending.state, pending.stored)
                events_only = all(plain(r) for r in pending.applied)
                self.pipeline.wakeups.recorded(learner_id, pending.state, events_only)
            except Exception:  # one learner's failure must not lose the others' batch
                self.pipeline.wakeups.forget(learner_id)
                log.exception("store_error", learner=self.pipeline.pseudonym(learner_id))
        self.pending.clear()
        return written


class Intake:
    """Records processed but not yet stored: their states are written, and their offsets
    acknowledged (so committed), together, when `due` (enough records, the oldest has
    waited long enough, or a tick waits for them).

    Transitions are sent as each record is processed, so a transition's latency does not
    depend on the window; only state writes and commits do."""

    def __init__(self, pipeline: Pipeline, stream: Any) -> None:
        self.pipeline = pipeline
        self.stream = stream  # the agent's stream, whose events are acknowledged by hand
        self.batch = Batch(pipeline)
        self.events: list[Any] = []
        self.oldest = 0.0
        self.max = pipeline.settings.batch_max
        self.within_s = pipeline.settings.batch_within_s
        self.counted: dict[str, Any] = {}  # topic: its child of the processed counter

    def add(self, event: Any) -> None:
        """A record processed (its transitions sent): counted now, stored at the flush."""
        topic = event.message.topic
        counter = self.counted.get(topic)
        if counter is None:
            processed = self.pipeline.metrics.worker.events_processed
            counter = self.counted[topic] = processed.labels(self.pipeline.topics.logical(topic))
        counter.inc()
        if not self.events:
            self.oldest = time.monotonic()
        self.events.append(event)

    def due(self) -> bool:
        """Whether to store and acknowledge now: the batch is full, its oldest record has
        waited long enough, a tick waits for it, or Faust waits for it (a rebalance, a
        stop)."""
        if not self.events:
            return False
        return (
            len(self.events) >= self.max
            or time.monotonic() - self.oldest >= self.within_s
            or self.pipeline.progress.waiting()
            or self._faust_waits()
        )

    def _faust_waits(self) -> bool:
        """Faust waits for every record in flight: a rebalance, or the app stopping."""
        app = self.pipeline.app
        if app is None:
            return False
        flow = getattr(app, "flow_control", None)
        stopped_flow = flow is not None and not flow.is_active()
        return bool(app.rebalancing or app.should_stop or stopped_flow)

    async def _maybe_die_before_ack(self) -> None:
        """Chaos testing: die between "state stored" (the changelog records sent and
        acknowledged by the broker) and "offset committed", the window at-least-once must
        survive (`TIERWATCH_FAULT_KILL_AFTER_STORE`, 0 by default)."""
        chance = self.pipeline.settings.fault_kill_after_store
        if chance > 0 and random.random() < chance:
            if self.pipeline.app is not None:
                await self.pipeline.app.producer.flush()
            log.warning("fault_kill_after_store")
            os.kill(os.getpid(), signal.SIGKILL)

    async def flush(self) -> None:
        """Store the batch's states, then acknowledge its records and mark them done."""
        if not self.events:
            return
        events, self.events = self.events, []
        self.batch.flush()
        await self._maybe_die_before_ack()
        progress = self.pipeline.progress
        for event in events:
            await self.stream.ack(event)
            msg = event.message
            progress.mark(msg.topic, msg.partition, msg.offset)
