"""The stored form of a learner's state: compact closed-week rows, older forms still load."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from stream.core.state import ClosedWeek, LearnerState

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
