"""A reason as people see it (the learner view, action pages): a reason describing one
assessment (its score against the mean of the previous ones) is shown without the score,
following the design's privacy rule (aggregates only)."""

from __future__ import annotations

from typing import Any

from stream.core.reason_text import Cause

# Reasons whose text and numbers describe one assessment (its score against the mean of the
# previous ones) are replaced by a sentence without the score.
ITEM_LEVEL_CODES = frozenset({"assessment_fall"})
FALL_TEXT = "An assessment result fell below the learner's recent results."
FAILED_TEXT = "An assessment was not passed."


def reason_view(reason: Cause) -> dict[str, Any]:
    """A reason as the view shows it, with its sentence: item-level numbers are left out."""
    if reason.code not in ITEM_LEVEL_CODES:
        return {"code": reason.code, "text": reason.text, "numbers": dict(reason.numbers)}
    failed = int(reason.numbers.get("failed", 0) or 0)
    return {
        "code": reason.code,
        "text": FAILED_TEXT if failed else FALL_TEXT,
        "numbers": {"failed": failed} if "failed" in reason.numbers else {},
    }
