"""What a run streamed, against what replay says it must have.

- Transitions, by id, from the alerts topic: **lost** (in replay, never streamed),
  **duplicated** (one id streamed with different contents: each differing copy counts),
  **spurious** (streamed, not in replay); `resent` counts identical copies (harmless under
  at-least-once, shown but not a failure).
- States, per learner, from the learners table's changelog (`{app_id}-learners-changelog`:
  the JSON string of the id as key, the stored state bytes as value, a tombstone when
  erased): the last value of each key, decoded as `LearnerState`, against replay's state
  stored and loaded the same way (the worker's stored form), field by field.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer

from schemas.deadletter import DeadLetter
from schemas.transitions import TierTransition
from stream import codec
from stream.core.state import LearnerState
from stream.errors import InvalidRecord

Message = tuple[bytes | None, bytes | None]  # key, value
DETAILS = 4  # examples kept of each kind of difference


async def read_all(
    bootstrap: str, topic: str, idle_s: float = 2.0, max_s: float = 120.0
) -> list[Any]:
    """Every message of a topic from the beginning, until it has been idle for `idle_s`."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        fetch_max_wait_ms=50,
        max_partition_fetch_bytes=16 << 20,
        fetch_max_bytes=64 << 20,
    )
    await consumer.start()
    out: list[Any] = []
    loop = asyncio.get_running_loop()
    start = last = loop.time()
    try:
        while loop.time() - start < max_s and loop.time() - last < idle_s:
            batch = await consumer.getmany(timeout_ms=200)
            for messages in batch.values():
                out.extend(messages)
                if messages:
                    last = loop.time()
    finally:
        await consumer.stop()
    return out


@dataclass
class Outcome:
    """The comparison of one run."""

    streamed: int = 0
    expected: int = 0
    lost: int = 0
    duplicated: int = 0
    spurious: int = 0
    resent: int = 0
    unreadable: int = 0
    state_mismatches: int = 0
    learners: int = 0
    details: list[str] = field(default_factory=list)


def brief(t: TierTransition) -> str:
    return f"{t.learner_id} {t.at:%Y-%m-%d} {t.from_tier}->{t.to_tier} {t.route} {t.id[:12]}"


def compare_transitions(
    expected: dict[str, TierTransition], values: list[bytes], out: Outcome
) -> None:
    seen: dict[str, TierTransition] = {}
    for value in values:
        try:
            t = codec.decode_alert(value)
        except InvalidRecord:
            out.unreadable += 1
            continue
        if not isinstance(t, TierTransition):  # an overdue follow-up: not a transition
            continue
        first = seen.setdefault(t.id, t)
        if first is t:
            continue
        if first == t:
            out.resent += 1
        else:
            out.duplicated += 1
            if out.duplicated <= DETAILS:
                out.details.append(f"duplicated id: {brief(first)} / {brief(t)}")
    out.streamed, out.expected = len(seen), len(expected)
    lost = [t for i, t in expected.items() if i not in seen]
    spurious = [t for i, t in seen.items() if i not in expected]
    out.lost, out.spurious = len(lost), len(spurious)
    out.details += [f"lost: {brief(t)}" for t in sorted(lost, key=lambda t: t.at)[:DETAILS]]
    out.details += [f"spurious: {brief(t)}" for t in sorted(spurious, key=lambda t: t.at)[:DETAILS]]
    for t in spurious:  # a spurious one next to an expected one of the same learner and day
        twins = [e for e in expected.values() if e.learner_id == t.learner_id and e.at == t.at]
        if twins and len(out.details) < 4 * DETAILS:
            out.details.append(f"  (replay has {brief(twins[0])} that day)")


def normal(state: LearnerState) -> dict[str, Any]:
    """A state as the worker stores it, loaded again, as plain JSON values."""
    stored = state.model_dump_json(exclude_defaults=True)
    loaded: dict[str, Any] = LearnerState.model_validate_json(stored).model_dump(mode="json")
    return loaded


def short(value: Any) -> str:
    text = orjson.dumps(value).decode()
    return text if len(text) <= 70 else text[:67] + "..."


def compare_states(
    expected: dict[str, LearnerState | None], changelog: list[Message], out: Outcome
) -> None:
    """The last changelog value of each learner against replay's final state."""
    last: dict[str, bytes | None] = {}
    for key, value in changelog:
        if key is not None:
            last[orjson.loads(key)] = value
    out.learners = sum(1 for s in expected.values() if s is not None)
    for learner in sorted(set(expected) | set(last)):
        want = expected.get(learner)
        raw = last.get(learner)
        if want is None and raw is None:
            continue
        if want is None or raw is None:
            out.state_mismatches += 1
            what = "state kept after erasure" if want is None else "no state streamed"
            if learner not in expected:
                what = "state of a learner replay does not know"
            out.details.append(f"state {learner}: {what}")
            continue
        a, b = normal(want), LearnerState.model_validate_json(raw).model_dump(mode="json")
        fields = [k for k in a.keys() | b.keys() if a.get(k) != b.get(k)]
        if not fields:
            continue
        out.state_mismatches += 1
        if out.state_mismatches <= DETAILS:
            diffs = "; ".join(
                f"{k}: replay {short(a.get(k))} worker {short(b.get(k))}" for k in sorted(fields)
            )
            out.details.append(f"state {learner}: {diffs}")


def dead_lettered(letters: list[bytes], sent: list[tuple[str, int, int]]) -> int:
    """How many of the poison messages sent (topic, partition, offset) have a dead letter."""
    where = set()
    for value in letters:
        try:
            letter = DeadLetter.model_validate_json(value)
        except ValueError:
            continue
        where.add((letter.topic, letter.partition, letter.offset))
    return sum(1 for s in sent if s in where)
