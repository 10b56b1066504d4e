"""Workarounds for the embedded broker (Tansu), applied only when talking to it.

Tansu numbers a group's first generation 0, and aiokafka only says LeaveGroup for a
generation above 0; a stopped worker then holds its partitions until its session times
out, and a restart waits for that. This lets a stopping member leave from generation 0.
(The other workaround, one record a producer batch for exact changelog end offsets, is a
Faust setting: see `stream.app.make_app`.)
"""

from __future__ import annotations

import contextlib
from typing import Any

from aiokafka.consumer import group_coordinator
from aiokafka.errors import KafkaError
from aiokafka.protocol.group import LeaveGroupRequest

_applied = False


async def _leave_group_from_generation_zero(self: Any) -> None:
    if self.generation >= 0 and self.member_id and self._group_instance_id is None:
        with contextlib.suppress(KafkaError):
            await self._send_req(LeaveGroupRequest(self.group_id, self.member_id))
    self.reset_generation()


def apply() -> None:
    """Patch aiokafka's group coordinator once per process."""
    global _applied
    if not _applied:
        group_coordinator.GroupCoordinator._maybe_leave_group = _leave_group_from_generation_zero
        _applied = True
