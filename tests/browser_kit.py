"""A running tierwatch for the action-link tests (HTTP and browser): the embedded broker, a
worker with action keys whose manager messages go to a real SMTP server, and a history
that brings each learner to Tier 2 (manager outreach). The links come out of the emails
the worker sent; helpers read what a post recorded (the interventions topic, the learners'
stored states, the worker's metrics) and make the links a test needs (tampered, expired,
another manager's).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import email
import email.policy
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import yaml
from aiokafka import AIOKafkaConsumer
from aiokafka.structs import TopicPartition

from schemas import Intervention, LearnerProfile, TierTransition
from stream import codec
from stream.actions.links import ACTIONS
from stream.actions.tokens import ActionKeys, Grant, TeamGrant
from stream.core.state import LearnerState
from stream.sim.driver import Driver, DriverError, GroupWatcher
from stream.topics import Topics
from tests.dispatch_receivers import SmtpRecorder, smtp_server
from tests.kit import POLICY, ordered, profile, run, weeks
from tests.streaming import make_topics, read_topic, worker, worker_env

API_TOKEN = "actions-test-token"
SLACK_SECRET = "slack-signing-secret-of-the-tests"
LINK = re.compile(r"https?://\S+/act/[A-Za-z0-9_=-]+")
TEAM_LINK = re.compile(r"https?://\S+/team/[A-Za-z0-9_=-]+")
DIGEST_SUBJECT = "Your team this week"
FORM = re.compile(r'name="form" value="([^"]+)"')
MANAGER = "m1"
ACTIVITY = [6, 6, 6, 6, 2, 2]  # steady, then a dip: a nudge, then manager outreach


@dataclass(frozen=True)
class Learner:
    id: str
    name: str
    email: str


@dataclass
class World:
    """The running services and what the history gave each learner."""

    bootstrap: str
    topics: Topics
    changelog: str
    web: str  # the worker's web server (and the links' public URL)
    keys: ActionKeys
    learners: dict[str, Learner]
    outreach: dict[str, TierTransition]  # each learner's Tier 2 transition, from the topic
    links: dict[str, str]  # each learner's action link, from the manager's email
    mails: dict[str, str]  # each learner's outreach email (its text part)
    log: Path
    recorder: SmtpRecorder  # every email the worker sent

    def digests(self) -> list[str]:
        """The text of every weekly digest email so far (their subject says the week)."""
        texts = [text_of(e.content) for e in list(self.recorder.envelopes)]
        return [text for subject, text in texts if subject.startswith(DIGEST_SUBJECT)]

    def link(self, learner: str, **changes: Any) -> str:
        """A link of the test's own for a learner: the real one's grant with `changes`."""
        grant = Grant(
            transition_id=self.outreach[learner].id, learner_id=learner, recipient="manager",
            recipient_id=MANAGER, team="t1", actions=ACTIONS["manager"],
            expires=dt.datetime.now(dt.UTC) + dt.timedelta(days=1),
        ).model_copy(update=changes)  # fmt: skip
        return f"{self.web}/act/{self.keys.issue(grant)}"

    def team_link(self, manager: str = MANAGER, days: float = 1) -> str:
        """A team-view link of the test's own (expired with `days` <= 0)."""
        grant = TeamGrant(
            manager_id=manager, expires=dt.datetime.now(dt.UTC) + dt.timedelta(days=days)
        )
        return f"{self.web}/team/{self.keys.issue(grant)}"

    def mark(self) -> dict[int, int]:
        """Where the interventions topic ends now: its end offset per partition."""

        async def ends() -> dict[int, int]:
            consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap)
            await consumer.start()
            try:
                topic = self.topics.interventions
                tps = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
                return {tp.partition: end for tp, end in (await consumer.end_offsets(tps)).items()}
            finally:
                await consumer.stop()

        return asyncio.run(ends())

    def since(self, mark: dict[int, int], count: int, max_s: float = 60) -> list[Intervention]:
        """The interventions after `mark`, once `count` of them arrived and then none for
        half a second (or `max_s` passed); in order within a partition (a learner)."""

        async def read() -> list[Intervention]:
            consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False)
            await consumer.start()
            tps = [TopicPartition(self.topics.interventions, p) for p in mark]
            consumer.assign(tps)
            for tp in tps:
                consumer.seek(tp, mark[tp.partition])
            found: list[Intervention] = []
            loop = asyncio.get_running_loop()
            start = last = loop.time()
            try:
                while loop.time() - start < max_s:
                    for messages in (await consumer.getmany(timeout_ms=100)).values():
                        found.extend(Intervention.model_validate_json(m.value) for m in messages)
                        last = loop.time()
                    if len(found) >= count and loop.time() - last > 0.5:
                        break
            finally:
                await consumer.stop()
            return found

        return asyncio.run(read())

    def state(self, learner: str) -> LearnerState:
        """A learner's latest stored state (the last record of the table's changelog)."""
        values = asyncio.run(read_topic(self.bootstrap, self.changelog, 1, 0.5, 30))
        states = [orjson.loads(v) for v in values if v]
        return LearnerState.model_validate([s for s in states if s["learner_id"] == learner][-1])

    def metric(self, name: str, **labels: str) -> float:
        """A sample of the worker's `/metrics` (0 when absent)."""
        _, _, body = http("GET", f"{self.web}/metrics")
        total = 0.0
        for line in body.decode().splitlines():
            sample, _, value = line.rpartition(" ")
            if sample.split("{")[0] == name and all(
                f'{k}="{v}"' in sample for k, v in labels.items()
            ):
                total += float(value)
        return total

    def applied(self) -> float:
        """Interventions the worker has applied (its processed count on that topic)."""
        return self.metric("tierwatch_events_processed_total", topic="interventions")

    def send(self, record: Any) -> None:
        """Put one input record (a profile, an event) on its topic."""

        async def send() -> None:
            async with Driver(self.bootstrap, self.topics, 4) as driver:
                await driver.send(record)
                await driver.settle()

        asyncio.run(send())

    def learner_view(self, learner: str) -> dict[str, Any]:
        status, _, body = http("GET", f"{self.web}/learners/{learner}", bearer=API_TOKEN)
        if status != 200:
            raise AssertionError(f"GET /learners/{learner}: {status} {body[:300]!r}")
        return dict(orjson.loads(body))


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # a 303 is answered to the test as it is


