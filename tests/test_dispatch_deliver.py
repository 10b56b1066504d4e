"""Delivery attempts: the backoff schedule, Retry-After, and when to stop (no network)."""

from __future__ import annotations

from dataclasses import dataclass, field

from stream.dispatch.base import Message, Outcome, Result
from stream.dispatch.config import Retry, parse_dispatch
from stream.dispatch.deliver import build_channels, deliver

MESSAGE = Message(
    id="t-1", route="learner_nudge", channel="c", recipient="x", subject="s", text="t"
)


@dataclass
class Scripted:
    """A channel answering a fixed sequence of results."""

    results: list[Result]
    name: str = "scripted"
    calls: int = 0

    async def deliver(self, message: Message) -> Result:
        self.calls += 1
        return self.results.pop(0)


@dataclass
class Sleeps:
    waits: list[float] = field(default_factory=list)

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


RETRY = Result(Outcome.RETRY, "503")
OK = Result(Outcome.DELIVERED)


async def test_backoff_grows_exponentially_with_jitter_until_delivered():
    """Three failures then success: 4 tries, waits growing from base_s, each within jitter."""
    channel, sleeps = Scripted([RETRY, RETRY, RETRY, OK]), Sleeps()
    policy = Retry(attempts=5, base_s=1.0, max_s=30.0)
    result, tries = await deliver(channel, MESSAGE, policy, sleeps)
    assert (result.outcome, tries) == (Outcome.DELIVERED, 4)
    expected = [1.0, 2.0, 4.0]
    assert len(sleeps.waits) == 3
    for wait, low in zip(sleeps.waits, expected, strict=True):
        assert low <= wait <= low + policy.base_s


async def test_retry_after_is_honoured_when_longer_than_the_backoff():
    """A 429 asking for 7 s waits at least 7 s before the next try."""
    asked = Result(Outcome.RETRY, "429", retry_after_s=7.0)
    sleeps = Sleeps()
    await deliver(Scripted([asked, OK]), MESSAGE, Retry(attempts=3, base_s=0.5, max_s=30.0), sleeps)
    assert sleeps.waits[0] >= 7.0


async def test_a_receiver_asking_for_more_than_max_s_ends_the_tries_at_once():
    """Retry-After beyond max_s: no in-process wait; the retry topic takes over."""
    asked = Result(Outcome.RETRY, "503", retry_after_s=3600.0)
    channel, sleeps = Scripted([asked, OK]), Sleeps()
    result, tries = await deliver(
        channel, MESSAGE, Retry(attempts=4, base_s=0.5, max_s=30.0), sleeps
    )
    assert (result.outcome, tries, sleeps.waits) == (Outcome.RETRY, 1, [])


async def test_permanent_failures_and_410_are_not_retried():
    """FAILED and DISABLED end the tries after one."""
    for final in (Result(Outcome.FAILED, "404"), Result(Outcome.DISABLED, "410")):
        channel = Scripted([final, OK])
        result, tries = await deliver(channel, MESSAGE, Retry(attempts=4), Sleeps())
        assert (result.outcome, tries) == (final.outcome, 1)


async def test_exhausted_attempts_answer_the_last_result():
    """Always failing: exactly `attempts` tries, the last RETRY is the answer."""
    channel = Scripted([RETRY] * 3)
    result, tries = await deliver(channel, MESSAGE, Retry(attempts=3, base_s=0.01), Sleeps())
    assert (result.outcome, tries, channel.calls) == (Outcome.RETRY, 3, 3)


def test_channels_are_built_from_the_configuration():
    """One channel object per configured channel, of the configured kind."""
    config = parse_dispatch(
        {
            "channels": {
                "hook": {
                    "type": "webhook",
                    "url": "https://x.example.com/h",
                    "secrets": ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
                },
                "slack": {"type": "slack", "url": "https://hooks.example.com/s"},
                "teams": {"type": "teams", "url": "https://teams.example.com/t"},
                "mail": {"type": "email", "host": "localhost", "sender": "t@example.com"},
            }
        }
    )
    kinds = {name: type(channel).__name__ for name, channel in build_channels(config).items()}
    assert kinds == {
        "hook": "WebhookChannel",
        "slack": "SlackChannel",
        "teams": "TeamsChannel",
        "mail": "EmailChannel",
    }
