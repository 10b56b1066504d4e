"""Delivering a message: the configured channels, and attempts with exponential backoff and
jitter (tenacity) that honour a receiver's Retry-After. What is still failing after the
in-process attempts goes to the retry topic (see `stream.worker.agents.dispatcher`)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from tenacity import AsyncRetrying, RetryCallState, retry_if_result, stop_after_attempt
from tenacity.wait import wait_exponential_jitter

from stream.dispatch.base import Channel, Message, Outcome, Result
from stream.dispatch.chat import SlackChannel, TeamsChannel
from stream.dispatch.config import (
    ChatChannelConfig,
    DispatchConfig,
    EmailChannelConfig,
    Retry,
    WebhookChannelConfig,
)
from stream.dispatch.email import EmailChannel
from stream.dispatch.webhook import WebhookChannel

Sleep = Callable[[float], Awaitable[None]]


def build_channels(config: DispatchConfig) -> dict[str, Channel]:
    """One channel object per configured channel."""
    channels: dict[str, Channel] = {}
    for name, spec in config.channels.items():
        if isinstance(spec, WebhookChannelConfig):
            secrets = [s.get_secret_value() for s in spec.secrets]
            channels[name] = WebhookChannel(name, spec.url, secrets, spec.timeout_s)
        elif isinstance(spec, ChatChannelConfig):
            kind = SlackChannel if spec.type == "slack" else TeamsChannel
            channels[name] = kind(name, spec.url, timeout_s=spec.timeout_s)
        elif isinstance(spec, EmailChannelConfig):
            password = spec.password.get_secret_value() if spec.password else None
            channels[name] = EmailChannel(
                name, spec.host, spec.port, spec.sender, spec.username, password,
                spec.starttls, spec.timeout_s,
            )  # fmt: skip
    return channels


def _retryable(policy: Retry) -> Callable[[Result], bool]:
    def retryable(result: Result) -> bool:
        asked = result.retry_after_s or 0.0
        return result.outcome is Outcome.RETRY and asked <= policy.max_s

    return retryable


def _wait(policy: Retry) -> Callable[[RetryCallState], float]:
    backoff = wait_exponential_jitter(initial=policy.base_s, max=policy.max_s, jitter=policy.base_s)

    def wait(state: RetryCallState) -> float:
        asked = 0.0
        if state.outcome is not None and not state.outcome.failed:
            asked = state.outcome.result().retry_after_s or 0.0
        return max(backoff(state), asked)

    return wait


async def deliver(
    channel: Channel, message: Message, policy: Retry, sleep: Sleep = asyncio.sleep
) -> tuple[Result, int]:
    """Deliver with up to `policy.attempts` tries; the last result and the tries made. A
    receiver asking for more than `policy.max_s` ends the tries at once (the retry topic
    takes it from there)."""
    tries = 0

    async def once() -> Result:
        nonlocal tries
        tries += 1
        return await channel.deliver(message)

    retrying = AsyncRetrying(
        stop=stop_after_attempt(policy.attempts),
        wait=_wait(policy),
        retry=retry_if_result(_retryable(policy)),
        retry_error_callback=lambda state: state.outcome.result() if state.outcome else None,
        sleep=sleep,
    )
    result: Result = await retrying(once)
    return result, tries
