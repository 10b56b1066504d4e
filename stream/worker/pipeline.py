"""What a worker's agents share: the `Pipeline` (the app, the learner state table, the
topics, the policy) and how they send what the core returned (transitions, notices, dead
letters). The agents import it; `stream.worker.wiring` builds it and registers them.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import structlog

from schemas.reminders import FollowUpOverdue
from schemas.teams import DigestDue, TeamUpdate
from stream import codec
from stream.core import team
from stream.core.policy import Policy
from stream.core.state import LearnerState
from stream.core.step import Input, Notice, Output, step
from stream.core.wakeups import WakeIndex
from stream.errors import InvalidRecord
from stream.logs import Pseudonymizer
from stream.metrics import Metrics
from stream.settings import Settings
from stream.topics import Topics, partition_of
from stream.worker.faust_app import App
from stream.worker.progress import Progress

log = structlog.get_logger("tierwatch.worker")
DEAD_LETTER_TRIES = 4  # sends of a dead letter before it is given up (logged and counted)
DEAD_LETTER_BACKOFF_S = 0.25  # the first wait between two sends, doubled after each


class Stepped(Protocol):
    """A learner's state within the learner agent's batch (`agents.batch.Pending`)."""

    @property
    def state(self) -> LearnerState | None: ...


class Steps(Protocol):
    """The learner agent's current batch (`agents.batch.Batch`)."""

    @property
    def pending(self) -> Mapping[str, Stepped]: ...


class Unstored(Protocol):
    """The learner agent's records processed but not yet stored (`agents.batch.Intake`):
    `load` reads their states, a tick has them stored first."""

    @property
    def batch(self) -> Steps: ...

    def due(self) -> bool: ...

    async def flush(self) -> None: ...


