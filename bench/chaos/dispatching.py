"""Dispatch in a chaos run: the receiver process, and the dispatch configuration and
templates that point the workers at it.

Routes go to different channel types, so that all three are exercised (a route reaches
each of its roles over each of its channels):

| route            | roles (`ROUTE_ROLES`)       | channels     |
|------------------|-----------------------------|--------------|
| learner_nudge    | learner                     | mail         |
| manager_outreach | manager                     | chat         |
| hr_escalation    | hr, manager                 | hook         |
| wellbeing        | wellbeing, manager          | hook, chat   |
| resolved         | whoever was told before     | hook, mail   |

`hook` is the signed webhook, `chat` a Slack incoming webhook, `mail` SMTP; HR and the
wellbeing service have default addresses, learners and managers theirs from the simulated
roster. Quiet hours are off (a nudge would otherwise wait for the wall clock to reach a
simulated morning), the nudge limit is the default (7 days), and the retry schedule is
short: 2 attempts in process (0.1 s backoff, at most 1 s), then `LATER_S` on the retry
topic (5, 10, 20, 40 s, then 60 s eleven times: 735 s in all, past a 10-minute outage, and
at most a minute from the receiver's return to the next round), then the dead-letter topic.
The chat and mail templates are the package's with a last line `chaos-ref <transition id>
<route> <role>`, by which the receiver tells their deliveries apart.

Dispatch is on in every run (`--no-dispatch`: only in the receiver outages). Until the
alerts topic had one reader, a worker at a rebalance or a SIGTERM sometimes waited for good
in Faust's `wait_empty` for an alerts record two agents read and one never took (the scale
and rolling runs hung or needed a SIGKILL); see `stream.worker.agents.transition_log`.
"""

from __future__ import annotations

import asyncio
import base64
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

from bench.chaos.receiver import HOST, SECRET_ENV
from stream.broker import free_port
from stream.dispatch.config import DispatchConfig, parse_dispatch
from stream.dispatch.templates import PACKAGE_TEMPLATES

LATER_S = [5.0, 10.0, 20.0, 40.0] + [60.0] * 11
ROUTES: dict[str, list[str]] = {
    "learner_nudge": ["mail"],
    "manager_outreach": ["chat"],
    "hr_escalation": ["hook"],
    "wellbeing": ["hook", "chat"],
    "resolved": ["hook", "mail"],
}
HR = "hr@example.com"
WELLBEING = "care@example.com"
END = "{% endblock %}"


UNCOUNTED_ROUTES = ("follow_up_reminder", "follow_up_overdue", "team_digest")


def described() -> str:
    """The configuration in a sentence, for the report."""
    routes = "; ".join(f"{route} over {', '.join(names)}" for route, names in ROUTES.items())
    rounds = Counter(LATER_S)
    later = ", ".join(f"{s:g} s" + (f" {n} times" if n > 1 else "") for s, n in rounds.items())
    return (
        "Dispatch (the receiver outages; every run with `--dispatch`): a receiver process for "
        f"a signed webhook (hook), a Slack-style chat webhook (chat) and SMTP (mail); {routes}. "
        "Quiet hours off, the nudge limit 7 days (the default); retries: 2 attempts in "
        f"process (0.1 s backoff, at most 1 s), then {len(LATER_S)} rounds on the retry topic "
        f"({later}: {sum(LATER_S):g} s in all), then a dead letter."
    )


def new_secret() -> str:
    """A fresh `whsec_` secret of 32 random bytes."""
    return "whsec_" + base64.b64encode(os.urandom(32)).decode()


def write_templates(folder: Path) -> Path:
    """The package's English templates again, for the chat and mail channel types only,
    each with the `chaos-ref` line at the end of its text."""
    for source in sorted((PACKAGE_TEMPLATES / "en").glob("*.j2")):
        route, role = source.name.removesuffix(".j2").split(".")[:2]
        text = source.read_text().rstrip()
        if not text.endswith(END):
            raise ValueError(f"{source} does not end with its text block's {END}")
        ref = f"\n\nchaos-ref {{{{ id }}}} {{{{ route }}}} {role}\n"
        for kind in ("slack", "email"):
            target = folder / "en" / f"{route}.{role}.{kind}.j2"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text[: -len(END)] + ref + END + "\n")
    return folder


