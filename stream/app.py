"""The Faust app: topics, the learner state table, and the agents wired to the core.

`build(settings, policy, bootstrap)` returns a `Pipeline` holding the app and what the
agents share. Agents are thin: load the learner's state, call `step`, store the state,
send what `step` returned.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import faust
import structlog
from aiokafka.partitioner import murmur2

from stream import codec, membership
from stream.agents import faust_compat, faust_resume
from stream.agents.batch import Intake
from stream.core.policy import Policy
from stream.core.state import LearnerState
from stream.core.step import Input, Notice, Output, step
from stream.core.wakeups import WakeIndex
from stream.errors import InvalidRecord
from stream.logs import Pseudonymizer
from stream.metrics import Metrics
from stream.progress import Progress
from stream.settings import Settings
from stream.topics import Topics

log = structlog.get_logger("tierwatch.worker")
DEAD_LETTER_TRIES = 4  # sends of a dead letter before it is given up (logged and counted)
DEAD_LETTER_BACKOFF_S = 0.25  # the first wait between two sends, doubled after each
COMMIT_GUARD_S = 0.5  # how often partitions whose commits are stuck are looked for


@lru_cache(maxsize=1 << 20)
def partition_of(learner_id: str, partitions: int) -> int:
    """The partition Kafka's default partitioner gives a learner's key (murmur2)."""
    hashed: int = murmur2(learner_id.encode())
    return (hashed & 0x7FFFFFFF) % partitions


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
    intake: Intake | None = None  # the learner agent's records processed but not stored

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
        state, outputs = step(state, item, self.policy)
        await self.emit(outputs)
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
                level = log.warning if out.code == "unknown_role" else log.info
                level(out.code, learner=self.pseudonym(out.learner_id), detail=out.detail)
                continue
            value = codec.encode_transition(out, self.source)
            await self.alerts.send(key=out.learner_id.encode(), value=value)
            metrics.transitions.labels(str(out.from_tier), str(out.to_tier), out.route).inc()
            latency = (dt.datetime.now(dt.UTC) - out.at).total_seconds()
            metrics.transition_latency.observe(max(0.0, latency))

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


def changelog_configs(settings: Settings) -> dict[str, str]:
    """Changelog topics keep each key's latest state (compaction) and drop records older
    than the retention (deletion): longer than the week within which every learner's state
    is rewritten (a week close changes it; a never-evaluated one is refreshed)."""
    retention_ms = int(settings.changelog_retention_days * 86_400_000)
    return {"cleanup.policy": "compact,delete", "retention.ms": str(retention_ms)}


class App(faust.App):
    """Faust's app with `before_stop`: hooks run when the app starts stopping, before Faust
    waits for every record in flight to be acknowledged (the learner agent's batch must be
    stored and acknowledged then, or the stop waits for ever)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.before_stop: list[Callable[[], Awaitable[None]]] = []

    async def on_stop(self) -> None:
        for hook in self.before_stop:
            try:
                await hook()
            except Exception:  # stopping goes on: what was not stored is processed again
                log.exception("before_stop_failed")
        await super().on_stop()


def make_app(settings: Settings, bootstrap: str) -> App:
    """A Faust app configured for the broker: short group timeouts, at-least-once (the
    embedded broker's workarounds are in `stream.tansu`)."""
    options: dict[str, Any] = {}
    if settings.clock == "external":
        # a driver waits for each tick's commit before it sends the next day
        options["broker_commit_interval"] = 0.02
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return App(
        settings.app_id,
        broker=f"kafka://{bootstrap}",
        store=settings.store,
        autodiscover=False,
        topic_partitions=settings.partitions,
        topic_replication_factor=settings.replication,
        broker_session_timeout=settings.session_timeout_s,
        broker_rebalance_timeout=settings.rebalance_timeout_s,
        broker_heartbeat_interval=min(1.0, settings.session_timeout_s / 3),
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        web_enabled=settings.web_enabled,
        web_port=settings.web_port,
        web_bind=settings.web_bind,
        web_host=settings.web_host,
        web_tables_enabled=False,  # Faust's /table/{name}/{key}/ serves raw state, unauthenticated
        table_standby_replicas=settings.standby_replicas,
        datadir=str(settings.data_dir),
        **options,
    )


