"""Running a worker: against a configured Kafka, or the embedded broker when none is set."""

from __future__ import annotations

import asyncio

import faust
import structlog

from stream.broker import broker_for
from stream.core.policy import Policy
from stream.settings import Settings
from stream.topics import Topics, create_topics
from stream.worker import dirlock, membership, tansu
from stream.worker.wiring import build

log = structlog.get_logger("tierwatch.worker")


def install_uvloop() -> None:
    """Make uvloop's the event loop of this process (Faust's agents, consumers and
    producer run on it), when it is installed."""
    try:
        import uvloop
    except ImportError:
        log.warning("uvloop_missing", detail="running on asyncio's event loop")
        return
    uvloop.install()


def run_worker(settings: Settings, policy: Policy) -> None:
    """Create the topics and run one Faust worker until it is stopped (Ctrl-C, SIGTERM).
    Its data directory is locked first (`stream.worker.dirlock`): `DataDirInUse` when
    another worker holds it, before the broker or the consumer group is touched."""
    dirlock.hold(settings.data_dir, settings.data_dir_wait_s)
    if settings.uvloop:
        install_uvloop()
    with broker_for(settings) as (bootstrap, effective):
        if effective.tansu:
            tansu.apply()
        asyncio.run(create_topics(effective, Topics.named(effective.topic_prefix), bootstrap))
        pipeline = build(effective, policy, bootstrap)
        app_id = pipeline.app.conf.id
        asyncio.run(membership.leave_previous(bootstrap, app_id, effective.data_dir))
        log.info(
            "worker_starting", bootstrap=bootstrap, app_id=effective.app_id, clock=effective.clock
        )
        if effective.uses_default_pseudonym_key and not effective.tansu:
            log.warning(
                "default_pseudonym_key",
                detail="set TIERWATCH_PSEUDONYM_KEY: with the public default, pseudonyms of "
                "guessable learner ids can be reversed",
            )
        worker = faust.Worker(
            pipeline.app,
            loglevel=effective.log_level.upper(),
            quiet=True,
            redirect_stdouts=False,
        )
        # no terminal spinner: Faust would lower the root logger to DEBUG to feed it, and
        # every client library's debug message would then be built (about 4% of a worker)
        worker.spinner = None
        worker.execute_from_commandline()
