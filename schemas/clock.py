"""Clock ticks: the only way time moves forward inside the pipeline."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from schemas.limits import Instant

MAX_BARRIER_TOPICS = 64  # the input topics of one pipeline (four today)
TopicName = Annotated[str, StringConstraints(min_length=1, max_length=249)]  # Kafka's limit


class Tick(BaseModel):
    """Evaluate the learners of one partition as of `now`.

    `barrier` maps each input topic to the offset (exclusive) of this partition that must
    have been processed before the tick applies, so a tick never overtakes the records
    that were produced before it.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    now: Instant
    partition: int = Field(ge=0)
    barrier: dict[TopicName, int] = Field(default_factory=dict, max_length=MAX_BARRIER_TOPICS)
