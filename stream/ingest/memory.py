"""What ingest remembers across restarts, on a compacted topic (`tierwatch.ingest.registry`).

Two kinds of record, keyed so that compaction keeps the latest of each:

- `s:<statement id>`: an xAPI statement stored, `{"f": fingerprint, "l": learner}`
  (`stream.ingest.statements`);
- `u:<derived learner id>`: an identity no profile claims, `{source, kind, value, seen}`
  (`stream.ingest.identity`).

Both memories are bounded; what falls out of them, and everything of an erased learner,
is written as a tombstone. Records are written after the broker acknowledged the events
they go with (a crash in between loses only a memory: the pipeline's de-duplication by
event id still holds). At start-up ingest reads the topic to its end before it takes xAPI
statements, then keeps following it, so that replicas learn what the others stored. A
reader that fails is logged (an error) and started again, with a backoff, from the topic's
beginning; until it has read the topic to its end again, ingest is not ready and xAPI
statements wait (then 503).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import structlog
from aiokafka import AIOKafkaConsumer, TopicPartition
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type
from tenacity.wait import wait_exponential_jitter

from stream.errors import BrokerError
from stream.ingest import identity as identities_
from stream.ingest import statements as statements_
from stream.ingest.identity import IdentityMap
from stream.ingest.sink import BrokerUnavailable, Sink
from stream.ingest.statements import StatementRegistry, Stored

log = structlog.get_logger("tierwatch.ingest")
LOAD_WAIT_S = 5.0  # how long an xAPI request waits for the registry to be read back
RESTART_INITIAL_S = 1.0  # a failed registry reader restarts after this, doubling (jittered)
RESTART_MAX_S = 60.0  # ... up to this


class RegistryReaderStopped(BrokerError):
    """The registry topic's consumer stopped delivering records (it is started again)."""


@dataclass
class Memory:
    """The statements registry and the identity map, kept on the registry topic."""

    statements: StatementRegistry = field(default_factory=StatementRegistry)
    identities: IdentityMap = field(default_factory=IdentityMap)
    loaded: asyncio.Event = field(default_factory=asyncio.Event)
    failure: str | None = None  # why the registry reader last failed, until it read back again

    def __post_init__(self) -> None:
        self.loaded.set()  # nothing to read back until `follow` says so

    def pending(self) -> list[tuple[str | None, bytes | None]]:
        """The records not yet written, in the order they changed."""
        return [*self.statements.changes.items(), *self.identities.changes.items()]

    async def write(self, sink: Sink, topic: str) -> None:
        """Write what changed (and wait for the broker's acknowledgement)."""
        records = self.pending()
        if not records:
            return
        await sink.send(topic, records)
        for key, value in records:  # unless changed again meanwhile
            for changes in (self.statements.changes, self.identities.changes):
                if key in changes and changes[key] == value:
                    del changes[key]

    def erase(self, learner_id: str) -> None:
        """Forget a learner's statements and unmapped identities (tombstones to write),
        those stored under the derived ids of identities their profile claimed later too."""
        for known_as in sorted({learner_id, *self.identities.aliases(learner_id)}):
            self.statements.forget(known_as)
        self.identities.forget(learner_id)

    def apply(self, key: bytes | None, value: bytes | None) -> None:
        """One record read back from the registry topic."""
        name = key.decode("utf-8", "replace") if key else ""
        if name.startswith(statements_.KEY_PREFIX):
            sid = name.removeprefix(statements_.KEY_PREFIX)
            stored = Stored.of(value) if value is not None else None
            if stored is None:
                self.statements.drop(sid)
            else:
                self.statements.restore(sid, stored)
        elif name.startswith(identities_.KEY_PREFIX):
            unmapped = identities_.unmapped_of(value) if value is not None else None
            if unmapped is None:
                self.identities.drop(name.removeprefix(identities_.KEY_PREFIX))
            else:
                self.identities.restore(*unmapped)

    async def ready(self) -> None:
        """Wait until the registry topic was read back; 503 (`BrokerUnavailable`) if that
        takes longer than `LOAD_WAIT_S`."""
        if self.loaded.is_set():
            return
        try:
            await asyncio.wait_for(self.loaded.wait(), LOAD_WAIT_S)
        except TimeoutError:
            reading = "the registry of stored statements is still being read"
            if self.failure is not None:
                reading = f"the registry reader failed ({self.failure}); it is restarting"
            raise BrokerUnavailable(reading) from None

    async def follow(self, topic: str, bootstrap: str) -> None:
        """Follow the registry topic (`_follow_once`) until cancelled; a reader that fails is
        logged and started again after a backoff (`loaded` is clear meanwhile)."""
        self.loaded.clear()
        retrying = AsyncRetrying(
            retry=retry_if_exception_type(Exception),  # not a cancellation
            wait=wait_exponential_jitter(
                initial=RESTART_INITIAL_S, max=RESTART_MAX_S, jitter=RESTART_INITIAL_S
            ),
            before_sleep=self._reader_failed,
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                await self._follow_once(topic, bootstrap)

    def _reader_failed(self, state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome is not None else None
        self.failure = f"{type(error).__name__}: {error}"
        retry_in = state.next_action.sleep if state.next_action is not None else None
        log.error(
            "registry_reader_failed", error=self.failure, attempt=state.attempt_number,
            retry_in_s=retry_in,
        )  # fmt: skip

    async def _follow_once(self, topic: str, bootstrap: str) -> None:
        """Read the registry topic back from its beginning (`loaded` is set at its end as
        of the start), then keep applying what is written to it; `loaded` is clear again
        when this ends (it ends only by an error or a cancellation)."""
        self.loaded.clear()
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
        while True:
            try:
                await consumer.start()
                break
            except Exception as exc:
                log.warning("registry_unreachable", error=str(exc))
                await asyncio.sleep(2)
        try:
            await consumer.topics()  # the metadata that names the topic's partitions
            partitions = consumer.partitions_for_topic(topic) or set()
            assigned = [TopicPartition(topic, p) for p in sorted(partitions)]
            consumer.assign(assigned)
            await consumer.seek_to_beginning(*assigned)
            ends = await consumer.end_offsets(assigned) if assigned else {}
            await self._read_to(consumer, ends)
            self.failure = None
            self.loaded.set()
            log.info("registry_loaded", statements=len(self.statements))
            async for message in consumer:
                self.apply(message.key, message.value)
        finally:
            self.loaded.clear()
            await consumer.stop()
        raise RegistryReaderStopped("the registry topic's consumer stopped")

    async def _read_to(self, consumer: AIOKafkaConsumer, ends: dict[TopicPartition, int]) -> None:
        """Apply records until every partition is read up to its end offset in `ends`."""
        waiting = {tp for tp, end in ends.items() if end > 0}
        while waiting:
            batch = await consumer.getmany(*waiting, timeout_ms=500)
            for messages in batch.values():
                for message in messages:
                    self.apply(message.key, message.value)
            waiting = {tp for tp in waiting if await consumer.position(tp) < ends[tp]}
