"""An overdue follow-up: a Tier 2 arrival still waits for its conversation after its date.

The manager is reminded once (`step` "reminder"); if still no conversation is recorded,
the follow-up is escalated once (`step` "escalation") to the Tier 3 recipients. Neither
changes the tier (see `stream.core.reminders`). `id` is deterministic: the same learner,
arrival and step always give the same id.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from schemas.limits import Instant
from schemas.transitions import Tier

ReminderStep = Literal["reminder", "escalation"]


class FollowUpOverdue(BaseModel):
    """A follow-up conversation not recorded in time: remind the manager, or escalate."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(min_length=1, max_length=64)
    learner_id: str = Field(min_length=1, max_length=512)
    step: ReminderStep
    transition_id: str = Field(min_length=1, max_length=64)  # the arrival at Tier 2 it chases
    at: Instant  # the tick that found it due
    talk_by: dt.date  # the conversation was asked for by this day
    reminded_on: dt.date | None = None  # for an escalation: the day the manager was reminded
    tier: Tier  # the learner's tier when it was found due (2 or 3)
