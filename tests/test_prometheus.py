"""The metrics as Prometheus sees them: `promtool check metrics` finds no problem in a
worker's or ingest's scrape, and a real Prometheus server scraping a worker counts the
transitions that replay computes.

promtool and prometheus come from Debian's `prometheus` package (.ci/run installs it).
Without them these tests skip, except in CI (CI=true), where they fail.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from stream import codec
from stream.broker import free_port, stop_process
from stream.sim.driver import Driver, DriverError, GroupWatcher
from stream.sim.simulate import simulate
from stream.tools.replay import replay
from stream.topics import Topics
from tests.kit import POLICY
from tests.streaming import make_topics, worker, worker_env

pytestmark = pytest.mark.broker

XAPI_KEY, XAPI_SECRET = "lrs", "lrs-secret"
TOKEN = "prom-test-token"


def binary(name: str) -> str:
    """The path of a Prometheus tool; a skip without it, a failure in CI."""
    path = shutil.which(name)
    if path is not None:
        return path
    why = f"`{name}` is not installed (Debian's `prometheus` package provides it)"
    if os.environ.get("CI", "").lower() in {"true", "1"}:
        pytest.fail(f"{why}; CI must have it: .ci/run installs the package when it is missing")
    pytest.skip(why)


def http_get(url: str, timeout: float = 5) -> tuple[int, bytes]:
    """Status and body of a GET; 0 when nothing listens yet."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except (urllib.error.URLError, ConnectionError):
        return 0, b""


