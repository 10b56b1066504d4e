"""Invariants of the rule engine, checked with hypothesis over generated histories."""

from __future__ import annotations

import datetime as dt

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.clock import Tick
from schemas.history import Record
from stream.core.state import LearnerState
from stream.core.timeline import Timeline, schedule
from tests.kit import (
    POLICY,
    assignment,
    at,
    day,
    evaluated,
    event,
    ordered,
    profile,
    run,
    run_all,
    weeks,
)

ROLES = st.sampled_from(["default", "sales_rep", "back_office", "compliance_officer", "team_lead"])
KINDS = st.sampled_from(["milestone", "certification", "compliance"])
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def histories(draw: st.DrawFn) -> tuple[list[Record], int]:
    """A learner with a role, some weeks of activity, assignments, scores and completions."""
    n = draw(st.integers(5, 10))
    counts = draw(st.lists(st.integers(0, 9), min_size=n, max_size=n))
    anchor = event("p", at(0, 0, 6), "view")  # every history starts on Monday of week 0
    records: list[Record] = [profile("p", draw(ROLES)), anchor, *weeks("p", counts)]
    for i in range(draw(st.integers(0, 4))):
        due = day(draw(st.integers(0, n - 1)), draw(st.integers(0, 6)))
        records.append(assignment("p", f"m{i}", draw(KINDS), due, at(0)))
        if draw(st.booleans()):
            done = draw(st.integers(0, n - 1))
            records.append(event("p", at(done, 5, 12), "completion", object_id=f"m{i}"))
    for w in draw(st.lists(st.integers(0, n - 1), max_size=5)):
        score = draw(st.floats(0, 1, allow_nan=False))
        records.append(event("p", at(w, 6, 8), "assessment", object_id="q", score=score))
    return records, n - 1


def tier_timeline(records: list[Record], until_week: int) -> dict[dt.datetime, int]:
    """The learner's tier after each midnight tick."""
    timeline = Timeline(POLICY)
    tiers: dict[dt.datetime, int] = {}
    for item in schedule(ordered(records), POLICY, evaluated(until_week)):
        timeline.feed(item)
        if isinstance(item, Tick):
            tiers[item.now] = timeline.states["p"].tier
    return tiers


@FAST
@given(histories())
def test_same_history_same_transitions(history):
    """Replaying a history twice gives identical transitions."""
    records, last = history
    assert run(records, last) == run(records, last)


class StoringTimeline(Timeline):
    """A timeline that stores every state as JSON and reads it back after each input."""

    def _store(self) -> None:
        for key, state in self.states.items():
            self.states[key] = LearnerState.model_validate_json(state.model_dump_json())

    def feed(self, item: Record | Tick) -> list:
        out = super().feed(item)
        self._store()
        return out


@FAST
@given(histories())
def test_state_survives_serialisation_between_every_step(history):
    """Storing the state as JSON after every input (as the table does) changes nothing:
    the same transitions, overdue follow-ups and notices."""
    records, last = history
    timeline = StoringTimeline(POLICY)
    stored = [
        o for i in schedule(ordered(records), POLICY, evaluated(last)) for o in timeline.feed(i)
    ]
    assert [o for o in stored if hasattr(o, "to_tier")] == run(records, last)
    assert stored == run_all(records, last)


@FAST
@given(histories(), st.data())
def test_less_activity_in_the_evaluated_week_never_lowers_the_tier(history, data):
    """Same past, fewer sessions in the last week: the tier at its evaluation is not lower."""
    records, last = history
    last_week = [
        r for r in records if getattr(r, "kind", None) == "session" and r.occurred_at >= at(last)
    ]
    removed = data.draw(st.sets(st.sampled_from(last_week)) if last_week else st.just(set()))
    fewer = [r for r in records if r not in removed]
    moment = evaluated(last)
    assert tier_timeline(fewer, last)[moment] >= tier_timeline(records, last)[moment]
    assert moment in tier_timeline(records, last)


@FAST
@given(histories(), st.lists(st.tuples(st.integers(0, 9), KINDS), min_size=1, max_size=3))
def test_missing_more_assignments_never_lowers_the_tier(history, extra):
    """Extra assignments that are never completed: at every tick the tier is not lower."""
    records, last = history
    more = list(records)
    for i, (week, kind) in enumerate(extra):
        more.append(assignment("p", f"extra{i}", kind, day(min(week, last), 2), at(0)))
    base, worse = tier_timeline(records, last), tier_timeline(more, last)
    assert all(worse[t] >= tier for t, tier in base.items())
