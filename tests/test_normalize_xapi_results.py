"""xAPI results: what passed and failed say of success when result.success is absent."""

from __future__ import annotations

from typing import Any

import pytest

from tests.test_normalize_xapi import ADL, normalize, statement

CMI5_MOVEON = "https://w3id.org/xapi/cmi5/activitytype/block"


def success_of(verb: str, result: dict[str, Any] | None) -> bool | None:
    extra = {} if result is None else {"result": result}
    (event,) = normalize(statement(verb={"id": verb, "display": {"en-US": "x"}}, **extra)).events
    return event.success


@pytest.mark.parametrize(
    ("verb", "result", "success"),
    [
        (ADL + "failed", {"score": {"scaled": 0.4}}, False),
        (ADL + "failed", None, False),
        (
            "https://w3id.org/xapi/adl/verbs/failed",
            {"score": {"raw": 4, "min": 0, "max": 10}},
            False,
        ),
        (ADL + "passed", {"score": {"scaled": 0.9}}, True),
        (ADL + "passed", None, True),
        (ADL + "failed", {"success": True}, True),
        (ADL + "passed", {"success": False}, False),
        (ADL + "scored", {"score": {"scaled": 0.5}}, None),
        (ADL + "completed", {"completion": True}, None),
    ],
)
def test_passed_and_failed_imply_success_unless_the_result_says(
    verb: str, result: dict[str, Any] | None, success: bool | None
) -> None:
    """`failed` without result.success is a failure (success false), `passed` a success;
    a stated result.success wins; other verbs imply nothing."""
    assert success_of(verb, result) is success


def test_a_failed_answer_stays_item_level() -> None:
    """`answered` is item level: its success is never read, whatever the verb says."""
    assert success_of(ADL + "answered", {"success": False}) is None
