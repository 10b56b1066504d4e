"""A worker's /readyz follows the broker: it fails while the broker does not answer and
recovers by itself when it answers again."""

from __future__ import annotations

import signal
import time
import urllib.error
import urllib.request

import pytest

from stream.broker import EmbeddedBroker
from tests.streaming import make_topics, worker, worker_env

pytestmark = pytest.mark.broker


def readyz(port: str) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=3) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as refused:
        return int(refused.code)
    except OSError:
        return 0


def wait_for(port: str, status: int, within_s: float) -> float | None:
    """Seconds until /readyz answers `status`, or None if it did not within `within_s`."""
    started = time.monotonic()
    while time.monotonic() - started < within_s:
        if readyz(port) == status:
            return time.monotonic() - started
        time.sleep(0.5)
    return None


def test_readyz_fails_while_the_broker_is_paused_and_recovers(own_broker: EmbeddedBroker, tmp_path):
    """SIGSTOP the broker: /readyz answers 503 (it stayed 200); SIGCONT: 200 again, no restart."""
    make_topics(own_broker.bootstrap, "ready")
    env = worker_env(own_broker.bootstrap, "ready", tmp_path / "data")
    port = env["TIERWATCH_WEB_PORT"]
    with worker(env, tmp_path / "worker.log") as proc:
        assert wait_for(port, 200, 90) is not None, "the worker never became ready"
        own_broker.process.send_signal(signal.SIGSTOP)
        try:
            failed_after = wait_for(port, 503, 60)
        finally:
            own_broker.process.send_signal(signal.SIGCONT)
        assert failed_after is not None, "/readyz stayed ready with the broker paused"
        assert wait_for(port, 200, 120) is not None, "/readyz did not recover"
        assert proc.poll() is None
