"""The dispatch configuration (YAML): channels, which route uses which, who HR and the
wellbeing service are, quiet hours, the nudge limit, retries, templates and links."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from schemas.transitions import Route

Role = Literal["learner", "manager", "hr", "wellbeing"]
# an overdue follow-up (`schemas.reminders`): the manager reminded, then the escalation
FollowUpRoute = Literal["follow_up_reminder", "follow_up_overdue"]
DigestRoute = Literal["team_digest"]  # a manager's weekly digest (`schemas.teams.TeamDigest`)
ROUTE_ROLES: dict[str, tuple[Role, ...]] = {
    "learner_nudge": ("learner",),
    "manager_outreach": ("manager",),
    "hr_escalation": ("hr", "manager"),
    "wellbeing": ("wellbeing", "manager"),
    "follow_up_reminder": ("manager",),
    "follow_up_overdue": ("hr", "manager"),  # Tier 3's recipients: HR, the manager informed
    "team_digest": ("manager",),
}
# the channels of a follow-up or digest route not named in `routes`: those of the route
# its recipients already hear on (the outreach, the escalation)
FOLLOW_UP_CHANNELS_OF: dict[str, Route] = {
    "follow_up_reminder": "manager_outreach",
    "follow_up_overdue": "hr_escalation",
    "team_digest": "manager_outreach",
}


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class WebhookChannelConfig(_Model):
    type: Literal["webhook"]
    url: str = Field(pattern=r"^https?://")
    secrets: list[SecretStr] = Field(min_length=1)
    timeout_s: float = Field(10.0, gt=0)

    @field_validator("secrets")
    @classmethod
    def _prefixed(cls, value: list[SecretStr]) -> list[SecretStr]:
        for secret in value:
            if not secret.get_secret_value().startswith("whsec_"):
                raise ValueError("webhook secrets start with whsec_ (Standard Webhooks)")
        return value


class ChatChannelConfig(_Model):
    type: Literal["slack", "teams"]
    url: str = Field(pattern=r"^https?://")
    timeout_s: float = Field(10.0, gt=0)


class EmailChannelConfig(_Model):
    type: Literal["email"]
    host: str
    port: int = Field(25, ge=1, le=65535)
    sender: str
    username: str | None = None
    password: SecretStr | None = None
    starttls: bool = False
    timeout_s: float = Field(10.0, gt=0)


ChannelConfig = Annotated[
    WebhookChannelConfig | ChatChannelConfig | EmailChannelConfig, Field(discriminator="type")
]


class Recipients(_Model):
    """An address for a service (HR, wellbeing): per team, or the default."""

    default: str | None = None
    teams: dict[str, str] = Field(default_factory=dict)

    def for_team(self, team: str | None) -> str | None:
        return self.teams.get(team or "", self.default)


class QuietHours(_Model):
    """Learner nudges wait out these hours and weekends, in the learner's timezone."""

    start: dt.time = dt.time(19, 0)
    end: dt.time = dt.time(8, 0)
    weekends: bool = True


class Retry(_Model):
    """In-process attempts with exponential backoff and jitter, then the retry topic."""

    attempts: int = Field(4, ge=1, le=20)
    base_s: float = Field(0.5, gt=0)
    max_s: float = Field(30.0, gt=0)
    later_s: list[float] = Field(default_factory=lambda: [300.0, 1800.0, 7200.0, 21600.0])


class DispatchConfig(_Model):
    channels: dict[str, ChannelConfig] = Field(default_factory=dict)
    routes: dict[Route | FollowUpRoute | DigestRoute, list[str]] = Field(default_factory=dict)
    hr: Recipients = Recipients()
    wellbeing: Recipients = Recipients()
    quiet_hours: QuietHours = QuietHours()
    nudge_every_days: int = Field(7, ge=0)
    retry: Retry = Retry()
    templates_dir: Path | None = None
    default_language: str = "en"
    links: dict[str, str] = Field(default_factory=dict)

    def channels_for(self, route: Route | FollowUpRoute | DigestRoute) -> list[str]:
        """The channels a route sends on; a follow-up route not named in `routes` uses
        those of its fallback (`FOLLOW_UP_CHANNELS_OF`); an empty list sends nothing."""
        if route in self.routes:
            return self.routes[route]
        fallback = FOLLOW_UP_CHANNELS_OF.get(route)
        return self.routes.get(fallback, []) if fallback is not None else []

    @model_validator(mode="after")
    def _routes_name_channels(self) -> DispatchConfig:
        for route, names in self.routes.items():
            for name in names:
                if name not in self.channels:
                    raise ValueError(
                        f"route {route} names channel {name!r}, which is not configured"
                    )
        return self


def parse_dispatch(data: Any) -> DispatchConfig:
    return DispatchConfig.model_validate(data or {})
