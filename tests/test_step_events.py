"""Events: de-duplication, late arrivals, roles, timezones and deterministic ids."""

from __future__ import annotations

import datetime as dt
import hashlib
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from stream.core.step import event_key
from stream.core.timeline import Timeline, schedule
from tests.kit import (
    POLICY,
    at,
    evaluated,
    event,
    moves,
    notices,
    ordered,
    policy_with,
    profile,
    run,
    run_all,
    weeks,
)


def test_a_redelivered_event_counts_once():
    """Week 4 holds 4 events, each delivered twice: still a dip against a baseline of 6."""
    dip = weeks("a", [4], start=4)
    records = [*weeks("a", [6, 6, 6, 6]), *dip, *dip]
    out = run_all(records, until_week=4)
    assert notices(out).count("duplicate") == 4
    assert moves([o for o in out if hasattr(o, "to_tier")]) == [(0, 1)]


def test_a_late_event_delivered_again_counts_late_once():
    """A late event read again (a worker killed after storing it, before committing it)
    is a duplicate: `late_events` counts events, not deliveries (the chaos suite's fault
    runs counted one event late twice)."""
    timeline = Timeline(POLICY)
    for item in schedule(ordered(weeks("a", [6, 6, 6, 6, 1])), POLICY, evaluated(4)):
        timeline.feed(item)
    late = weeks("a", [2], 4)
    produced = [o for e in [*late, *late] for o in timeline.feed(e)]
    assert notices(produced) == ["late_event", "late_event", "duplicate", "duplicate"]
    assert timeline.states["a"].late_events == 2


def test_an_event_for_an_evaluated_week_is_late_and_not_counted():
    """
    week    0 1 2 3 4            week 4 is evaluated on Tue W5 (a major dip, Tier 1);
    events  6 6 6 6 1 (+5 late)  5 more week-4 events arriving after that are late
    """
    timeline = Timeline(POLICY)
    for item in schedule(ordered(weeks("a", [6, 6, 6, 6, 1])), POLICY, evaluated(4)):
        timeline.feed(item)
    late = [e.model_copy(update={"id": f"late{i}"}) for i, e in enumerate(weeks("a", [5], 4))]
    produced = [o for e in late for o in timeline.feed(e)]
    assert notices(produced) == ["late_event"] * 5
    state = timeline.states["a"]
    assert state.late_events == 5
    assert state.closed_weeks[-1].events == 1
    assert state.tier == 1


def test_unknown_role_uses_default_with_a_notice():
    """A role missing from the policy warns and falls back to the default thresholds."""
    out = run_all([profile("a", "astronaut"), *weeks("a", [6, 6, 6, 6, 2])], until_week=4)
    assert notices(out) == ["unknown_role"]
    assert moves([o for o in out if hasattr(o, "to_tier")]) == [(0, 1)]


def test_weeks_follow_the_policy_timezone():
    """
    In Europe/Berlin, Sunday 23:30 UTC is already Monday: that event belongs to the next week.
    week (Berlin)  0 1 2 3 4
    events         6 6 6 6 6, but week 4's events all stamped Sunday 23:30 UTC of week 3
    -> in UTC week 4 would be empty (a dip); in Berlin it is a normal week.
    """
    sunday_night = dt.datetime(2026, 2, 1, 23, 30, tzinfo=dt.UTC)  # Monday 00:30 in Berlin
    assert sunday_night.astimezone(ZoneInfo("Europe/Berlin")).weekday() == 0
    shifted = [event("b", sunday_night + dt.timedelta(seconds=i)) for i in range(6)]
    records = [*weeks("b", [6, 6, 6, 6]), *shifted]
    assert run(records, until_week=4, policy=policy_with(timezone="Europe/Berlin")) == []
    assert moves(run(records, until_week=4)) == [(0, 1)]


def test_transition_ids_are_deterministic_and_distinct():
    """The same history gives the same ids; every transition has its own."""
    history = [*weeks("a", [5, 5, 5, 5, 0, 0, 0, 5, 5, 5, 5])]
    first = run(history, until_week=10)
    second = run(history, until_week=10)
    assert [t.id for t in first] == [t.id for t in second]
    assert len({t.id for t in first}) == len(first)


def test_a_repeated_tick_changes_nothing():
    """A clock tick delivered twice (at-least-once) evaluates nothing twice: no output and
    the very same state, so the worker has nothing to store."""
    timeline = Timeline(POLICY)
    for record in ordered(weeks("a", [6, 6, 6, 6, 2])):
        timeline.feed(record)
    first = timeline.tick(evaluated(4))
    before = timeline.states["a"].model_dump_json()
    again = timeline.tick(evaluated(4))
    assert moves([o for o in first if hasattr(o, "to_tier")]) == [(0, 1)]
    assert again == []
    assert timeline.states["a"].model_dump_json() == before


def test_an_ordinary_day_leaves_the_state_as_it_was():
    """A tick on a day when no week closes, nothing is due and nothing is followed up
    changes no byte of the stored state."""
    timeline = Timeline(POLICY)
    for item in schedule(ordered(weeks("a", [6, 6, 6, 6, 6])), POLICY, evaluated(4)):
        timeline.feed(item)
    before = timeline.states["a"].model_dump_json()
    wednesday = evaluated(4) + dt.timedelta(days=1)
    assert timeline.tick(wednesday) == []
    assert timeline.states["a"].model_dump_json() == before


@given(st.text(min_size=1, max_size=512))
def test_the_de_duplication_key_of_an_event_id_never_changes(event_id):
    """The key is the 8-byte BLAKE2b digest of the id, big-endian: states store these keys,
    so a faster way of computing them must give the very same numbers."""
    digest = hashlib.blake2b(event_id.encode(), digest_size=8).digest()
    assert event_key(event_id) == int.from_bytes(digest, "big")


def test_a_graders_actions_are_no_activity_of_the_learner():
    """
    week    0 1 2 3 4
    events  6 6 6 6 1 (+ 5 grades of earlier work, given by a grader in week 4)
    tier    0 0 0 0 1   a major dip: the grades carry their scores, not activity
    """
    grades = [
        event("a", at(4, day, 16), "assessment", object_id=f"essay-{day}", score=0.9,
              acted_by="grader")
        for day in range(5)
    ]  # fmt: skip
    timeline = Timeline(POLICY)
    out = []
    for item in schedule(ordered([*weeks("a", [6, 6, 6, 6, 1]), *grades]), POLICY, evaluated(4)):
        out += timeline.feed(item)
    assert moves([o for o in out if hasattr(o, "to_tier")]) == [(0, 1)]
    state = timeline.states["a"]
    assert state.closed_weeks[-1].events == 1
    assert state.closed_weeks[-1].active_days == 1
    assert state.scores == [0.9] * 5


def test_a_grade_of_a_learner_who_did_nothing_yet_starts_no_baseline():
    """A grade (or a teacher's completion) alone is no activity: the baseline starts with
    the learner's own first event, and the teacher's completion still completes."""
    records = [
        event("a", at(0, 2), "assessment", score=0.8, acted_by="grader"),
        event("a", at(0, 3), "completion", object_id="k1", acted_by="other"),
        *weeks("a", [6, 6, 6], start=1),
    ]
    timeline = Timeline(POLICY)
    for item in schedule(ordered(records), POLICY, evaluated(3)):
        timeline.feed(item)
    state = timeline.states["a"]
    assert state.first_active_week == state.closed_weeks[1].week
    assert state.closed_weeks[0].events == 0
    assert state.closed_weeks[0].completions == 1
    assert event_key("k1") in state.completed_objects
