"""The wake-up index driven as the worker drives it (records told a batch at a time, ticks
one partition at a time with the table's keys, partitions revoked, learners erased) gives
what stepping every learner at every tick gives; and its operations one by one."""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
from collections import Counter

from hypothesis import given
from hypothesis import strategies as st

from schemas.clock import Tick
from schemas.history import Record
from stream.core.state import LearnerState
from stream.core.step import Output, step
from stream.core.timeline import Timeline, schedule
from stream.core.wakeups import REFRESH, WakeIndex, plain
from stream.sim.simulate import simulate
from tests.kit import POLICY, assignment, at, day, evaluated, event, ordered, profile, weeks
from tests.test_due import richer
from tests.test_properties import FAST
from tests.test_wakeups import arriving


def as_learner(records: list[Record], learner_id: str) -> list[Record]:
    return [r.model_copy(update={"learner_id": learner_id}) for r in records]


def by_learner(outputs: list[Output]) -> dict[str, list[Output]]:
    """Outputs per learner, each learner's in order (partitions tick one after another)."""
    grouped: dict[str, list[Output]] = {}
    for output in outputs:
        grouped.setdefault(output.learner_id, []).append(output)
    return grouped


def drive_as_worker(
    records: list[Record], until: dt.datetime, partitions: int, data: st.DataObject
) -> int:
    """Feed a worker-like driver and `Timeline(skip_quiet=False)` the same inputs and check
    that outputs and states agree after every tick. Return how many learners were stepped."""
    everyone = Timeline(POLICY, skip_quiet=False)
    part = {learner_id: n % partitions for n, learner_id in enumerate(("p", "q", "r", "s"))}
    index = WakeIndex(POLICY, part.__getitem__)
    states: dict[str, LearnerState] = {}
    batch: dict[str, list[Record]] = {}
    erased: set[str] = set()
    stepped = 0

    def flush() -> None:
        for learner_id, applied in batch.items():
            events_only = all(plain(r) for r in applied)
            index.recorded(learner_id, states[learner_id], events_only)
        batch.clear()

    for item in schedule(records, POLICY, until):
        expected = everyone.feed(item)
        if not isinstance(item, Tick):
            learner_id = item.learner_id
            if learner_id in erased:
                continue
            states[learner_id], produced = step(states.get(learner_id), item, POLICY)
            assert produced == expected, item
            batch.setdefault(learner_id, []).append(item)
            if data.draw(st.integers(0, 3)) == 0:
                flush()
            continue
        flush()
        if data.draw(st.integers(0, 15)) == 0:
            index.clear()  # partitions revoked: the next tick steps everyone
        if states and data.draw(st.integers(0, 40)) == 0:
            gone = data.draw(st.sampled_from(sorted(states)))  # erased: state and index
            index.forget(gone)
            erased.add(gone)
            del states[gone]
        produced = []
        for partition in range(partitions):
            keys = [k for k in states if part[k] == partition]
            for learner_id in index.take(item.now, partition, keys):
                states[learner_id], out = step(states[learner_id], item, POLICY)
                index.stepped(learner_id, states[learner_id], item.now)
                produced += out
                stepped += 1
            assert index.tiers(partition) == Counter(states[k].tier for k in keys)
        kept = [o for o in expected if o.learner_id not in erased]
        if partitions == 1:
            assert produced == kept, item
        assert by_learner(produced) == by_learner(kept), item
        assert states == {k: s for k, s in everyone.states.items() if k not in erased}
    return stepped


