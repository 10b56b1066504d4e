"""A worker's wiring: the Faust app, its tables and topics, the commit rules, and every
agent registered on them.

`build(settings, policy, bootstrap)` returns the `Pipeline` (`stream.worker.pipeline`)
the agents share. Agents are thin: load the learner's state, call `step`, store the state,
send what `step` returned. They import downward only; this module is the one that imports
them.
"""

from __future__ import annotations

from typing import Any

import structlog

from schemas.teams import TeamDigest
from stream import codec
from stream.core.policy import Policy
from stream.logs import Pseudonymizer
from stream.policyfile import load_dispatch
from stream.settings import Settings
from stream.topics import Topics
from stream.worker import actions_web, faust_compat, faust_resume, membership, ops, slack_web
from stream.worker.agents import dispatcher, learners, teams, ticks, transition_log
from stream.worker.faust_app import changelog_configs, make_app
from stream.worker.faust_resume import HeldPartitions
from stream.worker.pipeline import Pipeline
from stream.worker.progress import Progress

log = structlog.get_logger("tierwatch.worker")
COMMIT_GUARD_S = 0.5  # how often partitions whose commits are stuck are looked for


def build(settings: Settings, policy: Policy, bootstrap: str) -> Pipeline:
    """Create the app, the table and the agents."""
    pipeline = make_pipeline(settings, policy, bootstrap)
    faust_compat.check_internals(pipeline.app)
    guard_commits(pipeline)
    add_outputs(pipeline)
    Rebalances(pipeline).connect()
    register_agents(pipeline)
    return pipeline


def make_pipeline(settings: Settings, policy: Policy, bootstrap: str) -> Pipeline:
    """The app and its learners table, in the pipeline the agents share."""
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
    return Pipeline(
        settings=settings,
        policy=policy,
        topics=Topics.named(settings.topic_prefix),
        app=app,
        table=table,
        pseudonym=Pseudonymizer(settings.pseudonym_key.get_secret_value()),
        progress=Progress(
            floor=lambda topic, partition: faust_compat.committed_offset(app, topic, partition)
        ),
        source=f"/tierwatch/{settings.app_id}",
    )


class StoredUpTo:
    """The learner agent's input offsets are committed no further than it has stored
    (Faust also acknowledges records it skipped at a rebalance); other topics: no cap."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self.inputs = set(pipeline.topics.inputs)

    def __call__(self, tp: Any) -> int | None:
        progress = self.pipeline.progress
        return progress.next_offset(tp.topic, tp.partition) if tp.topic in self.inputs else None


class CommitRepair:
    """Commits stuck behind records never delivered, and stream partitions held since a
    rebalance, repaired on a timer (`repair_stuck_commits`)."""

    def __init__(
        self, pipeline: Pipeline, guard: faust_compat.CommitGuard, held: HeldPartitions
    ) -> None:
        self.pipeline = pipeline
        self.guard = guard
        self.held = held

    async def repair_stuck_commits(self) -> None:
        self.held.check()
        for _, action in await self.guard.check(self.pipeline.app):
            self.pipeline.metrics.worker.commit_repairs.labels(action).inc()


def guard_commits(pipeline: Pipeline) -> None:
    """The worker's commit rules: strict commits capped by what is stored, the producer's
    buffer, and the timer that repairs stuck commits."""
    app = pipeline.app
    stored_up_to = StoredUpTo(pipeline)
    faust_compat.strict_commits(app, stored_up_to)
    faust_compat.set_producer_buffer(app, pipeline.settings.producer_buffer)
    guard = faust_compat.CommitGuard(cap=stored_up_to)
    held = faust_resume.hold_until_sought(app)
    app.timer(COMMIT_GUARD_S)(CommitRepair(pipeline, guard, held).repair_stuck_commits)


def add_outputs(pipeline: Pipeline) -> None:
    """The alerts, dead-letter and teams topics, and the table of erased learners."""
    app, topics, settings = pipeline.app, pipeline.topics, pipeline.settings
    pipeline.alerts = app.topic(topics.alerts, key_serializer="raw", value_serializer="raw")
    pipeline.erased = app.Table(
        "erased", partitions=settings.partitions, key_type=str, value_type=bytes
    )
    pipeline.deadletter = app.topic(topics.deadletter, key_serializer="raw", value_serializer="raw")
    pipeline.teams = app.topic(topics.teams, key_serializer="raw", value_serializer="raw")


class Rebalances:
    """What the worker does when its partitions change hands."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline

    def connect(self) -> None:
        app = self.pipeline.app
        app.on_partitions_revoked.connect(self.on_revoked)  # type: ignore[arg-type]  # mode typing
        app.on_partitions_assigned.connect(self.on_assigned)  # type: ignore[arg-type]  # mode typing

    async def on_revoked(self, app: Any, revoked: Any, **kwargs: Any) -> None:
        """Forget what this worker knew of partitions it no longer owns."""
        pipeline = self.pipeline
        gone = {tp.partition for tp in revoked if tp.topic == pipeline.topics.clock}
        pipeline.wakeups.clear()  # the next tick on each partition evaluates everyone
        for partition in gone:
            pipeline.tiers_by_partition.pop(partition, None)
        pipeline.progress.forget(gone)

    async def on_assigned(self, app: Any, assigned: Any, **kwargs: Any) -> None:
        """Keep this worker's member id for the worker restarted on its data directory."""
        member = faust_compat.member_id(app)
        if member is None:  # aiokafka moved it: restarts take the slow path
            log.warning("member_id_unknown", detail="stream/worker/faust_compat.py member_id")
            return
        membership.remember(self.pipeline.settings.data_dir, app.conf.id, member)


class DigestSender:
    """Sends a manager's digest to the alerts topic (keyed by the manager), for dispatch."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline

    async def send(self, digest: TeamDigest) -> None:
        if self.pipeline.settings.dispatch_file is None:
            return  # nobody to send it to: the alerts topic keeps to what is dispatched
        value = codec.encode_digest(digest, self.pipeline.source)
        await self.pipeline.alerts.send(key=digest.manager_id.encode(), value=value)


def register_agents(pipeline: Pipeline) -> None:
    """Every agent, the ops API and the action pages, on the pipeline's app."""
    settings = pipeline.settings
    learners.register(pipeline)
    ticks.register(pipeline)
    ops.register(pipeline)
    team_table = teams.register(pipeline, DigestSender(pipeline).send)
    actions_web.register(pipeline, team_table)  # when TIERWATCH_ACTION_KEYS is set
    slack_web.register(pipeline)  # and TIERWATCH_SLACK_SIGNING_SECRET
    then = None
    if settings.dispatch_file is not None:
        dispatch = dispatcher.register(pipeline, load_dispatch(settings.dispatch_file))
        pipeline.dispatch_table = dispatch.table
        then = dispatch.on_alert
    transition_log.register(pipeline, then)  # the alerts topic's one reader: log, then dispatch
