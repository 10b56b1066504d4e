"""Where a replayed record's time goes, stage by stage, in this process.

    python -m bench.stages [--learners 1000] [--weeks 52] [--seed 7]

Simulates a history, writes it as JSON lines, then times (CPU time, `time.process_time`)
four passes over the lines, each streamed as a replay streams them: parsing every line
(`read_history`); parsing and scheduling the midnight ticks among the records; parsing and
applying the records alone (`Timeline.feed`, no ticks); the whole replay (records and ticks
through `Timeline.feed`). A stage's cost is the difference of two passes. Then, per learner,
a replayed state's load (`model_validate_json`) and store (`model_dump_json`), as a worker
does on every tick that changes it. Figures are microseconds per record (or per state): what
a faster replay or worker tick would have to take away. Printed, never asserted.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from schemas.history import Record
from stream.core.state import LearnerState
from stream.core.timeline import Timeline, schedule_timed
from stream.policyfile import load_policy
from stream.sim.simulate import simulate, write_jsonl
from stream.tools.replay import Summary, _counted, read_history


def cpu(action: Callable[[], object]) -> float:
    started = time.process_time()
    action()
    return time.process_time() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--learners", type=int, default=1000)
    parser.add_argument("--weeks", type=int, default=52)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    policy = load_policy()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "history.jsonl"
        with path.open("w") as out:
            write_jsonl(simulate(args.learners, args.weeks, args.seed, policy=policy), out)
        lines = path.read_bytes().splitlines()
    n = len(lines)

    def parsed() -> Iterator[Record]:
        return read_history(lines, False, [])  # streamed: nothing kept but the states

    def parse() -> None:
        for _ in parsed():
            pass

    def schedule() -> None:
        for _ in schedule_timed(_counted(parsed(), None, Summary()), policy, None):
            pass

    def apply() -> None:
        timeline = Timeline(policy)
        for record in parsed():
            timeline.feed(record)

    replayed = Timeline(policy)

    def replay() -> None:
        for item in schedule_timed(_counted(parsed(), None, Summary()), policy, None):
            replayed.feed(item)

    parsing, scheduling = cpu(parse), cpu(schedule)
    applying, replaying = cpu(apply), cpu(replay)
    stages = {
        "parse a line (pydantic)": parsing,
        "schedule the ticks among the records": scheduling - parsing,
        "apply the records (no ticks)": applying - parsing,
        "apply the records and the ticks": replaying - scheduling,
        "the whole replay (parse, schedule, apply)": replaying,
    }
    print(f"{n:,} records: simulate({args.learners}, {args.weeks}, seed={args.seed})")
    for name, seconds in stages.items():
        print(f"  {name:<44} {seconds / n * 1e6:6.2f} us/record")
    raws = [s.model_dump_json(exclude_defaults=True).encode() for s in replayed.states.values()]
    states = [LearnerState.model_validate_json(raw) for raw in raws]
    load = cpu(lambda: [LearnerState.model_validate_json(raw) for raw in raws]) / len(raws)
    store = cpu(lambda: [s.model_dump_json(exclude_defaults=True) for s in states]) / len(raws)
    size = statistics.median(len(raw) for raw in raws)
    print(f"  a replayed state's load (JSON, median {size:,.0f} B): {load * 1e6:.2f} us")
    print(f"  and its store: {store * 1e6:.2f} us")


if __name__ == "__main__":
    main()
