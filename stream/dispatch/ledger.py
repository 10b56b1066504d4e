"""What dispatch remembers per learner: who was told, the last nudge, the delivery log
(one entry per transition id, channel and role), so a re-delivered transition or a
restarted worker does not send a message again, and the deliveries it gave up on.

Who was told is kept in the transitions' own time, not in the order they are read: each
role addressed with the instant of the transition that addressed it (`heard`), and the
instants where episodes begin (a rise from tier 0, `starts`) and end (a fall to tier 0,
`settles`). A fall reaches the roles addressed in its episode up to it. So a learner's
transitions reach the same roles in any order in which each fall is read after the rises
of its episode before it (a record Faust did not deliver is read again after later ones:
the chaos suite once lost a fall's messages, read after the next fall to tier 0).

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
MAX_HEARD = 64  # roles addressed, with their instants, kept per learner (newest last)
MAX_BOUNDS = 16  # instants where episodes begin, and where they end, kept per learner


class DispatchState(BaseModel):
    model_config = ConfigDict(extra="forbid")

    told: list[Role] = Field(default_factory=list)  # earlier releases: addressed, no instant
    heard: list[tuple[dt.datetime, Role]] = Field(default_factory=list)  # (instant, role)
    starts: list[dt.datetime] = Field(default_factory=list)  # rises from tier 0, in time order
    settles: list[dt.datetime] = Field(default_factory=list)  # falls to tier 0, in time order
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

    def told_at(self, at: dt.datetime) -> set[Role]:
        """Who was addressed in the episode of a transition at `at`, up to it: since the
        last rise from tier 0 at or before `at`, and after the last fall to tier 0 before
        it (a role stored by an earlier release without an instant counts while neither
        is known)."""
        started = max((s for s in self.starts if s <= at), default=None)
        settled = max((s for s in self.settles if s < at), default=None)
        roles = {
            role
            for when, role in self.heard
            if when <= at
            and (started is None or when >= started)
            and (settled is None or when > settled)
        }
        return roles | set(self.told) if started is None and settled is None else roles

    def moved(self, from_tier: int, to_tier: int, at: dt.datetime) -> None:
        """A transition at `at` was planned: a rise from tier 0 begins an episode, a fall
        to tier 0 ends one."""
        if from_tier == 0 and at not in self.starts:
            self.starts = sorted([*self.starts, at])[-MAX_BOUNDS:]
        if to_tier == 0:
            self.settled(at)

    def addressed(self, role: Role, at: dt.datetime) -> None:
        """Remember that a message to `role` was planned (delivered, or deferred, retrying
        or dead-lettered) for a transition at `at`: a fall of its episode must reach them
        too, even when the receiver was down when the rise was sent and the fall comes
        first."""
        if (at, role) not in self.heard:
            self.heard = sorted([*self.heard, (at, role)])[-MAX_HEARD:]

    def park(self, key: str, pending: PendingDelivery) -> None:
        """Keep a delivery given up on (dead-lettered) for a redrive."""
        self.parked.pop(key, None)
        self.parked[key] = pending
        while len(self.parked) > MAX_PARKED:
            del self.parked[next(iter(self.parked))]

    def delivered(self, role: Role, route: str, on: dt.date, at: dt.datetime) -> None:
        """Remember that `role` heard of this learner at `at` (so falls reach them too)."""
        self.addressed(role, at)
        if route == "learner_nudge":  # a late retry of an older nudge never moves it back
            self.last_nudge = on if self.last_nudge is None else max(self.last_nudge, on)

    @staticmethod
    def nudge_day(pending: PendingDelivery) -> dt.date:
        """The day a delivered nudge counts on for the nudge limit: its transition's day, as
        `plan` compares it with the next transition's (a retry is delivered on a later
        day of the wall clock, which backfilled or simulated transitions do not follow)."""
        return (pending.at or pending.due_at).date()

    def settled(self, at: dt.datetime) -> None:
        """Back at tier 0 at `at`: the episode is closed; nobody needs to hear more of it."""
        if at not in self.settles:
            self.settles = sorted([*self.settles, at])[-MAX_BOUNDS:]
        if self.told and self.settles[0] <= at:  # an earlier release's roles: that episode
            self.told = []