_opener = urllib.request.build_opener(_NoRedirect)


def http(
    method: str,
    url: str,
    form: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    bearer: str | None = None,
) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body of a request, redirects not followed, 4xx/5xx included."""
    data = urllib.parse.urlencode(form).encode() if form is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers=dict(headers or {}))
    if bearer is not None:
        request.add_header("Authorization", f"Bearer {bearer}")
    try:
        with _opener.open(request, timeout=30) as answer:
            return answer.status, dict(answer.headers), answer.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def form_token(page: bytes) -> str:
    """The hidden form token of a rendered action page (the same in each of its forms)."""
    tokens = set(FORM.findall(page.decode()))
    if len(tokens) != 1:
        raise AssertionError(f"expected one form token on the page, found {len(tokens)}")
    return tokens.pop()


def tampered(link: str) -> str:
    """The link with one character of its token changed (in the middle: the signature
    and the ciphertext, not the base64 padding)."""
    base, _, token = link.rpartition("/")
    i = len(token) // 2
    return f"{base}/{token[:i]}{'B' if token[i] != 'B' else 'C'}{token[i + 1 :]}"


def wait_until(check: Callable[[], Any], what: str, timeout_s: float = 60) -> Any:
    """Poll `check` until it returns something truthy; fail naming `what` after the timeout."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def roster(who: Learner, manager: str = MANAGER) -> LearnerProfile:
    """The learner's profile: reporting to `manager` (Mia, who gets the emails)."""
    return profile(who.id).model_copy(
        update={"name": who.name, "email": who.email, "manager_id": manager,
                "manager_name": "Mia", "manager_email": "mia@example.com"}
    )  # fmt: skip


def history(learners: dict[str, Learner]) -> list:
    return ordered(
        [rec for who in learners.values() for rec in (roster(who), *weeks(who.id, ACTIVITY))]
    )


