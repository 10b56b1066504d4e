"""The canonical learning event: what every LMS payload is normalised into."""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

EventKind = Literal["session", "view", "progress", "completion", "assessment"]

Id = Field(min_length=1, max_length=512)


class LearningEvent(BaseModel):
    """One learning activity of one learner, at one moment.

    `id` is unique per event across sources (ingest derives it from the LMS's own id or
    from a hash of the content); a re-delivered event has the same id and never counts
    twice. `occurred_at` must carry an offset (RFC 3339).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Id
    learner_id: str = Id
    occurred_at: AwareDatetime
    kind: EventKind
    object_id: str = Id
    score: float | None = Field(default=None, ge=0.0, le=1.0)
    success: bool | None = None
    duration_s: float | None = Field(default=None, ge=0.0)
    source: str = Field(min_length=1, max_length=64)
    source_meta: dict[str, str] | None = Field(
        default=None, description="how the source said it, e.g. which field gave the time"
    )
