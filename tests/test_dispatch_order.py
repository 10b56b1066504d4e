"""Dispatch reaches the same roles whatever order a learner's transitions are read in.

A record Faust did not deliver is read again after later ones (the commit guard's re-read,
`stream.worker.faust_compat`): in the chaos suite a fall 3 -> 2 was read after the next fall
to tier 0 had closed its episode, found nobody told, and its six messages were lost. Who
was told is kept in the transitions' own time (`DispatchState.told_at`)."""

from __future__ import annotations

import asyncio
import datetime as dt
from types import SimpleNamespace
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.transitions import Factors, TierTransition
from stream.dispatch.base import Outcome, Result
from stream.dispatch.config import parse_dispatch
from stream.dispatch.templates import Templates
from stream.worker.agents.dispatcher import Dispatcher
from tests.kit import profile

CONFIG = parse_dispatch(
    {
        "channels": {
            "hook": {
                "type": "webhook",
                "url": "https://hooks.example.com/tierwatch",
                "secrets": ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
            }
        },
        "routes": {
            "learner_nudge": ["hook"],
            "manager_outreach": ["hook"],
            "wellbeing": ["hook"],
            "resolved": ["hook"],
        },
        "wellbeing": {"default": "care@example.com"},
    }
)


class Hook:
    """A webhook channel that accepts everything and remembers what it was sent."""

    name = "hook"

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    async def deliver(self, message) -> Result:
        self.sent.append((message.id, message.route))
        return Result(Outcome.DELIVERED)


class Counter:
    def labels(self, *_: object) -> Counter:
        return self

    def inc(self, *_: object) -> None: ...

    def observe(self, *_: object) -> None: ...


def dispatcher() -> Dispatcher:
    """A dispatch agent with a dict for its table and an accepting webhook."""
    d = Dispatcher.__new__(Dispatcher)
    who = profile("a", email="a@example.com", manager_email="m@example.com")
    d.pipeline = SimpleNamespace(  # type: ignore[assignment]
        is_erased=lambda _: False,
        pseudonym=lambda learner: learner,
        load=lambda _: SimpleNamespace(profile=who, snoozed_until=None),
        policy=SimpleNamespace(tz=ZoneInfo("UTC")),
    )
    d.config, d.templates, d.table, d._locks = CONFIG, Templates(), {}, {}  # type: ignore[assignment]
    d.links = None
    d.channels = {"hook": Hook()}  # type: ignore[dict-item]
    names = ("dispatches", "dispatch_attempts", "dispatch_seconds", "erased_dropped")
    d.metrics = SimpleNamespace(**{n: Counter() for n in names})  # type: ignore[assignment]
    return d


def transition(name: str, up: int, to: int, route: str, day: int) -> TierTransition:
    return TierTransition(
        id=name, learner_id="a", from_tier=up, to_tier=to, route=route,  # type: ignore[arg-type]
        at=dt.datetime(2026, 2, day, 12, tzinfo=dt.UTC), reasons=[],
        factors=Factors(severity="major", persistence_weeks=1),
    )  # fmt: skip


# two episodes: up to tier 3 and back down in steps, then up again and down to 0
RISE = transition("rise", 0, 3, "wellbeing", 2)
W07 = transition("w07", 3, 2, "resolved", 9)
W08 = transition("w08", 2, 1, "resolved", 16)
ZERO = transition("zero", 1, 0, "resolved", 17)
NUDGE = transition("nudge", 0, 1, "learner_nudge", 20)
OUTREACH = transition("outreach", 1, 2, "manager_outreach", 21)
DOWN = transition("down", 2, 0, "resolved", 23)
HISTORY = [RISE, W07, W08, ZERO, NUDGE, OUTREACH, DOWN]


def sent(order: list[TierTransition]) -> list[tuple[str, str]]:
    d = dispatcher()
    for t in order:
        asyncio.run(d.on_transition(t))
    return sorted(set(d.channels["hook"].sent))  # type: ignore[attr-defined]


def test_in_order_each_fall_reaches_whoever_its_episode_told():
    """The first episode's rise told the wellbeing service and the manager: its three falls
    reach both, once each; the second's nudge and outreach told the learner and the
    manager: its fall reaches those two (a message's id is the transition's, with the role
    appended for every role but the first)."""
    assert sent(HISTORY) == sorted(
        [("rise", "wellbeing"), ("rise.manager", "wellbeing"),
         ("w07", "resolved"), ("w07.wellbeing", "resolved"),
         ("w08", "resolved"), ("w08.wellbeing", "resolved"),
         ("zero", "resolved"), ("zero.wellbeing", "resolved"),
         ("nudge", "learner_nudge"), ("outreach", "manager_outreach"),
         ("down", "resolved"), ("down.manager", "resolved")]
    )  # fmt: skip


def test_a_fall_read_after_the_next_fall_to_zero_still_reaches_its_episode():
    """Run 03's order: the fall 3 -> 2 of W07 read after W08's 2 -> 1 and the fall to 0."""
    assert sent([RISE, W08, ZERO, W07, NUDGE, OUTREACH, DOWN]) == sent(HISTORY)


def test_the_next_episode_read_before_the_fall_to_zero_that_closes_this_one():
    """The second episode's fall reaches its own roles, not the first episode's."""
    assert sent([RISE, NUDGE, OUTREACH, W07, W08, DOWN, ZERO]) == sent(HISTORY)


RISES = [t for t in HISTORY if t.to_tier > t.from_tier]
FALLS = [t for t in HISTORY if t.to_tier < t.from_tier]
EXPECTED = sent(HISTORY)


@settings(max_examples=40, deadline=None)
@given(
    st.permutations(RISES), st.permutations(FALLS), st.lists(st.sampled_from(HISTORY), max_size=4)
)
def test_falls_read_in_any_order_after_the_rises_send_the_same_messages(rises, falls, again):
    """Every fall reaches the roles of its own episode whatever the order of the falls (and
    of the rises before them), with records read again after."""
    assert sent([*rises, *falls, *again]) == EXPECTED
