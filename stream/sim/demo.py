"""`make run`: a simulated team streamed through the embedded broker and a real worker.

Starts the embedded broker and a worker process, drives a simulated history through Kafka
in accelerated simulated time, prints every transition (and overdue follow-up) as it
arrives with a progress line, and ends with a summary and a check against the offline
replay of the same history.
"""

from __future__ import annotations

import asyncio
import io
import os
import signal
import subprocess
import sys
import tempfile
import uuid
from collections import Counter
from pathlib import Path
from typing import IO, TextIO

from aiokafka import AIOKafkaConsumer

from schemas.reminders import FollowUpOverdue
from schemas.teams import TeamDigest
from schemas.transitions import TierTransition
from stream import codec
from stream.actions.tokens import ActionKeys
from stream.broker import embedded_broker, free_port, stop_process
from stream.core.policy import Policy
from stream.settings import Settings
from stream.sim.demo_dispatch import Receiver
from stream.sim.demo_ingest import KEY, SECRET, curl_command, post_sample, start_ingest
from stream.sim.driver import Driver, DriverError, DriverStats, GroupWatcher
from stream.sim.simulate import simulate
from stream.tools.replay import replay
from stream.topics import Topics, create_topics

ARROW = {True: "↑", False: "↓"}


def describe(t: TierTransition) -> str:
    """One line for a person: when, who, which way, why."""
    arrow = ARROW[t.to_tier > t.from_tier]
    why = t.reasons[0].text if t.reasons else ""
    return (
        f"{t.at.date()}  {t.learner_id}  tier {t.from_tier} {arrow} {t.to_tier}  "
        f"{t.route:<16} {why}"
    )


def describe_overdue(o: FollowUpOverdue) -> str:
    """One line for an overdue follow-up: the manager reminded, or the follow-up escalated."""
    what = "manager reminded" if o.step == "reminder" else "escalated to HR"
    return (
        f"{o.at.date()}  {o.learner_id}  tier {o.tier}      follow-up overdue "
        f"(conversation due by {o.talk_by}): {what}"
    )


def worker_env(bootstrap: str, app_id: str, data_dir: str, settings: Settings) -> dict[str, str]:
    """The environment of a worker ticked by a driver (external clock) on the embedded broker."""
    env = {
        **os.environ,
        "TIERWATCH_BROKER": bootstrap,
        "TIERWATCH_TANSU": "true",
        "TIERWATCH_CLOCK": "external",
        "TIERWATCH_APP_ID": app_id,
        "TIERWATCH_TOPIC_PREFIX": settings.topic_prefix,
        "TIERWATCH_DATA_DIR": data_dir,
        "TIERWATCH_PARTITIONS": str(settings.partitions),
        "TIERWATCH_LOG_LEVEL": "warning",
        "TIERWATCH_WEB_PORT": str(free_port()),
    }
    if settings.policy_file is not None:
        env["TIERWATCH_POLICY_FILE"] = str(settings.policy_file)
    return env


def start_worker(env: dict[str, str], log: IO[bytes]) -> subprocess.Popen[bytes]:
    """A `tierwatch worker` in its own process, its output in `log`."""
    cmd = [sys.executable, "-m", "stream.cli", "worker"]
    return subprocess.Popen(cmd, env=env, stdout=log, stderr=log)


