"""The pipeline against its stack: Kafka's limit, Faust's ceiling, a naive table agent,
tierwatch's worker, the tick sweep, the offline replay and the state size, in one run.

    .venv/bin/python -m bench.pipeline [--learners 1000 --weeks 8 --seed 7]
        [--replay-learners 2000 --replay-weeks 52] [--tick-learners 100000]
        [--skip plain,bare,naive,tierwatch,tick,replay,state] [--profile DIR] [--write]

Starts the embedded broker, pre-fills the input topics with one simulated history
(`stream.simulate.simulate`) and reads it back four ways, each with its own consumer
group: a plain aiokafka consumer (orjson-decoding every value), a Faust agent that does
nothing, a Faust agent writing one table key per event, and a real `tierwatch worker`.
Then ticks that worker, and measures the pure tick sweep, `tierwatch replay` and the
state size in this process or in subprocesses. Prints the machine and a table; `--write`
writes both, with the command, to bench/RESULTS.md. Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

import orjson

from bench.common import (
    Ends,
    Row,
    bench_env,
    machine,
    plain_consume,
    prefill,
    profile,
    ratio,
    scrape,
    start,
    table,
    tail,
    total,
)
from schemas.events import LearningEvent
from stream.broker import embedded_broker, stop_process
from stream.core.policy import Policy
from stream.core.state import LearnerState
from stream.core.timeline import Timeline, run_history
from stream.core.weeks import day_start
from stream.driver import Driver, GroupWatcher
from stream.policyfile import load_policy
from stream.settings import Settings
from stream.simulate import DEFAULT_START, simulate, write_jsonl
from stream.topics import Topics, create_topics

RESULTS = Path(__file__).with_name("RESULTS.md")
PARTS = ("plain", "bare", "naive", "tierwatch", "tick", "replay", "state")
PARTITIONS = 4


def midnight(week: int, weekday: int, policy: Policy) -> dt.datetime:
    """00:00 of a weekday (Monday = 0) in week `week` of a simulated history."""
    return day_start(DEFAULT_START + dt.timedelta(days=7 * week + weekday), policy.tz)


class Streaming:
    """Rows 1-4 and the worker's tick sweep, on one embedded broker and one history."""

    def __init__(self, args: argparse.Namespace, bootstrap: str, tmp: Path) -> None:
        self.args = args
        self.bootstrap = bootstrap
        self.tmp = tmp
        self.prefix = f"b{uuid.uuid4().hex[:6]}."
        self.topics = Topics.named(self.prefix)
        self.ends: Ends = {}
        self.events = 0
        self.records = 0

    def fill(self, policy: Policy) -> str:
        records = list(simulate(self.args.learners, self.args.weeks, self.args.seed, policy=policy))
        self.records = len(records)
        self.events = sum(isinstance(r, LearningEvent) for r in records)
        settings = Settings(topic_prefix=self.prefix, partitions=PARTITIONS)
        asyncio.run(create_topics(settings, self.topics, self.bootstrap))
        started = time.perf_counter()
        self.ends = asyncio.run(prefill(self.bootstrap, self.topics, PARTITIONS, records))
        took = time.perf_counter() - started
        return (
            f"history: simulate({self.args.learners}, {self.args.weeks}, seed={self.args.seed}): "
            f"{self.records:,} records, {self.events:,} of them events, "
            f"{PARTITIONS} partitions; produced in {took:.1f} s"
        )

    def plain(self) -> float:
        count, took, _ = asyncio.run(plain_consume(self.bootstrap, self.topics.events, self.ends))
        return count / took

    def ceiling(self, mode: str) -> float | None:
        """Events/s of a `bench.ceiling` agent, from its first to its last event."""
        app_id = f"bench-{mode}-{uuid.uuid4().hex[:6]}"
        env = bench_env(self.bootstrap, self.prefix, app_id, self.tmp / app_id)
        env["TIERWATCH_WEB_ENABLED"] = "false"
        out, log = self.tmp / f"{app_id}.json", self.tmp / f"{app_id}.log"
        cmd = ["-m", "bench.ceiling", mode, "--expect", str(self.events), "--out", str(out)]
        proc = start(cmd, env, log)
        spy = self._profile(proc.pid, mode, 20)
        try:
            if not self._wait(lambda: out.exists(), proc, self.args.timeout):
                print(f"  {mode}: no result in {self.args.timeout:.0f} s\n{tail(log)}")
                return None
            result = orjson.loads(out.read_bytes())
        finally:
            stop_process(proc, timeout=20)
            if spy is not None:
                spy.wait()
        return float((result["count"] - 1) / (result["last"] - result["first"]))

    def tierwatch(self) -> tuple[float | None, list[Row]]:
        """A `tierwatch worker` consuming the pre-filled input topics: records/s from the
        first to the last processed (its `tierwatch_events_processed_total`), then ticks."""
        app_id = f"bench-tierwatch-{uuid.uuid4().hex[:6]}"
        env = bench_env(self.bootstrap, self.prefix, app_id, self.tmp / app_id)
        port = int(env["TIERWATCH_WEB_PORT"])
        log = self.tmp / "tierwatch.log"
        proc = start(["-m", "stream.cli", "worker"], env, log)
        spy = None
        try:
            first: tuple[float, float] | None = None
            last: tuple[float, float] | None = None
            deadline = time.monotonic() + self.args.timeout
            while time.monotonic() < deadline and proc.poll() is None:
                done = total(scrape(port), "tierwatch_events_processed_total")
                now = time.monotonic()
                if done and first is None:
                    first = (now, done)
                    spy = self._profile(proc.pid, "tierwatch", 30)
                if done >= self.records:
                    last = (now, done)
                    break
                time.sleep(0.1)
            if first is None or last is None or last[0] == first[0]:
                print(f"  tierwatch: not done in {self.args.timeout:.0f} s\n{tail(log)}")
                return None, []
            rate = (last[1] - first[1]) / (last[0] - first[0])
            ticks = asyncio.run(self.worker_ticks(app_id, port, proc))
            return rate, ticks
        finally:
            if spy is not None:
                spy.wait()
            stop_process(proc, timeout=20)

    async def worker_ticks(
        self, app_id: str, port: int, proc: subprocess.Popen[bytes]
    ) -> list[Row]:
        """Tick every partition three times and read the tick metrics after each: a
        catch-up over all weeks but the last, one week's close, and an ordinary day."""
        policy = load_policy()
        weeks = self.args.weeks
        plan = [
            ("6c", "worker tick, catch-up", midnight(weeks - 1, 1, policy), "all weeks but one"),
            ("6d", "worker tick, week close", midnight(weeks, 1, policy), "one week closes"),
            ("6e", "worker tick, ordinary day", midnight(weeks, 2, policy), "no week closes"),
        ]
        rows = []
        group = GroupWatcher(self.bootstrap, app_id, alive=lambda: proc.poll() is None)
        async with Driver(self.bootstrap, self.topics, PARTITIONS) as driver, group:
            for number, name, now, what in plan:
                before = scrape(port)
                sent = time.perf_counter()
                await driver.tick(now)
                if not await group.reached(driver.stats.ends, self.topics.clock, 120):
                    rows.append(Row(number, name, None, "learners/s", "tick not applied"))
                    continue
                wall = time.perf_counter() - sent
                after = scrape(port)
                n = total(after, "tierwatch_learners_evaluated_total") - total(
                    before, "tierwatch_learners_evaluated_total"
                )
                spent = after.get("tierwatch_tick_duration_seconds_sum", 0.0) - before.get(
                    "tierwatch_tick_duration_seconds_sum", 0.0
                )
                note = (
                    f"{n:,.0f} learners ({what}), {spent:.2f} s in evaluate_partition "
                    f"(metric), {wall:.2f} s send to commit"
                )
                rows.append(Row(number, name, n / spent if spent else None, "learners/s", note))
        return rows

    def _wait(self, ready, proc: subprocess.Popen[bytes], timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and proc.poll() is None:
            if ready():
                return True
            time.sleep(0.05)
        return bool(ready())

    def _profile(self, pid: int, name: str, seconds: float) -> subprocess.Popen[bytes] | None:
        if self.args.profile is None:
            return None
        self.args.profile.mkdir(parents=True, exist_ok=True)
        return profile(pid, self.args.profile / f"{name}.txt", seconds)


def tick_sweep(learners: int, seed: int, policy: Policy) -> tuple[list[Row], str]:
    """The pure core's tick over `learners` states (copies of 2,000 simulated learners
    after eleven weeks), timed with `Timeline.tick` and with the worker's JSON round trip."""
    base, weeks = min(learners, 2000), 12
    history = simulate(base, weeks, seed, policy=policy)
    seeded = Timeline(policy)
    for _ in run_history(history, policy, midnight(weeks, 0, policy), seeded):
        pass
    raws = [s.model_dump_json().encode() for s in seeded.states.values()]
    states: dict[str, LearnerState] = {}
    for n in range(learners):
        state = LearnerState.model_validate_json(raws[n % base])
        state.learner_id = f"T{n:07d}"
        states[state.learner_id] = state
    timeline = Timeline(policy, states)
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
    from schemas.clock import Tick
    from stream.core.step import step

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


def replay_run(learners: int, weeks: int, seed: int, policy: Policy, tmp: Path) -> tuple[Row, str]:
    """`tierwatch replay FILE --out /dev/null` in a subprocess: records/s and peak RSS."""
    path = tmp / "history.jsonl"
    started = time.perf_counter()
    with path.open("w") as out:
        records = write_jsonl(simulate(learners, weeks, seed, policy=policy), out)
    wrote = time.perf_counter() - started
    tiny = tmp / "tiny.jsonl"
    with tiny.open("w") as out:
        write_jsonl(simulate(1, 1, seed, policy=policy), out)
    startup, _ = _replay(tiny)
    took, peak = _replay(path)
    size = path.stat().st_size / 2**20
    what = (
        f"replay: simulate({learners}, {weeks}, seed={seed}): {records:,} records, "
        f"{size:,.0f} MiB, written in {wrote:.0f} s"
    )
    note = (
        f"{records:,} records in {took:.1f} s ({startup:.1f} s of it process start on a "
        f"tiny file, excluded); peak RSS {peak / 1024:,.0f} MiB"
    )
    return Row("7", "tierwatch replay", records / (took - startup), "records/s", note), what


# A small parent for the replay: ru_maxrss of a child forked straight from this (large)
# process would count this process's pages too (Linux keeps the high-water mark over exec).
_MEASURE = """
import resource, subprocess, sys
code = subprocess.call(sys.argv[1:], stdout=subprocess.DEVNULL)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
sys.exit(code)
"""


def _replay(path: Path) -> tuple[float, int]:
    """Seconds and peak RSS (KiB) of one `python -m stream.cli replay` process."""
    cmd = [sys.executable, "-m", "stream.cli", "replay", str(path), "--out", os.devnull]
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


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--learners", type=int, default=1000, help="learners in the stream rows")
    parser.add_argument("--weeks", type=int, default=8, help="weeks in the stream rows")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--replay-learners", type=int, default=2000)
    parser.add_argument("--replay-weeks", type=int, default=52)
    parser.add_argument("--tick-learners", type=int, default=100_000)
    parser.add_argument("--skip", default="", help=f"comma-separated parts of {','.join(PARTS)}")
    parser.add_argument("--timeout", type=float, default=240.0, help="seconds per stream row")
    parser.add_argument("--profile", type=Path, help="py-spy the Faust processes into DIR")
    parser.add_argument("--write", action="store_true", help="write bench/RESULTS.md")
    args = parser.parse_args()
    args.skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    unknown = args.skip - set(PARTS)
    if unknown:
        parser.error(f"--skip: unknown parts {sorted(unknown)}; known: {', '.join(PARTS)}")
    return args


def streaming_rows(args: argparse.Namespace, policy: Policy, notes: list[str]) -> list[Row]:
    rows: list[Row] = []
    wanted = {"plain", "bare", "naive", "tierwatch"} - args.skip
    if not wanted:
        return rows
    with embedded_broker() as broker, tempfile.TemporaryDirectory() as tmp:
        run = Streaming(args, broker.bootstrap, Path(tmp))
        notes.append(run.fill(policy))
        plain = run.plain() if "plain" in wanted else None
        bare = run.ceiling("bare") if "bare" in wanted else None
        naive = run.ceiling("table") if "naive" in wanted else None
        tier, ticks = run.tierwatch() if "tierwatch" in wanted else (None, [])
    how = {
        "1": "aiokafka consumer on all partitions, getmany + orjson.loads, from the first fetch",
        "2": "Faust agent (stream.app.make_app), `async for _ in stream.events()`, first to last",
        "3": "same agent, `table[learner] = table.get(learner, 0) + 1` (1 changelog record/event)",
        "4": "`tierwatch worker` process, all 4 input topics; tierwatch_events_processed_total "
        "polled every 0.1 s, first to last",
    }
    rows.append(Row("1", "limit: plain consumer", plain, "events/s", how["1"]))
    rows.append(Row("2", "framework ceiling: bare Faust agent", bare, "events/s", how["2"]))
    rows.append(Row("3", "naive baseline: table write per event", naive, "events/s", how["3"]))
    rows.append(Row("4", "tierwatch (1 worker)", tier, "records/s", how["4"]))
    rows[1].ratio = ratio(bare, plain, "limit")
    rows[2].ratio = ratio(naive, bare, "ceiling")
    rows[3].ratio = f"{ratio(tier, bare, 'ceiling')}, {ratio(tier, naive, 'naive')}".strip(", ")
    return rows + ticks


def main() -> None:
    args = parse()
    policy = load_policy()
    described = machine()
    print(f"machine: {described}\n", flush=True)
    notes: list[str] = []
    rows = streaming_rows(args, policy, notes)
    rows.append(Row("5", "latency p50/p99", None, "ms", "not measured yet"))
    if "tick" not in args.skip:
        ticks, what = tick_sweep(args.tick_learners, args.seed, policy)
        rows[-1:-1] = ticks
        notes.append(what)
    if "replay" not in args.skip:
        with tempfile.TemporaryDirectory() as tmp:
            row, what = replay_run(
                args.replay_learners, args.replay_weeks, args.seed, policy, Path(tmp)
            )
        rows.append(row)
        notes.append(what)
    if "state" not in args.skip:
        sized, what = state_size(args.learners, args.seed, policy)
        rows.extend(sized)
        notes.append(
            what + "; median state's largest fields: " + largest_parts(200, args.seed, policy)
        )
    rows.append(Row("9", "recovery of 100k learners", None, "s", "not measured yet"))
    rows.append(Row("10", "scale-out, 2 workers vs 1", None, "x", "not measured yet"))
    rows.sort(key=lambda r: (int("".join(c for c in r.number if c.isdigit())), r.number))
    printed = table(rows)
    print("\n".join(notes) + "\n\n" + printed, flush=True)
    if args.write:
        command = "python -m bench.pipeline " + " ".join(sys.argv[1:])
        write_results(described, command, notes, printed)


def write_results(described: str, command: str, notes: list[str], printed: str) -> None:
    """Write the run to bench/RESULTS.md, keeping the text after the generated part."""
    marker = "<!-- end of generated part -->"
    kept = ""
    if RESULTS.exists():
        text = RESULTS.read_text()
        if marker in text:
            kept = text.split(marker, 1)[1]
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    body = (
        "# Benchmark results\n\n"
        f"`{command.strip()}`, {stamp}\n\n"
        f"- machine: {described}\n"
        + "".join(f"- {n}\n" for n in notes)
        + f"\n{printed}\n\n{marker}"
        + (kept or "\n")
    )
    RESULTS.write_text(body)
    print(f"\nwrote {RESULTS}")


if __name__ == "__main__":
    main()
