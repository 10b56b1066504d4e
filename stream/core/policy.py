"""The policy: every number of the framework, from a YAML file validated by pydantic."""

from __future__ import annotations

from functools import cached_property, lru_cache
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from schemas.roster import AssignmentKind
from schemas.transitions import Exposure
from stream.core.errors import TierwatchError

DEFAULT_ROLE = "default"
ExposureKey = tuple[str, bool | None, bool | None, bool | None]
_FLAGS: tuple[Exposure, ...] = ("customer_facing", "compliance_sensitive", "leadership_pipeline")


class PolicyError(TierwatchError):
    """A policy file could not be read or is not valid; `problems` lists path and message."""

    def __init__(self, source: str, problems: list[tuple[str, str]]) -> None:
        self.source = source
        self.problems = problems
        lines = "\n".join(f"  {path}: {msg}" for path, msg in problems)
        super().__init__(f"{source}: {len(problems)} problem(s)\n{lines}")


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Weeks(_Section):
    close_grace_hours: float = Field(6, ge=0, le=72)
    history_weeks: int = Field(12, ge=1, le=104)


class Activity(_Section):
    baseline_weeks: int = Field(4, ge=1, le=52)
    min_baseline_weeks: int = Field(2, ge=1, le=52)
    min_baseline_events: float = Field(3, ge=0)
    dip_below: float = Field(0.75, gt=0, lt=1)
    major_drop: float = Field(0.5, gt=0, lt=1)

    @model_validator(mode="after")
    def _consistent(self) -> Activity:
        if self.min_baseline_weeks > self.baseline_weeks:
            raise ValueError("min_baseline_weeks cannot exceed baseline_weeks")
        if self.major_drop <= 1 - self.dip_below:
            raise ValueError(
                "major_drop must be a larger drop than the dip threshold (1 - dip_below)"
            )
        return self


class Assignments(_Section):
    """How long a missed assignment counts: the kinds in `until_completed` (duties) until
    completed, the others (milestones) until completed or `counting_days` after due."""

    counting_days: int = Field(30, ge=1, le=366)
    until_completed: tuple[AssignmentKind, ...] = ("compliance", "certification")


class Assessments(_Section):
    fall: float = Field(0.15, gt=0, le=1)
    previous_scores: int = Field(5, ge=1, le=50)
    min_previous_scores: int = Field(2, ge=1, le=50)
    failed_is_fall: bool = True

    @model_validator(mode="after")
    def _consistent(self) -> Assessments:
        if self.min_previous_scores > self.previous_scores:
            raise ValueError("min_previous_scores cannot exceed previous_scores")
        return self


class Tiers(_Section):
    tier2_dip_weeks: int = Field(2, ge=1)
    tier3_dip_weeks: int = Field(3, ge=1)
    compliance_overdue_days: int = Field(14, ge=0)
    exposed_major_dip_tier: int = Field(2, ge=1, le=3)

    @model_validator(mode="after")
    def _ordered(self) -> Tiers:
        if not 1 < self.tier2_dip_weeks < self.tier3_dip_weeks:
            raise ValueError("need 1 < tier2_dip_weeks < tier3_dip_weeks")
        return self


class FollowUp(_Section):
    """When an arrival at Tier 2 is followed up, and when a conversation not recorded by
    then is chased (`stream.core.reminders`): the manager is reminded `remind_after_days`
    after the follow-up date (1: the day after it passed), and the follow-up is escalated
    to the Tier 3 recipients `escalate_after_days` after the reminder."""

    days: int = Field(7, ge=1, le=60)
    exposed_days: int = Field(3, ge=1, le=60)
    remind_after_days: int = Field(1, ge=1, le=60)
    escalate_after_days: int = Field(3, ge=1, le=60)


class Events(_Section):
    """Event times the pipeline takes, around the clock that received them (ingest's, or
    the broker's for a record that reached a topic another way); see `stream.core.bounds`.
    """

    max_skew_minutes: float = Field(60, ge=0, le=1440)
    max_age_days: int = Field(400, ge=1, le=3660)


class DeEscalation(_Section):
    quiet_weeks_per_step: int = Field(1, ge=1)
    tier3_quiet_weeks: int = Field(2, ge=1)


class Role(_Section):
    """A role's exposure flags and its Tier 2 thresholds of missed assignments in the window."""

    customer_facing: bool = False
    compliance_sensitive: bool = False
    leadership_pipeline: bool = False
    missed_thresholds: dict[AssignmentKind, int] = Field(default_factory=dict)

    @field_validator("missed_thresholds")
    @classmethod
    def _positive(cls, value: dict[AssignmentKind, int]) -> dict[AssignmentKind, int]:
        for kind, n in value.items():
            if n < 1:
                raise ValueError(f"threshold for {kind} must be at least 1")
        return value

    def exposure(self) -> list[Exposure]:
        flags: list[Exposure] = []
        if self.customer_facing:
            flags.append("customer_facing")
        if self.compliance_sensitive:
            flags.append("compliance_sensitive")
        if self.leadership_pipeline:
            flags.append("leadership_pipeline")
        return flags


