"""The Canvas Live Events normaliser is total: arbitrary JSON, and Live-Event-shaped objects
whose fields hold arbitrary JSON, give a result or a NormalizeError, never anything else."""

from __future__ import annotations

import copy

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.test_normalize_canvas import normalize
from tests.totality import JSON, outcome

# Live-Event-shaped objects whose fields hold arbitrary JSON.
IDS = st.from_regex(r"[0-9]{1,20}", fullmatch=True) | st.integers(-3, 2**80) | JSON
TIMES = (
    st.sampled_from(
        [
            "2026-03-04T09:15:27Z",
            "2026-03-04T09:15:27",
            "9999-12-31T23:59:59-01:00",
            "2026-03-13T00:00:00+00:00",
        ]
    )
    | JSON
)
NAMES = st.sampled_from(
    ["asset_accessed", "logged_in", "submission_created", "quiz_submitted", "grade_change",
     "course_progress", "course_completed", "wiki_page_created"]
)  # fmt: skip
NUMBERS = st.integers(-5, 50) | st.floats() | JSON
NESTED = st.fixed_dictionaries({"id": IDS}) | JSON
BODY = (
    st.fixed_dictionaries(
        {
            **dict.fromkeys(["user_id", "student_id", "assignment_id", "quiz_id", "asset_id"], IDS),
            **dict.fromkeys(["score", "points_possible"], NUMBERS),
            **dict.fromkeys(
                ["grade", "role", "asset_type", "grading_complete"], JSON | st.just("quiz")
            ),
            "user": NESTED,
            "course": NESTED,
        }
    )
    | JSON
)
SHAPED = st.fixed_dictionaries(
    {
        "metadata": st.fixed_dictionaries(
            {"event_name": NAMES, "event_time": TIMES, "user_id": IDS}
        ),
        "body": BODY,
    }
)


@settings(max_examples=100, deadline=None)
@given(JSON)
def test_arbitrary_json_never_raises_anything_but_normalize_error(payload):
    """Whatever JSON arrives, the normaliser returns a result or raises NormalizeError."""
    outcome(normalize, payload)


@settings(max_examples=200, deadline=None)
@given(SHAPED)
def test_event_shaped_json_never_raises_anything_but_normalize_error(payload):
    """Live-Event-shaped payloads, arbitrary fields: a result or a NormalizeError, twice alike."""
    assert outcome(normalize, payload) == outcome(normalize, copy.deepcopy(payload))
