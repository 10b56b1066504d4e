"""A learner who left: evaluated up to their leaving day, never after it
(`stream.core.leaving`, `tiers.left`).

Week 0 is 2026-W02; a week is evaluated at Tuesday 00:00 after it (tests/kit.py)."""

from __future__ import annotations

import datetime as dt
import io

from schemas.clock import Tick
from schemas.roster import LearnerProfile
from schemas.transitions import TierTransition
from stream.core.due import quiet_until
from stream.core.outputs import Notice, Output
from stream.core.step import step
from stream.core.timeline import Timeline, schedule
from stream.dispatch.config import parse_dispatch
from stream.dispatch.plan import plan
from stream.dispatch.templates import Templates
from stream.tools.replay import replay as replay_history
from tests.kit import (
    POLICY,
    assignment,
    at,
    codes,
    day,
    evaluated,
    event,
    intervention,
    moves,
    ordered,
    profile,
    weeks,
)


def leaver(learner: str, last: dt.date, role: str = "default", voluntary: bool = True):
    return profile(learner, role, left_on=last, left_voluntarily=voluntary)


def replay(records: list, until_week: int) -> tuple[Timeline, list[Output]]:
    timeline = Timeline(POLICY)
    items = schedule(ordered(records), POLICY, evaluated(until_week))
    return timeline, [o for item in items for o in timeline.feed(item)]


def transitions(out: list[Output]) -> list[TierTransition]:
    return [o for o in out if isinstance(o, TierTransition)]


def test_a_learner_gone_silent_after_leaving_is_never_nudged():
    """
    week    0 1 2 3 4          5 6 7
    events  8 8 8 8 3 (Mon-Wed) - - -       left on Wednesday of week 4
    tier    0 0 0 0 -          - - -       without the leaving record: 0 0 0 0 1 2 3 ...
    """
    active = [*weeks("a", [8, 8, 8, 8]), *(event("a", at(4, weekday)) for weekday in range(3))]
    _, stayed = replay([profile("a"), *active], until_week=7)
    assert moves(transitions(stayed))[:2] == [(0, 1), (1, 2)]  # the control: it would flag
    timeline, out = replay([leaver("a", day(4, 2)), *active], until_week=7)
    assert transitions(out) == []
    state = timeline.states["a"]
    assert state.tier == 0
    assert state.open_weeks == {}
    assert state.evaluated_week is not None


def test_an_open_episode_ends_at_the_first_tick_after_the_leaving_day():
    """
    week    0 1 2 3 4          5
    events  6 6 6 6 0          -            a sales rep: Tier 2 when week 4 closes (Tue W5)
    tier    0 0 0 0 2 -> 0 on Thursday W5  left on Wednesday of week 5: the episode ends,
                                            no follow-up escalation (Fri W5 without the record)
    """
    history = [*weeks("a", [6, 6, 6, 6, 0])]
    _, stayed = replay([profile("a", "sales_rep"), *history], until_week=6)
    assert moves(transitions(stayed)) == [(0, 2), (2, 3)]  # the control: followed up
    timeline, out = replay([leaver("a", day(5, 2), "sales_rep", False), *history], until_week=8)
    moved = transitions(out)
    assert moves(moved) == [(0, 2), (2, 0)]
    end = moved[1]
    assert codes(end) == ["left"]
    assert end.route == "resolved"
    assert end.at == dt.datetime.combine(day(5, 3), dt.time(0), tzinfo=dt.UTC)
    assert "voluntar" not in end.model_dump_json()
    assert "2026-02-11" not in end.model_dump_json()
    waits = [o.detail for o in out if isinstance(o, Notice) and o.code == "conversation"]
    assert waits == ["left"]  # the conversation awaited ends with the learner's leaving
    state = timeline.states["a"]
    assert (state.tier, state.follow_up_due, state.talk_by) == (0, None, None)


def test_records_dated_after_the_leaving_day_change_nothing():
    """Events, an assignment and a raised concern after the leaving day: notices only."""
    timeline, _ = replay([leaver("a", day(3, 4)), *weeks("a", [6, 6, 6, 6])], until_week=4)
    state = timeline.states["a"]
    before = state.model_dump_json()
    late = [
        event("a", at(4, 1)),
        event("a", at(4, 2), "completion", object_id="m-1"),
        assignment("a", "m-1", "compliance", day(5, 4), at(4, 0, 9)),
        intervention("a", "concern_raised", at(4, 3)),
    ]
    for record in late:
        state, out = step(state, record, POLICY)
        assert [(o.code) for o in out if isinstance(o, Notice)] == ["after_leaving"]
        assert not transitions(out)
    assert state.model_dump_json() == before