DEFAULT_ROLES: dict[str, Role] = {
    DEFAULT_ROLE: Role(missed_thresholds={"milestone": 2, "certification": 2, "compliance": 1}),
    "sales_rep": Role(customer_facing=True, missed_thresholds={"certification": 2}),
    "back_office": Role(missed_thresholds={"compliance": 1}),
    "compliance_officer": Role(compliance_sensitive=True),
    "team_lead": Role(leadership_pipeline=True),
}


class Calendar(NamedTuple):
    """What a tick's clock (`stream.core.today`) needs of the policy, derived once: a
    hashable value, so that the clock can be remembered by it."""

    tz: ZoneInfo
    close_grace_hours: float
    back: int  # days before a tick's date its step reaches: pruning `counting_days` back, + 1
    ahead: int  # days after it: a follow-up `follow_up.days` (or `exposed_days`) ahead, + 1


class Policy(_Section):
    """The whole policy. Roles other than `default` inherit its thresholds."""

    model_config = ConfigDict(frozen=True, extra="forbid", ignored_types=(cached_property,))

    timezone: str = "UTC"
    weeks: Weeks = Weeks()
    activity: Activity = Activity()
    assignments: Assignments = Assignments()
    assessments: Assessments = Assessments()
    tiers: Tiers = Tiers()
    follow_up: FollowUp = FollowUp()
    de_escalation: DeEscalation = DeEscalation()
    events: Events = Events()
    roles: dict[str, Role] = Field(default_factory=lambda: dict(DEFAULT_ROLES))

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(
                f"unknown timezone {value!r} (use an IANA name such as Europe/Berlin)"
            ) from exc
        return value

    @field_validator("roles")
    @classmethod
    def _has_default(cls, value: dict[str, Role]) -> dict[str, Role]:
        if DEFAULT_ROLE not in value:
            raise ValueError(f"roles must include {DEFAULT_ROLE!r}")
        return value

    @cached_property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @cached_property
    def calendar(self) -> Calendar:
        ahead = max(self.follow_up.days, self.follow_up.exposed_days) + 1
        back = self.assignments.counting_days + 1
        return Calendar(self.tz, self.weeks.close_grace_hours, back, ahead)

    @cached_property
    def _resolved_roles(self) -> dict[str, Role]:
        base = self.roles[DEFAULT_ROLE].missed_thresholds
        return {
            name: role.model_copy(update={"missed_thresholds": {**base, **role.missed_thresholds}})
            for name, role in self.roles.items()
        }

    def knows_role(self, name: str) -> bool:
        return name in self.roles

    def role(self, name: str) -> Role:
        """The named role with the default's thresholds filled in; the default if unknown."""
        roles = self._resolved_roles
        return roles.get(name) or roles[DEFAULT_ROLE]

    @cached_property
    def _role_flags(self) -> dict[str, tuple[Role, tuple[bool, ...]]]:
        """Each role (resolved) with its own exposure flags, in the order of `_FLAGS`."""
        return {
            name: (role, tuple(bool(getattr(role, flag)) for flag in _FLAGS))
            for name, role in self._resolved_roles.items()
        }

    def exposure(self, key: ExposureKey) -> tuple[Role, tuple[Exposure, ...]]:
        """A role (the default if unknown) and its exposure flags, each flag of `key` (role
        name, customer-facing, compliance-sensitive, leadership pipeline) overriding the
        role's unless None."""
        roles = self._role_flags
        role, own = roles.get(key[0]) or roles[DEFAULT_ROLE]
        return role, _exposure_flags(key[1], key[2], key[3], own)


@lru_cache(maxsize=256)
def _exposure_flags(
    customer: bool | None, compliance: bool | None, lead: bool | None, role: tuple[bool, ...]
) -> tuple[Exposure, ...]:
    """The exposure flags set: the profile's own (`customer`, `compliance`, `lead`) unless
    None, else the role's. A pure function of a few booleans, remembered (216 keys at most)."""
    own = (customer, compliance, lead)
    return tuple(
        flag
        for flag, mine, default in zip(_FLAGS, own, role, strict=True)
        if (mine if mine is not None else default)
    )


def _path(loc: tuple[str | int, ...]) -> str:
    return ".".join(str(part) for part in loc) or "(top level)"


def parse_policy(data: Any, source: str = "policy") -> Policy:
    """Validate a decoded policy document; raise PolicyError naming every problem's path."""
    if not isinstance(data, dict):
        raise PolicyError(source, [("(top level)", "the policy must be a mapping of settings")])
    try:
        return Policy.model_validate(data)
    except ValidationError as exc:
        problems = [(_path(err["loc"]), err["msg"]) for err in exc.errors()]
        raise PolicyError(source, problems) from None
