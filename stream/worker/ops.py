"""The worker's operational endpoints (Faust web) and its periodic gauges:
GET /metrics, GET /healthz (alive), GET /readyz (table recovered, partitions assigned, the
broker answered within `BROKER_STALE_S`),
GET /learners/{learner_id} (a learner's tier and why, answered by the worker that owns the
learner's partition; behind the API token).

Table routing: every worker advertises its web URL (`web_host`, `web_port`) in the consumer
group, and Faust's assignor tells each worker which URL owns which partition of the
learners table's changelog. A learner's state lives in the partition its raw id hashes to
(input records are keyed by the raw id), so the owner is looked up for that partition and
the request forwarded there. Faust's `app.table_route` cannot be used as it is: it hashes
the key as the table serialises it (JSON, with quotes), which names another partition.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

import aiohttp
import structlog
from aiokafka.client import AIOKafkaClient
from aiokafka.errors import KafkaError
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from yarl import URL

from stream.http.auth import token_refusal
from stream.http.problems import PROBLEM_JSON, Refusal, problem_body
from stream.topics import partition_of
from stream.worker.faust_compat import read_offset
from stream.worker.learner_view import learner_view
from stream.worker.pipeline import Pipeline

LAG_INTERVAL_S = 5.0
FORWARD_TIMEOUT_S = 10.0
FORWARDED = "X-Tierwatch-Forwarded"  # set on a routed request: the receiver answers itself
BROKER_PROBE_S = 2.0  # how often the broker is asked for its metadata
BROKER_TIMEOUT_S = 5.0  # a probe not answered within this failed
BROKER_STALE_S = 10.0  # not ready when the broker has not answered for this long
log = structlog.get_logger("tierwatch.ops")


@dataclass
class BrokerProbe:
    """Whether the broker answers: a metadata request every `BROKER_PROBE_S` on a client
    of its own (Faust's consumer keeps its old connections and says nothing while a broker
    is paused or cut off)."""

    bootstrap: str | None
    client: AIOKafkaClient | None = None
    answered_at: float | None = None

    async def probe(self) -> bool:
        if self.bootstrap is None:
            return False
        try:
            if self.client is None:
                self.client = AIOKafkaClient(
                    bootstrap_servers=self.bootstrap,
                    request_timeout_ms=int(BROKER_TIMEOUT_S * 1000),
                )
                await asyncio.wait_for(self.client.bootstrap(), BROKER_TIMEOUT_S)
            await asyncio.wait_for(self.client.fetch_all_metadata(), BROKER_TIMEOUT_S)
        except (KafkaError, TimeoutError, OSError) as exc:
            if self.answered_at is not None and self.stale():
                log.warning("broker_unreachable", error=repr(exc)[:200])
            return False
        self.answered_at = time.monotonic()
        return True

    def stale(self, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        return self.answered_at is None or now - self.answered_at > BROKER_STALE_S

    async def close(self, *args: Any, **kwargs: Any) -> None:
        if self.client is not None:
            await self.client.close()


def ready(pipeline: Pipeline, broker: BrokerProbe | None = None) -> tuple[bool, str]:
    """Whether the worker can answer for its partitions, and why not if it cannot."""
    app = pipeline.app
    if broker is not None and broker.stale():
        return False, f"the broker has not answered for more than {BROKER_STALE_S:g} s"
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
    lag: dict[str, int] = {}
    for tp in consumer.assignment():
        end = consumer.highwater(tp)
        if end is None:
            continue
        position = read_offset(pipeline.app, tp)
        behind = end - (position + 1 if position is not None else 0)
        name = pipeline.topics.logical(tp.topic)
        lag[name] = lag.get(name, 0) + max(0, behind)
    return lag


def recovery_remaining(pipeline: Pipeline) -> dict[str, int]:
    """Changelog records still to read before the table is up to date, by replica."""
    recovery = getattr(pipeline.app.tables, "recovery", None)
    if recovery is None:
        return {"active": 0, "standby": 0}
    return {
        "active": sum(max(0, n) for n in recovery.active_remaining().values()),
        "standby": sum(max(0, n) for n in recovery.standby_remaining().values()),
    }


def owner_url(pipeline: Pipeline, learner_id: str, table: Any = None) -> URL | None:
    """The web URL of the worker that owns a key's partition of a table (by default the
    learners table; None while unknown)."""
    table = pipeline.table if table is None else table
    topic = table.changelog_topic.get_topic_name()
    partition = partition_of(learner_id, pipeline.settings.partitions)
    for url, partitions_by_topic in pipeline.app.router.table_metadata(table.name).items():
        if partition in partitions_by_topic.get(topic, ()):
            return URL(url)
    return None


def same_node(a: URL, b: URL) -> bool:
    return (a.host, a.port) == (b.host, b.port)


def problem(view: Any, request: Any, refusal: Refusal) -> Any:
    """The problem-details answer of a refusal (RFC 9457)."""
    body = problem_body(refusal, str(request.path))
    return view.bytes(
        body, content_type=PROBLEM_JSON, status=refusal.status, headers=refusal.headers
    )


class OpsApi:
    """What the ops pages answer and the gauges they refresh, for one worker."""

    def __init__(self, pipeline: Pipeline, broker: BrokerProbe) -> None:
        self.pipeline = pipeline
        self.app = pipeline.app
        self.metrics = pipeline.metrics
        self.broker = broker

    def update_recovery(self) -> None:
        gauge = self.metrics.worker.table_recovery_remaining
        for replica, remaining in recovery_remaining(self.pipeline).items():
            gauge.labels(replica).set(remaining)

    async def update_gauges(self) -> None:
        """The consumer lag by topic and the table recovery left (the gauge timer)."""
        for topic, behind in lag_by_topic(self.pipeline).items():
            self.metrics.worker.consumer_lag.labels(topic).set(behind)
        self.update_recovery()

    def scrape(self, web: Any) -> Any:
        """GET /metrics: every metric, the table recovery gauge brought up to date."""
        self.update_recovery()
        body = generate_latest(self.metrics.registry)
        return web.bytes(body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    def readiness(self, web: Any) -> Any:
        """GET /readyz: 200 when the worker can answer for its partitions, else 503."""
        ok, why = ready(self.pipeline, self.broker)
        return web.json({"ready": ok, "detail": why}, status=200 if ok else 503)

    async def learner(self, view: Any, request: Any, learner_id: str) -> Any:
        """GET /learners/{learner_id}: the learner view, from the partition's owner."""
        pipeline = self.pipeline
        refusal = token_refusal(pipeline.settings.api_token, request.headers.get("Authorization"))
        if refusal is not None:
            return problem(view, request, refusal)
        if FORWARDED not in request.headers:  # a routed request is never routed again
            owner = owner_url(pipeline, learner_id)
            if owner is None:
                why = "no worker owns this learner's partition yet (the group is rebalancing)"
                refusal = Refusal(503, "owner_unknown", why, headers={"Retry-After": "1"})
                return problem(view, request, refusal)
            if not same_node(owner, URL(str(self.app.conf.canonical_url))):
                return await self.forward(view, request, owner)
        state = pipeline.load(learner_id)
        if state is None:
            return problem(view, request, Refusal(404, "unknown_learner", "no such learner"))
        return view.json(learner_view(state, pipeline.policy))

    async def forward(self, view: Any, request: Any, owner: URL) -> Any:
        """The owner's answer to a request for a learner of another worker's partition."""
        headers = {FORWARDED: "1", "Authorization": request.headers.get("Authorization", "")}
        timeout = aiohttp.ClientTimeout(total=FORWARD_TIMEOUT_S)
        try:
            async with self.app.http_client.get(
                owner.join(request.rel_url), headers=headers, timeout=timeout
            ) as answer:
                body = await answer.read()
                return view.bytes(body, content_type=answer.content_type, status=answer.status)
        except (TimeoutError, aiohttp.ClientError):
            why = "the worker that owns this learner's partition did not answer"
            return problem(view, request, Refusal(503, "owner_unavailable", why))


def register(pipeline: Pipeline) -> None:
    """Attach the ops pages, the broker probe and the gauge timer to the worker's app."""
    app = pipeline.app
    broker = BrokerProbe(pipeline.settings.broker)
    app.timer(BROKER_PROBE_S)(broker.probe)
    app.on_before_shutdown.connect(broker.close)
    ops = OpsApi(pipeline, broker)

    @app.page("/metrics")
    async def metrics_view(web: Any, request: Any) -> Any:
        return ops.scrape(web)

    @app.page("/healthz")
    async def healthz(web: Any, request: Any) -> Any:
        return web.json({"status": "ok"})

    @app.page("/readyz")
    async def readyz(web: Any, request: Any) -> Any:
        return ops.readiness(web)

    @app.page("/learners/{learner_id}")
    async def learner(view: Any, request: Any, learner_id: str) -> Any:
        return await ops.learner(view, request, learner_id)

    app.timer(LAG_INTERVAL_S)(ops.update_gauges)
