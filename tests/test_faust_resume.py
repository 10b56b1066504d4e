"""Stream partitions fetch only after their seek (`stream.worker.faust_resume`).

The end of a rebalance's recovery in faust-streaming, played against Faust's own consumer
(`_drain_messages`, pause and resume, `perform_seek`, the flow-control queue an agent
reads from): only the broker is a fake, a fetch that follows the live set of active
partitions and a seek that takes two round trips. Faust alone loses the records fetched
around the seek; with the hold, both come."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import faust
from faust.types import TP

from stream.worker.faust_resume import HELD_TOO_LONG_S, hold_until_sought

ALERTS = TP("alerts", 3)
COMMITTED, END = 26, 28  # offsets 26 and 27 exist when the worker restarts


def app_with_fake_broker() -> tuple[faust.App, dict[TP, int], asyncio.Queue]:
    app = faust.App("t", broker="kafka://127.0.0.1:1", store="memory://", autodiscover=False)
    app.topics.acks_enabled_for = lambda topic: True  # type: ignore[method-assign]
    consumer = app.consumer
    consumer._active_partitions = set()
    consumer.assignment = lambda: {ALERTS}  # type: ignore[method-assign]
    position = {ALERTS: COMMITTED}  # the fetch position after the group join
    queue = app.FlowControlQueue(maxsize=100, clear_on_resume=True)  # an agent's buffer

    async def getmany(timeout: float):  # follows the live active set
        await asyncio.sleep(0)
        for tp in list(position):
            while tp in consumer._active_partitions and position[tp] < END:
                offset = position[tp]
                position[tp] += 1
                yield tp, SimpleNamespace(tp=tp, offset=offset, topic=tp.topic, key=None)

    async def seek_to_committed() -> dict[TP, int]:  # one committed() round trip, then seek
        await asyncio.sleep(0.01)
        position[ALERTS] = COMMITTED
        await asyncio.sleep(0.01)  # the other partitions' round trips
        return {ALERTS: COMMITTED}

    async def callback(message: SimpleNamespace) -> None:
        await queue.put(message.offset)

    consumer.getmany = getmany  # type: ignore[method-assign]
    consumer.seek_to_committed = seek_to_committed  # type: ignore[method-assign]
    consumer.callback = callback  # type: ignore[method-assign]
    return app, position, queue


async def recovery_ends(app: faust.App, seek: bool = True) -> None:
    """`Recovery.on_recovery_completed` from the stream partitions' resume on."""
    consumer = app.consumer
    consumer.resume_partitions({ALERTS})
    await asyncio.sleep(0.001)
    if seek:
        await consumer.perform_seek()
    app.flow_control.resume()  # clears the agents' buffers
    consumer.resume_flow()
    await asyncio.sleep(0.05 if seek else 0.1)
    app.on_rebalance_end()


DRAIN_S = 3.0  # how long the fetch loop may take to deliver what it will (Faust alone: never)


async def delivered(hold: bool, seek: bool = True) -> list[int]:
    app, _, queue = app_with_fake_broker()
    if hold:
        hold_until_sought(app)
    app.on_rebalance_start()
    app.consumer_generation_id = 1
    app.consumer.pause_partitions({ALERTS})
    app.flow_control.resume()  # the changelogs' recovery runs with the flow on
    app.consumer.resume_flow()
    fetcher = SimpleNamespace(_stopped=asyncio.Event())
    drain = asyncio.ensure_future(app.consumer._drain_messages(fetcher))
    await recovery_ends(app, seek)
    deadline = asyncio.get_running_loop().time() + DRAIN_S  # a loaded machine drains late
    while queue.qsize() < 2 and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.02)
    fetcher._stopped.set()
    drain.cancel()
    out = []
    while not queue.empty():
        out.append(queue.get_nowait())
    return out


def test_faust_alone_loses_the_records_fetched_around_the_seek():
    assert sorted(asyncio.run(delivered(hold=False))) != [26, 27]


def test_held_until_sought_the_partition_delivers_every_record_once():
    assert sorted(asyncio.run(delivered(hold=True))) == [26, 27]


def test_a_seek_not_done_when_the_flow_resumes_is_done_before_the_release():
    assert sorted(asyncio.run(delivered(hold=True, seek=False))) == [26, 27]


def test_a_partition_held_with_no_rebalance_on_is_released_by_the_check():
    app, _, _ = app_with_fake_broker()
    held = hold_until_sought(app)
    app.on_rebalance_start()
    app.consumer.resume_partitions({ALERTS})
    assert held.held == {ALERTS}
    assert ALERTS not in app.consumer._active_partitions
    assert not held.check(now=0.0)  # a rebalance is on
    app.on_rebalance_end()
    assert not held.check(now=1.0)
    assert not held.check(now=1.0 + HELD_TOO_LONG_S / 2)
    assert held.check(now=1.0 + HELD_TOO_LONG_S)
    assert ALERTS in app.consumer._active_partitions
    assert held.held == set()


def test_a_newer_rebalance_drops_what_an_older_one_held():
    app, _, _ = app_with_fake_broker()
    held = hold_until_sought(app)
    app.on_rebalance_start()
    app.consumer_generation_id = 1
    app.consumer.resume_partitions({ALERTS})
    app.consumer_generation_id = 2
    app.consumer.resume_flow()
    assert held.held == set()
    assert ALERTS not in app.consumer._active_partitions  # the newer rebalance resumes it


def test_changelog_partitions_resume_at_once():
    app, _, _ = app_with_fake_broker()
    hold_until_sought(app)
    changelog = TP("t-learners-changelog", 0)
    app.consumer._is_changelog_tp = lambda tp: tp == changelog  # type: ignore[method-assign]
    app.on_rebalance_start()
    app.consumer.resume_partitions({changelog, ALERTS})
    assert changelog in app.consumer._active_partitions
    assert ALERTS not in app.consumer._active_partitions