@dataclass
class Pipeline:
    """The Faust app of a worker and the objects its agents share."""

    settings: Settings
    policy: Policy
    topics: Topics
    app: App
    table: Any
    alerts: Any = None  # the alerts topic (set by `build`)
    deadletter: Any = None  # the dead-letter topic (set by `build`)
    teams: Any = None  # the teams topic: rows of the managers' team views (set by `build`)
    progress: Progress = field(default_factory=Progress)  # replaced by `build`
    pseudonym: Pseudonymizer = field(default_factory=lambda: Pseudonymizer(""))
    source: str = "/tierwatch"
    metrics: Metrics = field(default_factory=lambda: Metrics.create(parts=("worker",)))
    tiers_by_partition: dict[int, Counter[int]] = field(default_factory=dict)
    erased: Any = None  # table: pseudonyms of erased learners (set by `build`)
    dispatch_table: Any = None  # the dispatch state table, when dispatch is configured
    # held by whoever reads, steps and writes learner states (a batch, a tick), so that a
    # tick and a batch never interleave their read-modify-writes of one learner
    writing: asyncio.Lock = field(default_factory=asyncio.Lock)
    wakeups: WakeIndex = field(init=False)  # when a tick must step whom (stream.core.wakeups)
    intake: Unstored | None = None  # the learner agent's records processed but not stored

    def __post_init__(self) -> None:
        partitions = self.settings.partitions
        self.wakeups = WakeIndex(self.policy, lambda key: partition_of(key, partitions))

    def is_erased(self, learner_id: str) -> bool:
        """Whether a learner was erased (no keyed hash is computed while nobody was)."""
        if self.erased is None or not len(self.erased):
            return False
        return self.pseudonym(learner_id) in self.erased

    def load(self, learner_id: str) -> LearnerState | None:
        """A learner's latest state: processed but not yet stored (the learner agent's
        batch, not to be modified), or as stored."""
        pending = self.intake.batch.pending.get(learner_id) if self.intake is not None else None
        if pending is not None:
            return pending.state
        raw = self.table.get(learner_id)
        return LearnerState.model_validate_json(raw) if raw is not None else None

    def store(self, state: LearnerState, unchanged: bytes | None = None) -> bool:
        """Write a learner's state, unless it is byte for byte the `unchanged` one (a tick
        on a quiet day): no changelog record for nothing. True when written."""
        value = state.model_dump_json(exclude_defaults=True).encode()
        if value == unchanged:
            return False
        self.table[state.learner_id] = value
        self.metrics.worker.states_written.inc()
        return True

    async def apply(
        self, state: LearnerState | None, item: Input, unchanged: bytes | None = None
    ) -> LearnerState:
        """Step one learner, send its transitions (and log notices), then store the state.

        Sending first keeps at-least-once: if a send fails or the worker stops before the
        state is stored, the input is processed again and gives the same transition (same
        id); receivers and the delivery log de-duplicate it."""
        before = team.placed(state, self.policy.tz)
        state, outputs = step(state, item, self.policy)
        await self.emit(outputs)
        await self.emit_team(state.learner_id, before, team.placed(state, self.policy.tz))
        self.store(state, unchanged)
        return state

    async def emit(self, outputs: list[Output]) -> None:
        metrics = self.metrics.worker
        for out in outputs:
            if isinstance(out, Notice):
                if out.code == "duplicate":
                    metrics.duplicates.inc()
                elif out.code == "late_event":
                    metrics.late_events.inc()
                elif out.code in ("retracted", "not_retracted"):
                    metrics.retractions.labels(out.code, out.detail).inc()
                elif out.code == "conversation":
                    metrics.conversations.labels(out.detail, out.role or "-", out.team or "-").inc()
                elif out.code == "follow_up_overdue":
                    labels = (out.detail, out.role or "-", out.team or "-")
                    metrics.follow_ups_overdue.labels(*labels).inc()
                level = log.warning if out.code == "unknown_role" else log.info
                level(out.code, learner=self.pseudonym(out.learner_id), detail=out.detail)
                continue
            if isinstance(out, FollowUpOverdue):  # to dispatch, beside the transitions
                value = codec.encode_follow_up(out, self.source)
                await self.alerts.send(key=out.learner_id.encode(), value=value)
                continue
            value = codec.encode_transition(out, self.source)
            await self.alerts.send(key=out.learner_id.encode(), value=value)
            metrics.transitions.labels(str(out.from_tier), str(out.to_tier), out.route).inc()
            latency = (dt.datetime.now(dt.UTC) - out.at).total_seconds()
            metrics.transition_latency.observe(max(0.0, latency))

    async def emit_team(
        self, learner_id: str, before: team.Placed | None, after: team.Placed | None
    ) -> None:
        """Send the changes of a learner's row to their manager's team view (and its
        removal from a former manager's), before the state that changed it is stored."""
        if before != after:
            await self.send_team(team.updates(learner_id, before, after, self.policy))

    async def send_team(self, updates: list[TeamUpdate]) -> None:
        if self.teams is None:  # a pipeline built without the teams topic (tests)
            return
        for update in updates:
            value = update.model_dump_json(exclude_none=True).encode()
            await self.teams.send(key=update.manager_id.encode(), value=value)

    async def digest_due(self, partition: int, at: dt.datetime) -> None:
        """Tell the teams agent of a partition that a tick evaluated it (`DigestDue`)."""
        if self.teams is None:
            return
        value = DigestDue(partition=partition, at=at).model_dump_json().encode()
        await self.teams.send(key=b"digest-due", value=value, partition=partition)

    async def dead_letter_tick(self, partition: int, learner_id: str, error: InvalidRecord) -> None:
        """Record a learner a tick could not evaluate (keyed by learner, for a retry)."""
        now = dt.datetime.now(dt.UTC)
        key = learner_id.encode()
        letter = codec.dead_letter(
            self.topics.clock, partition, -1, key, None, error, now, pseudonym=self.pseudonym
        )
        self.metrics.worker.dead_letters.labels("clock").inc()
        await self.send_letter(key, letter, error.reason)

    async def refuse(self, event: Any, error: InvalidRecord) -> None:
        """Send a message that cannot be processed to the dead-letter topic, with the reason."""
        msg = event.message
        now = dt.datetime.now(dt.UTC)
        letter = codec.dead_letter(
            msg.topic, msg.partition, msg.offset, msg.key, msg.value, error, now,
            pseudonym=self.pseudonym,
        )  # fmt: skip
        log.warning("dead_letter", topic=msg.topic, offset=msg.offset, reason=error.reason)
        self.metrics.worker.dead_letters.labels(self.topics.logical(msg.topic)).inc()
        await self.send_letter(msg.key, letter, error.reason)

    async def send_letter(self, key: bytes | None, letter: bytes, reason: str) -> None:
        """Send a dead letter, trying again a few times; a letter that still cannot be sent
        is logged with its reason and counted, and never stops the agent that refused the
        record (a failed send crashed the learner agent)."""
        for attempt in range(1, DEAD_LETTER_TRIES + 1):
            try:
                await self.deadletter.send(key=key, value=letter)
                return
            except Exception as exc:
                if attempt == DEAD_LETTER_TRIES:
                    self.metrics.worker.dead_letter_failures.inc()
                    log.error("dead_letter_failed", reason=reason, error=repr(exc)[:300])
                    return
                await asyncio.sleep(DEAD_LETTER_BACKOFF_S * 2 ** (attempt - 1))