def wait_for(url: str, proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
    """Wait until `url` answers 200 while `proc` runs."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"the process serving {url} exited"
        if http_get(url, timeout=1)[0] == 200:
            return
        time.sleep(0.1)
    raise AssertionError(f"{url} did not come up within {timeout}s")


def promtool_problems(promtool: str, exposition: bytes) -> tuple[int, str]:
    """`promtool check metrics` on a scrape: its exit code and what it reported."""
    done = subprocess.run(
        [promtool, "check", "metrics"], input=exposition, capture_output=True, timeout=30
    )
    return done.returncode, (done.stdout + done.stderr).decode().strip()


def drive(bootstrap: str, topics: Topics, app_id: str, records: list, alive) -> None:
    """Play a history through the worker in simulated time (external clock)."""

    async def play() -> None:
        group = GroupWatcher(bootstrap, app_id, alive)
        async with Driver(bootstrap, topics, 4) as driver, group:
            await driver.play(iter(records), POLICY, group)

    try:
        asyncio.run(play())
    except DriverError as exc:
        pytest.fail(f"the worker did not keep up: {exc}")


def test_promtool_finds_no_problem_in_a_worker_scrape(broker, unique, tmp_path):
    """A worker fed by a small simulated team: `promtool check metrics` on its /metrics
    exits 0 and reports nothing."""
    promtool = binary("promtool")
    topics = make_topics(broker.bootstrap, unique)
    env = worker_env(broker.bootstrap, unique, tmp_path / "data")
    records = list(simulate(6, 6, seed=5, policy=POLICY))
    with worker(env, tmp_path / "worker.log") as proc:
        alive = lambda: proc.poll() is None  # noqa: E731
        drive(broker.bootstrap, topics, env["TIERWATCH_APP_ID"], records, alive)
        status, exposition = http_get(f"http://127.0.0.1:{env['TIERWATCH_WEB_PORT']}/metrics")
    assert status == 200
    text = exposition.decode()
    for name in (
        "tierwatch_build_info",
        "tierwatch_events_processed_total",
        "tierwatch_transitions_total",
        "tierwatch_tick_duration_seconds_bucket",
        "tierwatch_table_recovery_remaining",
    ):
        assert f"\n{name}" in text, name
    assert 'tierwatch_table_recovery_remaining{replica="active"} 0.0' in text
    code, report = promtool_problems(promtool, exposition)
    assert (code, report) == (0, ""), report


def test_promtool_finds_no_problem_in_an_ingest_scrape(broker, unique, tmp_path):
    """Ingest after accepted, refused and unauthorised posts: `promtool check metrics` on
    its /metrics exits 0 and reports nothing."""
    promtool = binary("promtool")
    make_topics(broker.bootstrap, unique)
    port = free_port()
    env = worker_env(broker.bootstrap, unique, tmp_path / "data")
    env.update(
        {
            "TIERWATCH_INGEST_PORT": str(port),
            "TIERWATCH_XAPI_CREDENTIALS": f"{XAPI_KEY}:{XAPI_SECRET}",
            "TIERWATCH_API_TOKEN": TOKEN,
        }
    )
    base = f"http://127.0.0.1:{port}"
    log = (tmp_path / "ingest.log").open("wb")
    ingest = subprocess.Popen(
        [sys.executable, "-m", "stream.cli", "ingest"], env=env, stdout=log, stderr=log
    )
    try:
        wait_for(f"{base}/healthz", ingest)
        statuses = [post(base, *request) for request in ingest_requests()]
        status, exposition = http_get(f"{base}/metrics")
    finally:
        stop_process(ingest, timeout=10)
        log.close()
    assert statuses == [200, 200, 400, 401, 200], (tmp_path / "ingest.log").read_text()[-2000:]
    assert status == 200
    text = exposition.decode()
    for name in ("tierwatch_ingest_requests_total", "tierwatch_events_in_total"):
        assert f"\n{name}" in text, name
    assert "tierwatch_rejects_total{" in text
    code, report = promtool_problems(promtool, exposition)
    assert (code, report) == (0, ""), report


def ingest_requests() -> list[tuple[str, object, dict[str, str]]]:
    """A few posts to ingest: statements, a malformed one, a wrong credential, an event."""
    xapi = {
        "Authorization": "Basic " + base64.b64encode(f"{XAPI_KEY}:{XAPI_SECRET}".encode()).decode(),
        "X-Experience-API-Version": "1.0.3",
    }

    def statement(day: int) -> dict[str, object]:
        return {
            "id": str(uuid.uuid4()),
            "actor": {"objectType": "Agent", "mbox": "mailto:ana@example.com"},
            "verb": {"id": "http://adlnet.gov/expapi/verbs/completed"},
            "object": {"objectType": "Activity", "id": "https://lms.example.com/m/1"},
            "timestamp": f"2026-03-0{day}T10:00:00Z",
        }

    event = {
        "id": "ev-1",
        "learner_id": "ana",
        "occurred_at": "2026-03-04T10:00:00Z",
        "kind": "session",
        "object_id": "course-1",
        "source": "test",
    }
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    return [
        ("/xapi/statements", statement(2), xapi),
        ("/xapi/statements", [statement(3), statement(4)], xapi),
        ("/xapi/statements", {"actor": "nobody"}, xapi),
        ("/events", [event], {"Authorization": "Bearer wrong"}),
        ("/events", [event], bearer),
    ]


def post(base: str, path: str, body: object, headers: dict[str, str]) -> int:
    request = urllib.request.Request(
        base + path,
        data=orjson.dumps(body),
        headers={**headers, "Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=15) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


@contextlib.contextmanager
def prometheus_server(prometheus: str, tmp_path: Path) -> Iterator[tuple[str, int]]:
    """A Prometheus server on loopback scraping one target every second, storing in
    tmp_path: its URL and the (free) port of the target it scrapes. Stopped on exit."""
    target_port = free_port()
    port = free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global:\n"
        "  scrape_interval: 1s\n"
        "  evaluation_interval: 1s\n"
        "scrape_configs:\n"
        "  - job_name: tierwatch-worker\n"
        "    static_configs:\n"
        f"      - targets: ['127.0.0.1:{target_port}']\n"
    )
    log = (tmp_path / "prometheus.log").open("wb")
    proc = subprocess.Popen(
        [
            prometheus,
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log,
        stderr=log,
    )
    try:
        wait_for(f"http://127.0.0.1:{port}/-/ready", proc)
        yield f"http://127.0.0.1:{port}", target_port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        log.close()


def query(base: str, promql: str) -> list[dict]:
    """The result vector of an instant PromQL query through the HTTP API."""
    status, body = http_get(f"{base}/api/v1/query?" + urllib.parse.urlencode({"query": promql}))
    if status != 200:
        return []
    answer = orjson.loads(body)
    assert answer["status"] == "success", answer
    return list(answer["data"]["result"])


def test_prometheus_counts_the_transitions_replay_computes_by_tier(broker, unique, tmp_path):
    """Prometheus scrapes a worker fed by a simulated team (24 learners, 8 weeks):
    `sum by (to_tier) (tierwatch_transitions_total)` equals replay's transitions by tier."""
    prometheus = binary("prometheus")
    records = list(simulate(24, 8, seed=7, policy=POLICY))
    buf = io.BytesIO()
    replay(iter(records), POLICY, buf)
    lines = buf.getvalue().splitlines()
    expected = Counter(codec.decode_transition_json(line).to_tier for line in lines)
    assert set(expected) >= {1, 2, 3}
    topics = make_topics(broker.bootstrap, unique)
    env = worker_env(broker.bootstrap, unique, tmp_path / "data")
    counted: dict[int, int] = {}
    with prometheus_server(prometheus, tmp_path) as (base, target_port):
        env["TIERWATCH_WEB_PORT"] = str(target_port)
        with worker(env, tmp_path / "worker.log") as proc:
            alive = lambda: proc.poll() is None  # noqa: E731
            drive(broker.bootstrap, topics, env["TIERWATCH_APP_ID"], records, alive)
            deadline = time.monotonic() + 20  # a couple of scrapes (one a second)
            while time.monotonic() < deadline and counted != expected:
                time.sleep(0.5)
                result = query(base, "sum by (to_tier) (tierwatch_transitions_total)")
                counted = {int(r["metric"]["to_tier"]): int(float(r["value"][1])) for r in result}
            up = query(base, 'up{job="tierwatch-worker"}')
    assert [r["value"][1] for r in up] == ["1"]
    assert counted == dict(expected)
