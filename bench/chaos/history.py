"""The input of a chaos run and its expected answer.

A simulated team (`stream.sim.simulate`) with its interventions (conversations, concerns,
`resolved`), a few learners erased mid-stream, and poison records. The expected answer is
`stream.tools.replay.replay` of the records the worker is meant to count, plus each learner's
final state from the same core (`Timeline`).

Erasure: replay has no notion of it, so an erased learner's expected answer is replay of
their records before the erasure (instant T, sent right after the tick of T was applied):
their transitions up to T, and no state at the end. Their records of the day after T are
not sent (a record on the events topic could overtake the tombstone on the profiles
topic); the later ones are sent, and the worker must drop them.

Poison records go straight to the input topics and are never part of the expected answer:
whatever they are, they must change nothing (and each should become a dead letter).
"""

from __future__ import annotations

import datetime as dt
import io
import random
from dataclasses import dataclass, field

import orjson

from schemas.clock import Tick
from schemas.events import LearningEvent
from schemas.history import Record
from schemas.transitions import TierTransition
from stream import codec
from stream.core.policy import Policy
from stream.core.state import LearnerState
from stream.core.timeline import Timeline, default_until, record_time, schedule
from stream.sim.simulate import persona_of, simulate
from stream.tools.replay import replay

DAY = dt.timedelta(days=1)
FUTURE = "9999-06-01T00:00:00+00:00"
PAST = "1900-01-01T00:00:00+00:00"


@dataclass(frozen=True)
class Poison:
    """A record that must not count: where it goes and its bytes."""

    name: str
    topic: str  # logical: events, profiles, assignments, interventions
    key: bytes
    value: bytes


@dataclass
class History:
    """What a run sends and what replay says it must give."""

    records: list[Record]  # sent by the driver, in order
    until: dt.datetime  # the last tick
    ticks: list[dt.datetime]  # every tick the driver sends
    erasures: dict[dt.datetime, list[str]] = field(default_factory=dict)  # after tick T
    expected: dict[str, TierTransition] = field(default_factory=dict)  # by transition id
    states: dict[str, LearnerState | None] = field(default_factory=dict)  # None: erased
    poison_tick: dt.datetime | None = None
    poison: list[Poison] = field(default_factory=list)

    @property
    def learners(self) -> int:
        return sum(1 for s in self.states.values() if s is not None)


def build(
    policy: Policy, learners: int, weeks: int, seed: int, erasures: int, severe_poison: bool
) -> History:
    """The history of one run: simulate, erase, poison, and replay for the answer."""
    full = list(simulate(learners, weeks, seed, policy=policy))
    last = max(t for r in full if (t := record_time(r)) is not None)
    until = default_until(last, policy)
    ticks = [item.now for item in schedule(full, policy, until) if isinstance(item, Tick)]
    rng = random.Random(seed * 7919 + 1)
    erased = pick_erased(rng, learners, erasures)
    erase_at = {lid: ticks[rng.randrange(len(ticks) // 3, 2 * len(ticks) // 3)] for lid in erased}
    sent: list[Record] = []
    counted: list[Record] = []
    for record in full:
        at = record_time(record)
        cut = erase_at.get(record.learner_id)
        if cut is None or at is None or at < cut:
            sent.append(record)
            counted.append(record)
        elif at >= cut + DAY:
            sent.append(record)  # after the erasure: the worker must drop it
    history = History(records=sent, until=until, ticks=ticks)
    for lid, cut in erase_at.items():
        history.erasures.setdefault(cut, []).append(lid)
    expect(history, counted, policy, erase_at)
    keep = [lid for lid in history.states if lid not in erase_at]
    victim = keep[rng.randrange(len(keep))]
    history.poison_tick = ticks[len(ticks) * 2 // 5]
    history.poison = poison_records(victim, history.poison_tick, severe_poison)
    return history


def pick_erased(rng: random.Random, learners: int, count: int) -> list[str]:
    """Learners to erase, preferring those with a story (not steady): they have transitions."""
    storied = [i for i in range(learners) if persona_of(i, learners) != "steady"]
    chosen = rng.sample(storied, min(count, len(storied)))
    return [f"L{i + 1:04d}" for i in sorted(chosen)]


def expect(
    history: History, counted: list[Record], policy: Policy, erase_at: dict[str, dt.datetime]
) -> None:
    """Replay the counted records: transitions (drop an erased learner's after T) and
    states (none for an erased learner)."""
    buf = io.BytesIO()
    replay(iter(counted), policy, buf, history.until)
    for line in buf.getvalue().splitlines():
        t = codec.decode_transition_json(line)
        cut = erase_at.get(t.learner_id)
        if cut is None or t.at <= cut:
            history.expected[t.id] = t
    timeline = Timeline(policy)
    for item in schedule(counted, policy, history.until):
        timeline.feed(item)
    for lid, state in timeline.states.items():
        history.states[lid] = None if lid in erase_at else state


def poison_records(learner: str, at: dt.datetime, severe: bool) -> list[Poison]:
    """Malformed records (every run) and, when `severe`, well-formed ones out of any sane
    bounds: a year-9999 event, a year-1900 event, a 5 MB event."""
    key = learner.encode()

    def event(eid: str, when: dt.datetime, meta: dict[str, str] | None = None) -> bytes:
        record = LearningEvent(
            id=eid, learner_id=learner, occurred_at=when, kind="session",
            object_id="chaos-course", source="chaos", source_meta=meta,
        )  # fmt: skip
        return codec.encode_record(record)

    good = orjson.loads(event("chaos-template", at))

    def raw(eid: str, **fields: object) -> bytes:  # unvalidated: the schema may refuse it
        return orjson.dumps({**good, "id": eid, **fields})

    out = [
        Poison("bad json", "events", key, b'{"id": "chaos-1", "learner_id": '),
        Poison("unknown kind", "events", key, orjson.dumps({**good, "kind": "dance"})),
        Poison(
            "unknown intervention",
            "interventions",
            key,
            orjson.dumps({"learner_id": learner, "kind": "shouted", "at": at.isoformat()}),
        ),
        Poison("profile not an object", "profiles", key, b"[1, 2, 3]"),
        Poison("not utf-8", "assignments", key, b"\xff\xfe\x00garbage"),
    ]
    if severe:
        huge = {"blob": "x" * (5 << 20)}
        day_before = (at - DAY).isoformat()
        out += [
            Poison("event in year 9999", "events", key, raw("chaos-future", occurred_at=FUTURE)),
            Poison("event in year 1900", "events", key, raw("chaos-past", occurred_at=PAST)),
            Poison(
                "5 MB event", "events", key,
                raw("chaos-huge", occurred_at=day_before, source_meta=huge),
            ),
        ]  # fmt: skip
    return out
