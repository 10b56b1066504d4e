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

from stream.core.policy import Policy
from stream.logs import Pseudonymizer
from stream.policyfile import load_dispatch
from stream.settings import Settings
from stream.topics import Topics
from stream.worker import actions_web, faust_compat, faust_resume, membership, ops, slack_web
from stream.worker.agents import dispatcher, learners, ticks, transition_log
from stream.worker.faust_app import changelog_configs, make_app
from stream.worker.pipeline import Pipeline
from stream.worker.progress import Progress

log = structlog.get_logger("tierwatch.worker")
COMMIT_GUARD_S = 0.5  # how often partitions whose commits are stuck are looked for


def build(settings: Settings, policy: Policy, bootstrap: str) -> Pipeline:
    """Create the app, the table and the agents."""
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
            log.warning("member_id_unknown", detail="stream/worker/faust_compat.py member_id")
            return
        membership.remember(settings.data_dir, app.conf.id, member)

    app.on_partitions_assigned.connect(on_assigned)  # type: ignore[arg-type]  # mode typing
    learners.register(pipeline)
    ticks.register(pipeline)
    ops.register(pipeline)
    actions_web.register(pipeline)  # when TIERWATCH_ACTION_KEYS is set
    slack_web.register(pipeline)  # and TIERWATCH_SLACK_SIGNING_SECRET
    then = None
    if settings.dispatch_file is not None:
        dispatch = dispatcher.register(pipeline, load_dispatch(settings.dispatch_file))
        pipeline.dispatch_table = dispatch.table
        then = dispatch.on_alert
    transition_log.register(pipeline, then)  # the alerts topic's one reader: log, then dispatch
    return pipeline
