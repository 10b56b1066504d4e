"""The stored form of a learner's state: compact rows, older forms still load."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from schemas.transitions import Factors, Reason
from stream.core.reason_text import cause
from stream.core.rules import activity_conditions
from stream.core.signals import Dip
from stream.core.state import AssignmentState, ClosedWeek, LearnerState, OpenWeek
from stream.core.timeline import Timeline, run_history
from stream.sim.simulate import simulate
from tests.kit import POLICY, profile

weeks = st.builds(
    ClosedWeek.of,
    week=st.integers(0, 10_000),
    events=st.integers(0, 10_000),
    active_days=st.integers(0, 7),
    completions=st.integers(0, 100),
    baseline=st.none() | st.floats(0, 1e6, allow_nan=False),
    dip=st.sampled_from(["none", "minor", "major"]),
    persistence=st.integers(0, 60),
    fall=st.booleans(),
)


@given(st.lists(weeks, max_size=12))
def test_closed_weeks_round_trip_through_the_stored_json(closed: list[ClosedWeek]) -> None:
    state = LearnerState(learner_id="a", closed_weeks=closed)
    raw = state.model_dump_json(exclude_defaults=True)
    assert LearnerState.model_validate_json(raw) == state


def test_a_closed_week_is_stored_as_a_row() -> None:
    week = ClosedWeek.of(
        week=2870, events=12, active_days=4, completions=1, baseline=10.5,
        dip="major", persistence=2, fall=True,
    )  # fmt: skip
    stored = orjson.loads(LearnerState(learner_id="a", closed_weeks=[week]).model_dump_json())
    assert stored["closed_weeks"] == [[2870, 12, 4, 1, 10.5, 2, 2, 1]]


def test_a_closed_week_stored_as_an_object_still_loads() -> None:
    old = {
        "learner_id": "a",
        "closed_weeks": [
            {
                "week": 3, "events": 5, "active_days": 2, "completions": 0,
                "baseline": None, "dip": "minor", "persistence": 1, "fall": False,
            }
        ],
    }  # fmt: skip
    week = LearnerState.model_validate_json(orjson.dumps(old)).closed_weeks[0]
    assert (week.week, week.dip, week.persistence, week.fall) == (3, "minor", 1, False)


@pytest.mark.parametrize(
    "row", [[1, 2, 3], [1, 2, 3, 4, None, 7, 0, 0], [1, 2, 3, 4, None, "x", 0, 0]]
)
def test_a_bad_row_is_refused(row: list[object]) -> None:
    with pytest.raises(ValidationError):
        LearnerState.model_validate({"learner_id": "a", "closed_weeks": [row]})


def test_a_reason_is_stored_as_a_row_without_its_sentence():
    """`[code, numbers]`, then the values only the sentence uses; the sentence comes back."""
    missed = cause("missed_assignment", {"milestone": 1}, days=30)
    state = LearnerState(learner_id="a", reasons=[cause("resolved"), missed])
    stored = orjson.loads(state.model_dump_json(exclude_defaults=True))
    assert stored["reasons"] == [
        ["resolved", {}],
        ["missed_assignment", {"milestone": 1}, {"days": 30}],
    ]
    (_, back) = LearnerState.model_validate(stored).reasons
    assert back.text == "Missed assignments not yet completed: 1 milestone due in the last 30 days."


def test_a_sentence_the_numbers_do_not_give_is_stored_with_the_reason():
    """A baseline of 2.254 is 2.25 in the numbers, which would read 2.2 rather than 2.3."""
    dip = Dip("major", 0, 2.254, 1.0)
    (found,) = activity_conditions(dip, 1, [], POLICY)
    assert "(0 vs 2.3 events a week)" in found.cause.text
    stored = orjson.loads(LearnerState(learner_id="a", reasons=[found.cause]).model_dump_json())
    assert stored["reasons"][0][3] == found.cause.text
    assert LearnerState.model_validate(stored).reasons == [found.cause]


LEGACY_TEXTS = [
    ("resolved", "A manager recorded the situation as resolved.", {}, False),
    (
        "disengagement",
        "Weekly learning activity down 100% against the baseline (0 vs 10.2 events a week), "
        "third week in a row.",
        {"activity": 0, "baseline": 10.25, "drop_pct": 100, "persistence_weeks": 3},
        False,
    ),
    # the policy's window is not in the numbers: the sentence stays as stored
    (
        "missed_assignment",
        "Missed assignments in the last 30 days: 1 milestone.",
        {"milestone": 1},
        True,
    ),
    ("no_longer_raised", "A reason of a code no rule raises now.", {"n": 1}, True),
]


@pytest.mark.parametrize(("code", "text", "numbers", "kept"), LEGACY_TEXTS)
def test_a_reason_stored_with_its_sentence_still_loads(
    code: str, text: str, numbers: dict, kept: bool
) -> None:
    """An earlier release stored `{code, text, numbers}`: the sentence is the same, and is
    kept only when the numbers alone do not give it back."""
    old = {"learner_id": "a", "reasons": [{"code": code, "text": text, "numbers": numbers}]}
    (reason,) = LearnerState.model_validate_json(orjson.dumps(old)).reasons
    assert reason.as_reason() == Reason(code=code, text=text, numbers=numbers)
    assert (reason.written is not None) == kept


@pytest.mark.parametrize(
    "row", [["resolved"], ["resolved", []], [1, {}], ["resolved", {}, {}, None, "x"]]
)
def test_a_bad_reason_row_is_refused(row: list[object]) -> None:
    with pytest.raises(ValidationError):
        LearnerState.model_validate({"learner_id": "a", "reasons": [row]})


RELEASED = Path(__file__).parent / "fixtures" / "states" / "stored_with_texts.jsonl"


@pytest.mark.parametrize("line", RELEASED.read_text().splitlines(), ids=lambda s: s[-40:-32])
def test_a_state_stored_by_the_previous_release_is_the_same_state_stored_again(
    line: str,
) -> None:
    """States as the previous release stored them (sentences in the reasons, a profile
    naming its learner) load, and are the same state once stored in today's form."""
    stored = orjson.loads(line)["stored"]
    state = LearnerState.model_validate(stored)
    assert [r.text for r in state.reasons] == [r["text"] for r in stored["reasons"]]
    again = LearnerState.model_validate_json(state.model_dump_json(exclude_defaults=True))
    assert again == state
    assert len(state.model_dump_json(exclude_defaults=True)) < len(orjson.dumps(stored))


