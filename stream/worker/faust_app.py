"""The Faust app a worker runs: its configuration, its stop hooks, and the settings of the
changelog topics behind its tables."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import faust
import structlog

from stream.settings import Settings

log = structlog.get_logger("tierwatch.worker")


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
    embedded broker's workarounds are in `stream.worker.tansu`)."""
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
