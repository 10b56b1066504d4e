"""One worker a data directory (`stream.worker.dirlock`): the lock, with real processes
(a holder killed with SIGKILL leaves no stale lock), and a second `tierwatch worker` on a
running worker's directory: exit 2 with the holder's pid, the first left in its group."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from stream.broker import EmbeddedBroker
from stream.worker import dirlock, membership
from tests.streaming import make_topics, worker, worker_env
from tests.test_membership import members

HOLD = (
    "import sys, time; from pathlib import Path; from stream.worker import dirlock; "
    "dirlock.hold(Path(sys.argv[1]), 0); print('held', flush=True); time.sleep(float(sys.argv[2]))"
)


@pytest.fixture(autouse=True)
def _released() -> Iterator[None]:
    yield
    dirlock.release_all()


def holder(data: Path, seconds: float) -> subprocess.Popen[str]:
    """Another process holding `data`'s lock for `seconds` (once it printed 'held')."""
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(data), str(seconds)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_a_held_directory_is_refused_with_the_holders_pid(tmp_path):
    proc = holder(tmp_path / "data", 60)
    try:
        with pytest.raises(dirlock.DataDirInUse) as refused:
            dirlock.hold(tmp_path / "data", 0.3)
        assert refused.value.holder == proc.pid
        assert f"worker pid {proc.pid}" in str(refused.value)
        assert "TIERWATCH_DATA_DIR" in str(refused.value)
    finally:
        proc.kill()
        proc.wait()


def test_a_holder_killed_with_sigkill_leaves_no_stale_lock(tmp_path):
    proc = holder(tmp_path / "data", 60)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    dirlock.hold(tmp_path / "data", 0)  # at once: the kernel let go with the process
    assert dirlock.holder_of(tmp_path / "data" / dirlock.FILE) == os.getpid()


def test_a_starting_worker_waits_for_a_holder_that_is_stopping(tmp_path):
    proc = holder(tmp_path / "data", 0.5)  # ends by itself in half a second
    dirlock.hold(tmp_path / "data", 30)
    assert proc.wait() == 0
    assert dirlock.holder_of(tmp_path / "data" / dirlock.FILE) == os.getpid()


@pytest.mark.broker
def test_a_second_worker_on_a_directory_in_use_exits_2_and_the_first_stays_in_its_group(
    own_broker: EmbeddedBroker, tmp_path: Path
) -> None:
    make_topics(own_broker.bootstrap, "dirlock")
    data = tmp_path / "data"
    env = worker_env(own_broker.bootstrap, "dirlock", data)
    with worker(env, tmp_path / "first.log") as first:
        deadline = time.monotonic() + 90
        while membership.recall(data, "dirlock-app") is None and time.monotonic() < deadline:
            time.sleep(0.2)
        member = membership.recall(data, "dirlock-app")
        assert member is not None, (tmp_path / "first.log").read_text()[-3000:]
        second = subprocess.run(
            [sys.executable, "-m", "stream.cli", "worker"],
            env={**env, "TIERWATCH_DATA_DIR_WAIT_S": "1"},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert second.returncode == 2, second.stderr[-3000:]
        assert f"in use by worker pid {first.pid}" in second.stderr
        assert first.poll() is None
        assert membership.recall(data, "dirlock-app") == member  # not removed, not replaced
        # and the coordinator still has it: the second worker never asked it to leave
        assert member in asyncio.run(members(own_broker.bootstrap, "dirlock-app"))
