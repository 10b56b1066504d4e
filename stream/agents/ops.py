"""The worker's operational endpoints (Faust web) and its consumer-lag timer:
GET /metrics, GET /healthz (alive), GET /readyz (table recovered, partitions assigned)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

if TYPE_CHECKING:
    from stream.app import Pipeline

LAG_INTERVAL_S = 5.0


def ready(pipeline: Pipeline) -> tuple[bool, str]:
    """Whether the worker can answer for its partitions, and why not if it cannot."""
    app = pipeline.app
    recovery = getattr(app.tables, "recovery", None)
    if recovery is None or not recovery.completed.is_set():
        return False, "table recovery has not finished"
    if app.rebalancing:
        return False, "the consumer group is rebalancing"
    if not app.consumer.assignment():
        return False, "no partitions assigned yet"
    return True, "ready"


def lag_by_topic(pipeline: Pipeline) -> dict[str, int]:
    """Messages between each assigned partition's read position and its end, by topic."""
    consumer = pipeline.app.consumer
    read = getattr(consumer, "_read_offset", {})
    lag: dict[str, int] = {}
    for tp in consumer.assignment():
        end = consumer.highwater(tp)
        if end is None:
            continue
        position = read.get(tp)
        behind = end - (position + 1 if position is not None else 0)
        name = pipeline.topics.logical(tp.topic)
        lag[name] = lag.get(name, 0) + max(0, behind)
    return lag


def register(pipeline: Pipeline) -> None:
    app = pipeline.app
    metrics = pipeline.metrics

    @app.page("/metrics")
    async def metrics_view(web: Any, request: Any) -> Any:
        body = generate_latest(metrics.registry)
        return web.bytes(body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    @app.page("/healthz")
    async def healthz(web: Any, request: Any) -> Any:
        return web.json({"status": "ok"})

    @app.page("/readyz")
    async def readyz(web: Any, request: Any) -> Any:
        ok, why = ready(pipeline)
        return web.json({"ready": ok, "detail": why}, status=200 if ok else 503)

    async def update_lag() -> None:
        for topic, behind in lag_by_topic(pipeline).items():
            metrics.worker.consumer_lag.labels(topic).set(behind)

    app.timer(LAG_INTERVAL_S)(update_lag)
