"""`python -m bench.chaos [--short] [--runs N] [--seed S] [--only KINDS] [--no-dispatch]`: the
chaos suite.

Prints one table row per run and writes the table to `bench/CHAOS.md` (the full suite; the
short one only with `--out`), ends with `chaos: runs=N lost=L duplicated=D spurious=S
state_mismatches=M hangs=H` (lost, duplicated and spurious count transitions and
deliveries), and exits 1 unless all of those but runs are 0. Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench.chaos import history as hist
from bench.chaos import report
from bench.chaos.play import Run, RunResult
from bench.chaos.scenarios import Scenario, suite
from stream.logs import configure
from stream.policyfile import load_policy

HERE = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Config:
    learners: int
    weeks: int
    kill_runs: int
    kills: int
    fault: float
    erasures: int
    cap_s: float
    hang_s: float
    short: bool
    fail_fast: bool = False
    dispatch: bool = True  # dispatch on (a receiver up) in every run, not only outages


def config(args: argparse.Namespace) -> Config:
    short = args.short
    return Config(
        learners=args.learners or (40 if short else 120),
        weeks=args.weeks or (7 if short else 8),
        kill_runs=args.runs if args.runs is not None else (1 if short else 10),
        kills=args.kills or (1 if short else 5),
        fault=args.fault if args.fault is not None else (0.0 if short else 0.03),
        erasures=1 if short else 3,
        cap_s=args.cap_s or (240.0 if short else 900.0),
        hang_s=args.hang_s,
        short=short,
        fail_fast=args.fail_fast,
        dispatch=args.dispatch,
    )


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.chaos", description=__doc__)
    p.add_argument("--short", action="store_true", help="one kill run (one kill) and scale")
    p.add_argument("--runs", type=int, help="kill -9 runs (default 10, short 1)")
    p.add_argument("--seed", type=int, default=1, help="seed of histories and kill times")
    p.add_argument("--learners", type=int, help="simulated learners (default 120, short 40)")
    p.add_argument("--weeks", type=int, help="simulated weeks (default 8, short 7)")
    p.add_argument("--kills", type=int, help="SIGKILLs per kill run (default 5, short 1)")
    p.add_argument("--fault", type=float, help="TIERWATCH_FAULT_KILL_AFTER_STORE on every "
                   "second kill run (default 0.03, short 0)")  # fmt: skip
    p.add_argument(
        "--only",
        help="comma-separated scenarios: plain,kill,scale,rolling,poison,pause,receiver, or "
        "a run's name (e.g. 'receiver down 60 s')",
    )
    p.add_argument("--cap-s", type=float, help="time cap of one run (default 900, short 240)")
    p.add_argument("--hang-s", type=float, default=60.0, help="no commit this long: a hang")
    p.add_argument("--fail-fast", action="store_true", help="end a run at its first hang")
    p.add_argument(
        "--no-dispatch", dest="dispatch", action="store_false",
        help="dispatch only in the receiver outages; default: on in every run, a receiver up "
        "throughout unless the scenario takes it down (see bench/chaos/dispatching.py)",
    )  # fmt: skip
    p.add_argument("--out", type=Path, help="the report (default bench/CHAOS.md; short: none)")
    p.add_argument("--logs", type=Path, help="directory for the workers' logs (default: tmp)")
    return p.parse_args(argv)


def selected(cfg: Config, only: str | None) -> list[Scenario]:
    runs = suite(cfg.kill_runs, cfg.kills, cfg.fault, cfg.short)
    if only is None:
        return runs
    wanted = set(only.split(","))
    kinds = {
        "KillLoop": "kill", "Scale": "scale", "Rolling": "rolling", "Poison": "poison",
        "Pause": "pause", "ReceiverDown": "receiver",
    }  # fmt: skip
    full = suite(cfg.kill_runs, cfg.kills, cfg.fault, short=False)
    if cfg.short and wanted & {"rolling", "poison", "pause"}:
        runs = full
    chosen = [s for s in runs if kinds[type(s).__name__] in wanted]
    for s in (*runs, *full):  # by name, unless its kind is chosen
        if s.describe() in wanted and kinds[type(s).__name__] not in wanted:
            chosen.append(s)
            wanted.discard(s.describe())
    plain = [Scenario()] if "plain" in wanted else []  # no disruption: the baseline
    return plain + chosen


async def run_all(
    cfg: Config,
    seed: int,
    scenarios: list[Scenario],
    logs: Path,
    after: Callable[[list[RunResult]], None] | None = None,
) -> list[RunResult]:
    """Every run in turn; `after` is given the results so far after each. A run that
    fails (an error of the suite, not of the workers) is a row with its error."""
    results: list[RunResult] = []
    for n, scenario in enumerate(scenarios, start=1):
        try:
            results.append(await run_one(cfg, seed, scenario, n, len(scenarios), logs))
        except Exception as exc:
            traceback.print_exc()
            label, name = f"{n:02d}", scenario.describe()
            results.append(RunResult(label, name, 0, 0, error=repr(exc)[:300]))
        if after is not None:
            after(results)
    return results


async def run_one(
    cfg: Config, seed: int, scenario: Scenario, n: int, runs: int, logs: Path
) -> RunResult:
    """One run: its history (seed + n), its scenario, its own broker and workers."""
    policy = load_policy()
    learners = scenario.learners or cfg.learners
    scenario.dispatch = scenario.dispatch or cfg.dispatch
    history = hist.build(
        policy, learners, cfg.weeks, seed + n, cfg.erasures, scenario.severe_poison
    )
    label = f"{n:02d}"
    print(
        f"chaos run {n}/{runs}: {scenario.describe()}; {history.learners} "
        f"learners, {len(history.records)} records, {len(history.ticks)} ticks, "
        f"{len(history.expected)} transitions expected",
        file=sys.stderr,
        flush=True,
    )
    run = Run(
        label, scenario, history, policy, logs / label, seed * 1000 + n,
        cfg.cap_s, cfg.hang_s, cfg.fail_fast,
    )  # fmt: skip
    return await run.execute()


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    configure("warning")  # not the embedded broker's start and stop lines
    cfg = config(args)
    scenarios = selected(cfg, args.only)
    logs = args.logs or Path(tempfile.mkdtemp(prefix="tierwatch-chaos-"))
    out = args.out if args.out is not None else (None if cfg.short else HERE / "CHAOS.md")
    command = "python -m bench.chaos " + " ".join(argv if argv is not None else sys.argv[1:])
    started = time.monotonic()
    described = (
        f"simulate({cfg.learners} learners, {cfg.weeks} weeks, seed {args.seed}+run), "
        f"{cfg.erasures} erased a run, 4 partitions, a fresh embedded broker a run"
    )

    def write(results: list[RunResult]) -> None:  # after every run: a crash keeps the rest
        if out is not None:
            took = time.monotonic() - started
            done = f"{described}; {len(results)} of {len(scenarios)} runs done"
            report.write(out, results, command.strip(), done, took)

    results = asyncio.run(run_all(cfg, args.seed, scenarios, logs, write))
    took = time.monotonic() - started
    print(report.table(results))
    if out is not None:
        report.write(out, results, command.strip(), described, took)
        print(f"written to {out}", file=sys.stderr)
    print(f"worker logs in {logs}; {took / 60:.1f} min", file=sys.stderr)
    print(report.closing_line(results))
    return 1 if report.failed(results) else 0


if __name__ == "__main__":
    sys.exit(main())
