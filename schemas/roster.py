"""Who a learner is, what they were assigned, and what their manager did about it."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from schemas.limits import Instant

AssignmentKind = Literal["compliance", "certification", "milestone"]
InterventionKind = Literal[
    "conversation_held",
    "support_plan",
    "concern_raised",
    "resolved",
    "snoozed",  # no prompts to the manager about the learner until `on`
    "not_useful",  # feedback on a transition: the prompt did not help
    "incorrectly_flagged",  # feedback on a transition: the learner should not have been flagged
]
FEEDBACK_KINDS = ("not_useful", "incorrectly_flagged")

Id = Field(min_length=1, max_length=512)


class Identity(BaseModel):
    """A learner as one source names them, e.g. (xapi, mbox, mailto:ana@example.com),
    (canvas, user, 21070000000000042) or (moodle, user, 57)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    source: Literal["xapi", "caliper", "canvas", "moodle", "email"]
    kind: str = Field(min_length=1, max_length=64)
    value: str = Field(min_length=1, max_length=2048)


class LearnerProfile(BaseModel):
    """A learner's place in the organisation.

    The exposure flags are optional: a flag set here overrides the default of the
    learner's role in the policy; `None` means "use the role's default".

    The leaving record (`left_on`, `left_voluntarily`) is HR data: the engine stops
    evaluating the learner after that day, and it never reaches a message. Both or neither:
    a leaving date without saying whether it was voluntary is refused, so attrition is
    never guessed. A profile sent again without them (a correction, a rehire) takes them
    back.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    learner_id: str = Id
    role: str = Field(default="default", min_length=1, max_length=128)
    manager_id: str | None = Field(default=None, max_length=512)
    team: str | None = Field(default=None, max_length=256)
    customer_facing: bool | None = None
    compliance_sensitive: bool | None = None
    leadership_pipeline: bool | None = None
    identities: tuple[Identity, ...] = Field(default=(), max_length=64)
    name: str | None = Field(default=None, max_length=256, description="for messages only")
    email: str | None = Field(default=None, max_length=320, description="the learner's address")
    language: str | None = Field(
        default=None, max_length=35, description="BCP 47 tag for messages, e.g. en, de-CH"
    )
    timezone: str | None = Field(
        default=None, max_length=64, description="IANA zone for quiet hours; default: policy's"
    )
    manager_name: str | None = Field(default=None, max_length=256)
    manager_email: str | None = Field(default=None, max_length=320)
    left_on: dt.date | None = Field(
        default=None,
        description="the learner's last day in the organisation (in its timezone): not "
        "evaluated after it; HR data, never in a message",
    )
    left_voluntarily: bool | None = Field(
        default=None,
        validate_default=True,
        description="with `left_on`, required: true for a resignation, false for a "
        "dismissal, redundancy, end of contract or retirement",
    )

    @field_validator("left_voluntarily")
    @classmethod
    def _leaving_is_whole(cls, value: bool | None, info: ValidationInfo) -> bool | None:
        """A leaving record is a date and whether it was voluntary, or nothing."""
        if "left_on" not in info.data:
            return value  # left_on itself was refused: its own error says why
        left_on = info.data["left_on"]
        if left_on is not None and value is None:
            raise ValueError("a leaving date (left_on) needs left_voluntarily: true or false")
        if left_on is None and value is not None:
            raise ValueError("left_voluntarily needs the leaving date, left_on")
        return value


class Assignment(BaseModel):
    """A module a learner must finish by a date (in the organisation's timezone).

    A `completion` event whose `object_id` is `module_id` completes it, late or not. The
    same module sent again replaces it (a new due date); sent with `withdrawn: true`, the
    learner no longer has to do it, and a missed one stops counting.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    learner_id: str = Id
    module_id: str = Id
    kind: AssignmentKind
    due: dt.date
    assigned_at: Instant
    withdrawn: bool | None = Field(
        default=None, description="true: the assignment was withdrawn and no longer counts"
    )


class Intervention(BaseModel):
    """What a manager recorded. The free-text `note` is stored nowhere and never forwarded.

    Applied once: a repeat (the same `id`, or without ids the same kind, time and
    transition) changes nothing, so a record processed again after a crash is harmless.

    `not_useful` and `incorrectly_flagged` are feedback on a transition (name it in
    `transition_id`): they change no tier, and are counted per rule to tune the policy."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str | None = Field(
        default=None,
        min_length=1,
        max_length=128,
        description="the sender's id of this intervention (a form, a chat action): the same id "
        "recorded twice counts once; without one, the kind, time and transition identify it",
    )
    learner_id: str = Id
    kind: InterventionKind
    at: Instant
    note: str | None = Field(default=None, max_length=4000)
    transition_id: str | None = Field(
        default=None, max_length=64, description="the transition a piece of feedback is about"
    )
    on: dt.date | None = Field(
        default=None,
        description="the day the manager gave: when the conversation was held, the "
        "follow-up the support plan agreed, or the last day of a snooze (an action page asks "
        "for it)",
    )
