"""`quiet_until` and the wake-up index under other policies and clocks: time zones with
daylight saving, other grace hours, counting windows, compliance limits and follow-ups, a
profile that changes mid-history, and ticks every few hours (a wall-clock worker ticks
every minute)."""

from __future__ import annotations

import datetime as dt

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.clock import Tick
from schemas.events import LearningEvent
from schemas.history import Record
from stream.core.policy import Policy
from stream.core.state import LearnerState
from stream.core.step import step
from stream.core.timeline import record_time
from stream.core.wakeups import REFRESH, WakeIndex
from tests.kit import assignment, at, day, event, intervention, ordered, policy_with, profile
from tests.test_properties import KINDS, ROLES

ZONES = ["UTC", "Europe/Berlin", "America/New_York", "America/Santiago", "Australia/Sydney"]
SOME = settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))


@st.composite
def policies(draw: st.DrawFn) -> Policy:
    return policy_with(
        timezone=draw(st.sampled_from(ZONES)),
        weeks={"close_grace_hours": draw(st.sampled_from([0, 1, 6, 30, 72]))},
        assignments={"counting_days": draw(st.sampled_from([1, 3, 30]))},
        tiers={"compliance_overdue_days": draw(st.sampled_from([0, 2, 14]))},
        follow_up={"days": draw(st.sampled_from([1, 7, 14])), "exposed_days": 1},
    )


@st.composite
def histories(draw: st.DrawFn) -> tuple[list[Record], int]:
    """Weeks 8 to 20 of the kit (March and April 2026: daylight saving starts or ends in
    every zone above but UTC), with a profile that may change on the way."""
    first, n = draw(st.sampled_from([8, 10, 11])), draw(st.integers(3, 7))
    flags = {"customer_facing": draw(st.booleans())}
    records: list[Record] = [profile("p", draw(ROLES), **flags), event("p", at(first), "view")]
    for w in range(first, first + n):
        records += [
            event("p", at(w, i % 7, draw(st.integers(0, 23))))
            for i in range(draw(st.integers(0, 8)))
        ]
    for i in range(draw(st.integers(1, 4))):
        due = day(first + draw(st.integers(0, n)), draw(st.integers(0, 6)))
        placed = at(first + draw(st.integers(0, n - 1)), draw(st.integers(0, 6)), 9)
        records.append(assignment("p", f"m{i}", draw(KINDS), due, placed))
    for w in draw(st.lists(st.integers(first, first + n - 1), max_size=3)):
        score = draw(st.floats(0, 1, allow_nan=False))
        records.append(event("p", at(w, 6, 8), "assessment", object_id="q", score=score))
    for _ in range(draw(st.integers(0, 2))):
        kind = draw(st.sampled_from(["conversation_held", "concern_raised", "resolved"]))
        records.append(intervention("p", kind, at(first + draw(st.integers(0, n - 1)), 2, 15)))
    return ordered(records), first + n


def timed(records: list[Record], end: dt.datetime, hours: int) -> list[Record | Tick]:
    """Records in their order with a tick every `hours`; a profile (no time of its own)
    takes the time of the record before it."""
    items: list[tuple[dt.datetime, int, Record | Tick]] = []
    last: dt.datetime | None = None
    for n, record in enumerate(records):
        last = record_time(record) or last or dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
        items.append((last, n, record))
    now = min(t for t, _, _ in items).replace(hour=0)
    while now <= end:
        items.append((now, len(records), Tick(now=now, partition=0)))  # records at `now` first
        now += dt.timedelta(hours=hours)
    items.sort(key=lambda item: (item[0], item[1]))
    return [item for _, _, item in items]


@SOME
@given(policies(), histories(), st.sampled_from([1, 5, 24]), ROLES)
def test_a_tick_before_quiet_until_changes_nothing_under_any_policy(
    policy: Policy, history: tuple[list[Record], int], hours: int, new_role: str
) -> None:
    records, last = history
    middle = len(records) // 2
    records = [*records[:middle], profile("p", new_role), *records[middle:]]
    state: LearnerState | None = None
    index = WakeIndex(policy)
    for item in timed(records, at(last + 3), hours):
        if not isinstance(item, Tick):
            state, _ = step(state, item, policy)
            index.recorded("p", state, isinstance(item, LearningEvent))
            continue
        if state is None:
            continue
        due = index.take(item.now)
        before = state.model_dump_json()
        state, outputs = step(state, item, policy)
        if due:
            index.stepped("p", state, item.now)
        else:
            assert outputs == [], (policy.timezone, item.now)
            assert state.model_dump_json() == before, (policy.timezone, item.now)


def test_a_learner_never_evaluated_is_due_again_within_a_week() -> None:
    """A profile alone never changes on a tick, but the worker must rewrite it before the
    changelog's retention drops it: the index lets it rest a week at most."""
    policy = policy_with()
    state, _ = step(None, profile("p"), policy)
    index = WakeIndex(policy)
    index.recorded("p", state, events_only=False)
    now = dt.datetime(2026, 1, 6, tzinfo=dt.UTC)
    assert index.take(now) == ["p"]
    index.stepped("p", state, now)
    assert index.take(now + REFRESH - dt.timedelta(seconds=1)) == []
    assert index.take(now + REFRESH) == ["p"]
