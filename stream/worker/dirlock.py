"""One worker a data directory: a running worker holds an exclusive lock on
`DATA_DIR/worker.lock`, and a second worker started on the same directory exits 2 before it
touches the consumer group.

Why it matters: a starting worker removes from its group the member its directory's last
worker was (`stream.worker.membership`), so a second live worker on the same directory
would throw the first out of the group (a rebalance for everyone), and RocksDB's files
belong to one process. Two `tierwatch worker` started in one folder with the defaults
(`.tierwatch`) did exactly that before this lock; the second then failed on the web port.

The lock is the kernel's (`flock`): it goes with the process however that ends, SIGKILL
included, so a restarted worker never finds a stale one, and the file's content (the
holder's pid) is only for the message. The processes a worker starts (the embedded
broker) do not hold it: Python opens files non-inheritable, and `subprocess` closes the
other descriptors in a child anyway. A worker whose
predecessor is still stopping waits for it (`TIERWATCH_DATA_DIR_WAIT_S`), then gives up.
"""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path

import structlog

from stream.errors import ConfigError

log = structlog.get_logger("tierwatch.dirlock")

FILE = "worker.lock"
POLL_S = 0.1

_held: list[int] = []  # the descriptors of the locks this process holds, for its lifetime


class DataDirInUse(ConfigError):
    """Another live process holds the data directory (two workers were given one)."""

    def __init__(self, data_dir: Path, holder: int | None) -> None:
        who = f"worker pid {holder}" if holder is not None else "another process"
        super().__init__(
            f"data directory {data_dir} is in use by {who}: give each worker its own "
            "TIERWATCH_DATA_DIR (two workers on one directory would remove each other from "
            "the consumer group)"
        )
        self.data_dir = data_dir
        self.holder = holder


def hold(data_dir: Path, wait_s: float) -> None:
    """Lock `data_dir` for the rest of this process's life (created if need be), waiting
    up to `wait_s` for another holder to end; raises `DataDirInUse` after that."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / FILE
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    deadline = time.monotonic() + wait_s
    waited = False
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() >= deadline:
                holder = holder_of(path)
                os.close(fd)
                raise DataDirInUse(data_dir, holder) from None
            if not waited:
                log.info("data_dir_waiting", path=str(data_dir), holder=holder_of(path))
                waited = True
            time.sleep(POLL_S)
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    _held.append(fd)


def holder_of(path: Path) -> int | None:
    """The pid written by the lock's holder (None: unreadable, or written by none yet)."""
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def release_all() -> None:
    """Let go of every lock this process holds (tests; a worker keeps its lock to exit)."""
    while _held:
        os.close(_held.pop())
