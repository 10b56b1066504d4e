"""The rows measured without a broker: the pure tick sweep (6a, 6b, 6f), `tierwatch
replay` in a subprocess (7) and the state size (8), and the simulated learner states
that the tick sweep and the recovery row (9) copy to many learner ids.
"""

from __future__ import annotations

import datetime as dt
import os
import statistics
import subprocess
import sys
import time
from collections import Counter
from functools import cache
from pathlib import Path

import orjson

from bench.common import Row
from schemas.clock import Tick
from stream.core.policy import Policy
from stream.core.state import LearnerState
from stream.core.step import step
from stream.core.timeline import Timeline, run_history
from stream.core.weeks import day_start
from stream.policyfile import load_policy
from stream.sim.simulate import DEFAULT_START, simulate, write_jsonl

SAMPLE_WEEKS = 12


def midnight(week: int, weekday: int, policy: Policy) -> dt.datetime:
    """00:00 of a weekday (Monday = 0) in week `week` of a simulated history."""
    return day_start(DEFAULT_START + dt.timedelta(days=7 * week + weekday), policy.tz)


@cache
def sample_states(learners: int, seed: int) -> tuple[bytes, ...]:
    """The stored states (as the worker stores them) of `simulate(learners, 12, seed)`
    replayed to the Monday after its last week, with the default policy."""
    policy = load_policy()
    history = simulate(learners, SAMPLE_WEEKS, seed, policy=policy)
    timeline = Timeline(policy)
    for _ in run_history(history, policy, midnight(SAMPLE_WEEKS, 0, policy), timeline):
        pass
    return tuple(
        s.model_dump_json(exclude_defaults=True).encode() for s in timeline.states.values()
    )


def tick_sweep(learners: int, seed: int, policy: Policy) -> tuple[list[Row], str]:
    """The pure core's tick over `learners` states (copies of 2,000 simulated learners
    after eleven weeks), timed with `Timeline.tick` and with the worker's JSON round trip."""
    base, weeks = min(learners, 2000), SAMPLE_WEEKS
    raws = sample_states(base, seed)
    states: dict[str, LearnerState] = {}
    for n in range(learners):
        state = LearnerState.model_validate_json(raws[n % base])
        state.learner_id = f"T{n:07d}"
        states[state.learner_id] = state
    timeline = Timeline(policy, states, skip_quiet=False)  # every learner stepped
    rows = []
    plan = [
        ("6a", "tick sweep, week close (pure)", midnight(weeks, 1, policy)),
        ("6b", "tick sweep, ordinary day (pure)", midnight(weeks, 2, policy)),
    ]
    for number, name, now in plan:
        started = time.perf_counter()
        outputs = timeline.tick(now)
        took = time.perf_counter() - started
        note = f"Timeline.tick over {learners:,} states, {took:.2f} s, {len(outputs):,} outputs"
        rows.append(Row(number, name, learners / took, "learners/s", note))
    # the same step with the worker's load and store (JSON) around it, still without Faust
    stored = {k: s.model_dump_json(exclude_defaults=True).encode() for k, s in states.items()}
    tick = Tick(now=midnight(weeks, 3, policy), partition=0)
    started = time.perf_counter()
    for key, raw in stored.items():
        state, _ = step(LearnerState.model_validate_json(raw), tick, policy)
        stored[key] = state.model_dump_json(exclude_defaults=True).encode()
    took = time.perf_counter() - started
    note = f"ordinary day: load + step + store per learner, {took:.2f} s"
    rows.append(
        Row("6f", "tick sweep + state JSON (no Faust)", learners / took, "learners/s", note)
    )
    what = (
        f"tick sweep: {learners:,} states, copies of the {base:,} of simulate({base}, {weeks}, "
        f"seed={seed}) as of the Monday after its last week, then ticked Tuesday (the last "
        "week closes), Wednesday, Thursday"
    )
    return rows, what


