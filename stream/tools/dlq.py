"""Dead letters back out of the broker: `tierwatch dlq list` and `tierwatch dlq redrive`.

`list` reads the dead-letter topic from the beginning to its end as it stood when the
command started, with no consumer group (it moves nothing).

`redrive` brings back dispatch's dead letters, the deliveries it gave up on. A dead letter
never holds a rendered message (it would outlive the learner's erasure): it names the
delivery (`ParkedDelivery`, `redrivable: true`), whose message is parked in the learner's
dispatch state. Redrive puts a `RedriveRequest` for it on the retry topic (keyed by
learner); the `redeliver` agent takes the parked message and tries it again (round 0, due
now, the whole retry schedule after), unless it was delivered; for an erased learner
nothing is parked and nothing is sent. Dead letters written before dead letters were
scrubbed hold the rendered delivery itself, which is re-published as it is.

Dead letters from the input topics and from ingest cannot be redriven: they were refused as
invalid when they arrived, and the same bytes would be refused again; fix the sender and
send them again. Their payloads are scrubbed of personal data (`stream.scrub`), so they
could not be re-sent anyway.

A dead letter is redriven at most once across runs: redrive reads with its own consumer
group, `<app_id>-dlq-redrive`, starts at the offsets that group committed and, after the
retry topic acknowledged every re-published delivery, commits the offset after the last
dead letter it handled in each partition. A crash between the two re-publishes the
deliveries of that run once more; the delivery log (transition id, channel, role) keeps a
delivered message from being sent twice. `--reason` narrows what is redriven without
passing anything over: in a partition, redrive stops (and commits) before the first
redrivable dead letter of another reason, and says so; a later run redrives it. To start
again from the beginning, delete the group (`kafka-consumer-groups --delete --group ...`).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaError
from pydantic import ValidationError

from schemas.deadletter import DeadLetter
from schemas.dispatch import REDRIVE_REASON, ParkedDelivery, PendingDelivery, RedriveRequest
from stream.errors import BrokerError, ConfigError
from stream.settings import Settings

NO_BROKER = (
    "the dead-letter topic lives in a running broker: set TIERWATCH_BROKER to its "
    "bootstrap servers (host:port), with the TIERWATCH_TOPIC_PREFIX its workers use"
)
DETAIL_WIDTH = 90
FETCH_WAIT_MS = 50  # the embedded broker answers a fetch only after its full wait
CANNOT = {  # why a dead letter cannot be redriven, by kind
    "input": "input or HTTP dead letters: invalid when they arrived; fix the sender and resend",
    "unrendered": "dispatch dead letters without a rendered message (no recipient or channel)",
    "unreadable": "records that are not dead letters at all",
}


def bootstrap_of(settings: Settings) -> str:
    """The broker to read dead letters from; ConfigError with a sentence when unset."""
    if not settings.broker:
        raise ConfigError(NO_BROKER)
    return settings.broker


def redrive_group(settings: Settings) -> str:
    return f"{settings.app_id}-dlq-redrive"


@dataclass(frozen=True)
class Message:
    """One record of a topic, where it sits and what it holds."""

    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


class TopicReader:
    """Reads every partition of a topic up to its end as it stood at the start: from the
    beginning, or with a `group` from the offsets that group committed (and can commit)."""

    def __init__(
        self, bootstrap: str, topic: str, group: str | None = None, idle_s: float = 0.3
    ) -> None:
        self.topic = topic
        self.group = group
        self.idle_ms = int(idle_s * 1000)
        self.consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap,
            group_id=group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            fetch_max_wait_ms=FETCH_WAIT_MS,
        )
        self.partitions: list[TopicPartition] = []

    async def __aenter__(self) -> TopicReader:
        try:
            await self.consumer.start()
        except KafkaError as exc:
            await self.consumer.stop()
            raise BrokerError(f"cannot reach the broker: {exc}") from None
        try:
            await self._assign()
        except BaseException:
            await self.consumer.stop()
            raise
        return self

    async def _assign(self) -> None:
        if self.topic not in await self.consumer.topics():
            raise BrokerError(
                f"the topic {self.topic} does not exist on the broker: has a worker or "
                "ingest run with this TIERWATCH_TOPIC_PREFIX?"
            )
        ids = sorted(self.consumer.partitions_for_topic(self.topic) or ())
        self.partitions = [TopicPartition(self.topic, p) for p in ids]
        self.consumer.assign(self.partitions)
        for tp in self.partitions:
            committed = await self.consumer.committed(tp) if self.group else None
            if committed is None:
                await self.consumer.seek_to_beginning(tp)
            else:
                self.consumer.seek(tp, committed)

    async def __aexit__(self, *exc: object) -> None:
        await self.consumer.stop()

    async def read(self, max_s: float = 60.0) -> list[Message]:
        """Every record up to the end offsets read now. The embedded broker may report the
        first offset of the last batch + 1 as the end, so after reaching the reported ends
        it drains until a fetch of `idle_s` brings nothing."""
        ends = await self.consumer.end_offsets(self.partitions)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max_s
        out: list[Message] = []
        reached = False
        while True:
            batch = await self.consumer.getmany(timeout_ms=self.idle_ms if reached else 200)
            for records in batch.values():
                out.extend(Message(r.partition, r.offset, r.key, r.value) for r in records)
            if reached and not batch:
                return sorted(out, key=lambda m: (m.partition, m.offset))
            reached = all([await self.consumer.position(tp) >= ends[tp] for tp in self.partitions])
            if loop.time() > deadline:
                raise BrokerError(f"could not read {self.topic} to its end in {max_s:.0f} s")

    async def commit(self, offsets: dict[int, int]) -> None:
        """Commit, for each partition, the offset the next read starts from."""
        if offsets:
            await self.consumer.commit(
                {TopicPartition(self.topic, p): offset for p, offset in offsets.items()}
            )


async def read_topic(bootstrap: str, topic: str) -> list[Message]:
    """Every record of a topic, from the beginning to its end as it stood at the start."""
    async with TopicReader(bootstrap, topic) as reader:
        return await reader.read()


# --- listing ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Letter:
    """A record of the dead-letter topic: its place, and the dead letter (None if unreadable)."""

    partition: int
    offset: int
    letter: DeadLetter | None

    @property
    def reason(self) -> str:
        return self.letter.reason if self.letter else "unreadable"


def decode(messages: Iterable[Message]) -> list[Letter]:
    letters = []
    for m in messages:
        try:
            letter = DeadLetter.model_validate_json(m.value or b"")
        except ValidationError:
            letter = None
        letters.append(Letter(m.partition, m.offset, letter))
    return letters


def _short(text: str, width: int = DETAIL_WIDTH) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def list_lines(letters: Sequence[Letter], limit: int, reason: str | None = None) -> list[str]:
    """One line a dead letter (the latest `limit` >= 1, oldest first), then a count by reason."""
    chosen = [x for x in letters if reason is None or x.reason == reason]
    if not chosen:
        return [f"no dead letters{f' with reason {reason}' if reason else ''}"]
    floor = dt.datetime.min.replace(tzinfo=dt.UTC)
    chosen.sort(key=lambda x: (x.letter.at if x.letter else floor, x.partition, x.offset))
    lines = []
    for x in chosen[-limit:]:
        where = f"p{x.partition}@{x.offset}"
        if x.letter is None:
            lines.append(f"{'?':<20} {where:<8} {'?':<28} {'unreadable':<28} not a dead letter")
            continue
        when = x.letter.at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")
        detail = _short(x.letter.detail)
        lines.append(f"{when:<20} {where:<8} {x.letter.topic:<28} {x.reason:<28} {detail}")
    if limit < len(chosen):
        lines.append(f"(the latest {limit} of {len(chosen)}; --limit to see more)")
    counts = Counter(x.reason for x in chosen)
    parts = ", ".join(f"{n} {r}" for r, n in sorted(counts.items(), key=lambda c: (-c[1], c[0])))
    lines.append(f"{len(chosen)} dead letter{'s' if len(chosen) != 1 else ''}: {parts}")
    return lines


# --- redriving --------------------------------------------------------------------------


Redrive = PendingDelivery | RedriveRequest


def redrivable(letter: DeadLetter | None) -> Redrive | str:
    """What to put on the retry topic for a dead letter: a request for the delivery it
    names (or, in a letter from before scrubbing, the delivery it holds); else why it
    cannot be redriven (a key of CANNOT)."""
    if letter is None:
        return "unreadable"
    if letter.redrivable and letter.key:
        try:
            parked = ParkedDelivery.model_validate_json(letter.payload)
        except ValidationError:
            pass
        else:
            return RedriveRequest(
                learner_id=letter.key, id=parked.id, channel=parked.channel, role=parked.role
            )
    if not letter.reason.startswith("dispatch_"):
        return "input"
    try:  # a letter from before scrubbing: the rendered delivery itself
        pending = PendingDelivery.model_validate_json(letter.payload)
    except ValidationError:
        return "unrendered"
    return "unrendered" if pending.recipient.startswith("<removed") else pending


@dataclass
class RedrivePlan:
    """What a redrive does: the deliveries to re-publish, what it cannot redrive, where the
    `--reason` filter held a partition back, and the offsets to commit afterwards."""

    deliveries: list[tuple[Letter, Redrive]] = field(default_factory=list)
    cannot: Counter[str] = field(default_factory=Counter)
    other_reasons: int = 0
    held: dict[int, Letter] = field(default_factory=dict)
    commit: dict[int, int] = field(default_factory=dict)


def plan_redrive(
    letters: Iterable[Letter], now: dt.datetime, reason: str | None = None
) -> RedrivePlan:
    """Decide, in partition and offset order, what to redrive (round 0, due `now`)."""
    plan = RedrivePlan()
    for x in sorted(letters, key=lambda x: (x.partition, x.offset)):
        if x.partition in plan.held:
            continue
        found = redrivable(x.letter)
        matches = reason is None or x.reason == reason
        if not isinstance(found, str) and not matches:
            plan.held[x.partition] = x
            continue
        if not matches:
            plan.other_reasons += 1
        elif isinstance(found, PendingDelivery):
            update = {"round": 0, "due_at": now, "reason": REDRIVE_REASON}
            plan.deliveries.append((x, found.model_copy(update=update)))
        elif isinstance(found, RedriveRequest):
            plan.deliveries.append((x, found))
        else:
            plan.cannot[found] += 1
        plan.commit[x.partition] = x.offset + 1
    return plan


def plan_lines(plan: RedrivePlan, retry_topic: str, dry_run: bool) -> list[str]:
    """What a redrive did (or would do), for a person."""
    verb = "would redrive" if dry_run else "redrove"
    lines = [
        f"  p{x.partition}@{x.offset}  {x.reason}  transition {p.id}  {p.channel} to {p.role}"
        for x, p in plan.deliveries
    ]
    n = len(plan.deliveries)
    plural = "s" if n != 1 else ""
    lines.append(f"{verb} {n} dispatch dead letter{plural} to {retry_topic} (round 0, due now)")
    skipped = sum(plan.cannot.values())
    if skipped:
        lines.append(f"skipped {skipped} that cannot be redriven:")
        lines.extend(f"  {count} {CANNOT[kind]}" for kind, count in sorted(plan.cannot.items()))
    if plan.other_reasons:
        lines.append(f"passed over {plan.other_reasons} of other reasons that cannot be redriven")
    for partition, x in sorted(plan.held.items()):
        lines.append(
            f"held back at p{partition}@{x.offset}: a redrivable dead letter with reason "
            f"{x.reason} comes first; redrive that reason (or all) to go past it"
        )
    if dry_run:
        lines.append("dry run: nothing was sent and the redrive group did not move")
    return lines


async def redrive(
    settings: Settings, retry_topic: str, deadletter_topic: str, reason: str | None, dry_run: bool
) -> RedrivePlan:
    """Plan from the dead letters after the redrive group's offsets; unless a dry run,
    re-publish the deliveries to the retry topic, then commit the group's offsets."""
    bootstrap = bootstrap_of(settings)
    async with TopicReader(bootstrap, deadletter_topic, redrive_group(settings)) as reader:
        letters = decode(await reader.read())
        plan = plan_redrive(letters, dt.datetime.now(dt.UTC), reason)
        if dry_run:
            return plan
        if plan.deliveries:
            producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
            await producer.start()
            try:
                sent = [
                    await producer.send(
                        retry_topic,
                        pending.model_dump_json().encode(),
                        key=pending.learner_id.encode(),
                    )
                    for _, pending in plan.deliveries
                ]
                await asyncio.gather(*sent)
            finally:
                await producer.stop()
        await reader.commit(plan.commit)
    return plan