@given(st.lists(weeks, max_size=12), st.integers(0, 10_000))
def test_weeks_one_after_another_round_trip_through_the_stored_json(
    closed: list[ClosedWeek], first: int
) -> None:
    """Weeks that follow one another (as a learner's do), stored as short rows."""
    run = [week._replace(week=first + i) for i, week in enumerate(closed)]
    state = LearnerState(learner_id="a", closed_weeks=run)
    raw = state.model_dump_json(exclude_defaults=True)
    assert LearnerState.model_validate_json(raw) == state
    assert LearnerState.model_validate(state.model_dump()) == state  # rows as tuples


def test_a_week_after_the_row_before_it_leaves_out_its_week_and_final_zeros():
    """
    week         2870          2871          2872         2874 (after a gap)
    stored as    whole row     no dip        a dip        whole row
    """
    closed = [
        ClosedWeek.of(2870, 12, 4, 1, None, "none", 0, False),
        ClosedWeek.of(2871, 9, 3, 0, 12.0, "none", 0, False),
        ClosedWeek.of(2872, 2, 1, 0, 10.5, "major", 1, False),
        ClosedWeek.of(2874, 0, 0, 0, 10.5, "none", 0, True),
    ]
    stored = orjson.loads(LearnerState(learner_id="a", closed_weeks=closed).model_dump_json())
    assert stored["closed_weeks"] == [
        [2870, 12, 4, 1, None, 0, 0, 0],
        [9, 3, 0, 12.0],
        [2, 1, 0, 10.5, 2, 1],
        [2874, 0, 0, 0, 10.5, 0, 0, 1],
    ]
    assert LearnerState.model_validate(stored).closed_weeks == closed


@pytest.mark.parametrize(
    "rows", [[[9, 3, 0, 12.0]], [["x", 1, 1, 1, None, 0, 0, 0], [9, 3, 0, 1.0]]]
)
def test_a_short_row_needs_a_week_before_it(rows: list[object]) -> None:
    with pytest.raises(ValidationError):
        LearnerState.model_validate({"learner_id": "a", "closed_weeks": rows})


