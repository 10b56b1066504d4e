"""What dispatch remembers per learner: who was told, the last nudge, and the delivery log
(one entry per transition id, channel and role), so a re-delivered transition or a
restarted worker does not send a message again."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field

from stream.dispatch.config import Role

MAX_LOG = 256  # delivery log entries kept per learner, the oldest dropped first


class DispatchState(BaseModel):
    model_config = ConfigDict(extra="forbid")

    told: list[Role] = Field(default_factory=list)
    last_nudge: dt.date | None = None
    log: dict[str, str] = Field(default_factory=dict)  # "transition|channel|role" -> outcome

    @staticmethod
    def key(transition_id: str, channel: str, role: str) -> str:
        return f"{transition_id}|{channel}|{role}"

    def done(self, key: str) -> bool:
        """Delivered already (or given up on for good): never send it again."""
        return self.log.get(key) in ("delivered", "failed", "disabled", "dead_lettered")

    def record(self, key: str, outcome: str) -> None:
        self.log.pop(key, None)
        self.log[key] = outcome
        while len(self.log) > MAX_LOG:
            del self.log[next(iter(self.log))]

    def delivered(self, role: Role, route: str, on: dt.date) -> None:
        """Remember that `role` heard of this learner (so falls reach them too)."""
        if role not in self.told:
            self.told.append(role)
        if route == "learner_nudge":
            self.last_nudge = on

    def settled(self) -> None:
        """Back at tier 0: nobody needs to hear more of what happened."""
        self.told = []
