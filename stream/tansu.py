"""Workarounds for the embedded broker (Tansu), applied only when talking to it.

- Tansu numbers a group's first generation 0, and aiokafka only says LeaveGroup for a
  generation above 0; a stopped worker then holds its partitions until its session times
  out, and a restart waits for that. This lets a stopping member leave from generation 0.
- Tansu does not answer a waiting fetch when new data arrives, so every fetch waits its
  full `fetch_max_wait_ms`, which Faust fixes at 1.5 s: a quiet topic then answers a
  message only up to 1.5 s late. Faust's consumers here wait at most 50 ms.
- (One record a producer batch, for exact changelog end offsets, is a Faust setting: see
  `stream.app.make_app`.)
"""

from __future__ import annotations

import contextlib
from typing import Any

import aiokafka
from aiokafka.consumer import group_coordinator
from aiokafka.errors import KafkaError
from aiokafka.protocol.group import LeaveGroupRequest

_applied = False


async def _leave_group_from_generation_zero(self: Any) -> None:
    if self.generation >= 0 and self.member_id and self._group_instance_id is None:
        with contextlib.suppress(KafkaError):
            await self._send_req(LeaveGroupRequest(self.group_id, self.member_id))
    self.reset_generation()


FETCH_MAX_WAIT_MS = 50


class _ShortFetchConsumer(aiokafka.AIOKafkaConsumer):  # type: ignore[misc]
    def __init__(self, *topics: str, **kwargs: Any) -> None:
        kwargs["fetch_max_wait_ms"] = min(kwargs.get("fetch_max_wait_ms", 500), FETCH_MAX_WAIT_MS)
        super().__init__(*topics, **kwargs)


def apply() -> None:
    """Patch aiokafka's group coordinator and Faust's consumer class, once per process."""
    global _applied
    if _applied:
        return
    from faust.transport.drivers import aiokafka as faust_driver

    group_coordinator.GroupCoordinator._maybe_leave_group = _leave_group_from_generation_zero
    faust_driver.aiokafka = _Namespace(aiokafka)  # type: ignore[attr-defined]
    _applied = True


class _Namespace:
    """The aiokafka module as Faust's driver sees it, with the short-fetch consumer."""

    def __init__(self, module: Any) -> None:
        self._module = module
        self.AIOKafkaConsumer = _ShortFetchConsumer

    def __getattr__(self, name: str) -> Any:
        return getattr(self._module, name)
