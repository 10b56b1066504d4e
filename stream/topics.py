"""Topic names and their creation. Every per-learner topic has the same partition count."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from functools import lru_cache

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from aiokafka.partitioner import murmur2

from stream.settings import Settings


@dataclass(frozen=True)
class Topics:
    """The names of tierwatch's topics, with the configured prefix."""

    events: str
    profiles: str
    assignments: str
    interventions: str
    clock: str
    alerts: str
    deadletter: str
    retry: str
    registry: str
    teams: str  # keyed by manager: learners' rows in their manager's team view

    @classmethod
    def named(cls, prefix: str = "") -> Topics:
        return cls(
            events=f"{prefix}lms.events",
            profiles=f"{prefix}lms.profiles",
            assignments=f"{prefix}lms.assignments",
            interventions=f"{prefix}lms.interventions",
            clock=f"{prefix}tierwatch.clock",
            alerts=f"{prefix}tierwatch.alerts",
            deadletter=f"{prefix}tierwatch.deadletter",
            retry=f"{prefix}tierwatch.dispatch.retry",
            registry=f"{prefix}tierwatch.ingest.registry",
            teams=f"{prefix}tierwatch.teams",
        )

    def logical(self, topic: str) -> str:
        """The short name of one of these topics (a metric label): events, clock, ..."""
        for name, value in vars(self).items():
            if value == topic:
                return name
        return "other"

    @property
    def inputs(self) -> tuple[str, str, str, str]:
        """The per-learner input topics, in the order a history names its record types."""
        return (self.events, self.profiles, self.assignments, self.interventions)


@lru_cache(maxsize=1 << 20)
def partition_of(learner_id: str, partitions: int) -> int:
    """The partition Kafka's default partitioner gives a learner's key (murmur2)."""
    hashed: int = murmur2(learner_id.encode())
    return (hashed & 0x7FFFFFFF) % partitions


COMPACTED = {"lms.profiles", "tierwatch.ingest.registry"}


async def create_topics(settings: Settings, topics: Topics, bootstrap: str) -> None:
    """Create every topic with the configured partitions (profiles and ingest's registry
    compacted, dead letters deleted after `deadletter_retention_days`); keep existing ones
    as they are."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        wanted = []
        compacted = (topics.profiles, topics.registry)
        others = (
            topics.clock, topics.alerts, topics.deadletter, topics.retry, topics.registry,
            topics.teams,
        )  # fmt: skip
        for name in (*topics.inputs, *others):
            config = {"cleanup.policy": "compact"} if name in compacted else {}
            if name == topics.deadletter:
                retention_ms = int(settings.deadletter_retention_days * 86_400_000)
                config = {"cleanup.policy": "delete", "retention.ms": str(retention_ms)}
            wanted.append(
                NewTopic(name, settings.partitions, settings.replication, topic_configs=config)
            )
        for topic in wanted:
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics([topic])
    finally:
        await admin.close()
