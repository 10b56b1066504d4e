"""What a step returns: tier transitions, overdue follow-ups (`stream.core.reminders`), and
notices the edges count or log."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from schemas.reminders import FollowUpOverdue
from schemas.transitions import TierTransition

NoticeCode = Literal[
    "duplicate",
    "late_event",
    "unknown_role",
    "retracted",
    "not_retracted",
    "conversation",
    "follow_up_overdue",
    "after_leaving",
]


@dataclass(frozen=True, slots=True)
class Notice:
    """Something the edges should count or log; never a change of tier. `role` and `team`
    (the learner's, as the roster has them) label what is counted per role and team."""

    code: NoticeCode
    learner_id: str
    detail: str = ""
    role: str = ""
    team: str = ""


Output = TierTransition | FollowUpOverdue | Notice