class Printer:
    """Prints transitions and a progress line; counts what it printed."""

    def __init__(self, out: TextIO, total_days: int) -> None:
        self.out = out
        self.total_days = total_days
        self.seen: dict[str, TierTransition] = {}
        self.overdue: dict[str, FollowUpOverdue] = {}
        self.digests: set[str] = set()  # the managers' weekly digests (ids)
        self.stats = DriverStats()

    def alert(self, alert: TierTransition | FollowUpOverdue | TeamDigest) -> None:
        if isinstance(alert, TeamDigest):  # counted; the receiver shows the first one's text
            self.digests.add(alert.id)
            return
        if alert.id in self.seen or alert.id in self.overdue:
            return  # at-least-once: a re-sent alert has the same id
        if isinstance(alert, FollowUpOverdue):
            self.overdue[alert.id] = alert
            self.out.write(describe_overdue(alert) + "\n")
            return
        self.seen[alert.id] = alert
        self.out.write(describe(alert) + "\n")

    def progress(self, stats: DriverStats) -> None:
        self.stats = stats
        if stats.ticks % 7 == 0 or stats.ticks == self.total_days:
            day = stats.day.date() if stats.day else "-"
            self.out.write(
                f"  · simulated {day} (day {stats.ticks}/{self.total_days}): "
                f"{stats.records} records sent, {len(self.seen)} transitions so far\n"
            )
        self.out.flush()


async def follow_alerts(bootstrap: str, topic: str, printer: Printer, stop: asyncio.Event) -> None:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    try:
        idle = 0
        while idle < 8 or not stop.is_set():
            batch = await consumer.getmany(timeout_ms=250)
            idle = 0 if batch else idle + 1
            for messages in batch.values():
                for message in messages:
                    printer.alert(codec.decode_alert(message.value))
    finally:
        await consumer.stop()


def summary(transitions: list[TierTransition]) -> str:
    last: dict[str, int] = {}
    by_tier: Counter[int] = Counter()
    for t in sorted(transitions, key=lambda t: t.at):
        last[t.learner_id] = t.to_tier
        by_tier[t.to_tier] += 1
    reached = sorted({t.to_tier for t in transitions if t.to_tier > t.from_tier})
    return (
        f"{len(transitions)} transitions; moves up to tiers {reached}; "
        f"transitions by target tier {dict(sorted(by_tier.items()))}; "
        f"learners now at tier 1/2/3: {[sum(v == k for v in last.values()) for k in (1, 2, 3)]}"
    )


async def hold_open(out: TextIO, link: str | None, team: str | None) -> None:
    """Keep the worker serving until Ctrl-C (`--hold`)."""
    if link is not None:
        out.write(f"\nThe worker keeps serving action pages, e.g. {link}\n")
    if team is not None:
        out.write(f"and the managers' team views, e.g. {team}\n")
    out.write("Holding: press Ctrl-C to stop.\n")
    out.flush()
    interrupted = asyncio.Event()
    loop = asyncio.get_running_loop()
    # kept until the loop closes: a Ctrl-C also reaches the broker and the worker (one
    # process group), and a second one must not cut the demo's own teardown short
    loop.add_signal_handler(signal.SIGINT, interrupted.set)
    loop.add_signal_handler(signal.SIGTERM, interrupted.set)
    await interrupted.wait()
    out.write("\nstopping\n")


