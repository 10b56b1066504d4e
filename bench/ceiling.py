"""Faust's own ceiling: a worker process whose one agent reads the events topic.

    python -m bench.ceiling bare|inputs|table --expect N --out RESULT.json   (TIERWATCH_* env)

`bare` does nothing with an event; `inputs` does nothing with the records of all four input
topics that the tierwatch worker reads (events, profiles, assignments, interventions: the
ceiling for row 4's input); `table` writes one table key per event
(`table[learner] += 1`, so one changelog record an event: the naive baseline). The app is
`stream.worker.faust_app.make_app` with the worker's settings, so it differs from
tierwatch's worker only in what the agent does. When N events have been seen, the agent
writes the monotonic times of the first and the N-th event to RESULT.json;
`bench.pipeline` then stops the process.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import faust
import orjson

from stream.settings import Settings
from stream.topics import Topics
from stream.worker import tansu
from stream.worker.faust_app import make_app
from stream.worker.run import install_uvloop


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=("bare", "inputs", "table"))
    parser.add_argument("--expect", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    settings = Settings()
    if settings.uvloop:
        install_uvloop()  # the same event loop as the worker's
    bootstrap = settings.broker or ""
    if settings.tansu:
        tansu.apply()
    app = make_app(settings, bootstrap)
    topics = Topics.named(settings.topic_prefix)
    names = topics.inputs if args.mode == "inputs" else (topics.events,)
    topic = app.topic(*names, key_serializer="raw", value_serializer="raw")
    counts: Any = None
    if args.mode == "table":
        counts = app.Table("naive", partitions=settings.partitions, key_type=str, value_type=int)
    seen = {"n": 0, "first": 0.0}

    def note() -> None:
        seen["n"] += 1
        if seen["n"] == 1:
            seen["first"] = time.monotonic()
        if seen["n"] == args.expect:
            result = {"count": seen["n"], "first": seen["first"], "last": time.monotonic()}
            args.out.write_bytes(orjson.dumps(result))

    async def bare(stream: Any) -> None:
        async for _event in stream.events():
            note()

    async def naive(stream: Any) -> None:
        async for event in stream.events():
            key = event.message.key.decode()
            counts[key] = counts.get(key, 0) + 1
            note()

    app.agent(topic, name=args.mode)(naive if args.mode == "table" else bare)
    worker = faust.Worker(app, loglevel="WARNING", quiet=True, redirect_stdouts=False)
    worker.execute_from_commandline()


if __name__ == "__main__":
    main()
