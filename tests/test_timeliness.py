"""A Tier 2 arrival answered by a conversation on time, late, or never; a support plan's
follow-up date (`stream.core.timeliness`, `tiers.support_plan_agreed`)."""

from __future__ import annotations

import datetime as dt

from schemas.roster import Intervention
from stream.core.outputs import Notice
from stream.core.timeline import Timeline, schedule
from tests.kit import POLICY, evaluated, ordered, profile, weeks

DOWN = [6, 6, 6, 6, 0]  # a week without activity: a sales rep is at Tier 2 when it closes


def talk(kind: str, when: dt.datetime, on: dt.date | None = None, id: str = "i1") -> Intervention:
    return Intervention(learner_id="p", kind=kind, at=when, on=on, id=id)  # type: ignore[arg-type]


def replay(records: list, until: int) -> tuple[Timeline, list]:
    timeline = Timeline(POLICY)
    items = schedule(ordered(records), POLICY, evaluated(until))
    return timeline, [o for item in items for o in timeline.feed(item)]


def arrival() -> tuple[Timeline, list, dt.date]:
    history = [profile("p", "sales_rep"), *weeks("p", DOWN)]
    timeline, out = replay(history, 4)
    (rise,) = [t for t in out if getattr(t, "to_tier", 0) == 2]
    assert timeline.states["p"].tier == 2
    assert rise.follow_up_due is not None
    assert timeline.states["p"].talk_by == rise.follow_up_due
    return timeline, out, rise.follow_up_due


def conversations(out: list) -> list[tuple[str, str, str]]:
    return [(o.detail, o.role, o.team) for o in out if isinstance(o, Notice)
            and o.code == "conversation"]  # fmt: skip


def test_a_conversation_by_the_follow_up_date_is_on_time():
    timeline, _, due = arrival()
    when = dt.datetime.combine(due, dt.time(9), tzinfo=dt.UTC)
    out = timeline.feed(talk("conversation_held", when))
    assert conversations(out) == [("on_time", "sales_rep", "t1")]
    assert timeline.states["p"].talk_by is None
    assert conversations(timeline.feed(talk("conversation_held", when, id="i2"))) == []


def test_the_day_the_manager_gives_counts_not_the_day_it_was_recorded():
    timeline, _, due = arrival()
    later = dt.datetime.combine(due + dt.timedelta(days=3), dt.time(9), tzinfo=dt.UTC)
    out = timeline.feed(talk("conversation_held", later, on=due - dt.timedelta(days=1)))
    assert conversations(out) == [("on_time", "sales_rep", "t1")]


def test_a_conversation_after_the_follow_up_date_is_late():
    timeline, _, due = arrival()
    later = dt.datetime.combine(due + dt.timedelta(days=1), dt.time(9), tzinfo=dt.UTC)
    assert conversations(timeline.feed(talk("conversation_held", later))) == [
        ("late", "sales_rep", "t1")
    ]


def test_a_learner_back_below_tier_2_with_no_conversation_was_answered_never():
    timeline, _, due = arrival()
    when = dt.datetime.combine(due - dt.timedelta(days=1), dt.time(9), tzinfo=dt.UTC)
    out = timeline.feed(talk("resolved", when))
    assert [getattr(o, "to_tier", None) for o in out if hasattr(o, "to_tier")] == [0]
    assert conversations(out) == [("never", "sales_rep", "t1")]
    assert timeline.states["p"].talk_by is None


def test_a_support_plan_moves_the_follow_up_to_its_date():
    timeline, _, due = arrival()
    state = timeline.states["p"]
    agreed = due + dt.timedelta(days=10)
    when = dt.datetime.combine(due - dt.timedelta(days=2), dt.time(9), tzinfo=dt.UTC)
    timeline.feed(talk("support_plan", when, on=agreed))
    assert state.follow_up_due == agreed
    assert state.talk_by == due  # the conversation is still asked for by the first date


def test_the_wait_survives_storing_the_state():
    timeline, _, due = arrival()
    stored = timeline.states["p"].model_dump_json(exclude_defaults=True)
    assert f'"talk_by":"{due.isoformat()}"' in stored
