"""Dispatch: tier transitions (and overdue follow-ups) to delivered messages.

`Dispatcher.on_alert` takes each record of the alerts topic from the topic's one reader
(the transition log, `stream.worker.agents.transition_log`; keyed by learner, so it sits
on the learner's partition beside the state table), plans the messages, skips what the
delivery log says was delivered, delivers the rest with in-process retries, and hands what
is deferred (quiet hours) or still failing to the retry topic. `redeliver` consumes the
retry topic: it waits until a delivery is due, tries again, and after the last round sends
it to the dead-letter topic. Nothing is dropped silently: every message ends delivered,
failed (a permanent refusal) or dead-lettered, each counted by channel and outcome.

A dead letter of a rendered delivery names it (`ParkedDelivery`) without its contents: the
message is parked in the learner's dispatch state, deleted with it on erasure. `tierwatch
dlq redrive` puts a `RedriveRequest` on the retry topic and `redeliver` takes the parked
message from the state and tries it again, unless it was delivered.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import structlog
from pydantic import ValidationError

from schemas.dispatch import REDRIVE_REASON, ParkedDelivery, PendingDelivery, RedriveRequest
from schemas.reminders import FollowUpOverdue
from schemas.teams import TeamDigest
from schemas.transitions import TierTransition
from stream import codec, scrub
from stream.actions.links import action_links
from stream.dispatch.base import Channel, Message, Outcome
from stream.dispatch.config import DispatchConfig
from stream.dispatch.deliver import build_channels, deliver
from stream.dispatch.digest import plan_digest
from stream.dispatch.ledger import DispatchState
from stream.dispatch.overdue import plan_overdue
from stream.dispatch.plan import Plan, plan
from stream.dispatch.templates import Templates
from stream.errors import InvalidRecord
from stream.worker.faust_app import changelog_configs
from stream.worker.pipeline import Pipeline

log = structlog.get_logger("tierwatch.dispatch")
MAX_WAIT_S = 3600.0  # a due time further ahead is re-checked at least hourly


class Dispatcher:
    """The shared parts of both agents: config, channels, templates, the state table."""

    def __init__(self, pipeline: Pipeline, config: DispatchConfig) -> None:
        self.pipeline = pipeline
        self.config = config
        self.channels: dict[str, Channel] = build_channels(config)
        self.templates = Templates(config.templates_dir, config.default_language)
        self.links = action_links(pipeline.settings, str(pipeline.app.conf.canonical_url))
        self.table = pipeline.app.Table(
            "dispatch",
            partitions=pipeline.settings.partitions,
            key_type=str,
            value_type=bytes,
            extra_topic_configs=changelog_configs(pipeline.settings),
        )
        self.retry_topic = pipeline.app.topic(
            pipeline.topics.retry, key_serializer="raw", value_serializer="raw"
        )
        self.metrics = pipeline.metrics.worker
        self._locks: dict[str, asyncio.Lock] = {}

    def lock(self, learner_id: str) -> asyncio.Lock:
        """One learner's dispatch state is changed by one agent at a time (both agents load
        it, wait on the network, then store it: unserialised, one would undo the other)."""
        lock = self._locks.get(learner_id)
        if lock is None:
            lock = self._locks[learner_id] = asyncio.Lock()
        return lock

    def release(self, learner_id: str) -> None:
        lock = self._locks.get(learner_id)
        if lock is not None and not lock.locked():
            del self._locks[learner_id]

    def load(self, learner_id: str) -> DispatchState:
        raw = self.table.get(learner_id)
        return DispatchState.model_validate_json(raw) if raw else DispatchState()

    def store(self, learner_id: str, state: DispatchState) -> None:
        """Store a learner's dispatch state, unless they were erased meanwhile."""
        if not self.pipeline.is_erased(learner_id):
            self.table[learner_id] = state.model_dump_json().encode()

    async def on_transition(self, t: TierTransition) -> None:
        if self.pipeline.is_erased(t.learner_id):
            self.metrics.erased_dropped.inc()
            return
        state = self.load(t.learner_id)
        learner = self.pipeline.load(t.learner_id)
        profile = learner.profile if learner else None
        now = t.at  # plan in the transition's own time: quiet hours are about when it happened
        links = (
            self.links.for_transition(t, profile, dt.datetime.now(dt.UTC)) if self.links else None
        )
        result = plan(
            t, profile, self.config, self.templates, told=state.told_at(t.at),
            last_nudge=state.last_nudge, now=now, tz=self.pipeline.policy.tz, links_for=links,
            snoozed_until=learner.snoozed_until if learner else None,
        )  # fmt: skip
        await self.send(state, t.learner_id, t.id, result, t.at)
        state.moved(t.from_tier, t.to_tier, t.at)
        self.store(t.learner_id, state)

    async def on_follow_up(self, o: FollowUpOverdue) -> None:
        """An overdue follow-up: the reminder to the manager, or its escalation to HR (the
        manager informed), delivered as a transition's messages are (keyed by its id)."""
        if self.pipeline.is_erased(o.learner_id):
            self.metrics.erased_dropped.inc()
            return
        state = self.load(o.learner_id)
        learner = self.pipeline.load(o.learner_id)
        profile = learner.profile if learner else None
        reasons = [c.as_reason() for c in learner.reasons] if learner else []
        now = dt.datetime.now(dt.UTC)
        links = (
            self.links.bound_to(o.transition_id, o.learner_id, profile, now) if self.links else None
        )
        result = plan_overdue(o, profile, reasons, self.config, self.templates, links_for=links)
        await self.send(state, o.learner_id, o.id, result, o.at)
        self.store(o.learner_id, state)

    async def on_digest(self, d: TeamDigest) -> None:
        """A manager's weekly digest, with the link to their team view (its delivery log is
        filed under the manager, `digest_key`)."""
        key = digest_key(d)
        state = self.load(key)
        link = self.links.team(d.manager_id, dt.datetime.now(dt.UTC)) if self.links else None
        result = plan_digest(d, self.config, self.templates, link)
        await self.send(state, key, d.id, result, d.at)
        self.store(key, state)

    async def send(
        self, state: DispatchState, learner_id: str, alert_id: str, result: Plan, at: dt.datetime
    ) -> None:
        """Deliver a plan's messages for the alert `alert_id` at `at` (a transition or an
        overdue follow-up): skip what the delivery log has done, defer what must wait,
        dead-letter what cannot be sent."""
        for skipped in result.skipped:
            self.metrics.dispatches.labels("-", "skipped").inc()
            log.info("dispatch.skipped", learner=self.pipeline.pseudonym(learner_id),
                     transition=alert_id, why=skipped)  # fmt: skip
        for missing in result.missing:
            self.metrics.dispatches.labels(missing.channel, "missing").inc()
            await self.dead_letter(
                learner_id, alert_id, missing.channel, missing.role, missing.reason
            )
        for planned in result.messages:
            state.addressed(planned.role, at)
            key = DispatchState.key(alert_id, planned.message.channel, planned.role)
            if state.done(key):
                continue
            due = planned.not_before or at
            pending = _pending(learner_id, planned.role, planned.message, due, at)
            if planned.not_before is not None and planned.not_before > dt.datetime.now(dt.UTC):
                state.record(key, "deferred")
                self.metrics.dispatches.labels(planned.message.channel, "deferred").inc()
                await self.enqueue(pending)
                continue
            await self.attempt(state, pending, key)

    async def attempt(self, state: DispatchState, pending: PendingDelivery, key: str) -> None:
        """Deliver now (with in-process retries); record, re-queue or dead-letter the result."""
        channel = self.channels.get(pending.channel)
        message = _message(pending)
        if channel is None:
            await self.give_up(state, key, pending, "channel no longer configured")
            state.record(key, "dead_lettered")
            return
        started = asyncio.get_running_loop().time()
        result, tries = await deliver(channel, message, self.config.retry)
        self.metrics.dispatch_attempts.labels(pending.channel).inc(tries)
        self.metrics.dispatch_seconds.labels(pending.channel).observe(
            asyncio.get_running_loop().time() - started
        )
        outcome = result.outcome
        if outcome is Outcome.DELIVERED:
            state.record(key, "delivered")
            state.parked.pop(key, None)
            at = pending.at or pending.due_at
            state.delivered(pending.role, pending.route, DispatchState.nudge_day(pending), at)
        elif outcome is Outcome.RETRY and pending.round < len(self.config.retry.later_s):
            delay = max(self.config.retry.later_s[pending.round], result.retry_after_s or 0.0)
            due = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=delay)
            await self.enqueue(
                pending.model_copy(update={"round": pending.round + 1, "due_at": due})
            )
            state.record(key, "retrying")
        else:
            reason = "delivery_exhausted" if outcome is Outcome.RETRY else outcome.value
            await self.give_up(state, key, pending, f"{reason}: {result.detail}")
            state.record(key, outcome.value if outcome is not Outcome.RETRY else "dead_lettered")
        self.metrics.dispatches.labels(pending.channel, outcome.value).inc()

    async def enqueue(self, pending: PendingDelivery) -> None:
        await self.retry_topic.send(
            key=pending.learner_id.encode(), value=pending.model_dump_json().encode()
        )

    async def give_up(
        self, state: DispatchState, key: str, pending: PendingDelivery, reason: str
    ) -> None:
        """Park a rendered delivery in the learner's dispatch state and dead-letter its name."""
        state.park(key, pending)
        await self.dead_letter(
            pending.learner_id, pending.id, pending.channel, pending.role, reason, pending
        )

    async def dead_letter(
        self, learner_id: str, transition_id: str, channel: str, role: str, reason: str,
        parked: PendingDelivery | None = None,
    ) -> None:  # fmt: skip
        """Record an undeliverable message: which delivery (parked, for a redrive) or which
        transition it was, never what the message said or whom it was addressed to."""
        error = InvalidRecord(
            "dispatch_" + reason.split(":")[0].replace(" ", "_"), f"{channel} to {role}: {reason}"
        )
        value = (
            ParkedDelivery(
                id=parked.id, channel=parked.channel, role=parked.role, route=parked.route,
                round=parked.round,
            ).model_dump_json().encode()
            if parked
            else transition_id.encode()
        )  # fmt: skip
        letter = codec.dead_letter(
            self.pipeline.topics.retry,
            -1,
            -1,
            learner_id.encode(),
            value,
            error,
            dt.datetime.now(dt.UTC),
            pseudonym=self.pipeline.pseudonym,
            redrivable=parked is not None,
        )
        self.metrics.dispatches.labels(channel, "dead_lettered").inc()
        self.metrics.dead_letters.labels("dispatch").inc()
        log.warning(
            "dispatch.dead_letter",
            learner=self.pipeline.pseudonym(learner_id),
            channel=channel,
            role=role,
            reason=reason,
        )
        await self.pipeline.send_letter(learner_id.encode(), letter, error.reason)

    async def on_alert(self, value: bytes) -> None:
        """One message of the alerts topic (a transition or an overdue follow-up): plan and
        deliver, or dead-letter on a bug."""
        try:
            alert = codec.decode_alert(value)
        except InvalidRecord as error:
            log.warning("dispatch.unreadable", error=str(error))
            return
        learner = alert.learner_id if not isinstance(alert, TeamDigest) else digest_key(alert)
        try:
            async with self.lock(learner):
                if isinstance(alert, FollowUpOverdue):
                    await self.on_follow_up(alert)
                elif isinstance(alert, TeamDigest):
                    await self.on_digest(alert)
                else:
                    await self.on_transition(alert)
            self.release(learner)
        except Exception as exc:  # one bad alert must not stop dispatch
            log.exception("dispatch.error", learner=self.pipeline.pseudonym(learner))
            await self.dead_letter(learner, alert.id, "-", "-", f"error: {exc!r}")

    async def on_retry(self, value: bytes) -> None:
        """One delivery of the retry topic: wait until it is due, then try again (or a
        redrive request: try a parked delivery again now)."""
        try:
            pending = PendingDelivery.model_validate_json(value)
        except ValidationError as exc:
            try:
                request = RedriveRequest.model_validate_json(value)
            except ValidationError:
                await self.unreadable_retry(value, exc)
                return
            await self.on_redrive(request)
            return
        wait = (pending.due_at - dt.datetime.now(dt.UTC)).total_seconds()
        while wait > 0:
            await asyncio.sleep(min(wait, MAX_WAIT_S))
            wait = (pending.due_at - dt.datetime.now(dt.UTC)).total_seconds()
        if self.pipeline.is_erased(pending.learner_id):
            self.metrics.erased_dropped.inc()
            return
        async with self.lock(pending.learner_id):
            await self.retry(pending)
        self.release(pending.learner_id)

    async def unreadable_retry(self, value: bytes, exc: ValidationError) -> None:
        """Dead-letter what the retry topic holds that is neither a delivery nor a request
        (the detail names the fields, never their values)."""
        detail = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or '(message)'}: {e['msg']}" for e in exc.errors()[:5]
        )
        log.warning("dispatch.unreadable_retry", error=scrub.text(detail, 300))
        error = InvalidRecord("invalid_fields", detail)
        now = dt.datetime.now(dt.UTC)
        letter = codec.dead_letter(
            self.pipeline.topics.retry, -1, -1, None, value, error, now,
            pseudonym=self.pipeline.pseudonym,
        )  # fmt: skip
        self.metrics.dead_letters.labels("retry").inc()
        await self.pipeline.send_letter(None, letter, error.reason)

    async def on_redrive(self, request: RedriveRequest) -> None:
        """Take a parked delivery out of the learner's dispatch state and try it again (round
        0, due now); nothing is sent when the learner was erased or nothing is parked."""
        learner = request.learner_id
        if self.pipeline.is_erased(learner):
            self.metrics.erased_dropped.inc()
            return
        async with self.lock(learner):
            state = self.load(learner)
            key = DispatchState.key(request.id, request.channel, request.role)
            parked = state.parked.pop(key, None)
            if parked is None:
                log.warning(
                    "dispatch.redrive_not_parked", learner=self.pipeline.pseudonym(learner),
                    transition=request.id, channel=request.channel, role=request.role,
                )  # fmt: skip
            elif state.log.get(key) == "delivered":
                self.store(learner, state)  # delivered meanwhile: the parked copy goes
            else:
                update = {"round": 0, "due_at": dt.datetime.now(dt.UTC), "reason": REDRIVE_REASON}
                await self.retry(parked.model_copy(update=update), state)
        self.release(learner)

    async def retry(self, pending: PendingDelivery, state: DispatchState | None = None) -> None:
        state = self.load(pending.learner_id) if state is None else state
        key = DispatchState.key(pending.id, pending.channel, pending.role)
        # a redriven delivery (tierwatch dlq redrive) is tried again unless delivered
        redriven = pending.reason == REDRIVE_REASON
        if (state.log.get(key) == "delivered") if redriven else state.done(key):
            return
        try:
            await self.attempt(state, pending, key)
        except Exception as exc:  # one bad delivery must not stop the retries
            log.exception("dispatch.error", learner=self.pipeline.pseudonym(pending.learner_id))
            await self.give_up(state, key, pending, f"error: {exc!r}")
            state.record(key, "dead_lettered")
        self.store(pending.learner_id, state)

    async def close(self, *args: Any, **kwargs: Any) -> None:
        """Close the channels' connections (on shutdown)."""
        for channel in self.channels.values():
            close = getattr(channel, "close", None)
            if close is not None:
                await close()