async def run_demo(
    settings: Settings, policy: Policy, learners: int, weeks: int, seed: int, out: TextIO,
    hold: bool = False,
) -> int:  # fmt: skip
    """The whole demo; returns a process exit code (0 when streaming matched replay).
    `hold`: keep the worker (and its action pages) running after the stream until Ctrl-C."""
    expected_buf, overdue_buf = io.BytesIO(), io.BytesIO()
    replay(simulate(learners, weeks, seed, policy=policy), policy, expected_buf, None, overdue_buf)
    lines = expected_buf.getvalue().splitlines()
    expected = {t.id: t for t in map(codec.decode_transition_json, lines)}
    overdue_lines = overdue_buf.getvalue().splitlines()
    expected_overdue = {o.id: o for o in map(FollowUpOverdue.model_validate_json, overdue_lines)}
    with embedded_broker() as broker, tempfile.TemporaryDirectory() as data_dir:
        topics = Topics.named(settings.topic_prefix)
        await create_topics(settings, topics, broker.bootstrap)
        app_id = f"tierwatch-demo-{uuid.uuid4().hex[:8]}"
        out.write(f"embedded broker on {broker.bootstrap}; starting worker {app_id}\n")
        log_path = os.path.join(data_dir, "worker.log")
        log = open(log_path, "wb")  # noqa: SIM115 - closed below, after the worker stops
        receiver = Receiver(out)
        await receiver.start()
        env = worker_env(broker.bootstrap, app_id, data_dir, settings)
        env["TIERWATCH_DISPATCH_FILE"] = str(
            receiver.write_config(Path(data_dir) / "dispatch.yaml")
        )
        # manager action links (a key of the demo's own unless one is set), on a host name:
        # dispatch's privacy scan refuses a message that carries an IP address
        env.setdefault("TIERWATCH_ACTION_KEYS", ActionKeys.generate())
        env.setdefault("TIERWATCH_PUBLIC_URL", f"http://localhost:{env['TIERWATCH_WEB_PORT']}")
        worker = start_worker(env, log)
        ingest, ingest_url = start_ingest(env, log)
        printer = Printer(out, total_days=weeks * 7 + 8)
        stop = asyncio.Event()
        follower = asyncio.create_task(
            follow_alerts(broker.bootstrap, topics.alerts, printer, stop)
        )
        group = GroupWatcher(broker.bootstrap, app_id, alive=lambda: worker.poll() is None)
        error = None
        try:
            async with Driver(broker.bootstrap, topics, settings.partitions) as driver, group:
                history = simulate(learners, weeks, seed, policy=policy)
                await driver.play(history, policy, group, on_tick=printer.progress)
            status, answer = await post_sample(ingest_url)
            out.write(
                f"ingest at {ingest_url}: a sample xAPI statement got HTTP {status} {answer}\n"
            )
        except DriverError as exc:
            error = exc
        finally:
            stop.set()
            await follower
            await asyncio.sleep(1.0)  # the last messages still on their way
            await receiver.stop()
            if hold and error is None:
                await hold_open(out, receiver.action_link, receiver.team_link)
            stop_process(ingest, timeout=10)
            stop_process(worker, timeout=15)
            log.close()
            if error is not None:
                with open(log_path, "rb") as written:
                    tail = written.read()[-4000:].decode("utf-8", "replace")
                out.write(f"worker log (last lines):\n{tail}\n")
    got = printer.seen
    out.write("\n" + summary(list(got.values())) + "\n")
    if error is not None:
        out.write(f"stopped early: {error}\n")
        return 1
    if got != expected:
        out.write(f"MISMATCH: streamed {len(got)} transitions, replay computes {len(expected)}\n")
        return 1
    if printer.overdue != expected_overdue:
        out.write(
            f"MISMATCH: streamed {len(printer.overdue)} overdue follow-ups, replay computes "
            f"{len(expected_overdue)}\n"
        )
        return 1
    steps = Counter(o.step for o in printer.overdue.values())
    out.write(f"streamed transitions match `tierwatch replay` of the same history ({len(got)}),\n")
    out.write(
        f"and so do the overdue follow-ups ({steps['reminder']} managers reminded, "
        f"{steps['escalation']} escalated to HR).\n"
    )
    out.write(f"the local receiver got {receiver.received} signed messages for them all, ")
    out.write(f"{len(printer.digests)} of them managers' weekly digests.\n")
    if receiver.action_link is not None and not hold:
        out.write(
            "Managers' messages carry action links, their weekly digests a link to their team\n"
            "view (see ↳ above); `tierwatch demo --hold` keeps the worker serving them after\n"
            "the stream, until Ctrl-C.\n"
        )
    out.write(
        "\nTo post statements yourself, run ingest (it starts its own broker) in one terminal:\n"
        f"  TIERWATCH_XAPI_CREDENTIALS={KEY}:{SECRET} .venv/bin/tierwatch ingest\n"
        "and in another:\n" + curl_command("http://127.0.0.1:8080") + "\n"
    )
    return 0
