"""The chaos suite's ingest client and its count (no broker): a batch answered 503 is sent
again after its Retry-After until acknowledged, and an acknowledged event missing from the
topic counts as lost in the closing line."""

from __future__ import annotations

import asyncio

import orjson
from aiohttp import web

from bench.chaos import report
from bench.chaos.ingesting import BATCH, Client, IngestOutcome
from bench.chaos.play import RunResult
from stream.broker import free_port


def test_a_refused_batch_is_sent_again_after_retry_after_until_acknowledged():
    answers = iter([503, 503, 202])
    bodies: list[list[dict]] = []

    async def events(request: web.Request) -> web.Response:
        bodies.append(orjson.loads(await request.read()))
        status = next(answers, 202)
        headers = {"Retry-After": "1"} if status == 503 else {}
        return web.json_response({}, status=status, headers=headers)

    async def scenario() -> Client:
        app = web.Application()
        app.router.add_post("/events", events)
        runner = web.AppRunner(app)
        await runner.setup()
        port = free_port()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        client = Client(f"http://127.0.0.1:{port}")
        task = asyncio.create_task(client.run())
        while len(bodies) < 3:
            await asyncio.sleep(0.05)
        client.stop()
        await task
        await runner.cleanup()
        return client

    client = asyncio.run(scenario())
    assert bodies[0] == bodies[1] == bodies[2]  # the same batch, three times
    assert client.out.unavailable == 2
    assert client.out.retry_after == {"1"}
    assert client.out.no_retry_after == 0
    assert client.out.longest_s >= 2.0  # it waited the Retry-After twice
    assert {e["id"] for e in bodies[0]} <= client.acked
    assert len(client.acked) % BATCH == 0


def test_an_acknowledged_event_missing_from_the_topic_is_lost_in_the_closing_line():
    run = RunResult("01", "broker SIGSTOP 30 s", 10, 5, applied=5)
    run.ingest = IngestOutcome(acked=100, lost=2)
    assert report.totals([run])["lost"] == 2
    assert report.failed([run])
    assert "100/2/0" in report.table([run])


def test_an_unexpected_answer_or_a_503_without_retry_after_fails_the_suite():
    run = RunResult("01", "broker SIGSTOP 30 s", 10, 5, applied=5)
    run.ingest = IngestOutcome(acked=100)
    assert not report.failed([run])
    run.ingest = IngestOutcome(acked=100, other={500: 1})
    assert report.failed([run])
    run.ingest = IngestOutcome(acked=100, unavailable=1, no_retry_after=1)
    assert report.failed([run])


def test_an_event_of_a_batch_sent_once_written_twice_is_duplicated():
    run = RunResult("01", "broker SIGSTOP 30 s", 10, 5, applied=5)
    run.ingest = IngestOutcome(acked=100, resent=7, duplicated=1)
    assert report.totals([run])["duplicated"] == 1  # resent (sent again) is no failure
