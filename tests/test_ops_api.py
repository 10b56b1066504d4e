"""`GET /learners/{id}` on the worker: behind the API token, and answered for every learner
by either of two workers (the one that does not own the learner's partition forwards)."""

from __future__ import annotations

import asyncio
import io
import time
import urllib.error
import urllib.request
from pathlib import Path

import orjson
import pytest
from pydantic import SecretStr

from stream import codec
from stream.core.timeline import Timeline, run_history
from stream.http.auth import TOKEN_SETTING, token_refusal
from stream.sim.driver import Driver, DriverError, GroupWatcher
from stream.tools.replay import replay
from stream.topics import partition_of
from stream.worker.learner_view import learner_view
from tests.kit import POLICY, assignment, at, day, event, ordered, profile, weeks
from tests.streaming import make_topics, worker, worker_env

TOKEN = "ops-test-token"
LEARNERS = ("ana", "ben", "cai", "dee", "eli", "fay", "gus", "hal")


def http_get(url: str, token: str | None = None) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body of a GET (4xx and 5xx included; 0 when nobody listens)."""
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=15) as answer:
            return answer.status, dict(answer.headers), answer.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()
    except (urllib.error.URLError, ConnectionError):
        return 0, {}, b""


def history() -> list:
    """Eight learners on all four partitions, at every tier by the end."""
    records: list = [profile(name) for name in LEARNERS]
    records[2] = profile("cai", "sales_rep")
    records[7] = profile("hal", "compliance_officer")
    activity = {
        "ana": [6] * 6,
        "ben": [6, 6, 6, 6, 0, 0],
        "cai": [7, 7, 7, 7, 2, 7],
        "dee": [5, 5, 5, 5, 3, 5],
        "eli": [6, 6, 6, 6, 0, 0, 0],
        "fay": [4, 4, 4, 4, 4, 1],
        "gus": [3, 3],
        "hal": [4] * 6,
    }
    for name, counts in activity.items():
        records.extend(weeks(name, counts))
    records.append(assignment("hal", "k1", "compliance", day(3, 2), at(0)))
    records.append(event("dee", at(2, 3, 15), "assessment", score=0.9, object_id="q"))
    records.append(event("dee", at(3, 3, 15), "assessment", score=0.85, object_id="q"))
    records.append(event("dee", at(4, 3, 15), "assessment", score=0.4, object_id="q"))
    return ordered(records)


def wait_for_two_owners(webs: list[str], deadline_s: float = 40) -> dict[str, list[int]]:
    """Wait until both workers are ready and agree on who owns which table partition
    (the group rebalances when the second worker joins); the owners by URL."""
    deadline = time.monotonic() + deadline_s
    owners: dict[str, list[int]] = {}
    while time.monotonic() < deadline:
        ready = [http_get(f"{web}/readyz")[0] for web in webs]
        if ready == [200, 200]:
            views = [orjson.loads(http_get(f"{web}/router/")[2]) for web in webs]
            owners = {
                url: sorted(
                    p for topic, ps in tps.items() if topic.endswith("changelog") for p in ps
                )
                for url, tps in views[0].items()
            }
            if views[0] == views[1] and sum(1 for p in owners.values() if p) == 2:
                return owners
        time.sleep(0.2)
    raise AssertionError(f"the two workers did not share the partitions: {owners}")


def test_without_a_configured_token_every_request_is_refused_naming_the_setting():
    """No API token configured: 401 whatever is sent, and the detail names the setting."""
    refusal = token_refusal(None, f"Bearer {TOKEN}")
    assert refusal is not None
    assert refusal.status == 401
    assert TOKEN_SETTING in refusal.detail
    assert token_refusal(SecretStr(""), "Bearer ") is not None


def test_only_the_configured_bearer_token_is_accepted():
    """The exact token as a Bearer credential passes; another token, scheme or none is 401."""
    configured = SecretStr(TOKEN)
    assert token_refusal(configured, f"Bearer {TOKEN}") is None
    assert token_refusal(configured, f"bearer {TOKEN}") is None
    for header in (None, "", TOKEN, f"Basic {TOKEN}", f"Bearer {TOKEN}x", "Bearer "):
        refusal = token_refusal(configured, header)
        assert refusal is not None, header
        assert refusal.status == 401
        assert refusal.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.broker
def test_either_of_two_workers_answers_for_every_learner(broker, unique, tmp_path: Path):
    """Two workers share the partitions; each learner's view (tier as replay computes it)
    is the same from either worker; a wrong or missing token is 401, an unknown learner 404."""
    records = history()
    assert {partition_of(name, 4) for name in LEARNERS} == {0, 1, 2, 3}
    buf = io.BytesIO()
    replay(iter(records), POLICY, buf)
    last_tier = {name: 0 for name in LEARNERS}
    for line in buf.getvalue().splitlines():
        t = codec.decode_transition_json(line)
        last_tier[t.learner_id] = t.to_tier
    assert set(last_tier.values()) == {0, 1, 2, 3}
    timeline = Timeline(POLICY)
    list(run_history(iter(records), POLICY, None, timeline))
    expected = {name: learner_view(timeline.states[name], POLICY) for name in LEARNERS}

    topics = make_topics(broker.bootstrap, unique)
    envs = [worker_env(broker.bootstrap, unique, tmp_path / f"data{i}") for i in (1, 2)]
    for env in envs:
        env["TIERWATCH_API_TOKEN"] = TOKEN
        # no standby copies: a worker holds only the learners it owns, so an answer for
        # another worker's learner can only have come through routing
        env["TIERWATCH_STANDBY_REPLICAS"] = "0"
    webs = [f"http://127.0.0.1:{env['TIERWATCH_WEB_PORT']}" for env in envs]

    async def drive(alive) -> None:
        group = GroupWatcher(broker.bootstrap, f"{unique}-app", alive)
        async with Driver(broker.bootstrap, topics, 4) as driver, group:
            await driver.play(iter(records), POLICY, group)

    with (
        worker(envs[0], tmp_path / "worker1.log") as one,
        worker(envs[1], tmp_path / "worker2.log") as two,
    ):
        owners = wait_for_two_owners(webs)
        try:
            asyncio.run(drive(lambda: one.poll() is None and two.poll() is None))
        except DriverError:
            pytest.fail((tmp_path / "worker1.log").read_text()[-3000:])
        answers = {
            (web, name): http_get(f"{web}/learners/{name}", TOKEN)
            for web in webs
            for name in LEARNERS
        }
        refusals = [
            http_get(f"{web}/learners/ana", token) for web in webs for token in (None, "wrong")
        ]
        unknown = [http_get(f"{web}/learners/nobody", TOKEN) for web in webs]
    assert sorted(owners) == sorted(webs)
    for web in webs:  # each worker owns some learners: the other one routes to it
        assert any(partition_of(name, 4) in owners[web] for name in LEARNERS), owners
    for (web, name), (status, _, body) in answers.items():
        assert status == 200, (web, name, body)
        view = orjson.loads(body)
        assert view["tier"] == last_tier[name], (web, name)
        assert view == orjson.loads(orjson.dumps(expected[name])), (web, name)
    for status, headers, body in refusals:
        assert status == 401
        assert headers["Content-Type"].startswith("application/problem+json")
        assert orjson.loads(body)["title"] == "unauthorized"
    for status, headers, body in unknown:
        assert status == 404
        assert headers["Content-Type"].startswith("application/problem+json")
        assert orjson.loads(body)["status"] == 404