def replay_run(
    learners: int, weeks: int, seed: int, policy: Policy, tmp: Path
) -> tuple[list[Row], str]:
    """`tierwatch replay FILE --out /dev/null` in a subprocess, in one process and in one
    per CPU (`--workers 0`): records/s and peak RSS."""
    path = tmp / "history.jsonl"
    started = time.perf_counter()
    with path.open("w") as out:
        records = write_jsonl(simulate(learners, weeks, seed, policy=policy), out)
    wrote = time.perf_counter() - started
    tiny = tmp / "tiny.jsonl"
    with tiny.open("w") as out:
        write_jsonl(simulate(1, 1, seed, policy=policy), out)
    size = path.stat().st_size / 2**20
    what = (
        f"replay: simulate({learners}, {weeks}, seed={seed}): {records:,} records, "
        f"{size:,.0f} MiB, written in {wrote:.0f} s"
    )
    workers = min(os.cpu_count() or 1, 4)
    rows = []
    for number, name, count in (("7a", "1 process", 1), ("7b", f"{workers} processes", 0)):
        startup, _ = _replay(tiny, count)
        took, peak = _replay(path, count)
        memory = (
            f"peak RSS {peak / 1024:,.0f} MiB"
            if count == 1
            else f"largest process {peak / 1024:,.0f} MiB (all {workers + 1} processes: at "
            f"most {(workers + 1) * peak / 1024:,.0f} MiB)"
        )
        note = (
            f"{records:,} records in {took:.1f} s ({startup:.1f} s of it process start on a "
            f"tiny file, excluded); {memory}"
        )
        rate = records / (took - startup)
        rows.append(Row(number, f"tierwatch replay, {name}", rate, "records/s", note))
    return rows, what


# A small parent for the replay: ru_maxrss of a child forked straight from this (large)
# process would count this process's pages too (Linux keeps the high-water mark over exec).
_MEASURE = """
import resource, subprocess, sys
code = subprocess.call(sys.argv[1:], stdout=subprocess.DEVNULL)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
sys.exit(code)
"""


def _replay(path: Path, workers: int) -> tuple[float, int]:
    """Seconds and peak RSS (KiB, of its largest process) of a `tierwatch replay`."""
    cmd = [sys.executable, "-m", "stream.cli", "replay", str(path), "--out", os.devnull]
    cmd += ["--workers", str(workers)]
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", _MEASURE, *cmd], capture_output=True, check=False)
    took = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"replay failed: {done.stderr.decode(errors='replace')[-2000:]}")
    return took, int(done.stdout.split()[-1])


def state_size(learners: int, seed: int, policy: Policy) -> tuple[list[Row], str]:
    """Bytes of each learner's serialised state (as the worker stores it) after 12 weeks."""
    timeline = Timeline(policy)
    for _ in run_history(simulate(learners, 12, seed, policy=policy), policy, None, timeline):
        pass
    sizes = sorted(
        len(s.model_dump_json(exclude_defaults=True).encode()) for s in timeline.states.values()
    )
    p99 = sizes[int(len(sizes) * 0.99) - 1]
    what = f"state: simulate({learners}, 12, seed={seed}), replayed to a week after the end"
    note = f"model_dump_json(exclude_defaults=True) of {len(sizes):,} learners; p99 {p99:,} B"
    rows = [
        Row("8a", "state, median", statistics.median(sizes), "bytes/learner", note),
        Row("8b", "state, worst", sizes[-1], "bytes/learner", "the largest of the same learners"),
    ]
    return rows, what


def largest_parts(learners: int, seed: int, policy: Policy) -> str:
    """Which fields of the median state take its bytes (for RESULTS.md)."""
    timeline = Timeline(policy)
    for _ in run_history(simulate(learners, 12, seed, policy=policy), policy, None, timeline):
        pass
    states = sorted(timeline.states.values(), key=lambda s: len(s.model_dump_json()))
    median = states[len(states) // 2]
    data = orjson.loads(median.model_dump_json(exclude_defaults=True))
    parts = Counter({k: len(orjson.dumps(v)) + len(k) + 4 for k, v in data.items()})
    return ", ".join(f"{k} {n} B" for k, n in parts.most_common(6))