def outreach_day(records: list) -> dt.datetime:
    """A day after replay's manager outreach (Tier 2), before anything follows it."""
    moves = run(records, len(ACTIVITY) + 2)
    (first, *_) = [t for t in moves if t.route == "manager_outreach"]
    after = [t.at for t in moves if t.at > first.at]
    until = first.at + dt.timedelta(days=1)
    if after and min(after) <= until:
        raise AssertionError("the history moves on within a day of the outreach")
    return until


def text_of(raw: bytes) -> tuple[str, str]:
    """Subject and plain-text body of a captured email."""
    mail = email.message_from_bytes(raw, policy=email.policy.default)
    part = mail.get_body(preferencelist=("plain",))
    if part is None:
        raise AssertionError("an email without a text part")
    return str(mail["Subject"]), part.get_content()


@contextlib.contextmanager
def running(broker: Any, unique: str, tmp: Path, learners: list[Learner]) -> Iterator[World]:
    """The world of the action-link tests: yields once every learner's outreach email came."""
    by_id = {who.id: who for who in learners}
    records = history(by_id)
    until = outreach_day(records)
    topics = make_topics(broker.bootstrap, unique)
    key = ActionKeys.generate()
    recorder = SmtpRecorder()
    with smtp_server(recorder) as (host, port):
        config = {
            "channels": {
                "mail": {"type": "email", "host": host, "port": port, "sender": "tw@example.com"}
            },
            "routes": {"manager_outreach": ["mail"], "team_digest": ["mail"]},
        }
        (tmp / "dispatch.yaml").write_text(yaml.safe_dump(config))
        env = worker_env(broker.bootstrap, unique, tmp / "data")
        # a host name: the privacy scan of messages refuses IP addresses, links included
        web = f"http://localhost:{env['TIERWATCH_WEB_PORT']}"
        env |= {
            "TIERWATCH_DISPATCH_FILE": str(tmp / "dispatch.yaml"),
            "TIERWATCH_ACTION_KEYS": key,
            "TIERWATCH_PUBLIC_URL": web,
            "TIERWATCH_API_TOKEN": API_TOKEN,
            "TIERWATCH_SLACK_SIGNING_SECRET": SLACK_SECRET,
            "TIERWATCH_SLACK_RESPONSE_HOSTS": "127.0.0.1",  # the tests' receiver
        }
        log = tmp / "worker.log"
        with worker(env, log) as proc:

            async def drive() -> list[bytes]:
                alive = lambda: proc.poll() is None  # noqa: E731
                async with (
                    Driver(broker.bootstrap, topics, 4) as driver,
                    GroupWatcher(broker.bootstrap, f"{unique}-app", alive) as group,
                ):
                    await driver.play(iter(records), POLICY, group, until=until)
                return await read_topic(broker.bootstrap, topics.alerts, 2 * len(learners), 0.5)

            try:
                alerts = asyncio.run(drive())
            except DriverError:
                raise AssertionError(log.read_text()[-3000:]) from None
            moves = codec.transitions_of(alerts)
            outreach = {t.learner_id: t for t in moves if t.route == "manager_outreach"}
            if set(outreach) != set(by_id):
                raise AssertionError(f"outreach for {sorted(outreach)}, not all of {sorted(by_id)}")

            def outreach_mails() -> dict[str, str]:
                found: dict[str, str] = {}
                for envelope in list(recorder.envelopes):
                    subject, text = text_of(envelope.content)
                    if subject.startswith(DIGEST_SUBJECT):
                        continue
                    (who,) = [w.id for w in learners if w.name in subject]
                    found[who] = text
                return found

            mails = wait_until(
                lambda: len(m := outreach_mails()) >= len(learners) and m, "the outreach emails"
            )
            links = {who: LINK.findall(text)[0] for who, text in mails.items()}
            yield World(
                bootstrap=broker.bootstrap,
                topics=topics,
                changelog=f"{unique}-app-learners-changelog",
                web=web,
                keys=ActionKeys([key]),
                learners=by_id,
                outreach=outreach,
                links=links,
                mails=mails,
                log=log,
                recorder=recorder,
            )
