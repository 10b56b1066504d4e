"""The canonical learning event: what every LMS payload is normalised into."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from schemas.limits import Instant, SourceMeta

EventKind = Literal["session", "view", "progress", "completion", "assessment", "voided"]
ActedBy = Literal["grader", "other"]

MAX_ID = 512  # the longest id an event holds (its own, its object's)
Id = Field(min_length=1, max_length=MAX_ID)


class Retracted(BaseModel):
    """The event a voiding takes back, as its sender knew it: its id, when it happened
    (its week), the assessment score it added to the learner's scores, if any, and the
    object it completed, if it was a completion (its assignment is open again)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Id
    occurred_at: Instant
    score: float | None = Field(default=None, ge=0.0, le=1.0, allow_inf_nan=False)
    completed: str | None = Field(default=None, min_length=1, max_length=512)


class LearningEvent(BaseModel):
    """One learning activity of one learner, at one moment.

    `id` is unique per event across sources (ingest derives it from the LMS's own id or
    from a hash of the content); a re-delivered event has the same id and never counts
    twice. `occurred_at` must carry an offset (RFC 3339) and lie within the instants a
    record can hold (`schemas.limits`); `source_meta` is a few short labels (at most 16
    keys of 64 characters, values of 256).

    Only the learner's own actions are activity. `acted_by` says when someone else acted
    for them: a `grader` (a grade: it carries a score or a success, and nothing else), or
    `other` (a teacher's override of a completion, a scheduled task closing an attempt).
    Such an event still carries its result (a score, a success, a completion) but does not
    count as the learner's activity. None: the learner acted.

    A `voided` event is no activity: it takes back (`retracts`) an earlier event of the
    same learner (an xAPI voiding statement), and only a voided event carries `retracts`.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Id
    learner_id: str = Id
    occurred_at: Instant
    kind: EventKind
    object_id: str = Id
    score: float | None = Field(default=None, ge=0.0, le=1.0, allow_inf_nan=False)
    success: bool | None = None
    duration_s: float | None = Field(default=None, ge=0.0, allow_inf_nan=False)
    acted_by: ActedBy | None = Field(
        default=None, description="who acted when not the learner: the event is no activity"
    )
    source: str = Field(min_length=1, max_length=64)
    source_meta: SourceMeta | None = Field(
        default=None, description="how the source said it, e.g. which field gave the time"
    )
    retracts: Retracted | None = Field(
        default=None, description="for a voided event: the event it takes back"
    )

    @model_validator(mode="after")
    def _retracts_only_when_voided(self) -> LearningEvent:
        if (self.kind == "voided") != (self.retracts is not None):
            raise ValueError("a voided event, and only one, names the event it retracts")
        return self
