"""One Canvas user is one learner whatever the Live Event: local ids are made global."""

from __future__ import annotations

import copy

import pytest

from stream.normalize.canvas import global_id
from tests.test_normalize_canvas import STUDENT, learner, load, one

# Every fixture (Canvas's documented sample shapes) in which user 731 of the root account
# 21120000000000001 learns: some name them globally, course events by the local "731".
ALL_EVENTS = [
    "asset_accessed",
    "logged_in",
    "submission_created_no_metadata_user",
    "quiz_submitted",
    "grade_change_by_grader",
    "grade_change_autograded",
    "course_progress",
    "course_completed",
]


def test_one_canvas_user_is_one_learner_across_every_event_type():
    """Views, logins, submissions, quizzes, grades, course progress and completion of one
    user all resolve to the one global id; course_completed's local body.user.id too."""
    learners = {name: one(load(name)).learner_id for name in ALL_EVENTS}
    assert set(learners.values()) == {learner(STUDENT)}, learners


def test_course_completed_is_the_student_even_when_a_teacher_made_the_request():
    """course_completed triggered by a teacher (metadata.user_id the teacher's global id)
    is still the student of body.user.id."""
    payload = copy.deepcopy(load("course_completed"))
    payload["metadata"]["user_id"] = "21120000000000088"
    payload["metadata"]["context_role"] = "TeacherEnrollment"
    assert one(payload).learner_id == learner(STUDENT)


def test_course_progress_of_a_job_on_another_shard_takes_that_shard():
    """course_progress from a background job has only the root account: its shard makes
    the local id global (Canvas's own sample: root 21070000000000001, user 1122)."""
    payload = copy.deepcopy(load("course_progress"))
    payload["metadata"]["root_account_id"] = "21070000000000001"
    payload["body"]["user"]["id"] = "1122"
    assert one(payload).learner_id == learner("21070000000001122")


@pytest.mark.parametrize(
    ("local", "root", "expected"),
    [
        ("123", "21070000000000001", "21070000000000123"),
        ("123", 21070000000000001, "21070000000000123"),
        ("21070000000000123", "21070000000000001", "21070000000000123"),
        ("30000000000000042", "21070000000000001", "30000000000000042"),
        ("42", "1", "42"),
        ("42", None, "42"),
        ("42", "not digits", "42"),
        ("42", True, "42"),
    ],
)
def test_global_id(local, root, expected):
    """shard * 10^13 + local; a global id, or a root account with no shard, is kept."""
    assert global_id(local, root) == expected