def digest_key(d: TeamDigest) -> str:
    """Where a manager's digests are filed in the dispatch table (apart from learners)."""
    return f"digest:{d.manager_id}"


def _pending(
    learner_id: str, role: str, message: Message, due: dt.datetime, at: dt.datetime
) -> PendingDelivery:
    return PendingDelivery(
        learner_id=learner_id, role=role, id=message.id, route=message.route,
        channel=message.channel, recipient=message.recipient, subject=message.subject,
        text=message.text, html=message.html, payload=message.payload, round=0, due_at=due,
        at=at,
    )  # fmt: skip


def _message(p: PendingDelivery) -> Message:
    return Message(
        id=p.id, route=p.route, channel=p.channel, recipient=p.recipient,
        subject=p.subject, text=p.text, html=p.html, payload=p.payload,
    )  # fmt: skip


def register(pipeline: Pipeline, config: DispatchConfig) -> Dispatcher:
    """Attach the redeliver agent (and close the channels on shutdown). The alerts topic's
    records reach `Dispatcher.on_alert` through its one reader, the transition log
    (`stream.worker.agents.transition_log`)."""
    dispatcher = Dispatcher(pipeline, config)

    async def redeliver(stream: Any) -> None:
        async for value in stream:
            await dispatcher.on_retry(value)

    pipeline.app.on_before_shutdown.connect(dispatcher.close)
    pipeline.app.agent(dispatcher.retry_topic, name="redeliver")(redeliver)
    return dispatcher
