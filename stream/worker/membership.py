"""A restarted worker takes its predecessor's place in the consumer group at once.

A worker killed with SIGKILL (or by the kernel, or a lost machine) never leaves its group:
the coordinator keeps the dead member, waits for its session to expire, and holds the
group's rebalance meanwhile, so the worker started in its place sits idle for the session
timeout and a second rebalance (about 11 s with 6 s timeouts, measured on the embedded
broker). Kafka's answer, static membership (`group.instance.id`), also keeps a worker
stopped on purpose in the group for its session timeout, which slows every rolling restart
and scale-down; and Faust does not expose it.

So each worker writes its member id to its data directory whenever it joins, and a worker
starting on that directory first asks the coordinator to remove that member (a LeaveGroup,
as the dead worker would have sent on a clean stop). A member id is unique to one join of
one worker: at worst, when the old member is already gone, the coordinator answers
UNKNOWN_MEMBER_ID and nothing happens. A data directory belongs to one worker (as it must
for RocksDB anyway): two live workers sharing one would remove each other at each start.
Nothing here can stop a worker from starting: every failure is logged and the worker
joins as it would have anyway.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from pathlib import Path

import structlog
from aiokafka.client import AIOKafkaClient
from aiokafka.errors import KafkaError, for_code
from aiokafka.protocol.group import LeaveGroupRequest

log = structlog.get_logger("tierwatch.membership")

FILE = "group-member"
TIMEOUT_S = 5.0


def member_file(data_dir: Path) -> Path:
    return data_dir / FILE


def remember(data_dir: Path, group: str, member_id: str) -> None:
    """Write `group` and `member_id` to the data directory (atomically: a kill mid-write
    leaves the previous id, never half of one). A directory that cannot be written is
    logged, never raised: the worker goes on, and its restart takes the slow path."""
    path = member_file(data_dir)
    partial = path.with_suffix(".partial")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial.write_text(f"{group}\n{member_id}\n")
        os.replace(partial, path)
    except OSError as exc:
        log.warning("member_not_remembered", path=str(path), error=repr(exc))


def recall(data_dir: Path, group: str) -> str | None:
    """The member id a worker on this directory last had in `group` (None: none known)."""
    try:
        lines = member_file(data_dir).read_text().splitlines()
    except (OSError, UnicodeDecodeError):  # none written, or not readable: the slow path
        return None
    if len(lines) != 2 or lines[0] != group or not lines[1]:
        return None
    return lines[1]


async def leave(bootstrap: str, group: str, member_id: str, timeout: float = TIMEOUT_S) -> str:
    """Ask the group's coordinator to remove `member_id`; the outcome in a word: `left`,
    or the broker's error name (`UnknownMemberIdError`: it was gone already)."""
    client = AIOKafkaClient(bootstrap_servers=bootstrap, request_timeout_ms=int(timeout * 1000))
    try:
        async with asyncio.timeout(timeout):
            await client.bootstrap()
            node = await client.coordinator_lookup(0, group)  # 0: a consumer group
            response = await client.send(node, LeaveGroupRequest(group, member_id))
    finally:
        await client.close()
    code = response.error_code
    return "left" if code == 0 else for_code(code).__name__


async def leave_previous(bootstrap: str, group: str, data_dir: Path) -> str | None:
    """Remove the member this data directory's last worker was, if one is known; never
    raises. The outcome (None: no member known)."""
    member = recall(data_dir, group)
    if member is None:
        return None
    try:
        outcome = await leave(bootstrap, group, member)
    except (KafkaError, OSError, TimeoutError) as exc:
        outcome = f"failed: {type(exc).__name__}"
        log.warning("previous_member_not_removed", group=group, member=member, error=repr(exc))
    else:
        event = "previous_member_removed" if outcome == "left" else "previous_member_not_removed"
        log.info(event, group=group, member=member, outcome=outcome)
    with contextlib.suppress(FileNotFoundError):
        member_file(data_dir).unlink()
    return outcome