def test_assignments_and_factors_are_stored_as_rows():
    """`[kind, due]` (then 1 when completed), `[severity, persistence, exposure]`."""
    state = LearnerState(
        learner_id="a",
        assignments={
            "aml": AssignmentState(kind="compliance", due=dt.date(2026, 3, 13), completed=True),
            "q1": AssignmentState(kind="milestone", due=dt.date(2026, 4, 10)),
        },
        factors=Factors(severity="major", persistence_weeks=2, role_exposure=["customer_facing"]),
    )
    stored = orjson.loads(state.model_dump_json(exclude_defaults=True))
    assert stored["assignments"] == {
        "aml": ["compliance", "2026-03-13", 1],
        "q1": ["milestone", "2026-04-10"],
    }
    assert stored["factors"] == ["major", 2, ["customer_facing"]]
    assert LearnerState.model_validate(stored) == state
    none = dataclasses.replace(state, factors=Factors(severity="none", persistence_weeks=0))
    assert orjson.loads(none.model_dump_json())["factors"] == ["none", 0]


def test_assignments_and_factors_stored_as_objects_still_load():
    """As the previous release stored them."""
    old = {
        "learner_id": "a",
        "assignments": {"aml": {"kind": "compliance", "due": "2026-03-13", "completed": True}},
        "factors": {"severity": "major", "persistence_weeks": 2, "role_exposure": []},
    }
    state = LearnerState.model_validate_json(orjson.dumps(old))
    assert state.assignments["aml"] == AssignmentState(
        kind="compliance", due=dt.date(2026, 3, 13), completed=True
    )
    assert state.factors == Factors(severity="major", persistence_weeks=2)


def test_the_profile_is_stored_without_the_learner_id():
    """The state's learner id is the profile's; a profile stored with it still loads."""
    state = LearnerState(learner_id="a", profile=profile("a", "sales_rep", email="a@example.com"))
    stored = orjson.loads(state.model_dump_json(exclude_defaults=True))
    assert "learner_id" not in stored["profile"]
    assert stored["profile"]["email"] == "a@example.com"
    assert LearnerState.model_validate(stored) == state
    stored["profile"]["learner_id"] = "a"
    assert LearnerState.model_validate(stored) == state


def test_no_simulated_learner_state_is_over_a_kibibyte_and_a_completion():
    """Every persona, 12 weeks: the stored state stays within 1,024 bytes (bench row 8)
    and the up to three completions remembered with the assignment they closed, so that
    voiding one reopens it (about 45 bytes each, `stream.core.completions`): 1,088; and
    the overdue follow-up of an arrival still waiting after a later transition (its
    transition id, 50 bytes, and its chase, a day and the escalation, 26:
    `stream.core.reminders`): 1,164; and when the learner's current episode began (40
    bytes: a link of an earlier episode records nothing, `stream.worker.actions_web`):
    1,204."""
    timeline = Timeline(POLICY)
    for _ in run_history(simulate(200, 12, 7, policy=POLICY), POLICY, None, timeline):
        pass
    sizes = [len(s.model_dump_json(exclude_defaults=True)) for s in timeline.states.values()]
    assert max(sizes) <= 1204


def test_an_open_weeks_fall_is_stored_with_its_instant_and_one_without_still_loads():
    """`fell_at`, the earliest fall in the open week; the previous release stored only
    `fall` (its instant unknown: it counts as already seen)."""
    when = dt.datetime(2026, 2, 17, 14, tzinfo=dt.UTC)
    state = LearnerState(learner_id="a", open_weeks={6: OpenWeek(fall=True, fell_at=when)})
    stored = orjson.loads(state.model_dump_json(exclude_defaults=True))
    assert stored["open_weeks"] == {"6": {"fall": True, "fell_at": "2026-02-17T14:00:00Z"}}
    assert LearnerState.model_validate(stored) == state
    old = LearnerState.model_validate({"learner_id": "a", "open_weeks": {"6": {"fall": True}}})
    assert (old.open_weeks[6].fall, old.open_weeks[6].fell_at) == (True, None)
