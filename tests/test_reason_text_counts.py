"""Reason sentences count properly: every count in the singular or the plural (no "1
days"), weeks in a row as true ordinals (no "21th")."""

from __future__ import annotations

import pytest

from stream.core.reason_text import render


@pytest.mark.parametrize(
    ("code", "values", "text"),
    [
        (
            "compliance_sensitive_overdue",
            {"overdue_days": 1},
            "A compliance module is 1 day overdue in a compliance-sensitive role.",
        ),
        (
            "compliance_overdue",
            {"overdue_days": 1, "limit_days": 0},
            "A compliance module is 1 day overdue (more than 0).",
        ),
        (
            "compliance_overdue",
            {"overdue_days": 15, "limit_days": 14},
            "A compliance module is 15 days overdue (more than 14).",
        ),
        (
            "quiet_weeks",
            {"quiet_weeks": 1, "week": 2927},
            "No warning signs in 1 closed week, up to 2026-W07.",
        ),
        (
            "quiet_weeks",
            {"quiet_weeks": 2, "week": 2927},
            "No warning signs in 2 closed weeks, up to 2026-W07.",
        ),
        (
            "missed_assignment",
            {"milestone": 1, "days": 1, "windowed": ["milestone"]},
            "Missed assignments not yet completed: 1 milestone due in the last day.",
        ),
        (
            "missed_assignment",
            {"compliance": 1, "certification": 2, "milestone": 2, "days": 30,
             "windowed": ["milestone"]},
            "Missed assignments not yet completed: 2 certifications, 1 compliance module, "
            "2 milestones due in the last 30 days.",
        ),
        (
            "missed_assignments",
            {"compliance": 2, "limits": {"compliance": 1}},
            "Missed assignments not yet completed (2 compliance modules) reached the role's "
            "threshold (1 compliance module).",
        ),
        (
            "assessment_fall",
            {"failed": 0, "score": 0.5, "previous_mean": 0.8, "previous_count": 1},
            "Assessment score 0.50 is 0.30 below the previous score (0.80).",
        ),
        (
            "assessment_fall",
            {"failed": 0, "score": 0.5, "previous_mean": 0.8, "previous_count": 2},
            "Assessment score 0.50 is 0.30 below the average of the previous 2 scores (0.80).",
        ),
    ],
)  # fmt: skip
def test_every_count_is_pluralised(code: str, values: dict, text: str) -> None:
    """One day, two days; one closed week, two closed weeks: never "1 days"."""
    assert render(code, values) == text


@pytest.mark.parametrize(
    ("weeks", "said"),
    [(1, "first"), (3, "third"), (4, "4th"), (11, "11th"), (12, "12th"), (13, "13th"),
     (21, "21st"), (22, "22nd"), (23, "23rd"), (101, "101st"), (111, "111th")],
)  # fmt: skip
def test_the_weeks_in_a_row_are_ordinals(weeks: int, said: str) -> None:
    """21st, 22nd and 23rd, not 21th."""
    values = {"activity": 0, "baseline": 8.0, "drop_pct": 100, "persistence_weeks": weeks}
    assert render("disengagement", values).endswith(f", {said} week in a row.")
