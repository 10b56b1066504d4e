"""A manager's team view: one row per learner who reports to them, as it changes.

The learner's worker sends a `TeamUpdate` to the teams topic (keyed by the manager) when a
learner's row changes, before the state that changed it is stored; the manager's worker
keeps the rows in its teams table and shows them on the team page. Aggregates only: the
tier and since when, the dates a conversation and a follow-up are due, the last action
recorded, never events or scores.
"""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field

from schemas.transitions import Tier


class TeamRow(BaseModel):
    """One learner as their manager's team view shows them."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    learner_id: str = Field(min_length=1, max_length=512)
    name: str | None = Field(default=None, max_length=256)
    role: str = Field(default="default", max_length=128)
    team: str | None = Field(default=None, max_length=256)
    tier: Tier = 0
    since: dt.date | None = None  # the day the tier was reached
    talk_by: dt.date | None = None  # a conversation is due by then (a Tier 2 arrival waits)
    follow_up_due: dt.date | None = None  # the tier is reviewed then
    last_action: str | None = Field(default=None, max_length=64)  # an intervention's kind
    last_action_on: dt.date | None = None
    transition_id: str | None = Field(default=None, max_length=64)  # the latest: links act on it


class TeamUpdate(BaseModel):
    """A learner's row for a manager, or `row=None`: the learner left the team (another
    manager, or erased)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    manager_id: str = Field(min_length=1, max_length=512)
    learner_id: str = Field(min_length=1, max_length=512)
    row: TeamRow | None = None
