"""The worker processes of a run: start, SIGKILL, SIGTERM (timed), and restart the dead.

Every worker of a run is a `tierwatch worker` (`python -m stream.cli worker`) of one app
id (one consumer group), with its own data directory and web port, its output appended to
`<name>.log` in the run's directory.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench.common import http_get
from stream.broker import free_port

FAULT_ENV = "TIERWATCH_FAULT_KILL_AFTER_STORE"
FAULT_LINE = b"fault_kill_after_store"
EVIDENCE = (b"tierwatch_consumer_lag", b"tierwatch_events_processed_total")  # for a hang note


@dataclass
class Proc:
    """One worker process and what is known of it."""

    name: str
    proc: subprocess.Popen[bytes]
    started: float  # monotonic
    port: int  # its web port: /metrics, /readyz
    leaving: bool = False  # we are stopping it: its exit is not a crash

    def alive(self) -> bool:
        return self.proc.poll() is None


@dataclass
class FleetStats:
    kills: int = 0  # SIGKILLs sent by the scenario
    self_kills: int = 0  # exits we did not cause (TIERWATCH_FAULT_KILL_AFTER_STORE, crashes)
    restarts: int = 0  # starts of a worker that had run before in this run
    stops: list[float] = field(default_factory=list)  # SIGTERM to exit, seconds
    killed_after_stop: int = 0  # SIGTERMs that needed a SIGKILL after the grace
    starts: dict[str, int] = field(default_factory=dict)  # by worker name
    started_at: list[float] = field(default_factory=list)  # wall clock, every start
    killed_at: list[float] = field(default_factory=list)  # wall clock, SIGKILLs and self-kills


class Fleet:
    """The workers of one run. `on_start` is told of each start (`restart` True when the
    worker had run before): the monitor measures time to resume from it."""

    def __init__(
        self,
        env: dict[str, str],
        directory: Path,
        fault: float = 0.0,
        on_start: Callable[[str, bool], None] | None = None,
    ) -> None:
        self.env = env
        self.directory = directory
        self.fault = fault
        self.on_start = on_start
        self.procs: dict[str, Proc] = {}
        self.stats = FleetStats()

    def log(self, name: str) -> Path:
        return self.directory / f"{name}.log"

    def start(self, name: str, armed: bool = False) -> Proc:
        """Start (or restart) worker `name`: a fresh web port, its own data directory;
        `armed`: with the fault kill (`self.fault`), so that each armed start dies at most
        once by it (a worker that killed itself comes back unarmed)."""
        env = dict(self.env)
        port = free_port()
        env["TIERWATCH_WEB_PORT"] = str(port)
        env["TIERWATCH_DATA_DIR"] = str(self.directory / name)
        if self.fault > 0 and armed:
            env[FAULT_ENV] = str(self.fault)
        restart = name in self.procs
        self.stats.starts[name] = self.stats.starts.get(name, 0) + 1
        self.stats.started_at.append(time.time())
        with self.log(name).open("ab") as sink:
            sink.write(f"--- chaos: start {name} at {time.time():.3f}\n".encode())
            sink.flush()
            cmd = [sys.executable, "-m", "stream.cli", "worker"]
            proc = subprocess.Popen(cmd, env=env, stdout=sink, stderr=sink)
        self.procs[name] = Proc(name, proc, time.monotonic(), port)
        if restart:
            self.stats.restarts += 1
        if self.on_start is not None:
            self.on_start(name, restart)
        return self.procs[name]

    def alive(self) -> list[str]:
        return [name for name, p in self.procs.items() if p.alive()]

    def any_alive(self) -> bool:
        return any(p.alive() for p in self.procs.values())

    def last_start(self) -> float:
        return max((p.started for p in self.procs.values() if p.alive()), default=0.0)

    async def kill(self, name: str, counted: bool = True) -> None:
        """SIGKILL a worker and wait for it to be gone (not restarted); `counted` in the
        scenario's kills (a hang's restart is not)."""
        p = self.procs[name]
        if not p.alive():
            if not p.leaving:  # it died by itself (a fault kill) just before: a kill too
                self.stats.killed_at.append(time.time())
            return
        p.leaving = True
        os.kill(p.proc.pid, signal.SIGKILL)
        self.stats.kills += counted
        self.stats.killed_at.append(time.time())
        await self._exited(p, 30.0)

    async def terminate(self, name: str, grace: float = 60.0) -> float:
        """SIGTERM a worker; the seconds until it exited (SIGKILL after `grace`)."""
        p = self.procs[name]
        if not p.alive():
            return 0.0
        p.leaving = True
        sent = time.monotonic()
        p.proc.terminate()
        if not await self._exited(p, grace):
            p.proc.kill()
            self.stats.killed_after_stop += 1
            await self._exited(p, 30.0)
        took = time.monotonic() - sent
        self.stats.stops.append(took)
        return took

    async def _exited(self, p: Proc, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while p.alive() and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        return not p.alive()

    def revive(self) -> list[str]:
        """Restart every worker that exited without being asked to (a fault kill, a crash);
        return their names."""
        dead = [name for name, p in self.procs.items() if not p.alive() and not p.leaving]
        for name in dead:
            self.stats.self_kills += 1
            self.stats.killed_at.append(time.time())
            self.start(name)
        return dead

    def fault_kills(self) -> int:
        """How many times a worker's log says it killed itself after storing a batch."""
        return sum(
            self.log(name).read_bytes().count(FAULT_LINE)
            for name in self.procs
            if self.log(name).exists()
        )

    def grep(self, needle: bytes) -> int:
        """How many lines of the run's worker logs contain `needle`."""
        count = 0
        for name in self.procs:
            path = self.log(name)
            if path.exists():
                count += sum(1 for line in path.read_bytes().splitlines() if needle in line)
        return count

    async def evidence(self, name: str, tag: str) -> str:
        """Save a live worker's /metrics to `<tag>-<name>.metrics` in the run's directory;
        return its /readyz status and a few of its gauges, for a hang's note."""
        port = self.procs[name].port
        ready, _ = await asyncio.to_thread(http_get, port, "/readyz")
        _, body = await asyncio.to_thread(http_get, port, "/metrics")
        (self.directory / f"{tag}-{name}.metrics").write_bytes(body)
        picked = [
            line.decode()
            for line in body.splitlines()
            if line.startswith(EVIDENCE) and not line.endswith((b" 0.0", b" 0"))
        ]
        return f"{name}: /readyz {ready or 'no answer'}; " + ", ".join(picked[:8])

    def kill_all(self) -> None:
        """SIGKILL every live worker now (the run ended by an error)."""
        for p in self.procs.values():
            if p.alive():
                p.leaving = True
                p.proc.kill()
                p.proc.wait()

    async def stop_all(self) -> None:
        """SIGTERM every live worker (timed, like any stop), at once."""
        await asyncio.gather(*(self.terminate(name) for name in self.alive()))
