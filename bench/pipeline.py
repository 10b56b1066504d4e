"""The pipeline against its stack: Kafka's limit, Faust's ceiling, a naive table agent,
tierwatch's worker, its latency, the tick sweep, the offline replay, the state size, the
recovery of a restarted worker and two workers against one, in one run.

    .venv/bin/python -m bench.pipeline [--learners 1000 --weeks 8 --seed 7]
        [--replay-learners 10000 --replay-weeks 52] [--tick-learners 100000]
        [--recovery-learners 100000] [--probes 300] [--latency-rate N]
        [--skip PARTS | --only PARTS] [--profile DIR] [--compiled DIR] [--write]

PARTS are comma-separated names of plain, bare, inputs, naive, tierwatch, latency, tick,
replay, state, recovery, scaleout, whatif (`bench/whatif.py`: `tierwatch whatif` of three
policies against one replay, on the replay's history). Starts the embedded broker,
pre-fills the input topics with one simulated history (`stream.sim.simulate.simulate`) and
reads it back five ways, each with its own consumer group: a plain aiokafka consumer
(orjson-decoding every value), a Faust agent that does nothing (on the events topic, and on
all four input topics), a Faust agent writing one table key per event, and a real
`tierwatch worker` (then ticked), then two workers in one group. The latency and the
recovery run on workers and topics of their own on the same broker. The tick sweep,
`tierwatch replay`, `tierwatch whatif` and the state size run in this process or in
subprocesses. Prints the machine and a table; `--write` writes both, with the command, to
bench/RESULTS.md (with `--only`, its rows replace those of the same numbers and the others
stay, each run's command noted). Figures are printed, never asserted. `--only latency` and
`--only scaleout` also run row 4 (they need its throughput) unless `--latency-rate` gives the
background rate.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
import time
from pathlib import Path

from bench.common import Row, cells_of, machine, ratio, table, table_of
from bench.latency import Plan, latency
from bench.pure import largest_parts, replay_run, state_size, tick_sweep
from bench.recovery import recovery
from bench.streaming import Streaming
from bench.whatif import CHANGES, compiled_tree, history, whatif_rows
from stream.broker import embedded_broker
from stream.core.policy import Policy
from stream.policyfile import load_policy

RESULTS = Path(__file__).with_name("RESULTS.md")
PARTS = (
    "plain", "bare", "inputs", "naive", "tierwatch", "latency", "tick", "replay", "state",
    "recovery", "scaleout", "whatif",
)  # fmt: skip
PREFILLED = {"plain", "bare", "inputs", "naive", "tierwatch", "scaleout"}
BROKER = PREFILLED | {"latency", "recovery"}
FALLBACK_RATE = 800.0  # background records/s for row 5 when row 4 is not measured


def parts(parser: argparse.ArgumentParser, text: str, option: str) -> set[str]:
    chosen = {s.strip() for s in text.split(",") if s.strip()}
    unknown = chosen - set(PARTS)
    if unknown:
        parser.error(f"{option}: unknown parts {sorted(unknown)}; known: {', '.join(PARTS)}")
    return chosen


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--learners", type=int, default=1000, help="learners in the stream rows")
    parser.add_argument("--weeks", type=int, default=8, help="weeks in the stream rows")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--replay-learners", type=int, default=10_000)
    parser.add_argument("--replay-weeks", type=int, default=52)
    parser.add_argument("--tick-learners", type=int, default=100_000)
    parser.add_argument("--recovery-learners", type=int, default=100_000)
    parser.add_argument("--probes", type=int, default=300, help="latency probes (row 5)")
    parser.add_argument("--probe-every", type=float, default=0.1, help="seconds between probes")
    parser.add_argument(
        "--latency-rate", type=float, help="row 5's background records/s (default: half of row 4)"
    )
    parser.add_argument("--skip", default="", help=f"comma-separated parts of {','.join(PARTS)}")
    parser.add_argument("--only", default="", help="comma-separated parts: run these alone")
    parser.add_argument("--timeout", type=float, default=240.0, help="seconds per stream row")
    parser.add_argument("--profile", type=Path, help="py-spy the Faust processes into DIR")
    parser.add_argument(
        "--compiled", type=Path, help="whatif rows on this mypyc copy (make compiled)"
    )
    parser.add_argument("--write", action="store_true", help="write bench/RESULTS.md")
    args = parser.parse_args()
    skip = parts(parser, args.skip, "--skip")
    only = parts(parser, args.only, "--only")
    if only and skip:
        parser.error("--only and --skip do not go together")
    wanted = only or set(PARTS) - skip
    if "scaleout" in wanted or ("latency" in wanted and args.latency_rate is None):
        wanted.add("tierwatch")
    args.wanted = wanted
    return args


def streaming_rows(args: argparse.Namespace, policy: Policy, notes: list[str]) -> list[Row]:
    """Every row that needs the broker, on one embedded broker."""
    wanted = args.wanted & BROKER
    if not wanted:
        return []
    with embedded_broker() as broker, tempfile.TemporaryDirectory() as tmp:
        run = Streaming(args, broker.bootstrap, Path(tmp))
        rows: list[Row] = []
        if wanted & PREFILLED:
            notes.append(run.fill(policy))
            rows = prefilled_rows(run, wanted)
        one = next((row.value for row in rows if row.number == "4"), None)  # row 4
        if "scaleout" in wanted:
            rows.append(run.scale_out(one))
        if "latency" in wanted:
            rate = args.latency_rate or (one / 2 if one else FALLBACK_RATE)
            plan = Plan(rate, args.probes, args.probe_every, args.learners, args.weeks, args.seed)
            rows += latency(broker.bootstrap, Path(tmp), plan, policy, args.timeout)
        if "recovery" in wanted:
            rows += recovery(
                broker.bootstrap,
                Path(tmp),
                args.recovery_learners,
                args.seed,
                args.timeout,
                args.profile,
            )
    return rows


def prefilled_rows(run: Streaming, wanted: set[str]) -> list[Row]:
    """Rows 1-4 (and the worker's ticks, 6c-e) on the pre-filled history."""
    plain = run.plain() if "plain" in wanted else None
    bare = run.ceiling("bare") if "bare" in wanted else None
    inputs = run.ceiling("inputs") if "inputs" in wanted else None
    naive = run.ceiling("table") if "naive" in wanted else None
    tier, ticks = run.tierwatch() if "tierwatch" in wanted else (None, [])
    how = {
        "1": "aiokafka consumer on all partitions, getmany + orjson.loads, from the first fetch",
        "2": "Faust agent (stream.worker.faust_app.make_app), `async for _ in stream.events()`, "
        "first to last",
        "2b": "the same agent over the 4 input topics row 4 reads (all records), first to last",
        "3": "same agent, `table[learner] = table.get(learner, 0) + 1` (1 changelog record/event)",
        "4": "`tierwatch worker` process, all 4 input topics; tierwatch_events_processed_total "
        "polled every 0.1 s, first to last",
    }
    rows = [
        Row("1", "limit: plain consumer", plain, "events/s", how["1"]),
        Row("2", "framework ceiling: bare Faust agent", bare, "events/s", how["2"]),
        Row("2b", "ceiling on tierwatch's 4 inputs", inputs, "records/s", how["2b"]),
        Row("3", "naive baseline: table write per event", naive, "events/s", how["3"]),
        Row("4", "tierwatch (1 worker)", tier, "records/s", how["4"]),
    ]
    rows[1].ratio = ratio(bare, plain, "limit")
    rows[2].ratio = ratio(inputs, bare, "ceiling")
    rows[3].ratio = ratio(naive, bare, "ceiling")
    ratios = [ratio(tier, bare, "ceiling"), ratio(tier, naive, "naive")]
    ratios.append(ratio(tier, inputs, "inputs ceiling"))
    rows[4].ratio = ", ".join(r for r in ratios if r)
    return rows + ticks


def pure_rows(args: argparse.Namespace, policy: Policy, notes: list[str]) -> list[Row]:
    """Rows 6a, 6b, 6f, 7 and 8, without a broker."""
    rows: list[Row] = []
    if "tick" in args.wanted:
        ticks, what = tick_sweep(args.tick_learners, args.seed, policy)
        rows += ticks
        notes.append(what)
    if args.wanted & {"replay", "whatif"}:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            path = folder / "history.jsonl"
            if "replay" in args.wanted:
                replayed, what = replay_run(
                    args.replay_learners, args.replay_weeks, args.seed, policy, folder
                )
                rows += replayed
                notes.append(what)
            if "whatif" in args.wanted:
                rows += whatif_part(args, policy, folder, path, notes)
    if "state" in args.wanted:
        sized, what = state_size(args.learners, args.seed, policy)
        rows += sized
        notes.append(
            what + "; median state's largest fields: " + largest_parts(200, args.seed, policy)
        )
    return rows


def whatif_part(
    args: argparse.Namespace, policy: Policy, folder: Path, path: Path, notes: list[str]
) -> list[Row]:
    """Rows 11a-11c on the replay's history (simulated here when replay did not run)."""
    if path.exists():
        with path.open("rb") as source:
            records = sum(1 for line in source if line.strip())
    else:
        records = history(args.replay_learners, args.replay_weeks, args.seed, policy, path)
    notes.append(
        f"whatif: the replay's history, simulate({args.replay_learners}, "
        f"{args.replay_weeks}, seed={args.seed}); policies: default, "
        + ", ".join(f"{name} {changes}" for name, changes in CHANGES.items())
    )
    compiled = compiled_tree(args.compiled) if args.compiled is not None else None
    return whatif_rows(path, records, policy, folder, compiled)


def order(row: Row) -> tuple[int, str]:
    return int("".join(c for c in row.number if c.isdigit())), row.number


def main() -> None:
    args = parse()
    policy = load_policy()
    described = machine()
    print(f"machine: {described}\n", flush=True)
    started = time.monotonic()
    notes: list[str] = []
    rows = streaming_rows(args, policy, notes) + pure_rows(args, policy, notes)
    rows.sort(key=order)
    printed = table(rows)
    took = time.monotonic() - started
    print("\n".join(notes) + "\n\n" + printed + f"\n\n({took / 60:.1f} min)", flush=True)
    if args.write:
        command = "python -m bench.pipeline " + " ".join(sys.argv[1:])
        if args.only:
            merge_results(command, [f"machine: {described}", *notes], rows)
        else:
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


def merge_results(command: str, notes: list[str], rows: list[Row]) -> None:
    """An `--only` run into bench/RESULTS.md: its rows replace those of the same numbers,
    the others stay; its command, time and notes are added to the list above the table."""
    marker = "<!-- end of generated part -->"
    text = RESULTS.read_text() if RESULTS.exists() else ""
    generated, _, kept = text.partition(marker)
    head = generated.split("\n| ", 1)[0].rstrip("\n") if generated else "# Benchmark results"
    new = {row.number: row.cells() for row in rows}
    cells = [c for c in cells_of(generated) if c[0] not in new] + list(new.values())
    cells.sort(key=lambda c: (int("".join(ch for ch in c[0] if ch.isdigit())), c[0]))
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    numbers = ", ".join(new)
    added = f"- rows {numbers}: `{command.strip()}`, {stamp}\n" + "".join(f"- {n}\n" for n in notes)
    body = f"{head}\n{added}\n{table_of(cells)}\n\n{marker}" + (kept or "\n")
    RESULTS.write_text(body)
    print(f"\nwrote {RESULTS} (rows {numbers})")


if __name__ == "__main__":
    main()
