"""Clock ticks: the only way time moves forward inside the pipeline."""

from __future__ import annotations

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


class Tick(BaseModel):
    """Evaluate the learners of one partition as of `now`.

    `barrier` maps each input topic to the offset (exclusive) of this partition that must
    have been processed before the tick applies, so a tick never overtakes the records
    that were produced before it.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    now: AwareDatetime
    partition: int = Field(ge=0)
    barrier: dict[str, int] = Field(default_factory=dict)