def config_data(http_port: int, smtp_port: int, secret: str, templates: Path) -> dict[str, Any]:
    """The dispatch configuration of a run, as YAML data."""
    base = f"http://{HOST}:{http_port}"
    return {
        "channels": {
            "hook": {"type": "webhook", "url": f"{base}/hook", "secrets": [secret], "timeout_s": 5},
            "chat": {"type": "slack", "url": f"{base}/chat", "timeout_s": 5},
            "mail": {
                "type": "email", "host": HOST, "port": smtp_port,
                "sender": "tierwatch@example.com", "timeout_s": 5,
            },
        },
        # the accounting (`bench.chaos.deliveries`) plans replay's transitions' messages,
        # not yet overdue follow-ups' nor managers' digests: those routes send nothing here
        "routes": {**ROUTES, **{route: [] for route in UNCOUNTED_ROUTES}},
        "hr": {"default": HR},
        "wellbeing": {"default": WELLBEING},
        "quiet_hours": {"start": "00:00", "end": "00:00", "weekends": False},
        "retry": {"attempts": 2, "base_s": 0.1, "max_s": 1.0, "later_s": LATER_S},
        "templates_dir": str(templates),
        "links": {"portal": "https://learning.example.com/"},
    }  # fmt: skip


class ReceiverProcess:
    """The run's receiver (`python -m bench.chaos.receiver`): started, taken down and
    started again on the same ports; `downs` are its outages (wall-clock start, end)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.http_port, self.smtp_port = free_port(), free_port()
        self.secret = new_secret()
        self.out = directory / "receiver.jsonl"
        self.log = directory / "receiver.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.downs: list[tuple[float, float]] = []
        self._down_since: float | None = None

    def write_config(self) -> tuple[Path, DispatchConfig]:
        """The dispatch YAML the workers read (and its parsed form, for the expected plan)."""
        templates = write_templates(self.directory / "templates")
        data = config_data(self.http_port, self.smtp_port, self.secret, templates)
        path = self.directory / "dispatch.yaml"
        path.write_text(yaml.safe_dump(data))
        return path, parse_dispatch(yaml.safe_load(path.read_text()))

    async def start(self, timeout: float = 20.0) -> None:
        """Start the receiver and wait until both ports take connections."""
        env = {**os.environ, SECRET_ENV: self.secret}
        cmd = [
            sys.executable, "-m", "bench.chaos.receiver", "--http-port", str(self.http_port),
            "--smtp-port", str(self.smtp_port), "--out", str(self.out),
        ]  # fmt: skip
        with self.log.open("ab") as sink:
            self.proc = subprocess.Popen(cmd, env=env, stdout=sink, stderr=sink)
        deadline = time.monotonic() + timeout
        for port in (self.http_port, self.smtp_port):
            while not await _accepts(port):
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the receiver did not start: see {self.log}")
                await asyncio.sleep(0.05)
        if self._down_since is not None:
            self.downs.append((self._down_since, time.time()))
            self._down_since = None

    async def stop(self, kill: bool = False, grace: float = 10.0) -> None:
        """Take the receiver down: SIGTERM (it finishes what it was answering) or SIGKILL."""
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
        deadline = time.monotonic() + grace
        while proc.poll() is None and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        if proc.poll() is None:
            proc.kill()
            await asyncio.to_thread(proc.wait)
        self._down_since = time.time()

    def close(self) -> None:
        """Kill the receiver now (the run is over, or failed)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


async def _accepts(port: int) -> bool:
    try:
        _, writer = await asyncio.open_connection(HOST, port)
    except OSError:
        return False
    writer.close()
    return True