@FAST
@given(richer(), richer(), st.sampled_from([1, 2]), st.data())
def test_a_worker_skipping_quiet_learners_changes_nothing(
    first: tuple[list[Record], int],
    second: tuple[list[Record], int],
    partitions: int,
    data: st.DataObject,
) -> None:
    """Two generated learners, a third with a profile alone (woken every `REFRESH`) until
    an event of theirs sets a first week, and a fourth whose first record comes
    mid-history; batches of any size, revocations and an erasure at random ticks."""
    last = max(first[1], second[1])
    records = as_learner(first[0], "p") + as_learner(second[0], "q")
    week, weekday = data.draw(st.integers(0, last)), data.draw(st.integers(0, 6))
    records += [event("r", at(week, weekday, 10)), event("s", at(last // 2, 3, 10))]
    joined = at(data.draw(st.integers(0, week)), data.draw(st.integers(0, 6)), 9)
    records = arriving(ordered(records), profile("r"), joined)
    drive_as_worker(records, evaluated(last + 3), partitions, data)


@FAST
@given(st.data())
def test_a_simulated_team_through_the_worker_driver(data: st.DataObject) -> None:
    records = list(simulate(4, 8, seed=5, policy=POLICY))
    names = dict(zip(sorted({r.learner_id for r in records}), "pqrs", strict=True))
    renamed = [r.model_copy(update={"learner_id": names[r.learner_id]}) for r in records]
    drive_as_worker(renamed, evaluated(10), 2, data)


def test_an_event_that_changes_no_mark_keeps_the_wake_up() -> None:
    index = WakeIndex(POLICY)
    state, _ = step(None, event("p", at(0, 1)), POLICY)
    index.recorded("p", state, events_only=True)
    assert index.take(at(0, 2, 0)) == ["p"]  # new: due at once
    index.stepped("p", state, at(0, 2, 0))
    assert index.take(at(0, 3, 0)) == []
    state, _ = step(state, event("p", at(0, 3, 9)), POLICY)
    index.recorded("p", state, events_only=True)
    assert index.take(at(0, 4, 0)) == []
    assert index.take(evaluated(0)) == ["p"]  # the week's evaluation


def test_an_event_that_sets_the_first_week_brings_the_wake_up_nearer() -> None:
    """A learner with a profile alone sleeps a week; an event sets the first week to
    evaluate, and the wake-up is computed again as of the last tick."""
    index = WakeIndex(POLICY)
    state, _ = step(None, profile("p"), POLICY)
    index.recorded("p", state, events_only=False)
    now = at(0, 0, 0)
    assert index.take(now) == ["p"]
    index.stepped("p", state, now)
    state, _ = step(state, event("p", at(-1, 6, 9)), POLICY)  # Sunday: sent a little late
    index.recorded("p", state, events_only=True)
    assert index.take(at(0, 0, 5)) == []
    assert index.take(at(0, 0, 6)) == ["p"]  # week -1 closed, plus 6 hours: not a week on


def test_other_records_make_a_learner_due_and_forget_and_clear_drop_them() -> None:
    index = WakeIndex(POLICY, {"p": 0, "q": 1}.__getitem__)
    for learner_id in ("p", "q"):
        state, _ = step(None, event(learner_id, at(0, 1)), POLICY)
        index.recorded(learner_id, state, events_only=True)
    assert index.take(at(0, 2, 0), 0) == ["p"]
    assert index.take(at(0, 2, 0), 1) == ["q"]
    index.stepped("p", dataclasses.replace(state, learner_id="p"), at(0, 2, 0))
    index.stepped("q", state, at(0, 2, 0))
    assert index.tier("q") == 0
    assert index.tiers(1) == Counter({0: 1})
    late = assignment("q", "m", "compliance", day(0, 0), at(0, 2))
    state, _ = step(state, late, POLICY)
    index.recorded("q", state, events_only=False)  # already overdue: due at the next tick
    assert index.take(at(0, 3, 0), 1) == ["q"]
    index.forget("p")
    assert "p" not in index
    assert index.take(evaluated(0), 0) == []
    index.clear()
    assert "q" not in index
    assert index.tiers(1) == Counter()


def test_known_keys_the_index_has_not_seen_are_due_and_those_gone_are_forgotten() -> None:
    """After a restart the worker knows its table's keys, not their wake-ups."""
    index = WakeIndex(POLICY)
    state, _ = step(None, profile("a"), POLICY)
    index.recorded("a", state, events_only=False)
    index.take(at(0, 0, 0))
    index.stepped("a", state, at(0, 0, 0))
    assert index.take(at(0, 1, 0), 0, ["c", "a", "b"]) == ["c", "b"]  # "a" still asleep
    assert index.take(at(0, 2, 0), 0, ["b"]) == []
    assert "a" not in index
    assert "c" not in index
    assert "b" in index


def test_a_profile_alone_is_stepped_once_a_week_and_replay_is_unchanged() -> None:
    """The `REFRESH` rule, which the worker needs, costs replay one no-op step a week."""
    records = ordered([profile("r"), *weeks("p", [5, 5, 5, 5, 0, 0, 5])])
    skipping, everyone = Timeline(POLICY), Timeline(POLICY, skip_quiet=False)
    assert skipping.wakeups is not None
    take = skipping.wakeups.take
    woken: list[dt.datetime] = []

    def noting(now: dt.datetime) -> list[str]:
        taken = take(now)
        woken.extend(now for learner_id in taken if learner_id == "r")
        return taken

    skipping.wakeups.take = noting  # type: ignore[method-assign,assignment]
    for item in schedule(records, POLICY, evaluated(8)):
        assert skipping.feed(item) == everyone.feed(item), item
    assert skipping.states == everyone.states
    assert len(woken) >= 7
    assert all(b - a == REFRESH for a, b in itertools.pairwise(woken))