def test_the_leaving_day_itself_is_still_judged():
    """An event on the leaving day counts; a concern raised on it goes to wellbeing."""
    _timeline, out = replay(
        [
            leaver("a", day(2, 2)),
            *weeks("a", [6, 6]),
            intervention("a", "concern_raised", at(2, 2)),
        ],
        until_week=3,
    )
    assert moves(transitions(out)) == [(0, 3), (3, 0)]
    assert codes(transitions(out)[1]) == ["left"]


def test_a_future_leaving_day_changes_nothing_before_it():
    """Leaving at the end of week 8 (notice given): the dip of week 4 is flagged as usual.

    week    0 1 2 3 4
    events  6 6 6 6 2    -> Tier 1 when week 4 closes, as without a leaving record
    """
    history = weeks("a", [6, 6, 6, 6, 2])
    _, stayed = replay([profile("a"), *history], until_week=4)
    _, leaving = replay([leaver("a", day(8, 6)), *history], until_week=4)
    assert moves(transitions(leaving)) == moves(transitions(stayed)) == [(0, 1)]


def test_a_profile_sent_again_without_the_record_resumes_with_a_fresh_baseline():
    """Left on Friday of week 3, rehired in week 8: the silent weeks between are no dip.

    week    0 1 2 3 4 5 6 7 8 9 10 11 12
    events  6 6 6 6 - - - - 6 6 6  6  1
    tier    0 0 0 0 (not evaluated) 0 0 0  0  1   the new baseline (6) is built from week 8
    """
    history = [*weeks("a", [6, 6, 6, 6]), *weeks("a", [6, 6, 6, 6, 1], start=8)]
    timeline = Timeline(POLICY)
    items = list(schedule(ordered([leaver("a", day(3, 4)), *history]), POLICY, evaluated(12)))
    rehire = next(n for n, item in enumerate(items) if getattr(item, "now", None) == at(8, 0, 0))
    items.insert(rehire + 1, profile("a"))
    out = [o for item in items for o in timeline.feed(item)]
    assert moves(transitions(out)) == [(0, 1)]
    assert transitions(out)[0].week == "2026-W14"  # week 12


def test_the_wake_up_index_wakes_a_leaver_once_then_never():
    """The day after the leaving day is a wake-up; once ended, none until a record comes."""
    state = None
    for record in [leaver("a", day(5, 2)), *weeks("a", [6, 6, 6, 6, 6])]:
        state, _ = step(state, record, POLICY)
    assert state is not None
    state, _ = step(state, tick(evaluated(4)), POLICY)
    assert quiet_until(state, evaluated(4), POLICY) == at(5, 3, 0)  # Thursday, 00:00
    state, _ = step(state, tick(at(5, 3, 0)), POLICY)
    assert quiet_until(state, at(5, 3, 0), POLICY) is None


def tick(now: dt.datetime) -> Tick:
    return Tick(partition=0, now=now)


def test_dispatch_tells_no_one_of_a_leaving():
    """The fall that ends a leaver's episode is planned to no one, whoever was told before."""
    history = [leaver("a", day(5, 2), "sales_rep"), *weeks("a", [6, 6, 6, 6, 0])]
    _, out = replay(history, until_week=6)
    rise, end = transitions(out)
    config = parse_dispatch(
        {
            "channels": {"mail": {"type": "email", "host": "smtp.example.com", "sender": "t@x.io"}},
            "routes": {"manager_outreach": ["mail"], "resolved": ["mail"]},
            "hr": {"default": "hr@example.com"},
        }
    )
    done = plan(end, full(), config, Templates(), told={"manager", "learner"},
                last_nudge=None, now=end.at, tz=POLICY.tz)  # fmt: skip
    assert done.messages == []
    assert done.missing == []
    assert "left" in done.skipped[0]
    outreach = plan(rise, full(), config, Templates(), told=set(),
                    last_nudge=None, now=rise.at, tz=POLICY.tz)  # fmt: skip
    (message,) = outreach.messages  # a message planned before the record was known: no trace
    text = f"{message.message.text} {message.message.html} {message.message.payload}"
    assert "left" not in str(message.message.payload)
    assert "2026-02-11" not in text
    assert "voluntar" not in text


def full() -> LearnerProfile:
    return LearnerProfile(
        learner_id="a", role="sales_rep", manager_id="m1", team="t1", name="Ana",
        email="ana@example.com", manager_email="m1@example.com",
        left_on=day(5, 2), left_voluntarily=True,
    )  # fmt: skip


def test_replay_counts_records_after_a_leaving_in_its_summary():
    """`tierwatch replay` says how many records came after their learner's leaving day."""
    history = [leaver("a", day(3, 4)), *weeks("a", [6, 6, 6, 6, 6, 6])]
    summary = replay_history(iter(ordered(history)), POLICY, io.BytesIO())
    assert summary.after_leaving == 12  # weeks 4 and 5
    assert "12 records dated after their learner's leaving day" in summary.render()