def build(settings: Settings, policy: Policy, bootstrap: str) -> Pipeline:
    """Create the app, the table and the agents."""
    from stream.agents import clock, learners, ops, sink

    topics = Topics.named(settings.topic_prefix)
    app = make_app(settings, bootstrap)
    # value_type=bytes gives the raw codec to the table *and* its changelog (recovery
    # decodes with it too); str keys go through the json codec both ways.
    table = app.Table(
        "learners",
        partitions=settings.partitions,
        key_type=str,
        value_type=bytes,
        extra_topic_configs=changelog_configs(settings),
    )
    pipeline = Pipeline(
        settings=settings,
        policy=policy,
        topics=topics,
        app=app,
        table=table,
        pseudonym=Pseudonymizer(settings.pseudonym_key.get_secret_value()),
        progress=Progress(
            floor=lambda topic, partition: faust_compat.committed_offset(app, topic, partition)
        ),
        source=f"/tierwatch/{settings.app_id}",
    )
    faust_compat.check_internals(app)
    inputs = set(topics.inputs)

    def stored_up_to(tp: Any) -> int | None:
        """The learner agent's input offsets are committed no further than it has stored
        (Faust also acknowledges records it skipped at a rebalance)."""
        return pipeline.progress.next_offset(tp.topic, tp.partition) if tp.topic in inputs else None

    faust_compat.strict_commits(app, stored_up_to)
    faust_compat.set_producer_buffer(app, settings.producer_buffer)
    guard = faust_compat.CommitGuard(cap=stored_up_to)
    held = faust_resume.hold_until_sought(app)

    async def repair_stuck_commits() -> None:
        held.check()
        for _, action in await guard.check(app):
            pipeline.metrics.worker.commit_repairs.labels(action).inc()

    app.timer(COMMIT_GUARD_S)(repair_stuck_commits)

    pipeline.alerts = app.topic(topics.alerts, key_serializer="raw", value_serializer="raw")
    pipeline.erased = app.Table(
        "erased", partitions=settings.partitions, key_type=str, value_type=bytes
    )
    pipeline.deadletter = app.topic(topics.deadletter, key_serializer="raw", value_serializer="raw")

    async def on_revoked(app: Any, revoked: Any, **kwargs: Any) -> None:
        """Forget what this worker knew of partitions it no longer owns."""
        gone = {tp.partition for tp in revoked if tp.topic == topics.clock}
        pipeline.wakeups.clear()  # the next tick on each partition evaluates everyone
        for partition in gone:
            pipeline.tiers_by_partition.pop(partition, None)
        pipeline.progress.forget(gone)

    app.on_partitions_revoked.connect(on_revoked)  # type: ignore[arg-type]  # mode typing

    async def on_assigned(app: Any, assigned: Any, **kwargs: Any) -> None:
        """Keep this worker's member id for the worker restarted on its data directory."""
        member = faust_compat.member_id(app)
        if member is None:  # aiokafka moved it: restarts take the slow path
            log.warning("member_id_unknown", detail="stream/agents/faust_compat.py member_id")
            return
        membership.remember(settings.data_dir, app.conf.id, member)

    app.on_partitions_assigned.connect(on_assigned)  # type: ignore[arg-type]  # mode typing
    learners.register(pipeline)
    clock.register(pipeline)
    ops.register(pipeline)
    then = None
    if settings.dispatch_file is not None:
        from stream.agents import dispatch
        from stream.policyfile import load_dispatch

        dispatcher = dispatch.register(pipeline, load_dispatch(settings.dispatch_file))
        pipeline.dispatch_table = dispatcher.table
        then = dispatcher.on_alert
    sink.register(pipeline, then)  # the alerts topic's one reader: log, then dispatch
    return pipeline
