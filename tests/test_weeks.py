"""Weeks, days and the step at the ends of the calendar: nothing overflows, nothing raises.

Records may hold any instant from 0001-01-02 to 9999-12-30 (UTC) with any offset, and any
due date; the core's arithmetic saturates at the calendar's ends instead of raising."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from schemas import Assignment, Intervention, LearnerProfile, LearningEvent
from schemas.clock import Tick
from schemas.limits import EARLIEST, LATEST
from stream.core.due import quiet_until
from stream.core.policy import Policy
from stream.core.state import LearnerState
from stream.core.step import Input, step
from stream.core.timeline import Timeline, default_until, next_midnight, schedule
from stream.core.today import clock_at
from stream.core.wakeups import WakeIndex
from stream.core.weeks import (
    END_OF_TIME,
    START_OF_TIME,
    add_days,
    last_closed_week,
    local_date,
    monday,
    shifted,
    week_close,
    week_label,
    week_of_date,
)
from tests.kit import POLICY, policy_with

UTC = dt.UTC
LAST_WEEK = week_of_date(dt.date.max)


def fixed(hours: int, minutes: int = 0) -> dt.timezone:
    return dt.timezone(dt.timedelta(hours=hours, minutes=minutes))


OFFSETS = [
    UTC,
    fixed(23, 59),
    fixed(-23, -59),
    fixed(5, 45),
    fixed(0, -1),
    fixed(14),
    ZoneInfo("Pacific/Kiritimati"),  # -10:29:20 local mean time in year 1, +14 today
    ZoneInfo("America/Adak"),  # +12:13:22 local mean time in year 1
    ZoneInfo("Asia/Kathmandu"),
    ZoneInfo("America/St_Johns"),
]
ZONES = ["UTC", "Pacific/Kiritimati", "America/Adak", "Asia/Kathmandu", "Pacific/Chatham"]


def test_add_days_and_shifted_saturate_at_the_calendar_ends():
    """Day and instant arithmetic past either end of the calendar gives that end."""
    assert add_days(dt.date(9999, 12, 30), 5) == dt.date.max
    assert add_days(dt.date(1, 1, 3), -5) == dt.date.min
    assert add_days(dt.date(2026, 1, 5), 7) == dt.date(2026, 1, 12)
    assert shifted(LATEST, dt.timedelta(days=3)) == END_OF_TIME
    assert shifted(EARLIEST, -dt.timedelta(days=3)) == START_OF_TIME


def test_the_last_week_never_closes_and_the_first_has_a_label():
    """The week of 9999-12-31 closes at END_OF_TIME; the weeks at both ends have labels."""
    assert monday(LAST_WEEK) == dt.date(9999, 12, 27)
    assert week_close(LAST_WEEK, ZoneInfo("America/Adak")) == END_OF_TIME
    assert week_close(LAST_WEEK - 1, ZoneInfo("UTC")) == dt.datetime(9999, 12, 27, tzinfo=UTC)
    assert week_label(LAST_WEEK) == "9999-W52"
    assert week_label(week_of_date(dt.date.min)) == "0001-W01"


def test_local_date_and_last_closed_week_at_the_ends():
    """Local dates of the first and last instants stay in the calendar, in any zone."""
    kiritimati = ZoneInfo("Pacific/Kiritimati")
    assert local_date(EARLIEST, kiritimati) == dt.date.min
    assert local_date(LATEST, kiritimati) == dt.date.max
    assert last_closed_week(EARLIEST, kiritimati, dt.timedelta(hours=72)) < 0


def test_a_tick_clock_keeps_room_for_the_steps_day_arithmetic():
    """A tick's `today` near either end leaves room for follow-ups and the counting window."""
    widest = policy_with(
        follow_up={"days": 60, "exposed_days": 60}, assignments={"counting_days": 366}
    )
    assert clock_at(LATEST, widest).today == dt.date.max - dt.timedelta(days=61)
    assert clock_at(EARLIEST, widest).today == dt.date.min + dt.timedelta(days=367)
    assert clock_at(dt.datetime(2026, 3, 4, tzinfo=UTC), widest).today == dt.date(2026, 3, 4)


def test_schedule_never_ticks_past_the_last_instant_a_record_holds():
    """Records in the calendar's last days: ticks stop at LATEST, the schedule ends."""
    last = dt.datetime(9999, 12, 30, 12, tzinfo=UTC)
    item = LearningEvent(
        id="e", learner_id="p", occurred_at=last, kind="view", object_id="c", source="t"
    )
    ticks = [i for i in schedule([item], POLICY) if isinstance(i, Tick)]
    assert ticks == [] or all(t.now <= LATEST for t in ticks)
    assert next_midnight(last, POLICY) == END_OF_TIME
    assert default_until(last, POLICY) == dt.datetime(9999, 12, 31, tzinfo=ZoneInfo("UTC"))


def test_unrepresentable_instants_are_not_valid_records():
    """An instant whose UTC time leaves the calendar is refused by the schema."""
    for text in ("0001-01-01T00:00:00+05:00", "9999-12-31T12:00:00Z"):
        with pytest.raises(ValidationError, match="occurred_at"):
            LearningEvent.model_validate(
                {"id": "e", "learner_id": "p", "occurred_at": text, "kind": "view",
                 "object_id": "c", "source": "t"}
            )  # fmt: skip


