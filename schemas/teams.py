"""A manager's team view: one row per learner who reports to them, as it changes, and the
weekly digest that links to it.

The learner's worker sends a `TeamUpdate` to the teams topic (keyed by the manager) when a
learner's row changes, before the state that changed it is stored; the manager's worker
keeps the rows in its teams table and shows them on the team page. Aggregates only: the
tier and since when, the dates a conversation and a follow-up are due, the last action
recorded, never events or scores. A tick sends `DigestDue` to the teams topic's partition
it evaluated; the first of a week makes a `TeamDigest` for each manager of the partition
with someone to follow (dispatched to the manager with a link to the view).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter

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
    transition_at: AwareDatetime | None = None  # its instant


class Manager(BaseModel):
    """How a manager is reached, as their learners' profiles name them."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    name: str | None = Field(default=None, max_length=256)
    email: str | None = Field(default=None, max_length=320)


class TeamUpdate(BaseModel):
    """A learner's row for a manager, or `row=None`: the learner left the team (another
    manager, or erased)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["row"] = "row"
    manager_id: str = Field(min_length=1, max_length=512)
    learner_id: str = Field(min_length=1, max_length=512)
    row: TeamRow | None = None
    manager: Manager | None = None  # with a row: how the manager is reached


class DigestDue(BaseModel):
    """A tick evaluated a partition: its managers' digests of the tick's week are due."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["digest_due"] = "digest_due"
    partition: int = Field(ge=0)
    at: AwareDatetime


TeamsRecord = Annotated[TeamUpdate | DigestDue, Field(discriminator="kind")]
TEAMS_RECORD: TypeAdapter[TeamUpdate | DigestDue] = TypeAdapter(TeamsRecord)


class TeamDigest(BaseModel):
    """A manager's weekly digest: how many of their people are at each tier, how many
    conversations and follow-ups are overdue or due this week (counts only: the names are
    on the team view its message links to)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(min_length=1, max_length=64)  # from the manager and the week
    manager_id: str = Field(min_length=1, max_length=512)
    manager: Manager
    week: str = Field(pattern=r"^\d{4}-W\d{2}$")
    at: AwareDatetime
    people: int = Field(ge=0)
    by_tier: dict[int, int]
    overdue: int = Field(ge=0)
    due_this_week: int = Field(ge=0)
