"""What dispatch remembers per learner: who was told, the last nudge, the delivery log
(one entry per transition id, channel and role), so a re-delivered transition or a
restarted worker does not send a message again, and the deliveries it gave up on.

A delivery given up on is dead-lettered without its rendered message: the message is parked
here, where `tierwatch dlq redrive` finds it and an erasure deletes it with the rest of the
learner's dispatch state (a tombstone on the table's compacted changelog)."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field

from schemas.dispatch import PendingDelivery
from stream.dispatch.config import Role

MAX_LOG = 256  # delivery log entries kept per learner, the oldest dropped first
MAX_PARKED = 16  # deliveries parked per learner for a redrive, the oldest dropped first


class DispatchState(BaseModel):
    model_config = ConfigDict(extra="forbid")

    told: list[Role] = Field(default_factory=list)  # addressed since the last settle
    last_nudge: dt.date | None = None
    log: dict[str, str] = Field(default_factory=dict)  # "transition|channel|role" -> outcome
    parked: dict[str, PendingDelivery] = Field(default_factory=dict)  # same keys: given up on

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

    def addressed(self, role: Role) -> None:
        """Remember that a message to `role` was planned (delivered, or deferred, retrying
        or dead-lettered): a fall must reach them too, even when the receiver was down when
        the rise was sent and the fall comes first."""
        if role not in self.told:
            self.told.append(role)

    def park(self, key: str, pending: PendingDelivery) -> None:
        """Keep a delivery given up on (dead-lettered) for a redrive."""
        self.parked.pop(key, None)
        self.parked[key] = pending
        while len(self.parked) > MAX_PARKED:
            del self.parked[next(iter(self.parked))]

    def delivered(self, role: Role, route: str, on: dt.date) -> None:
        """Remember that `role` heard of this learner (so falls reach them too)."""
        self.addressed(role)
        if route == "learner_nudge":  # a late retry of an older nudge never moves it back
            self.last_nudge = on if self.last_nudge is None else max(self.last_nudge, on)

    @staticmethod
    def nudge_day(pending: PendingDelivery) -> dt.date:
        """The day a delivered nudge counts on for the nudge limit: its transition's day, as
        `plan` compares it with the next transition's (a retry is delivered on a later
        day of the wall clock, which backfilled or simulated transitions do not follow)."""
        return (pending.at or pending.due_at).date()

    def settled(self) -> None:
        """Back at tier 0: nobody needs to hear more of what happened."""
        self.told = []