# --- the property: any valid records and ticks near any instant, step never raises ---


@st.composite
def instants(draw: st.DrawFn, anchor: dt.datetime) -> dt.datetime:
    """An instant within about 40 weeks of `anchor`, with an odd offset, clamped into
    what a record can hold."""
    minutes = draw(st.integers(-40 * 7 * 1440, 40 * 7 * 1440))
    moment = shifted(anchor, dt.timedelta(minutes=minutes))
    moment = min(max(moment, EARLIEST), LATEST)
    return moment.astimezone(draw(st.sampled_from(OFFSETS)))


@st.composite
def dues(draw: st.DrawFn, anchor: dt.datetime) -> dt.date:
    if draw(st.integers(0, 9)) == 0:
        return draw(st.sampled_from([dt.date.min, dt.date.max]))
    return add_days(anchor.date(), draw(st.integers(-300, 300)))


@st.composite
def inputs(draw: st.DrawFn, anchor: dt.datetime) -> Input:
    when = draw(instants(anchor))
    choice = draw(st.integers(0, 9))
    if choice <= 4:
        kind = draw(st.sampled_from(["session", "view", "progress", "completion", "assessment"]))
        score = draw(st.none() | st.floats(0, 1))
        return LearningEvent(
            id=f"e{draw(st.integers(0, 30))}", learner_id="p", occurred_at=when, kind=kind,
            object_id=draw(st.sampled_from(["c", "m0", "m1"])), score=score,
            success=draw(st.none() | st.booleans()), source="t",
        )  # fmt: skip
    if choice == 5:
        return Assignment(
            learner_id="p", module_id=draw(st.sampled_from(["m0", "m1", "m2"])),
            kind=draw(st.sampled_from(["compliance", "certification", "milestone"])),
            due=draw(dues(anchor)), assigned_at=when,
        )  # fmt: skip
    if choice == 6:
        kinds = ["conversation_held", "support_plan", "concern_raised", "resolved", "not_useful"]
        return Intervention(learner_id="p", kind=draw(st.sampled_from(kinds)), at=when)
    if choice == 7:
        role = draw(st.sampled_from(["default", "sales_rep", "compliance_officer", "nobody"]))
        return LearnerProfile(learner_id="p", role=role, customer_facing=draw(st.booleans()))
    return Tick(now=when, partition=0)


ANCHORS = st.sampled_from(
    [
        EARLIEST,
        LATEST,
        dt.datetime(1, 12, 31, tzinfo=UTC),
        dt.datetime(9999, 10, 1, tzinfo=UTC),
    ]
) | st.datetimes(dt.datetime(1, 1, 2), dt.datetime(9999, 12, 30), timezones=st.just(UTC))


@st.composite
def extreme_runs(draw: st.DrawFn) -> tuple[Policy, list[Input]]:
    anchor = draw(ANCHORS)
    items = draw(st.lists(inputs(anchor), min_size=1, max_size=25))
    ticks = sorted((i for i in items if isinstance(i, Tick)), key=lambda t: t.now)
    ordered = iter(ticks)  # a clock moves forward: ticks in time order, records any order
    items = [next(ordered) if isinstance(i, Tick) else i for i in items]
    policy = policy_with(
        timezone=draw(st.sampled_from(ZONES)),
        follow_up={"days": draw(st.sampled_from([7, 60])), "exposed_days": 3},
        assignments={"counting_days": draw(st.sampled_from([30, 366]))},
    )
    return policy, items


def run_extreme(policy: Policy, items: list[Input], skip_quiet: bool) -> list[object]:
    timeline = Timeline(policy, skip_quiet=skip_quiet)
    index = WakeIndex(policy)  # told of every record and tick, as the worker's is
    outputs: list[object] = []
    for item in items:
        if isinstance(item, Tick) and "p" not in timeline.states:
            continue  # a tick needs a learner
        outputs.extend(timeline.feed(item))
        state = timeline.states["p"]
        if isinstance(item, Tick):
            index.take(item.now)
            index.stepped("p", state, item.now)
            quiet_until(state, item.now, policy)
        else:
            index.recorded("p", state, isinstance(item, LearningEvent))
        timeline.states["p"] = LearnerState.model_validate_json(state.model_dump_json())
    return outputs


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(extreme_runs())
def test_step_and_ticks_never_raise_at_the_ends_of_the_calendar(run):
    """Any valid records and ticks near any instant (years 1 to 9999, odd offsets, due
    dates on the calendar's ends): the step, the ticks, the wake-up index and the stored
    state never raise, and skipping quiet learners changes nothing."""
    policy, items = run
    assert run_extreme(policy, items, skip_quiet=True) == run_extreme(policy, items, False)


def test_a_due_date_of_9999_12_31_is_no_deadline_and_no_error():
    """An assignment due 9999-12-31 (how LMSs say "no due date"): ticks and the wake-up
    index work as for any later deadline."""
    state, _ = step(None, Assignment(
        learner_id="p", module_id="m", kind="compliance", due=dt.date.max,
        assigned_at=dt.datetime(2026, 3, 2, tzinfo=UTC),
    ), POLICY)  # fmt: skip
    now = dt.datetime(2026, 3, 4, tzinfo=UTC)
    state, outputs = step(state, Tick(now=now, partition=0), POLICY)
    assert outputs == []
    assert quiet_until(state, now, POLICY) is not None
